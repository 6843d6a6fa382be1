package storetest

import (
	"errors"
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

var challengeTests = []test{
	{"RoundTrip", withTwoFactor(testChallengeRoundTrip)},
	{"NotFound", withTwoFactor(testChallengeNotFound)},
	{"Fail", withTwoFactor(testChallengeFail)},
	{"FailRace", withTwoFactor(testChallengeFailRace)},
	{"Delete", withTwoFactor(testChallengeDelete)},
	{"DeleteRace", withTwoFactor(testChallengeDeleteRace)},
	{"DeleteUser", withTwoFactor(testChallengeDeleteUser)},
	{"DeleteExpired", withTwoFactor(testChallengeDeleteExpired)},
	{"UnknownUser", withTwoFactor(testChallengeUnknownUser)},
	{"UserDeleted", withTwoFactor(testChallengeUserDeleted)},
	{"SecondStepInAtomic", withTwoFactor(testChallengeSecondStepInAtomic)},
}

// newChallenge returns an unsaved challenge of userID, created at created,
// and the SHA-256 of its token.
func newChallenge(userID user.ID, created time.Time) (*auth.ChallengeRecord, []byte) {
	return &auth.ChallengeRecord{
		ID:        newID(),
		UserID:    userID,
		CreatedAt: created,
		ExpiresAt: created.Add(auth.ChallengeTimeout),
		IP:        "198.51.100.23",
		UserAgent: "storetest/1.0 (second step)",
	}, sum("challenge token " + newID())
}

func createChallenge(t *testing.T, tf auth.Store, userID user.ID, created time.Time) (*auth.ChallengeRecord, []byte) {
	t.Helper()
	c, hash := newChallenge(userID, created)
	must(t, "Challenges().Create", tf.Challenges().Create(ctx(t), c, hash))
	return c, hash
}

func checkChallenge(t *testing.T, what string, got, want *auth.ChallengeRecord) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil challenge", what)
		return
	}
	if got.Remember != want.Remember {
		t.Errorf("%s: Remember = %v, want %v", what, got.Remember, want.Remember)
	}
	if got.ID != want.ID || got.UserID != want.UserID || got.Failures != want.Failures ||
		got.IP != want.IP || got.UserAgent != want.UserAgent {
		t.Errorf("%s:\n got  {ID:%s UserID:%s Failures:%d IP:%q UserAgent:%q}\n want {ID:%s UserID:%s Failures:%d IP:%q UserAgent:%q}",
			what, got.ID, got.UserID, got.Failures, got.IP, got.UserAgent,
			want.ID, want.UserID, want.Failures, want.IP, want.UserAgent)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// getChallenge reads the challenge under hash and compares it with want.
func getChallenge(t *testing.T, tf auth.Store, what string, hash []byte, want *auth.ChallengeRecord) {
	t.Helper()
	got, err := tf.Challenges().Get(ctx(t), hash)
	must(t, what+": Challenges().Get", err)
	checkChallenge(t, what, got, want)
}

// checkNoChallenge fails unless nothing is stored under hash.
func checkNoChallenge(t *testing.T, tf auth.Store, what string, hash []byte) {
	t.Helper()
	c, err := tf.Challenges().Get(ctx(t), hash)
	if !errors.Is(err, auth.ErrChallengeNotFound) {
		t.Errorf("%s: Challenges().Get = %+v, %v; want %v", what, c, err, auth.ErrChallengeNotFound)
	}
}

func testChallengeRoundTrip(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createChallenge(t, tf, u.ID, at(0))
	getChallenge(t, tf, "new challenge", hash, c)

	// Every field kept as given; Get does not check expiry.
	odd, oddHash := newChallenge(u.ID, at(-time.Hour))
	odd.ExpiresAt = at(-time.Hour + 5*time.Minute + time.Microsecond)
	odd.Failures = 2
	odd.IP = "2001:db8::7"
	odd.UserAgent = "Mozilla/5.0 (X11; Linux x86_64) «ünïcode»"
	odd.Remember = true
	must(t, "Challenges().Create", tf.Challenges().Create(ctx(t), odd, oddHash))
	getChallenge(t, tf, "expired challenge with failures", oddHash, odd)

	bare, bareHash := newChallenge(u.ID, at(time.Minute))
	bare.IP, bare.UserAgent = "", ""
	must(t, "Challenges().Create", tf.Challenges().Create(ctx(t), bare, bareHash))
	getChallenge(t, tf, "challenge without IP and user agent", bareHash, bare)
	getChallenge(t, tf, "first challenge after others were created", hash, c)
}

func testChallengeNotFound(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createChallenge(t, tf, u.ID, at(0))
	_, sessHash := createSession(t, s, u.ID, at(0))

	for _, h := range [][]byte{sum("unknown token"), nil, {}, hash[:16], sessHash} {
		checkNoChallenge(t, tf, fmt.Sprintf("unknown hash %x", h), h)
	}
	// A challenge token is no session token either.
	_, _, _, err := s.Sessions().Lookup(ctx(t), hash)
	checkErr(t, "Sessions().Lookup(challenge hash)", err, auth.ErrSessionNotFound)

	ghost := newID()
	_, err = tf.Challenges().Fail(ctx(t), ghost)
	checkErr(t, "Challenges().Fail(unknown)", err, auth.ErrChallengeNotFound)
	checkErr(t, "Challenges().Delete(unknown)", tf.Challenges().Delete(ctx(t), ghost), auth.ErrChallengeNotFound)
	getChallenge(t, tf, "challenge after calls on unknown ones", hash, c)
}

func testChallengeFail(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createChallenge(t, tf, u.ID, at(0))
	other, otherHash := createChallenge(t, tf, u.ID, at(time.Second))
	for want := 1; want <= 3; want++ {
		n, err := tf.Challenges().Fail(ctx(t), c.ID)
		must(t, "Challenges().Fail", err)
		if n != want {
			t.Errorf("Challenges().Fail #%d = %d, want %d", want, n, want)
		}
	}
	want := *c
	want.Failures = 3
	getChallenge(t, tf, "challenge after 3 Fails", hash, &want)
	getChallenge(t, tf, "another challenge after Fail", otherHash, other)
}

func testChallengeFailRace(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createChallenge(t, tf, u.ID, at(0))
	counts := make([]int, racers)
	errs := make([]error, racers)
	race(func(i int) { counts[i], errs[i] = tf.Challenges().Fail(ctx(t), c.ID) })
	for i := range racers {
		must(t, fmt.Sprintf("concurrent Challenges().Fail #%d", i), errs[i])
	}
	sorted := slices.Sorted(slices.Values(counts))
	for i, n := range sorted {
		if n != i+1 {
			t.Errorf("%d concurrent Challenges().Fail returned %v, want 1..%d each exactly once", racers, sorted, racers)
			break
		}
	}
	want := *c
	want.Failures = racers
	getChallenge(t, tf, fmt.Sprintf("challenge after %d concurrent Fails", racers), hash, &want)
}

func testChallengeDelete(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createChallenge(t, tf, u.ID, at(0))
	other, otherHash := createChallenge(t, tf, u.ID, at(time.Second))

	must(t, "Challenges().Delete", tf.Challenges().Delete(ctx(t), c.ID))
	checkNoChallenge(t, tf, "after Delete", hash)
	checkErr(t, "Challenges().Delete again", tf.Challenges().Delete(ctx(t), c.ID), auth.ErrChallengeNotFound)
	_, err := tf.Challenges().Fail(ctx(t), c.ID)
	checkErr(t, "Challenges().Fail after Delete", err, auth.ErrChallengeNotFound)
	getChallenge(t, tf, "another challenge after Delete", otherHash, other)
}

func testChallengeDeleteRace(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	c, hash := createChallenge(t, tf, u.ID, at(0))
	errs := make([]error, racers)
	race(func(i int) { errs[i] = tf.Challenges().Delete(ctx(t), c.ID) })
	winners := 0
	for i, err := range errs {
		switch {
		case err == nil:
			winners++
		case !errors.Is(err, auth.ErrChallengeNotFound):
			t.Errorf("concurrent Challenges().Delete #%d: %v, want nil or %v", i, err, auth.ErrChallengeNotFound)
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent Challenges().Delete of one challenge: %d succeeded, want exactly 1", racers, winners)
	}
	checkNoChallenge(t, tf, "after the race", hash)
}

func testChallengeDeleteUser(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	var hashes [][]byte
	for i := range 3 {
		_, h := createChallenge(t, tf, u.ID, at(time.Duration(i)*time.Minute))
		hashes = append(hashes, h)
	}
	kept, keptHash := createChallenge(t, tf, other.ID, at(0))

	n, err := tf.Challenges().DeleteUser(ctx(t), u.ID)
	must(t, "Challenges().DeleteUser", err)
	if n != 3 {
		t.Errorf("Challenges().DeleteUser = %d, want 3", n)
	}
	for _, h := range hashes {
		checkNoChallenge(t, tf, "challenge of a user after DeleteUser", h)
	}
	getChallenge(t, tf, "another user's challenge after DeleteUser", keptHash, kept)

	for _, id := range []user.ID{u.ID, user.ID(newID())} {
		n, err = tf.Challenges().DeleteUser(ctx(t), id)
		must(t, "Challenges().DeleteUser with none", err)
		if n != 0 {
			t.Errorf("Challenges().DeleteUser with none = %d, want 0", n)
		}
	}
}

func testChallengeDeleteExpired(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	now := at(time.Hour)
	mk := func(expires time.Time) (*auth.ChallengeRecord, []byte) {
		c, hash := newChallenge(u.ID, at(0))
		c.ExpiresAt = expires
		must(t, "Challenges().Create", tf.Challenges().Create(ctx(t), c, hash))
		return c, hash
	}
	_, justExpired := mk(now.Add(-time.Microsecond))
	_, longExpired := mk(now.Add(-time.Hour))
	expiresNow, expiresNowHash := mk(now) // not expired before now
	live, liveHash := mk(now.Add(time.Minute))

	n, err := tf.Challenges().DeleteExpired(ctx(t), now)
	must(t, "Challenges().DeleteExpired", err)
	if n != 2 {
		t.Errorf("Challenges().DeleteExpired = %d, want 2", n)
	}
	checkNoChallenge(t, tf, "challenge expired a microsecond before now", justExpired)
	checkNoChallenge(t, tf, "challenge expired an hour before now", longExpired)
	getChallenge(t, tf, "challenge expiring exactly now", expiresNowHash, expiresNow)
	getChallenge(t, tf, "live challenge", liveHash, live)

	n, err = tf.Challenges().DeleteExpired(ctx(t), now)
	must(t, "Challenges().DeleteExpired again", err)
	if n != 0 {
		t.Errorf("Challenges().DeleteExpired again = %d, want 0", n)
	}
}

func testChallengeUnknownUser(t *testing.T, s auth.Store, tf auth.Store) {
	c, hash := newChallenge(user.ID(newID()), at(0))
	checkErr(t, "Challenges().Create for an unknown user", tf.Challenges().Create(ctx(t), c, hash), user.ErrNotFound)
	checkNoChallenge(t, tf, "challenge of an unknown user", hash)
}

func testChallengeUserDeleted(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	keep := createUser(t, s, group.UsersID)
	_, h1 := createChallenge(t, tf, u.ID, at(0))
	_, h2 := createChallenge(t, tf, u.ID, at(time.Minute))
	kept, keptHash := createChallenge(t, tf, keep.ID, at(0))

	must(t, "Users().Delete", s.Users().Delete(ctx(t), u.ID))
	for _, h := range [][]byte{h1, h2} {
		checkNoChallenge(t, tf, "challenge of a deleted user", h)
	}
	n, err := tf.Challenges().DeleteUser(ctx(t), u.ID)
	must(t, "Challenges().DeleteUser of a deleted user", err)
	if n != 0 {
		t.Errorf("Challenges().DeleteUser of a deleted user = %d, want 0: its challenges should be gone", n)
	}
	getChallenge(t, tf, "another user's challenge", keptHash, kept)
}

// The second step of a login consumes the challenge and burns the time step
// (or the recovery code) in one transaction; a wrong answer rolls all of it
// back, a right one commits all of it.
func testChallengeSecondStepInAtomic(t *testing.T, s auth.Store, tf auth.Store) {
	for _, commit := range []bool{false, true} {
		u, cred := enroll(t, s, tf, "k1")
		rs := setRecoveryCodes(t, tf, u.ID, 10)
		ch, hash := createChallenge(t, tf, u.ID, at(0))
		const step = 57_000_010 // above cred.LastStep

		err := s.Atomic(ctx(t), func(tx auth.Store) error {
			ttf := tx
			if err := ttf.Challenges().Delete(ctx(t), ch.ID); err != nil {
				t.Errorf("Challenges().Delete inside Atomic: %v", err)
			}
			if won, err := ttf.TOTP().UseStep(ctx(t), u.ID, step); err != nil || !won {
				t.Errorf("TOTP().UseStep inside Atomic = %v, %v; want true", won, err)
			}
			if used, err := ttf.TOTP().UseRecoveryCode(ctx(t), u.ID, rs.hashes[0]); err != nil || !used {
				t.Errorf("TOTP().UseRecoveryCode inside Atomic = %v, %v; want true", used, err)
			}
			// Inside the transaction its own writes show.
			if _, err := ttf.Challenges().Get(ctx(t), hash); !errors.Is(err, auth.ErrChallengeNotFound) {
				t.Errorf("Challenges().Get inside Atomic after Delete: %v, want %v", err, auth.ErrChallengeNotFound)
			}
			if won, err := ttf.TOTP().UseStep(ctx(t), u.ID, step); err != nil || won {
				t.Errorf("TOTP().UseStep of the same step again inside Atomic = %v, %v; want false", won, err)
			}
			if commit {
				return nil
			}
			return errFn
		})

		want := *cred
		if commit {
			must(t, "committed Atomic", err)
			checkNoChallenge(t, tf, "challenge deleted in a committed Atomic", hash)
			want.LastStep = step
			getCredential(t, tf, "credential after UseStep in a committed Atomic", &want)
			checkCodeRefused(t, tf, "recovery code used in a committed Atomic", u.ID, rs.hashes[0])
			rs.hashes = rs.hashes[1:]
			checkRecoverySet(t, tf, "after a committed Atomic", u.ID, rs)
			continue
		}
		if !errors.Is(err, errFn) {
			t.Fatalf("Atomic returned %v, want fn's error %v unchanged", err, errFn)
		}
		getChallenge(t, tf, "challenge deleted in a rolled-back Atomic", hash, ch)
		getCredential(t, tf, "credential after UseStep in a rolled-back Atomic", &want)
		checkRecoverySet(t, tf, "after a rolled-back Atomic", u.ID, rs)
		// What was rolled back can be done once more, for real.
		if won, err := tf.TOTP().UseStep(ctx(t), u.ID, step); err != nil || !won {
			t.Errorf("TOTP().UseStep of the step burned in a rolled-back Atomic = %v, %v; want true", won, err)
		}
		useCode(t, tf, u.ID, rs, 0)
		must(t, "Challenges().Delete of the challenge deleted in a rolled-back Atomic", tf.Challenges().Delete(ctx(t), ch.ID))
	}
}
