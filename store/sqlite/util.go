package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"github.com/usher-go/usher/audit"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/usher-go/usher/store/internal/paging"
)

// SQLite extended result codes for the constraint violations that map to
// the stores' sentinel errors. Each table has at most one constraint of each
// kind that a caller can trip, so the code alone says which it was.
const (
	codeUnique     = sqlite3.SQLITE_CONSTRAINT_UNIQUE
	codePrimaryKey = sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY
	codeForeignKey = sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY
	// An ON DELETE RESTRICT action fails the statement at once, and SQLite
	// runs foreign key actions as triggers, so it reports the trigger code
	// (with the text "FOREIGN KEY constraint failed"). The schema has no
	// triggers of its own.
	codeRestrict = sqlite3.SQLITE_CONSTRAINT_TRIGGER
)

// code returns err's SQLite extended result code, or 0.
func code(err error) int {
	var se *sqlite.Error
	if errors.As(err, &se) {
		return se.Code()
	}
	return 0
}

// wrap prefixes err with the package and the operation.
func wrap(op string, err error) error {
	return fmt.Errorf("sqlite: %s: %w", op, err)
}

// nanos is how times are stored: INTEGER unix nanoseconds. The zero time is
// stored as 0, as it is outside the range UnixNano can represent.
func nanos(t time.Time) int64 {
	if t.IsZero() {
		return 0
	}
	return t.UnixNano()
}

// fromNanos is the inverse of nanos, in UTC.
func fromNanos(n int64) time.Time {
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, n).UTC()
}

// nullNanos stores the zero time as NULL, for optional times.
func nullNanos(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return t.UnixNano()
}

// foldKey is the case-insensitive key of a name (see paging.FoldKey).
func foldKey(s string) string { return paging.FoldKey(s) }

// dialect is how SQLite writes the listings store/internal/paging builds.
// Times compare as INTEGER unix nanoseconds, and a time sort key travels in
// a cursor as that integer. An audit page reads its rows packed
// (eventColumns).
var dialect = &paging.Dialect{
	EventColumns: eventColumns,
	RareOutcome:  "outcome <> '" + string(audit.Success) + "'",       // migration 0018's audit_outcome
	RareAction:   "action <> '" + string(audit.LoginSucceeded) + "'", // migration 0020's audit_action
	// migration 0021's audit_actor
	ActorOthers: "actor_id <> '' AND (target_type <> '" + audit.TargetUser + "' OR target_id <> actor_id)",
	LikeEscape:  `'\'`,
	Unindexed:   "+",
	Time:        func(t time.Time) any { return nanos(t) },
	TimeKey:     func(n int64) any { return n },
}

// scanner is *sql.Row or *sql.Rows.
type scanner interface {
	Scan(dest ...any) error
}

// versioned reads the outcome of a conditional update ("WHERE id = ? AND
// version = ?"): a row written is success; none is notFound when exists
// (a query of one id argument) finds no row, else stale.
func (s *scope) versioned(ctx context.Context, op string, res sql.Result, exists, id string, notFound, stale error) error {
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n > 0 {
		return nil
	}
	var found bool
	if err := s.w.QueryRowContext(ctx, exists, id).Scan(&found); err != nil {
		return wrap(op, err)
	}
	if !found {
		return wrap(op, notFound)
	}
	return wrap(op, stale)
}
