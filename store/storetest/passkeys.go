package storetest

import (
	"bytes"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

var passkeyTests = []test{
	{"RoundTrip", testPasskeyRoundTrip},
	{"NotFound", testPasskeyNotFound},
	{"CreateUnknownUser", testPasskeyCreateUnknownUser},
	{"CredentialTaken", testPasskeyCredentialTaken},
	{"ListOrder", testPasskeyListOrder},
	{"Rename", testPasskeyRename},
	{"Delete", testPasskeyDelete},
	{"DeleteUser", testPasskeyDeleteUser},
	{"UserDeleted", testPasskeyUserDeleted},
	{"SignCount", testPasskeySignCount},
	{"SignCountZero", testPasskeySignCountZero},
	{"SignCountRace", testPasskeySignCountRace},
	{"UserHandle", testPasskeyUserHandle},
	{"UserHandleRace", testPasskeyUserHandleRace},
	{"InsideAtomic", testPasskeyInsideAtomic},
	{"UnderOtherKey", testPasskeyUnderOtherKey},
	{"UnderOtherKeyCursor", testPasskeyUnderOtherKeyCursor},
	{"UnderOtherKeyPaging", testPasskeyUnderOtherKeyPaging},
	{"Remac", testPasskeyRemac},
}

// newPasskey returns an unsaved passkey of userID, created at created, with
// a random credential ID and a random MAC under key ID "k1".
func newPasskey(userID user.ID, created time.Time) *passkey.Credential {
	return &passkey.Credential{
		ID:             newID(),
		UserID:         userID,
		Name:           "Passkey " + newID()[:6],
		CredentialID:   randomBytes(32),
		PublicKey:      randomBytes(77),
		AAGUID:         randomBytes(16),
		Transports:     []string{"hybrid", "internal"},
		BackupEligible: true,
		BackedUp:       true,
		SignCount:      0,
		CreatedAt:      created,
		KeyID:          "k1",
		MAC:            randomBytes(32),
	}
}

// createPasskey saves a new passkey of userID created at created.
func createPasskey(t *testing.T, s auth.Store, userID user.ID, created time.Time) *passkey.Credential {
	t.Helper()
	c := newPasskey(userID, created)
	must(t, "Passkeys().Create", s.Passkeys().Create(ctx(t), c))
	return c
}

func checkPasskey(t *testing.T, what string, got, want *passkey.Credential) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil passkey", what)
		return
	}
	if got.ID != want.ID || got.UserID != want.UserID || got.Name != want.Name || got.KeyID != want.KeyID ||
		got.BackupEligible != want.BackupEligible || got.BackedUp != want.BackedUp || got.SignCount != want.SignCount {
		t.Errorf("%s:\n got  {ID:%s UserID:%s Name:%q KeyID:%q BackupEligible:%v BackedUp:%v SignCount:%d}\n want {ID:%s UserID:%s Name:%q KeyID:%q BackupEligible:%v BackedUp:%v SignCount:%d}",
			what, got.ID, got.UserID, got.Name, got.KeyID, got.BackupEligible, got.BackedUp, got.SignCount,
			want.ID, want.UserID, want.Name, want.KeyID, want.BackupEligible, want.BackedUp, want.SignCount)
	}
	for _, f := range []struct {
		name      string
		got, want []byte
	}{
		{"CredentialID", got.CredentialID, want.CredentialID},
		{"PublicKey", got.PublicKey, want.PublicKey},
		{"AAGUID", got.AAGUID, want.AAGUID},
		{"MAC", got.MAC, want.MAC},
	} {
		if !bytes.Equal(f.got, f.want) {
			t.Errorf("%s: %s = %x, want %x", what, f.name, f.got, f.want)
		}
	}
	if !slices.Equal(got.Transports, want.Transports) {
		t.Errorf("%s: Transports = %q, want %q", what, got.Transports, want.Transports)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": LastUsedAt", got.LastUsedAt, want.LastUsedAt)
}

// getPasskey reads want by its ID and by its credential ID and compares
// both with it.
func getPasskey(t *testing.T, s auth.Store, what string, want *passkey.Credential) {
	t.Helper()
	got, err := s.Passkeys().Get(ctx(t), want.ID)
	must(t, what+": Passkeys().Get", err)
	checkPasskey(t, what+": Get", got, want)
	got, err = s.Passkeys().GetByCredentialID(ctx(t), want.CredentialID)
	must(t, what+": Passkeys().GetByCredentialID", err)
	checkPasskey(t, what+": GetByCredentialID", got, want)
}

// checkGone fails unless c is stored under neither its ID nor its
// credential ID.
func checkGone(t *testing.T, s auth.Store, what string, c *passkey.Credential) {
	t.Helper()
	_, err := s.Passkeys().Get(ctx(t), c.ID)
	checkErr(t, what+": Get", err, passkey.ErrNotFound)
	_, err = s.Passkeys().GetByCredentialID(ctx(t), c.CredentialID)
	checkErr(t, what+": GetByCredentialID", err, passkey.ErrNotFound)
}

// checkPasskeyList fails unless userID's passkeys are want, in this order,
// and Count agrees.
func checkPasskeyList(t *testing.T, s auth.Store, what string, userID user.ID, want ...*passkey.Credential) {
	t.Helper()
	got, err := s.Passkeys().List(ctx(t), userID)
	must(t, what+": Passkeys().List", err)
	if len(got) != len(want) {
		t.Errorf("%s: List returned %d passkeys, want %d", what, len(got), len(want))
	} else {
		for i := range got {
			checkPasskey(t, what+": List", &got[i], want[i])
		}
	}
	n, err := s.Passkeys().Count(ctx(t), userID)
	must(t, what+": Passkeys().Count", err)
	if n != len(want) {
		t.Errorf("%s: Count = %d, want %d", what, n, len(want))
	}
}

func testPasskeyRoundTrip(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	c := createPasskey(t, s, u.ID, at(0))
	getPasskey(t, s, "new passkey", c)

	used := newPasskey(u.ID, at(time.Minute))
	used.Transports, used.BackupEligible, used.BackedUp = nil, false, false
	used.SignCount, used.LastUsedAt = math.MaxUint32, at(time.Hour)
	used.Name = "Clé 👩\u200d💻"
	used.KeyID, used.MAC = "a1b2c3d4e5f6", append(randomBytes(31), 0)
	must(t, "Passkeys().Create", s.Passkeys().Create(ctx(t), used))
	getPasskey(t, s, "passkey with a use, no transports and the highest count", used)

	// A row as a store migrated from before MACs holds it: no key, no MAC.
	bare := newPasskey(u.ID, at(2*time.Minute))
	bare.KeyID, bare.MAC = "", nil
	must(t, "Passkeys().Create", s.Passkeys().Create(ctx(t), bare))
	getPasskey(t, s, "passkey without a key ID or MAC", bare)
	checkPasskeyList(t, s, "all three", u.ID, c, used, bare)
}

func testPasskeyNotFound(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	createPasskey(t, s, u.ID, at(0))
	ps := s.Passkeys()
	for _, id := range []string{"nope", "", "bad\xff\x00"} {
		_, err := ps.Get(ctx(t), id)
		checkErr(t, "Get(unknown)", err, passkey.ErrNotFound)
		checkErr(t, "Rename(unknown)", ps.Rename(ctx(t), id, u.ID, "x"), passkey.ErrNotFound)
		checkErr(t, "Delete(unknown)", ps.Delete(ctx(t), id, u.ID), passkey.ErrNotFound)
		ok, err := ps.UpdateUse(ctx(t), id, 1, false, at(0))
		checkErr(t, "UpdateUse(unknown)", err, passkey.ErrNotFound)
		if ok {
			t.Errorf("UpdateUse(%q) = true for an unknown passkey", id)
		}
	}
	for _, credID := range [][]byte{nil, {}, randomBytes(32)} {
		_, err := ps.GetByCredentialID(ctx(t), credID)
		checkErr(t, "GetByCredentialID(unknown)", err, passkey.ErrNotFound)
		_, err = ps.UserByHandle(ctx(t), credID)
		checkErr(t, "UserByHandle(unknown)", err, passkey.ErrNotFound)
	}
	for _, id := range []user.ID{"nobody", "bad\xff\x00"} {
		checkPasskeyList(t, s, "unknown user", id)
		n, err := ps.DeleteUser(ctx(t), id)
		if err != nil || n != 0 {
			t.Errorf("DeleteUser(unknown) = %d, %v; want 0, nil", n, err)
		}
		h, err := ps.UserHandle(ctx(t), id)
		if err != nil || h != nil {
			t.Errorf("UserHandle(unknown) = %x, %v; want nil, nil", h, err)
		}
	}
	other := createUser(t, s, group.UsersID)
	checkPasskeyList(t, s, "user without passkeys", other.ID)
}

func testPasskeyCreateUnknownUser(t *testing.T, s auth.Store) {
	for _, id := range []user.ID{"nobody", "bad\xff\x00"} {
		c := newPasskey(id, at(0))
		checkErr(t, "Create for an unknown user", s.Passkeys().Create(ctx(t), c), user.ErrNotFound)
		checkGone(t, s, "refused passkey", c)
		_, err := s.Passkeys().SetUserHandle(ctx(t), id, randomBytes(passkey.UserHandleLength))
		checkErr(t, "SetUserHandle for an unknown user", err, user.ErrNotFound)
	}
}

func testPasskeyCredentialTaken(t *testing.T, s auth.Store) {
	a := createUser(t, s, group.UsersID)
	b := createUser(t, s, group.UsersID)
	c := createPasskey(t, s, a.ID, at(0))
	for _, owner := range []user.ID{a.ID, b.ID} {
		dup := newPasskey(owner, at(time.Minute))
		dup.CredentialID = bytes.Clone(c.CredentialID)
		checkErr(t, "Create with a registered credential ID", s.Passkeys().Create(ctx(t), dup), passkey.ErrCredentialTaken)
		_, err := s.Passkeys().Get(ctx(t), dup.ID)
		checkErr(t, "Get(refused passkey)", err, passkey.ErrNotFound)
	}
	getPasskey(t, s, "first registration", c)
	checkPasskeyList(t, s, "the other user", b.ID)
}

func testPasskeyListOrder(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	third := createPasskey(t, s, u.ID, at(2*time.Hour))
	first := createPasskey(t, s, u.ID, at(0))
	otherKey := createPasskey(t, s, other.ID, at(time.Minute))
	second := createPasskey(t, s, u.ID, at(time.Hour))
	checkPasskeyList(t, s, "oldest first", u.ID, first, second, third)
	checkPasskeyList(t, s, "the other user", other.ID, otherKey)
}

func testPasskeyRename(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	c := createPasskey(t, s, u.ID, at(0))
	checkErr(t, "Rename by another user", s.Passkeys().Rename(ctx(t), c.ID, other.ID, "Mine now"), passkey.ErrNotFound)
	getPasskey(t, s, "after another user's rename", c)
	must(t, "Rename by the owner", s.Passkeys().Rename(ctx(t), c.ID, u.ID, "YubiKey 5C"))
	c.Name = "YubiKey 5C"
	getPasskey(t, s, "renamed", c)
}

func testPasskeyDelete(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	c := createPasskey(t, s, u.ID, at(0))
	keep := createPasskey(t, s, u.ID, at(time.Minute))
	checkErr(t, "Delete by another user", s.Passkeys().Delete(ctx(t), c.ID, other.ID), passkey.ErrNotFound)
	getPasskey(t, s, "after another user's delete", c)
	must(t, "Delete by the owner", s.Passkeys().Delete(ctx(t), c.ID, u.ID))
	checkGone(t, s, "deleted", c)
	checkErr(t, "Delete again", s.Passkeys().Delete(ctx(t), c.ID, u.ID), passkey.ErrNotFound)
	checkPasskeyList(t, s, "after delete", u.ID, keep)
}

func testPasskeyDeleteUser(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	a, b := createPasskey(t, s, u.ID, at(0)), createPasskey(t, s, u.ID, at(time.Minute))
	keep := createPasskey(t, s, other.ID, at(0))
	handle := setHandle(t, s, u.ID)
	n, err := s.Passkeys().DeleteUser(ctx(t), u.ID)
	if err != nil || n != 2 {
		t.Errorf("DeleteUser = %d, %v; want 2, nil", n, err)
	}
	checkGone(t, s, "first", a)
	checkGone(t, s, "second", b)
	checkPasskeyList(t, s, "the other user", other.ID, keep)
	checkHandle(t, s, "DeleteUser keeps the handle", u.ID, handle)
	n, err = s.Passkeys().DeleteUser(ctx(t), u.ID)
	if err != nil || n != 0 {
		t.Errorf("DeleteUser again = %d, %v; want 0, nil", n, err)
	}
}

func testPasskeyUserDeleted(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	c := createPasskey(t, s, u.ID, at(0))
	keep := createPasskey(t, s, other.ID, at(0))
	handle := setHandle(t, s, u.ID)
	keepHandle := setHandle(t, s, other.ID)

	must(t, "Users().Delete", s.Users().Delete(ctx(t), u.ID))
	checkGone(t, s, "deleted user's passkey", c)
	checkPasskeyList(t, s, "deleted user", u.ID)
	_, err := s.Passkeys().UserByHandle(ctx(t), handle)
	checkErr(t, "UserByHandle(deleted user's handle)", err, passkey.ErrNotFound)
	checkPasskeyList(t, s, "the other user", other.ID, keep)
	checkHandle(t, s, "the other user's handle", other.ID, keepHandle)

	// The credential ID is free again.
	again := newPasskey(other.ID, at(time.Hour))
	again.CredentialID = c.CredentialID
	must(t, "Create with the deleted user's credential ID", s.Passkeys().Create(ctx(t), again))
}

func testPasskeySignCount(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	c := newPasskey(u.ID, at(0))
	c.SignCount = 5
	must(t, "Passkeys().Create", s.Passkeys().Create(ctx(t), c))
	for _, count := range []uint32{0, 4, 5} {
		if updateUse(t, s, c.ID, count, false, at(time.Minute)) {
			t.Errorf("UpdateUse(%d) after 5 = true, want false (a possible clone)", count)
		}
	}
	getPasskey(t, s, "after refused counts", c)
	if !updateUse(t, s, c.ID, 6, false, at(time.Hour)) {
		t.Error("UpdateUse(6) after 5 = false, want true")
	}
	c.SignCount, c.BackedUp, c.LastUsedAt = 6, false, at(time.Hour)
	getPasskey(t, s, "after a use", c)
}

func testPasskeySignCountZero(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	c := createPasskey(t, s, u.ID, at(0))
	for i, when := range []time.Time{at(time.Minute), at(time.Hour)} {
		if !updateUse(t, s, c.ID, 0, i == 0, when) {
			t.Errorf("UpdateUse(0) #%d after 0 = false, want true (synced passkeys always report 0)", i+1)
		}
	}
	c.BackedUp, c.LastUsedAt = false, at(time.Hour)
	getPasskey(t, s, "after two uses with count 0", c)
	if !updateUse(t, s, c.ID, 1, true, at(2*time.Hour)) {
		t.Error("UpdateUse(1) after 0 = false, want true")
	}
	if updateUse(t, s, c.ID, 0, true, at(3*time.Hour)) {
		t.Error("UpdateUse(0) after 1 = true, want false")
	}
	c.SignCount, c.BackedUp, c.LastUsedAt = 1, true, at(2*time.Hour)
	getPasskey(t, s, "after a count of 0 went back", c)
}

func testPasskeySignCountRace(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	c := createPasskey(t, s, u.ID, at(0))
	var wins atomic.Int32
	race(func(int) {
		ok, err := s.Passkeys().UpdateUse(ctx(t), c.ID, 7, true, at(time.Minute))
		if err != nil {
			t.Errorf("UpdateUse: %v", err)
		}
		if ok {
			wins.Add(1)
		}
	})
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of %d logins with the same count were accepted, want exactly 1", n, racers)
	}
}

func testPasskeyUserHandle(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	checkHandle(t, s, "before any", u.ID, nil)
	h1 := setHandle(t, s, u.ID)
	h2 := randomBytes(passkey.UserHandleLength)
	got, err := s.Passkeys().SetUserHandle(ctx(t), u.ID, h2)
	must(t, "SetUserHandle again", err)
	if !bytes.Equal(got, h1) {
		t.Errorf("SetUserHandle again returned %x, want the first handle %x", got, h1)
	}
	checkHandle(t, s, "after a second set", u.ID, h1)
	_, err = s.Passkeys().UserByHandle(ctx(t), h2)
	checkErr(t, "UserByHandle(the refused handle)", err, passkey.ErrNotFound)
	_, err = s.Passkeys().SetUserHandle(ctx(t), other.ID, bytes.Clone(h1))
	checkErr(t, "SetUserHandle with another user's handle", err, passkey.ErrHandleTaken)
	checkHandle(t, s, "the other user", other.ID, nil)
}

func testPasskeyUserHandleRace(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	got := make([][]byte, racers)
	race(func(i int) {
		h, err := s.Passkeys().SetUserHandle(ctx(t), u.ID, randomBytes(passkey.UserHandleLength))
		if err != nil {
			t.Errorf("SetUserHandle: %v", err)
		}
		got[i] = h
	})
	stored, err := s.Passkeys().UserHandle(ctx(t), u.ID)
	must(t, "UserHandle", err)
	for i, h := range got {
		if !bytes.Equal(h, stored) {
			t.Errorf("racer %d got handle %x, but %x is stored", i, h, stored)
		}
	}
}

// testPasskeyInsideAtomic checks that the refusals a ceremony can meet
// inside Atomic leave the transaction usable.
func testPasskeyInsideAtomic(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	taken := createPasskey(t, s, other.ID, at(0))
	otherHandle := setHandle(t, s, other.ID)
	c := newPasskey(u.ID, at(time.Minute))
	var handle []byte
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		dup := newPasskey(u.ID, at(time.Minute))
		dup.CredentialID = taken.CredentialID
		checkErr(t, "Create with a taken credential ID", tx.Passkeys().Create(ctx(t), dup), passkey.ErrCredentialTaken)
		checkErr(t, "Create for an unknown user", tx.Passkeys().Create(ctx(t), newPasskey("nobody", at(0))), user.ErrNotFound)
		_, err := tx.Passkeys().SetUserHandle(ctx(t), u.ID, otherHandle)
		checkErr(t, "SetUserHandle with a taken handle", err, passkey.ErrHandleTaken)
		if handle, err = tx.Passkeys().SetUserHandle(ctx(t), u.ID, randomBytes(passkey.UserHandleLength)); err != nil {
			return err
		}
		return tx.Passkeys().Create(ctx(t), c)
	})
	must(t, "Atomic", err)
	getPasskey(t, s, "created after refusals in the same transaction", c)
	checkHandle(t, s, "set after refusals in the same transaction", u.ID, handle)
}

// updateUse calls UpdateUse and fails the test on an error.
func updateUse(t *testing.T, s auth.Store, id string, count uint32, backedUp bool, when time.Time) bool {
	t.Helper()
	ok, err := s.Passkeys().UpdateUse(ctx(t), id, count, backedUp, when)
	must(t, "Passkeys().UpdateUse", err)
	return ok
}

// setHandle gives userID a new random handle and returns it.
func setHandle(t *testing.T, s auth.Store, userID user.ID) []byte {
	t.Helper()
	h := randomBytes(passkey.UserHandleLength)
	got, err := s.Passkeys().SetUserHandle(ctx(t), userID, h)
	must(t, "Passkeys().SetUserHandle", err)
	if !bytes.Equal(got, h) {
		t.Errorf("first SetUserHandle returned %x, want %x", got, h)
	}
	return h
}

// checkHandle fails unless userID's handle is want (nil for none) and,
// when there is one, it leads back to userID.
func checkHandle(t *testing.T, s auth.Store, what string, userID user.ID, want []byte) {
	t.Helper()
	got, err := s.Passkeys().UserHandle(ctx(t), userID)
	must(t, what+": UserHandle", err)
	if !bytes.Equal(got, want) || (got == nil) != (want == nil) {
		t.Errorf("%s: UserHandle = %x, want %x", what, got, want)
	}
	if want == nil {
		return
	}
	id, err := s.Passkeys().UserByHandle(ctx(t), want)
	if err != nil || id != userID {
		t.Errorf("%s: UserByHandle = %q, %v; want %q", what, id, err, userID)
	}
}

// createPasskeyUnder saves a new passkey of userID whose MAC is under
// keyID.
func createPasskeyUnder(t *testing.T, s auth.Store, userID user.ID, keyID string) *passkey.Credential {
	t.Helper()
	c := newPasskey(userID, at(0))
	c.KeyID = keyID
	if keyID == "" {
		c.MAC = nil
	}
	must(t, "Passkeys().Create", s.Passkeys().Create(ctx(t), c))
	return c
}

// checkPasskeysByID fails unless got is want sorted by ID.
func checkPasskeysByID(t *testing.T, what string, got []passkey.Credential, want []*passkey.Credential) {
	t.Helper()
	want = slices.Clone(want)
	slices.SortFunc(want, func(a, b *passkey.Credential) int { return strings.Compare(a.ID, b.ID) })
	if len(got) != len(want) {
		t.Errorf("%s = %d passkeys, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		checkPasskey(t, fmt.Sprintf("%s[%d]", what, i), &got[i], want[i])
	}
}

func testPasskeyUnderOtherKey(t *testing.T, s auth.Store) {
	a := createUser(t, s, group.UsersID)
	b := createUser(t, s, group.UsersID)
	byKey := map[string][]*passkey.Credential{}
	for i, k := range []string{"k1", "k1", "k2", "k3", "k2", "", "k1"} {
		owner := a.ID
		if i%2 == 1 {
			owner = b.ID
		}
		byKey[k] = append(byKey[k], createPasskeyUnder(t, s, owner, k))
	}
	all := slices.Concat(byKey["k1"], byKey["k2"], byKey["k3"], byKey[""])
	for _, c := range []struct {
		keyID string
		want  []*passkey.Credential
	}{
		{"k1", slices.Concat(byKey["k2"], byKey["k3"], byKey[""])},
		{"k2", slices.Concat(byKey["k1"], byKey["k3"], byKey[""])},
		{"", slices.Concat(byKey["k1"], byKey["k2"], byKey["k3"])},
		{"unused", all},
		{"bad\xff\x00", all},
	} {
		got, err := s.Passkeys().UnderOtherKey(ctx(t), c.keyID, "", 100)
		must(t, "Passkeys().UnderOtherKey", err)
		checkPasskeysByID(t, fmt.Sprintf("UnderOtherKey(%q, \"\", 100)", c.keyID), got, c.want)
	}
	// A limit gives the first passkeys by ID.
	want := slices.Concat(byKey["k2"], byKey["k3"], byKey[""])
	slices.SortFunc(want, func(a, b *passkey.Credential) int { return strings.Compare(a.ID, b.ID) })
	for _, limit := range []int{1, 2, 3} {
		got, err := s.Passkeys().UnderOtherKey(ctx(t), "k1", "", limit)
		must(t, "Passkeys().UnderOtherKey", err)
		checkPasskeysByID(t, fmt.Sprintf("UnderOtherKey(%q, \"\", %d)", "k1", limit), got, want[:limit])
	}
	// Nothing under another key, and a cursor past every ID, give none.
	for _, c := range []struct{ keyID, after string }{{"k1", want[len(want)-1].ID}, {"k1", "\U0010FFFF"}} {
		got, err := s.Passkeys().UnderOtherKey(ctx(t), c.keyID, c.after, 100)
		if err != nil || len(got) != 0 {
			t.Errorf("UnderOtherKey(%q, %q) = %d passkeys, %v; want none", c.keyID, c.after, len(got), err)
		}
	}
}

// UnderOtherKey pages by ID: following the last ID of each page visits
// every passkey not under the key exactly once, in order, even ones that
// are never re-MACed (a key the caller does not have).
func testPasskeyUnderOtherKeyCursor(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	want := map[string]bool{}
	for _, k := range []string{"k1", "k2", "k1", "", "k1", "k3", "k2"} {
		c := createPasskeyUnder(t, s, u.ID, k)
		if k != "k3" {
			want[c.ID] = true
		}
	}
	seen := map[string]bool{}
	after := ""
	for round := 0; round <= len(want); round++ {
		batch, err := s.Passkeys().UnderOtherKey(ctx(t), "k3", after, 2)
		must(t, "Passkeys().UnderOtherKey", err)
		if len(batch) > 2 {
			t.Fatalf("UnderOtherKey(%q, %q, 2) = %d passkeys, more than the limit", "k3", after, len(batch))
		}
		if len(batch) == 0 {
			break
		}
		for _, c := range batch {
			if seen[c.ID] || !want[c.ID] || c.ID <= after {
				t.Fatalf("UnderOtherKey after %q listed %s again, out of order or under k3", after, c.ID)
			}
			seen[c.ID] = true
			after = c.ID
		}
	}
	if len(seen) != len(want) {
		t.Fatalf("paging by cursor saw %d passkeys, want %d", len(seen), len(want))
	}
}

// The way a key rotation uses the pair: list a batch, re-MAC it, repeat
// until the list comes back empty.
func testPasskeyUnderOtherKeyPaging(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	var old []*passkey.Credential
	for _, k := range []string{"k1", "k2", "k1", "k2", "k1"} {
		old = append(old, createPasskeyUnder(t, s, u.ID, k))
	}
	current := createPasskeyUnder(t, s, u.ID, "k3")
	const limit = 2
	moved := map[string][]byte{}
	for round := 0; ; round++ {
		if round > len(old) {
			t.Fatalf("key rotation did not finish in %d rounds; moved %d of %d", round, len(moved), len(old))
		}
		batch, err := s.Passkeys().UnderOtherKey(ctx(t), "k3", "", limit)
		must(t, "Passkeys().UnderOtherKey", err)
		if len(batch) == 0 {
			break
		}
		for _, c := range batch {
			mac := randomBytes(32)
			ok, err := s.Passkeys().Remac(ctx(t), c.ID, c.KeyID, "k3", mac)
			must(t, "Passkeys().Remac", err)
			if !ok {
				t.Fatalf("Remac(%s, %q, %q) of a passkey UnderOtherKey just listed = false, want true", c.ID, c.KeyID, "k3")
			}
			moved[c.ID] = mac
		}
	}
	if len(moved) != len(old) {
		t.Errorf("key rotation moved %d passkeys, want %d", len(moved), len(old))
	}
	for _, c := range old {
		want := *c
		want.KeyID, want.MAC = "k3", moved[c.ID]
		getPasskey(t, s, "passkey after key rotation", &want)
	}
	getPasskey(t, s, "passkey already under the current key", current)
}

func testPasskeyRemac(t *testing.T, s auth.Store) {
	ps := s.Passkeys()
	u := createUser(t, s, group.UsersID)
	c := createPasskey(t, s, u.ID, at(0))
	other := createPasskey(t, s, u.ID, at(time.Minute))
	if !updateUse(t, s, c.ID, 3, false, at(time.Hour)) {
		t.Fatal("UpdateUse(3) after 0 = false")
	}
	c.SignCount, c.BackedUp, c.LastUsedAt = 3, false, at(time.Hour)

	ok, err := ps.Remac(ctx(t), c.ID, "k2", "k3", randomBytes(32))
	if err != nil || ok {
		t.Errorf("Remac(%q→%q) of a passkey under %q = %v, %v; want false, nil", "k2", "k3", "k1", ok, err)
	}
	getPasskey(t, s, "after Remac under the wrong old key", c)

	mac := randomBytes(32)
	ok, err = ps.Remac(ctx(t), c.ID, "k1", "k2", mac)
	if err != nil || !ok {
		t.Errorf("Remac(%q→%q) of a passkey under %q = %v, %v; want true, nil", "k1", "k2", "k1", ok, err)
	}
	c.KeyID, c.MAC = "k2", mac
	getPasskey(t, s, "after Remac (only the key ID and MAC change)", c)

	// A second rotator that read the passkey before the first one
	// re-MACed it loses.
	ok, err = ps.Remac(ctx(t), c.ID, "k1", "k9", randomBytes(32))
	if err != nil || ok {
		t.Errorf("Remac from %q after the passkey moved to %q = %v, %v; want false, nil", "k1", "k2", ok, err)
	}
	getPasskey(t, s, "after a stale Remac", c)
	getPasskey(t, s, "another passkey after Remac", other)

	// A passkey without a key (as migrated) moves like any other.
	bare := newPasskey(u.ID, at(2*time.Minute))
	bare.KeyID, bare.MAC = "", nil
	must(t, "Passkeys().Create", ps.Create(ctx(t), bare))
	mac = randomBytes(32)
	if ok, err := ps.Remac(ctx(t), bare.ID, "", "k2", mac); err != nil || !ok {
		t.Errorf("Remac from no key = %v, %v; want true, nil", ok, err)
	}
	bare.KeyID, bare.MAC = "k2", mac
	getPasskey(t, s, "after Remac from no key", bare)

	// An unknown passkey: false, no error, nothing stored.
	for _, id := range []string{"nope", "", "bad\xff\x00"} {
		for _, oldKeyID := range []string{"k1", "", "bad\xff\x00"} {
			ok, err := ps.Remac(ctx(t), id, oldKeyID, "k2", randomBytes(32))
			if err != nil || ok {
				t.Errorf("Remac(%q, %q) of an unknown passkey = %v, %v; want false, nil", id, oldKeyID, ok, err)
			}
		}
	}
	checkPasskeyList(t, s, "after every Remac", u.ID, c, other, bare)
}
