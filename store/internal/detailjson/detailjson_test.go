package detailjson

import (
	"encoding/json"
	"reflect"
	"testing"
)

// seeds are details as usher and hosts store them, in both stores' forms
// (jsonb prints a space after each colon and comma), and text that must
// go to encoding/json: nested values, escapes, bad UTF-8, bad numbers,
// bad syntax.
var seeds = []string{
	`{}`,
	` { } `,
	`{"consecutive_failures":1}`,
	`{"consecutive_failures": 1, "method": "totp"}`,
	`{"session_id":"fedcba9876543210fedcba9876543210","remembered":true,"password_rehashed":false}`,
	`{"a":null,"b":0,"c":-0,"d":255,"e":256,"f":1.5,"g":-12,"h":1e3,"i":1E-3,"j":012}`,
	`{"big":12345678901234567890,"huge":1e400,"tiny":1e-400,"neg":-1.25e+2}`,
	`{"a":1,"a":2}`,
	`{"before":{"name":"x"},"after":{"name":"y"}}`,
	`{"permissions":["users:read","*"]}`,
	`{"name":"a\"b","email":"\u00e9"}`,
	"{\"name\":\"caf\xc3\xa9 \xe2\x82\xac\"}",
	"{\"name\":\"bad \xff utf8\"}",
	"{\"name\":\"ctl \x01\"}",
	"{\"na\xffme\":1}",
	`{"n":1.}`, `{"n":.5}`, `{"n":-}`, `{"n":1e}`, `{"n":+1}`, `{"n":0x10}`, `{"n":Infinity}`, `{"n":NaN}`,
	`{"n":tru}`, `{"n":nul}`, `{"n":falsey}`,
	`{"a":1,}`, `{"a" 1}`, `{"a":1 "b":2}`, `{"a":1}x`, `{"a":1}}`, `{`, `{"a`, `{"a":"b`, ``, `null`, `[]`,
	`"x"`, `1`, `{1:2}`, `{"a":1}` + "\n",
}

// TestDecodeAsEncodingJSON: Decode gives what json.Unmarshal gives, the
// same map or an error where it fails.
func TestDecodeAsEncodingJSON(t *testing.T) {
	for _, s := range seeds {
		checkSame(t, []byte(s))
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, b []byte) { checkSame(t, b) })
}

func checkSame(t *testing.T, b []byte) {
	t.Helper()
	var want map[string]any
	wantErr := json.Unmarshal(b, &want)
	got, err := Decode(b)
	if (err != nil) != (wantErr != nil) {
		t.Fatalf("Decode(%q) error %v, encoding/json's %v", b, err, wantErr)
	}
	if err == nil && !reflect.DeepEqual(got, want) {
		t.Fatalf("Decode(%q) = %#v, encoding/json gives %#v", b, got, want)
	}
	if err == nil && want == nil && got != nil {
		t.Fatalf("Decode(%q) = %#v, want nil", b, got)
	}
}

// TestDecodeFlatAllocations: a flat object of the kind usher writes costs
// the map and the strings it must return, no more.
func TestDecodeFlatAllocations(t *testing.T) {
	tests := []struct {
		name string
		in   string
		max  float64
	}{
		{"a small count", `{"consecutive_failures":1}`, 2},
		{"a session", `{"session_id":"fedcba9876543210fedcba9876543210","remembered":true}`, 4},
		{"jsonb's spacing", `{"method": "totp", "consecutive_failures": 3}`, 4},
	}
	for _, tt := range tests {
		b := []byte(tt.in)
		n := testing.AllocsPerRun(100, func() {
			if _, err := Decode(b); err != nil {
				t.Fatal(err)
			}
		})
		if n > tt.max {
			t.Errorf("%s: %v allocations, want at most %v", tt.name, n, tt.max)
		}
	}
}
