package user

import (
	"fmt"
	"net/mail"
	"strings"
	"unicode"
	"unicode/utf8"
)

// MaxEmailLength is the longest address accepted, in bytes (RFC 5321 path
// limit less the angle brackets).
const MaxEmailLength = 254

// MaxNameLength is the longest display name accepted, in bytes.
const MaxNameLength = 200

// NormalizeEmail validates an address and returns its canonical form: spaces
// around it trimmed and the whole address lower-cased, so that uniqueness is
// case-insensitive. It accepts one bare address only: no display name, no
// angle brackets, no list, no control characters, at most [MaxEmailLength]
// bytes. Errors wrap [ErrInvalidEmail].
func NormalizeEmail(s string) (string, error) {
	s = strings.TrimSpace(s)
	if err := checkEmailBytes(s); err != nil {
		return "", err
	}
	// Lower-case before the checks, so they hold for what is returned: some
	// capitals take fewer bytes than their lower case (Ⱥ is 2, ⱥ is 3).
	s = strings.ToLower(s)
	if err := checkEmailBytes(s); err != nil {
		return "", err
	}
	if err := checkEmailChars(s); err != nil {
		return "", err
	}
	addr, err := mail.ParseAddress(s)
	if err != nil || addr.Address != s || addr.Name != "" {
		return "", fmt.Errorf("%w: not an address", ErrInvalidEmail)
	}
	at := strings.LastIndexByte(s, '@')
	if at <= 0 || at == len(s)-1 || strings.Count(s, "@") != 1 {
		return "", fmt.Errorf("%w: not an address", ErrInvalidEmail)
	}
	return s, nil
}

// checkEmailBytes bounds the work on s before anything looks inside it.
func checkEmailBytes(s string) error {
	switch {
	case s == "":
		return fmt.Errorf("%w: empty", ErrInvalidEmail)
	case len(s) > MaxEmailLength:
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidEmail, MaxEmailLength)
	case !utf8.ValidString(s):
		return fmt.Errorf("%w: not valid UTF-8", ErrInvalidEmail)
	}
	return nil
}

// checkEmailChars refuses what would make an address look like another or
// like more than one.
func checkEmailChars(s string) error {
	for _, r := range s {
		// Format characters (zero-width space, bidi overrides) are invisible:
		// "ad\u200bmin@x.com" would look like "admin@x.com" in a user list.
		if unicode.IsControl(r) || unicode.IsSpace(r) || unicode.Is(unicode.Cf, r) {
			return fmt.Errorf("%w: contains a space, control or invisible character", ErrInvalidEmail)
		}
	}
	if strings.ContainsAny(s, "<>,;\"()[]\\") {
		return fmt.Errorf("%w: one plain address only", ErrInvalidEmail)
	}
	return nil
}

// NormalizeName trims a display name and checks it: valid UTF-8, no control
// characters, no bidirectional overrides or isolates (which can make a name
// display as something else, e.g. reversed), at most [MaxNameLength] bytes.
// Other format characters such as the zero-width joiner are allowed: some
// scripts and emoji need them. An empty name is allowed. Errors wrap
// [ErrInvalidName].
func NormalizeName(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxNameLength {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, MaxNameLength)
	}
	if !utf8.ValidString(s) {
		return "", fmt.Errorf("%w: not valid UTF-8", ErrInvalidName)
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return "", fmt.Errorf("%w: contains a control character", ErrInvalidName)
		}
		if unicode.Is(unicode.Bidi_Control, r) {
			return "", fmt.Errorf("%w: contains a bidirectional control character", ErrInvalidName)
		}
	}
	return s, nil
}
