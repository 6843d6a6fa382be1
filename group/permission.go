package group

import (
	"fmt"
	"slices"
	"strings"
)

// Permission is "resource:action", "resource:*" or "*".
type Permission string

// All is the permission that grants everything.
const All Permission = "*"

// maxPermissionLength bounds a permission, in bytes.
const maxPermissionLength = 128

// Validate checks the syntax of p. Errors wrap [ErrInvalidPermission].
func (p Permission) Validate() error {
	if p == All {
		return nil
	}
	s := string(p)
	if len(s) > maxPermissionLength {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidPermission, maxPermissionLength)
	}
	res, act, ok := strings.Cut(s, ":")
	if !ok || !validPart(res) || (act != "*" && !validPart(act)) {
		return fmt.Errorf("%w: %q is not resource:action", ErrInvalidPermission, s)
	}
	return nil
}

func validPart(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !('a' <= c && c <= 'z' || '0' <= c && c <= '9' || c == '_' || c == '-' || c == '.') {
			return false
		}
	}
	return true
}

// Resource returns the part before the colon ("" for "*").
func (p Permission) Resource() string {
	res, _, _ := strings.Cut(string(p), ":")
	if p == All {
		return ""
	}
	return res
}

// Wildcard reports whether p is "*" or "resource:*".
func (p Permission) Wildcard() bool {
	return p == All || strings.HasSuffix(string(p), ":*")
}

// Set is a compiled, read-only set of granted permissions. Its zero value
// grants nothing. Has does not allocate.
type Set struct {
	all       bool
	exact     map[Permission]struct{}
	resources map[string]struct{} // granted "resource:*"
	list      []Permission
}

// NewSet compiles granted permissions. Invalid entries grant nothing.
func NewSet(granted []Permission) *Set {
	s := &Set{list: slices.Clone(granted)}
	for _, p := range granted {
		switch {
		case p == All:
			s.all = true
		case p.Validate() != nil:
		case strings.HasSuffix(string(p), ":*"):
			if s.resources == nil {
				s.resources = make(map[string]struct{})
			}
			s.resources[p.Resource()] = struct{}{}
		default:
			if s.exact == nil {
				s.exact = make(map[Permission]struct{})
			}
			s.exact[p] = struct{}{}
		}
	}
	return s
}

// Has reports whether the set grants want. want may itself be a wildcard:
// "r:*" is granted only by "*" or "r:*", and "*" only by "*". That is the
// rule that stops a group editor from handing out more than it holds.
func (s *Set) Has(want Permission) bool {
	if s == nil {
		return false
	}
	if s.all {
		return true
	}
	if want == All {
		return false
	}
	i := strings.IndexByte(string(want), ':')
	if i < 0 {
		return false
	}
	if _, ok := s.resources[string(want[:i])]; ok {
		return true
	}
	if want[i+1:] == "*" {
		return false
	}
	_, ok := s.exact[want]
	return ok
}

// Covers reports whether the set grants every permission in want, and if
// not, the first it lacks.
func (s *Set) Covers(want []Permission) (Permission, bool) {
	for _, p := range want {
		if !s.Has(p) {
			return p, false
		}
	}
	return "", true
}

// Permissions returns the granted permissions as compiled.
func (s *Set) Permissions() []Permission {
	if s == nil {
		return nil
	}
	return slices.Clone(s.list)
}
