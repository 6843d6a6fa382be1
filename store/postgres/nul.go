package postgres

import (
	"context"
	"errors"
	"reflect"
	"strings"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"
)

// ErrTextNUL is returned, wrapped, for a statement whose text argument
// holds a NUL byte, which no PostgreSQL text column can hold. The store
// refuses it before sending anything: in pgx's simple protocol
// (default_query_exec_mode=simple_protocol, as PgBouncer's transaction
// mode may need) arguments are written into the query's text, where a NUL
// ends the protocol message early; the server then drops the connection
// and every later statement of the transaction fails. In the extended
// protocol the server refuses the value itself; both now get this error,
// and the transaction goes on as after any refused statement (OWASP ASVS
// 5.0 V1.2: input reaches the database only in a form it can carry).
// Through auth.Manager no text with a NUL reaches the store: it cleans
// what it stores.
var ErrTextNUL = errors.New("postgres: text holds a NUL byte, which PostgreSQL cannot store")

// checkArgs returns ErrTextNUL when a text argument, or a text in a list
// argument, holds a NUL byte.
func checkArgs(args []any) error {
	for _, a := range args {
		if hasNUL(a) {
			return ErrTextNUL
		}
	}
	return nil
}

// hasNUL reports whether a is text holding a NUL, or a list of texts one
// of which does; bytes (bytea) and everything else may hold any value.
func hasNUL(a any) bool {
	switch v := a.(type) {
	case nil, []byte, int, int32, int64, bool:
		return false
	case string:
		return strings.IndexByte(v, 0) >= 0
	case []string:
		for _, s := range v {
			if strings.IndexByte(s, 0) >= 0 {
				return true
			}
		}
		return false
	}
	// A named string type (user.ID, say), which pgx sends as text.
	v := reflect.ValueOf(a)
	return v.Kind() == reflect.String && strings.IndexByte(v.String(), 0) >= 0
}

// checkBatch is checkArgs over every statement of b.
func checkBatch(b *pgx.Batch) error {
	for _, q := range b.QueuedQueries {
		if err := checkArgs(q.Arguments); err != nil {
			return err
		}
	}
	return nil
}

// guardedPool is the pool as a querier outside Atomic, every statement's
// arguments checked first (checkArgs).
type guardedPool struct{ *pgxpool.Pool }

func (p guardedPool) Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error) {
	if err := checkArgs(args); err != nil {
		return pgconn.CommandTag{}, err
	}
	return p.Pool.Exec(ctx, sql, args...)
}

func (p guardedPool) Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error) {
	if err := checkArgs(args); err != nil {
		return nil, err
	}
	return p.Pool.Query(ctx, sql, args...)
}

func (p guardedPool) QueryRow(ctx context.Context, sql string, args ...any) pgx.Row {
	if err := checkArgs(args); err != nil {
		return errRow{err}
	}
	return p.Pool.QueryRow(ctx, sql, args...)
}

func (p guardedPool) SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults {
	if err := checkBatch(b); err != nil {
		return errBatch{err}
	}
	return p.Pool.SendBatch(ctx, b)
}
