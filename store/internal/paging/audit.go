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
// of those walks the time index, where most rows are; and for a store
// whose actor index leaves an actor's own events out, ActorOthers, a page
// by actor merges two range scans, see actorEvents). A
// cursor this package did not make, or made for the other order, fails
// with [audit.ErrInvalidCursor]. Event IDs are decimal integers.
func (d *Dialect) Events(q audit.Query) (EventsQuery, error) {
	eq := EventsQuery{limit: q.Limit, oldest: q.OldestFirst}
	// A filter value the database cannot store matches nothing: there is
	// no statement to run, whatever the cursor.
	for _, v := range [...]string{string(q.Action), q.ActorID, q.TargetType, q.TargetID, string(q.Outcome)} {
		if v != "" && !d.storable(v) {
			return eq, nil
		}
	}
	// Ascending when the query is oldest first, or when reading back
	// against a newest-first query.
	ascending := q.OldestFirst
	var k *keyset
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
		k = &keyset{time: d.Time(c.Time), id: id}
	}
	cols := d.EventColumns
	if cols == "" {
		cols = AuditColumns
	}
	order := " ORDER BY time DESC, id DESC"
	if ascending {
		order = " ORDER BY time, id"
	}
	// Written, not bound, as in a listing of users (see Users): a page's
	// shape is its filters present, cursor, order and size, and
	// audit.MaxLimit bounds the sizes.
	limit := " LIMIT " + strconv.Itoa(q.Limit+1)
	var w builder
	if q.ActorID != "" && d.ActorOthers != "" {
		d.actorEvents(&w, q, k, cols, ascending, limit)
	} else {
		w.start(d, "SELECT "+cols+" FROM audit_events")
		d.eventConds(&w, q, armPlain, k, ascending)
		w.sql(order, limit)
	}
	eq.SQL, eq.Args, eq.OK = w.b.String(), w.args, true
	return eq, nil
}

// keyset is a cursor's place in the (time, id) order.
type keyset struct {
	time any
	id   int64
}

// arm says which events a statement's conditions select of those q
// filters by actor: all of them (armPlain), or, for a store whose actor
// index leaves an actor's own events out (Dialect.ActorOthers), those on
// anything but the actor's own account (armOthers) or those on it
// (armSelf).
type arm int

const (
	armPlain arm = iota
	armOthers
	armSelf
)

// actorEvents writes a page filtered by actor for a store whose actor
// index leaves out the actor's own events (Dialect.ActorOthers): the keys
// of the page are merged from two index walks in the page's order, the
// actor's events on anything else through that index, and those on the
// actor's own account through the index by target, which holds them;
// then the rows are read by ID. The two sets are disjoint and together
// are every event of the actor. With Dialect.LimitArms each walk is a
// parenthesized SELECT with the page's ORDER BY and LIMIT of its own.
func (d *Dialect) actorEvents(w *builder, q audit.Query, k *keyset, cols string, ascending bool, limit string) {
	dir := " DESC"
	if ascending {
		dir = ""
	}
	lp, rp, join := "", "", " CROSS JOIN"
	if d.LimitArms {
		lp, rp, join = "(", " ORDER BY time"+dir+", id"+dir+limit+")", " JOIN"
	}
	w.start(d, "SELECT "+cols+" FROM ("+lp+"SELECT time AS k_time, id AS k_id FROM audit_events")
	d.eventConds(w, q, armOthers, k, ascending)
	w.sql(rp, " UNION ALL ", lp, "SELECT time, id FROM audit_events")
	d.eventConds(w, q, armSelf, k, ascending)
	w.sql(rp, " ORDER BY k_time", dir, ", k_id", dir, limit,
		") AS k", join, " audit_events ON audit_events.id = k.k_id ORDER BY k.k_time", dir, ", k.k_id", dir)
}

// eventConds writes the WHERE clause of one statement of a page: q's
// filters, as a selects them, and the condition of the keyset k, when
// the page has a cursor. The filters' values are storable (Events checks).
func (d *Dialect) eventConds(w *builder, q audit.Query, a arm, k *keyset, ascending bool) {
	w.conds = 0
	d.armConds(w, q, a)
	actor := q.ActorID
	if a != armPlain {
		actor = "" // armConds wrote it
	}
	for _, f := range [...]struct{ col, v string }{
		{"action = ", string(q.Action)},
		{"actor_id = ", actor},
		{"target_type = ", q.TargetType},
		{"target_id = ", q.TargetID},
		{"outcome = ", string(q.Outcome)},
	} {
		if f.v == "" {
			continue
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
	k.cond(w, ascending)
}

// armConds writes the conditions that select a's events of those q's
// actor filter keeps (none for armPlain, whose filters say it all).
func (d *Dialect) armConds(w *builder, q audit.Query, a arm) {
	switch a {
	case armOthers:
		w.where()
		w.sql("actor_id = ")
		w.arg(q.ActorID)
		w.where()
		w.sql(d.ActorOthers)
	case armSelf:
		w.where()
		w.sql("target_type = '" + audit.TargetUser + "'")
		w.where()
		w.sql("target_id = ")
		w.arg(q.ActorID)
		w.where()
		w.sql("actor_id = ")
		w.again()
	}
}

// cond writes the condition of the rows past k in the page's order; none
// for a nil k (the first page).
func (k *keyset) cond(w *builder, ascending bool) {
	if k == nil {
		return
	}
	w.where()
	if ascending {
		w.sql("(time, id) > (")
	} else {
		w.sql("(time, id) < (")
	}
	w.arg(k.time)
	w.sql(", ")
	w.arg(k.id)
	w.sql(")")
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
