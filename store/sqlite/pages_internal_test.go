package sqlite

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// walDB is a test database at a path the test knows, so that it can read
// the write-ahead log's length.
func walDB(t *testing.T) (*DB, string) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "usher.db")
	db, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	withBuiltinGroups(t, db)
	return db, path
}

// framesOf is how many pages fn writes: the frames it appends to the
// write-ahead log (its header aside, each frame is a 24-byte header and
// one page). The log must not be checkpointed meanwhile, which a test
// database far from the automatic checkpoint (walCheckpointPages) is not.
func framesOf(t *testing.T, db *DB, path string, fn func()) int64 {
	t.Helper()
	var pageSize int64
	if err := db.r.QueryRow(`PRAGMA page_size`).Scan(&pageSize); err != nil {
		t.Fatal(err)
	}
	size := func() int64 {
		fi, err := os.Stat(path + "-wal")
		if err != nil {
			t.Fatal(err)
		}
		return fi.Size()
	}
	before := size()
	fn()
	return (size() - before) / (24 + pageSize)
}

// TestHitInItsWindowWritesOnePage (issue 12): a hit in the key's stored
// window, which every login makes, writes the row's page alone, not the
// window index's too; counts are storetest's.
func TestHitInItsWindowWritesOnePage(t *testing.T) {
	db, path := walDB(t)
	ctx := context.Background()
	window := time.Unix(1_700_000_000, 0)
	hit := func(want int) {
		err := db.Atomic(ctx, func(tx auth.Store) error {
			n, err := tx.Throttle().Hit(ctx, "ip:192.0.2.1", window)
			if err == nil && n != want {
				t.Errorf("Hit = %d, want %d", n, want)
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	hit(1)
	if n := framesOf(t, db, path, func() { hit(2) }); n != 1 {
		t.Errorf("a hit in its window wrote %d pages, want 1", n)
	}
}

// TestResetFailuresWritesOnePage (issue 12): the reset that every
// successful login makes writes the row's page alone, and the key reads as
// never failed, before and after its next failure, which counts from 1 at
// its own time even if it is older than the one reset.
func TestResetFailuresWritesOnePage(t *testing.T) {
	db, path := walDB(t)
	ctx := context.Background()
	const key = "account:a@example.com\x1fnet:192.0.2.1"
	t0 := time.Unix(1_700_000_000, 0)
	for range 2 {
		if _, err := db.Throttle().AddFailure(ctx, key, t0); err != nil {
			t.Fatal(err)
		}
	}
	reset := func() {
		if err := db.Atomic(ctx, func(tx auth.Store) error { return tx.Throttle().ResetFailures(ctx, key) }); err != nil {
			t.Fatal(err)
		}
	}
	if n := framesOf(t, db, path, reset); n != 1 {
		t.Errorf("a reset wrote %d pages, want 1", n)
	}
	if n, last, err := db.Throttle().Failures(ctx, key); err != nil || n != 0 || !last.IsZero() {
		t.Errorf("Failures after reset = %d, %v, %v; want 0 and the zero time", n, last, err)
	}
	if n := framesOf(t, db, path, reset); n != 0 {
		t.Errorf("a reset of a reset count wrote %d pages, want none", n)
	}
	earlier := t0.Add(-time.Minute)
	if n, err := db.Throttle().AddFailure(ctx, key, earlier); err != nil || n != 1 {
		t.Fatalf("AddFailure after reset = %d, %v; want 1", n, err)
	}
	if n, last, err := db.Throttle().Failures(ctx, key); err != nil || n != 1 || !last.Equal(earlier) {
		t.Errorf("Failures = %d, %v, %v; want 1 at %v", n, last, err, earlier)
	}
}

// TestCountingAFailureWritesOnePage (issue 12, migration 0022): counting
// one more failure of a key, which every password attempt does for two
// keys, writes the row's page alone: no index by last_at moves with it.
func TestCountingAFailureWritesOnePage(t *testing.T) {
	db, path := walDB(t)
	ctx := context.Background()
	const key = "account:a@example.com\x1fnet:192.0.2.1"
	at := time.Unix(1_700_000_000, 0)
	fail := func() {
		at = at.Add(time.Second)
		if _, err := db.Throttle().(auth.FailureBatchStore).AddFailures(ctx, []string{key}, at); err != nil {
			t.Fatal(err)
		}
	}
	fail()
	if n := framesOf(t, db, path, fail); n != 1 {
		t.Errorf("counting a failure wrote %d pages, want 1", n)
	}
}
