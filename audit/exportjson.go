package audit

import (
	"math"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// The hand-written JSON of an export: what encoding/json writes for an
// [ExportedEvent] and for details, byte for byte, without reflection or
// an allocation per event. An export writes a million events; through
// encoding/json, encoding was a third of its time. Whatever these
// functions are not sure to write as encoding/json would (a time outside
// the years 0 to 9999, a details value other than a string, a float64, a
// bool or nil, a number that is not finite, more keys than fit on the
// stack) they refuse, and the Encoder asks encoding/json instead.

// appendEventJSON appends e as a JSON Lines export writes it: the JSON of
// its ExportedEvent (HTML characters not escaped) and a newline.
func appendEventJSON(b []byte, e *Event) ([]byte, bool) {
	t := e.Time.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = appendJSONString(b, e.ID, false)
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
	b = append(b, `","action":`...)
	b = appendJSONString(b, string(e.Action), false)
	b = append(b, `,"outcome":`...)
	b = appendJSONString(b, string(e.Outcome), false)
	for _, f := range [...]struct{ key, v string }{
		{`,"actor_id":`, e.Actor.ID}, {`,"actor":`, e.Actor.Email}, {`,"target_type":`, e.Target.Type},
		{`,"target_id":`, e.Target.ID}, {`,"target":`, e.Target.Label}, {`,"ip":`, e.IP},
		{`,"user_agent":`, e.UserAgent}, {`,"reason":`, e.Reason},
	} {
		if f.v != "" { // omitempty
			b = append(b, f.key...)
			b = appendJSONString(b, f.v, false)
		}
	}
	if len(e.Details) > 0 {
		b = append(b, `,"details":`...)
		var ok bool
		if b, ok = appendDetailsJSON(b, e.Details, false); !ok {
			return b, false
		}
	}
	return append(b, "}\n"...), true
}

// maxFastKeys bounds the details appendDetailsJSON writes: their keys are
// sorted in an array on the stack.
const maxFastKeys = 32

// appendDetailsJSON appends details as json.Marshal writes a
// map[string]any (keys sorted), escaping HTML characters or not.
func appendDetailsJSON(b []byte, details map[string]any, escapeHTML bool) ([]byte, bool) {
	if len(details) > maxFastKeys {
		return b, false
	}
	var arr [maxFastKeys]string
	keys := arr[:0]
	for k := range details {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, strings.Compare)
	b = append(b, '{')
	for i, k := range keys {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendJSONString(b, k, escapeHTML)
		b = append(b, ':')
		var ok bool
		if b, ok = appendScalarJSON(b, details[k], escapeHTML); !ok {
			return b, false
		}
	}
	return append(b, '}'), true
}

// appendScalarJSON appends a string, float64, bool or nil as encoding/json
// writes it.
func appendScalarJSON(b []byte, v any, escapeHTML bool) ([]byte, bool) {
	switch v := v.(type) {
	case nil:
		return append(b, "null"...), true
	case string:
		return appendJSONString(b, v, escapeHTML), true
	case bool:
		return strconv.AppendBool(b, v), true
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return b, false
		}
		// encoding/json's cutoffs: like %g, but exponents from 1e21
		// and below 1e-6 only, and not padded to two digits.
		format := byte('f')
		if abs := math.Abs(v); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
			format = 'e'
		}
		b = strconv.AppendFloat(b, v, format, -1, 64)
		if n := len(b); format == 'e' && n >= 4 && b[n-4] == 'e' && b[n-3] == '-' && b[n-2] == '0' {
			b[n-2] = b[n-1]
			b = b[:n-1]
		}
		return b, true
	}
	return b, false
}

const hexDigits = "0123456789abcdef"

// appendJSONString appends s quoted as encoding/json quotes a string:
// invalid UTF-8 as \ufffd, U+2028 and U+2029 escaped, control characters
// as \b, \f, \n, \r, \t or \u00XX, and with escapeHTML <, > and & as
// \u003c, \u003e and \u0026.
func appendJSONString(b []byte, s string, escapeHTML bool) []byte {
	b = append(b, '"')
	plain := &jsonPlain
	if escapeHTML {
		plain = &jsonPlainHTML
	}
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if plain[c] {
			i++
			continue
		}
		if c < utf8.RuneSelf {
			b = appendASCIIEscape(append(b, s[start:i]...), c)
			i++
			start = i
			continue
		}
		r, size := utf8.DecodeRuneInString(s[i:])
		if esc := runeEscape(r, size); esc != "" {
			b = append(append(b, s[start:i]...), esc...)
			start = i + size
		}
		i += size
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// jsonPlain and jsonPlainHTML hold, for each byte, whether appendJSONString
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
func appendASCIIEscape(b []byte, c byte) []byte {
	switch c {
	case '"', '\\':
		return append(b, '\\', c)
	case '\b':
		return append(b, '\\', 'b')
	case '\f':
		return append(b, '\\', 'f')
	case '\n':
		return append(b, '\\', 'n')
	case '\r':
		return append(b, '\\', 'r')
	case '\t':
		return append(b, '\\', 't')
	}
	return append(b, '\\', 'u', '0', '0', hexDigits[c>>4], hexDigits[c&0xF])
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
