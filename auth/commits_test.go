package auth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/user"
)

// commitStore counts the commits made through it: Atomic transactions
// (synced), AtomicDeferSync transactions (unsynced, made durable by the
// next synced one) and throttle writes made outside a transaction (each
// a commit of its own).
type commitStore struct {
	*sqlite.DB
	synced, deferred, loose atomic.Int32
	reads                   atomic.Int32 // of a user row, in transactions
}

func (c *commitStore) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	c.synced.Add(1)
	return c.DB.Atomic(ctx, func(tx auth.Store) error { return fn(readTx{tx, &c.reads}) })
}

func (c *commitStore) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	c.deferred.Add(1)
	return c.DB.AtomicDeferSync(ctx, func(tx auth.Store) error { return fn(readTx{tx, &c.reads}) })
}

// readTx counts a transaction's reads of a user row.
type readTx struct {
	auth.Store
	n *atomic.Int32
}

func (t readTx) Users() user.Store { return readUsers{t.Store.Users(), t.n} }

type readUsers struct {
	user.Store
	n *atomic.Int32
}

func (u readUsers) Get(ctx context.Context, id user.ID) (*user.User, error) {
	u.n.Add(1)
	return u.Store.Get(ctx, id)
}

func (u readUsers) GetByEmail(ctx context.Context, email string) (*user.User, error) {
	u.n.Add(1)
	return u.Store.GetByEmail(ctx, email)
}

func (u readUsers) PasswordHash(ctx context.Context, id user.ID) (string, error) {
	u.n.Add(1)
	return u.Store.PasswordHash(ctx, id)
}

func (u readUsers) GetWithHash(ctx context.Context, id user.ID) (*user.User, string, error) {
	u.n.Add(1)
	return u.Store.(auth.UserHashStore).GetWithHash(ctx, id)
}

func (u readUsers) GetByEmailWithHash(ctx context.Context, email string) (*user.User, string, error) {
	u.n.Add(1)
	return u.Store.(auth.UserHashStore).GetByEmailWithHash(ctx, email)
}

func (c *commitStore) Throttle() auth.ThrottleStore { return looseThrottle{c.DB.Throttle(), &c.loose} }

func (c *commitStore) take() [4]int32 {
	return [4]int32{c.synced.Swap(0), c.deferred.Swap(0), c.loose.Swap(0), c.reads.Swap(0)}
}

type looseThrottle struct {
	auth.ThrottleStore
	n *atomic.Int32
}

func (t looseThrottle) AddFailure(ctx context.Context, key string, at time.Time) (int, error) {
	t.n.Add(1)
	return t.ThrottleStore.AddFailure(ctx, key, at)
}

func (t looseThrottle) Hit(ctx context.Context, key string, window time.Time) (int, error) {
	t.n.Add(1)
	return t.ThrottleStore.Hit(ctx, key, window)
}

func (t looseThrottle) ResetFailures(ctx context.Context, key string) error {
	t.n.Add(1)
	return t.ThrottleStore.ResetFailures(ctx, key)
}

// Issue 12: a password login makes two commits whatever its outcome: the
// attempt's admission (every throttling count and the account lookup),
// unsynced, before bcrypt, and the outcome with its audit event, synced.
// Before, it made three synced commits of throttle counters outside any
// transaction (the IP's minute, the network's back-off, the account's
// day), then the outcome's. The account is read in one query (its row
// and hash together) at admission, and once more in a success's outcome
// (the check that no reset or disable committed during bcrypt); before,
// each read was two queries.
func TestLoginCommits(t *testing.T) {
	e := newEnv(t)
	e.admin()
	cs := &commitStore{DB: e.db}
	m := e.manager(cs)
	r, err := m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	device := client
	device.DeviceToken = r.DeviceToken
	for _, c := range []struct {
		name, email, password string
		c                     auth.Client
		err                   error
		reads                 int32
	}{
		{"success", adminEmail, adminPassword, client, nil, 2},
		{"success, trusted device", adminEmail, adminPassword, device, nil, 2},
		{"wrong password", adminEmail, "not the password", client, auth.ErrInvalidCredentials, 1},
		{"unknown email", "nobody@example.com", adminPassword, client, auth.ErrInvalidCredentials, 1},
		{"malformed email", "not an email", adminPassword, client, auth.ErrInvalidCredentials, 0},
	} {
		t.Run(c.name, func(t *testing.T) {
			cs.take()
			if _, err := m.Login(e.ctx, c.email, c.password, c.c); !errors.Is(err, c.err) {
				t.Fatalf("got %v, want %v", err, c.err)
			}
			want := [4]int32{1, 1, 0, c.reads}
			if got := cs.take(); got != want {
				t.Errorf("commits (synced, deferred, outside a transaction) and user reads: got %v, want %v", got, want)
			}
		})
	}
}
