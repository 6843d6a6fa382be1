package auth_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/user"
)

// These tests came from a security review: each failed before its fix.

// hookStore runs hook once, right after Login has read the password hash
// and before it verifies and opens the session: as soon as the hash is
// read outside a transaction, or as soon as the transaction that read it
// (Login's admission, AtomicDeferSync) has committed.
type hookStore struct {
	*sqlite.DB
	hook atomic.Pointer[func()]
}

func (h *hookStore) Users() user.Store { return hookUsers{h.DB.Users(), h.fire} }

func (h *hookStore) fire() {
	if f := h.hook.Swap(nil); f != nil {
		(*f)()
	}
}

func (h *hookStore) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	read := false
	err := h.DB.AtomicDeferSync(ctx, func(tx auth.Store) error {
		return fn(hookTx{tx, func() { read = true }})
	})
	if read {
		h.fire()
	}
	return err
}

// hookTx is a transaction's store whose password hash reads call read.
type hookTx struct {
	auth.Store
	read func()
}

func (t hookTx) Users() user.Store { return hookUsers{t.Store.Users(), t.read} }

type hookUsers struct {
	user.Store
	read func()
}

func (u hookUsers) PasswordHash(ctx context.Context, id user.ID) (string, error) {
	s, err := u.Store.PasswordHash(ctx, id)
	u.read()
	return s, err
}

// racing is a Login racing an admin's change: v@example.com, the admin
// acting on m, and hookStore's hook, which runs the change once the login
// has read the password hash (whileBcrypt).
type racing struct {
	*env
	admin *auth.Principal
	v     *user.User
	hs    *hookStore
	m     *auth.Manager
}

func newRacing(t *testing.T) racing {
	e := newEnv(t)
	admin := e.admin()
	v, _ := e.user(admin, "v@example.com", group.UsersID)
	hs := &hookStore{DB: e.db}
	m := e.manager(hs)
	return racing{env: e, admin: e.on(m, admin), v: v, hs: hs, m: m}
}

// whileBcrypt makes change run once, while the next Login checks the
// password; change fails the test on error.
func (r racing) whileBcrypt(t *testing.T, change func() error) {
	f := func() {
		if err := change(); err != nil {
			t.Fatal(err)
		}
	}
	r.hs.hook.Store(&f)
}

// Invariant 3: a password reset ends every session before it returns.
func TestLoginRacingPasswordReset(t *testing.T) {
	e := newRacing(t)
	m, v := e.m, e.v
	// An imported plain-bcrypt hash (a migrated account), in the store
	// before New binds it to its account.
	plain, _ := bcrypt.GenerateFromPassword([]byte("old password"), 4)
	if err := e.db.Users().SetPasswordHash(e.ctx, v.ID, string(plain)); err != nil {
		t.Fatal(err)
	}
	e.whileBcrypt(t, func() error { return m.ResetPassword(e.ctx, e.admin, v.ID, "admin-set password") })

	r, err := m.Login(e.ctx, "v@example.com", "old password", client)
	if err == nil {
		if _, err := m.Authenticate(e.ctx, r.Session.Token); err == nil {
			t.Error("a session opened with the old password survives the admin's reset")
		}
	}
	wantErr(t, err, auth.ErrInvalidCredentials)
	if _, err := m.Login(e.ctx, "v@example.com", "admin-set password", client); err != nil {
		t.Errorf("the admin's reset was silently undone by the login's rehash: %v", err)
	}
}

// Invariant 3, for an account whose hash needs no upgrade (so no rehash
// is written, which TestLoginRacingPasswordReset's imported hash takes):
// the login's outcome must find the reset made while bcrypt ran, refuse,
// and leave the last login as it was.
func TestLoginRacingPasswordResetCurrentHash(t *testing.T) {
	e := newRacing(t)
	m, v := e.m, e.v
	e.whileBcrypt(t, func() error { return m.ResetPassword(e.ctx, e.admin, v.ID, "admin-set password") })
	before, err := e.db.Users().Get(e.ctx, v.ID)
	if err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(time.Minute)
	r, err := m.Login(e.ctx, "v@example.com", passwordOf("v@example.com"), client)
	if err == nil {
		t.Fatalf("a login with the password reset while bcrypt ran opened session %s", r.Session.ID)
	}
	wantErr(t, err, auth.ErrInvalidCredentials)
	if ev := e.lastEvent(audit.LoginFailed); ev.Reason != "password changed during login" {
		t.Errorf("failed login recorded with reason %q", ev.Reason)
	}
	if u, err := e.db.Users().Get(e.ctx, v.ID); err != nil || !u.LastLoginAt.Equal(before.LastLoginAt) {
		t.Errorf("last login after the refused login: %v, %v; want %v, as before", u, err, before.LastLoginAt)
	}
}

// Invariant 3: disabling ends every session before it returns.
func TestLoginRacingDisable(t *testing.T) {
	e := newRacing(t)
	m, admin, v := e.m, e.admin, e.v
	e.whileBcrypt(t, func() error { return m.SetDisabled(e.ctx, admin, v.ID, true) })
	r, err := m.Login(e.ctx, "v@example.com", passwordOf("v@example.com"), client)
	if err == nil {
		if err := m.SetDisabled(e.ctx, admin, v.ID, false); err != nil {
			t.Fatal(err)
		}
		if _, err := m.Authenticate(e.ctx, r.Session.Token); err == nil {
			t.Fatal("a session issued to a disabled user comes back to life on re-enable")
		}
	}
	wantErr(t, err, auth.ErrAccountDisabled)
}

// barrierStore holds every login attempt, once its admission (the
// throttling reads and counts, one AtomicDeferSync transaction) has
// committed, until n attempts have been admitted: what a burst of
// simultaneous requests does on a busy server, each guess counted before
// any password is checked. (When the reads and counts were separate
// writes, it held the Throttle().Failures reads the same way.)
type barrierStore struct {
	*sqlite.DB
	wg *sync.WaitGroup
}

func (b barrierStore) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	err := b.DB.AtomicDeferSync(ctx, fn)
	b.wg.Done()
	b.wg.Wait()
	return err
}

// Per-account-and-network throttle: 5 free failures, then a delay, even for
// a burst of simultaneous attempts from one network (its addresses, IPv6
// /64). Issue 8 made the back-off per network: many networks together are
// bounded by the day's budget (TestDistributedGuessing).
func TestThrottleRace(t *testing.T) {
	e := newEnv(t)
	e.admin()
	const burst = 30
	var barrier sync.WaitGroup
	barrier.Add(burst)
	m := e.manager(barrierStore{e.db, &barrier})
	var checked atomic.Int32
	var wg sync.WaitGroup
	for i := range burst {
		wg.Go(func() {
			_, err := m.Login(e.ctx, adminEmail, fmt.Sprintf("guess %d", i), auth.Client{IP: fmt.Sprintf("2001:db8:1:2::%x", i)})
			if errors.Is(err, auth.ErrInvalidCredentials) {
				checked.Add(1)
			}
		})
	}
	wg.Wait()
	if n := checked.Load(); n > 5 {
		t.Errorf("%d password guesses were verified at one instant; the account throttle allows 5", n)
	}
}
