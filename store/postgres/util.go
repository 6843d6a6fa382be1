package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
)

// SQLSTATEs that map to the stores' sentinel errors, together with the
// name of the constraint (see migrations/0001_init.sql).
const (
	codeUnique     = "23505"
	codeForeignKey = "23503"
)

// violates reports whether err is a violation of the named constraint with
// the given SQLSTATE.
func violates(err error, code, constraint string) bool {
	var pe *pgconn.PgError
	return errors.As(err, &pe) && pe.Code == code && pe.ConstraintName == constraint
}

// wrap prefixes err with the package and the operation.
func wrap(op string, err error) error {
	return fmt.Errorf("postgres: %s: %w", op, err)
}

// storable reports whether PostgreSQL can hold s in a text column: valid
// UTF-8 without NUL. Lookups by a key that is not storable cannot match a
// row, so they answer "not found" without asking the server, which would
// fail the statement (and, inside Atomic, the transaction) where SQLite
// would just find nothing.
func storable(s string) bool {
	return utf8.ValidString(s) && strings.IndexByte(s, 0) < 0
}

// optTime is how an optional time is passed: the zero time as NULL.
func optTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t
}

// fromOpt is the inverse of optTime.
func fromOpt(t pgtype.Timestamptz) time.Time {
	if !t.Valid {
		return time.Time{}
	}
	return t.Time
}

// foldKey is the case-insensitive key of a name (see paging.FoldKey),
// computed in Go, as store/sqlite does, because PostgreSQL's lower() folds
// according to the collation ("C" folds ASCII only).
func foldKey(s string) string { return paging.FoldKey(s) }

// The conditions of migration 0018's partial audit indexes, as a query
// must repeat them for the planner to read the index.
const (
	rareOutcome = "outcome <> '" + string(audit.Success) + "'"                                              // audit_outcome
	rareAction  = "action <> '" + string(audit.LoginSucceeded) + "'"                                        // audit_action
	actorOthers = "actor_id <> '' AND (target_type <> '" + audit.TargetUser + "' OR target_id <> actor_id)" // audit_actor
)

// dialect is how PostgreSQL writes the listings store/internal/paging
// builds. Times compare as timestamptz; a time sort key travels in a cursor
// as decimal Unix microseconds, timestamptz's precision. A filter or cursor
// holding what text cannot store matches nothing. Pages filtered by
// outcome, action or actor reach migration 0018's partial indexes.
var dialect = &paging.Dialect{
	Numbered:    true,
	LikeEscape:  `E'\\'`,
	RareOutcome: rareOutcome,
	RareAction:  rareAction,
	ActorOthers: actorOthers,
	LimitArms:   true,
	Time:        func(t time.Time) any { return t },
	TimeKey:     func(n int64) any { return time.UnixMicro(n).UTC() },
	Storable:    storable,
}

// versioned reads the outcome of a conditional update ("WHERE id = $n AND
// version = $m"): a row written is success; none is notFound when exists
// (a query of one id argument) finds no row, else stale.
func (s *scope) versioned(ctx context.Context, op string, tag pgconn.CommandTag, exists, id string, notFound, stale error) error {
	if tag.RowsAffected() > 0 {
		return nil
	}
	var found bool
	if err := s.q.QueryRow(ctx, exists, id).Scan(&found); err != nil {
		return wrap(op, err)
	}
	if !found {
		return wrap(op, notFound)
	}
	return wrap(op, stale)
}
