package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usher-go/usher/store/internal/readahead"
	"github.com/usher-go/usher/user"
)

// txConn is an Atomic transaction's connection. It saves round trips, the
// cost that matters on PostgreSQL (issue 12), in two ways:
//
//   - The statements that begin the transaction (BEGIN, the Atomic lock,
//     synchronous_commit) are not sent on their own: they go out in one
//     pipeline with the transaction's first statement, and a transaction
//     that sends nothing costs nothing.
//   - A write whose result nothing in the transaction reads (deferExec) is
//     held back and goes out in one pipeline with the next statement, or
//     with COMMIT.
//
// A pipeline runs its statements in order and, after a failure, skips
// every later one, COMMIT included: a held-back write that fails leaves
// nothing written. Its error is kept (err) and returned by every later
// statement and by commit, which rolls back, so the caller learns of it
// before it learns the outcome, even if a statement's error in between was
// handled and dropped.
type txConn struct {
	c       *pgxpool.Conn
	pending []held // not yet sent, in order
	begun   bool   // BEGIN has been sent
	// opening is how many of pending, from the first, begin the
	// transaction (BEGIN, the lock, the head read ahead): while nothing
	// else is held or sent, there is nothing to commit.
	opening int
	err     error // a held-back statement failed; the transaction is lost
	// ahead is what the last statement read ahead, until the next one
	// (readahead.Account).
	ahead *readahead.Account
	// head is the chain's head as the transaction began, until its first
	// append takes it (chainHead).
	head *headAhead
	// known is a user the transaction read (GetWithHash), until it sends
	// another statement; held writes leave it (deferExec), none of them
	// deletes a user. A row that some statement could insert referring to
	// it cannot fail on the user's foreign key, but for a writer outside
	// Atomic deleting the user meanwhile (READ COMMITTED), so the insert
	// can be held back too (holdsUser).
	known user.ID
}

// held is a statement not yet sent. check, when set, turns its error into
// the one to return (a constraint into a store's error, say). scan, when
// set, receives the row it returns; row, when set, reads it, and what it
// returns fails the transaction.
type held struct {
	sql   string
	args  []any
	check func(error) error
	scan  []any
	row   func(pgx.Row) error
}

// deferExec holds back a write whose command tag the transaction does not
// need. Its only failures must be errors of the statement itself: by the
// time its result is read, the statements after it, COMMIT included, have
// run. A write that must change a row says so by failing (see
// expectRowSQL).
func (t *txConn) deferExec(sql string, check func(error) error, args ...any) {
	t.ahead = nil
	if err := checkArgs(args); err != nil && t.err == nil {
		t.err = err // as the server's refusal of it would, in the pipeline
		return
	}
	t.pending = append(t.pending, held{sql: sql, args: args, check: check})
}

// deferRow holds back a read whose answer its caller takes once it has
// gone out (GetByEmailWithHashLate, once the transaction has ended):
// read reads the row, or learns there is none, when the read goes out
// with the next statement or with COMMIT, ahead of them. A read changes
// nothing: what was read ahead stands.
func (t *txConn) deferRow(sql string, read func(pgx.Row) error, args ...any) {
	if err := checkArgs(args); err != nil && t.err == nil {
		t.err = err
		return
	}
	t.pending = append(t.pending, held{sql: sql, args: args, row: read})
}

// deferReturning is deferRow for a write whose RETURNING its caller
// reads (HitLate): what was read ahead no longer stands, as after
// deferExec. Its failure, or its row's, fails the transaction.
func (t *txConn) deferReturning(sql string, read func(pgx.Row) error, args ...any) {
	t.ahead = nil
	t.deferRow(sql, read, args...)
}

// send sends the held statements and then the batch b's, in one pipeline,
// and reads the held ones' results. The caller reads b's from what it
// returns.
func (t *txConn) send(ctx context.Context, b *pgx.Batch) (pgx.BatchResults, error) {
	if t.err != nil {
		return nil, t.err
	}
	n := len(t.pending)
	if n > 0 {
		all := &pgx.Batch{QueuedQueries: make([]*pgx.QueuedQuery, 0, n+b.Len())}
		for _, h := range t.pending {
			all.Queue(h.sql, h.args...)
		}
		all.QueuedQueries = append(all.QueuedQueries, b.QueuedQueries...)
		b = all
	}
	pending := t.pending
	t.pending, t.begun = nil, true
	br := t.c.SendBatch(ctx, b)
	for _, h := range pending {
		var err error
		switch {
		case h.row != nil:
			err = h.row(br.QueryRow())
		case h.scan != nil:
			err = br.QueryRow().Scan(h.scan...)
		default:
			_, err = br.Exec()
		}
		if err != nil {
			if h.check != nil {
				err = h.check(err)
			}
			t.err = err
			_ = br.Close()
			return nil, err
		}
	}
	return br, nil
}

// flush sends whatever is held, on its own.
func (t *txConn) flush(ctx context.Context) error {
	if len(t.pending) == 0 {
		return t.err
	}
	br, err := t.send(ctx, &pgx.Batch{})
	if err != nil {
		return err
	}
	return br.Close()
}

func (t *txConn) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := checkArgs(args); err != nil {
		return pgconn.CommandTag{}, err
	}
	t.ahead, t.known = nil, ""
	if len(t.pending) == 0 && t.err == nil {
		return t.c.Exec(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br, err := t.send(ctx, b)
	if err != nil {
		return pgconn.CommandTag{}, err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	return tag, err
}

func (t *txConn) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := checkArgs(args); err != nil {
		return errRow{err}
	}
	t.ahead, t.known = nil, ""
	if len(t.pending) == 0 && t.err == nil {
		return t.c.QueryRow(ctx, sql, args...)
	}
	b := &pgx.Batch{}
	b.Queue(sql, args...)
	br, err := t.send(ctx, b)
	if err != nil {
		return errRow{err}
	}
	return batchRow{br.QueryRow(), br}
}

// Query sends what is held first, on its own: rows are read after Query
// returns, and the pipeline's end with them. No hot path queries rows
// after a held-back write.
func (t *txConn) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := checkArgs(args); err != nil {
		return nil, err
	}
	t.ahead, t.known = nil, ""
	if err := t.flush(ctx); err != nil {
		return nil, err
	}
	return t.c.Query(ctx, sql, args...)
}

func (t *txConn) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := checkBatch(b); err != nil {
		return errBatch{err}
	}
	t.ahead, t.known = nil, ""
	br, err := t.send(ctx, b)
	if err != nil {
		return errBatch{err}
	}
	return br
}

// commit sends what is held and COMMIT in one pipeline. A transaction
// that never sent nor held anything but its opening was never begun, and
// has nothing to commit; one that held writes alone sends them now.
func (t *txConn) commit(ctx context.Context) error {
	if !t.begun && t.err == nil && len(t.pending) == t.opening {
		t.pending = nil
		return nil
	}
	b := &pgx.Batch{}
	b.Queue("COMMIT")
	br, err := t.send(ctx, b)
	if err != nil {
		return err
	}
	tag, err := br.Exec()
	if cerr := br.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return wrap("commit", err)
	}
	if tag.String() != "COMMIT" {
		// PostgreSQL answers ROLLBACK to the COMMIT of a failed
		// transaction.
		return wrap("commit", pgx.ErrTxCommitRollback)
	}
	return nil
}

// rollback ends the transaction when fn failed or commit did. When the
// connection is left inside a transaction (ROLLBACK itself failed), the
// pool closes it on release rather than hand it out again.
func (t *txConn) rollback(ctx context.Context) {
	t.pending = nil
	if t.begun && t.c.Conn().PgConn().TxStatus() != 'I' {
		_, _ = t.c.Exec(ctx, "ROLLBACK")
	}
}

// errRow is a row whose query was never sent.
type errRow struct{ err error }

func (r errRow) Scan(...any) error { return r.err }

// batchRow is a row read from a pipeline, which ends with it.
type batchRow struct {
	row pgx.Row
	br  pgx.BatchResults
}

func (r batchRow) Scan(dest ...any) error {
	err := r.row.Scan(dest...)
	if cerr := r.br.Close(); err == nil {
		err = cerr
	}
	return err
}

// errBatch is the results of a batch that was never sent.
type errBatch struct{ err error }

func (b errBatch) Exec() (pgconn.CommandTag, error) { return pgconn.CommandTag{}, b.err }
func (b errBatch) Query() (pgx.Rows, error)         { return nil, b.err }
func (b errBatch) QueryRow() pgx.Row                { return errRow(b) }
func (b errBatch) Close() error                     { return b.err }
func (errBatch) Tx() pgx.Tx                         { return nil }

// expectRowSQL is the tail of a held-back write that must change a row,
// as its cte: the statement fails (P0002, no_data_found) when cte's
// RETURNING gave no row, so that the pipeline stops before COMMIT.
const expectRowSQL = ` SELECT usher_expect_row(count(*)) FROM `

// noRow reports whether err is expectRowSQL's failure.
func noRow(err error) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == "P0002"
}

// execLate runs a write whose command tag its caller does not need:
// inside a transaction it is held back (txConn.deferExec) and fails, if
// it fails, at the next statement or at commit; outside one it runs at
// once. check turns the statement's error into the store's, and is called
// only with an error.
func (s *scope) execLate(ctx context.Context, check func(error) error, sql string, args ...any) error {
	if s.tx != nil {
		s.tx.deferExec(sql, check, args...)
		return nil
	}
	if _, err := s.q.Exec(ctx, sql, args...); err != nil {
		return check(err)
	}
	return nil
}

// holdsUser reports whether s is a transaction that has read the user id
// and sent nothing since (txConn.known): a write that fails only if the
// user is gone can then be held back (execLate) rather than sent now. The
// user could still vanish, by a delete outside Atomic, before the held
// write runs; the write then fails in the pipeline and the transaction
// rolls back with its error, as the held SetLastLogin of the same login
// would make it anyway.
func (s *scope) holdsUser(id user.ID) bool {
	return s.tx != nil && s.tx.known != "" && s.tx.known == id
}
