package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

var ceremonyTests = []test{
	{"RoundTrip", testCeremonyRoundTrip},
	{"TakeDeletes", testCeremonyTakeDeletes},
	{"NotFound", testCeremonyNotFound},
	{"KeyHashTaken", testCeremonyKeyHashTaken},
	{"UnknownUser", testCeremonyUnknownUser},
	{"TakeRace", testCeremonyTakeRace},
	{"DeleteExpired", testCeremonyDeleteExpired},
	{"UserDeleted", testCeremonyUserDeleted},
	{"TakeInAtomic", testCeremonyTakeInAtomic},
	{"RefusalsInAtomic", testCeremonyRefusalsInAtomic},
}

// newCeremony returns an unsaved ceremony of kind for userID (empty for
// none), created at created, and the hash of its key.
func newCeremony(kind string, userID user.ID, created time.Time) (*passkey.Ceremony, []byte) {
	return &passkey.Ceremony{
		ID:        newID(),
		Kind:      kind,
		UserID:    userID,
		Data:      []byte(`{"challenge":"` + newID() + `","user_verification":"required"}`),
		CreatedAt: created,
		ExpiresAt: created.Add(passkey.CeremonyTimeout),
	}, sum("ceremony key " + newID())
}

func createCeremony(t *testing.T, s auth.Store, kind string, userID user.ID, created time.Time) (*passkey.Ceremony, []byte) {
	t.Helper()
	c, hash := newCeremony(kind, userID, created)
	must(t, "Ceremonies().Create", s.Ceremonies().Create(ctx(t), c, hash))
	return c, hash
}

func checkCeremony(t *testing.T, what string, got, want *passkey.Ceremony) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil ceremony", what)
		return
	}
	if got.ID != want.ID || got.Kind != want.Kind || got.UserID != want.UserID || got.ChallengeID != want.ChallengeID {
		t.Errorf("%s:\n got  {ID:%s Kind:%q UserID:%q ChallengeID:%q}\n want {ID:%s Kind:%q UserID:%q ChallengeID:%q}",
			what, got.ID, got.Kind, got.UserID, got.ChallengeID, want.ID, want.Kind, want.UserID, want.ChallengeID)
	}
	if !bytes.Equal(got.Data, want.Data) {
		t.Errorf("%s: Data = %x, want %x (byte for byte)", what, got.Data, want.Data)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// takeCeremony takes the ceremony under hash and compares it with want.
func takeCeremony(t *testing.T, s auth.Store, what string, hash []byte, want *passkey.Ceremony) {
	t.Helper()
	got, err := s.Ceremonies().Take(ctx(t), hash)
	must(t, what+": Ceremonies().Take", err)
	checkCeremony(t, what, got, want)
}

// checkNoCeremony fails unless nothing is stored under hash.
func checkNoCeremony(t *testing.T, s auth.Store, what string, hash []byte) {
	t.Helper()
	c, err := s.Ceremonies().Take(ctx(t), hash)
	if !errors.Is(err, passkey.ErrCeremonyNotFound) || c != nil {
		t.Errorf("%s: Ceremonies().Take = %+v, %v; want nil, %v", what, c, err, passkey.ErrCeremonyNotFound)
	}
}

func testCeremonyRoundTrip(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	reg, regHash := createCeremony(t, s, passkey.KindRegister, u.ID, at(0))

	// A passwordless login has no user yet: it comes back as "".
	login, loginHash := newCeremony(passkey.KindLogin, "", at(time.Minute))
	login.Data = randomBytes(4096)
	must(t, "Ceremonies().Create without a user", s.Ceremonies().Create(ctx(t), login, loginHash))

	// Every field kept as given; Take does not check expiry.
	second, secondHash := newCeremony(passkey.KindSecondFactor, u.ID, at(-time.Hour))
	second.ChallengeID = newID()
	second.ExpiresAt = at(-time.Hour + passkey.CeremonyTimeout + time.Microsecond)
	second.Data = []byte{0x00, 0xff, 0x00, '\n', 0x80}
	must(t, "Ceremonies().Create", s.Ceremonies().Create(ctx(t), second, secondHash))

	// No data is stored as empty and comes back empty.
	empty, emptyHash := newCeremony(passkey.KindRegister, u.ID, at(2*time.Minute))
	empty.Data = nil
	must(t, "Ceremonies().Create without data", s.Ceremonies().Create(ctx(t), empty, emptyHash))

	takeCeremony(t, s, "passwordless login ceremony", loginHash, login)
	takeCeremony(t, s, "expired second-factor ceremony", secondHash, second)
	takeCeremony(t, s, "ceremony without data", emptyHash, empty)
	takeCeremony(t, s, "registration ceremony, taken last", regHash, reg)
}

func testCeremonyTakeDeletes(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createCeremony(t, s, passkey.KindRegister, u.ID, at(0))
	other, otherHash := createCeremony(t, s, passkey.KindRegister, u.ID, at(time.Second))
	takeCeremony(t, s, "first Take", hash, c)
	checkNoCeremony(t, s, "second Take of the same key", hash)
	takeCeremony(t, s, "another ceremony of the same user", otherHash, other)
}

func testCeremonyNotFound(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createCeremony(t, s, passkey.KindRegister, u.ID, at(0))
	_, sessHash := createSession(t, s, u.ID, at(0))
	_, chHash := createChallenge(t, s, u.ID, at(0))

	odd := [][]byte{sum("unknown key"), nil, {}, {0x00}, randomBytes(1000), hash[:16], append(bytes.Clone(hash), 0), sessHash, chHash}
	for _, h := range odd {
		checkNoCeremony(t, s, fmt.Sprintf("key hash %.40x (%d bytes)", h, len(h)), h)
	}
	n, err := s.Ceremonies().DeleteExpired(ctx(t), at(0))
	if err != nil || n != 0 {
		t.Errorf("DeleteExpired with nothing expired = %d, %v; want 0, nil", n, err)
	}
	takeCeremony(t, s, "ceremony after Takes of unknown keys", hash, c)
}

func testCeremonyKeyHashTaken(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createCeremony(t, s, passkey.KindRegister, u.ID, at(0))
	for _, owner := range []user.ID{u.ID, ""} {
		dup, _ := newCeremony(passkey.KindLogin, owner, at(time.Minute))
		if err := s.Ceremonies().Create(ctx(t), dup, bytes.Clone(hash)); err == nil {
			t.Errorf("Ceremonies().Create with a key hash in use (user %q) succeeded, want an error", owner)
		}
	}
	takeCeremony(t, s, "the first ceremony under the key hash", hash, c)
	checkNoCeremony(t, s, "after the first was taken", hash)
}

func testCeremonyUnknownUser(t *testing.T, s auth.Store) {
	for _, id := range []user.ID{user.ID(newID()), "bad\xff\x00"} {
		c, hash := newCeremony(passkey.KindRegister, id, at(0))
		checkErr(t, fmt.Sprintf("Ceremonies().Create for unknown user %q", id), s.Ceremonies().Create(ctx(t), c, hash), user.ErrNotFound)
		checkNoCeremony(t, s, "ceremony of an unknown user", hash)
	}
}

func testCeremonyTakeRace(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createCeremony(t, s, passkey.KindRegister, u.ID, at(0))
	got := make([]*passkey.Ceremony, racers)
	errs := make([]error, racers)
	race(func(i int) { got[i], errs[i] = s.Ceremonies().Take(ctx(t), hash) })
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
			checkCeremony(t, fmt.Sprintf("concurrent Take #%d", i), got[i], c)
		case !errors.Is(err, passkey.ErrCeremonyNotFound):
			t.Errorf("concurrent Ceremonies().Take #%d: %v, want nil or %v", i, err, passkey.ErrCeremonyNotFound)
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent Ceremonies().Take of one key: %d got it, want exactly 1", racers, winners)
	}
	checkNoCeremony(t, s, "after the race", hash)
}

func testCeremonyDeleteExpired(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	now := at(time.Hour)
	mk := func(userID user.ID, expires time.Time) (*passkey.Ceremony, []byte) {
		c, hash := newCeremony(passkey.KindLogin, userID, at(0))
		c.ExpiresAt = expires
		must(t, "Ceremonies().Create", s.Ceremonies().Create(ctx(t), c, hash))
		return c, hash
	}
	_, justExpired := mk(u.ID, now.Add(-time.Microsecond))
	_, longExpired := mk("", now.Add(-time.Hour))
	expiresNow, expiresNowHash := mk("", now) // not expired before now
	live, liveHash := mk(u.ID, now.Add(time.Minute))

	n, err := s.Ceremonies().DeleteExpired(ctx(t), now)
	must(t, "Ceremonies().DeleteExpired", err)
	if n != 2 {
		t.Errorf("Ceremonies().DeleteExpired = %d, want 2", n)
	}
	n, err = s.Ceremonies().DeleteExpired(ctx(t), now)
	must(t, "Ceremonies().DeleteExpired again", err)
	if n != 0 {
		t.Errorf("Ceremonies().DeleteExpired again = %d, want 0", n)
	}
	checkNoCeremony(t, s, "ceremony expired a microsecond before now", justExpired)
	checkNoCeremony(t, s, "ceremony expired an hour before now", longExpired)
	takeCeremony(t, s, "ceremony expiring exactly now", expiresNowHash, expiresNow)
	takeCeremony(t, s, "live ceremony", liveHash, live)
}

func testCeremonyUserDeleted(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	keep := createUser(t, s, group.UsersID)
	_, h1 := createCeremony(t, s, passkey.KindRegister, u.ID, at(0))
	second, _ := newCeremony(passkey.KindSecondFactor, u.ID, at(time.Minute))
	second.ChallengeID = newID()
	h2 := sum("ceremony key " + newID())
	must(t, "Ceremonies().Create", s.Ceremonies().Create(ctx(t), second, h2))
	kept, keptHash := createCeremony(t, s, passkey.KindRegister, keep.ID, at(0))
	login, loginHash := createCeremony(t, s, passkey.KindLogin, "", at(0))

	must(t, "Users().Delete", s.Users().Delete(ctx(t), u.ID))
	for _, h := range [][]byte{h1, h2} {
		checkNoCeremony(t, s, "ceremony of a deleted user", h)
	}
	takeCeremony(t, s, "another user's ceremony", keptHash, kept)
	takeCeremony(t, s, "ceremony without a user", loginHash, login)
}

// Finishing a ceremony takes it and writes what it made in one
// transaction: an error afterwards rolls the Take back with the rest.
func testCeremonyTakeInAtomic(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	for _, commit := range []bool{false, true} {
		c, hash := createCeremony(t, s, passkey.KindRegister, u.ID, at(0))
		cred := newPasskey(u.ID, at(time.Minute))
		err := s.Atomic(ctx(t), func(tx auth.Store) error {
			got, err := tx.Ceremonies().Take(ctx(t), hash)
			if err != nil {
				return err
			}
			checkCeremony(t, "Take inside Atomic", got, c)
			// Inside the transaction its own Take shows.
			if _, err := tx.Ceremonies().Take(ctx(t), hash); !errors.Is(err, passkey.ErrCeremonyNotFound) {
				t.Errorf("second Take inside Atomic: %v, want %v", err, passkey.ErrCeremonyNotFound)
			}
			if err := tx.Passkeys().Create(ctx(t), cred); err != nil {
				return err
			}
			if commit {
				return nil
			}
			return errFn
		})
		if commit {
			must(t, "committed Atomic", err)
			checkNoCeremony(t, s, "ceremony taken in a committed Atomic", hash)
			getPasskey(t, s, "passkey created with the Take", cred)
			continue
		}
		if !errors.Is(err, errFn) {
			t.Fatalf("Atomic returned %v, want fn's error %v unchanged", err, errFn)
		}
		checkGone(t, s, "passkey created in a rolled-back Atomic", cred)
		takeCeremony(t, s, "ceremony taken in a rolled-back Atomic", hash, c)
	}
}

// A refused Create inside Atomic leaves the transaction usable.
func testCeremonyRefusalsInAtomic(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	taken, takenHash := createCeremony(t, s, passkey.KindLogin, "", at(0))
	c, hash := newCeremony(passkey.KindRegister, u.ID, at(time.Minute))
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		dup, _ := newCeremony(passkey.KindRegister, u.ID, at(0))
		if err := tx.Ceremonies().Create(ctx(t), dup, takenHash); err == nil {
			t.Error("Create with a key hash in use inside Atomic succeeded, want an error")
		}
		ghost, ghostHash := newCeremony(passkey.KindRegister, user.ID(newID()), at(0))
		checkErr(t, "Create for an unknown user inside Atomic", tx.Ceremonies().Create(ctx(t), ghost, ghostHash), user.ErrNotFound)
		checkErr(t, "Take of an odd key inside Atomic", errOf(tx.Ceremonies().Take(ctx(t), randomBytes(1000))), passkey.ErrCeremonyNotFound)
		return tx.Ceremonies().Create(ctx(t), c, hash)
	})
	must(t, "Atomic", err)
	takeCeremony(t, s, "created after refusals in the same transaction", hash, c)
	takeCeremony(t, s, "the ceremony whose key hash was refused", takenHash, taken)
}

// errOf returns the error of a call that returns a value and an error.
func errOf[T any](_ T, err error) error { return err }
