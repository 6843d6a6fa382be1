package postgres

import (
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// TestFailureCountsHOT (issue 12, migration 0018): counting a failure
// against a key that has some moves its last_at, and is a heap-only (HOT)
// update, which writes no index entry: no index of throttle_failures
// covers last_at. Each password attempt counts two keys.
func TestFailureCountsHOT(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	var upd, hot int64
	err := db.Atomic(ctx, func(tx auth.Store) error {
		keys := []string{"net", "account"}
		fs := tx.Throttle().(auth.FailureBatchStore)
		for i := range 3 {
			if _, err := fs.AddFailures(ctx, keys, t0.Add(time.Duration(i)*time.Second)); err != nil {
				return err
			}
		}
		// This transaction's counts, not yet reported.
		return tx.(*scope).q.QueryRow(ctx, `SELECT n_tup_upd, n_tup_hot_upd FROM pg_stat_xact_user_tables
			WHERE relid = 'throttle_failures'::regclass`).Scan(&upd, &hot)
	})
	if err != nil {
		t.Fatal(err)
	}
	if upd != 4 || hot != upd {
		t.Errorf("%d updates of the failure counts, %d of them heap-only; want 4, all heap-only", upd, hot)
	}
}

// TestResetFailuresHOT (issue 12): a successful login's reset keeps the
// row at 0, and the next attempt counts on it again, so a login that
// resets the count it raised writes no row and no primary-key entry: the
// count, the reset and the next count are heap-only updates.
func TestResetFailuresHOT(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	keys := []string{"net", "day"}
	login := func(at time.Time) error { // a successful login's writes
		return db.Atomic(ctx, func(tx auth.Store) error {
			if _, err := tx.Throttle().(auth.FailureBatchStore).AddFailures(ctx, keys, at); err != nil {
				return err
			}
			return tx.Throttle().ResetFailures(ctx, keys[0])
		})
	}
	must(t, "first login", login(t0))
	var ins, upd, hot, del int64
	err := db.Atomic(ctx, func(tx auth.Store) error {
		// The view holds counts of the connection's earlier transactions
		// not yet reported, too: what this one did is the difference.
		stats := func(sign int64) error {
			var i, u, h, d int64
			err := tx.(*scope).q.QueryRow(ctx, `SELECT n_tup_ins, n_tup_upd, n_tup_hot_upd, n_tup_del
				FROM pg_stat_xact_user_tables WHERE relid = 'throttle_failures'::regclass`).Scan(&i, &u, &h, &d)
			ins, upd, hot, del = ins+sign*i, upd+sign*u, hot+sign*h, del+sign*d
			return err
		}
		if err := stats(-1); err != nil {
			return err
		}
		fs := tx.Throttle().(auth.FailureBatchStore)
		c, err := fs.AddFailures(ctx, keys, t0.Add(time.Second))
		if err != nil {
			return err
		}
		if c[0] != (auth.FailureCount{Got: 1}) {
			t.Errorf("net after a reset: %+v, want a first failure", c[0])
		}
		if err := fs.ResetFailures(ctx, keys[0]); err != nil {
			return err
		}
		if err := fs.ResetFailures(ctx, keys[0]); err != nil { // at 0 already: no write
			return err
		}
		return stats(1)
	})
	must(t, "second login", err)
	if ins != 0 || del != 0 || upd != 3 || hot != upd {
		t.Errorf("second login: %d inserts, %d deletes, %d updates (%d heap-only) of the failure counts; "+
			"want 3 updates, all heap-only", ins, del, upd, hot)
	}
}
