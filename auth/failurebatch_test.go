package auth_test

import (
	"context"
	"database/sql"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// throttleStore gives the SQLite store's throttle, in and out of
// transactions, through wrap: the test compares the store's own
// auth.FailureBatchStore with counting key by key.
type throttleStore struct {
	*sqlite.DB
	wrap func(auth.ThrottleStore) auth.ThrottleStore
}

func (s throttleStore) Throttle() auth.ThrottleStore { return s.wrap(s.DB.Throttle()) }

func (s throttleStore) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return s.DB.Atomic(ctx, func(tx auth.Store) error { return fn(throttleTx{tx, s.wrap}) })
}

func (s throttleStore) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	return s.DB.AtomicDeferSync(ctx, func(tx auth.Store) error { return fn(throttleTx{tx, s.wrap}) })
}

type throttleTx struct {
	auth.Store
	wrap func(auth.ThrottleStore) auth.ThrottleStore
}

func (t throttleTx) Throttle() auth.ThrottleStore { return t.wrap(t.Store.Throttle()) }

// keyByKey hides the store's optional auth.FailureBatchStore: the Manager
// counts key by key.
func keyByKey(ts auth.ThrottleStore) auth.ThrottleStore { return struct{ auth.ThrottleStore }{ts} }

// countedBatch is the store's own auth.FailureBatchStore, counting the
// restores.
type countedBatch struct {
	auth.FailureBatchStore
	restores *atomic.Int32
}

func (c countedBatch) RestoreFailures(ctx context.Context, keys []string, counts []auth.FailureCount) error {
	c.restores.Add(1)
	return c.FailureBatchStore.RestoreFailures(ctx, keys, counts)
}

// Issue 12: with a FailureBatchStore, which counts a login's network
// back-off and the account's day in one step and puts back what a refused
// attempt must not count, a run of attempts gets the same answers and
// leaves the same counts, step by step, as counting key by key: a refusal
// by the back-off counts nothing, a refusal by the day keeps both counts.
func TestFailureBatchMatchesKeyByKey(t *testing.T) {
	throttle := func(c *auth.Config) {
		c.Throttle = auth.ThrottleConfig{PerIPPerMinute: 1000, FreeFailures: 2, BaseDelay: time.Minute,
			MaxDelay: time.Hour, AccountFailuresPerDay: 5}
	}
	var restores atomic.Int32
	run := func(batch bool) []throttleStep {
		e := newEnv(t, throttle)
		e.admin()
		wrap := keyByKey
		if batch {
			wrap = func(ts auth.ThrottleStore) auth.ThrottleStore {
				fb, ok := ts.(auth.FailureBatchStore)
				if !ok {
					t.Fatal("the SQLite store's throttle is not an auth.FailureBatchStore")
				}
				return countedBatch{fb, &restores}
			}
		}
		m := e.manager(throttleStore{e.db, wrap}, throttle)
		var out []throttleStep
		for _, s := range []struct {
			password string
			advance  time.Duration
		}{
			{"wrong", 0}, {"wrong", 0}, {"wrong", 0}, {adminPassword, 0}, // the back-off
			{"wrong", 2 * time.Minute}, {"wrong", 0}, // past it, and in the next
			{"wrong", 5 * time.Minute}, {"wrong", 10 * time.Minute}, // the day's budget
			{adminPassword, time.Hour},
		} {
			e.clk.Advance(s.advance)
			out = append(out, e.throttleAttempt(t, m, client, s.password))
		}
		return out
	}
	want, got := run(false), run(true)
	if restores.Load() == 0 {
		t.Fatal("the batch store put nothing back: the test does not reach a refusal")
	}
	sameSteps(t, "batched", want, got)
}

// throttleStep is one login attempt of a throttle comparison: its answer,
// the counts it left on the network's back-off and the account's day, and
// the hits on its client's per-minute budgets (an IPv6 address's /64 and
// /48).
type throttleStep struct {
	err              error
	net, day         int
	netLast, dayLast time.Time
	ipHits, siteHits int
}

// throttleAttempt logs in as the admin with password, from c, and returns
// the answer and the counts left.
func (e *env) throttleAttempt(t *testing.T, m *auth.Manager, c auth.Client, password string) throttleStep {
	t.Helper()
	_, err := m.Login(e.ctx, adminEmail, password, c)
	st := throttleStep{err: err}
	netKey, dayKey := auth.ThrottleKeys(adminEmail, c.IP, e.clk.Now())
	if st.net, st.netLast, err = e.db.Throttle().Failures(e.ctx, netKey); err != nil {
		t.Fatal(err)
	}
	if st.day, st.dayLast, err = e.db.Throttle().Failures(e.ctx, dayKey); err != nil {
		t.Fatal(err)
	}
	own, site := auth.IPKeys(c.IP)
	st.ipHits, st.siteHits = e.hits(t, own), e.hits(t, site)
	return st
}

// hits reads the count of key's throttle_hits row, 0 for none.
func (e *env) hits(t *testing.T, key string) int {
	t.Helper()
	raw, err := sql.Open("sqlite", e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	var n int
	err = raw.QueryRowContext(e.ctx, `SELECT count FROM throttle_hits WHERE key = ?`, key).Scan(&n)
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		t.Fatal(err)
	}
	return n
}

// sameSteps reports each attempt of got whose answer or counts differ
// from want's, counted key by key.
func sameSteps(t *testing.T, what string, want, got []throttleStep) {
	t.Helper()
	for i := range want {
		w, g := want[i], got[i]
		sameErr := errors.Is(g.err, auth.ErrThrottled) == errors.Is(w.err, auth.ErrThrottled) &&
			errors.Is(g.err, auth.ErrInvalidCredentials) == errors.Is(w.err, auth.ErrInvalidCredentials) &&
			(g.err == nil) == (w.err == nil)
		if !sameErr || g.net != w.net || g.day != w.day || !g.netLast.Equal(w.netLast) || !g.dayLast.Equal(w.dayLast) ||
			g.ipHits != w.ipHits || g.siteHits != w.siteHits {
			t.Errorf("attempt %d: %s %+v, key by key %+v", i+1, what, g, w)
		}
	}
}
