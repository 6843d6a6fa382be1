package group_test

import (
	"errors"
	"reflect"
	"slices"
	"testing"

	"github.com/usher-go/usher/group"
)

func hostCatalog(t *testing.T) *group.Catalog {
	t.Helper()
	c, err := group.NewCatalog(
		group.Entry{Permission: "backups:read", Label: "View backups", Category: "Backups"},
		group.Entry{Permission: "backups:run", Label: "Run a backup", Category: "Backups"},
	)
	if err != nil {
		t.Fatalf("NewCatalog: %v", err)
	}
	return c
}

func TestNewCatalogBuiltinOnly(t *testing.T) {
	t.Parallel()
	c, err := group.NewCatalog()
	if err != nil {
		t.Fatalf("NewCatalog() = %v", err)
	}
	if got := c.Entries(); !reflect.DeepEqual(got, group.BuiltinPermissions()) {
		t.Fatalf("Entries() = %v\nwant BuiltinPermissions %v", got, group.BuiltinPermissions())
	}
	if n := len(c.Entries()); n != 15 {
		t.Fatalf("len(Entries()) = %d, want the 15 builtin permissions", n)
	}
}

func TestNewCatalogMerges(t *testing.T) {
	t.Parallel()
	c, err := group.NewCatalog(
		group.Entry{Permission: "backups:run", Label: "Run a backup", Category: "Backups"},
		group.Entry{Permission: "backups:read", Category: "Backups"},
		group.Entry{Permission: "reports:view", Label: " \t "},
	)
	if err != nil {
		t.Fatalf("NewCatalog = %v", err)
	}
	want := append(group.BuiltinPermissions(),
		group.Entry{Permission: "backups:run", Label: "Run a backup", Category: "Backups"},
		group.Entry{Permission: "backups:read", Label: "backups:read", Category: "Backups"},
		group.Entry{Permission: "reports:view", Label: "reports:view"},
	)
	got := c.Entries()
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("Entries()\n got %v\nwant %v", got, want)
	}
	got[0].Label = "changed"
	got[0].Permission = "x:y"
	if again := c.Entries(); !reflect.DeepEqual(again, want) {
		t.Fatal("changing the result of Entries changed the catalog")
	}
	if c.Known("x:y") {
		t.Fatal(`Known("x:y") after changing the result of Entries`)
	}
}

func TestNewCatalogRefuses(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		host []group.Entry
	}{
		{"everything", []group.Entry{{Permission: "*"}}},
		{"resource wildcard", []group.Entry{{Permission: "backups:*"}}},
		{"builtin resource wildcard", []group.Entry{{Permission: group.ProfileAll}}},
		{"empty", []group.Entry{{Permission: ""}}},
		{"no colon", []group.Entry{{Permission: "backups"}}},
		{"upper case", []group.Entry{{Permission: "Backups:run"}}},
		{"space", []group.Entry{{Permission: "backups: run"}}},
		{"unicode", []group.Entry{{Permission: "bäckups:run"}}},
		{"duplicate of a builtin", []group.Entry{{Permission: group.UsersRead, Label: "mine"}}},
		{"duplicate host entry", []group.Entry{{Permission: "b:r"}, {Permission: "b:r"}}},
		{"valid then invalid", []group.Entry{{Permission: "b:r"}, {Permission: "b:*"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := group.NewCatalog(tt.host...)
			if !errors.Is(err, group.ErrInvalidPermission) {
				t.Fatalf("NewCatalog(%v) = %v, want an error wrapping ErrInvalidPermission", tt.host, err)
			}
			if c != nil {
				t.Fatalf("NewCatalog(%v) returned a catalog beside the error", tt.host)
			}
		})
	}
}

func TestCatalogKnown(t *testing.T) {
	t.Parallel()
	c := hostCatalog(t)
	tests := []struct {
		p    group.Permission
		want bool
	}{
		{"*", true},
		{group.UsersRead, true},
		{group.ProfileManageSSO, true},
		{"backups:run", true},
		{"backups:read", true},
		{"backups:*", true},
		{"users:*", true},
		{"profile:*", true},
		{"backups:delete", false},
		{"reports:view", false},
		{"reports:*", false},
		{"backups", false},
		{"BACKUPS:run", false},
		{"", false},
		{":*", false},
	}
	for _, tt := range tests {
		t.Run(string(tt.p), func(t *testing.T) {
			t.Parallel()
			if got := c.Known(tt.p); got != tt.want {
				t.Fatalf("Known(%q) = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestCatalogNormalize(t *testing.T) {
	t.Parallel()
	c := hostCatalog(t)
	tests := []struct {
		name    string
		in      []group.Permission
		want    []group.Permission
		wantErr error
	}{
		{name: "nil", in: nil, want: []group.Permission{}},
		{name: "one", in: []group.Permission{"backups:run"}, want: []group.Permission{"backups:run"}},
		{name: "sorted", in: []group.Permission{"users:write", "backups:run", "users:read"},
			want: []group.Permission{"backups:run", "users:read", "users:write"}},
		{name: "duplicates dropped", in: []group.Permission{"users:read", "backups:run", "users:read", "backups:run"},
			want: []group.Permission{"backups:run", "users:read"}},
		{name: "trimmed", in: []group.Permission{" users:read\t", "\nbackups:run "},
			want: []group.Permission{"backups:run", "users:read"}},
		{name: "trimmed duplicates dropped", in: []group.Permission{"users:read", " users:read "},
			want: []group.Permission{"users:read"}},
		{name: "everything", in: []group.Permission{"users:read", "*"}, want: []group.Permission{"*", "users:read"}},
		{name: "host resource wildcard", in: []group.Permission{"backups:*", "backups:run"},
			want: []group.Permission{"backups:*", "backups:run"}},
		{name: "builtin resource wildcard", in: []group.Permission{"profile:*"}, want: []group.Permission{"profile:*"}},

		{name: "unknown action", in: []group.Permission{"users:read", "backups:delete"}, wantErr: group.ErrUnknownPermission},
		{name: "unknown resource", in: []group.Permission{"reports:view"}, wantErr: group.ErrUnknownPermission},
		{name: "wildcard of unknown resource", in: []group.Permission{"reports:*"}, wantErr: group.ErrUnknownPermission},
		{name: "invalid upper case", in: []group.Permission{"Users:read"}, wantErr: group.ErrInvalidPermission},
		{name: "invalid wildcard resource", in: []group.Permission{"*:*"}, wantErr: group.ErrInvalidPermission},
		{name: "empty after trim", in: []group.Permission{"users:read", "  "}, wantErr: group.ErrInvalidPermission},
		{name: "inner space", in: []group.Permission{"users: read"}, wantErr: group.ErrInvalidPermission},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			in := slices.Clone(tt.in)
			got, err := c.Normalize(in)
			if !slices.Equal(in, tt.in) {
				t.Errorf("Normalize changed its input to %q", in)
			}
			if tt.wantErr != nil {
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Normalize(%q) = %q, %v; want an error wrapping %v", tt.in, got, err, tt.wantErr)
				}
				other := group.ErrInvalidPermission
				if tt.wantErr == other {
					other = group.ErrUnknownPermission
				}
				if errors.Is(err, other) {
					t.Fatalf("Normalize(%q) = %v, which also wraps %v", tt.in, err, other)
				}
				if got != nil {
					t.Fatalf("Normalize(%q) returned %q beside the error", tt.in, got)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%q) = %v", tt.in, err)
			}
			if got == nil || !slices.Equal(got, tt.want) {
				t.Fatalf("Normalize(%q) = %#v, want %#v", tt.in, got, tt.want)
			}
		})
	}
}

// Package-level values cannot be changed from outside: what
// BuiltinPermissions returns is a copy, and a catalog does not share the
// host's slice.
func TestBuiltinPermissionsIsACopy(t *testing.T) {
	t.Parallel()
	want := group.BuiltinPermissions()
	got := group.BuiltinPermissions()
	got[0] = group.Entry{Permission: "x:y", Label: "changed"}
	_ = append(got[:1], group.Entry{Permission: "z:z"})
	if again := group.BuiltinPermissions(); !reflect.DeepEqual(again, want) {
		t.Fatalf("changing the result of BuiltinPermissions changed it:\n got %v\nwant %v", again, want)
	}
	host := []group.Entry{{Permission: "backups:run", Label: "Run a backup"}}
	c, err := group.NewCatalog(host...)
	if err != nil {
		t.Fatal(err)
	}
	host[0] = group.Entry{Permission: "rockets:launch"}
	entries := c.Entries()
	if !reflect.DeepEqual(entries[:len(want)], want) {
		t.Fatalf("catalog's builtin part = %v, want %v", entries[:len(want)], want)
	}
	if !c.Known("backups:run") || c.Known("rockets:launch") || c.Known("x:y") || c.Known("z:z") {
		t.Fatal("a catalog changed with a slice its caller kept")
	}
}
