package paging

import (
	"fmt"
	"slices"
	"strconv"

	"github.com/usher-go/usher/audit"
)

// AuditColumns are the columns of an audit page, the same in both
// schemas, unless Dialect.EventColumns says otherwise. A scan reads them
// in this order.
const AuditColumns = `id, time, action, outcome, actor_id, actor_email, target_type, target_id,
		target_label, ip, user_agent, reason, details, repeats`

// EventsQuery is the statement of one page of events, and what reading its
// rows needs to know.
type EventsQuery struct {
	SQL  string
	Args []any
	// OK is false when the query cannot match anything (a filter holds a
	// string the database cannot store): there is no statement to run.
	OK bool

	limit     int
	back      bool // the rows come against the query's order (Page.Prev)
	hasCursor bool
	oldest    bool
}

// Events writes the statement of one page of events for a normalized q,
// on the (time, id) keyset in q's order: the filters, the keyset condition
// from q.Cursor, and a LIMIT one row more than the page, written into the
// SQL. Its columns are Dialect.EventColumns, or AuditColumns. Every
// filter column leads an index ending in (time, id), so a page is one
// index range scan whichever single filter is set, in either direction
// (but for a store whose outcome index leaves successes out, RareOutcome,
// or whose action index leaves successful logins out, RareAction: a page
// of those walks the time index, where most rows are). A
// cursor this package did not make, or made for the other order, fails
// with [audit.ErrInvalidCursor]. Event IDs are decimal integers.
func (d *Dialect) Events(q audit.Query) (EventsQuery, error) {
	eq := EventsQuery{limit: q.Limit, oldest: q.OldestFirst}
	var w builder
	cols := d.EventColumns
	if cols == "" {
		cols = AuditColumns
	}
	w.start(d, "SELECT "+cols+" FROM audit_events")
	if !d.eventFilters(&w, q) {
		return eq, nil
	}
	// Ascending when the query is oldest first, or when reading back
	// against a newest-first query.
	ascending := q.OldestFirst
	if q.Cursor != "" {
		c, err := DecodeAuditCursor(q.Cursor)
		if err != nil {
			return eq, err
		}
		if c.Oldest != q.OldestFirst {
			return eq, fmt.Errorf("%w: made for the other order", audit.ErrInvalidCursor)
		}
		id, err := strconv.ParseInt(c.ID, 10, 64)
		if err != nil {
			return eq, fmt.Errorf("%w: bad id", audit.ErrInvalidCursor)
		}
		eq.hasCursor, eq.back = true, c.Back
		ascending = ascending != c.Back
		w.where()
		if ascending {
			w.sql("(time, id) > (")
		} else {
			w.sql("(time, id) < (")
		}
		w.arg(d.Time(c.Time))
		w.sql(", ")
		w.arg(id)
		w.sql(")")
	}
	if ascending {
		w.sql(" ORDER BY time, id")
	} else {
		w.sql(" ORDER BY time DESC, id DESC")
	}
	// Written, not bound, as in a listing of users (see Users): a page's
	// shape is its filters present, cursor, order and size, and
	// audit.MaxLimit bounds the sizes.
	w.sql(" LIMIT ", strconv.Itoa(q.Limit+1))
	eq.SQL, eq.Args, eq.OK = w.b.String(), w.args, true
	return eq, nil
}

// eventFilters writes q's filters into w; false when one holds a string
// the database cannot store, so that the page matches nothing.
func (d *Dialect) eventFilters(w *builder, q audit.Query) bool {
	for _, f := range [...]struct{ col, v string }{
		{"action = ", string(q.Action)},
		{"actor_id = ", q.ActorID},
		{"target_type = ", q.TargetType},
		{"target_id = ", q.TargetID},
		{"outcome = ", string(q.Outcome)},
	} {
		if f.v == "" {
			continue
		}
		if !d.storable(f.v) {
			return false
		}
		w.where()
		w.sql(f.col)
		w.arg(f.v)
	}
	if q.Outcome != "" && q.Outcome != audit.Success && d.RareOutcome != "" {
		w.where()
		w.sql(d.RareOutcome)
	}
	if q.Action != "" && q.Action != audit.LoginSucceeded && d.RareAction != "" {
		w.where()
		w.sql(d.RareAction)
	}
	if !q.Since.IsZero() {
		w.where()
		w.sql("time >= ")
		w.arg(d.Time(q.Since))
	}
	if !q.Until.IsZero() {
		w.where()
		w.sql("time < ")
		w.arg(d.Time(q.Until))
	}
	return true
}

// Read reads the rows of the statement: up to the page's limit of events,
// each filled by scan, put in the query's order. A row beyond them only
// tells that the scan could go on. An error from scan is returned as it
// is; the caller checks rows' own error.
func (eq EventsQuery) Read(rows Rows, scan func(*audit.Event) error) (audit.Page, error) {
	page := audit.Page{Events: make([]audit.Event, 0, min(eq.limit, 64))}
	more := false
	for rows.Next() {
		if len(page.Events) == eq.limit {
			more = true
			break
		}
		page.Events = append(page.Events, audit.Event{})
		if err := scan(&page.Events[len(page.Events)-1]); err != nil {
			return audit.Page{}, err
		}
	}
	n := len(page.Events)
	if n == 0 {
		return page, nil
	}
	if eq.back {
		slices.Reverse(page.Events)
	}
	first, last := &page.Events[0], &page.Events[n-1]
	// Forward, a next page exists if the scan could go on, and a previous
	// one if this page was reached through a cursor. Back, the other way
	// round: the page the cursor came from is next.
	if (!eq.back && more) || eq.back {
		page.Next = EncodeAuditCursor(AuditCursor{Time: last.Time, ID: last.ID, Oldest: eq.oldest})
	}
	if (eq.back && more) || (!eq.back && eq.hasCursor) {
		page.Prev = EncodeAuditCursor(AuditCursor{Time: first.Time, ID: first.ID, Oldest: eq.oldest, Back: true})
	}
	return page, nil
}
