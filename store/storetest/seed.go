package storetest

import (
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// The Seed tests get the store as the factory made it: the built-in groups
// come from auth.New, as they do for a host.
var seedTests = []test{
	{"BuiltinGroups", testSeedGroups},
	{"Empty", testSeedEmpty},
	{"NewIsIdempotent", testSeedIdempotent},
	{"ConcurrentNew", testSeedConcurrent},
	{"KeepsExisting", testSeedKeepsExisting},
}

// checkBuiltinGroups fails unless s holds the two built-in groups as auth.New
// makes them, and no other group.
func checkBuiltinGroups(t *testing.T, s auth.Store) {
	t.Helper()
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
		if g.CreatedAt.IsZero() {
			t.Errorf("built-in group %s: CreatedAt is zero", w.id)
		}
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

// A fresh store, once auth.New has run on it, holds the two built-in
// groups, and nothing else.
func testSeedGroups(t *testing.T, s auth.Store) {
	newManager(t, s)
	checkBuiltinGroups(t, s)
}

func testSeedEmpty(t *testing.T, s auth.Store) {
	newManager(t, s)
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

// Another Manager on the same store creates nothing more and leaves the
// built-in groups as they are, renamed ones included.
func testSeedIdempotent(t *testing.T, s auth.Store) {
	newManager(t, s)
	users, err := s.Groups().Get(ctx(t), group.UsersID)
	must(t, "Groups().Get(users)", err)
	users.Name, users.UpdatedAt = "Members", at(time.Hour)
	must(t, "Groups().Update(users)", s.Groups().Update(ctx(t), users))
	admins, err := s.Groups().Get(ctx(t), group.AdminID)
	must(t, "Groups().Get(admin)", err)
	for range 3 {
		newManager(t, s)
	}
	for _, want := range []*group.Group{admins, users} {
		got, err := s.Groups().Get(ctx(t), want.ID)
		must(t, "Groups().Get", err)
		checkGroup(t, "built-in group after auth.New again", got, want)
	}
	list, err := s.Groups().List(ctx(t))
	must(t, "Groups().List", err)
	if len(list) != 2 {
		t.Errorf("Groups().List after auth.New again: %d groups, want 2", len(list))
	}
}

// Instances starting together on a fresh store: every auth.New succeeds and
// the built-in groups are made once.
func testSeedConcurrent(t *testing.T, s auth.Store) {
	const n = 8
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = auth.New(auth.Config{Store: s, SecretKey: managerKey, BcryptCost: 4,
				InsecureLowBcryptCostForTests: true})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("auth.New #%d of %d at once: %v", i, n, err)
		}
	}
	checkBuiltinGroups(t, s)
}

// A store that already holds the built-in groups, say from an older
// schema that created them, keeps them as they are.
func testSeedKeepsExisting(t *testing.T, s auth.Store) {
	var existing []*group.Group
	for _, g := range []*group.Group{
		{ID: group.AdminID, Name: "Admins", Description: "made by an older schema",
			Permissions: []group.Permission{group.All}, CreatedAt: base, UpdatedAt: base},
		{ID: group.UsersID, Name: "Users", Description: "made by an older schema",
			Permissions: []group.Permission{group.ProfileAll}, CreatedAt: base, UpdatedAt: base},
	} {
		if _, err := s.Groups().Get(ctx(t), g.ID); err == nil {
			t.Skipf("the store's schema creates group %q itself", g.ID)
		}
		must(t, "Groups().Create", s.Groups().Create(ctx(t), g))
		existing = append(existing, g)
	}
	newManager(t, s)
	for _, want := range existing {
		got, err := s.Groups().Get(ctx(t), want.ID)
		must(t, "Groups().Get", err)
		checkGroup(t, "existing built-in group after auth.New", got, want)
	}
	checkBuiltinGroups(t, s)
}
