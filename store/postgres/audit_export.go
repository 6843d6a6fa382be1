package postgres

import (
	"context"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/paging"
)

// exportPage is how many events ExportEvents reads per query: a million
// events are 200 queries, where pages of audit.MaxLimit make 2,000 (see
// auth.AuditExporter); each of the two pages ExportEvents reuses from
// query to query is about 1.5 MB of events plus their text.
const exportPage = 5000

// Checked at compile time: auth.Manager's export reads through
// ExportEvents.
var _ auth.AuditExporter = auditStore{}

// ExportEvents is auth.AuditExporter's: Query's statement, oldest first,
// with exportPage + 1 as its LIMIT (one statement shape more, which pgx
// prepares once per connection), each page a range scan of the (time, id)
// index from the last one's end, read whole before each sees it.
//
// Outside a transaction it reads the next page while each runs over this
// one, into a second buffer, on a connection of its own (issue 12: the
// server and the network work while the export encodes, so the export
// streams at the rate of the slower of the two, not of both in turn).
// The read holds its connection only while the page arrives, never while
// it waits for each: a slow writer holds nothing of the store's.
func (as auditStore) ExportEvents(ctx context.Context, q audit.Query, each func(*audit.Event) error) error {
	// Checked with a Limit Normalize accepts, then given the page's.
	q.Limit, q.Cursor, q.OldestFirst = audit.MaxLimit, "", true
	q, err := q.Normalize()
	if err != nil {
		return err
	}
	q.Limit = exportPage
	if as.s.tx != nil {
		// One connection: no read beside each.
		return as.exportInTurn(ctx, q, each)
	}
	bufs := [2][]audit.Event{make([]audit.Event, 0, exportPage), make([]audit.Event, 0, exportPage)}
	var r exportRead
	r.page, r.more, r.err = as.readExportPage(ctx, q, bufs[0])
	for k := 1; ; k++ {
		if r.err != nil {
			return r.err
		}
		page := r.page
		var ahead chan exportRead
		if r.more {
			q.Cursor = exportCursor(page)
			ahead = make(chan exportRead, 1)
			go func(q audit.Query, buf []audit.Event) {
				var r exportRead
				r.page, r.more, r.err = as.readExportPage(ctx, q, buf)
				ahead <- r
			}(q, bufs[k%2][:0])
		}
		for i := range page {
			if err := each(&page[i]); err != nil {
				if ahead != nil {
					// The read ahead is one page: it finishes, and
					// hands its connection back to the pool as it was,
					// where cancelling it would cost the connection.
					<-ahead
				}
				return err
			}
		}
		if ahead == nil {
			return nil
		}
		r = <-ahead
	}
}

// exportRead is what readExportPage read.
type exportRead struct {
	page []audit.Event
	more bool
	err  error
}

// exportCursor is the cursor of the page after page, oldest first.
func exportCursor(page []audit.Event) string {
	last := &page[len(page)-1]
	return paging.EncodeAuditCursor(paging.AuditCursor{Time: last.Time, ID: last.ID, Oldest: true})
}

// exportInTurn is ExportEvents inside a transaction, on its one
// connection: read a page, call each over it, read the next.
func (as auditStore) exportInTurn(ctx context.Context, q audit.Query, each func(*audit.Event) error) error {
	page := make([]audit.Event, 0, exportPage)
	for {
		var (
			more bool
			err  error
		)
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
		q.Cursor = exportCursor(page)
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
