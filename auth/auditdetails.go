package auth

import (
	"encoding/json"
	"maps"
	"math"
	"slices"
	"unicode/utf8"

	"github.com/usher-go/usher/internal/auditjson"
)

// storableDetails returns the canonical JSON of details (what a link
// covers, see canonicalDetails) and the details as every store gives
// them back: that JSON decoded. Both are nil when details cannot be
// encoded (the store refuses the event too).
//
// The details usher writes are flat (strings, numbers, booleans: see
// flatStorable); for them both come without encoding/json, in one
// encoding and no decoding. Anything else takes the general way.
func storableDetails(details map[string]any) ([]byte, map[string]any) {
	if d, ok := flatStorable(details); ok {
		b, _ := auditjson.AppendFlat(nil, d)
		return b, d
	}
	b := canonicalJSON(details)
	var d map[string]any
	if b == nil || json.Unmarshal(b, &d) != nil {
		return nil, nil
	}
	return b, d
}

// canonicalDetails is the JSON of details as a store gives them back:
// numbers as float64, text as storableText, object keys sorted
// (encoding/json sorts map keys). Nil for no details.
func canonicalDetails(details map[string]any) []byte {
	if len(details) == 0 {
		return nil
	}
	b, _ := storableDetails(details)
	return b
}

// maxExact is 2^53: every integer of at most this size is a float64, so
// decoded JSON reads it back as it was written. Larger ones go the
// general way, so that how the decoding rounds them is its own business
// (Go's conversion rounds them alike today).
const maxExact = 1 << 53

// flatStorable returns what decoding json.Marshal(details) and making it
// storable (storableJSON) gives, computed directly, when details is flat
// and nothing in it changes in ways that need encoding/json's own rules:
// every key storable text already (keys that become one when made
// storable are resolved by sorted order), every value nil, a bool, a
// string of valid UTF-8 (json.Marshal replaces each invalid byte where
// storableText replaces each run), a finite float64 or an int of at most
// 2^53 (larger ones would be rounded by the decoding). ok is false
// otherwise. Only unnamed types are taken: a named one may have its own
// MarshalJSON.
func flatStorable(details map[string]any) (_ map[string]any, ok bool) {
	d := make(map[string]any, len(details))
	for k, v := range details {
		if storableText(k) != k {
			return nil, false
		}
		if d[k], ok = flatValue(v); !ok {
			return nil, false
		}
	}
	return d, true
}

// flatValue is flatStorable for one value, x itself when that is what
// decoding gives back (boxing a value again would allocate).
func flatValue(x any) (any, bool) {
	switch v := x.(type) {
	case nil, bool:
		return x, true
	case string:
		if !utf8.ValidString(v) {
			return nil, false
		}
		if s := storableText(v); s != v {
			return s, true
		}
		return x, true
	case float64:
		if math.IsInf(v, 0) || math.IsNaN(v) {
			return nil, false
		}
		if v == 0 {
			return 0.0, true // jsonb has no -0
		}
		return x, true
	case int:
		return exactInt(int64(v))
	case int64:
		return exactInt(v)
	case int32:
		return exactInt(int64(v))
	}
	return nil, false
}

func exactInt(n int64) (any, bool) {
	if n > maxExact || n < -maxExact {
		return nil, false
	}
	return float64(n), true
}

// canonicalJSON is canonicalDetails the general way, for any details:
// encoded, decoded, made storable and encoded again.
func canonicalJSON(details map[string]any) []byte {
	b, err := json.Marshal(details)
	if err != nil {
		// The store refuses the event too (it cannot encode the
		// details), so no link is ever made over this.
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil
	}
	b, _ = json.Marshal(storableJSON(v))
	return b
}

// storableJSON replaces NUL in every string and key of a decoded JSON
// value (encoding/json has already made them valid UTF-8), and -0 by 0
// (PostgreSQL's jsonb has no -0). Keys that become one are taken in
// sorted order, the last one's value kept, so the result does not depend
// on map order.
func storableJSON(v any) any {
	switch v := v.(type) {
	case string:
		return storableText(v)
	case float64:
		if v == 0 {
			return 0.0
		}
		return v
	case []any:
		for i := range v {
			v[i] = storableJSON(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out[storableText(k)] = storableJSON(v[k])
		}
		return out
	}
	return v
}
