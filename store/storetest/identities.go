package storetest

import (
	"errors"
	"fmt"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

var oidcIdentityTests = []test{
	{"RoundTrip", testIdentityRoundTrip},
	{"NotFound", testIdentityNotFound},
	{"Taken", testIdentityTaken},
	{"TakenRace", testIdentityTakenRace},
	{"UnknownUserOrProvider", testIdentityUnknownUserOrProvider},
	{"ListOrder", testIdentityListOrder},
	{"Unlink", testIdentityUnlink},
	{"Seen", testIdentitySeen},
	{"UserDeleted", testIdentityUserDeleted},
	{"ProviderDeletedRace", testIdentityProviderDeletedRace},
}

// newIdentity returns an unsaved identity of u at p, with a random
// subject, linked at created.
func newIdentity(p *oidc.Provider, u *user.User, created time.Time) *oidc.Identity {
	return &oidc.Identity{
		Issuer:     p.Issuer,
		Subject:    "sub-" + newID(),
		ProviderID: p.ID,
		UserID:     u.ID,
		Email:      u.Email,
		CreatedAt:  created,
	}
}

// linkIdentity links a new identity of u at p, linked at created.
func linkIdentity(t *testing.T, s auth.Store, p *oidc.Provider, u *user.User, created time.Time) *oidc.Identity {
	t.Helper()
	i := newIdentity(p, u, created)
	must(t, "Identities().Link", s.Identities().Link(ctx(t), i))
	return i
}

func checkIdentity(t *testing.T, what string, got, want *oidc.Identity) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil identity", what)
		return
	}
	if got.Issuer != want.Issuer || got.Subject != want.Subject || got.ProviderID != want.ProviderID ||
		got.UserID != want.UserID || got.Email != want.Email {
		t.Errorf("%s:\n got  {Issuer:%q Subject:%q ProviderID:%q UserID:%q Email:%q}\n want {Issuer:%q Subject:%q ProviderID:%q UserID:%q Email:%q}",
			what, got.Issuer, got.Subject, got.ProviderID, got.UserID, got.Email,
			want.Issuer, want.Subject, want.ProviderID, want.UserID, want.Email)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": LastLoginAt", got.LastLoginAt, want.LastLoginAt)
}

// getIdentity reads want by (issuer, subject) and compares it with want.
func getIdentity(t *testing.T, s auth.Store, what string, want *oidc.Identity) {
	t.Helper()
	got, err := s.Identities().Get(ctx(t), want.Issuer, want.Subject)
	must(t, what+": Identities().Get", err)
	checkIdentity(t, what, got, want)
}

// checkNoIdentity fails unless (issuer, subject) is linked to nobody.
func checkNoIdentity(t *testing.T, s auth.Store, what, issuer, subject string) {
	t.Helper()
	i, err := s.Identities().Get(ctx(t), issuer, subject)
	if !errors.Is(err, oidc.ErrNotFound) || i != nil {
		t.Errorf("%s: Identities().Get(%q, %q) = %+v, %v; want nil, %v", what, issuer, subject, i, err, oidc.ErrNotFound)
	}
}

// checkIdentityList fails unless userID's identities are want, in this
// order.
func checkIdentityList(t *testing.T, s auth.Store, what string, userID user.ID, want ...*oidc.Identity) {
	t.Helper()
	got, err := s.Identities().List(ctx(t), userID)
	must(t, what+": Identities().List", err)
	if len(got) != len(want) {
		t.Errorf("%s: List returned %d identities, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		checkIdentity(t, fmt.Sprintf("%s: List[%d]", what, i), &got[i], want[i])
	}
}

func testIdentityRoundTrip(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	i := linkIdentity(t, s, p, u, at(0))
	getIdentity(t, s, "new identity", i)

	// A login time given at Link is kept; keys and email are any text.
	seen := newIdentity(p, u, at(time.Minute))
	seen.Subject, seen.Email = "248289761001", "Zoë.Ünïcode+sso@例え.jp"
	seen.LastLoginAt = at(time.Hour)
	must(t, "Identities().Link", s.Identities().Link(ctx(t), seen))
	getIdentity(t, s, "identity with a login", seen)

	// The same subject at another issuer is another identity, and an
	// identity may have been linked through a provider whose issuer differs
	// from its own (an issuer that moved): the store keeps what it is given.
	q := createProvider(t, s)
	same := newIdentity(q, u, at(2*time.Minute))
	same.Subject, same.Email = i.Subject, ""
	must(t, "Identities().Link", s.Identities().Link(ctx(t), same))
	moved := newIdentity(q, u, at(3*time.Minute))
	moved.Issuer = "https://old.example.com/"
	must(t, "Identities().Link", s.Identities().Link(ctx(t), moved))
	getIdentity(t, s, "same subject at another issuer", same)
	getIdentity(t, s, "identity under an issuer of its own", moved)
	getIdentity(t, s, "first identity", i)
	checkIdentityList(t, s, "all four, oldest first", u.ID, i, seen, same, moved)
}

func testIdentityNotFound(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	i := linkIdentity(t, s, p, u, at(0))
	for _, k := range []struct{ issuer, subject string }{
		{i.Issuer, "unknown"},
		{"https://unknown.example.com", i.Subject},
		{i.Issuer + "/", i.Subject},
		{i.Issuer, i.Subject + " "},
		{i.Issuer, "SUB-" + i.Subject[len("sub-"):]}, // subjects are compared exactly
		{i.Subject, i.Issuer},
		{"", ""},
		{"bad\xff\x00", i.Subject},
		{i.Issuer, "bad\xff\x00"},
	} {
		what := fmt.Sprintf("(%q, %q)", k.issuer, k.subject)
		checkNoIdentity(t, s, "unknown identity "+what, k.issuer, k.subject)
		checkErr(t, "Seen"+what, s.Identities().Seen(ctx(t), k.issuer, k.subject, "x@example.com", at(time.Hour)), oidc.ErrNotFound)
		checkErr(t, "Unlink"+what, s.Identities().Unlink(ctx(t), u.ID, k.issuer, k.subject), oidc.ErrNotFound)
	}
	for _, id := range []user.ID{"nobody", "", "bad\xff\x00"} {
		checkIdentityList(t, s, fmt.Sprintf("unknown user %q", id), id)
	}
	checkIdentityList(t, s, "user without identities", createUser(t, s, group.UsersID).ID)
	getIdentity(t, s, "identity after every refusal", i)
}

func testIdentityTaken(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	q := createProvider(t, s)
	i := linkIdentity(t, s, p, u, at(0))
	for _, c := range []struct {
		what  string
		owner *user.User
		via   *oidc.Provider
	}{
		{"for another user", other, p},
		{"for the same user", u, p},
		{"through another provider", other, q},
	} {
		dup := newIdentity(c.via, c.owner, at(time.Minute))
		dup.Issuer, dup.Subject = i.Issuer, i.Subject
		checkErr(t, "Link of a linked identity "+c.what, s.Identities().Link(ctx(t), dup), oidc.ErrIdentityTaken)
	}
	getIdentity(t, s, "identity after refused Links", i)
	checkIdentityList(t, s, "the other user", other.ID)
	checkIdentityList(t, s, "the owner", u.ID, i)
}

// Of concurrent first logins of one account (each provisioning a user of
// its own), exactly one links it.
func testIdentityTakenRace(t *testing.T, s auth.Store) {
	p := createProvider(t, s)
	users := make([]*user.User, racers)
	for n := range users {
		users[n] = createUser(t, s, group.UsersID)
	}
	const subject = "the-same-subject"
	var wins atomic.Int32
	race(func(n int) {
		i := newIdentity(p, users[n], at(0))
		i.Subject = subject
		err := s.Identities().Link(ctx(t), i)
		switch {
		case err == nil:
			wins.Add(1)
		case !errors.Is(err, oidc.ErrIdentityTaken):
			t.Errorf("concurrent Link #%d: %v, want nil or %v", n, err, oidc.ErrIdentityTaken)
		}
	})
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of %d concurrent Links of one identity succeeded, want exactly 1", n, racers)
	}
	got, err := s.Identities().Get(ctx(t), p.Issuer, subject)
	must(t, "Identities().Get", err)
	owners := 0
	for _, u := range users {
		list, err := s.Identities().List(ctx(t), u.ID)
		must(t, "Identities().List", err)
		owners += len(list)
		if len(list) == 1 && list[0].UserID != got.UserID {
			t.Errorf("user %s lists the identity, but Get says it is %s's", u.ID, got.UserID)
		}
	}
	if owners != 1 {
		t.Errorf("%d users list the identity, want 1", owners)
	}
}

func testIdentityUnknownUserOrProvider(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	for _, id := range []user.ID{user.ID(newID()), "", "bad\xff\x00"} {
		i := newIdentity(p, &user.User{ID: id}, at(0))
		checkErr(t, fmt.Sprintf("Link to unknown user %q", id), s.Identities().Link(ctx(t), i), user.ErrNotFound)
		checkNoIdentity(t, s, "identity of an unknown user", i.Issuer, i.Subject)
	}
	for _, id := range []string{"nope", "", "bad\xff\x00", p.ID + "x"} {
		i := newIdentity(&oidc.Provider{ID: id, Issuer: p.Issuer}, u, at(0))
		checkErr(t, fmt.Sprintf("Link through unknown provider %q", id), s.Identities().Link(ctx(t), i), oidc.ErrNotFound)
		checkNoIdentity(t, s, "identity through an unknown provider", i.Issuer, i.Subject)
	}
	// Both unknown: either error will do, and nothing is stored.
	i := newIdentity(&oidc.Provider{ID: "nope", Issuer: p.Issuer}, &user.User{ID: "nobody"}, at(0))
	if err := s.Identities().Link(ctx(t), i); !errors.Is(err, oidc.ErrNotFound) && !errors.Is(err, user.ErrNotFound) {
		t.Errorf("Link to an unknown user through an unknown provider: %v, want %v or %v", err, oidc.ErrNotFound, user.ErrNotFound)
	}
	checkNoIdentity(t, s, "identity of nobody through nothing", i.Issuer, i.Subject)
	checkIdentityList(t, s, "the user", u.ID)
}

func testIdentityListOrder(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	p, q := createProvider(t, s), createProvider(t, s)
	third := linkIdentity(t, s, q, u, at(2*time.Hour))
	first := linkIdentity(t, s, p, u, at(0))
	otherOne := linkIdentity(t, s, p, other, at(time.Minute))
	second := linkIdentity(t, s, p, u, at(time.Hour))
	checkIdentityList(t, s, "oldest first", u.ID, first, second, third)
	checkIdentityList(t, s, "the other user", other.ID, otherOne)
}

func testIdentityUnlink(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	i := linkIdentity(t, s, p, u, at(0))
	keep := linkIdentity(t, s, p, u, at(time.Minute))
	otherOne := linkIdentity(t, s, p, other, at(0))

	for _, by := range []user.ID{other.ID, "nobody", "", "bad\xff\x00"} {
		checkErr(t, fmt.Sprintf("Unlink by %q, not the owner", by), s.Identities().Unlink(ctx(t), by, i.Issuer, i.Subject), oidc.ErrNotFound)
	}
	getIdentity(t, s, "after Unlinks by others", i)
	must(t, "Unlink by the owner", s.Identities().Unlink(ctx(t), u.ID, i.Issuer, i.Subject))
	checkNoIdentity(t, s, "unlinked", i.Issuer, i.Subject)
	checkErr(t, "Unlink again", s.Identities().Unlink(ctx(t), u.ID, i.Issuer, i.Subject), oidc.ErrNotFound)
	checkIdentityList(t, s, "the owner after Unlink", u.ID, keep)
	checkIdentityList(t, s, "the other user", other.ID, otherOne)

	// Unlinked, the identity may be linked again, to anyone.
	again := newIdentity(p, other, at(time.Hour))
	again.Subject = i.Subject
	must(t, "Link of an unlinked identity", s.Identities().Link(ctx(t), again))
	getIdentity(t, s, "linked again", again)
}

func testIdentitySeen(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	i := linkIdentity(t, s, p, u, at(0))
	other := linkIdentity(t, s, p, u, at(time.Second))

	must(t, "Seen", s.Identities().Seen(ctx(t), i.Issuer, i.Subject, "new@example.com", at(time.Hour)))
	i.Email, i.LastLoginAt = "new@example.com", at(time.Hour)
	getIdentity(t, s, "after a login (only the email and time change)", i)
	must(t, "Seen again", s.Identities().Seen(ctx(t), i.Issuer, i.Subject, "", at(2*time.Hour+time.Microsecond)))
	i.Email, i.LastLoginAt = "", at(2*time.Hour+time.Microsecond)
	getIdentity(t, s, "after a second login, without an email", i)
	getIdentity(t, s, "another identity", other)
	checkIdentityList(t, s, "both", u.ID, i, other)
}

func testIdentityUserDeleted(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	keep := createUser(t, s, group.UsersID)
	p, q := createProvider(t, s), createProvider(t, s)
	gone := []*oidc.Identity{linkIdentity(t, s, p, u, at(0)), linkIdentity(t, s, q, u, at(time.Minute))}
	kept := linkIdentity(t, s, p, keep, at(0))

	must(t, "Users().Delete", s.Users().Delete(ctx(t), u.ID))
	for _, i := range gone {
		checkNoIdentity(t, s, "identity of a deleted user", i.Issuer, i.Subject)
	}
	checkIdentityList(t, s, "deleted user", u.ID)
	checkIdentityList(t, s, "another user", keep.ID, kept)
	getProvider(t, s, "provider of a deleted user's identity", p)

	// The account at the provider is free to link again.
	again := newIdentity(p, keep, at(time.Hour))
	again.Subject = gone[0].Subject
	must(t, "Link of a deleted user's identity to another user", s.Identities().Link(ctx(t), again))
}

// Links racing a provider's deletion either fail with oidc.ErrNotFound or
// land before it and go with it: no identity outlives its provider.
func testIdentityProviderDeletedRace(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	subjects := make([]string, racers)
	race(func(n int) {
		if n == 0 {
			if err := s.Providers().Delete(ctx(t), p.ID); err != nil {
				t.Errorf("Providers().Delete: %v", err)
			}
			return
		}
		i := newIdentity(p, u, at(time.Duration(n)*time.Second))
		subjects[n] = i.Subject
		if err := s.Identities().Link(ctx(t), i); err != nil && !errors.Is(err, oidc.ErrNotFound) {
			t.Errorf("Link racing the provider's deletion: %v, want nil or %v", err, oidc.ErrNotFound)
		}
	})
	for _, sub := range subjects[1:] {
		checkNoIdentity(t, s, "identity linked through a provider deleted at the same time", p.Issuer, sub)
	}
	checkIdentityList(t, s, "the user", u.ID)
}
