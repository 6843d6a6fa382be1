package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"hash"
	"maps"
	"math"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/internal/auditjson"
)

// The reference: canonicalDetails, storableJSON and storableEvent as they
// were before the flat details took their own way (issue 12). Every link
// made then, and every detail stored, must come out the same now.

func refCanonicalDetails(details map[string]any) []byte {
	if len(details) == 0 {
		return nil
	}
	b, err := json.Marshal(details)
	if err != nil {
		return nil
	}
	var v any
	if err := json.Unmarshal(b, &v); err != nil {
		return nil
	}
	b, _ = json.Marshal(refStorableJSON(v))
	return b
}

func refStorableJSON(v any) any {
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
			v[i] = refStorableJSON(v[i])
		}
		return v
	case map[string]any:
		out := make(map[string]any, len(v))
		for _, k := range slices.Sorted(maps.Keys(v)) {
			out[storableText(k)] = refStorableJSON(v[k])
		}
		return out
	}
	return v
}

func refStorableEvent(e *audit.Event) {
	e.Time = e.Time.Truncate(time.Microsecond)
	for _, s := range eventText(e) {
		*s = storableText(*s)
	}
	if len(e.Details) == 0 {
		return
	}
	b := refCanonicalDetails(e.Details)
	var d map[string]any
	if b == nil || json.Unmarshal(b, &d) != nil {
		return
	}
	e.Details = d
}

// refChainLinkMAC and refMarkMAC are chainLinkMAC and markMAC as they
// were, each field written to the hash on its own.
func refChainLinkMAC(key, prev []byte, seq int64, e *audit.Event) []byte {
	h := hmac.New(sha256.New, key)
	refWriteField(h, chainLinkLabel)
	refWriteBytes(h, prev)
	refWriteInt(h, seq)
	refWriteField(h, e.ID)
	refWriteInt(h, e.Time.UnixMicro())
	for _, s := range eventText(e) {
		refWriteField(h, storableText(*s))
	}
	refWriteBytes(h, refCanonicalDetails(e.Details))
	return h.Sum(nil)
}

func refMarkMAC(key []byte, label string, seq int64, linkMAC []byte) []byte {
	h := hmac.New(sha256.New, key)
	refWriteField(h, label)
	refWriteInt(h, seq)
	refWriteBytes(h, linkMAC)
	return h.Sum(nil)
}

func refWriteInt(h hash.Hash, n int64) {
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], uint64(n))
	h.Write(b[:])
}

func refWriteBytes(h hash.Hash, b []byte) {
	refWriteInt(h, int64(len(b)))
	h.Write(b)
}

func refWriteField(h hash.Hash, s string) {
	refWriteInt(h, int64(len(s)))
	h.Write([]byte(s))
}

type namedString string

type textMarshaler string

func (t textMarshaler) MarshalText() ([]byte, error) { return []byte("as text " + t), nil }

// trickyDetails are details whose encoding, decoding or storable form
// takes a special case somewhere.
var trickyDetails = []struct {
	name    string
	details map[string]any
}{
	{"none", nil},
	{"empty", map[string]any{}},
	{"CreateUser", map[string]any{audit.DetailEmail: "user1@example.com", audit.DetailName: "User 1",
		audit.DetailGroup: "g_members", audit.DetailGroupName: "Members"}},
	{"login", map[string]any{audit.DetailSessionID: "s_0123456789abcdef", audit.DetailRemembered: true,
		audit.DetailPasswordRehashed: true}},
	{"login failed", map[string]any{audit.DetailConsecutiveFailures: 3}},
	{"nil value", map[string]any{"a": nil, "b": false}},
	{"NUL in value", map[string]any{"a": "x\x00y"}},
	{"NUL in key", map[string]any{"a\x00": "x"}},
	{"NUL key collides", map[string]any{"a\x00": "1", "a\uFFFD": "2"}},
	{"invalid UTF-8 value", map[string]any{"a": "x\xff\xfey\xc3"}},
	{"invalid UTF-8 key", map[string]any{"a\xff": "x"}},
	{"invalid keys collide", map[string]any{"a\xfe": "1", "a\xff": "2", "a\uFFFD": "3", "a\x00": "4"}},
	{"-0", map[string]any{"z": math.Copysign(0, -1), "p": 0.0}},
	{"-0 nested", map[string]any{"z": math.Copysign(0, -1), "n": []any{math.Copysign(0, -1)}}},
	{"floats", map[string]any{"a": 1e21, "b": 1e20, "c": 1e-6, "d": 1e-7, "e": -1.5e-300,
		"f": math.MaxFloat64, "g": math.SmallestNonzeroFloat64, "h": 0.1, "i": 123456789.125}},
	{"float32", map[string]any{"a": float32(0.1), "b": float32(1e30)}},
	{"NaN", map[string]any{"a": math.NaN()}},
	{"Inf", map[string]any{"a": math.Inf(-1), "b": "x"}},
	{"ints", map[string]any{"a": 0, "b": -1, "c": int64(1 << 53), "d": int64(-(1 << 53)), "e": int32(-7)}},
	{"ints past 2^53", map[string]any{"a": int64(1<<53 + 1), "b": int64(math.MaxInt64), "c": int64(math.MinInt64)}},
	{"unsigned", map[string]any{"a": uint64(math.MaxUint64), "b": uint8(3)}},
	{"nested", map[string]any{"before": map[string]any{"name": "a\x00", "permissions": []string{"x", "y"}},
		"after": map[string]any{"n": 1, "l": []any{1.5, "\xff", nil}}}},
	{"nested keys collide", map[string]any{"o": map[string]any{"a\x00": 1, "a\uFFFD": 2}}},
	{"HTML", map[string]any{"<k>&": "<script>alert(1)&amp;</script>"}},
	{"controls", map[string]any{"k": "\b\f\n\r\t\x01\x1f\x7f\"\\"}},
	{"separators", map[string]any{"\u2028": "a\u2029b\u2028"}},
	{"non-ASCII", map[string]any{"名前": "José 😀", "ÿ": "\uFFFD"}},
	{"named string", map[string]any{"a": namedString("x")}},
	{"text marshaler", map[string]any{"a": textMarshaler("x")}},
	{"json.Number", map[string]any{"a": json.Number("1.50")}},
	{"raw message", map[string]any{"a": json.RawMessage(`{"b" : 1e2}`)}},
	{"time", map[string]any{"a": time.Date(2026, 12, 6, 1, 2, 3, 4, time.UTC)}},
	{"unencodable", map[string]any{"a": func() {}}},
}

func TestStorableDetailsMatchReference(t *testing.T) {
	for _, tc := range trickyDetails {
		t.Run(tc.name, func(t *testing.T) {
			checkAgainstReference(t, tc.details)
		})
	}
}

// checkAgainstReference seals an event with details both ways and checks
// that the link, the details the event carries after and the details a
// store writes are the same.
func checkAgainstReference(t *testing.T, details map[string]any) {
	t.Helper()
	before, _ := json.Marshal(details)
	// Text that storableText changes, and more of it than the room a
	// link's MAC input starts with (eventMACSize).
	event := func() *audit.Event {
		return &audit.Event{ID: "7", Action: audit.UserCreated, Time: time.Unix(1, 1234567),
			Actor: audit.Actor{ID: "u_1", Email: "a\x00@example.com"}, Target: audit.Target{Type: "user", ID: "u\xff2"},
			UserAgent: strings.Repeat("Mozilla/5.0 ", 50), Details: details}
	}
	want, got := event(), event()
	refStorableEvent(want)
	canonical := storableEvent(got)
	if after, _ := json.Marshal(details); !bytes.Equal(before, after) {
		t.Fatalf("the caller's details changed: %q, were %q", after, before)
	}
	if ref := refCanonicalDetails(details); !bytes.Equal(canonical, ref) {
		t.Fatalf("sealed over %q, the reference over %q", canonical, ref)
	}
	if c := canonicalDetails(details); !bytes.Equal(c, canonical) {
		t.Fatalf("canonicalDetails gives %q, the seal %q", c, canonical)
	}
	if same := sameMap(want.Details, details); same != sameMap(got.Details, details) {
		t.Fatalf("the event holds its own details after the seal: %v, the reference's: %v", !same, same)
	} else if !same && !sameJSON(got.Details, want.Details) {
		t.Fatalf("the event holds %#v after the seal, the reference %#v", got.Details, want.Details)
	}
	key, prev := []byte("chain key"), []byte("previous link")
	ref := refChainLinkMAC(key, prev, 9, want)
	if mac := chainLinkMAC(key, prev, 9, got, canonical); !bytes.Equal(mac, ref) {
		t.Fatal("the link differs from the reference's")
	}
	if mac := markMAC(key, chainHeadLabel, 9, ref); !bytes.Equal(mac, refMarkMAC(key, chainHeadLabel, 9, ref)) {
		t.Fatal("the head mark differs from the reference's")
	}
	// What a store writes (store/sqlite and store/postgres encode with
	// auditjson.Marshal), and what a check recomputes over it.
	stored, err := auditjson.Marshal(got.Details)
	refStored, refErr := json.Marshal(want.Details)
	if !bytes.Equal(stored, refStored) || (err == nil) != (refErr == nil) {
		t.Fatalf("stored as %q (%v), the reference as %q (%v)", stored, err, refStored, refErr)
	}
	if len(want.Details) > 0 && refErr == nil && !bytes.Equal(canonicalDetails(want.Details), canonical) {
		t.Fatalf("a check of the stored details sees %q, the seal %q", canonicalDetails(want.Details), canonical)
	}
}

// sameMap reports whether a and b are the same map.
func sameMap(a, b map[string]any) bool {
	return reflect.ValueOf(a).UnsafePointer() == reflect.ValueOf(b).UnsafePointer()
}

// sameJSON is reflect.DeepEqual that also tells -0 from 0.
func sameJSON(a, b any) bool {
	if !reflect.DeepEqual(a, b) {
		return false
	}
	switch a := a.(type) {
	case float64:
		return math.Signbit(a) == math.Signbit(b.(float64))
	case []any:
		for i := range a {
			if !sameJSON(a[i], b.([]any)[i]) {
				return false
			}
		}
	case map[string]any:
		for k := range a {
			if !sameJSON(a[k], b.(map[string]any)[k]) {
				return false
			}
		}
	}
	return true
}

func FuzzStorableDetails(f *testing.F) {
	f.Add("email", "user@example.com", "n", int64(3), 1.5, "ok", true, uint8(0))
	f.Add("a\x00", "<\u2028>", "a\uFFFD", int64(1<<53+1), math.Copysign(0, -1), "a\xff", false, uint8(1))
	f.Add("", "\xfe\x00", "", int64(-1), 1e21, "a\xfe", true, uint8(2))
	f.Fuzz(func(t *testing.T, k1, s, k2 string, n int64, x float64, k3 string, b bool, shape uint8) {
		d := map[string]any{k1: s, k2: n, k3: b, s: x}
		switch shape % 4 {
		case 1:
			d[k3] = map[string]any{k1: x, k2: s}
		case 2:
			d[k2] = []any{n, s, nil}
		case 3:
			d[k1] = float32(x)
		}
		checkAgainstReference(t, d)
	})
}

// BenchmarkSealEvent is the cost of sealing one event, as CreateUser's.
func BenchmarkSealEvent(b *testing.B) {
	k := &keySet{id: "k1", chain: []byte("a chain key of thirty-two bytes!")}
	m := &Manager{keys: &keyring{current: k}}
	head := audit.Mark{Seq: 41, LinkMAC: []byte("the previous link's MAC, 32 byte")}
	b.ReportAllocs()
	for b.Loop() {
		e := &audit.Event{ID: "42", Time: time.Now(), Action: audit.UserCreated, Outcome: audit.Success,
			Actor: audit.Actor{ID: "u_admin", Email: "admin@example.com"}, Target: audit.Target{Type: "user", ID: "u_1"},
			Details: map[string]any{audit.DetailEmail: "user1@example.com", audit.DetailName: "User 1",
				audit.DetailGroup: "g_members", audit.DetailGroupName: "Members"}}
		if _, _, err := m.sealEvent(head, e); err != nil {
			b.Fatal(err)
		}
	}
}
