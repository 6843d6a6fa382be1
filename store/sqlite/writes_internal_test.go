package sqlite

import (
	"context"
	"errors"
	"fmt"
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

// TestWriterCheckpointsLate (issue 12): the writer's connection checkpoints
// the log only past walCheckpointPages, ten times SQLite's default, and
// writes on it leave the log unchecked below that: after a few hundred
// commits, the log still holds every frame they wrote.
func TestWriterCheckpointsLate(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	var pages int
	if err := db.w.QueryRowContext(ctx, `PRAGMA wal_autocheckpoint`).Scan(&pages); err != nil {
		t.Fatal(err)
	}
	if pages != walCheckpointPages {
		t.Fatalf("wal_autocheckpoint %d on the writer, want %d", pages, walCheckpointPages)
	}
	window := time.Unix(1_700_000_000, 0)
	for i := range 1500 { // past SQLite's default of 1,000 frames, below ours
		if _, err := db.Throttle().Hit(ctx, fmt.Sprintf("key-%d", i), window); err != nil {
			t.Fatal(err)
		}
	}
	var busy, frames, copied int
	if err := db.w.QueryRowContext(ctx, `PRAGMA wal_checkpoint(PASSIVE)`).Scan(&busy, &frames, &copied); err != nil {
		t.Fatal(err)
	}
	// The PASSIVE checkpoint here copies what is there; frames is the log's
	// length, which, had an automatic checkpoint run at 1,000 frames, the
	// writes after it would have started over.
	if frames < 1500 {
		t.Fatalf("the log held %d frames after 1,500 commits: checkpointed early", frames)
	}
}
