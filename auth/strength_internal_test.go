package auth

import (
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"
)

// BenchmarkPasswordStrength times the guess-count check of a new password
// (weakness) beside a bare bcrypt at the default cost of the same password,
// in the same loop: the check is worth it while it is a small share of the
// bcrypt every new password costs anyway. Cases: a typical passphrase, a
// password of the account's own context, and the worst cases: passwords
// past the 100 bytes scored, of ASCII and of 4-byte characters.
func BenchmarkPasswordStrength(b *testing.B) {
	pc := PasswordContext{UserID: "u1", Email: "ada.lovelace@example.com", Name: "Ada Lovelace", Issuer: "Backup Manager"}
	cases := []struct{ name, password string }{
		{"passphrase", "violet tangerine harbor umbrella"},
		{"own-email", "password-ada.lovelace@example.com"},
		{"capped-ascii", strings.Repeat("q7#Rv!2mXw", 100)},
		{"capped-4-byte-runes", strings.Repeat("𝄞𝄢", 128)},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			var tCheck, tBcrypt time.Duration
			for b.Loop() {
				start := time.Now()
				_ = weakness(c.password, pc, DefaultMinPasswordScore)
				mid := time.Now()
				if _, err := bcrypt.GenerateFromPassword([]byte(c.password[:min(len(c.password), 72)]), DefaultBcryptCost); err != nil {
					b.Fatal(err)
				}
				tCheck, tBcrypt = tCheck+mid.Sub(start), tBcrypt+time.Since(mid)
			}
			b.ReportMetric(float64(tCheck)/float64(tBcrypt), "check/bcrypt")
			b.ReportMetric(float64(tCheck.Microseconds())/float64(b.N), "check-µs/op")
			b.ReportMetric(float64(tBcrypt.Milliseconds())/float64(b.N), "bcrypt-ms/op")
		})
	}
}

// The check reads at most maxScored bytes: a password of the longest
// length allowed is judged by its first hundred bytes, whatever it holds
// after them, and a cut never splits a character.
func TestStrengthScoresTheFirstHundredBytes(t *testing.T) {
	head := strings.Repeat("q7#Rv!2mXw", 10) // 100 bytes, strong
	for _, tail := range []string{"", "password", strings.Repeat("a", MaxPasswordBytes-100)} {
		if r := weakness(head+tail, PasswordContext{}, DefaultMinPasswordScore); r != "" {
			t.Fatalf("%d-byte password refused (%q) for what follows its first 100 bytes", len(head+tail), r)
		}
	}
	// 99 bytes of a strong head, then a 4-byte character: the cut falls
	// before it, and what is left is judged (and still strong).
	if r := weakness(head[:99]+"𝄞"+strings.Repeat("a", 50), PasswordContext{}, DefaultMinPasswordScore); r != "" {
		t.Fatalf("a cut inside a character: refused (%q)", r)
	}
	if r := weakness(strings.Repeat("a", 100)+"q7#Rv!2mXw", PasswordContext{}, DefaultMinPasswordScore); r != ReasonRepeat {
		t.Fatalf("a password weak in its first 100 characters: reason %q, want %q", r, ReasonRepeat)
	}
}
