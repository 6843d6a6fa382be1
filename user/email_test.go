package user_test

import (
	"errors"
	"strings"
	"testing"
	"unicode"
	"unicode/utf8"

	"github.com/usher-go/usher/user"
)

// emailOfLength returns a valid address of exactly n bytes.
func emailOfLength(n int) string {
	const domain = "@example.com"
	return strings.Repeat("a", n-len(domain)) + domain
}

func TestNormalizeEmailAccepts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
		want string
	}{
		{"plain", "alice@example.com", "alice@example.com"},
		{"case folded", "Alice@Example.COM", "alice@example.com"},
		{"trimmed", " \t alice@example.com \r\n", "alice@example.com"},
		{"trimmed and folded", "  BOB@X.ORG  ", "bob@x.org"},
		{"plus addressing", "Bob+Newsletter@x.com", "bob+newsletter@x.com"},
		{"dotted local part", "first.last@x.com", "first.last@x.com"},
		{"subdomains", "a@mail.eu.Example.co.uk", "a@mail.eu.example.co.uk"},
		{"single-label domain", "root@localhost", "root@localhost"},
		{"apostrophe", "O'Brien@x.ie", "o'brien@x.ie"},
		{"ampersand and percent", "a&b%c@x.com", "a&b%c@x.com"},
		{"UTF-8 local part", "Jöhn@example.com", "jöhn@example.com"},
		{"UTF-8 upper case", "ÄLICE@X.COM", "älice@x.com"},
		{"UTF-8 domain", "a@Exämple.com", "a@exämple.com"},
		{"capital whose lower case is shorter", "İ@x.com", "i@x.com"},
		{"exactly 254 bytes", emailOfLength(254), emailOfLength(254)},
		{"254 bytes once trimmed", "  " + emailOfLength(254) + "\n", emailOfLength(254)},
		{"254 bytes folded", strings.ToUpper(emailOfLength(254)), emailOfLength(254)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := user.NormalizeEmail(tt.in)
			if err != nil {
				t.Fatalf("NormalizeEmail(%q) = error %v, want %q", tt.in, err, tt.want)
			}
			if got != tt.want {
				t.Fatalf("NormalizeEmail(%q) = %q, want %q", tt.in, got, tt.want)
			}
		})
	}
}

func TestNormalizeEmailRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		in   string
	}{
		{"empty", ""},
		{"only spaces", "   \t\n "},
		{"space in local part", "a b@x.com"},
		{"space in domain", "a@x .com"},
		{"space before @", "a @x.com"},
		{"no-break space inside", "a\u00a0b@x.com"},
		{"line separator inside", "a\u2028b@x.com"},
		{"CRLF header injection", "a@x.com\r\nBcc: b@x.com"},
		{"LF header injection", "a@x.com\nBcc: b@x.com"},
		{"bare CR", "a@x.com\rb"},
		{"NUL inside", "a\x00b@x.com"},
		{"NUL at the end", "a@x.com\x00"},
		{"NUL at the start", "\x00a@x.com"},
		{"tab inside", "a\tb@x.com"},
		{"escape", "a\x1b[31m@x.com"},
		{"DEL", "a\x7f@x.com"},
		{"C1 control", "a\u0085b@x.com"},
		{"C1 control in domain", "a@x\u009b.com"},
		{"10 KB", emailOfLength(10 << 10)},
		{"255 bytes", emailOfLength(255)},
		{"comma list", "a@x.com,b@x.com"},
		{"comma list with space", "a@x.com, b@x.com"},
		{"semicolon list", "a@x.com;b@x.com"},
		{"space list", "a@x.com b@x.com"},
		{"display name", "Alice <a@x.com>"},
		{"quoted display name", `"Alice" <a@x.com>`},
		{"angle brackets", "<a@x.com>"},
		{"opening angle bracket", "<a@x.com"},
		{"closing angle bracket", "a@x.com>"},
		{"quoted local part", `"alice"@x.com`},
		{"quoted local part with space", `"a b"@x.com`},
		{"quoted local part with @", `"a@b"@x.com`},
		{"backslash", `a\b@x.com`},
		{"comment", "a(comment)@x.com"},
		{"domain literal", "a@[127.0.0.1]"},
		{"group syntax", "team:a@x.com;"},
		{"colon", "a:b@x.com"},
		{"missing @", "alice.example.com"},
		{"two @", "a@b@x.com"},
		{"leading @", "@x.com"},
		{"trailing @", "alice@"},
		{"only @", "@"},
		{"leading dot", ".a@x.com"},
		{"trailing dot in local part", "a.@x.com"},
		{"double dot in local part", "a..b@x.com"},
		{"double dot in domain", "a@x..com"},
		{"trailing dot in domain", "a@x.com."},
		{"invalid UTF-8 byte", "a\xff@x.com"},
		{"truncated UTF-8 sequence", "a\xc3@x.com"},
		{"overlong UTF-8 encoding of /", "a\xc0\xaf@x.com"},
		{"UTF-16 surrogate", "a\xed\xa0\x80@x.com"},
		// Ⱥ (2 bytes) lower-cases to ⱥ (3 bytes): the input fits, the
		// normalized address would not.
		{"lower case longer than 254 bytes", strings.Repeat("Ⱥ", 124) + "@x.com"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := user.NormalizeEmail(tt.in)
			if !errors.Is(err, user.ErrInvalidEmail) {
				t.Fatalf("NormalizeEmail(%q) = %q, %v; want an error wrapping ErrInvalidEmail", tt.in, got, err)
			}
			if got != "" {
				t.Errorf("NormalizeEmail(%q) returned %q beside the error, want \"\"", tt.in, got)
			}
		})
	}
}

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		in      string
		want    string
		wantErr bool
	}{
		{name: "empty allowed", in: "", want: ""},
		{name: "only spaces become empty", in: "  \t\n", want: ""},
		{name: "trimmed", in: "  Alice Smith \n", want: "Alice Smith"},
		{name: "case kept", in: "ALICE de la Tour", want: "ALICE de la Tour"},
		{name: "inner spaces kept", in: "Mary  Ann", want: "Mary  Ann"},
		{name: "UTF-8", in: "Zoë Ångström 山田", want: "Zoë Ångström 山田"},
		{name: "punctuation", in: `O'Brien "Bob" <&>`, want: `O'Brien "Bob" <&>`},
		{name: "exactly 200 bytes", in: strings.Repeat("a", 200), want: strings.Repeat("a", 200)},
		{name: "200 bytes of two-byte runes", in: strings.Repeat("é", 100), want: strings.Repeat("é", 100)},
		{name: "200 bytes once trimmed", in: "   " + strings.Repeat("a", 200) + "   ", want: strings.Repeat("a", 200)},
		{name: "201 bytes", in: strings.Repeat("a", 201), wantErr: true},
		{name: "201 bytes of three-byte runes", in: strings.Repeat("€", 67), wantErr: true},
		{name: "10 KB", in: strings.Repeat("a", 10<<10), wantErr: true},
		{name: "NUL", in: "Al\x00ice", wantErr: true},
		{name: "newline inside", in: "Alice\nBob", wantErr: true},
		{name: "CR inside", in: "Alice\rBob", wantErr: true},
		{name: "tab inside", in: "Alice\tBob", wantErr: true},
		{name: "escape sequence", in: "\x1b[2JAlice", wantErr: true},
		{name: "DEL", in: "Alice\x7f", wantErr: true},
		{name: "C1 control", in: "Ali\u0085ce", wantErr: true},
		{name: "invalid UTF-8", in: "Alice\xff", wantErr: true},
		{name: "truncated UTF-8", in: "Alic\xc3", wantErr: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := user.NormalizeName(tt.in)
			if tt.wantErr {
				if !errors.Is(err, user.ErrInvalidName) {
					t.Fatalf("NormalizeName(%q) = %q, %v; want an error wrapping ErrInvalidName", tt.in, got, err)
				}
				return
			}
			if err != nil || got != tt.want {
				t.Fatalf("NormalizeName(%q) = %q, %v; want %q, nil", tt.in, got, err, tt.want)
			}
		})
	}
}

// FuzzNormalizeEmail checks that NormalizeEmail never panics, refuses only
// with ErrInvalidEmail, and returns only canonical addresses: lower-case,
// trimmed, bounded, one @, no control character, and a fixed point.
func FuzzNormalizeEmail(f *testing.F) {
	for _, s := range []string{
		"alice@example.com", " Alice@Example.COM ", "a+b@x.co.uk", "jöhn@exämple.com",
		"Alice <a@x.com>", "a@x.com\r\nBcc: b@x.com", `"a b"@x.com`, "a@b@c", "@", "",
		"a\xff@x.com", "İ@x.com", "K@x.com", strings.Repeat("Ⱥ", 124) + "@x.com",
		emailOfLength(254), emailOfLength(255),
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, in string) {
		got, err := user.NormalizeEmail(in)
		if err != nil {
			if !errors.Is(err, user.ErrInvalidEmail) {
				t.Fatalf("NormalizeEmail(%q): error %v does not wrap ErrInvalidEmail", in, err)
			}
			if got != "" {
				t.Fatalf("NormalizeEmail(%q) returned %q beside an error", in, got)
			}
			return
		}
		if want := strings.ToLower(strings.TrimSpace(in)); got != want {
			t.Fatalf("NormalizeEmail(%q) = %q, want the input trimmed and lower-cased, %q", in, got, want)
		}
		if got != strings.ToLower(got) {
			t.Fatalf("NormalizeEmail(%q) = %q, not lower-case", in, got)
		}
		if got != strings.TrimSpace(got) {
			t.Fatalf("NormalizeEmail(%q) = %q, not trimmed", in, got)
		}
		if len(got) > user.MaxEmailLength {
			t.Fatalf("NormalizeEmail(%q) = %d bytes, more than %d", in, len(got), user.MaxEmailLength)
		}
		if n := strings.Count(got, "@"); n != 1 {
			t.Fatalf("NormalizeEmail(%q) = %q, with %d @", in, got, n)
		}
		if !utf8.ValidString(got) {
			t.Fatalf("NormalizeEmail(%q) = %q, not valid UTF-8", in, got)
		}
		if i := strings.IndexFunc(got, unicode.IsControl); i >= 0 {
			t.Fatalf("NormalizeEmail(%q) = %q, control character at byte %d", in, got, i)
		}
		again, err := user.NormalizeEmail(got)
		if err != nil || again != got {
			t.Fatalf("NormalizeEmail(%q) = %q, but normalizing that gives %q, %v", in, got, again, err)
		}
	})
}
