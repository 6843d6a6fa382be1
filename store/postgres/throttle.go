package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/keyrange"
	"github.com/usher-go/usher/user"
)

// Throttle keys are stored as bytea (see 0001_init.sql): the Manager builds
// them from what a client typed, cut to a byte length, so they need not be
// valid UTF-8.

func (ts throttleStore) Failures(ctx context.Context, key string) (int, time.Time, error) {
	var n int
	var last time.Time
	err := ts.s.q.QueryRow(ctx, `SELECT count, last_at FROM throttle_failures WHERE key = $1`, []byte(key)).Scan(&n, &last)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, time.Time{}, nil
	}
	if err != nil {
		return 0, time.Time{}, wrap("throttle failures", err)
	}
	return n, last, nil
}

// AddFailure is one upsert that returns the new count. PostgreSQL runs
// INSERT ... ON CONFLICT DO UPDATE against the latest committed row,
// waiting for a concurrent writer of the same key, so two failures, from
// any instances, can never both read n and write n+1. The time only moves
// forward: an instance whose clock lags does not shorten the back-off.
func (ts throttleStore) AddFailure(ctx context.Context, key string, at time.Time) (int, error) {
	const q = `INSERT INTO throttle_failures AS f (key, count, last_at) VALUES ($1, 1, $2)
		ON CONFLICT (key) DO UPDATE SET count = f.count + 1, last_at = GREATEST(f.last_at, EXCLUDED.last_at)
		RETURNING f.count`
	var n int
	if err := ts.s.q.QueryRow(ctx, q, []byte(key), at).Scan(&n); err != nil {
		return 0, wrap("throttle add failure", err)
	}
	return n, nil
}

// ResetFailures is a write nothing reads back: inside a transaction it
// goes out with the next statement or the commit (execLate).
func (ts throttleStore) ResetFailures(ctx context.Context, key string) error {
	return ts.s.execLate(ctx, func(err error) error { return wrap("throttle reset", err) },
		`DELETE FROM throttle_failures WHERE key = $1`, []byte(key))
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
// statement. It reads the whole throttle_failures table, which no index
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

// AddFailures is auth.FailureBatchStore's: the keys' rows locked and read,
// then every key counted in one upsert, the two statements in one
// pipeline. The lock holds the rows for the transaction, so that what was
// read is what the upsert counted on, and RestoreFailures puts back
// exactly that.
func (ts throttleStore) AddFailures(ctx context.Context, keys []string, at time.Time) ([]auth.FailureCount, error) {
	bk := make([][]byte, len(keys))
	index := map[string]int{}
	for i, k := range keys {
		bk[i] = []byte(k)
		index[k] = i
	}
	out := make([]auth.FailureCount, len(keys))
	b := &pgx.Batch{}
	b.Queue(`SELECT key, count, last_at FROM throttle_failures WHERE key = ANY($1) FOR UPDATE`, bk).Query(func(rows pgx.Rows) error {
		var (
			k    []byte
			n    int
			last time.Time
		)
		_, err := pgx.ForEachRow(rows, []any{&k, &n, &last}, func() error {
			if i, ok := index[string(k)]; ok {
				out[i].Prev, out[i].PrevLast = n, last
			}
			return nil
		})
		return err
	})
	b.Queue(`INSERT INTO throttle_failures AS f (key, count, last_at) SELECT k, 1, $2 FROM unnest($1::bytea[]) AS k
		ON CONFLICT (key) DO UPDATE SET count = f.count + 1, last_at = GREATEST(f.last_at, EXCLUDED.last_at)
		RETURNING f.key, f.count`, bk, at).Query(func(rows pgx.Rows) error {
		var (
			k []byte
			n int
		)
		_, err := pgx.ForEachRow(rows, []any{&k, &n}, func() error {
			if i, ok := index[string(k)]; ok {
				out[i].Got = n
			}
			return nil
		})
		return err
	})
	if err := ts.s.q.SendBatch(ctx, b).Close(); err != nil {
		return nil, wrap("throttle add failures", err)
	}
	return out, nil
}

// RestoreFailures is auth.FailureBatchStore's: a write nothing reads
// back, held back inside a transaction (execLate).
func (ts throttleStore) RestoreFailures(ctx context.Context, keys []string, c []auth.FailureCount) error {
	check := func(err error) error { return wrap("throttle restore", err) }
	for i, k := range keys {
		var err error
		if c[i].Prev == 0 {
			err = ts.s.execLate(ctx, check, `DELETE FROM throttle_failures WHERE key = $1`, []byte(k))
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
