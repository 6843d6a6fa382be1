package paging

import (
	"fmt"
	"strconv"

	"github.com/usher-go/usher/audit"
)

// auditSelect is the SELECT of an audit page, the same in both schemas.
// ReadEvents' scan reads its columns in this order.
const auditSelect = `SELECT id, time, action, outcome, actor_id, actor_email, target_type, target_id,
		ip, user_agent, reason, details FROM audit_events`

// Events writes the statement of one page of events for a normalized q,
// newest first on the (time, id) keyset: the filters, the keyset condition
// after q.Cursor, and a LIMIT one row more than the page. Its columns are
// id, time, action, outcome, actor_id, actor_email, target_type,
// target_id, ip, user_agent, reason, details. Every filter column leads an
// index ending in (time, id), so a page is one index range scan whichever
// single filter is set. ok is false when q cannot match anything (a filter
// holds a string the database cannot store). A cursor this package did not
// make fails with [audit.ErrInvalidCursor]. Event IDs are decimal integers.
func (d *Dialect) Events(q audit.Query) (query string, args []any, ok bool, err error) {
	var w builder
	w.start(d, auditSelect)
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
			return "", nil, false, nil
		}
		w.where()
		w.sql(f.col)
		w.arg(f.v)
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
	if q.Cursor != "" {
		c, err := DecodeAuditCursor(q.Cursor)
		if err != nil {
			return "", nil, false, err
		}
		id, err := strconv.ParseInt(c.ID, 10, 64)
		if err != nil {
			return "", nil, false, fmt.Errorf("%w: bad id", audit.ErrInvalidCursor)
		}
		w.where()
		w.sql("(time, id) < (")
		w.arg(d.Time(c.Time))
		w.sql(", ")
		w.arg(id)
		w.sql(")")
	}
	w.sql(" ORDER BY time DESC, id DESC LIMIT ")
	w.arg(q.Limit + 1)
	return w.b.String(), w.args, true, nil
}

// ReadEvents reads the rows of an [Dialect.Events] statement: up to limit
// events, each filled by scan. A row beyond them only tells that a next
// page exists; Page.Next then points after the last event kept. An error
// from scan is returned as it is; the caller checks rows' own error.
func ReadEvents(rows Rows, limit int, scan func(*audit.Event) error) (audit.Page, error) {
	page := audit.Page{Events: make([]audit.Event, 0, min(limit, 64))}
	for rows.Next() {
		if n := len(page.Events); n == limit {
			last := &page.Events[n-1]
			page.Next = EncodeAuditCursor(AuditCursor{Time: last.Time, ID: last.ID})
			break
		}
		page.Events = append(page.Events, audit.Event{})
		if err := scan(&page.Events[len(page.Events)-1]); err != nil {
			return audit.Page{}, err
		}
	}
	return page, nil
}
