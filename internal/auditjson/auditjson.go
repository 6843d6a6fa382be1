// Package auditjson encodes an audit event's details
// ([audit.Event.Details]) as encoding/json.Marshal does, byte for byte,
// without reflection, for the flat objects usher writes: strings, numbers
// and booleans under a handful of keys.
//
// Every audited change encodes its details twice, once when auth seals
// the event into the hash chain and once when the store writes it, and
// json.Marshal's reflection, key sorting and buffer pool were a visible
// share of each audited write (issue 12). Both use [Marshal]; the seal
// uses [AppendFlat] on the details it has made storable.
//
// Anything outside that subset (a nested object or list, a number of
// another type, a value with its own MarshalJSON) goes to encoding/json
// whole, so the bytes are json.Marshal's in every case: the chain's MAC
// covers them, and a check recomputes it over what a store gives back.
package auditjson

import (
	"encoding/json"
	"github.com/usher-go/usher/internal/swar"
	"math"
	"math/bits"
	"slices"
	"strconv"
	"unicode/utf8"
)

// Marshal returns json.Marshal(details): the same bytes, or the same
// error.
func Marshal(details map[string]any) ([]byte, error) {
	if b, ok := AppendFlat(nil, details); ok {
		return b, nil
	}
	return json.Marshal(details)
}

// AppendFlat appends json.Marshal(m) to dst when every value of m is a
// string, a finite float64, a bool or nil (the types of decoded JSON,
// without lists or objects). ok is false, and dst returned as it was,
// for anything else.
func AppendFlat(dst []byte, m map[string]any) (_ []byte, ok bool) {
	return AppendObject(dst, m, true)
}

// AppendObject is AppendFlat with HTML escaping on or off: with it off,
// it appends what an encoding/json Encoder with SetEscapeHTML(false)
// writes, without the newline.
func AppendObject(dst []byte, m map[string]any, escapeHTML bool) (_ []byte, ok bool) {
	if m == nil {
		return append(dst, "null"...), true
	}
	// Room for the usual handful of keys without a heap allocation.
	var kbuf [16]string
	keys := kbuf[:0]
	size := 2
	for k, v := range m {
		switch v := v.(type) {
		case string:
			size += len(v) + 3
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return dst, false // json.Marshal's error
			}
			size += 24
		case bool, nil:
			size += 5
		default:
			return dst, false
		}
		keys = append(keys, k)
		size += len(k) + 4
	}
	// encoding/json sorts the keys as Go strings, before escaping.
	slices.Sort(keys)
	dst = slices.Grow(dst, size)
	dst = append(dst, '{')
	for i, k := range keys {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, k, escapeHTML)
		dst = append(dst, ':')
		dst = appendValue(dst, m[k], escapeHTML)
	}
	return append(dst, '}'), true
}

// appendValue appends v, one of the types AppendObject takes.
func appendValue(dst []byte, v any, escapeHTML bool) []byte {
	switch v := v.(type) {
	case string:
		return AppendString(dst, v, escapeHTML)
	case float64:
		return appendFloat(dst, v)
	case bool:
		return strconv.AppendBool(dst, v)
	}
	return append(dst, "null"...)
}

// appendFloat appends the finite f as encoding/json's float64 encoder
// does: like ES6's number to string, %g with other exponent cutoffs and
// no padded exponent.
func appendFloat(dst []byte, f float64) []byte {
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-09 becomes e-9
		n := len(dst)
		if n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

const hex = "0123456789abcdef"

// AppendString appends s quoted as encoding/json quotes a string:
// invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped, control characters
// as \b, \f, \n, \r, \t or \u00XX, and with escapeHTML <, > and & as
// \u003c, \u003e and \u0026.
func AppendString(dst []byte, s string, escapeHTML bool) []byte {
	dst = append(dst, '"')
	plain := &jsonPlain
	if escapeHTML {
		plain = &jsonPlainHTML
	}
	start := 0
	for i := 0; i < len(s); {
		// Eight bytes at a time to the first that may need escaping.
		for i+8 <= len(s) {
			x := swar.Load64(s, i)
			m := needsEscape(x)
			if escapeHTML {
				m |= htmlMarks(x)
			}
			if m != 0 {
				i += bits.TrailingZeros64(m) >> 3
				break
			}
			i += 8
		}
		if i == len(s) {
			break
		}
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			dst = appendASCIIEscape(append(dst, s[start:i]...), c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if esc := runeEscape(r, size); esc != "" {
			dst = append(append(dst, s[start:i]...), esc...)
			start = i + size
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// needsEscape returns x's bytes that AppendString may not copy as they
// are, without escapeHTML, each as its top bit: below 0x20, '"', '\\' and
// not ASCII. Every byte AppendString would escape is marked, and the
// lowest mark is exact (a byte can be marked wrongly only above one
// marked rightly, through the borrow of the subtraction), so the bytes
// below it are plain. A word at a time where the table below looks at
// each byte: an export quotes a dozen strings an event, most of them
// plain ASCII (issue 12).
func needsEscape(x uint64) uint64 {
	return ((x-0x20*swar.LSB)&^x | x | swar.HasByte(x, '"') | swar.HasByte(x, '\\')) & swar.MSB
}

// htmlMarks returns, as needsEscape does, x's bytes '<', '>' and '&',
// which escapeHTML escapes too.
func htmlMarks(x uint64) uint64 {
	return swar.HasByte(x, '<') | swar.HasByte(x, '>') | swar.HasByte(x, '&')
}

// jsonPlain and jsonPlainHTML hold, for each byte, whether AppendString
// copies it as it is, without and with escapeHTML: ASCII but for control
// characters, '"' and '\\' (and '<', '>' and '&'). A table look-up per
// byte where there were five comparisons: the export of a million events
// quotes a dozen strings each (issue 12).
var jsonPlain, jsonPlainHTML = func() (plain, html [256]bool) {
	for c := 0x20; c < utf8.RuneSelf; c++ {
		plain[c] = c != '"' && c != '\\'
		html[c] = plain[c] && c != '<' && c != '>' && c != '&'
	}
	return plain, html
}()

// appendASCIIEscape appends the escape of the ASCII character c.
func appendASCIIEscape(dst []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(dst, '\\', c)
	case '\b':
		return append(dst, '\\', 'b')
	case '\f':
		return append(dst, '\\', 'f')
	case '\n':
		return append(dst, '\\', 'n')
	case '\r':
		return append(dst, '\\', 'r')
	case '\t':
		return append(dst, '\\', 't')
	}
	return append(dst, '\\', 'u', '0', '0', hex[c>>4], hex[c&0xF])
}

// runeEscape is what encoding/json writes for the rune r of size bytes
// instead of its bytes, or "" for the bytes as they are.
func runeEscape(r rune, size int) string {
	switch {
	case r == utf8.RuneError && size == 1:
		return `\ufffd`
	case r == '\u2028':
		return `\u2028`
	case r == '\u2029':
		return `\u2029`
	}
	return ""
}
