package storetest

import (
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// The Keys tests get the store as the factory made it: the first auth.New
// on it writes the key check.
var keyTests = []test{
	{"KeyCheckStore", testKeyCheckStore},
	{"WrongKeyRefused", testWrongKeyRefused},
	{"OldDataWithoutCheck", testOldDataWithoutCheck},
	{"ConcurrentFirstNew", testKeyCheckConcurrent},
	{"MintedSessionRefused", testMintedSessionRefused},
}

// otherKey is a second secret key, for rotation and wrong-key tests.
var otherKey = []byte("storetest another key, 32 bytes.")

func keyManager(s auth.Store, key []byte, previous ...[]byte) (*auth.Manager, error) {
	return auth.New(auth.Config{Store: s, SecretKey: key, PreviousSecretKeys: previous,
		BcryptCost: 4, InsecureLowBcryptCostForTests: true})
}

func testKeyCheckStore(t *testing.T, s auth.Store) {
	ks := s.KeyCheck()
	_, err := ks.Get(ctx(t))
	checkErr(t, "KeyCheck().Get on an empty store", err, auth.ErrKeyCheckNotFound)
	a := auth.KeyCheck{KeyID: "aaaaaaaaaaaa", Value: bytes.Repeat([]byte{1}, 32)}
	b := auth.KeyCheck{KeyID: "bbbbbbbbbbbb", Value: bytes.Repeat([]byte{2}, 32)}
	steps := []struct {
		name    string
		c       auth.KeyCheck
		ifKeyID string
		want    bool
		stored  auth.KeyCheck
	}{
		{"first", a, "", true, a},
		{"first again", b, "", false, a},
		{"from the wrong key", b, "cccccccccccc", false, a},
		{"from the stored key", b, a.KeyID, true, b},
		{"from the old key again", a, a.KeyID, false, b},
	}
	for _, st := range steps {
		ok, err := ks.Set(ctx(t), st.c, st.ifKeyID)
		must(t, "KeyCheck().Set "+st.name, err)
		if ok != st.want {
			t.Errorf("KeyCheck().Set %s = %v, want %v", st.name, ok, st.want)
		}
		got, err := ks.Get(ctx(t))
		must(t, "KeyCheck().Get after "+st.name, err)
		if got.KeyID != st.stored.KeyID || !bytes.Equal(got.Value, st.stored.Value) {
			t.Errorf("after %s the stored check is %+v, want %+v", st.name, got, st.stored)
		}
	}
}

// A database answers only to the key it was made with, or to a key
// rotation that keeps that key among the previous ones; once a rotated
// Manager has started, the check follows the new key.
func testWrongKeyRefused(t *testing.T, s auth.Store) {
	steps := []struct {
		name     string
		key      []byte
		previous [][]byte
		wrong    bool
	}{
		{"the first key", managerKey, nil, false},
		{"another key", otherKey, nil, true},
		{"the first key again", managerKey, nil, false},
		{"rotated: another key, the first previous", otherKey, [][]byte{managerKey}, false},
		{"the first key, now previous", managerKey, nil, true},
		{"back to the first key, the other previous", managerKey, [][]byte{otherKey}, false},
	}
	for _, st := range steps {
		_, err := keyManager(s, st.key, st.previous...)
		if st.wrong && !errors.Is(err, auth.ErrWrongSecretKey) {
			t.Fatalf("New with %s: %v, want ErrWrongSecretKey", st.name, err)
		}
		if !st.wrong && err != nil {
			t.Fatalf("New with %s: %v", st.name, err)
		}
	}
}

// A database made before key checks existed has none; the first New on it
// refuses a key its data were not made with, rather than record the wrong
// key as the right one.
func testOldDataWithoutCheck(t *testing.T, s auth.Store) {
	g := createGroup(t, s, "Old")
	u := newUser(g.ID)
	mustCreateUser(t, s, u, "$usher1$0123456789ab$2a$04$abcdefghijklmnopqrstuu0123456789012345678901234567890")
	_, err := keyManager(s, managerKey)
	checkErr(t, "New over a password hash made under an unknown key", err, auth.ErrWrongSecretKey)
	_, err = s.KeyCheck().Get(ctx(t))
	checkErr(t, "the key check after the refusal", err, auth.ErrKeyCheckNotFound)

	// An imported plain bcrypt hash names no key: the check is written.
	must(t, "SetPasswordHash", s.Users().SetPasswordHash(ctx(t), u.ID, "$2a$04$abcdefghijklmnopqrstuu0123456789012345678901234567890"))
	if _, err := keyManager(s, managerKey); err != nil {
		t.Fatalf("New over an imported bcrypt hash: %v", err)
	}
	if _, err := s.KeyCheck().Get(ctx(t)); err != nil {
		t.Fatalf("no key check after the first New: %v", err)
	}
}

func testKeyCheckConcurrent(t *testing.T, s auth.Store) {
	const n = 6
	var wg sync.WaitGroup
	errs := make([]error, n)
	for i := range n {
		wg.Go(func() { _, errs[i] = keyManager(s, managerKey) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("New %d of %d at once: %v", i, n, err)
		}
	}
}

// Someone who can write the database but lacks the key stores a session
// under the plain SHA-256 of a token of their choosing: Authenticate must
// refuse it (invariant 4).
func testMintedSessionRefused(t *testing.T, s auth.Store) {
	m, err := keyManager(s, managerKey)
	must(t, "New", err)
	setup, _, err := m.SetupToken(ctx(t))
	must(t, "SetupToken", err)
	real, err := m.SignUp(ctx(t), auth.SignUp{Email: "first@example.com", Password: "a long enough password", BootstrapToken: setup}, auth.Client{})
	must(t, "SignUp", err)
	if _, err := m.Authenticate(ctx(t), real.Token); err != nil {
		t.Fatalf("control: the real session: %v", err)
	}
	raw := make([]byte, 32)
	_, _ = rand.Read(raw)
	token := base64.RawURLEncoding.EncodeToString(raw)
	h := sha256.Sum256(raw)
	now := time.Now().UTC().Truncate(time.Microsecond)
	forged := &auth.Session{ID: newID(), UserID: real.UserID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	must(t, "Sessions().Create", s.Sessions().Create(ctx(t), forged, h[:]))
	_, err = m.Authenticate(ctx(t), token)
	checkErr(t, "Authenticate with a session written under SHA-256(token)", err, auth.ErrUnauthenticated)
}
