package storetest

import (
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

var seedTests = []test{
	{"BuiltinGroups", testSeedGroups},
	{"Empty", testSeedEmpty},
}

// A fresh store holds the two built-in groups, and nothing else.
func testSeedGroups(t *testing.T, s auth.Store) {
	want := []struct {
		id    group.ID
		name  string
		perms []group.Permission
	}{
		{group.AdminID, "Admins", []group.Permission{group.All}},
		{group.UsersID, "Users", []group.Permission{group.ProfileAll}},
	}
	for _, w := range want {
		g, err := s.Groups().Get(ctx(t), w.id)
		if err != nil {
			t.Errorf("Groups().Get(%q): %v", w.id, err)
			continue
		}
		if g.ID != w.id || g.Name != w.name {
			t.Errorf("Groups().Get(%q) = {ID:%q Name:%q}, want {ID:%q Name:%q}", w.id, g.ID, g.Name, w.id, w.name)
		}
		checkPerms(t, "built-in group "+string(w.id), g.Permissions, w.perms)
	}
	list, err := s.Groups().List(ctx(t))
	must(t, "Groups().List", err)
	var ids []group.ID
	for _, g := range list {
		ids = append(ids, g.ID)
	}
	if len(ids) != 2 || ids[0] != group.AdminID || ids[1] != group.UsersID {
		t.Errorf("Groups().List of a fresh store = %q, want [admin users]", ids)
	}
}

func testSeedEmpty(t *testing.T, s auth.Store) {
	n, err := s.Users().Count(ctx(t))
	must(t, "Users().Count", err)
	if n != 0 {
		t.Errorf("Users().Count of a fresh store = %d, want 0", n)
	}
	for _, id := range []group.ID{group.AdminID, group.UsersID} {
		n, err := s.Users().CountInGroup(ctx(t), string(id), false)
		must(t, "Users().CountInGroup", err)
		if n != 0 {
			t.Errorf("Users().CountInGroup(%q) of a fresh store = %d, want 0", id, n)
		}
	}
}
