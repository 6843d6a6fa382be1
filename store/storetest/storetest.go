// Package storetest is the conformance suite for implementations of
// [auth.Store], in the spirit of testing/fstest.TestFS: a store that passes
// [Run] keeps every promise the store interfaces make in their doc comments,
// so the [auth.Manager] built on it keeps its own.
//
// A store's test calls Run with a factory:
//
//	func TestConformance(t *testing.T) {
//		storetest.Run(t, func(t *testing.T) auth.Store {
//			db, err := mystore.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
//			if err != nil {
//				t.Fatal(err)
//			}
//			t.Cleanup(func() { db.Close() })
//			return db
//		})
//	}
//
// The factory must return a fresh, empty, migrated store each time it is
// called. It need not hold any group: Run gets the two built-in groups
// ([group.AdminID] and [group.UsersID]) the way a host does, from
// [auth.New], before each subtest, and the Seed tests check that New makes
// them right, once, even when several instances start at once. Run calls
// the factory once per subtest and runs subtests in parallel, so stores
// must not share state. The suite uses the interfaces only.
package storetest

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Run runs the conformance suite against the stores newStore makes, one
// fresh store per subtest, second factors (TOTP, recovery codes, passkeys
// and their pending ceremonies, login challenges) and single sign-on
// (providers, linked identities, pending flows) included.
func Run(t *testing.T, newStore func(t *testing.T) auth.Store) {
	t.Helper()
	suites := []struct {
		name  string
		tests []test
		bare  bool // the store as the factory made it: no built-in groups, no events
	}{
		{"Seed", seedTests, true},
		{"Users", userTests, false},
		{"List", listTests, false},
		{"Groups", groupTests, false},
		{"Sessions", sessionTests, false},
		{"Throttle", throttleTests, false},
		{"Audit", auditTests, true}, // an empty trail: New audits the groups it makes
		{"AuditActivity", activityTests, true},
		{"Atomic", atomicTests, false},
		{"TOTP", totpTests, false},
		{"RecoveryCodes", recoveryTests, false},
		{"Passkeys", passkeyTests, false},
		{"Challenges", challengeTests, false},
		{"Ceremonies", ceremonyTests, false},
		{"OIDCProviders", oidcProviderTests, false},
		{"OIDCIdentities", oidcIdentityTests, false},
		{"OIDCFlows", oidcFlowTests, false},
		{"Keys", keyTests, true},    // the first auth.New writes the key check
		{"Setup", setupTests, true}, // auth.New on an empty store adds a setup token
	}
	for _, suite := range suites {
		t.Run(suite.name, func(t *testing.T) {
			t.Parallel()
			for _, tc := range suite.tests {
				t.Run(tc.name, func(t *testing.T) {
					t.Parallel()
					s := newStore(t)
					if s == nil {
						t.Fatal("newStore returned nil")
					}
					if !suite.bare {
						newManager(t, s)
					}
					tc.run(t, s)
				})
			}
		})
	}
}

// test is one subtest: it gets a fresh store of its own.
type test struct {
	name string
	run  func(t *testing.T, s auth.Store)
}

// managerKey is the secret key of the Managers the suite makes.
var managerKey = []byte("storetest secret key, 32 bytes..")

// newManager returns a Manager on s, as a host makes one: auth.New creates
// the built-in groups that s lacks.
func newManager(t *testing.T, s auth.Store) *auth.Manager {
	t.Helper()
	m, err := auth.New(auth.Config{Store: s, SecretKey: managerKey, BcryptCost: 4, InsecureLowBcryptCostForTests: true})
	if err != nil {
		t.Fatalf("auth.New: %v", err)
	}
	return m
}

// base is the suite's reference time: microsecond precision (what every
// store must keep) in a zone that is not UTC (stores must return UTC).
var base = time.Date(2024, 5, 17, 9, 30, 15, 123456000, time.FixedZone("IST", 5*3600+1800))

// at returns base moved by d.
func at(d time.Duration) time.Time { return base.Add(d) }

// newID returns a random 32-character hex ID.
func newID() string {
	var b [16]byte
	if _, err := rand.Read(b[:]); err != nil {
		panic(err) // crypto/rand does not fail on supported platforms
	}
	return hex.EncodeToString(b[:])
}

// newUser returns an unsaved user in groupID with a unique lower-case email.
func newUser(groupID group.ID) *user.User {
	id := newID()
	return &user.User{
		ID:        user.ID(id),
		Email:     "u" + id[:12] + "@example.com",
		Name:      "Test User",
		GroupID:   string(groupID),
		CreatedAt: base,
		UpdatedAt: base.Add(time.Second),
	}
}

// createUser saves a new user in groupID and returns it.
func createUser(t *testing.T, s auth.Store, groupID group.ID) *user.User {
	t.Helper()
	u := newUser(groupID)
	mustCreateUser(t, s, u, "")
	return u
}

func mustCreateUser(t *testing.T, s auth.Store, u *user.User, hash string) {
	t.Helper()
	if err := s.Users().Create(t.Context(), u, hash); err != nil {
		t.Fatalf("Users().Create(%s): %v", u.Email, err)
	}
}

// newGroup returns an unsaved group.
func newGroup(name string, perms ...group.Permission) *group.Group {
	return &group.Group{
		ID:          group.ID(newID()),
		Name:        name,
		Description: "the " + name,
		Permissions: perms,
		CreatedAt:   base,
		UpdatedAt:   base.Add(time.Minute),
	}
}

func createGroup(t *testing.T, s auth.Store, name string, perms ...group.Permission) *group.Group {
	t.Helper()
	g := newGroup(name, perms...)
	if err := s.Groups().Create(t.Context(), g); err != nil {
		t.Fatalf("Groups().Create(%q): %v", name, err)
	}
	return g
}

// newSession returns an unsaved session of userID, created at created, and
// the SHA-256 of its token.
func newSession(userID user.ID, created time.Time) (*auth.Session, []byte) {
	token := newID() + newID()
	sum := sha256.Sum256([]byte(token))
	return &auth.Session{
		ID:          newID(),
		UserID:      userID,
		Token:       token,
		CreatedAt:   created,
		LastSeenAt:  created.Add(time.Minute),
		ExpiresAt:   created.Add(30 * 24 * time.Hour),
		IdleTimeout: time.Hour,
		IP:          "203.0.113.7",
		UserAgent:   "storetest/1.0 (conformance)",
	}, sum[:]
}

func createSession(t *testing.T, s auth.Store, userID user.ID, created time.Time) (*auth.Session, []byte) {
	t.Helper()
	sess, hash := newSession(userID, created)
	if err := s.Sessions().Create(t.Context(), sess, hash); err != nil {
		t.Fatalf("Sessions().Create: %v", err)
	}
	return sess, hash
}

// checkErr fails unless errors.Is(err, want).
func checkErr(t *testing.T, what string, err, want error) {
	t.Helper()
	if !errors.Is(err, want) {
		t.Errorf("%s: error %v, want %v", what, err, want)
	}
}

// must stops the test on an unexpected error.
func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// checkTime reports a time that did not round-trip: it must be the same
// instant and, unless zero, in UTC.
func checkTime(t *testing.T, what string, got, want time.Time) {
	t.Helper()
	if want.IsZero() {
		if !got.IsZero() {
			t.Errorf("%s = %v, want the zero time", what, got)
		}
		return
	}
	if !got.Equal(want) {
		t.Errorf("%s = %v, want %v (same instant, microsecond precision)", what, got, want)
	}
	if got.Location() != time.UTC {
		t.Errorf("%s is in %v, want UTC", what, got.Location())
	}
}

func checkUser(t *testing.T, what string, got, want *user.User) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil user", what)
		return
	}
	if got.ID != want.ID || got.Email != want.Email || got.Name != want.Name ||
		got.GroupID != want.GroupID || got.Disabled != want.Disabled {
		t.Errorf("%s:\n got  {ID:%s Email:%q Name:%q GroupID:%q Disabled:%v}\n want {ID:%s Email:%q Name:%q GroupID:%q Disabled:%v}",
			what, got.ID, got.Email, got.Name, got.GroupID, got.Disabled,
			want.ID, want.Email, want.Name, want.GroupID, want.Disabled)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": UpdatedAt", got.UpdatedAt, want.UpdatedAt)
	checkTime(t, what+": LastLoginAt", got.LastLoginAt, want.LastLoginAt)
}

func checkGroup(t *testing.T, what string, got, want *group.Group) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil group", what)
		return
	}
	if got.ID != want.ID || got.Name != want.Name || got.Description != want.Description ||
		got.RequireTwoFactor != want.RequireTwoFactor {
		t.Errorf("%s:\n got  {ID:%s Name:%q Description:%q RequireTwoFactor:%v}\n want {ID:%s Name:%q Description:%q RequireTwoFactor:%v}",
			what, got.ID, got.Name, got.Description, got.RequireTwoFactor,
			want.ID, want.Name, want.Description, want.RequireTwoFactor)
	}
	checkPerms(t, what, got.Permissions, want.Permissions)
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

// checkPerms compares permission lists in order; nil and empty are equal.
func checkPerms(t *testing.T, what string, got, want []group.Permission) {
	t.Helper()
	if !slices.Equal(got, want) {
		t.Errorf("%s: Permissions = %q, want %q (in this order)", what, got, want)
	}
}

func checkSession(t *testing.T, what string, got, want *auth.Session) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil session", what)
		return
	}
	if got.ID != want.ID || got.UserID != want.UserID || got.IP != want.IP || got.UserAgent != want.UserAgent {
		t.Errorf("%s:\n got  {ID:%s UserID:%s IP:%q UserAgent:%q}\n want {ID:%s UserID:%s IP:%q UserAgent:%q}",
			what, got.ID, got.UserID, got.IP, got.UserAgent, want.ID, want.UserID, want.IP, want.UserAgent)
	}
	if got.Token != "" {
		t.Errorf("%s: Token = %q, want empty: the store keeps only the token's hash", what, got.Token)
	}
	if got.MultiFactor != want.MultiFactor {
		t.Errorf("%s: MultiFactor = %v, want %v", what, got.MultiFactor, want.MultiFactor)
	}
	if got.IdleTimeout != want.IdleTimeout || got.Remembered != want.Remembered {
		t.Errorf("%s: IdleTimeout, Remembered = %v, %v; want %v, %v", what, got.IdleTimeout, got.Remembered, want.IdleTimeout, want.Remembered)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": LastSeenAt", got.LastSeenAt, want.LastSeenAt)
	checkTime(t, what+": ExpiresAt", got.ExpiresAt, want.ExpiresAt)
}

// ctx is shorthand for the test's context.
func ctx(t *testing.T) context.Context { return t.Context() }
