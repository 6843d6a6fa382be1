// Package paging writes and reads the keyset-paged listings that
// store/sqlite and store/postgres both serve, user listings and the audit
// trail, once for both: the filters, the keyset condition that starts a
// page after its cursor, the one extra row that tells whether a next page
// exists, and the cursor that points at it. What differs between the two
// SQL dialects is a [Dialect]; the SELECT list and the scanning of a row
// stay with each store.
//
// Paging is by keyset, never OFFSET: a cursor holds the last row's (sort
// key, id) and the next page starts strictly after it, which is one index
// seek at any depth and neither skips nor repeats a row when rows are
// added or removed between pages. Cursors are this package's own format
// (see cursor.go): opaque to auth and to hosts.
package paging

import (
	"strconv"
	"strings"
	"time"
)

// Dialect is how one SQL dialect writes what the listings need. The zero
// value is not usable: Time and TimeKey must be set.
type Dialect struct {
	// Numbered writes placeholders as $1, $2, ... (PostgreSQL) rather
	// than ? (SQLite).
	Numbered bool
	// LikeEscape is the string literal naming backslash as the escape
	// character of a LIKE pattern: '\' in SQLite, E'\\' in PostgreSQL.
	LikeEscape string
	// Unindexed prefixes a filter column that must not steer the index
	// choice: "+" in SQLite, whose planner would otherwise scan a filter's
	// index and sort, where the order's index and LIMIT stop early.
	// PostgreSQL's planner weighs both by cost and needs none.
	Unindexed string
	// Time is a time as the dialect's time columns compare with it.
	Time func(time.Time) any
	// TimeKey is the argument that a time sort key from a cursor (a
	// decimal integer, in the unit the store's keys use) compares with.
	TimeKey func(int64) any
	// EventColumns is the SELECT list of an audit page, for a store that
	// reads its rows in another form than the plain columns
	// (AuditColumns), which empty means.
	EventColumns string
	// RareOutcome, when set, is the condition of a partial index on
	// (outcome, time) that leaves out audit.Success, the common outcome:
	// a page filtered by any other outcome repeats it, so that the
	// planner, which proves a partial index usable only from the
	// query's own terms, reads that index. A page of successes walks the
	// time index instead, where they are most of the rows.
	RareOutcome string
	// RareAction, when set, is the condition of a partial index on
	// (action, time) that leaves out audit.LoginSucceeded, the action a
	// healthy log holds most of: as RareOutcome, a page filtered by any
	// other action repeats it, and a page of successful logins walks the
	// time index.
	RareAction string
	// ActorOthers, when set, is the condition of a partial index on
	// (actor_id, time) that leaves out an actor's events on their own
	// account (a login, a logout, a profile change), which the index on
	// (target_type, target_id, time) holds already, and events with no
	// actor, which no filter asks for: a page filtered by actor merges
	// the two indexes (see Dialect.Events).
	ActorOthers string
	// LimitArms writes each of the two walks a page by actor merges
	// (ActorOthers) in parentheses with the page's ORDER BY and LIMIT,
	// and reads the rows through a plain JOIN: PostgreSQL plans the
	// ORDER BY and LIMIT of a UNION ALL whose arms have none by reading
	// both arms whole and sorting them (through version 15 at least),
	// where arms that have their own become a merge of two index walks
	// that the LIMIT stops. SQLite merges the arms' walks without it and
	// accepts no parenthesized arm; it joins with CROSS JOIN, which keeps
	// the page's keys the outer loop, and which PostgreSQL refuses with
	// ON.
	LimitArms bool
	// Storable reports whether the database can hold s at all. A filter
	// value it cannot hold matches nothing, and a cursor holding one is
	// invalid. nil means every string.
	Storable func(s string) bool
}

func (d *Dialect) storable(s string) bool { return d.Storable == nil || d.Storable(s) }

// Rows is what paging reads of *sql.Rows and pgx.Rows: the caller closes
// them and checks their error.
type Rows interface {
	Next() bool
}

// FoldKey is the case-insensitive key of a name: what the name order sorts
// by, what a search matches, and what makes group names unique. It is
// computed in Go because SQLite's NOCASE and lower() fold ASCII only and
// PostgreSQL's lower() folds by collation.
func FoldKey(s string) string { return strings.ToLower(s) }

// likeEscaper makes a search string match itself literally inside a LIKE
// pattern whose escape character is a backslash.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)

// builder is one statement being written, with its arguments.
type builder struct {
	d     *Dialect
	b     strings.Builder
	args  []any
	conds int
}

// start begins the statement with sel, its SELECT ... FROM.
func (w *builder) start(d *Dialect, sel string) {
	w.d, w.args = d, make([]any, 0, 8)
	w.b.Grow(len(sel) + 256)
	w.b.WriteString(sel)
}

// where starts one more condition of the WHERE clause.
func (w *builder) where() {
	if w.conds == 0 {
		w.b.WriteString(" WHERE ")
	} else {
		w.b.WriteString(" AND ")
	}
	w.conds++
}

// sql writes text.
func (w *builder) sql(s ...string) {
	for _, x := range s {
		w.b.WriteString(x)
	}
}

// arg writes the placeholder of one more argument, v.
func (w *builder) arg(v any) {
	w.args = append(w.args, v)
	w.placeholder()
}

// again writes a placeholder for the last argument once more.
func (w *builder) again() {
	if w.d.Numbered {
		w.placeholder()
		return
	}
	w.arg(w.args[len(w.args)-1])
}

func (w *builder) placeholder() {
	if !w.d.Numbered {
		w.b.WriteByte('?')
		return
	}
	w.b.WriteByte('$')
	w.b.WriteString(strconv.Itoa(len(w.args)))
}
