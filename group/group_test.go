package group_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/group"
)

func TestGroupBuiltin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		id   group.ID
		want bool
	}{
		{group.AdminID, true},
		{group.UsersID, true},
		{"operators", false},
		{"", false},
	} {
		g := &group.Group{ID: tt.id}
		if got := g.Builtin(); got != tt.want {
			t.Errorf("Group{ID: %q}.Builtin() = %v, want %v", tt.id, got, tt.want)
		}
	}
}

func TestNormalizeName(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"plain", "Operators", "Operators", true},
		{"trimmed", "  Ops \n", "Ops", true},
		{"unicode", "Opérateurs", "Opérateurs", true},
		{"at the limit", strings.Repeat("a", group.MaxNameLength), strings.Repeat("a", group.MaxNameLength), true},
		{"limit after trimming", " " + strings.Repeat("a", group.MaxNameLength) + " ", strings.Repeat("a", group.MaxNameLength), true},
		{"empty", "", "", false},
		{"spaces only", " \t ", "", false},
		{"over the limit", strings.Repeat("a", group.MaxNameLength+1), "", false},
		{"newline inside", "Op\ns", "", false},
		{"escape", "Op\x1b[31ms", "", false},
		{"NUL", "Ops\x00", "", false},
		{"invalid UTF-8", "Ops\xff", "", false},
		{"truncated rune", "Op\xc3", "", false},
		{"bidi override", "Ops\u202enimda", "", false},
		{"bidi isolate", "Ops\u2066x\u2069", "", false},
		{"zero-width joiner", "Ops \U0001F469\u200d\U0001F4BB", "Ops \U0001F469\u200d\U0001F4BB", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := group.NormalizeName(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeName(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, group.ErrInvalidName) || errors.Is(err, group.ErrInvalidDescription) {
				t.Fatalf("NormalizeName(%q) = %q, %v; want ErrInvalidName", tt.in, got, err)
			}
		})
	}
}

func TestNormalizeDescription(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("d", group.MaxDescriptionLength)
	tests := []struct {
		name, in, want string
		ok             bool
	}{
		{"empty", "", "", true},
		{"plain", "Runs the backups.", "Runs the backups.", true},
		{"trimmed", "  x  ", "x", true},
		{"lines and tabs", "one\ntwo\tthree", "one\ntwo\tthree", true},
		{"textarea line ends", "one\r\ntwo\r\n\r\nthree", "one\ntwo\n\nthree", true},
		{"lone carriage return", "one\rtwo", "", false},
		{"at the limit", long, long, true},
		{"over the limit", long + "d", "", false},
		{"escape", "a\x1bb", "", false},
		{"NUL", "a\x00b", "", false},
		{"invalid UTF-8", "a\xffb", "", false},
		{"bidi override", "a\u202eb", "", false},
		{"bidi isolate", "a\u2067b\u2069", "", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := group.NormalizeDescription(tt.in)
			if tt.ok {
				if err != nil || got != tt.want {
					t.Fatalf("NormalizeDescription(%q) = %q, %v; want %q", tt.in, got, err, tt.want)
				}
				return
			}
			if !errors.Is(err, group.ErrInvalidDescription) || errors.Is(err, group.ErrInvalidName) {
				t.Fatalf("NormalizeDescription(%q) = %q, %v; want ErrInvalidDescription only", tt.in, got, err)
			}
		})
	}
}

func TestErrTwoFactorWithoutEnrollment(t *testing.T) {
	t.Parallel()
	// Distinct, and still an ErrInvalidPermission for older checks.
	if !errors.Is(group.ErrTwoFactorWithoutEnrollment, group.ErrInvalidPermission) {
		t.Fatal("ErrTwoFactorWithoutEnrollment does not match ErrInvalidPermission")
	}
	if errors.Is(group.ErrInvalidPermission, group.ErrTwoFactorWithoutEnrollment) {
		t.Fatal("ErrInvalidPermission matches ErrTwoFactorWithoutEnrollment")
	}
}
