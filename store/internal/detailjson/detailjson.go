// Package detailjson reads an audit event's stored details (JSON text)
// back into the map[string]any of [audit.Event.Details], for
// store/sqlite and store/postgres alike, with the result of
// encoding/json.Unmarshal and a fraction of its allocations.
//
// Almost every event usher writes holds a flat object of strings, numbers
// and booleans ({"session_id":"…","remembered":true}). Decode reads such
// an object itself: one map, a string for each key usher does not name
// and each string value, a boxed float64 for each number (none for small
// whole numbers). Anything else, a nested object or list, an escape in a
// string, a control character, invalid UTF-8, a number strconv would read
// differently from JSON's grammar or a syntax error, goes to
// encoding/json whole, so the result (or the error) is encoding/json's
// in every case: the hash chain, which recomputes its MAC over the
// decoded details, sees exactly what it saw before.
package detailjson

import (
	"encoding/json"
	"strconv"
	"unicode/utf8"
	"unsafe"

	"github.com/usher-go/usher/audit"
)

// Decode returns the details stored as b: what json.Unmarshal(b, &m)
// gives a nil map[string]any m, and its error.
func Decode(b []byte) (map[string]any, error) {
	if m, ok := decodeFlat(b); ok {
		return m, nil
	}
	var m map[string]any
	if err := json.Unmarshal(b, &m); err != nil {
		return nil, err
	}
	return m, nil
}

// decodeFlat reads b if it is one flat object in the subset described in
// the package comment; ok is false for anything else, which the caller
// hands to encoding/json.
func decodeFlat(b []byte) (map[string]any, bool) {
	d := decoder{b: b}
	if d.skipSpace() != '{' {
		return nil, false
	}
	d.i++
	m := make(map[string]any)
	if d.skipSpace() == '}' {
		d.i++
		return m, d.end()
	}
	for {
		if d.skipSpace() != '"' {
			return nil, false
		}
		kb, ok := d.str()
		if !ok {
			return nil, false
		}
		if d.skipSpace() != ':' {
			return nil, false
		}
		d.i++
		v, ok := d.value()
		if !ok {
			return nil, false
		}
		if k, ok := knownKeys[string(kb)]; ok { // no allocation to look up
			m[k] = v
		} else {
			m[string(kb)] = v
		}
		switch d.skipSpace() {
		case ',':
			d.i++
		case '}':
			d.i++
			return m, d.end()
		default:
			return nil, false
		}
	}
}

// decoder is a position in the text being read.
type decoder struct {
	b []byte
	i int
}

// skipSpace moves past JSON whitespace and returns the byte there, 0 at
// the end.
func (d *decoder) skipSpace() byte {
	for ; d.i < len(d.b); d.i++ {
		switch c := d.b[d.i]; c {
		case ' ', '\t', '\n', '\r':
		default:
			return c
		}
	}
	return 0
}

// end reports whether nothing but whitespace follows.
func (d *decoder) end() bool { return d.skipSpace() == 0 && d.i == len(d.b) }

// str reads a string at d.i (its opening quote) that needs no unescaping:
// no backslash, no control character, valid UTF-8. It returns its bytes,
// inside b.
func (d *decoder) str() ([]byte, bool) {
	start := d.i + 1
	for j := start; j < len(d.b); j++ {
		switch c := d.b[j]; {
		case c == '"':
			s := d.b[start:j]
			d.i = j + 1
			return s, utf8.Valid(s)
		case c == '\\' || c < 0x20:
			return nil, false
		}
	}
	return nil, false
}

// value reads a string, number, true, false or null.
func (d *decoder) value() (any, bool) {
	switch c := d.skipSpace(); {
	case c == '"':
		s, ok := d.str()
		if !ok {
			return nil, false
		}
		return string(s), true
	case c == '-' || ('0' <= c && c <= '9'):
		return d.number()
	case c == 't':
		return true, d.literal("true")
	case c == 'f':
		return false, d.literal("false")
	case c == 'n':
		return nil, d.literal("null")
	}
	return nil, false
}

func (d *decoder) literal(word string) bool {
	if len(d.b)-d.i < len(word) || string(d.b[d.i:d.i+len(word)]) != word {
		return false
	}
	d.i += len(word)
	return true
}

// number reads a number as encoding/json does: JSON's grammar checked,
// then strconv.ParseFloat, whose result (or a value out of range, which
// encoding/json reports as an error) decides.
func (d *decoder) number() (any, bool) {
	start := d.i
	whole, ok := d.numberSyntax()
	if !ok {
		return nil, false
	}
	num := d.b[start:d.i]
	if whole && num[0] != '-' && len(num) <= 3 {
		n := 0
		for _, c := range num {
			n = n*10 + int(c-'0')
		}
		if n < len(smallNumbers) {
			return smallNumbers[n], true
		}
	}
	// ParseFloat keeps no reference to its argument once it returns.
	f, err := strconv.ParseFloat(unsafe.String(&num[0], len(num)), 64)
	if err != nil {
		return nil, false
	}
	return f, true
}

// numberSyntax moves past a number in JSON's grammar, reporting whether
// it was one, and whether it had neither fraction nor exponent.
func (d *decoder) numberSyntax() (whole, ok bool) {
	if d.b[d.i] == '-' {
		d.i++
	}
	switch {
	case d.i < len(d.b) && d.b[d.i] == '0':
		d.i++
	case d.digits() == 0:
		return false, false
	}
	whole = true
	if d.i < len(d.b) && d.b[d.i] == '.' {
		d.i++
		whole = false
		if d.digits() == 0 {
			return false, false
		}
	}
	if d.i < len(d.b) && (d.b[d.i] == 'e' || d.b[d.i] == 'E') {
		d.i++
		whole = false
		if d.i < len(d.b) && (d.b[d.i] == '+' || d.b[d.i] == '-') {
			d.i++
		}
		if d.digits() == 0 {
			return false, false
		}
	}
	return whole, true
}

// digits moves past decimal digits and counts them.
func (d *decoder) digits() int {
	start := d.i
	for d.i < len(d.b) && '0' <= d.b[d.i] && d.b[d.i] <= '9' {
		d.i++
	}
	return d.i - start
}

// smallNumbers are the whole numbers 0 to 255 as float64 in an interface,
// boxed once: counts in details are mostly small.
var smallNumbers = func() (s [256]any) {
	for i := range s {
		s[i] = float64(i)
	}
	return s
}()

// knownKeys maps the keys usher writes to themselves, so that decoding
// one allocates no string.
var knownKeys = func() map[string]string {
	m := make(map[string]string)
	for _, k := range []string{audit.DetailFormat, audit.DetailCount, audit.DetailSince, audit.DetailUntil,
		audit.DetailBefore, audit.DetailAfter, audit.DetailName, audit.DetailEmail, audit.DetailGroup,
		audit.DetailGroupName, audit.DetailDescription, audit.DetailPermissions, audit.DetailRequireTwoFactor,
		audit.DetailSessionsRevoked, audit.DetailOtherSessionsRevoked, audit.DetailUserID, audit.DetailRevoked,
		audit.DetailKept, audit.DetailSessionID, audit.DetailRemembered, audit.DetailSessionReplaced,
		audit.DetailDevicesRevoked, audit.DetailPasswordRehashed, audit.DetailMethod,
		audit.DetailConsecutiveFailures, audit.DetailChallengeFailures, audit.DetailRecoveryCodes,
		audit.DetailRecoveryCodesLeft, audit.DetailRemaining, audit.DetailContentType, audit.DetailBytes,
		audit.DetailRemoved, audit.DetailRepeated, audit.DetailDeleted, audit.DetailResealed, audit.DetailKeyID,
		audit.DetailRemaced, audit.DetailPasswordless, audit.DetailPasskeyID, audit.DetailAAGUID,
		audit.DetailSignCount, audit.DetailStoredSignCount, audit.DetailPasskeysRemoved, audit.DetailProvider,
		audit.DetailSubject, audit.DetailWrapped, audit.DetailNote, audit.DetailFindings, audit.DetailUsers} {
		m[k] = k
	}
	return m
}()
