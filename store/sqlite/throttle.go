package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/keyrange"
	"github.com/usher-go/usher/user"
)

func (ts throttleStore) Failures(ctx context.Context, key string) (int, time.Time, error) {
	var n int
	var last int64
	err := ts.s.r.QueryRowContext(ctx, `SELECT count, last_at FROM throttle_failures WHERE key = ?`, key).Scan(&n, &last)
	if errors.Is(err, sql.ErrNoRows) || err == nil && n == 0 { // none, or reset (ResetFailures)
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, wrap("throttle failures", err)
	}
	return n, fromNanos(last), nil
}

// AddFailure is one upsert that returns the new count, so two concurrent
// failures can never both read n and write n+1. A row reset to 0
// (ResetFailures) starts again as a new one would.
func (ts throttleStore) AddFailure(ctx context.Context, key string, at time.Time) (int, error) {
	const q = `INSERT INTO throttle_failures (key, count, last_at) VALUES (?, 1, ?)
		ON CONFLICT (key) DO UPDATE SET count = count + 1,
			last_at = CASE WHEN count = 0 THEN excluded.last_at ELSE max(last_at, excluded.last_at) END
		RETURNING count`
	var n int
	if err := ts.s.w.QueryRowContext(ctx, q, key, nanos(at)).Scan(&n); err != nil {
		return 0, wrap("throttle add failure", err)
	}
	return n, nil
}

// AddFailures is auth.FailureBatchStore's: one upsert that counts every
// key and returns what each held before (issue 12: a password login's
// admission counts its network back-off and its day in one statement
// instead of three). The count before is the one returned less the
// attempt: a key that held none, or a count reset to 0, comes back at 1.
// The time of the last failure before is prev_last (migration 0018),
// which the upsert sets to last_at as it was (every SET expression sees
// the row as it was), and which means something only when the key held
// failures. Keys must differ; a repeated key is counted key by key, as
// AddFailure would.
func (ts throttleStore) AddFailures(ctx context.Context, keys []string, at time.Time) ([]auth.FailureCount, error) {
	out := make([]auth.FailureCount, len(keys))
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	if len(index) != len(keys) || len(keys) == 0 {
		return ts.addFailuresOneByOne(ctx, keys, at, out)
	}
	args := make([]any, 0, 2*len(keys))
	for _, k := range keys {
		args = append(args, k, nanos(at))
	}
	// RETURNING gives rows in no set order, hence the key.
	q := `INSERT INTO throttle_failures (key, count, last_at) VALUES (?, 1, ?)` + strings.Repeat(`, (?, 1, ?)`, len(keys)-1) + `
		ON CONFLICT (key) DO UPDATE SET count = count + 1,
			prev_last = last_at,
			last_at = CASE WHEN count = 0 THEN excluded.last_at ELSE max(last_at, excluded.last_at) END
		RETURNING key, count, prev_last`
	rows, err := ts.s.w.QueryContext(ctx, q, args...)
	err = forEachRow(rows, err, func(sc scanner) error {
		var (
			k    string
			n    int
			prev sql.NullInt64
		)
		if err := sc.Scan(&k, &n, &prev); err != nil {
			return err
		}
		i, ok := index[k]
		switch {
		case !ok:
		case n > 1 && !prev.Valid:
			return fmt.Errorf("key %d: a count of %d without its time before", i, n)
		case n > 1:
			out[i] = auth.FailureCount{Prev: n - 1, PrevLast: fromNanos(prev.Int64), Got: n}
		default: // none before
			out[i] = auth.FailureCount{Got: n}
		}
		return nil
	})
	if err != nil {
		return nil, wrap("throttle add failures", err)
	}
	for i := range out {
		if out[i].Got == 0 {
			return nil, wrap("throttle add failures", fmt.Errorf("no count returned for key %d", i))
		}
	}
	return out, nil
}

// addFailuresOneByOne is AddFailures key by key.
func (ts throttleStore) addFailuresOneByOne(ctx context.Context, keys []string, at time.Time, out []auth.FailureCount) ([]auth.FailureCount, error) {
	for i, k := range keys {
		var err error
		if out[i].Prev, out[i].PrevLast, err = ts.Failures(ctx, k); err != nil {
			return nil, err
		}
		if out[i].Got, err = ts.AddFailure(ctx, k, at); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// RestoreFailures is auth.FailureBatchStore's: each key put back as
// AddFailures found it, a key that held none deleted.
func (ts throttleStore) RestoreFailures(ctx context.Context, keys []string, c []auth.FailureCount) error {
	if len(c) != len(keys) {
		return wrap("throttle restore", fmt.Errorf("%d counts for %d keys", len(c), len(keys)))
	}
	for i, k := range keys {
		var err error
		if c[i].Prev == 0 {
			_, err = ts.s.w.ExecContext(ctx, `DELETE FROM throttle_failures WHERE key = ?`, k)
		} else {
			_, err = ts.s.w.ExecContext(ctx, `UPDATE throttle_failures SET count = ?, last_at = ? WHERE key = ?`,
				c[i].Prev, nanos(c[i].PrevLast), k)
		}
		if err != nil {
			return wrap("throttle restore", err)
		}
	}
	return nil
}

// forEachRow calls fn on each row of a query's result, then closes it;
// it returns the query's error, fn's, or the rows'.
func forEachRow(rows *sql.Rows, err error, fn func(scanner) error) error {
	if err != nil {
		return err
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return err
		}
	}
	return rows.Err()
}

// ResetFailures sets the count to 0 rather than deleting the row: a
// successful login resets the count its own admission has just raised, so
// the row would come straight back at the next attempt (issue 12).
// Failures reads a 0 as no row; Prune deletes it in time like any other.
func (ts throttleStore) ResetFailures(ctx context.Context, key string) error {
	if _, err := ts.s.w.ExecContext(ctx, `UPDATE throttle_failures SET count = 0 WHERE key = ? AND count <> 0`, key); err != nil {
		return wrap("throttle reset", err)
	}
	return nil
}

// hitSameWindowSQL counts a hit in the stored window, or in a newer one
// (another instance's clock lagging): the common case, a key hit again
// within its minute. It sets count alone, so SQLite leaves the
// throttle_hits_window index alone: one page written, not two (issue 12).
const hitSameWindowSQL = `UPDATE throttle_hits SET count = count + 1 WHERE key = ? AND window_start >= ? RETURNING count`

// hitSQL is the first hit of a key, or the first of a newer window: one
// upsert. SET expressions all see the row as it was, so the count restarts
// exactly when the window moves forward. A hit stamped with an older window
// than the stored one counts in the stored window instead of moving it
// back.
const hitSQL = `INSERT INTO throttle_hits (key, window_start, count) VALUES (?, ?, 1)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN excluded.window_start > window_start THEN 1 ELSE count + 1 END,
			window_start = max(window_start, excluded.window_start)
		RETURNING count`

// Hit is hitSameWindowSQL, or hitSQL when it matched no row. Each is
// atomic by itself, and the upsert is right whatever another writer did
// between the two, so a hit is counted once either way.
func (ts throttleStore) Hit(ctx context.Context, key string, window time.Time) (int, error) {
	var n int
	err := ts.s.w.QueryRowContext(ctx, hitSameWindowSQL, key, nanos(window)).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		err = ts.s.w.QueryRowContext(ctx, hitSQL, key, nanos(window)).Scan(&n)
	}
	if err != nil {
		return 0, wrap("throttle hit", err)
	}
	return n, nil
}

// Prune deletes the keys idle since before. It reads the whole
// throttle_failures table, which no index by last_at serves since
// migration 0022 (that index was one more b-tree written by every
// login). The table holds about two rows per account and client network
// that attempted a password in the last day or more (a success resets its
// row to 0 and keeps it), so on a large site the hourly prune holds the
// write lock longer than before: about 70 ms more per million rows, on a
// 2-vCPU VM (BENCHMARKS.md). It runs with the other upkeep
// (Manager.PruneSessions), not per request.
func (ts throttleStore) Prune(ctx context.Context, before time.Time) error {
	t := nanos(before)
	if _, err := ts.s.w.ExecContext(ctx, `DELETE FROM throttle_failures WHERE last_at < ?`, t); err != nil {
		return wrap("throttle prune", err)
	}
	if _, err := ts.s.w.ExecContext(ctx, `DELETE FROM throttle_hits WHERE window_start < ?`, t); err != nil {
		return wrap("throttle prune", err)
	}
	return nil
}

// ResetPrefix deletes a range of the primary key: the keys that begin with
// prefix (TEXT compares byte by byte under SQLite's default collation).
func (ts throttleStore) ResetPrefix(ctx context.Context, prefix string) error {
	q, args := `DELETE FROM throttle_failures WHERE key >= ?`, []any{prefix}
	if end, ok := keyrange.End(prefix); ok {
		q, args = q+` AND key < ?`, append(args, end)
	}
	if _, err := ts.s.w.ExecContext(ctx, q, args...); err != nil {
		return wrap("throttle reset prefix", err)
	}
	return nil
}

func (ts throttleStore) DeviceGeneration(ctx context.Context, id user.ID) (int64, error) {
	if a := ts.s.ahead(id); a != nil {
		return a.Gen, nil
	}
	var g int64
	err := ts.s.r.QueryRowContext(ctx, `SELECT generation FROM device_generations WHERE user_id = ?`, string(id)).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("device generation", err)
	}
	return g, nil
}

// RevokeDevices is one upsert that inserts only for an existing user.
func (ts throttleStore) RevokeDevices(ctx context.Context, id user.ID) (int64, error) {
	const q = `INSERT INTO device_generations (user_id, generation) SELECT id, 1 FROM users WHERE id = ?
		ON CONFLICT (user_id) DO UPDATE SET generation = generation + 1
		RETURNING generation`
	var g int64
	err := ts.s.w.QueryRowContext(ctx, q, string(id)).Scan(&g)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("revoke devices", err)
	}
	return g, nil
}
