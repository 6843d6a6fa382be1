package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/txn"
)

// maxAttempts bounds how often Atomic runs fn when PostgreSQL aborts the
// transaction to break a deadlock (or, should a host raise the isolation
// level, a serialization failure). auth.Store allows running fn again.
const maxAttempts = 5

// retryable reports whether err is a transaction abort that running the
// same transaction again can cure.
func retryable(err error) bool {
	var pe *pgconn.PgError
	if !errors.As(err, &pe) {
		return false
	}
	switch pe.Code {
	case "40001", // serialization_failure
		"40P01": // deadlock_detected
		return true
	}
	return false
}

// Atomic is DB.Atomic; inside a transaction it runs fn in that transaction.
func (s *scope) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return s.atomic(ctx, false, fn)
}

// AtomicDeferSync is DB.AtomicDeferSync; inside a transaction it runs fn
// in that transaction.
func (s *scope) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	return s.atomic(ctx, true, fn)
}

// atomic runs fn in a transaction, again after a retryable abort.
// deferSync makes the commit not wait for the disk.
func (s *scope) atomic(ctx context.Context, deferSync bool, fn func(auth.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	for attempt := 1; ; attempt++ {
		err := s.atomicOnce(ctx, deferSync, fn)
		if attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// atomicOnce runs fn in one transaction. db.begin begins it READ COMMITTED
// and takes the schema's transaction-scoped advisory lock, in the pipeline
// of fn's first statement (txConn), so Atomic calls run one after another
// across every pool on the schema, exactly as SQLite's single writer does;
// the lock goes with the commit or rollback. READ COMMITTED matters: each
// statement after the lock sees everything the previous holder committed,
// where a REPEATABLE READ snapshot would have been taken before the wait.
//
// With deferSync, the transaction sets synchronous_commit off for itself
// (SET LOCAL). Without, it reads the audit chain's head ahead
// (chainHead); AtomicDeferSync's transaction, the Manager's throttling
// counts, appends no event.
func (s *scope) atomicOnce(ctx context.Context, deferSync bool, fn func(auth.Store) error) error {
	c, err := s.db.pool.Acquire(ctx)
	if err != nil {
		return wrap("begin", err)
	}
	defer c.Release()
	tx := &txConn{c: c}
	for _, q := range s.db.begin {
		tx.deferExec(q, nil)
	}
	if deferSync {
		tx.deferExec("SET LOCAL synchronous_commit TO off", nil)
	} else {
		tx.head = &headAhead{}
		tx.pending = append(tx.pending, held{sql: headAheadSQL, scan: tx.head.dest()})
	}
	tx.opening = len(tx.pending)
	// Rollback must run even when ctx is what failed; never hand the
	// connection back inside an open transaction.
	bg := context.WithoutCancel(ctx)
	return txn.Run(
		func() error { return fn(&scope{db: s.db, tx: tx, q: tx}) },
		func() error { return tx.commit(ctx) },
		func() { tx.rollback(bg) },
	)
}

// savepoint names the savepoint write takes. Reusing one name is fine:
// PostgreSQL stacks savepoints and RELEASE and ROLLBACK TO use the newest.
const savepoint = "usher_write"

// stmt is one statement of a write.
type stmt struct {
	sql  string
	args []any
}

// write runs one statement that may fail on a constraint, such as an
// insert that may hit a taken email: writeAll of one statement.
func (s *scope) write(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	return s.writeAll(ctx, stmt{sql, args})
}

// writeAll runs statements that succeed or fail together, any of which
// may fail on a constraint, and returns the last one's command tag.
//
// Outside a transaction they go out as one pipeline, which PostgreSQL runs
// as one implicit transaction. Inside one they run under a savepoint, so
// that a failure leaves the transaction usable, as a failed statement does
// in SQLite; PostgreSQL would otherwise refuse every later statement of fn
// until rollback. The savepoint, the statements and the release go out in
// one pipeline: the success path costs no extra round trip.
func (s *scope) writeAll(ctx context.Context, stmts ...stmt) (pgconn.CommandTag, error) {
	if s.tx == nil && len(stmts) == 1 {
		return s.q.Exec(ctx, stmts[0].sql, stmts[0].args...)
	}
	b := &pgx.Batch{}
	if s.tx != nil {
		b.Queue("SAVEPOINT " + savepoint)
	}
	for _, st := range stmts {
		b.Queue(st.sql, st.args...)
	}
	if s.tx != nil {
		b.Queue("RELEASE SAVEPOINT " + savepoint)
	}
	br := s.q.SendBatch(ctx, b)
	var (
		tag   pgconn.CommandTag
		err   error
		saved bool
	)
	for i := range b.Len() {
		var t pgconn.CommandTag
		if t, err = br.Exec(); err != nil {
			break
		}
		switch {
		case s.tx != nil && i == 0:
			saved = true
		case s.tx == nil || i < b.Len()-1:
			tag = t
		}
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil && saved {
		// Back to before the statements; the transaction carries on. If
		// this fails too, the transaction is lost and fn's next statement
		// will say so.
		_, _ = s.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+savepoint+"; RELEASE SAVEPOINT "+savepoint)
	}
	return tag, err
}
