package postgres

import (
	"context"
	"errors"
	"testing"

	"github.com/usher-go/usher/auth"
)

// TestAtomicDeferSyncIsLocal (issue 12): AtomicDeferSync's transaction
// commits with synchronous_commit off, and only it: an Atomic transaction
// after it, on whatever pooled connection, commits synchronously, whether
// the deferred one committed or rolled back.
func TestAtomicDeferSyncIsLocal(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	setting := func(tx auth.Store) string {
		var v string
		if err := tx.(*scope).q.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, end := range []error{nil, errors.New("roll back")} {
		var in, after string
		if err := db.AtomicDeferSync(ctx, func(tx auth.Store) error { in = setting(tx); return end }); !errors.Is(err, end) {
			t.Fatal(err)
		}
		if err := db.Atomic(ctx, func(tx auth.Store) error { after = setting(tx); return nil }); err != nil {
			t.Fatal(err)
		}
		if in != "off" || after != "on" {
			t.Fatalf("synchronous_commit inside AtomicDeferSync %q (want off), in Atomic after it %q (want on)", in, after)
		}
	}
}
