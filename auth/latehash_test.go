package auth_test

import (
	"context"
	"errors"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/user"
)

// lateStore gives the SQLite store's users, inside transactions, the
// optional auth.LateUserHashStore: the read made at once, its answer (or
// fail, when set) given by the function it returns.
type lateStore struct {
	*sqlite.DB
	calls *int
	fail  error
}

func (s lateStore) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return s.DB.Atomic(ctx, func(tx auth.Store) error { return fn(lateTx{tx, s}) })
}

func (s lateStore) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	return s.DB.AtomicDeferSync(ctx, func(tx auth.Store) error { return fn(lateTx{tx, s}) })
}

type lateTx struct {
	auth.Store
	s lateStore
}

func (t lateTx) Users() user.Store { return lateUsers{t.Store.Users(), t.s} }

type lateUsers struct {
	user.Store
	s lateStore
}

func (u lateUsers) GetByEmailWithHashLate(ctx context.Context, email string) func() (*user.User, string, error) {
	*u.s.calls++
	got, hash, err := u.Store.(auth.UserHashStore).GetByEmailWithHash(ctx, email)
	return func() (*user.User, string, error) {
		if u.s.fail != nil {
			return nil, "", u.s.fail
		}
		return got, hash, err
	}
}

// A store with auth.LateUserHashStore has the admission's account read
// through it, with the same answers as without: the right password opens
// a session, a wrong one or an unknown email fails alike. A failure of
// the read comes back from Login.
func TestLoginLateUserRead(t *testing.T) {
	e := newEnv(t)
	e.admin()
	calls := 0
	m := e.manager(lateStore{e.db, &calls, nil})
	if res, err := m.Login(e.ctx, adminEmail, adminPassword, client); err != nil || res.Session == nil {
		t.Fatalf("right password: %v, %v; want a session", res, err)
	}
	for _, email := range []string{adminEmail, "nobody@example.com"} {
		if _, err := m.Login(e.ctx, email, "not the password", client); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("%s, wrong password: %v, want ErrInvalidCredentials", email, err)
		}
	}
	if calls != 3 {
		t.Errorf("GetByEmailWithHashLate called %d times, want 3", calls)
	}
	boom := errors.New("read failed")
	m = e.manager(lateStore{e.db, &calls, boom})
	if _, err := m.Login(e.ctx, adminEmail, adminPassword, client); !errors.Is(err, boom) {
		t.Errorf("with the read failing: %v, want its error", err)
	}
}
