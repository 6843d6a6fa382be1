package group

import (
	"fmt"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Limits of a group's text fields, in bytes.
const (
	MaxNameLength        = 100
	MaxDescriptionLength = 1000
)

// NormalizeName trims a group name and checks it as user names are
// checked: 1 to [MaxNameLength] bytes after trimming, valid UTF-8, no
// control characters, no bidirectional overrides or isolates (which can
// make a name display as something else). Other format characters such as
// the zero-width joiner are allowed: some scripts and emoji need them.
// Errors wrap [ErrInvalidName]. Package auth applies it to every group it
// writes; a page may call it to check a form before sending it.
func NormalizeName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	case len(s) > MaxNameLength:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, MaxNameLength)
	}
	if err := checkText(s, nil); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidName, err)
	}
	return s, nil
}

// NormalizeDescription trims a group description and checks it: at most
// [MaxDescriptionLength] bytes after trimming, valid UTF-8, no control
// characters but line feeds and tabs, no bidirectional overrides or
// isolates. Line ends a browser's textarea sends (CR LF) become line feeds;
// a lone carriage return is refused. An empty description is allowed.
// Errors wrap [ErrInvalidDescription].
func NormalizeDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxDescriptionLength {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidDescription, MaxDescriptionLength)
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if err := checkText(s, func(r rune) bool { return r == '\n' || r == '\t' }); err != nil {
		return "", fmt.Errorf("%w: %w", ErrInvalidDescription, err)
	}
	return s, nil
}

// errText is what checkText's refusals say; the callers wrap them in their
// own sentinel.
type errText string

func (e errText) Error() string { return string(e) }

// checkText refuses invalid UTF-8, control characters (but those allowed
// reports true for) and bidirectional controls.
func checkText(s string, allowed func(rune) bool) error {
	if !utf8.ValidString(s) {
		return errText("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) && (allowed == nil || !allowed(r)) {
			return errText("contains a control character")
		}
		if unicode.Is(unicode.Bidi_Control, r) {
			return errText("contains a bidirectional control character")
		}
	}
	return nil
}
