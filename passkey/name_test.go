package passkey_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/passkey"
)

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string // "" means refused
	}{
		{"plain", "YubiKey 5", "YubiKey 5"},
		{"trimmed", "  iCloud Keychain \t\n", "iCloud Keychain"},
		{"non-ASCII", "Clé de Zoë", "Clé de Zoë"},
		{"64 characters", strings.Repeat("a", 64), strings.Repeat("a", 64)},
		{"64 multibyte characters", strings.Repeat("é", 64), strings.Repeat("é", 64)},
		{"64 four-byte characters", strings.Repeat("🔑", 64), strings.Repeat("🔑", 64)},
		{"zero-width joiner", "👩\u200d💻 laptop", "👩\u200d💻 laptop"},
		{"empty", "", ""},
		{"only spaces", "   \t ", ""},
		{"65 characters", strings.Repeat("a", 65), ""},
		{"65 multibyte characters", strings.Repeat("é", 65), ""},
		{"1 MB", strings.Repeat("a", 1<<20), ""},
		{"invalid UTF-8", "key\xff", ""},
		{"NUL", "key\x00", ""},
		{"line feed inside", "my\nkey", ""},
		{"escape", "key\x1b[31m", ""},
		{"DEL", "key\x7f", ""},
		{"C1 control", "key\u0085x", ""},
		{"right-to-left override", "key\u202egnp.exe", ""},
		{"isolate", "\u2066key\u2069", ""},
		{"zero-width space", "key\u200b", ""},
		{"soft hyphen", "pass\u00adkey", ""},
		{"tag character", "key\U000E0041", ""},
		{"byte order mark", "\ufeffkey", ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			got, err := passkey.NormalizeName(tc.in)
			if tc.want == "" {
				if !errors.Is(err, passkey.ErrInvalidName) {
					t.Errorf("NormalizeName(%q) = %q, %v; want ErrInvalidName", tc.in, got, err)
				}
				if got != "" {
					t.Errorf("NormalizeName(%q) returned %q with its error, want empty", tc.in, got)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Errorf("NormalizeName(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
			}
		})
	}
}
