package sqlite

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// TestWriterStatementsPreparedOnce (issue 12): a statement a transaction
// runs is prepared on the writer once the transaction has let go of the
// connection, and later transactions, committed or rolled back, run it
// from the cache, with the same results; so does a write outside one.
func TestWriterStatementsPreparedOnce(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	window := time.Unix(1_700_000_000, 0)
	hit := func(st auth.Store) int {
		n, err := st.Throttle().Hit(ctx, "k", window)
		if err != nil {
			t.Fatal(err)
		}
		return n
	}
	if err := db.Atomic(ctx, func(tx auth.Store) error { hit(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	st := db.writes.stmts[hitSQL]
	if st == nil {
		t.Fatal("the transaction's statement was not prepared after it")
	}
	errRollback := errors.New("roll back")
	if err := db.Atomic(ctx, func(tx auth.Store) error { hit(tx); return errRollback }); !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	var got int
	if err := db.AtomicDeferSync(ctx, func(tx auth.Store) error { got = hit(tx); return nil }); err != nil {
		t.Fatal(err)
	}
	if got != 2 || hit(db) != 3 {
		t.Fatalf("hits counted through the cache: %d then %d, want 2 then 3", got, hit(db))
	}
	if db.writes.stmts[hitSQL] != st || len(db.writes.wanted) != 0 {
		t.Fatal("a cached statement was prepared again")
	}
}

// TestAtomicDeferSyncRestoresSynchronous: AtomicDeferSync commits with
// synchronous=NORMAL, and the writer's connection is back at FULL after
// it, whether fn succeeded, failed or panicked, so no Atomic commit goes
// unsynced.
func TestAtomicDeferSyncRestoresSynchronous(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	level := func(tx auth.Store) int {
		var n int
		if err := tx.(*scope).w.QueryRowContext(ctx, `PRAGMA synchronous`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	const normal, full = 1, 2
	for _, end := range []func() error{
		func() error { return nil },
		func() error { return errors.New("fn failed") },
		func() error { panic("fn panicked") },
	} {
		var in, after int
		_ = db.AtomicDeferSync(ctx, func(tx auth.Store) error { in = level(tx); return end() })
		if err := db.Atomic(ctx, func(tx auth.Store) error { after = level(tx); return nil }); err != nil {
			t.Fatal(err)
		}
		if in != normal || after != full {
			t.Fatalf("synchronous inside AtomicDeferSync %d (want %d), in Atomic after it %d (want %d)", in, normal, after, full)
		}
	}
}
