package totp_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"regexp"
	"strings"
	"testing"

	"github.com/usher-go/usher/totp"
)

var codeShape = regexp.MustCompile(`^[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{5}-[0-9A-HJKMNP-TV-Z]{4}$`)

func TestNewRecoveryCodes(t *testing.T) {
	codes, err := totp.NewRecoveryCodes(rand.Reader)
	if err != nil || len(codes) != 10 {
		t.Fatalf("%d codes, %v", len(codes), err)
	}
	seen := map[string]bool{}
	for _, c := range codes {
		if !codeShape.MatchString(c) {
			t.Fatalf("%q is not XXXXX-XXXXX-XXXX in Crockford base32", c)
		}
		canon, err := totp.NormalizeRecoveryCode(c)
		if err != nil || canon != strings.ReplaceAll(c, "-", "") {
			t.Fatalf("%q does not normalize: %q, %v", c, canon, err)
		}
		if seen[canon] {
			t.Fatal("duplicate code")
		}
		seen[canon] = true
	}
	// A zero random source would give all-zero codes: the check symbol
	// still has to be right.
	zero, _ := totp.NewRecoveryCodes(bytes.NewReader(make([]byte, 1000)))
	if _, err := totp.NormalizeRecoveryCode(zero[0]); err != nil {
		t.Fatal(err)
	}
}

func TestNormalizeRecoveryCode(t *testing.T) {
	codes, _ := totp.NewRecoveryCodes(rand.Reader)
	good := codes[0]
	canon := strings.ReplaceAll(good, "-", "")
	flip := func(s string, i int) string {
		b := []byte(s)
		if b[i] == '7' {
			b[i] = '8'
		} else {
			b[i] = '7'
		}
		return string(b)
	}
	cases := []struct {
		name, in string
		ok       bool
	}{
		{"as printed", good, true},
		{"no dashes", canon, true},
		{"lower case", strings.ToLower(good), true},
		{"spaces", strings.ReplaceAll(good, "-", " "), true},
		{"empty", "", false},
		{"too short", canon[:13], false},
		{"too long", canon + "0", false},
		{"1 KB", strings.Repeat("A", 1024), false},
		{"bad alphabet U", canon[:13] + "U", false},
		{"punctuation", canon[:13] + "!", false},
		{"unicode", canon[:12] + "é", false},
		{"wrong check symbol", flip(canon, 13), false},
		{"one symbol mistyped", flip(canon, 3), false},
		{"6-digit TOTP code", "123456", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := totp.NormalizeRecoveryCode(tc.in)
			if tc.ok && (err != nil || got != canon) {
				t.Fatalf("got %q, %v; want %q", got, err, canon)
			}
			if !tc.ok && !errors.Is(err, totp.ErrMalformedCode) {
				t.Fatalf("got %q, %v; want ErrMalformedCode", got, err)
			}
		})
	}
	// O, I and L read as 0, 1 and 1.
	withZero := strings.Replace(canon, "0", "O", 1)
	if withZero != canon {
		if got, err := totp.NormalizeRecoveryCode(withZero); err != nil || got != canon {
			t.Fatalf("O not read as 0: %q, %v", got, err)
		}
	}
}

// Every single-symbol substitution is caught by the check symbol.
func TestRecoveryChecksumCatchesEverySubstitution(t *testing.T) {
	codes, _ := totp.NewRecoveryCodes(rand.Reader)
	canon := strings.ReplaceAll(codes[0], "-", "")
	const alphabet = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	for i := range len(canon) {
		for _, c := range []byte(alphabet) {
			if c == canon[i] {
				continue
			}
			b := []byte(canon)
			b[i] = c
			if _, err := totp.NormalizeRecoveryCode(string(b)); err == nil {
				t.Fatalf("substitution at %d by %c not caught", i, c)
			}
		}
	}
}

func TestHashRecoveryCode(t *testing.T) {
	key, salt := []byte("k"), []byte("salt")
	a := totp.HashRecoveryCode(key, salt, "ABC")
	if len(a) != 32 || bytes.Equal(a, totp.HashRecoveryCode(key, []byte("other"), "ABC")) ||
		bytes.Equal(a, totp.HashRecoveryCode([]byte("k2"), salt, "ABC")) || !bytes.Equal(a, totp.HashRecoveryCode(key, salt, "ABC")) {
		t.Fatal("hash does not depend on key, salt and code alone")
	}
}
