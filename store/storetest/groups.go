package storetest

import (
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

var groupTests = []test{
	{"RoundTrip", testGroupRoundTrip},
	{"List", testGroupList},
	{"Update", testGroupUpdate},
	{"Stale", testGroupStale},
	{"NameTaken", testGroupNameTaken},
	{"NameTakenBeyondASCII", testGroupNameTakenBeyondASCII},
	{"Delete", testGroupDelete},
	{"InUse", testGroupInUse},
	{"NotFound", testGroupNotFound},
}

func testGroupRoundTrip(t *testing.T, s auth.Store) {
	// Not sorted: the store keeps the order it was given.
	g := newGroup("Editors", "users:read", "audit:read", "profile:*", "backups:run")
	g.RequireTwoFactor = true
	must(t, "Groups().Create", s.Groups().Create(ctx(t), g))
	got, err := s.Groups().Get(ctx(t), g.ID)
	must(t, "Groups().Get", err)
	checkGroup(t, "Groups().Get", got, g)

	empty := newGroup("Nobodies")
	empty.Description = ""
	must(t, "Groups().Create without permissions", s.Groups().Create(ctx(t), empty))
	got, err = s.Groups().Get(ctx(t), empty.ID)
	must(t, "Groups().Get", err)
	checkGroup(t, "Groups().Get of a group without permissions", got, empty)
}

func testGroupList(t *testing.T, s auth.Store) {
	// Created out of order; List orders by name.
	v := createGroup(t, s, "Viewers", "users:read")
	e := createGroup(t, s, "Editors", "users:read", "users:write")
	a := createGroup(t, s, "Auditors", "audit:read")
	list, err := s.Groups().List(ctx(t))
	must(t, "Groups().List", err)
	want := []group.ID{group.AdminID, a.ID, e.ID, group.UsersID, v.ID} // Admins, Auditors, Editors, Users, Viewers
	var got []group.ID
	for _, g := range list {
		got = append(got, g.ID)
	}
	if len(got) != len(want) {
		t.Fatalf("Groups().List = %d groups, want %d", len(got), len(want))
	}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("Groups().List order = %q, want %q (by name)", got, want)
		}
	}
	checkGroup(t, "Groups().List entry", &list[2], e)
}

func testGroupUpdate(t *testing.T, s auth.Store) {
	g := createGroup(t, s, "Editors", "users:read")
	upd := *g
	upd.Name = "Writers"
	upd.Description = "they write"
	upd.Permissions = []group.Permission{"users:write", "groups:read", "users:read"}
	upd.RequireTwoFactor = true
	upd.UpdatedAt = at(time.Hour)
	upd.CreatedAt = at(50 * time.Hour) // not written by Update
	must(t, "Groups().Update", s.Groups().Update(ctx(t), &upd))
	want := upd
	want.CreatedAt = g.CreatedAt
	got, err := s.Groups().Get(ctx(t), g.ID)
	must(t, "Groups().Get", err)
	checkGroup(t, "Groups().Get after Update", got, &want)

	// Permissions can be emptied, and the name recased: a group does not
	// clash with itself.
	want.Permissions = nil
	want.Name = "WRITERS"
	must(t, "Groups().Update", s.Groups().Update(ctx(t), &want))
	got, err = s.Groups().Get(ctx(t), g.ID)
	must(t, "Groups().Get", err)
	checkGroup(t, "Groups().Get after recasing and emptying", got, &want)
}

func testGroupNameTaken(t *testing.T, s auth.Store) {
	e := createGroup(t, s, "Editors")
	for _, name := range []string{"Editors", "EDITORS", "editors", "admins", "USERS"} {
		g := newGroup(name)
		checkErr(t, "Groups().Create("+name+")", s.Groups().Create(ctx(t), g), group.ErrNameTaken)
		_, err := s.Groups().Get(ctx(t), g.ID)
		checkErr(t, "Groups().Get of a refused group", err, group.ErrNotFound)
	}
	v := createGroup(t, s, "Viewers", "users:read")
	for _, name := range []string{"Editors", "eDiToRs", "Admins", "users"} {
		upd := *v
		upd.Name = name
		upd.Permissions = []group.Permission{"groups:write"}
		checkErr(t, "Groups().Update(name "+name+")", s.Groups().Update(ctx(t), &upd), group.ErrNameTaken)
	}
	got, err := s.Groups().Get(ctx(t), v.ID)
	must(t, "Groups().Get", err)
	checkGroup(t, "group after refused renames", got, v)
	got, err = s.Groups().Get(ctx(t), e.ID)
	must(t, "Groups().Get", err)
	checkGroup(t, "the name's owner", got, e)
}

func testGroupDelete(t *testing.T, s auth.Store) {
	g := createGroup(t, s, "Temps", "users:read")
	other := createGroup(t, s, "Others")
	must(t, "Groups().Delete", s.Groups().Delete(ctx(t), g.ID))
	_, err := s.Groups().Get(ctx(t), g.ID)
	checkErr(t, "Groups().Get after Delete", err, group.ErrNotFound)
	checkErr(t, "Groups().Delete again", s.Groups().Delete(ctx(t), g.ID), group.ErrNotFound)
	_, err = s.Groups().Get(ctx(t), other.ID)
	must(t, "Groups().Get of another group", err)
	list, err := s.Groups().List(ctx(t))
	must(t, "Groups().List", err)
	if len(list) != 3 {
		t.Errorf("Groups().List after Delete = %d groups, want 3", len(list))
	}
	// The name is free again.
	createGroup(t, s, "Temps")
}

func testGroupInUse(t *testing.T, s auth.Store) {
	g := createGroup(t, s, "Staff", "users:read")
	u := createUser(t, s, g.ID)
	checkErr(t, "Groups().Delete of a group with a member", s.Groups().Delete(ctx(t), g.ID), group.ErrInUse)
	got, err := s.Groups().Get(ctx(t), g.ID)
	must(t, "Groups().Get after refused Delete", err)
	checkGroup(t, "group after refused Delete", got, g)
	gotU, err := s.Users().Get(ctx(t), u.ID)
	must(t, "Users().Get of the member", err)
	checkUser(t, "member after refused Delete", gotU, u)

	// A disabled member still counts.
	moved := *u
	moved.GroupID = string(group.UsersID)
	must(t, "Users().Update", s.Users().Update(ctx(t), &moved))
	d := newUser(g.ID)
	d.Disabled = true
	mustCreateUser(t, s, d, "")
	checkErr(t, "Groups().Delete of a group with a disabled member", s.Groups().Delete(ctx(t), g.ID), group.ErrInUse)

	must(t, "Users().Delete", s.Users().Delete(ctx(t), d.ID))
	must(t, "Groups().Delete of an emptied group", s.Groups().Delete(ctx(t), g.ID))
	_, err = s.Groups().Get(ctx(t), g.ID)
	checkErr(t, "Groups().Get after Delete", err, group.ErrNotFound)
	_, err = s.Users().Get(ctx(t), user.ID(moved.ID))
	must(t, "Users().Get of the moved member", err)
}

func testGroupNotFound(t *testing.T, s auth.Store) {
	ghost := newGroup("Ghosts")
	_, err := s.Groups().Get(ctx(t), ghost.ID)
	checkErr(t, "Groups().Get(unknown)", err, group.ErrNotFound)
	checkErr(t, "Groups().Update(unknown)", s.Groups().Update(ctx(t), ghost), group.ErrNotFound)
	checkErr(t, "Groups().Delete(unknown)", s.Groups().Delete(ctx(t), ghost.ID), group.ErrNotFound)
	_, err = s.Groups().Get(ctx(t), ghost.ID)
	checkErr(t, "Groups().Get after Update(unknown)", err, group.ErrNotFound)
}

// Case-insensitive uniqueness holds beyond ASCII, whatever the database's
// own collation or lower() does: "Équipe" and "ÉQUIPE" are one name.
func testGroupNameTakenBeyondASCII(t *testing.T, s auth.Store) {
	createGroup(t, s, "Équipe Ünïcode")
	for _, name := range []string{"ÉQUIPE ÜNÏCODE", "équipe ünïcode"} {
		g := newGroup(name)
		checkErr(t, "Groups().Create("+name+")", s.Groups().Create(ctx(t), g), group.ErrNameTaken)
	}
	// A different name that differs only beyond ASCII is not taken.
	createGroup(t, s, "Equipe Unicode")
}

// Update is conditional on the Version the caller read: admin B saving a
// form read before admin A's save is refused with group.ErrStale and
// re-grants nothing (DESIGN invariant 10).
func testGroupStale(t *testing.T, s auth.Store) {
	g := createGroup(t, s, "Operators", "backups:run", "users:read")
	if g.Version != 1 {
		t.Errorf("Version after Create = %d, want 1", g.Version)
	}
	read, err := s.Groups().Get(ctx(t), g.ID)
	must(t, "Groups().Get", err)
	if read.Version != 1 {
		t.Errorf("Groups().Get: Version = %d, want 1", read.Version)
	}
	a, b := *read, *read
	a.Permissions = []group.Permission{"users:read"} // A revokes backups:run
	must(t, "Groups().Update", s.Groups().Update(ctx(t), &a))
	if a.Version != 2 {
		t.Errorf("Version after Update = %d, want 2", a.Version)
	}
	b.Description = "B's older form"
	checkErr(t, "Groups().Update from a stale read", s.Groups().Update(ctx(t), &b), group.ErrStale)
	got, err := s.Groups().Get(ctx(t), g.ID)
	must(t, "Groups().Get", err)
	checkGroup(t, "group after a stale Update", got, &a)
	if got.Version != 2 {
		t.Errorf("Version after a stale Update = %d, want 2", got.Version)
	}
	list, err := s.Groups().List(ctx(t))
	must(t, "Groups().List", err)
	for _, l := range list {
		if l.ID == g.ID && l.Version != 2 {
			t.Errorf("Groups().List: Version = %d, want 2", l.Version)
		}
	}
	ghost := newGroup("Ghosts")
	ghost.Version = 1
	checkErr(t, "Groups().Update(unknown)", s.Groups().Update(ctx(t), ghost), group.ErrNotFound)
}
