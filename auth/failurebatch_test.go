package auth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// batchStore gives the SQLite store's throttle, in and out of
// transactions, the optional auth.FailureBatchStore, built key by key
// from the plain methods; it counts the restores.
type batchStore struct {
	*sqlite.DB
	restores *atomic.Int32
}

func (b batchStore) Throttle() auth.ThrottleStore { return batchThrottle{b.DB.Throttle(), b.restores} }

func (b batchStore) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return b.DB.Atomic(ctx, func(tx auth.Store) error { return fn(batchTx{tx, b.restores}) })
}

func (b batchStore) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	return b.DB.AtomicDeferSync(ctx, func(tx auth.Store) error { return fn(batchTx{tx, b.restores}) })
}

type batchTx struct {
	auth.Store
	restores *atomic.Int32
}

func (t batchTx) Throttle() auth.ThrottleStore { return batchThrottle{t.Store.Throttle(), t.restores} }

type batchThrottle struct {
	auth.ThrottleStore
	restores *atomic.Int32
}

func (t batchThrottle) AddFailures(ctx context.Context, keys []string, at time.Time) ([]auth.FailureCount, error) {
	out := make([]auth.FailureCount, len(keys))
	for i, k := range keys {
		var err error
		if out[i].Prev, out[i].PrevLast, err = t.Failures(ctx, k); err != nil {
			return nil, err
		}
		if out[i].Got, err = t.AddFailure(ctx, k, at); err != nil {
			return nil, err
		}
	}
	return out, nil
}

func (t batchThrottle) RestoreFailures(ctx context.Context, keys []string, c []auth.FailureCount) error {
	t.restores.Add(1)
	for i, k := range keys {
		if err := t.ResetFailures(ctx, k); err != nil {
			return err
		}
		for range c[i].Prev {
			if _, err := t.AddFailure(ctx, k, c[i].PrevLast); err != nil {
				return err
			}
		}
	}
	return nil
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
	type step struct {
		err              error
		net, day         int
		netLast, dayLast time.Time
	}
	var restores atomic.Int32
	run := func(batch bool) []step {
		e := newEnv(t, throttle)
		e.admin()
		m := e.m
		if batch {
			m = e.manager(batchStore{e.db, &restores}, throttle)
		}
		var out []step
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
			_, err := m.Login(e.ctx, adminEmail, s.password, client)
			st := step{err: err}
			netKey, dayKey := auth.ThrottleKeys(adminEmail, client.IP, e.clk.Now())
			if st.net, st.netLast, err = e.db.Throttle().Failures(e.ctx, netKey); err != nil {
				t.Fatal(err)
			}
			if st.day, st.dayLast, err = e.db.Throttle().Failures(e.ctx, dayKey); err != nil {
				t.Fatal(err)
			}
			out = append(out, st)
		}
		return out
	}
	want, got := run(false), run(true)
	if restores.Load() == 0 {
		t.Fatal("the batch store put nothing back: the test does not reach a refusal")
	}
	for i := range want {
		w, g := want[i], got[i]
		sameErr := errors.Is(g.err, auth.ErrThrottled) == errors.Is(w.err, auth.ErrThrottled) &&
			errors.Is(g.err, auth.ErrInvalidCredentials) == errors.Is(w.err, auth.ErrInvalidCredentials) &&
			(g.err == nil) == (w.err == nil)
		if !sameErr || g.net != w.net || g.day != w.day || !g.netLast.Equal(w.netLast) || !g.dayLast.Equal(w.dayLast) {
			t.Errorf("attempt %d: batched %+v, key by key %+v", i+1, g, w)
		}
	}
}
