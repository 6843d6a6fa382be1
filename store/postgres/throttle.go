package postgres

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/keyrange"
	"github.com/usher-go/usher/user"
)

// Throttle keys are stored as bytea (see 0001_init.sql): the Manager builds
// them from what a client typed, cut to a byte length, so they need not be
// valid UTF-8.

// Failures reads a count of 0 as none: ResetFailures keeps the row.
func (ts throttleStore) Failures(ctx context.Context, key string) (int, time.Time, error) {
	var n int
	var last time.Time
	err := ts.s.q.QueryRow(ctx, `SELECT count, last_at FROM throttle_failures WHERE key = $1 AND count <> 0`, []byte(key)).
		Scan(&n, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, wrap("throttle failures", err)
	}
	return n, last, nil
}

// countSet is the SET of the statements that count a failure at $2
// (AddFailure, AddFailures). Every SET expression sees the row as it
// was. A row reset to 0 (ResetFailures) starts again at the attempt's
// time, as a new row would; otherwise the time only moves forward: an
// instance whose clock lags does not shorten the back-off.
const countSet = `count = f.count + 1,
			last_at = CASE WHEN f.count = 0 THEN $2::timestamptz ELSE GREATEST(f.last_at, $2::timestamptz) END`

// AddFailure is one upsert that returns the new count. PostgreSQL runs
// INSERT ... ON CONFLICT DO UPDATE against the latest committed row,
// waiting for a concurrent writer of the same key and locking the row, so
// two failures, from any instances, can never both read n and write n+1.
func (ts throttleStore) AddFailure(ctx context.Context, key string, at time.Time) (int, error) {
	const q = `INSERT INTO throttle_failures AS f (key, count, last_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET ` + countSet + `
		RETURNING f.count`
	var n int
	if err := ts.s.q.QueryRow(ctx, q, []byte(key), at).Scan(&n); err != nil {
		return 0, wrap("throttle add failure", err)
	}
	return n, nil
}

// ResetFailures sets the count to 0 rather than deleting the row: a
// successful login resets the count its own admission has just raised, so
// a deleted row would come straight back at the next attempt, a new
// primary-key entry each time, where a 0 is a heap-only update (issue 12).
// Every statement reads a 0 as no failures; Prune deletes the row in time
// like any other. It is a write nothing reads back: inside a transaction
// it goes out with the next statement or the commit (execLate).
func (ts throttleStore) ResetFailures(ctx context.Context, key string) error {
	return ts.s.execLate(ctx, func(err error) error { return wrap("throttle reset", err) },
		`UPDATE throttle_failures SET count = 0 WHERE key = $1 AND count <> 0`, []byte(key))
}

// Hit is one upsert. SET expressions all see the row as it was, so the
// count restarts exactly when the window moves forward. A hit stamped with
// an older window than the stored one (another instance's clock lagging)
// counts in the stored window instead of moving it back.
func (ts throttleStore) Hit(ctx context.Context, key string, window time.Time) (int, error) {
	var n int
	if err := ts.s.q.QueryRow(ctx, hitSQL, []byte(key), window).Scan(&n); err != nil {
		return 0, wrap("throttle hit", err)
	}
	return n, nil
}

// hitSQL is Hit's upsert.
const hitSQL = `INSERT INTO throttle_hits AS h (key, window_start, count) VALUES ($1, $2, 1)
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN EXCLUDED.window_start > h.window_start THEN 1 ELSE h.count + 1 END,
			window_start = GREATEST(h.window_start, EXCLUDED.window_start)
		RETURNING h.count`

// hitUnderSQL is hitSQL made only while the row of the key $3, as this
// transaction's earlier statements left it, counts at most $4 (HitLate's
// next): no row returned when it was not made. Within the transaction
// the earlier hit on $3 holds that row's lock, so the count read is the
// one that hit returned.
const hitUnderSQL = `INSERT INTO throttle_hits AS h (key, window_start, count)
		SELECT $1::bytea, $2::timestamptz, 1
		WHERE (SELECT count FROM throttle_hits WHERE key = $3::bytea) <= $4::bigint
		ON CONFLICT (key) DO UPDATE SET
			count = CASE WHEN EXCLUDED.window_start > h.window_start THEN 1 ELSE h.count + 1 END,
			window_start = GREATEST(h.window_start, EXCLUDED.window_start)
		RETURNING h.count`

// HitLate is [auth.LateHitStore]'s: inside a transaction, the hit on key
// and the one on next (hitUnderSQL) held back (txConn.deferReturning) to
// go out in one pipeline with the next statement, which saves a password
// login's admission a round trip per hit (issue 12: the hits go out with
// the failure counts); outside one, it hits at once, next only if key's
// count is within budget. The function it returns sends the hits, with
// whatever else is held, if nothing has yet.
func (ts throttleStore) HitLate(ctx context.Context, key, next string, budget int, window time.Time) func() (int, int, error) {
	tx := ts.s.tx
	if tx == nil {
		n, nextN, err := ts.hitBoth(ctx, key, next, budget, window)
		return func() (int, int, error) { return n, nextN, err }
	}
	h := &lateHit{want: 1}
	tx.deferReturning(hitSQL, h.read, []byte(key), window)
	if next != "" {
		h.want++
		tx.deferReturning(hitUnderSQL, h.readNext, []byte(next), window, []byte(key), budget)
	}
	return func() (int, int, error) {
		if h.done < h.want {
			if err := tx.flush(ctx); err != nil {
				return 0, 0, err
			}
		}
		if h.done < h.want { // never queued, or the transaction had ended
			return 0, 0, wrap("throttle hit", errUnsent)
		}
		return h.n, h.nextN, nil
	}
}

// hitBoth is HitLate outside a transaction.
func (ts throttleStore) hitBoth(ctx context.Context, key, next string, budget int, window time.Time) (int, int, error) {
	n, err := ts.Hit(ctx, key, window)
	if err != nil || next == "" || n > budget {
		return n, 0, err
	}
	nextN, err := ts.Hit(ctx, next, window)
	return n, nextN, err
}

// lateHit is HitLate's held-back hits and, once sent, their counts.
type lateHit struct {
	n, nextN   int
	want, done int // hits queued, and read
}

// read reads the first hit's count; its failure fails the transaction.
func (h *lateHit) read(row pgx.Row) error {
	if err := row.Scan(&h.n); err != nil {
		return wrap("throttle hit", err)
	}
	h.done++
	return nil
}

// readNext reads the second hit's count, 0 when it was not made; its
// failure fails the transaction.
func (h *lateHit) readNext(row pgx.Row) error {
	if err := row.Scan(&h.nextN); err != nil && !errors.Is(err, pgx.ErrNoRows) {
		return wrap("throttle hit", err)
	}
	h.done++
	return nil
}

// Prune deletes the keys idle since before, from both tables in one
// statement, a failure count reset to 0 (ResetFailures) by the time of the
// last failure it had. It reads the whole throttle_failures table, which no index
// by last_at serves since migration 0018: that index was written by every
// password attempt, and kept each attempt's move of last_at from being a
// heap-only update. The table holds about two rows per account and client
// network that attempted a password lately, and Prune runs with the other
// upkeep (Manager.PruneSessions), not per request.
func (ts throttleStore) Prune(ctx context.Context, before time.Time) error {
	const q = `WITH f AS (DELETE FROM throttle_failures WHERE last_at < $1)
		DELETE FROM throttle_hits WHERE window_start < $1`
	if _, err := ts.s.q.Exec(ctx, q, before); err != nil {
		return wrap("throttle prune", err)
	}
	return nil
}

// ResetPrefix deletes a range of the primary key: the keys that begin with
// prefix (bytea compares byte by byte).
func (ts throttleStore) ResetPrefix(ctx context.Context, prefix string) error {
	q, args := `DELETE FROM throttle_failures WHERE key >= $1`, []any{[]byte(prefix)}
	if end, ok := keyrange.End(prefix); ok {
		q, args = q+` AND key < $2`, append(args, []byte(end))
	}
	if _, err := ts.s.q.Exec(ctx, q, args...); err != nil {
		return wrap("throttle reset prefix", err)
	}
	return nil
}

func (ts throttleStore) DeviceGeneration(ctx context.Context, id user.ID) (int64, error) {
	if !storable(string(id)) {
		return 0, nil
	}
	if a := ts.s.ahead(id); a != nil {
		return a.Gen, nil
	}
	var g int64
	err := ts.s.q.QueryRow(ctx, `SELECT generation FROM device_generations WHERE user_id = $1`, string(id)).Scan(&g)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("device generation", err)
	}
	return g, nil
}

// RevokeDevices is one upsert that inserts only for an existing user.
func (ts throttleStore) RevokeDevices(ctx context.Context, id user.ID) (int64, error) {
	if !storable(string(id)) {
		return 0, nil
	}
	const q = `INSERT INTO device_generations AS d (user_id, generation) SELECT id, 1 FROM users WHERE id = $1
		ON CONFLICT (user_id) DO UPDATE SET generation = d.generation + 1
		RETURNING d.generation`
	var g int64
	err := ts.s.q.QueryRow(ctx, q, string(id)).Scan(&g)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, nil
	}
	if err != nil {
		return 0, wrap("revoke devices", err)
	}
	return g, nil
}

// AddFailures is auth.FailureBatchStore's: one statement (addFailuresSQL)
// that counts every key and returns what each held before (issue 12). The
// count before is the one returned less the attempt: a key that held
// none, or a count reset to 0, comes back at 1. The time of the last
// failure before is prev_last (migration 0019), which the statement sets
// to last_at as it was, and which means something only when the key held
// failures; a row the statement inserts keeps it NULL, which
// RestoreFailures reads. A repeated key is counted key by key, as
// AddFailure would: one statement cannot change a row twice.
func (ts throttleStore) AddFailures(ctx context.Context, keys []string, at time.Time) ([]auth.FailureCount, error) {
	out := make([]auth.FailureCount, len(keys))
	index := make(map[string]int, len(keys))
	for i, k := range keys {
		index[k] = i
	}
	if len(index) == len(keys) {
		return out, ts.addFailures(ctx, keys, index, at, out)
	}
	for i, k := range keys {
		if err := ts.addFailures(ctx, keys[i:i+1], map[string]int{k: 0}, at, out[i:i+1]); err != nil {
			return nil, err
		}
	}
	return out, nil
}

// addFailuresSQL is AddFailures' statement: an UPDATE of the keys that
// have a row, then an upsert of the others. A plain UPDATE of a row
// writes its new version alone, where ON CONFLICT DO UPDATE first locks
// the row it conflicts with, a WAL record more per key (on a wrong
// password, 1,635 WAL bytes became 1,543 without it; so did the SELECT ...
// FOR UPDATE this statement replaces). Either way each row counted is
// the transaction's until it ends, and two counts of a key, from any
// instances, never both read n: in READ COMMITTED the UPDATE waits for a
// concurrent writer of a row and then counts on the row it left (or, if
// it deleted it, leaves the key to the upsert), and the upsert waits for
// a concurrent insert of the key and then counts on its row. The keys
// the UPDATE counted are left out of the upsert, which could not change
// their rows again. RETURNING gives the rows as the statement left them,
// in no set order, hence the key.
const addFailuresSQL = `WITH u AS (UPDATE throttle_failures AS f SET prev_last = f.last_at, ` + countSet + `
			WHERE f.key = ANY($1::bytea[]) RETURNING f.key, f.count, f.prev_last),
		i AS (INSERT INTO throttle_failures AS f (key, count, last_at)
			SELECT k, 1, $2::timestamptz FROM unnest($1::bytea[]) AS k WHERE k NOT IN (SELECT key FROM u)
			ON CONFLICT (key) DO UPDATE SET ` + countSet + `, prev_last = f.last_at
			RETURNING f.key, f.count, f.prev_last)
		SELECT * FROM u UNION ALL SELECT * FROM i`

// addFailures is AddFailures on keys that differ, index giving each one's
// place in out. It goes out in one pipeline with whatever the transaction
// holds (the login's hits, HitLate).
func (ts throttleStore) addFailures(ctx context.Context, keys []string, index map[string]int, at time.Time, out []auth.FailureCount) error {
	if len(keys) == 0 {
		return nil
	}
	bk := make([][]byte, len(keys))
	for i, k := range keys {
		bk[i] = []byte(k)
	}
	b := &pgx.Batch{}
	b.Queue(addFailuresSQL, bk, at).Query(func(rows pgx.Rows) error {
		var (
			k    []byte
			n    int
			prev *time.Time
		)
		_, err := pgx.ForEachRow(rows, []any{&k, &n, &prev}, func() error {
			i, ok := index[string(k)]
			switch {
			case !ok:
			case n > 1 && prev == nil:
				return fmt.Errorf("key %d: a count of %d without its time before", i, n)
			case n > 1:
				out[i] = auth.FailureCount{Prev: n - 1, PrevLast: *prev, Got: n}
			default: // none before
				out[i] = auth.FailureCount{Got: n}
			}
			return nil
		})
		return err
	})
	if err := ts.s.q.SendBatch(ctx, b).Close(); err != nil {
		return wrap("throttle add failures", err)
	}
	for i := range out {
		if out[i].Got == 0 {
			return wrap("throttle add failures", fmt.Errorf("no count returned for key %d", i))
		}
	}
	return nil
}

// restoreNoneSQL puts back a key AddFailures found with no failures: the
// row it inserted (prev_last NULL) deleted, a row it found reset to 0 set
// back to 0 at the time it had (prev_last), which leaves the row as it
// was and writes no index entry. The two parts touch different rows by
// their conditions on prev_last: of two changes to one row in one
// statement, PostgreSQL does not say which takes effect.
const restoreNoneSQL = `WITH inserted AS (DELETE FROM throttle_failures WHERE key = $1 AND prev_last IS NULL)
		UPDATE throttle_failures SET count = 0, last_at = prev_last WHERE key = $1 AND prev_last IS NOT NULL`

// RestoreFailures is auth.FailureBatchStore's: each key put back as
// AddFailures found it (restoreNoneSQL for a key that held none), in the
// same transaction, which still holds the rows. The last key goes first,
// so that a key AddFailures counted twice ends with the failures it had
// before the first (none: a row at 0). A write nothing reads back, held
// back inside a transaction (execLate).
func (ts throttleStore) RestoreFailures(ctx context.Context, keys []string, c []auth.FailureCount) error {
	if len(c) != len(keys) {
		return wrap("throttle restore", fmt.Errorf("%d counts for %d keys", len(c), len(keys)))
	}
	check := func(err error) error { return wrap("throttle restore", err) }
	for i := len(keys) - 1; i >= 0; i-- {
		k, err := keys[i], error(nil)
		if c[i].Prev == 0 {
			err = ts.s.execLate(ctx, check, restoreNoneSQL, []byte(k))
		} else {
			err = ts.s.execLate(ctx, check, `UPDATE throttle_failures SET count = $2, last_at = $3 WHERE key = $1`,
				[]byte(k), c[i].Prev, c[i].PrevLast)
		}
		if err != nil {
			return err
		}
	}
	return nil
}
