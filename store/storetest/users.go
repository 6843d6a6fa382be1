package storetest

import (
	"bytes"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

var userTests = []test{
	{"RoundTrip", testUserRoundTrip},
	{"Update", testUserUpdate},
	{"Stale", testUserStale},
	{"NotFound", testUserNotFound},
	{"EmailTakenOnCreate", testUserEmailTakenCreate},
	{"EmailTakenOnUpdate", testUserEmailTakenUpdate},
	{"UnknownGroup", testUserUnknownGroup},
	{"PasswordHash", testUserPasswordHash},
	{"WithHash", testUserWithHash},
	{"LastLogin", testUserLastLogin},
	{"MustChangePassword", testUserMustChangePassword},
	{"Count", testUserCount},
	{"CountInGroup", testUserCountInGroup},
	{"CountPasswordHashes", testUserCountPasswordHashes},
	{"PasswordHashes", testUserPasswordHashes},
	{"ReplacePasswordHash", testUserReplacePasswordHash},
	{"Avatar", testUserAvatar},
	{"Delete", testUserDelete},
}

func testUserRoundTrip(t *testing.T, s auth.Store) {
	u := newUser(group.UsersID)
	u.Name = "Zoë Ångström"
	u.Disabled = true
	u.CreatedAt = at(-48 * time.Hour)
	u.UpdatedAt = at(-time.Hour)
	u.LastLoginAt = at(-time.Minute)
	mustCreateUser(t, s, u, "")

	got, err := s.Users().Get(ctx(t), u.ID)
	must(t, "Users().Get", err)
	checkUser(t, "Users().Get", got, u)

	got, err = s.Users().GetByEmail(ctx(t), u.Email)
	must(t, "Users().GetByEmail", err)
	checkUser(t, "Users().GetByEmail", got, u)

	// A user who never logged in keeps a zero LastLoginAt.
	fresh := createUser(t, s, group.AdminID)
	got, err = s.Users().Get(ctx(t), fresh.ID)
	must(t, "Users().Get", err)
	checkUser(t, "Users().Get of a user who never logged in", got, fresh)
}

func testUserUpdate(t *testing.T, s auth.Store) {
	staff := createGroup(t, s, "Staff")
	u := createUser(t, s, group.UsersID)

	upd := *u
	upd.Email = "renamed@example.com"
	upd.Name = "Renamed"
	upd.GroupID = string(staff.ID)
	upd.Disabled = true
	upd.UpdatedAt = at(time.Hour)
	// Update writes only Email, Name, GroupID, Disabled and UpdatedAt.
	upd.CreatedAt = at(99 * time.Hour)
	upd.LastLoginAt = at(98 * time.Hour)
	must(t, "Users().Update", s.Users().Update(ctx(t), &upd))

	want := *u
	want.Email, want.Name, want.GroupID, want.Disabled, want.UpdatedAt =
		upd.Email, upd.Name, upd.GroupID, upd.Disabled, upd.UpdatedAt
	got, err := s.Users().Get(ctx(t), u.ID)
	must(t, "Users().Get", err)
	checkUser(t, "Users().Get after Update", got, &want)

	got, err = s.Users().GetByEmail(ctx(t), "renamed@example.com")
	must(t, "Users().GetByEmail(new email)", err)
	checkUser(t, "Users().GetByEmail(new email)", got, &want)
	_, err = s.Users().GetByEmail(ctx(t), u.Email)
	checkErr(t, "Users().GetByEmail(old email) after Update", err, user.ErrNotFound)

	// Back again, enabled, keeping its own email: not a conflict with itself.
	want.Disabled = false
	want.GroupID = string(group.UsersID)
	want.UpdatedAt = at(2 * time.Hour)
	want.Version = upd.Version // the version the first Update left
	must(t, "Users().Update keeping the email", s.Users().Update(ctx(t), &want))
	got, err = s.Users().Get(ctx(t), u.ID)
	must(t, "Users().Get", err)
	checkUser(t, "Users().Get after second Update", got, &want)
}

func testUserNotFound(t *testing.T, s auth.Store) {
	createUser(t, s, group.UsersID) // so the store is not empty
	ghost := newUser(group.UsersID)
	us := s.Users()

	_, err := us.Get(ctx(t), ghost.ID)
	checkErr(t, "Get(unknown)", err, user.ErrNotFound)
	_, err = us.GetByEmail(ctx(t), ghost.Email)
	checkErr(t, "GetByEmail(unknown)", err, user.ErrNotFound)
	checkErr(t, "Update(unknown)", us.Update(ctx(t), ghost), user.ErrNotFound)
	checkErr(t, "Delete(unknown)", us.Delete(ctx(t), ghost.ID), user.ErrNotFound)
	_, err = us.PasswordHash(ctx(t), ghost.ID)
	checkErr(t, "PasswordHash(unknown)", err, user.ErrNotFound)
	checkErr(t, "SetPasswordHash(unknown)", us.SetPasswordHash(ctx(t), ghost.ID, "$2a$10$x"), user.ErrNotFound)
	checkErr(t, "SetLastLogin(unknown)", us.SetLastLogin(ctx(t), ghost.ID, base), user.ErrNotFound)
	checkErr(t, "SetAvatar(unknown, data)", us.SetAvatar(ctx(t), ghost.ID, []byte("GIF89a"), "image/gif"), user.ErrNotFound)
	if _, _, err := us.Avatar(ctx(t), ghost.ID); !errors.Is(err, user.ErrNotFound) && !errors.Is(err, user.ErrNoAvatar) {
		t.Errorf("Avatar(unknown): error %v, want %v or %v", err, user.ErrNotFound, user.ErrNoAvatar)
	}

	// None of those created the user.
	n, err := us.Count(ctx(t))
	must(t, "Count", err)
	if n != 1 {
		t.Errorf("Count after calls on an unknown user = %d, want 1", n)
	}
}

func testUserEmailTakenCreate(t *testing.T, s auth.Store) {
	first := createUser(t, s, group.UsersID)
	dup := newUser(group.AdminID)
	dup.Email = first.Email
	checkErr(t, "Users().Create with a taken email", s.Users().Create(ctx(t), dup, ""), user.ErrEmailTaken)

	_, err := s.Users().Get(ctx(t), dup.ID)
	checkErr(t, "Users().Get of the refused user", err, user.ErrNotFound)
	got, err := s.Users().GetByEmail(ctx(t), first.Email)
	must(t, "Users().GetByEmail", err)
	checkUser(t, "the first owner of the email", got, first)
}

func testUserEmailTakenUpdate(t *testing.T, s auth.Store) {
	a := createUser(t, s, group.UsersID)
	b := createUser(t, s, group.UsersID)
	upd := *b
	upd.Email = a.Email
	upd.Name = "Should Not Stick"
	checkErr(t, "Users().Update to a taken email", s.Users().Update(ctx(t), &upd), user.ErrEmailTaken)

	got, err := s.Users().Get(ctx(t), b.ID)
	must(t, "Users().Get", err)
	checkUser(t, "user after refused Update", got, b)
	got, err = s.Users().GetByEmail(ctx(t), a.Email)
	must(t, "Users().GetByEmail", err)
	checkUser(t, "owner of the email after refused Update", got, a)
}

func testUserUnknownGroup(t *testing.T, s auth.Store) {
	u := newUser(group.ID(newID()))
	checkErr(t, "Users().Create in an unknown group", s.Users().Create(ctx(t), u, ""), group.ErrNotFound)
	_, err := s.Users().Get(ctx(t), u.ID)
	checkErr(t, "Users().Get of the refused user", err, user.ErrNotFound)
}

func testUserPasswordHash(t *testing.T, s auth.Store) {
	const h1 = "$2a$12$C6UzMDM.H6dfI/f/IKcEeO5e5x9HtuCH3cMQRN2J4eD3yZ4ZOtNqi"
	const h2 = "v2$2a$12$ANOTHERhashANOTHERhashANOTHERhashANOTHERhashANOTHERha"

	withHash := newUser(group.UsersID)
	mustCreateUser(t, s, withHash, h1)
	got, err := s.Users().PasswordHash(ctx(t), withHash.ID)
	must(t, "PasswordHash", err)
	if got != h1 {
		t.Errorf("PasswordHash after Create = %q, want %q", got, h1)
	}
	must(t, "SetPasswordHash", s.Users().SetPasswordHash(ctx(t), withHash.ID, h2))
	got, err = s.Users().PasswordHash(ctx(t), withHash.ID)
	must(t, "PasswordHash", err)
	if got != h2 {
		t.Errorf("PasswordHash after SetPasswordHash = %q, want %q", got, h2)
	}

	without := createUser(t, s, group.UsersID)
	got, err = s.Users().PasswordHash(ctx(t), without.ID)
	must(t, "PasswordHash", err)
	if got != "" {
		t.Errorf("PasswordHash of a user created without one = %q, want empty", got)
	}
	// The other user's hash is untouched.
	got, err = s.Users().PasswordHash(ctx(t), withHash.ID)
	must(t, "PasswordHash", err)
	if got != h2 {
		t.Errorf("PasswordHash of another user = %q, want %q", got, h2)
	}
}

func testUserLastLogin(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	when := at(5*time.Hour + 7*time.Microsecond)
	must(t, "SetLastLogin", s.Users().SetLastLogin(ctx(t), u.ID, when))
	got, err := s.Users().Get(ctx(t), u.ID)
	must(t, "Get", err)
	checkTime(t, "LastLoginAt after SetLastLogin", got.LastLoginAt, when)

	later := when.Add(time.Hour)
	must(t, "SetLastLogin", s.Users().SetLastLogin(ctx(t), u.ID, later))
	got, err = s.Users().Get(ctx(t), u.ID)
	must(t, "Get", err)
	checkTime(t, "LastLoginAt after second SetLastLogin", got.LastLoginAt, later)

	got, err = s.Users().Get(ctx(t), other.ID)
	must(t, "Get", err)
	checkTime(t, "LastLoginAt of another user", got.LastLoginAt, time.Time{})
}

func testUserCount(t *testing.T, s auth.Store) {
	var ids []user.ID
	for i := range 4 {
		g := group.UsersID
		if i == 0 {
			g = group.AdminID
		}
		ids = append(ids, createUser(t, s, g).ID)
	}
	n, err := s.Users().Count(ctx(t))
	must(t, "Count", err)
	if n != 4 {
		t.Errorf("Count = %d, want 4", n)
	}
	must(t, "Delete", s.Users().Delete(ctx(t), ids[1]))
	n, err = s.Users().Count(ctx(t))
	must(t, "Count", err)
	if n != 3 {
		t.Errorf("Count after Delete = %d, want 3", n)
	}
}

func testUserCountInGroup(t *testing.T, s auth.Store) {
	staff := createGroup(t, s, "Staff")
	// admin: 2 enabled, 1 disabled; users: 1 enabled, 2 disabled; staff: 1 disabled.
	layout := []struct {
		g        group.ID
		disabled bool
	}{
		{group.AdminID, false}, {group.AdminID, false}, {group.AdminID, true},
		{group.UsersID, false}, {group.UsersID, true}, {group.UsersID, true},
		{staff.ID, true},
	}
	for _, l := range layout {
		u := newUser(l.g)
		u.Disabled = l.disabled
		mustCreateUser(t, s, u, "")
	}
	cases := []struct {
		g           group.ID
		enabledOnly bool
		want        int
	}{
		{group.AdminID, false, 3}, {group.AdminID, true, 2},
		{group.UsersID, false, 3}, {group.UsersID, true, 1},
		{staff.ID, false, 1}, {staff.ID, true, 0},
		{group.ID(newID()), false, 0}, {group.ID(newID()), true, 0},
	}
	for _, c := range cases {
		n, err := s.Users().CountInGroup(ctx(t), string(c.g), c.enabledOnly)
		if err != nil {
			t.Errorf("CountInGroup(%q, %v): %v", c.g, c.enabledOnly, err)
			continue
		}
		if n != c.want {
			t.Errorf("CountInGroup(%q, enabledOnly=%v) = %d, want %d", c.g, c.enabledOnly, n, c.want)
		}
	}
}

func testUserAvatar(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	us := s.Users()

	_, _, err := us.Avatar(ctx(t), u.ID)
	checkErr(t, "Avatar before any was set", err, user.ErrNoAvatar)

	png := append([]byte("\x89PNG\r\n\x1a\n"), bytes.Repeat([]byte{0, 1, 2, 0xff}, 1000)...)
	must(t, "SetAvatar", us.SetAvatar(ctx(t), u.ID, png, "image/png"))
	data, ct, err := us.Avatar(ctx(t), u.ID)
	must(t, "Avatar", err)
	if !bytes.Equal(data, png) || ct != "image/png" {
		t.Errorf("Avatar = %d bytes %q, want the %d bytes set, %q", len(data), ct, len(png), "image/png")
	}
	_, _, err = us.Avatar(ctx(t), other.ID)
	checkErr(t, "Avatar of a user without one", err, user.ErrNoAvatar)

	gif := []byte("GIF89a\x01\x00\x01\x00\x00\x00\x00;")
	must(t, "SetAvatar (replace)", us.SetAvatar(ctx(t), u.ID, gif, "image/gif"))
	data, ct, err = us.Avatar(ctx(t), u.ID)
	must(t, "Avatar", err)
	if !bytes.Equal(data, gif) || ct != "image/gif" {
		t.Errorf("Avatar after replace = %q %q, want %q %q", data, ct, gif, "image/gif")
	}

	must(t, "SetAvatar(nil) (remove)", us.SetAvatar(ctx(t), u.ID, nil, ""))
	_, _, err = us.Avatar(ctx(t), u.ID)
	checkErr(t, "Avatar after removal", err, user.ErrNoAvatar)
	must(t, "SetAvatar(nil) when there is none", us.SetAvatar(ctx(t), u.ID, nil, ""))
}

func testUserDelete(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	keep := createUser(t, s, group.UsersID)
	s1, h1 := createSession(t, s, u.ID, at(0))
	s2, _ := createSession(t, s, u.ID, at(time.Hour))
	ks, kh := createSession(t, s, keep.ID, at(0))
	must(t, "SetAvatar", s.Users().SetAvatar(ctx(t), u.ID, []byte("GIF89a"), "image/gif"))
	must(t, "SetAvatar", s.Users().SetAvatar(ctx(t), keep.ID, []byte("GIF89b"), "image/gif"))

	must(t, "Users().Delete", s.Users().Delete(ctx(t), u.ID))

	_, err := s.Users().Get(ctx(t), u.ID)
	checkErr(t, "Get after Delete", err, user.ErrNotFound)
	_, err = s.Users().GetByEmail(ctx(t), u.Email)
	checkErr(t, "GetByEmail after Delete", err, user.ErrNotFound)
	checkErr(t, "Delete again", s.Users().Delete(ctx(t), u.ID), user.ErrNotFound)
	for _, id := range []string{s1.ID, s2.ID} {
		_, err = s.Sessions().Get(ctx(t), id)
		checkErr(t, "Sessions().Get of a deleted user's session", err, auth.ErrSessionNotFound)
	}
	_, _, _, err = s.Sessions().Lookup(ctx(t), h1)
	checkErr(t, "Sessions().Lookup of a deleted user's session", err, auth.ErrSessionNotFound)
	list, err := s.Sessions().List(ctx(t), u.ID)
	must(t, "Sessions().List", err)
	if len(list) != 0 {
		t.Errorf("Sessions().List of a deleted user = %d sessions, want 0", len(list))
	}
	if _, _, err := s.Users().Avatar(ctx(t), u.ID); !errors.Is(err, user.ErrNoAvatar) && !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Avatar of a deleted user: error %v, want %v or %v", err, user.ErrNotFound, user.ErrNoAvatar)
	}

	// The other user keeps everything.
	got, err := s.Users().Get(ctx(t), keep.ID)
	must(t, "Get of another user", err)
	checkUser(t, "another user after Delete", got, keep)
	gotS, _, _, err := s.Sessions().Lookup(ctx(t), kh)
	must(t, "Lookup of another user's session", err)
	checkSession(t, "another user's session", gotS, ks)
	data, _, err := s.Users().Avatar(ctx(t), keep.ID)
	must(t, "Avatar of another user", err)
	if string(data) != "GIF89b" {
		t.Errorf("Avatar of another user = %q, want %q", data, "GIF89b")
	}

	// The email is free again.
	again := newUser(group.UsersID)
	again.Email = u.Email
	must(t, "Create with the deleted user's email", s.Users().Create(ctx(t), again, ""))
	_, _, err = s.Users().Avatar(ctx(t), again.ID)
	checkErr(t, "Avatar of a new user with a deleted user's email", err, user.ErrNoAvatar)
}

// Update is conditional on the Version the caller read: a write made from
// a stale read is refused with user.ErrStale and writes nothing (DESIGN
// invariant 10).
func testUserStale(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	if u.Version != 1 {
		t.Errorf("Version after Create = %d, want 1", u.Version)
	}
	read, err := s.Users().Get(ctx(t), u.ID)
	must(t, "Users().Get", err)
	if read.Version != 1 {
		t.Errorf("Users().Get: Version = %d, want 1", read.Version)
	}
	a, b := *read, *read // two editors read the same version
	a.Name = "First Editor"
	must(t, "Users().Update", s.Users().Update(ctx(t), &a))
	if a.Version != 2 {
		t.Errorf("Version after Update = %d, want 2", a.Version)
	}
	b.Name, b.Disabled = "Second Editor", true
	checkErr(t, "Users().Update from a stale read", s.Users().Update(ctx(t), &b), user.ErrStale)
	// Other setters do not move the version.
	must(t, "Users().SetLastLogin", s.Users().SetLastLogin(ctx(t), u.ID, at(time.Hour)))
	must(t, "Users().SetPasswordHash", s.Users().SetPasswordHash(ctx(t), u.ID, "$2a$10$other"))
	got, err := s.Users().Get(ctx(t), u.ID)
	must(t, "Users().Get", err)
	if got.Name != "First Editor" || got.Disabled || got.Version != 2 {
		t.Errorf("after a stale Update: {Name:%q Disabled:%v Version:%d}, want {First Editor false 2}", got.Name, got.Disabled, got.Version)
	}
	got, err = s.Users().GetByEmail(ctx(t), u.Email)
	must(t, "Users().GetByEmail", err)
	if got.Version != 2 {
		t.Errorf("Users().GetByEmail: Version = %d, want 2", got.Version)
	}
	q, err := user.Query{Search: u.Email}.Normalize()
	must(t, "user.Query.Normalize", err)
	page, err := s.Users().List(ctx(t), q)
	must(t, "Users().List", err)
	if len(page.Users) != 1 || page.Users[0].Version != 2 {
		t.Errorf("Users().List: %+v, want the user at Version 2", page.Users)
	}
	// An unknown user is not found, whatever the version.
	ghost := newUser(group.UsersID)
	ghost.Version = 1
	checkErr(t, "Users().Update(unknown)", s.Users().Update(ctx(t), ghost), user.ErrNotFound)
}

// CountPasswordHashes matches prefixes byte for byte: "%" and "_" are no
// wildcards, and an empty prefix matches every user, even one without a
// hash.
func testUserCountPasswordHashes(t *testing.T, s auth.Store) {
	for _, h := range []string{"", "$a$k1$x", "$a$k1$y", "$a$k2$x", "$b$k1$x", "$a%k1$x", "$2a$10$plain"} {
		mustCreateUser(t, s, newUser(group.UsersID), h)
	}
	cases := []struct {
		prefix string
		except []string
		want   int
	}{
		{"$a$", nil, 3},
		{"$a$", []string{"$a$k1$"}, 1},
		{"$a$", []string{"$a$k1$", "$a$k2$"}, 0},
		{"$", []string{"$a$k1$", "$b$"}, 3},
		{"$a_", nil, 0},
		{"$a%", nil, 1},
		{"", nil, 7},
		{"", []string{""}, 0},
		{"$c$", nil, 0},
		{"$a$k1$x-longer-than-the-hash", nil, 0},
		{"\x00", nil, 0},
	}
	for _, c := range cases {
		n, err := s.Users().CountPasswordHashes(ctx(t), c.prefix, c.except)
		if err != nil {
			t.Errorf("CountPasswordHashes(%q, %q): %v", c.prefix, c.except, err)
		} else if n != c.want {
			t.Errorf("CountPasswordHashes(%q, %q) = %d, want %d", c.prefix, c.except, n, c.want)
		}
	}
}

// PasswordHashes pages through the users whose hash begins with one of
// the prefixes, byte for byte, in ID order.
func testUserPasswordHashes(t *testing.T, s auth.Store) {
	want := map[user.ID]string{}
	for _, h := range []string{"", "$a$k1$x", "$a$k1$y", "$a$k2$x", "$b$k1$x", "$a%k1$x", "$2a$10$plain", "$c$z"} {
		u := newUser(group.UsersID)
		mustCreateUser(t, s, u, h)
		if strings.HasPrefix(h, "$a$k1$") || strings.HasPrefix(h, "$2a$") || strings.HasPrefix(h, "$a%") {
			want[u.ID] = h
		}
	}
	var got []user.StoredHash
	var after user.ID
	for pages := 0; ; pages++ {
		page, err := s.Users().PasswordHashes(ctx(t), []string{"$a$k1$", "$2a$", "$a%", "\x00"}, after, 2)
		if err != nil {
			t.Fatalf("PasswordHashes: %v", err)
		}
		got = append(got, page...)
		if len(page) < 2 || pages > 10 {
			break
		}
		after = page[len(page)-1].ID
	}
	if len(got) != len(want) {
		t.Fatalf("PasswordHashes found %d hashes, want %d: %v", len(got), len(want), got)
	}
	for i, h := range got {
		if want[h.ID] != h.Hash {
			t.Errorf("PasswordHashes: %q has %q, want %q", h.ID, h.Hash, want[h.ID])
		}
		if i > 0 && got[i-1].ID >= h.ID {
			t.Errorf("PasswordHashes: %q after %q, want ID order", h.ID, got[i-1].ID)
		}
	}
	if page, err := s.Users().PasswordHashes(ctx(t), nil, "", 10); err != nil || len(page) != 0 {
		t.Errorf("PasswordHashes(no prefixes) = %v, %v; want none", page, err)
	}
}

// ReplacePasswordHash writes only over the hash it was given.
func testUserReplacePasswordHash(t *testing.T, s auth.Store) {
	u := newUser(group.UsersID)
	mustCreateUser(t, s, u, "old")
	if ok, err := s.Users().ReplacePasswordHash(ctx(t), u.ID, "other", "new"); err != nil || ok {
		t.Fatalf("ReplacePasswordHash(wrong old) = %v, %v; want false", ok, err)
	}
	if h, _ := s.Users().PasswordHash(ctx(t), u.ID); h != "old" {
		t.Fatalf("after a refused replace the hash is %q", h)
	}
	if ok, err := s.Users().ReplacePasswordHash(ctx(t), u.ID, "old", "new"); err != nil || !ok {
		t.Fatalf("ReplacePasswordHash = %v, %v; want true", ok, err)
	}
	if h, _ := s.Users().PasswordHash(ctx(t), u.ID); h != "new" {
		t.Fatalf("after the replace the hash is %q", h)
	}
	if ok, err := s.Users().ReplacePasswordHash(ctx(t), "ghost", "old", "new"); err != nil || ok {
		t.Fatalf("ReplacePasswordHash(unknown) = %v, %v; want false", ok, err)
	}
}

// testUserMustChangePassword: the flag starts clear, SetMustChangePassword
// sets and clears it without moving Version, SetPasswordHash and Update
// leave it alone, and every read returns it, the session lookup included.
func testUserMustChangePassword(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	sess, hash := newSession(u.ID, time.Now())
	must(t, "Sessions().Create", s.Sessions().Create(ctx(t), sess, hash))
	check := func(step string, want bool) {
		t.Helper()
		got, err := s.Users().Get(ctx(t), u.ID)
		must(t, "Get", err)
		byEmail, err := s.Users().GetByEmail(ctx(t), u.Email)
		must(t, "GetByEmail", err)
		_, looked, _, err := s.Sessions().Lookup(ctx(t), hash)
		must(t, "Lookup", err)
		q, err := user.Query{Limit: 100}.Normalize()
		must(t, "Normalize", err)
		page, err := s.Users().List(ctx(t), q)
		must(t, "List", err)
		listed := false
		for _, it := range page.Users {
			if it.ID == u.ID {
				listed = it.MustChangePassword
			}
		}
		if got.MustChangePassword != want || byEmail.MustChangePassword != want || looked.MustChangePassword != want || listed != want {
			t.Errorf("%s: Get %v, GetByEmail %v, Lookup %v, List %v; want %v",
				step, got.MustChangePassword, byEmail.MustChangePassword, looked.MustChangePassword, listed, want)
		}
		if got.Version != 1 {
			t.Errorf("%s: Version = %d, want 1", step, got.Version)
		}
	}
	check("created", false)
	must(t, "SetMustChangePassword(true)", s.Users().SetMustChangePassword(ctx(t), u.ID, true))
	check("set", true)
	must(t, "SetPasswordHash", s.Users().SetPasswordHash(ctx(t), u.ID, "$2a$10$x"))
	check("after SetPasswordHash", true)
	o, err := s.Users().Get(ctx(t), other.ID)
	must(t, "Get(other)", err)
	if o.MustChangePassword {
		t.Error("another user's flag was set")
	}
	must(t, "SetMustChangePassword(false)", s.Users().SetMustChangePassword(ctx(t), u.ID, false))
	check("cleared", false)
	checkErr(t, "SetMustChangePassword(unknown)", s.Users().SetMustChangePassword(ctx(t), "ghost", true), user.ErrNotFound)
}

// testUserWithHash: a store with auth.UserHashStore reads an account and
// its hash together as Get (or GetByEmail) and PasswordHash read them
// apart, in and out of a transaction, and user.ErrNotFound for none.
func testUserWithHash(t *testing.T, s auth.Store) {
	if _, ok := s.Users().(auth.UserHashStore); !ok {
		t.Skip("the store has no auth.UserHashStore")
	}
	const h = "$2a$12$C6UzMDM.H6dfI/f/IKcEeO5e5x9HtuCH3cMQRN2J4eD3yZ4ZOtNqi"
	u := newUser(group.UsersID)
	mustCreateUser(t, s, u, h)
	_ = createUser(t, s, group.UsersID) // another account, to be told apart
	want, err := s.Users().Get(ctx(t), u.ID)
	must(t, "Get", err)
	check := func(st auth.Store) {
		r := st.Users().(auth.UserHashStore)
		got, gotHash, err := r.GetWithHash(ctx(t), u.ID)
		must(t, "GetWithHash", err)
		checkUser(t, "GetWithHash", got, want)
		if gotHash != h {
			t.Errorf("GetWithHash: hash %q, want %q", gotHash, h)
		}
		got, gotHash, err = r.GetByEmailWithHash(ctx(t), u.Email)
		must(t, "GetByEmailWithHash", err)
		checkUser(t, "GetByEmailWithHash", got, want)
		if gotHash != h {
			t.Errorf("GetByEmailWithHash: hash %q, want %q", gotHash, h)
		}
		_, _, err = r.GetWithHash(ctx(t), "no such user")
		checkErr(t, "GetWithHash(unknown)", err, user.ErrNotFound)
		_, _, err = r.GetByEmailWithHash(ctx(t), "nobody@example.com")
		checkErr(t, "GetByEmailWithHash(unknown)", err, user.ErrNotFound)
	}
	check(s)
	must(t, "Atomic", s.Atomic(ctx(t), func(tx auth.Store) error { check(tx); return nil }))
}
