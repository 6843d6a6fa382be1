package postgres

import (
	"context"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/paging"
)

// exportPage is how many events ExportEvents reads per query: a million
// events are 200 queries, where pages of audit.MaxLimit make 2,000 (see
// auth.AuditExporter); the page, reused from query to query, is about
// 1.5 MB of events plus their text.
const exportPage = 5000

// Checked at compile time: auth.Manager's export reads through
// ExportEvents.
var _ auth.AuditExporter = auditStore{}

// ExportEvents is auth.AuditExporter's: Query's statement, oldest first,
// with exportPage + 1 as its LIMIT (one statement shape more, which pgx
// prepares once per connection), each page a range scan of the (time, id)
// index from the last one's end, read whole before each sees it.
func (as auditStore) ExportEvents(ctx context.Context, q audit.Query, each func(*audit.Event) error) error {
	// Checked with a Limit Normalize accepts, then given the page's.
	q.Limit, q.Cursor, q.OldestFirst = audit.MaxLimit, "", true
	q, err := q.Normalize()
	if err != nil {
		return err
	}
	q.Limit = exportPage
	page := make([]audit.Event, 0, exportPage)
	for {
		var more bool
		if page, more, err = as.readExportPage(ctx, q, page[:0]); err != nil {
			return err
		}
		for i := range page {
			if err := each(&page[i]); err != nil {
				return err
			}
		}
		if !more {
			return nil
		}
		last := &page[len(page)-1]
		q.Cursor = paging.EncodeAuditCursor(paging.AuditCursor{Time: last.Time, ID: last.ID, Oldest: true})
	}
}

// readExportPage appends to page up to q.Limit events of the normalized,
// oldest-first q; more tells whether there are others after them.
func (as auditStore) readExportPage(ctx context.Context, q audit.Query, page []audit.Event) (_ []audit.Event, more bool, _ error) {
	eq, err := dialect.Events(q)
	if err != nil || !eq.OK { // !OK: no stored event holds a filter's value
		return page, false, err
	}
	rows, err := as.s.q.Query(ctx, eq.SQL, eq.Args...)
	if err != nil {
		return page, false, wrap("export audit", err)
	}
	defer rows.Close()
	var sc eventScan
	for rows.Next() {
		if len(page) == q.Limit {
			more = true
			break
		}
		if err := rows.Scan(sc.dest()...); err != nil {
			return page, false, wrap("export audit", err)
		}
		page = append(page, audit.Event{})
		if err := sc.finish(&page[len(page)-1], true); err != nil {
			return page, false, wrap("export audit", err)
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return page, false, wrap("export audit", err)
	}
	return page, more, nil
}
