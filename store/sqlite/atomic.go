package sqlite

import (
	"context"
	"fmt"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/txn"
)

// Atomic is DB.Atomic; inside a transaction it runs fn in that transaction.
func (s *scope) Atomic(ctx context.Context, fn func(auth.Store) error) error {
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
	// Statements the transaction ran as text are prepared once it has let
	// go of the connection.
	defer s.db.writes.prepareWanted(context.WithoutCancel(ctx))
	q := txStmts{tx, s.db.writes}
	// Never leave the one writer connection inside an open transaction.
	return txn.Run(
		func() error { return fn(&scope{db: s.db, tx: tx, r: q, w: q}) },
		func() error {
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("sqlite: commit: %w", err)
			}
			return nil
		},
		func() { _ = tx.Rollback() },
	)
}
