package passkey

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxNameLength is the longest passkey name, in characters (runes).
const MaxNameLength = 64

// zeroWidthJoiner is the one format character a name may hold: emoji
// sequences and some scripts need it.
const zeroWidthJoiner = '\u200d'

// NormalizeName trims a passkey name and checks it: 1 to [MaxNameLength]
// characters after trimming, valid UTF-8, no control characters, no
// bidirectional overrides or isolates, and no other invisible format
// characters (zero-width spaces, soft hyphens, tags) but the zero-width
// joiner, so that two passkeys in a list cannot look alike and differ. The
// rules are user.NormalizeName's, made stricter for a label that is only
// ever shown. Errors wrap [ErrInvalidName].
func NormalizeName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	case len(s) > utf8.UTFMax*MaxNameLength: // bounds the work below
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLength)
	case !utf8.ValidString(s):
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	case utf8.RuneCountInString(s) > MaxNameLength:
		return "", fmt.Errorf("%w: longer than %d characters", ErrInvalidName, MaxNameLength)
	}
	for _, r := range s {
		switch {
		case unicode.IsControl(r):
			return "", fmt.Errorf("%w: contains a control character", ErrInvalidName)
		case unicode.Is(unicode.Bidi_Control, r):
			return "", fmt.Errorf("%w: contains a bidirectional control character", ErrInvalidName)
		case unicode.Is(unicode.Cf, r) && r != zeroWidthJoiner:
			return "", fmt.Errorf("%w: contains an invisible format character", ErrInvalidName)
		}
	}
	return s, nil
}
