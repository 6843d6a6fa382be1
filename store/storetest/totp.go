package storetest

import (
	"bytes"
	"crypto/rand"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

var totpTests = []test{
	{"NotEnrolled", withTwoFactor(testTOTPNotEnrolled)},
	{"RoundTrip", withTwoFactor(testTOTPRoundTrip)},
	{"PutReplaces", withTwoFactor(testTOTPPutReplaces)},
	{"PutUnknownUser", withTwoFactor(testTOTPPutUnknownUser)},
	{"Confirm", withTwoFactor(testTOTPConfirm)},
	{"Delete", withTwoFactor(testTOTPDelete)},
	{"UseStep", withTwoFactor(testTOTPUseStep)},
	{"UseStepSameStepRace", withTwoFactor(testTOTPUseStepSameStepRace)},
	{"UseStepForwardRace", withTwoFactor(testTOTPUseStepForwardRace)},
	{"Sealed", withTwoFactor(testTOTPSealed)},
	{"SealedPaging", withTwoFactor(testTOTPSealedPaging)},
	{"SealedCursor", withTwoFactor(testTOTPSealedCursor)},
	{"CountRecoverySets", withTwoFactor(testCountRecoverySets)},
	{"Reseal", withTwoFactor(testTOTPReseal)},
	{"UserDeleted", withTwoFactor(testTOTPUserDeleted)},
}

// withTwoFactor adapts a test of the second-factor parts of an auth.Store
// (TOTP and Challenges), which it names tf.
func withTwoFactor(run func(t *testing.T, s auth.Store, tf auth.Store)) func(*testing.T, auth.Store) {
	return func(t *testing.T, s auth.Store) { run(t, s, s) }
}

// racers is how many goroutines a second-factor race starts.
const racers = 20

// race runs fn in racers goroutines released together and waits for all.
func race(fn func(i int)) {
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range racers {
		wg.Go(func() {
			<-start
			fn(i)
		})
	}
	close(start)
	wg.Wait()
}

// randomBytes returns n random bytes that start with 0x00 and 0xff, so a
// store that mangles binary data shows it.
func randomBytes(n int) []byte {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	b[0], b[1] = 0x00, 0xff
	return b
}

// newCredential returns an unsaved, pending credential of id.
func newCredential(id user.ID, keyID string) *totp.Credential {
	return &totp.Credential{
		UserID:    id,
		KeyID:     keyID,
		Sealed:    randomBytes(60),
		LastStep:  57_000_000,
		CreatedAt: at(-time.Hour),
	}
}

// enroll saves a pending credential for a new user and returns both.
func enroll(t *testing.T, s auth.Store, tf auth.Store, keyID string) (*user.User, *totp.Credential) {
	t.Helper()
	u := createUser(t, s, group.UsersID)
	c := newCredential(u.ID, keyID)
	must(t, "TOTP().Put", tf.TOTP().Put(ctx(t), c))
	return u, c
}

func checkCredential(t *testing.T, what string, got, want *totp.Credential) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil credential", what)
		return
	}
	if got.UserID != want.UserID || got.KeyID != want.KeyID || got.LastStep != want.LastStep {
		t.Errorf("%s:\n got  {UserID:%s KeyID:%q LastStep:%d}\n want {UserID:%s KeyID:%q LastStep:%d}",
			what, got.UserID, got.KeyID, got.LastStep, want.UserID, want.KeyID, want.LastStep)
	}
	if !bytes.Equal(got.Sealed, want.Sealed) {
		t.Errorf("%s: Sealed = %x, want %x", what, got.Sealed, want.Sealed)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": ConfirmedAt", got.ConfirmedAt, want.ConfirmedAt)
	if got.Confirmed() != want.Confirmed() {
		t.Errorf("%s: Confirmed() = %v, want %v", what, got.Confirmed(), want.Confirmed())
	}
}

// getCredential reads id's credential and compares it with want.
func getCredential(t *testing.T, tf auth.Store, what string, want *totp.Credential) {
	t.Helper()
	got, err := tf.TOTP().Get(ctx(t), want.UserID)
	must(t, what+": TOTP().Get", err)
	checkCredential(t, what, got, want)
}

// checkNotEnrolled fails unless id has no credential.
func checkNotEnrolled(t *testing.T, tf auth.Store, what string, id user.ID) {
	t.Helper()
	c, err := tf.TOTP().Get(ctx(t), id)
	if !errors.Is(err, totp.ErrNotEnrolled) {
		t.Errorf("%s: TOTP().Get = %+v, %v; want %v", what, c, err, totp.ErrNotEnrolled)
	}
}

// checkNotDone fails unless a call that reports whether it did something
// (UseStep, Reseal, UseRecoveryCode) did nothing. For a user without a
// credential the contract allows either false with no error or
// ErrNotEnrolled.
func checkNotDone(t *testing.T, what string, done bool, err error) {
	t.Helper()
	if done || (err != nil && !errors.Is(err, totp.ErrNotEnrolled)) {
		t.Errorf("%s = %v, %v; want false (with no error or %v)", what, done, err, totp.ErrNotEnrolled)
	}
}

func testTOTPNotEnrolled(t *testing.T, s auth.Store, tf auth.Store) {
	ts := tf.TOTP()
	u := createUser(t, s, group.UsersID)
	for _, id := range []user.ID{u.ID, user.ID(newID())} {
		checkNotEnrolled(t, tf, "user without a credential", id)
		checkErr(t, "TOTP().Confirm of a user without a credential", ts.Confirm(ctx(t), id, at(0)), totp.ErrNotEnrolled)
		must(t, "TOTP().Delete of a user without a credential", ts.Delete(ctx(t), id))
		ok, err := ts.UseStep(ctx(t), id, 1)
		checkNotDone(t, "TOTP().UseStep of a user without a credential", ok, err)
		ok, err = ts.Reseal(ctx(t), id, "k1", "k2", randomBytes(8))
		checkNotDone(t, "TOTP().Reseal of a user without a credential", ok, err)
		// None of these made a credential.
		checkNotEnrolled(t, tf, "after calls on a user without a credential", id)
	}
	// A credential of another user is no credential of this one.
	_, c := enroll(t, s, tf, "k1")
	checkNotEnrolled(t, tf, "user beside an enrolled one", u.ID)
	getCredential(t, tf, "enrolled user", c)
}

func testTOTPRoundTrip(t *testing.T, s auth.Store, tf auth.Store) {
	_, pending := enroll(t, s, tf, "k1")
	getCredential(t, tf, "pending credential", pending)

	u := createUser(t, s, group.UsersID)
	confirmed := newCredential(u.ID, "key-2024-05")
	confirmed.LastStep = 1 << 40
	confirmed.CreatedAt = at(-48 * time.Hour)
	confirmed.ConfirmedAt = at(-47*time.Hour + time.Microsecond)
	must(t, "TOTP().Put", tf.TOTP().Put(ctx(t), confirmed))
	getCredential(t, tf, "confirmed credential", confirmed)

	got, err := tf.TOTP().Get(ctx(t), pending.UserID)
	must(t, "TOTP().Get", err)
	if got.Confirmed() {
		t.Errorf("pending credential: Confirmed() = true, ConfirmedAt %v; want false and the zero time", got.ConfirmedAt)
	}
}

func testTOTPPutReplaces(t *testing.T, s auth.Store, tf auth.Store) {
	u, first := enroll(t, s, tf, "k1")
	_, other := enroll(t, s, tf, "k1")
	must(t, "TOTP().Confirm", tf.TOTP().Confirm(ctx(t), u.ID, at(time.Hour)))

	// Re-enrolling: a new pending credential replaces the confirmed one,
	// every field of it, LastStep and ConfirmedAt included.
	second := newCredential(u.ID, "k2")
	second.LastStep = 0
	second.CreatedAt = at(24 * time.Hour)
	must(t, "TOTP().Put over a confirmed credential", tf.TOTP().Put(ctx(t), second))
	getCredential(t, tf, "credential after Put replaced it", second)
	if bytes.Equal(first.Sealed, second.Sealed) {
		t.Fatal("storetest: two credentials got the same random secret")
	}

	third := newCredential(u.ID, "k3")
	third.ConfirmedAt = at(25 * time.Hour)
	must(t, "TOTP().Put over a pending credential", tf.TOTP().Put(ctx(t), third))
	getCredential(t, tf, "credential after a second Put", third)
	getCredential(t, tf, "another user's credential after Put", other)
}

func testTOTPPutUnknownUser(t *testing.T, s auth.Store, tf auth.Store) {
	c := newCredential(user.ID(newID()), "k1")
	checkErr(t, "TOTP().Put for an unknown user", tf.TOTP().Put(ctx(t), c), user.ErrNotFound)
	checkNotEnrolled(t, tf, "unknown user after Put", c.UserID)
}

func testTOTPConfirm(t *testing.T, s auth.Store, tf auth.Store) {
	u, c := enroll(t, s, tf, "k1")
	_, other := enroll(t, s, tf, "k1")
	when := at(90*time.Second + time.Microsecond)
	must(t, "TOTP().Confirm", tf.TOTP().Confirm(ctx(t), u.ID, when))
	want := *c
	want.ConfirmedAt = when
	getCredential(t, tf, "credential after Confirm", &want)
	getCredential(t, tf, "another user's credential after Confirm", other)
}

func testTOTPDelete(t *testing.T, s auth.Store, tf auth.Store) {
	ts := tf.TOTP()
	u, _ := enroll(t, s, tf, "k1")
	must(t, "TOTP().Confirm", ts.Confirm(ctx(t), u.ID, at(0)))
	set := setRecoveryCodes(t, tf, u.ID, 10)
	other, otherC := enroll(t, s, tf, "k1")
	otherSet := setRecoveryCodes(t, tf, other.ID, 10)

	must(t, "TOTP().Delete", ts.Delete(ctx(t), u.ID))
	checkNotEnrolled(t, tf, "after Delete", u.ID)
	checkNoRecoveryCodes(t, tf, "after TOTP().Delete", u.ID, set)
	must(t, "TOTP().Delete again", ts.Delete(ctx(t), u.ID))
	checkNotEnrolled(t, tf, "after Delete again", u.ID)

	getCredential(t, tf, "another user's credential after Delete", otherC)
	checkRecoverySet(t, tf, "another user's codes after Delete", other.ID, otherSet)
}

func testTOTPUseStep(t *testing.T, s auth.Store, tf auth.Store) {
	ts := tf.TOTP()
	u, c := enroll(t, s, tf, "k1")
	c.LastStep = 0
	must(t, "TOTP().Put", ts.Put(ctx(t), c))
	_, other := enroll(t, s, tf, "k1")

	steps := []struct {
		name     string
		step     int64
		want     bool
		wantLast int64
	}{
		{"first step", 5, true, 5},
		{"same step again", 5, false, 5},
		{"earlier step", 4, false, 5},
		{"next step", 6, true, 6},
		{"step zero", 0, false, 6},
		{"far ahead", 1 << 40, true, 1 << 40},
		{"back to a step once accepted", 6, false, 1 << 40},
	}
	for _, st := range steps {
		ok, err := ts.UseStep(ctx(t), u.ID, st.step)
		must(t, "TOTP().UseStep ("+st.name+")", err)
		if ok != st.want {
			t.Errorf("TOTP().UseStep(%d) (%s) = %v, want %v", st.step, st.name, ok, st.want)
		}
		want := *c
		want.LastStep = st.wantLast
		getCredential(t, tf, "credential after UseStep ("+st.name+")", &want)
	}
	getCredential(t, tf, "another user's credential after UseStep", other)
}

func testTOTPUseStepSameStepRace(t *testing.T, s auth.Store, tf auth.Store) {
	u, c := enroll(t, s, tf, "k1")
	const step = 57_000_001 // c.LastStep + 1
	won := make([]bool, racers)
	errs := make([]error, racers)
	race(func(i int) { won[i], errs[i] = tf.TOTP().UseStep(ctx(t), u.ID, step) })
	winners := 0
	for i := range racers {
		must(t, fmt.Sprintf("concurrent UseStep #%d", i), errs[i])
		if won[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent UseStep(%d): %d returned true, want exactly 1", racers, step, winners)
	}
	want := *c
	want.LastStep = step
	getCredential(t, tf, "credential after the race", &want)
}

func testTOTPUseStepForwardRace(t *testing.T, s auth.Store, tf auth.Store) {
	u, c := enroll(t, s, tf, "k1")
	c.LastStep = 0
	must(t, "TOTP().Put", tf.TOTP().Put(ctx(t), c))
	won := make([]bool, racers)
	errs := make([]error, racers)
	race(func(i int) { won[i], errs[i] = tf.TOTP().UseStep(ctx(t), u.ID, int64(i+1)) })
	for i := range racers {
		must(t, fmt.Sprintf("concurrent UseStep(%d)", i+1), errs[i])
	}
	// Nothing is above the last step: whenever it ran, it moved forward.
	if !won[racers-1] {
		t.Errorf("concurrent UseStep(%d), the highest step, returned false; want true", racers)
	}
	want := *c
	want.LastStep = racers
	getCredential(t, tf, fmt.Sprintf("credential after UseStep of steps 1..%d at once", racers), &want)
}

func testTOTPSealed(t *testing.T, s auth.Store, tf auth.Store) {
	byKey := map[string][]*totp.Credential{}
	for _, k := range []string{"k1", "k1", "k1", "k2", "k2", "k3", "k3"} {
		_, c := enroll(t, s, tf, k)
		byKey[k] = append(byKey[k], c)
	}
	// A confirmed one is listed like a pending one.
	confirmed := byKey["k1"][0]
	confirmed.ConfirmedAt = at(time.Minute)
	must(t, "TOTP().Confirm", tf.TOTP().Confirm(ctx(t), confirmed.UserID, confirmed.ConfirmedAt))

	cases := []struct {
		notKeyID string
		want     []*totp.Credential
	}{
		{"k3", slices.Concat(byKey["k1"], byKey["k2"])},
		{"k1", slices.Concat(byKey["k2"], byKey["k3"])},
		{"unused", slices.Concat(byKey["k1"], byKey["k2"], byKey["k3"])},
	}
	for _, c := range cases {
		got, err := tf.TOTP().Sealed(ctx(t), c.notKeyID, "", 100)
		must(t, "TOTP().Sealed", err)
		checkCredentialSet(t, fmt.Sprintf("TOTP().Sealed(%q, 100)", c.notKeyID), got, c.want)
	}

	all := slices.Concat(byKey["k1"], byKey["k2"])
	for _, limit := range []int{1, 2, 4} {
		got, err := tf.TOTP().Sealed(ctx(t), "k3", "", limit)
		must(t, "TOTP().Sealed", err)
		what := fmt.Sprintf("TOTP().Sealed(%q, %d)", "k3", limit)
		if len(got) == 0 || len(got) > limit {
			t.Errorf("%s = %d credentials, want 1..%d of the %d there are", what, len(got), limit, len(all))
		}
		checkCredentialSubset(t, what, got, all)
	}
}

// checkCredentialSet compares credentials in any order.
func checkCredentialSet(t *testing.T, what string, got []totp.Credential, want []*totp.Credential) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s = %d credentials %v, want %d %v", what, len(got), credentialUsers(got), len(want), credentialPtrUsers(want))
	}
	checkCredentialSubset(t, what, got, want)
}

// checkCredentialSubset checks that got holds distinct members of want.
func checkCredentialSubset(t *testing.T, what string, got []totp.Credential, want []*totp.Credential) {
	t.Helper()
	seen := map[user.ID]bool{}
	for i := range got {
		c := &got[i]
		if seen[c.UserID] {
			t.Errorf("%s lists user %s twice", what, c.UserID)
		}
		seen[c.UserID] = true
		j := slices.IndexFunc(want, func(w *totp.Credential) bool { return w.UserID == c.UserID })
		if j < 0 {
			t.Errorf("%s lists user %s (KeyID %q), want only %v", what, c.UserID, c.KeyID, credentialPtrUsers(want))
			continue
		}
		checkCredential(t, what+" entry", c, want[j])
	}
}

func credentialUsers(cs []totp.Credential) []user.ID {
	var ids []user.ID
	for _, c := range cs {
		ids = append(ids, c.UserID)
	}
	return ids
}

func credentialPtrUsers(cs []*totp.Credential) []user.ID {
	var ids []user.ID
	for _, c := range cs {
		ids = append(ids, c.UserID)
	}
	return ids
}

// The way a key rotation uses Sealed: list a batch, re-seal it, repeat
// until the list comes back empty.
func testTOTPSealedPaging(t *testing.T, s auth.Store, tf auth.Store) {
	var old []*totp.Credential
	for _, k := range []string{"k1", "k2", "k1", "k2", "k1"} {
		_, c := enroll(t, s, tf, k)
		old = append(old, c)
	}
	_, current := enroll(t, s, tf, "k3")
	const limit = 2
	moved := map[user.ID][]byte{}
	for round := 0; ; round++ {
		if round > len(old) {
			t.Fatalf("key rotation did not finish in %d rounds of Sealed(%q, %d) and Reseal; moved %d of %d",
				round, "k3", limit, len(moved), len(old))
		}
		batch, err := tf.TOTP().Sealed(ctx(t), "k3", "", limit)
		must(t, "TOTP().Sealed", err)
		if len(batch) > limit {
			t.Fatalf("TOTP().Sealed(%q, %d) = %d credentials, more than the limit", "k3", limit, len(batch))
		}
		if len(batch) == 0 {
			break
		}
		for _, c := range batch {
			sealed := randomBytes(60)
			ok, err := tf.TOTP().Reseal(ctx(t), c.UserID, c.KeyID, "k3", sealed)
			must(t, "TOTP().Reseal", err)
			if !ok {
				t.Fatalf("TOTP().Reseal(%s, %q, %q) of a credential Sealed just listed = false, want true", c.UserID, c.KeyID, "k3")
			}
			moved[c.UserID] = sealed
		}
	}
	if len(moved) != len(old) {
		t.Errorf("key rotation moved %d credentials, want %d", len(moved), len(old))
	}
	for _, c := range old {
		want := *c
		want.KeyID, want.Sealed = "k3", moved[c.UserID]
		getCredential(t, tf, "credential after key rotation", &want)
	}
	getCredential(t, tf, "credential already under the current key", current)
}

func testTOTPReseal(t *testing.T, s auth.Store, tf auth.Store) {
	ts := tf.TOTP()
	u, c := enroll(t, s, tf, "k1")
	c.ConfirmedAt = at(time.Minute)
	must(t, "TOTP().Confirm", ts.Confirm(ctx(t), u.ID, c.ConfirmedAt))
	_, other := enroll(t, s, tf, "k1")

	ok, err := ts.Reseal(ctx(t), u.ID, "k2", "k3", randomBytes(60))
	must(t, "TOTP().Reseal under the wrong old key", err)
	if ok {
		t.Errorf("TOTP().Reseal(%q→%q) of a credential under %q = true, want false", "k2", "k3", "k1")
	}
	getCredential(t, tf, "credential after Reseal under the wrong old key", c)

	sealed := randomBytes(60)
	ok, err = ts.Reseal(ctx(t), u.ID, "k1", "k2", sealed)
	must(t, "TOTP().Reseal", err)
	if !ok {
		t.Errorf("TOTP().Reseal(%q→%q) of a credential under %q = false, want true", "k1", "k2", "k1")
	}
	want := *c
	want.KeyID, want.Sealed = "k2", sealed
	getCredential(t, tf, "credential after Reseal", &want)

	// A second rotator that read the credential before the first one
	// re-sealed it loses.
	ok, err = ts.Reseal(ctx(t), u.ID, "k1", "k9", randomBytes(60))
	must(t, "TOTP().Reseal again from the old key", err)
	if ok {
		t.Errorf("TOTP().Reseal from %q after the credential moved to %q = true, want false", "k1", "k2")
	}
	getCredential(t, tf, "credential after a stale Reseal", &want)
	getCredential(t, tf, "another user's credential after Reseal", other)
}

func testTOTPUserDeleted(t *testing.T, s auth.Store, tf auth.Store) {
	u, _ := enroll(t, s, tf, "k1")
	must(t, "TOTP().Confirm", tf.TOTP().Confirm(ctx(t), u.ID, at(0)))
	set := setRecoveryCodes(t, tf, u.ID, 10)
	keep, keepC := enroll(t, s, tf, "k1")
	keepSet := setRecoveryCodes(t, tf, keep.ID, 10)

	must(t, "Users().Delete", s.Users().Delete(ctx(t), u.ID))
	checkNotEnrolled(t, tf, "deleted user", u.ID)
	checkNoRecoveryCodes(t, tf, "deleted user", u.ID, set)
	listed, err := tf.TOTP().Sealed(ctx(t), "unused", "", 100)
	must(t, "TOTP().Sealed", err)
	checkCredentialSet(t, "TOTP().Sealed after a user was deleted", listed, []*totp.Credential{keepC})

	getCredential(t, tf, "another user's credential", keepC)
	checkRecoverySet(t, tf, "another user's codes", keep.ID, keepSet)
}

var recoveryTests = []test{
	{"None", withTwoFactor(testRecoveryNone)},
	{"RoundTrip", withTwoFactor(testRecoveryRoundTrip)},
	{"WithoutCredential", withTwoFactor(testRecoveryWithoutCredential)},
	{"Use", withTwoFactor(testRecoveryUse)},
	{"Replace", withTwoFactor(testRecoveryReplace)},
	{"Delete", withTwoFactor(testRecoveryDelete)},
	{"UseRace", withTwoFactor(testRecoveryUseRace)},
	{"SetRollback", withTwoFactor(testRecoverySetRollback)},
}

// recoverySet is what SetRecoveryCodes stored: hashes holds the codes not
// used yet.
type recoverySet struct {
	keyID  string
	salt   []byte
	hashes [][]byte
}

func newRecoverySet(keyID string, n int) *recoverySet {
	rs := &recoverySet{keyID: keyID, salt: randomBytes(16)}
	for range n {
		rs.hashes = append(rs.hashes, sum("recovery code "+newID()))
	}
	return rs
}

// setRecoveryCodes stores a new set of n codes under key "rk1" for id.
func setRecoveryCodes(t *testing.T, tf auth.Store, id user.ID, n int) *recoverySet {
	t.Helper()
	rs := newRecoverySet("rk1", n)
	must(t, "TOTP().SetRecoveryCodes", tf.TOTP().SetRecoveryCodes(ctx(t), id, rs.keyID, rs.salt, rs.hashes))
	return rs
}

// checkRecoverySet checks id's salt, key ID and count of codes left
// against want, without using any code.
func checkRecoverySet(t *testing.T, tf auth.Store, what string, id user.ID, want *recoverySet) {
	t.Helper()
	salt, keyID, err := tf.TOTP().RecoverySet(ctx(t), id)
	must(t, what+": TOTP().RecoverySet", err)
	if !bytes.Equal(salt, want.salt) || keyID != want.keyID {
		t.Errorf("%s: TOTP().RecoverySet = %x, %q; want %x, %q", what, salt, keyID, want.salt, want.keyID)
	}
	n, err := tf.TOTP().RecoveryCodesLeft(ctx(t), id)
	must(t, what+": TOTP().RecoveryCodesLeft", err)
	if n != len(want.hashes) {
		t.Errorf("%s: TOTP().RecoveryCodesLeft = %d, want %d", what, n, len(want.hashes))
	}
}

// checkNoRecoveryCodes checks that id has no set and that none of old's
// codes works.
func checkNoRecoveryCodes(t *testing.T, tf auth.Store, what string, id user.ID, old *recoverySet) {
	t.Helper()
	salt, keyID, err := tf.TOTP().RecoverySet(ctx(t), id)
	if salt != nil || keyID != "" || err != nil {
		t.Errorf("%s: TOTP().RecoverySet = %x, %q, %v; want a nil salt, \"\" and no error", what, salt, keyID, err)
	}
	n, err := tf.TOTP().RecoveryCodesLeft(ctx(t), id)
	if n != 0 || err != nil {
		t.Errorf("%s: TOTP().RecoveryCodesLeft = %d, %v; want 0 and no error", what, n, err)
	}
	if old == nil {
		return
	}
	for _, h := range old.hashes {
		ok, err := tf.TOTP().UseRecoveryCode(ctx(t), id, h)
		checkNotDone(t, what+": TOTP().UseRecoveryCode of a removed code", ok, err)
	}
}

// useCode uses the i-th code left in rs, wanting true, and drops it.
func useCode(t *testing.T, tf auth.Store, id user.ID, rs *recoverySet, i int) {
	t.Helper()
	ok, err := tf.TOTP().UseRecoveryCode(ctx(t), id, rs.hashes[i])
	must(t, "TOTP().UseRecoveryCode", err)
	if !ok {
		t.Errorf("TOTP().UseRecoveryCode of an unused code = false, want true")
	}
	rs.hashes = slices.Delete(rs.hashes, i, i+1)
}

// checkCodeRefused wants UseRecoveryCode(id, hash) to be false, no error.
func checkCodeRefused(t *testing.T, tf auth.Store, what string, id user.ID, hash []byte) {
	t.Helper()
	ok, err := tf.TOTP().UseRecoveryCode(ctx(t), id, hash)
	must(t, what+": TOTP().UseRecoveryCode", err)
	if ok {
		t.Errorf("%s: TOTP().UseRecoveryCode = true, want false", what)
	}
}

func testRecoveryNone(t *testing.T, s auth.Store, tf auth.Store) {
	u, _ := enroll(t, s, tf, "k1")
	checkNoRecoveryCodes(t, tf, "user without codes", u.ID, nil)
	checkCodeRefused(t, tf, "user without codes", u.ID, sum("no such code"))
	must(t, "TOTP().DeleteRecoveryCodes of a user without codes", tf.TOTP().DeleteRecoveryCodes(ctx(t), u.ID))
	checkNoRecoveryCodes(t, tf, "user without codes after DeleteRecoveryCodes", u.ID, nil)
}

func testRecoveryRoundTrip(t *testing.T, s auth.Store, tf auth.Store) {
	u, _ := enroll(t, s, tf, "k1")
	rs := newRecoverySet("key-2024-05", 10)
	must(t, "TOTP().SetRecoveryCodes", tf.TOTP().SetRecoveryCodes(ctx(t), u.ID, rs.keyID, rs.salt, rs.hashes))
	checkRecoverySet(t, tf, "after SetRecoveryCodes", u.ID, rs)
	other, _ := enroll(t, s, tf, "k1")
	checkNoRecoveryCodes(t, tf, "another user", other.ID, nil)
}

// SetRecoveryCodes needs no credential (regenerating codes does not
// touch the TOTP secret, and the Manager may write them first).
func testRecoveryWithoutCredential(t *testing.T, s auth.Store, tf auth.Store) {
	u := createUser(t, s, group.UsersID)
	rs := setRecoveryCodes(t, tf, u.ID, 10)
	checkRecoverySet(t, tf, "user without a credential", u.ID, rs)
	checkNotEnrolled(t, tf, "after SetRecoveryCodes", u.ID)
}

func testRecoveryUse(t *testing.T, s auth.Store, tf auth.Store) {
	u, _ := enroll(t, s, tf, "k1")
	rs := setRecoveryCodes(t, tf, u.ID, 10)
	other, _ := enroll(t, s, tf, "k1")
	otherSet := setRecoveryCodes(t, tf, other.ID, 10)

	used := rs.hashes[3]
	useCode(t, tf, u.ID, rs, 3)
	checkCodeRefused(t, tf, "a code used once already", u.ID, used)
	checkRecoverySet(t, tf, "after one code was used", u.ID, rs)

	for _, h := range [][]byte{sum("wrong code"), nil, {}, rs.hashes[0][:16], otherSet.hashes[0]} {
		checkCodeRefused(t, tf, fmt.Sprintf("wrong hash %x", h), u.ID, h)
	}
	// The other user's code is still theirs.
	checkRecoverySet(t, tf, "after the other user's code was tried", other.ID, otherSet)
	checkRecoverySet(t, tf, "after wrong codes", u.ID, rs)
	useCode(t, tf, other.ID, otherSet, 0)

	for len(rs.hashes) > 0 {
		useCode(t, tf, u.ID, rs, len(rs.hashes)-1)
	}
	// Whether the spent set still has a salt the contract leaves open; the
	// count must be 0.
	n, err := tf.TOTP().RecoveryCodesLeft(ctx(t), u.ID)
	must(t, "TOTP().RecoveryCodesLeft", err)
	if n != 0 {
		t.Errorf("TOTP().RecoveryCodesLeft after every code was used = %d, want 0", n)
	}
	checkRecoverySet(t, tf, "the other user's codes", other.ID, otherSet)
}

func testRecoveryReplace(t *testing.T, s auth.Store, tf auth.Store) {
	u, _ := enroll(t, s, tf, "k1")
	old := setRecoveryCodes(t, tf, u.ID, 10)
	useCode(t, tf, u.ID, old, 0)

	rs := newRecoverySet("rk2", 8)
	must(t, "TOTP().SetRecoveryCodes again", tf.TOTP().SetRecoveryCodes(ctx(t), u.ID, rs.keyID, rs.salt, rs.hashes))
	checkRecoverySet(t, tf, "after SetRecoveryCodes replaced the set", u.ID, rs)
	for _, h := range old.hashes {
		checkCodeRefused(t, tf, "a code of the replaced set", u.ID, h)
	}
	checkRecoverySet(t, tf, "after codes of the replaced set were tried", u.ID, rs)
	useCode(t, tf, u.ID, rs, 0)
	checkRecoverySet(t, tf, "after a code of the new set was used", u.ID, rs)
}

func testRecoveryDelete(t *testing.T, s auth.Store, tf auth.Store) {
	u, c := enroll(t, s, tf, "k1")
	rs := setRecoveryCodes(t, tf, u.ID, 10)
	other, _ := enroll(t, s, tf, "k1")
	otherSet := setRecoveryCodes(t, tf, other.ID, 10)

	must(t, "TOTP().DeleteRecoveryCodes", tf.TOTP().DeleteRecoveryCodes(ctx(t), u.ID))
	checkNoRecoveryCodes(t, tf, "after DeleteRecoveryCodes", u.ID, rs)
	must(t, "TOTP().DeleteRecoveryCodes again", tf.TOTP().DeleteRecoveryCodes(ctx(t), u.ID))
	getCredential(t, tf, "credential after DeleteRecoveryCodes", c)
	checkRecoverySet(t, tf, "another user's codes after DeleteRecoveryCodes", other.ID, otherSet)
}

func testRecoveryUseRace(t *testing.T, s auth.Store, tf auth.Store) {
	u, _ := enroll(t, s, tf, "k1")
	rs := setRecoveryCodes(t, tf, u.ID, 10)
	hash := rs.hashes[4]
	won := make([]bool, racers)
	errs := make([]error, racers)
	race(func(i int) { won[i], errs[i] = tf.TOTP().UseRecoveryCode(ctx(t), u.ID, hash) })
	winners := 0
	for i := range racers {
		must(t, fmt.Sprintf("concurrent UseRecoveryCode #%d", i), errs[i])
		if won[i] {
			winners++
		}
	}
	if winners != 1 {
		t.Errorf("%d concurrent UseRecoveryCode of one code: %d returned true, want exactly 1", racers, winners)
	}
	rs.hashes = slices.Delete(rs.hashes, 4, 5)
	checkRecoverySet(t, tf, "after the race", u.ID, rs)
}

// SetRecoveryCodes may take several statements; inside an Atomic that
// fails, none of them stays.
func testRecoverySetRollback(t *testing.T, s auth.Store, tf auth.Store) {
	u, _ := enroll(t, s, tf, "k1")
	old := setRecoveryCodes(t, tf, u.ID, 10)
	fresh := createUser(t, s, group.UsersID)
	replacement, first := newRecoverySet("rk2", 8), newRecoverySet("rk2", 8)

	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		ttf := tx
		if err := ttf.TOTP().SetRecoveryCodes(ctx(t), u.ID, replacement.keyID, replacement.salt, replacement.hashes); err != nil {
			t.Errorf("TOTP().SetRecoveryCodes (replacing) inside Atomic: %v", err)
		}
		if err := ttf.TOTP().SetRecoveryCodes(ctx(t), fresh.ID, first.keyID, first.salt, first.hashes); err != nil {
			t.Errorf("TOTP().SetRecoveryCodes (first set) inside Atomic: %v", err)
		}
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Fatalf("Atomic returned %v, want fn's error %v unchanged", err, errFn)
	}
	checkRecoverySet(t, tf, "codes replaced in a rolled-back Atomic", u.ID, old)
	checkCodeRefused(t, tf, "a code of a set written in a rolled-back Atomic", u.ID, replacement.hashes[0])
	useCode(t, tf, u.ID, old, 0)
	checkNoRecoveryCodes(t, tf, "first set written in a rolled-back Atomic", fresh.ID, first)
}

// Sealed pages by user ID: following the last ID of each page visits every
// credential not under the key exactly once, even ones that are never
// re-sealed (a key the caller does not have).
func testTOTPSealedCursor(t *testing.T, s auth.Store, tf auth.Store) {
	want := map[user.ID]bool{}
	for _, k := range []string{"k1", "k2", "k1", "k2", "k1", "k3"} {
		_, c := enroll(t, s, tf, k)
		if k != "k3" {
			want[c.UserID] = true
		}
	}
	seen := map[user.ID]bool{}
	var after user.ID
	for round := 0; round <= len(want); round++ {
		batch, err := tf.TOTP().Sealed(ctx(t), "k3", after, 2)
		must(t, "TOTP().Sealed", err)
		if len(batch) == 0 {
			break
		}
		for _, c := range batch {
			if seen[c.UserID] || !want[c.UserID] || c.UserID <= after {
				t.Fatalf("TOTP().Sealed after %q listed %s again, out of order or under k3", after, c.UserID)
			}
			seen[c.UserID] = true
		}
		after = batch[len(batch)-1].UserID
	}
	if len(seen) != len(want) {
		t.Fatalf("paging by cursor saw %d credentials, want %d", len(seen), len(want))
	}
}

func testCountRecoverySets(t *testing.T, s auth.Store, tf auth.Store) {
	for i, k := range []string{"k1", "k2", "k1"} {
		u := createUser(t, s, group.UsersID)
		_ = i
		must(t, "SetRecoveryCodes", tf.TOTP().SetRecoveryCodes(ctx(t), u.ID, k, randomBytes(16), [][]byte{randomBytes(32)}))
	}
	for _, c := range []struct {
		key  string
		want int
	}{{"k1", 1}, {"k2", 2}, {"k3", 3}} {
		n, err := tf.TOTP().CountRecoverySets(ctx(t), c.key)
		must(t, "CountRecoverySets", err)
		if n != c.want {
			t.Errorf("CountRecoverySets(%q) = %d, want %d", c.key, n, c.want)
		}
	}
}
