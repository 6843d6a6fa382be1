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
