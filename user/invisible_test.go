package user_test

import (
	"errors"
	"testing"

	"github.com/usher-go/usher/user"
)

// Invisible characters cannot make one address look like another, and
// bidi controls cannot make a name display as something else.
func TestInvisibleCharacters(t *testing.T) {
	for _, in := range []string{"ad\u200bmin@example.com", "admin\u202e@example.com", "\ufeffadmin@example.com", "admin@exa\u2066mple.com"} {
		if _, err := user.NormalizeEmail(in); !errors.Is(err, user.ErrInvalidEmail) {
			t.Errorf("NormalizeEmail(%q) = %v, want ErrInvalidEmail", in, err)
		}
	}
	for _, in := range []string{"Ada\u202eLovelace", "\u2067Ada", "Ada\u200f"} {
		if _, err := user.NormalizeName(in); !errors.Is(err, user.ErrInvalidName) {
			t.Errorf("NormalizeName(%q) = %v, want ErrInvalidName", in, err)
		}
	}
	// The zero-width joiner of emoji sequences and some scripts is fine in a name.
	for _, in := range []string{"👩\u200d💻 Ada", "می\u200cخواهم"} {
		if got, err := user.NormalizeName(in); err != nil || got != in {
			t.Errorf("NormalizeName(%q) = %q, %v", in, got, err)
		}
	}
}
