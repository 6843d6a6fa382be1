package keyrange_test

import (
	"strings"
	"testing"

	"github.com/usher-go/usher/store/internal/keyrange"
)

func TestEnd(t *testing.T) {
	tests := []struct {
		name, prefix, end string
		ok                bool
	}{
		{"empty", "", "", false},
		{"plain", "account:a\x1f", "account:a\x20", true},
		{"trailing 0xff", "ab\xff\xff", "ac", true},
		{"all 0xff", "\xff\xff", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			end, ok := keyrange.End(tt.prefix)
			if end != tt.end || ok != tt.ok {
				t.Fatalf("End(%q) = %q, %v; want %q, %v", tt.prefix, end, ok, tt.end, tt.ok)
			}
			if !ok {
				return
			}
			for _, k := range []string{tt.prefix, tt.prefix + "\x00", tt.prefix + "\xff\xff\xff"} {
				if !(k >= tt.prefix && k < end) {
					t.Errorf("%q begins with %q but is not in [prefix, %q)", k, tt.prefix, end)
				}
			}
			if k := end; strings.HasPrefix(k, tt.prefix) || k < end {
				t.Errorf("end %q is in the range", k)
			}
		})
	}
}
