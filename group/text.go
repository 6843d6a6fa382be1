package group

import (
	"fmt"
	"strings"
	"unicode"
)

// Limits of a group's text fields, in bytes.
const (
	MaxNameLength        = 100
	MaxDescriptionLength = 1000
)

// NormalizeName trims a group name and checks it: 1 to [MaxNameLength]
// bytes after trimming, no control characters. Errors wrap
// [ErrInvalidName]. Package auth applies it to every group it writes; a
// page may call it to check a form before sending it.
func NormalizeName(s string) (string, error) {
	s = strings.TrimSpace(s)
	switch {
	case s == "":
		return "", fmt.Errorf("%w: empty", ErrInvalidName)
	case len(s) > MaxNameLength:
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidName, MaxNameLength)
	case strings.IndexFunc(s, unicode.IsControl) >= 0:
		return "", fmt.Errorf("%w: contains a control character", ErrInvalidName)
	}
	return s, nil
}

// NormalizeDescription trims a group description and checks it: at most
// [MaxDescriptionLength] bytes after trimming, no control characters but
// line feeds and tabs. Line ends a browser's textarea sends (CR LF) become
// line feeds; a lone carriage return is refused. An empty description is
// allowed. Errors wrap [ErrInvalidDescription].
func NormalizeDescription(s string) (string, error) {
	s = strings.TrimSpace(s)
	if len(s) > MaxDescriptionLength {
		return "", fmt.Errorf("%w: longer than %d bytes", ErrInvalidDescription, MaxDescriptionLength)
	}
	s = strings.ReplaceAll(s, "\r\n", "\n")
	if strings.ContainsFunc(s, func(r rune) bool { return unicode.IsControl(r) && r != '\n' && r != '\t' }) {
		return "", fmt.Errorf("%w: contains a control character other than a line feed or tab", ErrInvalidDescription)
	}
	return s, nil
}
