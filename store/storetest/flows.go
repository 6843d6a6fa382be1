package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

var oidcFlowTests = []test{
	{"RoundTrip", testFlowRoundTrip},
	{"TakeDeletes", testFlowTakeDeletes},
	{"NotFound", testFlowNotFound},
	{"KeyHashTaken", testFlowKeyHashTaken},
	{"UnknownLinkUser", testFlowUnknownLinkUser},
	{"TakeRace", testFlowTakeRace},
	{"DeleteExpired", testFlowDeleteExpired},
	{"LinkUserDeleted", testFlowLinkUserDeleted},
	{"TakeInAtomic", testFlowTakeInAtomic},
	{"RefusalsInAtomic", testFlowRefusalsInAtomic},
}

// newFlow returns an unsaved login flow at providerID, begun at created,
// and the hash of its key.
func newFlow(providerID string, created time.Time) (*oidc.Flow, []byte) {
	return &oidc.Flow{
		ID:         newID(),
		ProviderID: providerID,
		State:      "state-" + newID(),
		Nonce:      "nonce-" + newID(),
		Verifier:   "verifier-" + newID() + newID(),
		ReturnTo:   "/settings/security?tab=sso&x=1#top",
		CreatedAt:  created,
		ExpiresAt:  created.Add(oidc.FlowTimeout),
	}, sum("flow key " + newID())
}

func createFlow(t *testing.T, s auth.Store, providerID string, linkUser user.ID, created time.Time) (*oidc.Flow, []byte) {
	t.Helper()
	f, hash := newFlow(providerID, created)
	f.LinkUser = linkUser
	must(t, "Flows().Create", s.Flows().Create(ctx(t), f, hash))
	return f, hash
}

func checkFlow(t *testing.T, what string, got, want *oidc.Flow) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil flow", what)
		return
	}
	if *got != *want {
		g, w := *got, *want
		g.CreatedAt, g.ExpiresAt, w.CreatedAt, w.ExpiresAt = time.Time{}, time.Time{}, time.Time{}, time.Time{}
		if g != w {
			t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
		}
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// takeFlow takes the flow under hash and compares it with want.
func takeFlow(t *testing.T, s auth.Store, what string, hash []byte, want *oidc.Flow) {
	t.Helper()
	got, err := s.Flows().Take(ctx(t), hash)
	must(t, what+": Flows().Take", err)
	checkFlow(t, what, got, want)
}

// checkNoFlow fails unless nothing is stored under hash.
func checkNoFlow(t *testing.T, s auth.Store, what string, hash []byte) {
	t.Helper()
	f, err := s.Flows().Take(ctx(t), hash)
	if !errors.Is(err, oidc.ErrFlowNotFound) || f != nil {
		t.Errorf("%s: Flows().Take = %+v, %v; want nil, %v", what, f, err, oidc.ErrFlowNotFound)
	}
}

func testFlowRoundTrip(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	login, loginHash := createFlow(t, s, p.ID, "", at(0))
	// A login begun with "keep me signed in".
	remember, rememberHash := newFlow(p.ID, at(time.Second))
	remember.Remember = true
	must(t, "Flows().Create", s.Flows().Create(ctx(t), remember, rememberHash))

	// Linking a provider to a signed-in user's account.
	link, linkHash := createFlow(t, s, p.ID, u.ID, at(time.Minute))

	// Every field kept as given: no return path, a provider the store does
	// not check (the Manager checks the flow against it when it is taken),
	// and Take does not check expiry.
	old, oldHash := newFlow("no-such-provider", at(-time.Hour))
	old.ReturnTo, old.Nonce = "", "n\u00e9\"\\"
	old.ExpiresAt = at(-time.Hour + oidc.FlowTimeout + time.Microsecond)
	must(t, "Flows().Create", s.Flows().Create(ctx(t), old, oldHash))

	takeFlow(t, s, "link flow", linkHash, link)
	takeFlow(t, s, "login flow with remember", rememberHash, remember)
	takeFlow(t, s, "expired flow at an unknown provider", oldHash, old)
	takeFlow(t, s, "login flow, taken last", loginHash, login)
}

func testFlowTakeDeletes(t *testing.T, s auth.Store) {
	f, hash := createFlow(t, s, "p", "", at(0))
	other, otherHash := createFlow(t, s, "p", "", at(time.Second))
	takeFlow(t, s, "first Take", hash, f)
	checkNoFlow(t, s, "second Take of the same key", hash)
	takeFlow(t, s, "another flow", otherHash, other)
	checkNoFlow(t, s, "second Take of the other key", otherHash)
}

func testFlowNotFound(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	f, hash := createFlow(t, s, "p", u.ID, at(0))
	_, sessHash := createSession(t, s, u.ID, at(0))
	_, chHash := createChallenge(t, s, u.ID, at(0))
	_, cerHash := createCeremony(t, s, passkey.KindRegister, u.ID, at(0))

	odd := [][]byte{sum("unknown key"), nil, {}, {0x00}, randomBytes(1000), hash[:16], append(bytes.Clone(hash), 0),
		sessHash, chHash, cerHash, []byte(f.ID), []byte(f.State)}
	for _, h := range odd {
		checkNoFlow(t, s, fmt.Sprintf("key hash %.40x (%d bytes)", h, len(h)), h)
	}
	n, err := s.Flows().DeleteExpired(ctx(t), at(0))
	if err != nil || n != 0 {
		t.Errorf("DeleteExpired with nothing expired = %d, %v; want 0, nil", n, err)
	}
	takeFlow(t, s, "flow after Takes of unknown keys", hash, f)
}

func testFlowKeyHashTaken(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	f, hash := createFlow(t, s, "p", "", at(0))
	for _, linkUser := range []user.ID{u.ID, ""} {
		dup, _ := newFlow("q", at(time.Minute))
		dup.LinkUser = linkUser
		if err := s.Flows().Create(ctx(t), dup, bytes.Clone(hash)); err == nil {
			t.Errorf("Flows().Create with a key hash in use (link user %q) succeeded, want an error", linkUser)
		}
	}
	takeFlow(t, s, "the first flow under the key hash", hash, f)
	checkNoFlow(t, s, "after the first was taken", hash)
}

func testFlowUnknownLinkUser(t *testing.T, s auth.Store) {
	for _, id := range []user.ID{user.ID(newID()), "bad\xff\x00"} {
		f, hash := newFlow("p", at(0))
		f.LinkUser = id
		checkErr(t, fmt.Sprintf("Flows().Create linking unknown user %q", id), s.Flows().Create(ctx(t), f, hash), user.ErrNotFound)
		checkNoFlow(t, s, "flow linking an unknown user", hash)
	}
}

func testFlowTakeRace(t *testing.T, s auth.Store) {
	f, hash := createFlow(t, s, "p", "", at(0))
	got := make([]*oidc.Flow, racers)
	errs := make([]error, racers)
	race(func(i int) { got[i], errs[i] = s.Flows().Take(ctx(t), hash) })
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			checkFlow(t, fmt.Sprintf("concurrent Take #%d", i), got[i], f)
		case !errors.Is(err, oidc.ErrFlowNotFound):
			t.Errorf("concurrent Flows().Take #%d: %v, want nil or %v", i, err, oidc.ErrFlowNotFound)
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent Flows().Take of one key: %d got it, want exactly 1", racers, winners)
	}
	checkNoFlow(t, s, "after the race", hash)
}

func testFlowDeleteExpired(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	now := at(time.Hour)
	mk := func(linkUser user.ID, expires time.Time) (*oidc.Flow, []byte) {
		f, hash := newFlow("p", at(0))
		f.LinkUser, f.ExpiresAt = linkUser, expires
		must(t, "Flows().Create", s.Flows().Create(ctx(t), f, hash))
		return f, hash
	}
	_, justExpired := mk(u.ID, now.Add(-time.Microsecond))
	_, longExpired := mk("", now.Add(-time.Hour))
	expiresNow, expiresNowHash := mk("", now) // not expired before now
	live, liveHash := mk(u.ID, now.Add(time.Minute))

	n, err := s.Flows().DeleteExpired(ctx(t), now)
	must(t, "Flows().DeleteExpired", err)
	if n != 2 {
		t.Errorf("Flows().DeleteExpired = %d, want 2", n)
	}
	n, err = s.Flows().DeleteExpired(ctx(t), now)
	must(t, "Flows().DeleteExpired again", err)
	if n != 0 {
		t.Errorf("Flows().DeleteExpired again = %d, want 0", n)
	}
	checkNoFlow(t, s, "flow expired a microsecond before now", justExpired)
	checkNoFlow(t, s, "flow expired an hour before now", longExpired)
	takeFlow(t, s, "flow expiring exactly now", expiresNowHash, expiresNow)
	takeFlow(t, s, "live flow", liveHash, live)
}

func testFlowLinkUserDeleted(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	keep := createUser(t, s, group.UsersID)
	_, h1 := createFlow(t, s, "p", u.ID, at(0))
	_, h2 := createFlow(t, s, "q", u.ID, at(time.Minute))
	kept, keptHash := createFlow(t, s, "p", keep.ID, at(0))
	login, loginHash := createFlow(t, s, "p", "", at(0))

	must(t, "Users().Delete", s.Users().Delete(ctx(t), u.ID))
	for _, h := range [][]byte{h1, h2} {
		checkNoFlow(t, s, "flow linking a deleted user", h)
	}
	takeFlow(t, s, "another user's link flow", keptHash, kept)
	takeFlow(t, s, "login flow", loginHash, login)
}

// Finishing a login takes its flow and writes what it made in one
// transaction: an error afterwards rolls the Take back with the rest.
func testFlowTakeInAtomic(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	for _, commit := range []bool{false, true} {
		f, hash := createFlow(t, s, p.ID, u.ID, at(0))
		i := newIdentity(p, u, at(time.Minute))
		err := s.Atomic(ctx(t), func(tx auth.Store) error {
			got, err := tx.Flows().Take(ctx(t), hash)
			if err != nil {
				return err
			}
			checkFlow(t, "Take inside Atomic", got, f)
			// Inside the transaction its own Take shows.
			if _, err := tx.Flows().Take(ctx(t), hash); !errors.Is(err, oidc.ErrFlowNotFound) {
				t.Errorf("second Take inside Atomic: %v, want %v", err, oidc.ErrFlowNotFound)
			}
			if err := tx.Identities().Link(ctx(t), i); err != nil {
				return err
			}
			if commit {
				return nil
			}
			return errFn
		})
		if commit {
			must(t, "committed Atomic", err)
			checkNoFlow(t, s, "flow taken in a committed Atomic", hash)
			getIdentity(t, s, "identity linked with the Take", i)
			continue
		}
		if !errors.Is(err, errFn) {
			t.Fatalf("Atomic returned %v, want fn's error %v unchanged", err, errFn)
		}
		checkNoIdentity(t, s, "identity linked in a rolled-back Atomic", i.Issuer, i.Subject)
		takeFlow(t, s, "flow taken in a rolled-back Atomic", hash, f)
	}
}

// Refused writes inside Atomic leave the transaction usable, including
// one the database itself refuses.
func testFlowRefusalsInAtomic(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	taken, takenHash := createFlow(t, s, "p", "", at(0))
	f, hash := newFlow("p", at(time.Minute))
	f.LinkUser = u.ID
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		dup, _ := newFlow("p", at(0))
		if err := tx.Flows().Create(ctx(t), dup, takenHash); err == nil {
			t.Error("Create with a key hash in use inside Atomic succeeded, want an error")
		}
		ghost, ghostHash := newFlow("p", at(0))
		ghost.LinkUser = user.ID(newID())
		checkErr(t, "Create linking an unknown user inside Atomic", tx.Flows().Create(ctx(t), ghost, ghostHash), user.ErrNotFound)
		odd, oddHash := newFlow("p", at(0))
		odd.ReturnTo = "/\x00\xff"
		_ = tx.Flows().Create(ctx(t), odd, oddHash) // kept or refused: either way the transaction goes on
		checkErr(t, "Take of an odd key inside Atomic", errOf(tx.Flows().Take(ctx(t), randomBytes(1000))), oidc.ErrFlowNotFound)
		return tx.Flows().Create(ctx(t), f, hash)
	})
	must(t, "Atomic", err)
	takeFlow(t, s, "created after refusals in the same transaction", hash, f)
	takeFlow(t, s, "the flow whose key hash was refused", takenHash, taken)
}
