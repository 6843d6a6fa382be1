package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"fmt"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/txn"
)

// Atomic is DB.Atomic; inside a transaction it runs fn in that transaction.
func (s *scope) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	// Statements the transaction ran as text are prepared once it has let
	// go of the connection.
	defer s.db.writes.prepareWanted(context.WithoutCancel(ctx))
	return s.run(ctx, s.db.w, fn)
}

// AtomicDeferSync is DB.AtomicDeferSync; inside a transaction it runs fn
// in that transaction.
func (s *scope) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	if s.tx != nil {
		return fn(s)
	}
	defer s.db.writes.prepareWanted(context.WithoutCancel(ctx)) // after c.Close
	// The pragma is the connection's: it is held from the pragma to its
	// restoring, so that no other transaction commits unsynced.
	c, err := s.db.w.Conn(ctx)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer c.Close()
	if _, err := c.ExecContext(ctx, `PRAGMA synchronous = NORMAL`); err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	defer func() {
		if _, err := c.ExecContext(context.WithoutCancel(ctx), `PRAGMA synchronous = `+synchronous); err != nil {
			// Never hand back a connection that commits unsynced.
			_ = c.Raw(func(any) error { return driver.ErrBadConn })
		}
	}()
	return s.run(ctx, c, fn)
}

// beginner is *sql.DB or *sql.Conn.
type beginner interface {
	BeginTx(ctx context.Context, opts *sql.TxOptions) (*sql.Tx, error)
}

// run runs fn in one transaction begun on b, a writer connection.
func (s *scope) run(ctx context.Context, b beginner, fn func(auth.Store) error) error {
	// The writer pool's DSN sets _txlock=immediate: BEGIN IMMEDIATE takes
	// the write lock now, waiting under busy_timeout, instead of at the
	// first write, where a read-then-write transaction would fail with
	// SQLITE_BUSY_SNAPSHOT that no timeout can cure.
	tx, err := b.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: begin: %w", err)
	}
	st := new(txState)
	q := txStmts{tx, s.db.writes, st}
	// Never leave the one writer connection inside an open transaction.
	return txn.Run(
		func() error { return fn(&scope{db: s.db, tx: tx, txs: st, r: q, w: q}) },
		func() error {
			if st.doomed != nil {
				_ = tx.Rollback()
				return fmt.Errorf("sqlite: commit refused: an audit append failed in the transaction: %w", st.doomed)
			}
			if err := tx.Commit(); err != nil {
				return fmt.Errorf("sqlite: commit: %w", err)
			}
			return nil
		},
		func() { _ = tx.Rollback() },
	)
}
