package postgres

import (
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// TestFailuresAfterReset: a count reset to 0 reads as none, and the next
// failure starts it again at 1 at its own time, even one older than the
// reset row's last failure (another instance's clock lagging), by
// AddFailure and by AddFailures alike.
func TestFailuresAfterReset(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	th := db.Throttle()
	fs := th.(auth.FailureBatchStore)
	for _, k := range []string{"one", "batch"} {
		for i := range 3 {
			_, err := th.AddFailure(ctx, k, t0.Add(time.Duration(i)*time.Second))
			must(t, "AddFailure", err)
		}
		must(t, "ResetFailures", th.ResetFailures(ctx, k))
		if n, last, err := th.Failures(ctx, k); err != nil || n != 0 || !last.IsZero() {
			t.Errorf("%s after the reset: %d at %v (%v), want none", k, n, last, err)
		}
	}
	before := t0.Add(-time.Minute)
	n, err := th.AddFailure(ctx, "one", before)
	must(t, "AddFailure after the reset", err)
	c, err := fs.AddFailures(ctx, []string{"batch"}, before)
	must(t, "AddFailures after the reset", err)
	if n != 1 || c[0] != (auth.FailureCount{Got: 1}) {
		t.Errorf("after the reset: AddFailure %d, AddFailures %+v; want 1 and a first failure", n, c[0])
	}
	for _, k := range []string{"one", "batch"} {
		if n, last, err := th.Failures(ctx, k); err != nil || n != 1 || !last.Equal(before) {
			t.Errorf("%s: %d at %v (%v), want 1 at %v", k, n, last, err, before)
		}
	}
}

// TestAddFailuresPrev: AddFailures returns what a key held before, from
// prev_last (migration 0019), for a key with no row, one reset to 0 and
// one with failures, and RestoreFailures puts back each row as it was:
// the first gone, the second at 0 at its time, the third at its count.
func TestAddFailuresPrev(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	th := db.Throttle()
	for i := range 2 {
		_, err := th.AddFailure(ctx, "zero", t0.Add(time.Duration(i)*time.Second))
		must(t, "AddFailure", err)
	}
	must(t, "ResetFailures", th.ResetFailures(ctx, "zero"))
	for i := range 3 {
		_, err := th.AddFailure(ctx, "some", t0.Add(time.Duration(i)*time.Minute))
		must(t, "AddFailure", err)
	}
	keys := []string{"none", "zero", "some"}
	want := []auth.FailureCount{{Got: 1}, {Got: 1}, {Prev: 3, PrevLast: t0.Add(2 * time.Minute), Got: 4}}
	rows := throttleFailures(t, db)
	for _, restore := range []bool{true, false} {
		err := db.Atomic(ctx, func(tx auth.Store) error {
			fs := tx.Throttle().(auth.FailureBatchStore)
			c, err := fs.AddFailures(ctx, keys, t0.Add(time.Hour))
			if err != nil {
				return err
			}
			for i := range want {
				if c[i].Prev != want[i].Prev || !c[i].PrevLast.Equal(want[i].PrevLast) || c[i].Got != want[i].Got {
					t.Errorf("restore %v, %s: %+v, want %+v", restore, keys[i], c[i], want[i])
				}
			}
			if restore {
				return fs.RestoreFailures(ctx, keys, c)
			}
			return nil
		})
		must(t, "AddFailures", err)
		if got := throttleFailures(t, db); restore && got != rows {
			t.Errorf("the rows went from\n%s\nto\n%s\nafter AddFailures and RestoreFailures", rows, got)
		}
	}
	for i, k := range keys {
		if n, last, err := th.Failures(ctx, k); err != nil || n != want[i].Got || !last.Equal(t0.Add(time.Hour)) {
			t.Errorf("%s, counted: %d at %v (%v), want %d at %v", k, n, last, err, want[i].Got, t0.Add(time.Hour))
		}
	}
}

// TestAddFailuresWaits: AddFailures of a key that a transaction has
// counted and not yet committed waits for it, and counts on what it
// left: a count it kept, or none, or the failures before it, when it put
// its count back (RestoreFailures); on a row that existed (the UPDATE)
// and on one the transaction inserted (the upsert) alike.
func TestAddFailuresWaits(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	t1, t2 := t0.Add(time.Hour), t0.Add(2*time.Hour)
	for _, c := range []struct {
		key      string
		existing int // failures before, at t0 and each second on
		restore  bool
		want     auth.FailureCount
	}{
		{"row, put back", 2, true, auth.FailureCount{Prev: 2, PrevLast: t0.Add(time.Second), Got: 3}},
		{"row, kept", 2, false, auth.FailureCount{Prev: 3, PrevLast: t1, Got: 4}},
		{"inserted, put back", 0, true, auth.FailureCount{Got: 1}},
		{"inserted, kept", 0, false, auth.FailureCount{Prev: 1, PrevLast: t1, Got: 2}},
	} {
		for i := range c.existing {
			_, err := db.Throttle().AddFailure(ctx, c.key, t0.Add(time.Duration(i)*time.Second))
			must(t, "AddFailure", err)
		}
		var (
			wg      sync.WaitGroup
			other   []auth.FailureCount
			errWait error
		)
		err := db.Atomic(ctx, func(tx auth.Store) error {
			fs := tx.Throttle().(auth.FailureBatchStore)
			counted, err := fs.AddFailures(ctx, []string{c.key}, t1)
			if err != nil {
				return err
			}
			wg.Add(1)
			go func() {
				defer wg.Done()
				other, errWait = db.Throttle().(auth.FailureBatchStore).AddFailures(ctx, []string{c.key}, t2)
			}()
			time.Sleep(200 * time.Millisecond) // the other count waits for the row
			if c.restore {
				return fs.RestoreFailures(ctx, []string{c.key}, counted)
			}
			return nil
		})
		must(t, "Atomic", err)
		wg.Wait()
		must(t, "AddFailures, waiting", errWait)
		if len(other) != 1 || other[0].Prev != c.want.Prev || !other[0].PrevLast.Equal(c.want.PrevLast) || other[0].Got != c.want.Got {
			t.Errorf("%s: the count that waited: %+v, want %+v", c.key, other, c.want)
		}
	}
}

// TestAddFailuresRepeatedKey: a key given twice is counted twice, key by
// key (one upsert cannot update a row twice), and RestoreFailures, last
// key first, puts it back to none.
func TestAddFailuresRepeatedKey(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	keys := []string{"k", "other", "k"}
	err := db.Atomic(ctx, func(tx auth.Store) error {
		fs := tx.Throttle().(auth.FailureBatchStore)
		c, err := fs.AddFailures(ctx, keys, t0)
		if err != nil {
			return err
		}
		want := []auth.FailureCount{{Got: 1}, {Got: 1}, {Prev: 1, PrevLast: t0, Got: 2}}
		for i := range want {
			if c[i].Prev != want[i].Prev || !c[i].PrevLast.Equal(want[i].PrevLast) || c[i].Got != want[i].Got {
				t.Errorf("%s (%d): %+v, want %+v", keys[i], i, c[i], want[i])
			}
		}
		return fs.RestoreFailures(ctx, keys, c)
	})
	must(t, "AddFailures", err)
	for _, k := range keys {
		if n, last, err := db.Throttle().Failures(ctx, k); err != nil || n != 0 || !last.IsZero() {
			t.Errorf("%s after the restore: %d at %v (%v), want none", k, n, last, err)
		}
	}
}
