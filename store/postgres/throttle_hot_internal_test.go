package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

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

// TestAddFailuresWAL (issue 12): AddFailures on keys that have rows,
// counted or reset to 0, writes their new versions alone, heap-only, and
// no record that locks a row first (as ON CONFLICT DO UPDATE, or SELECT
// ... FOR UPDATE, would). It reads the transaction's WAL records with
// pg_walinspect, and is skipped where that cannot be had (PostgreSQL 15
// or later, as a superuser).
func TestAddFailuresWAL(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	_, err := db.pool.Exec(ctx, `CREATE EXTENSION IF NOT EXISTS pg_walinspect WITH SCHEMA `+pgx.Identifier{db.schema}.Sanitize())
	var where string
	if err == nil {
		err = db.pool.QueryRow(ctx, `SELECT n.nspname FROM pg_extension e JOIN pg_namespace n ON n.oid = e.extnamespace
			WHERE e.extname = 'pg_walinspect'`).Scan(&where)
	}
	if err != nil {
		t.Skipf("no pg_walinspect: %v", err)
	}
	keys := []string{"counted", "reset"}
	_, err = db.Throttle().(auth.FailureBatchStore).AddFailures(ctx, keys, t0)
	must(t, "AddFailures", err)
	must(t, "ResetFailures", db.Throttle().ResetFailures(ctx, "reset"))
	var xid, start string
	err = db.Atomic(ctx, func(tx auth.Store) error {
		if err := tx.(*scope).q.QueryRow(ctx, `SELECT pg_current_xact_id()::text, pg_current_wal_insert_lsn()::text`).
			Scan(&xid, &start); err != nil {
			return err
		}
		_, err := tx.Throttle().(auth.FailureBatchStore).AddFailures(ctx, keys, t0.Add(time.Second))
		return err
	})
	must(t, "AddFailures", err)
	rows, err := db.pool.Query(ctx, `SELECT record_type FROM `+pgx.Identifier{where, "pg_get_wal_records_info"}.Sanitize()+
		`($1::text::pg_lsn, pg_current_wal_flush_lsn()) WHERE xid::text = $2 AND resource_manager = 'Heap' ORDER BY start_lsn`,
		start, xid)
	must(t, "read the WAL", err)
	kinds, err := pgx.CollectRows(rows, pgx.RowTo[string])
	must(t, "read the WAL", err)
	if !slices.Equal(kinds, []string{"HOT_UPDATE", "HOT_UPDATE"}) {
		t.Errorf("AddFailures on two rows wrote heap records %v, want two HOT_UPDATE", kinds)
	}
}

// TestAddFailuresPlan: over 20,000 failure counts, AddFailures reaches
// its keys' rows through the primary key, in a custom plan and a generic
// one (as pgx's cached statement may become), never by reading the table.
func TestAddFailuresPlan(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	if _, err := db.pool.Exec(ctx, `INSERT INTO throttle_failures (key, count, last_at)
		SELECT convert_to('key' || i, 'UTF8'), 1 + i % 5, $1::timestamptz FROM generate_series(1, 20000) i`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `ANALYZE throttle_failures`); err != nil {
		t.Fatal(err)
	}
	keys := [][]byte{[]byte("key7"), []byte("new")}
	for _, generic := range []bool{false, true} {
		nodes, indexes := planOf(t, db, "", generic, addFailuresSQL, keys, t0)
		if slices.Contains(nodes, "Seq Scan") || !slices.Contains(indexes, "throttle_failures_pkey") {
			t.Errorf("generic %v: plan nodes %v, indexes %v; want the primary key read, no table scan", generic, nodes, indexes)
		}
	}
}
