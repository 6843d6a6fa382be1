package auditjson

import (
	"bytes"
	"encoding/json"
	"math"
	"strings"
	"testing"
)

// tricky holds values whose encoding takes json.Marshal's special cases.
var tricky = []struct {
	name string
	m    map[string]any
}{
	{"nil", nil},
	{"empty", map[string]any{}},
	{"flat", map[string]any{"session_id": "abc", "remembered": true, "n": 3.0, "none": nil}},
	{"key order", map[string]any{"b": 1.0, "a": 2.0, "B": 3.0, "é": 4.0, "aa": 5.0, "": 6.0}},
	{"NUL", map[string]any{"a\x00b": "c\x00d"}},
	{"controls", map[string]any{"k": "\b\f\n\r\t\x01\x1f\x7f"}},
	{"HTML", map[string]any{"<k>": "<script>&amp;</script>"}},
	{"quotes", map[string]any{`"\`: `\"\u0000`}},
	{"invalid UTF-8", map[string]any{"a\xffb": "x\xfe\xffy\xc3"}},
	{"invalid keys collide", map[string]any{"a\xfe": "1", "a\xff": "2", "a\uFFFD": "3"}},
	{"separators", map[string]any{"\u2028": "a\u2029b\u2028"}},
	{"non-ASCII", map[string]any{"名前": "José 😀", "ÿ": "\uFFFD"}},
	{"-0", map[string]any{"z": math.Copysign(0, -1)}},
	{"floats", map[string]any{
		"a": 1e21, "b": 1e20, "c": 1e-6, "d": 1e-7, "e": 123456789.125, "f": -1.5e-300,
		"g": math.MaxFloat64, "h": math.SmallestNonzeroFloat64, "i": 9007199254740993.0, "j": 0.1,
		"k": -1e21, "l": 5e-324, "m": 1e-10,
	}},
	{"bools", map[string]any{"t": true, "f": false}},
}

func TestAppendFlatIsMarshal(t *testing.T) {
	for _, tc := range tricky {
		t.Run(tc.name, func(t *testing.T) {
			checkSame(t, tc.m)
		})
	}
}

// Outside the subset AppendFlat declines, and Marshal is json.Marshal's,
// error included.
func TestOutsideFlat(t *testing.T) {
	for _, m := range []map[string]any{
		{"n": 1},                               // an int
		{"n": float32(0.1)},                    // a float32
		{"l": []any{"a"}},                      // a list
		{"o": map[string]any{"a": "b"}},        // an object
		{"r": json.RawMessage(`{"a":1}`)},      // a Marshaler
		{"s": struct{ A string }{"x"}},         // a struct
		{"named": json.Number("1")},            // a string type of its own
		{"nan": math.NaN()},                    // json.Marshal's error
		{"inf": math.Inf(1), "ok": "x"},        // json.Marshal's error
		{"ok": "x", "bad": []string{"a", "b"}}, // found after a good one
	} {
		if b, ok := AppendFlat([]byte("x"), m); ok || string(b) != "x" {
			t.Errorf("AppendFlat(%v) = %q, %v; want it declined, dst as it was", m, b, ok)
		}
		want, wantErr := json.Marshal(m)
		got, err := Marshal(m)
		if !bytes.Equal(got, want) || (err == nil) != (wantErr == nil) {
			t.Errorf("Marshal(%v) = %q, %v; json.Marshal gives %q, %v", m, got, err, want, wantErr)
		}
	}
}

func checkSame(t *testing.T, m map[string]any) {
	t.Helper()
	want, err := json.Marshal(m)
	got, ok := AppendFlat([]byte("prefix"), m)
	if err != nil {
		if ok {
			t.Fatalf("AppendFlat(%q) = %q; json.Marshal fails: %v", m, got, err)
		}
		return
	}
	if !ok || !bytes.Equal(got, append([]byte("prefix"), want...)) {
		t.Fatalf("AppendFlat(%q) = %q, %v; json.Marshal gives %q", m, got, ok, want)
	}
	if got, err := Marshal(m); err != nil || !bytes.Equal(got, want) {
		t.Fatalf("Marshal(%q) = %q, %v; json.Marshal gives %q", m, got, err, want)
	}
}

// AppendString reads eight bytes at a time (needsEscape): every byte
// value and every sequence it treats apart, at every offset of a string
// long enough to take the word path before and after it, in runs that
// cross a word's boundary, is quoted as encoding/json quotes it, with
// HTML escaping on and off.
func TestAppendStringEveryByteEveryOffset(t *testing.T) {
	var specials []string
	for c := range 256 {
		specials = append(specials, string([]byte{byte(c)}))
	}
	specials = append(specials, "\u2028", "\u2029", "é", "😀", "\xe2\x80", "\xc3", `"\\<>&`, "\x00\x1f\x7f\x80")
	for _, sp := range specials {
		for pre := range 18 {
			for _, post := range []int{0, 1, 7, 8, 9, 17} {
				s := strings.Repeat("a", pre) + sp + strings.Repeat("b", post)
				for _, html := range []bool{false, true} {
					var want bytes.Buffer
					enc := json.NewEncoder(&want)
					enc.SetEscapeHTML(html)
					if err := enc.Encode(s); err != nil {
						t.Fatal(err)
					}
					got := AppendString([]byte("x"), s, html)
					if w := append([]byte("x"), bytes.TrimSuffix(want.Bytes(), []byte("\n"))...); !bytes.Equal(got, w) {
						t.Fatalf("AppendString(%q, %v) = %q; encoding/json writes %q", s, html, got, w)
					}
				}
			}
		}
	}
}

func FuzzAppendString(f *testing.F) {
	f.Add("plain ascii text, long enough", true)
	f.Add("Mozilla/5.0 (X11; Linux x86_64) \u2028 <b>&amp;</b> \xff\xfe é \x01", false)
	f.Fuzz(func(t *testing.T, s string, html bool) {
		var want bytes.Buffer
		enc := json.NewEncoder(&want)
		enc.SetEscapeHTML(html)
		if err := enc.Encode(s); err != nil {
			t.Fatal(err)
		}
		if got := AppendString(nil, s, html); !bytes.Equal(got, bytes.TrimSuffix(want.Bytes(), []byte("\n"))) {
			t.Fatalf("AppendString(%q, %v) = %q; encoding/json writes %q", s, html, got, want.Bytes())
		}
	})
}

func BenchmarkAppendString(b *testing.B) {
	strs := []string{"login.succeeded", "success", "0123456789abcdef0123456789abcdef", "person@example.com", "user",
		"198.51.100.7", strings.Repeat("Mozilla/5.0 ", 8), "wrong password"}
	var dst []byte
	for b.Loop() {
		for _, s := range strs {
			dst = AppendString(dst[:0], s, false)
		}
	}
}

func FuzzAppendFlat(f *testing.F) {
	f.Add("a", "b", "c", 1.0, "d", true, false)
	f.Add("a\x00", "<\u2028>", "a\xff", math.Copysign(0, -1), "a\xfe", false, true)
	f.Add("", "\x7f\x1f", "", 1e21, "", true, true)
	f.Fuzz(func(t *testing.T, k1, s, k2 string, x float64, k3 string, b, null bool) {
		m := map[string]any{k1: s, k2: x, k3: b}
		if null {
			m[s] = nil
		}
		checkSame(t, m)
	})
}

func BenchmarkMarshal(b *testing.B) {
	m := map[string]any{"email": "user1234@example.com", "name": "User 1234", "group": "g_members", "group_name": "Members"}
	b.Run("auditjson", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			if _, err := json.Marshal(m); err != nil {
				b.Fatal(err)
			}
		}
	})
}
