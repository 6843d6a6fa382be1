package postgres

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/auth"
)

// TestAddFailuresRaces: AddFailures waiting on another transaction that
// deletes a key's row (Prune, ResetPrefix), inserts one, resets it to 0
// (ResetFailures) or puts back what it wrote, then commits or rolls
// back, counts on what that transaction left, in READ COMMITTED, with
// one key found and one inserted; and RestoreFailures, after the wait,
// leaves the rows exactly as the other transaction alone would have.
func TestAddFailuresRaces(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	t1, t2 := t0.Add(time.Minute), t0.Add(time.Hour)
	for _, c := range []struct {
		name   string
		before int      // failures the key holds, the last at t0, 0 for no row
		other  []string // the other transaction's statements on $1, the key
		commit bool
		want   auth.FailureCount
	}{
		{"pruned", 3, []string{`DELETE FROM throttle_failures WHERE key = $1`}, true, auth.FailureCount{Got: 1}},
		{"prune rolled back", 3, []string{`DELETE FROM throttle_failures WHERE key = $1`}, false,
			auth.FailureCount{Prev: 3, PrevLast: t0, Got: 4}},
		{"deleted, counted again", 3, []string{`DELETE FROM throttle_failures WHERE key = $1`,
			`INSERT INTO throttle_failures (key, count, last_at) VALUES ($1, 5, '` + t1.Format(time.RFC3339Nano) + `')`},
			true, auth.FailureCount{Prev: 5, PrevLast: t1, Got: 6}},
		{"inserted", 0, []string{`INSERT INTO throttle_failures (key, count, last_at) VALUES ($1, 2, '` +
			t1.Format(time.RFC3339Nano) + `')`}, true, auth.FailureCount{Prev: 2, PrevLast: t1, Got: 3}},
		{"insert rolled back", 0, []string{`INSERT INTO throttle_failures (key, count, last_at) VALUES ($1, 2, '` +
			t1.Format(time.RFC3339Nano) + `')`}, false, auth.FailureCount{Got: 1}},
		{"reset", 3, []string{`UPDATE throttle_failures SET count = 0 WHERE key = $1 AND count <> 0`}, true,
			auth.FailureCount{Got: 1}},
		{"reset, counted again", 3, []string{`UPDATE throttle_failures SET count = 0 WHERE key = $1 AND count <> 0`,
			`UPDATE throttle_failures SET count = count + 1, last_at = '` + t1.Format(time.RFC3339Nano) + `' WHERE key = $1`},
			true, auth.FailureCount{Prev: 1, PrevLast: t1, Got: 2}},
		{"reset, then pruned", 3, []string{`UPDATE throttle_failures SET count = 0 WHERE key = $1 AND count <> 0`,
			`DELETE FROM throttle_failures WHERE key = $1`}, true, auth.FailureCount{Got: 1}},
	} {
		for _, restore := range []bool{false, true} {
			run := fmt.Sprintf("%s/restore %v", c.name, restore)
			key, control, fresh := run+"/key", run+"/control", run+"/fresh"
			for _, k := range []string{key, control} {
				if c.before > 0 {
					_, err := db.pool.Exec(ctx, `INSERT INTO throttle_failures (key, count, last_at) VALUES ($1, $2, $3)`,
						[]byte(k), c.before, t0)
					must(t, run+": seed", err)
				}
			}
			// The control: the other transaction alone.
			otherTx(t, db, control, c.other, c.commit, nil)
			var (
				wg      sync.WaitGroup
				got     []auth.FailureCount
				errWait error
			)
			otherTx(t, db, key, c.other, c.commit, func() {
				wg.Add(1)
				go func() {
					defer wg.Done()
					errWait = db.Atomic(ctx, func(tx auth.Store) error {
						fs := tx.Throttle().(auth.FailureBatchStore)
						keys := []string{key, fresh}
						var err error
						if got, err = fs.AddFailures(ctx, keys, t2); err != nil || !restore {
							return err
						}
						return fs.RestoreFailures(ctx, keys, got)
					})
				}()
				time.Sleep(200 * time.Millisecond) // AddFailures waits for the row
			})
			wg.Wait()
			if errWait != nil {
				t.Errorf("%s: AddFailures, waiting: %v", run, errWait)
				continue
			}
			if g := got[0]; g.Prev != c.want.Prev || !g.PrevLast.Equal(c.want.PrevLast) || g.Got != c.want.Got {
				t.Errorf("%s: the count that waited: %+v, want %+v", run, g, c.want)
			}
			if g := got[1]; g != (auth.FailureCount{Got: 1}) {
				t.Errorf("%s: the key without a row: %+v, want a first failure", run, g)
			}
			if !restore {
				continue
			}
			if k, ctl := failureRow(t, db, key), failureRow(t, db, control); k != ctl {
				t.Errorf("%s: after RestoreFailures: %s, the other transaction alone left %s", run, k, ctl)
			}
			if f := failureRow(t, db, fresh); f != "none" {
				t.Errorf("%s: the key without a row, put back: %s, want none", run, f)
			}
		}
	}
}

// otherTx runs stmts on key in a transaction of their own, then, before
// it ends, during (when set), and then commits or rolls back.
func otherTx(t *testing.T, db *DB, key string, stmts []string, commit bool, during func()) {
	t.Helper()
	ctx := context.Background()
	tx, err := db.pool.Begin(ctx)
	must(t, "begin", err)
	defer func() { _ = tx.Rollback(ctx) }()
	for _, s := range stmts {
		_, err := tx.Exec(ctx, s, []byte(key))
		must(t, s, err)
	}
	if during != nil {
		during()
	}
	if commit {
		must(t, "commit", tx.Commit(ctx))
	}
}

// failureRow is key's row in throttle_failures, "none" for none.
func failureRow(t *testing.T, db *DB, key string) string {
	t.Helper()
	var (
		n    int
		last time.Time
	)
	err := db.pool.QueryRow(context.Background(), `SELECT count, last_at FROM throttle_failures WHERE key = $1`,
		[]byte(key)).Scan(&n, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return "none"
	}
	must(t, "read "+key, err)
	return fmt.Sprintf("%d at %s", n, last.UTC().Format(time.RFC3339Nano))
}
