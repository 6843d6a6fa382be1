package postgres

import (
	"context"
	"errors"
	"fmt"
	"runtime/debug"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usher-go/usher/auth"
)

// PanicError is what [DB.Atomic] returns when fn panicked. The transaction
// has been rolled back. Value is what fn panicked with; Stack is where.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("postgres: panic in Atomic: %v", e.Value)
}

// Unwrap returns Value when it is an error, so errors.Is sees through the
// panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

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
	if s.tx != nil {
		return fn(s)
	}
	for attempt := 1; ; attempt++ {
		err := s.atomicOnce(ctx, fn)
		if attempt == maxAttempts || !retryable(err) || ctx.Err() != nil {
			return err
		}
	}
}

// atomicOnce runs fn in one transaction. beginSQL begins it READ COMMITTED
// and takes the schema's transaction-scoped advisory lock in the same round
// trip, so Atomic calls run one after another across every pool on the
// schema, exactly as SQLite's single writer does; the lock goes with the
// commit or rollback. READ COMMITTED matters: each statement after the lock
// sees everything the previous holder committed, where a REPEATABLE READ
// snapshot would have been taken before the wait.
func (s *scope) atomicOnce(ctx context.Context, fn func(auth.Store) error) (err error) {
	tx, err := s.db.pool.BeginTx(ctx, pgx.TxOptions{BeginQuery: s.db.beginSQL})
	if err != nil {
		return wrap("begin", err)
	}
	// Rollback must run even when ctx is what failed.
	bg := context.WithoutCancel(ctx)
	done := false
	defer func() {
		if done {
			return
		}
		// fn panicked or called runtime.Goexit (t.FailNow): never hand the
		// connection back inside an open transaction.
		_ = tx.Rollback(bg)
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	if err := fn(&scope{db: s.db, tx: tx, q: tx}); err != nil {
		done = true
		_ = tx.Rollback(bg)
		return err
	}
	done = true
	if err := tx.Commit(ctx); err != nil {
		return wrap("commit", err)
	}
	return nil
}

// savepoint names the savepoint write takes. Reusing one name is fine:
// PostgreSQL stacks savepoints and RELEASE and ROLLBACK TO use the newest.
const savepoint = "usher_write"

// write runs one statement that may fail on a constraint, such as an
// insert that may hit a taken email. Outside a transaction it is Exec.
// Inside one it runs under a savepoint, so that its failure leaves the
// transaction usable, as a failed statement does in SQLite; PostgreSQL
// would otherwise refuse every later statement of fn until rollback. The
// savepoint, the statement and the release go out in one pipeline: the
// success path costs no extra round trip.
func (s *scope) write(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if s.tx == nil {
		return s.q.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue("SAVEPOINT " + savepoint)
	b.Queue(sql, args...)
	b.Queue("RELEASE SAVEPOINT " + savepoint)
	br := s.tx.SendBatch(ctx, b)
	_, err := br.Exec()
	saved := err == nil
	var tag pgconn.CommandTag
	if err == nil {
		tag, err = br.Exec()
	}
	if err == nil {
		_, err = br.Exec()
	}
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil && saved {
		// Back to before the statement; the transaction carries on. If
		// this fails too, the transaction is lost and fn's next statement
		// will say so.
		_, _ = s.tx.Exec(ctx, "ROLLBACK TO SAVEPOINT "+savepoint+"; RELEASE SAVEPOINT "+savepoint)
	}
	return tag, err
}
