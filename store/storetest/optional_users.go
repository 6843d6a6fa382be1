package storetest

import (
	"errors"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// testMarkPlainLogin covers the optional auth.LoginMarkStore: the mark is
// made, in the transaction, only on an existing, enabled account whose
// hash is the one verified and which has no TOTP credential (pending or
// confirmed) and no passkey; otherwise nothing changes and no account is
// returned.
func testMarkPlainLogin(t *testing.T, s auth.Store) {
	if _, ok := s.Users().(auth.LoginMarkStore); !ok {
		t.Skip("the store does not implement auth.LoginMarkStore (optional)")
	}
	const hash = "$usher2$k1$verified"
	before := at(-time.Hour)
	newAccount := func() *user.User {
		u := newUser(group.UsersID)
		u.LastLoginAt = before
		mustCreateUser(t, s, u, hash)
		return u
	}
	mark := func(id user.ID, verified string, when time.Time) (*user.User, bool) {
		t.Helper()
		var (
			u      *user.User
			marked bool
		)
		must(t, "Atomic", s.Atomic(ctx(t), func(tx auth.Store) error {
			var err error
			u, marked, err = tx.Users().(auth.LoginMarkStore).MarkPlainLogin(ctx(t), id, verified, when)
			return err
		}))
		return u, marked
	}
	lastLogin := func(id user.ID) time.Time {
		t.Helper()
		u, err := s.Users().Get(ctx(t), id)
		must(t, "Get", err)
		return u.LastLoginAt
	}

	plain := newAccount()
	when := at(3*time.Hour + 5*time.Microsecond)
	u, marked := mark(plain.ID, hash, when)
	if !marked || u == nil || u.ID != plain.ID || u.Email != plain.Email || u.GroupID != plain.GroupID {
		t.Fatalf("a plain account: %+v, %v; want it, marked", u, marked)
	}
	checkTime(t, "LastLoginAt returned", u.LastLoginAt, when)
	checkTime(t, "LastLoginAt stored", lastLogin(plain.ID), when)

	disabled := newAccount()
	disabled.Disabled = true
	must(t, "Update", s.Users().Update(ctx(t), disabled))
	pending := newAccount()
	must(t, "TOTP().Put", s.TOTP().Put(ctx(t), newCredential(pending.ID, "k1")))
	withPasskey := newAccount()
	createPasskey(t, s, withPasskey.ID, at(0))
	other := newAccount()
	for _, c := range []struct {
		name     string
		id       user.ID
		verified string
	}{
		{"another hash", other.ID, hash + "x"},
		{"disabled", disabled.ID, hash},
		{"a TOTP credential, even pending", pending.ID, hash},
		{"a passkey", withPasskey.ID, hash},
		{"no such account", user.ID(newID()), hash},
	} {
		if u, marked := mark(c.id, c.verified, when); marked || u != nil {
			t.Errorf("%s: %+v, %v; want nothing marked", c.name, u, marked)
		}
		if c.name != "no such account" {
			checkTime(t, c.name+": LastLoginAt", lastLogin(c.id), before)
		}
	}
}

// testCreateInGroup covers the optional auth.GroupedUserStore: the user is
// created and its group returned as Groups().Get reads it; a taken email
// or an unknown group writes nothing and leaves the transaction usable.
func testCreateInGroup(t *testing.T, s auth.Store) {
	if _, ok := s.Users().(auth.GroupedUserStore); !ok {
		t.Skip("the store does not implement auth.GroupedUserStore (optional)")
	}
	g := createGroup(t, s, "Grouped "+newID()[:6], "backups:read", group.UsersRead)
	want, err := s.Groups().Get(ctx(t), g.ID)
	must(t, "Groups().Get", err)
	u := newUser(g.ID)
	var got *group.Group
	must(t, "Atomic", s.Atomic(ctx(t), func(tx auth.Store) error {
		var err error
		got, err = tx.Users().(auth.GroupedUserStore).CreateInGroup(ctx(t), u, "$usher2$k1$h")
		return err
	}))
	if got == nil || got.ID != want.ID || got.Name != want.Name || got.Description != want.Description ||
		!got.CreatedAt.Equal(want.CreatedAt) || !got.UpdatedAt.Equal(want.UpdatedAt) || got.Version != want.Version ||
		len(got.Permissions) != len(want.Permissions) || got.RequireTwoFactor != want.RequireTwoFactor {
		t.Errorf("CreateInGroup returned group %+v, want %+v", got, want)
	}
	if stored, err := s.Users().Get(ctx(t), u.ID); err != nil || stored.Email != u.Email || u.Version != 1 {
		t.Errorf("the user created: %+v, %v (version %d)", stored, err, u.Version)
	}

	taken := newUser(g.ID)
	taken.Email = u.Email
	unknown := newUser(group.ID(newID()))
	after := newUser(group.UsersID)
	must(t, "Atomic", s.Atomic(ctx(t), func(tx auth.Store) error {
		c := tx.Users().(auth.GroupedUserStore)
		if g, err := c.CreateInGroup(ctx(t), taken, ""); !errors.Is(err, user.ErrEmailTaken) || g != nil {
			t.Errorf("a taken email: %v, %v; want user.ErrEmailTaken", g, err)
		}
		if g, err := c.CreateInGroup(ctx(t), unknown, ""); !errors.Is(err, group.ErrNotFound) || g != nil {
			t.Errorf("an unknown group: %v, %v; want group.ErrNotFound", g, err)
		}
		return tx.Users().Create(ctx(t), after, "") // the transaction goes on
	}))
	for _, id := range []user.ID{taken.ID, unknown.ID} {
		if _, err := s.Users().Get(ctx(t), id); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("a failed CreateInGroup left user %s: %v", id, err)
		}
	}
	if _, err := s.Users().Get(ctx(t), after.ID); err != nil {
		t.Errorf("the create after the failed ones: %v", err)
	}
}
