package group_test

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/usher-go/usher/group"
)

func TestPermissionValidate(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		p     group.Permission
		valid bool
	}{
		{"resource and action", "a:b", true},
		{"host permission", "backups:run", true},
		{"every allowed character", "x.y-z_1:do", true},
		{"digits only", "0:9", true},
		{"everything", "*", true},
		{"every action of a resource", "r:*", true},
		{"builtin", group.ProfileUpdateEmail, true},
		{"128 bytes", group.Permission(strings.Repeat("r", 64) + ":" + strings.Repeat("a", 63)), true},
		{"128 bytes with wildcard", group.Permission(strings.Repeat("r", 126) + ":*"), true},

		{"empty", "", false},
		{"colon only", ":", false},
		{"no action", "a:", false},
		{"no resource", ":b", false},
		{"no colon", "ab", false},
		{"two colons", "a:b:c", false},
		{"upper-case resource", "A:b", false},
		{"upper-case action", "a:B", false},
		{"space in resource", "a b:c", false},
		{"space around", " a:b", false},
		{"trailing space", "a:b ", false},
		{"wildcard resource", "*:*", false},
		{"wildcard resource with action", "*:b", false},
		{"double star", "a:**", false},
		{"star inside action", "a:b*", false},
		{"star prefix of action", "a:*b", false},
		{"129 bytes", group.Permission(strings.Repeat("r", 64) + ":" + strings.Repeat("a", 64)), false},
		{"129 bytes with wildcard", group.Permission(strings.Repeat("r", 127) + ":*"), false},
		{"10 KB", group.Permission("r:" + strings.Repeat("a", 10<<10)), false},
		{"unicode letter", "bäckups:run", false},
		{"unicode look-alike colon", "a\uff1ab", false},
		{"NUL", "a:b\x00", false},
		{"slash", "a/b:c", false},
		{"invalid UTF-8", "a:\xff", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			err := tt.p.Validate()
			if tt.valid {
				if err != nil {
					t.Fatalf("Validate(%q) = %v, want nil", tt.p, err)
				}
				return
			}
			if !errors.Is(err, group.ErrInvalidPermission) {
				t.Fatalf("Validate(%q) = %v, want an error wrapping ErrInvalidPermission", tt.p, err)
			}
		})
	}
}

func TestPermissionParts(t *testing.T) {
	t.Parallel()
	tests := []struct {
		p        group.Permission
		resource string
		wildcard bool
	}{
		{"*", "", true},
		{"r:*", "r", true},
		{"r:read", "r", false},
		{"backups:run", "backups", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.p), func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Resource(); got != tt.resource {
				t.Errorf("Permission(%q).Resource() = %q, want %q", tt.p, got, tt.resource)
			}
			if got := tt.p.Wildcard(); got != tt.wildcard {
				t.Errorf("Permission(%q).Wildcard() = %v, want %v", tt.p, got, tt.wildcard)
			}
		})
	}
}

func TestSetHas(t *testing.T) {
	t.Parallel()
	sets := map[string]*group.Set{
		"nil":         nil,
		"zero":        {},
		"empty":       group.NewSet(nil),
		"all":         group.NewSet([]group.Permission{"*"}),
		"r:*":         group.NewSet([]group.Permission{"r:*"}),
		"r:read":      group.NewSet([]group.Permission{"r:read"}),
		"r:*,s:read":  group.NewSet([]group.Permission{"r:*", "s:read"}),
		"invalid":     group.NewSet([]group.Permission{"", ":", "r:", ":read", "R:read", "r :read", "r:read ", "*:*", "r:**", "r:read:x", "rä:read"}),
		"invalid+all": group.NewSet([]group.Permission{"*:*", "*"}),
	}
	tests := []struct {
		set  string
		want group.Permission
		has  bool
	}{
		{"nil", "r:read", false},
		{"nil", "*", false},
		{"nil", "r:*", false},
		{"zero", "r:read", false},
		{"zero", "*", false},
		{"zero", "r:*", false},
		{"empty", "r:read", false},
		{"empty", "*", false},

		{"all", "*", true},
		{"all", "r:*", true},
		{"all", "r:read", true},
		{"all", "s:anything", true},
		{"all", group.UsersWrite, true},

		{"r:*", "r:read", true},
		{"r:*", "r:anything", true},
		{"r:*", "r:*", true},
		{"r:*", "*", false},
		{"r:*", "s:x", false},
		{"r:*", "s:*", false},
		{"r:*", "rr:read", false},
		{"r:*", "R:read", false},
		{"r:*", "r", false},
		{"r:*", "", false},

		{"r:read", "r:read", true},
		{"r:read", "r:*", false},
		{"r:read", "*", false},
		{"r:read", "r:write", false},
		{"r:read", "r:rea", false},
		{"r:read", "r:read ", false},
		{"r:read", "R:READ", false},
		{"r:read", "s:read", false},

		{"r:*,s:read", "r:x", true},
		{"r:*,s:read", "s:read", true},
		{"r:*,s:read", "s:write", false},
		{"r:*,s:read", "s:*", false},
		{"r:*,s:read", "*", false},

		{"invalid", "r:read", false},
		{"invalid", "R:read", false},
		{"invalid", "r:*", false},
		{"invalid", "*", false},
		{"invalid", "r:read:x", false},
		{"invalid", "", false},
		{"invalid", ":", false},

		{"invalid+all", "*", true},
		{"invalid+all", "r:read", true},
	}
	for _, tt := range tests {
		t.Run(tt.set+"/"+string(tt.want), func(t *testing.T) {
			t.Parallel()
			s, ok := sets[tt.set]
			if !ok {
				t.Fatalf("no set %q", tt.set)
			}
			if got := s.Has(tt.want); got != tt.has {
				t.Fatalf("set %s: Has(%q) = %v, want %v", tt.set, tt.want, got, tt.has)
			}
		})
	}
}

func TestSetCovers(t *testing.T) {
	t.Parallel()
	s := group.NewSet([]group.Permission{"r:*", "s:read"})
	tests := []struct {
		name        string
		set         *group.Set
		want        []group.Permission
		wantMissing group.Permission
		wantOK      bool
	}{
		{"nothing wanted", s, nil, "", true},
		{"nothing wanted of a nil set", nil, nil, "", true},
		{"all held", s, []group.Permission{"r:x", "s:read", "r:*"}, "", true},
		{"first missing", s, []group.Permission{"r:x", "s:write", "t:y"}, "s:write", false},
		{"wildcard missing", s, []group.Permission{"s:read", "s:*"}, "s:*", false},
		{"everything missing", s, []group.Permission{"*"}, "*", false},
		{"nil set", nil, []group.Permission{"a:b"}, "a:b", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			missing, ok := tt.set.Covers(tt.want)
			if missing != tt.wantMissing || ok != tt.wantOK {
				t.Fatalf("Covers(%q) = %q, %v; want %q, %v", tt.want, missing, ok, tt.wantMissing, tt.wantOK)
			}
		})
	}
}

func TestSetPermissions(t *testing.T) {
	t.Parallel()
	in := []group.Permission{"r:*", "s:read", "bad perm"}
	s := group.NewSet(in)
	in[0] = "*" // the set must not share the caller's slice
	if s.Has("t:x") {
		t.Fatal("changing the input slice after NewSet changed the set")
	}
	got := s.Permissions()
	if want := []group.Permission{"r:*", "s:read", "bad perm"}; !slices.Equal(got, want) {
		t.Fatalf("Permissions() = %q, want %q", got, want)
	}
	got[0] = "*"
	if again := s.Permissions(); again[0] != "r:*" {
		t.Fatalf("changing the result of Permissions changed the set: %q", again)
	}
	var nilSet *group.Set
	if got := nilSet.Permissions(); got != nil {
		t.Fatalf("nil Set: Permissions() = %q, want nil", got)
	}
}

// TestSetHasDoesNotAllocate guards the promise behind Principal.Can. It is
// not parallel: AllocsPerRun measures the whole process.
func TestSetHasDoesNotAllocate(t *testing.T) {
	s := group.NewSet([]group.Permission{"profile:*", "backups:read", "users:read"})
	all := group.NewSet([]group.Permission{"*"})
	wants := []group.Permission{group.ProfileUpdateEmail, "backups:read", "backups:run", "backups:*", "*", "nocolon"}
	allocs := testing.AllocsPerRun(100, func() {
		for _, w := range wants {
			_ = s.Has(w)
			_ = all.Has(w)
		}
	})
	if allocs != 0 {
		t.Fatalf("Set.Has allocates %v times per run of %d calls, want 0", allocs, 2*len(wants))
	}
}
