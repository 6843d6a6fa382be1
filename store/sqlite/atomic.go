package sqlite

import (
	"context"
	"fmt"
	"runtime/debug"

	"github.com/usher-go/usher/auth"
)

// PanicError is what [DB.Atomic] returns when fn panicked. The transaction
// has been rolled back. Value is what fn panicked with; Stack is where.
type PanicError struct {
	Value any
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("sqlite: panic in Atomic: %v", e.Value)
}

// Unwrap returns Value when it is an error, so errors.Is sees through the
// panic.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// Atomic is DB.Atomic; inside a transaction it runs fn in that transaction.
func (s *scope) Atomic(ctx context.Context, fn func(auth.Store) error) (err error) {
	if s.tx != nil {
		return fn(s)
	}
	// The writer pool's DSN sets _txlock=immediate: BEGIN IMMEDIATE takes
	// the write lock now, waiting under busy_timeout, instead of at the
	// first write, where a read-then-write transaction would fail with
	// SQLITE_BUSY_SNAPSHOT that no timeout can cure.
	tx, err := s.db.w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	done := false
	defer func() {
		if done {
			return
		}
		// fn panicked or called runtime.Goexit (t.FailNow): never leave
		// the one writer connection inside an open transaction.
		_ = tx.Rollback()
		if v := recover(); v != nil {
			err = &PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	if err := fn(&scope{db: s.db, tx: tx, r: tx, w: tx}); err != nil {
		done = true
		_ = tx.Rollback()
		return err
	}
	done = true
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: commit: %w", err)
	}
	return nil
}
