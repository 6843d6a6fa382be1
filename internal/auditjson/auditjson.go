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
	"math"
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
		dst = appendString(dst, k)
		dst = append(dst, ':')
		dst = appendValue(dst, m[k])
	}
	return append(dst, '}'), true
}

// appendValue appends v, one of the types AppendFlat takes.
func appendValue(dst []byte, v any) []byte {
	switch v := v.(type) {
	case string:
		return appendString(dst, v)
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

// appendString appends s quoted as json.Marshal quotes it (HTML escaping
// on): <, > and & escaped, control characters escaped, each invalid UTF-8
// byte as \ufffd, U+2028 and U+2029 escaped.
func appendString(dst []byte, s string) []byte {
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if htmlSafe(b) {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// htmlSafe reports whether the ASCII byte b goes into a JSON string as it
// is under json.Marshal: printable, and none of " \ < > &.
func htmlSafe(b byte) bool {
	return b >= 0x20 && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&'
}
