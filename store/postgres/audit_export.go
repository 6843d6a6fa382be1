package postgres

import (
	"context"
	"encoding/binary"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/detailjson"
	"github.com/usher-go/usher/store/internal/paging"
)

// exportPage is how many events ExportEvents reads per query: a million
// events are 100 queries, where pages of audit.MaxLimit make 2,000 (see
// auth.AuditExporter). Two pages are in memory at once, the one each is
// called on and the next one being read, each about 2 MB of events,
// reused from query to query, and as much again of their text, in a
// buffer of its own for each page (rawScan; TestExportEventsBoundedMemory).
// Pages of 5,000 cost the server more CPU for the same rows (a query's
// start and the wake-ups of each), 1.05-1.27 of the raw floor's where
// 20,000 read 0.93-1.08 (BENCHMARKS.md).
const exportPage = 10000

// Checked at compile time: auth.Manager's export reads through
// ExportEvents.
var _ auth.AuditExporter = auditStore{}

// ExportEvents is auth.AuditExporter's: Query's statement, oldest first,
// with exportPage + 1 as its LIMIT (one statement shape more, which pgx
// prepares once per connection), each page a range scan of the (time, id)
// index from the last one's end, read whole (through rawScan) before
// each sees it.
//
// The next page is read while each is called on this one (issue 12):
// the server finds and sends the rows while the caller encodes, as a
// single query streaming its rows would have it, where reading only
// between the calls left one side idle while the other worked. The read
// holds a connection for itself alone and gives it back when the page is
// read, whatever each does meanwhile; ExportEvents returns only once
// that read has ended. Inside Atomic, whose one connection each may use
// between events, the pages are read in turn.
func (as auditStore) ExportEvents(ctx context.Context, q audit.Query, each func(*audit.Event) error) error {
	// Checked with a Limit Normalize accepts, then given the page's.
	q.Limit, q.Cursor, q.OldestFirst = audit.MaxLimit, "", true
	q, err := q.Normalize()
	if err != nil {
		return err
	}
	q.Limit = exportPage
	r := as.readExportPage(ctx, q, make([]audit.Event, 0, exportPage))
	spare := make([]audit.Event, 0, exportPage)
	for {
		if r.err != nil {
			return r.err
		}
		var next <-chan exportRead
		if r.more {
			last := &r.page[len(r.page)-1]
			q.Cursor = paging.EncodeAuditCursor(paging.AuditCursor{Time: last.Time, ID: last.ID, Oldest: true})
			next = as.readAhead(ctx, q, spare[:0])
		}
		for i := range r.page {
			if err := each(&r.page[i]); err != nil {
				if next != nil {
					<-next // a page's read, not cancelled: its connection goes back whole
				}
				return err
			}
		}
		if next == nil {
			return nil
		}
		spare = r.page
		r = <-next
	}
}

// exportRead is a page of ExportEvents: its events, whether there are
// others after them, or the error reading it.
type exportRead struct {
	page []audit.Event
	more bool
	err  error
}

// readAhead starts reading q's page into page, on a goroutine of its own
// outside a transaction (else now), and returns where the page comes.
func (as auditStore) readAhead(ctx context.Context, q audit.Query, page []audit.Event) <-chan exportRead {
	next := make(chan exportRead, 1)
	if as.s.tx != nil {
		next <- as.readExportPage(ctx, q, page)
		return next
	}
	go func() { next <- as.readExportPage(ctx, q, page) }()
	return next
}

// readExportPage appends to page up to q.Limit events of the normalized,
// oldest-first q, and tells whether there are others after them.
func (as auditStore) readExportPage(ctx context.Context, q audit.Query, page []audit.Event) exportRead {
	eq, err := dialect.Events(q)
	if err != nil || !eq.OK { // !OK: no stored event holds a filter's value
		return exportRead{page: page, err: err}
	}
	rows, err := as.s.q.Query(ctx, eq.SQL, eq.Args...)
	if err != nil {
		return exportRead{page: page, err: wrap("export audit", err)}
	}
	defer rows.Close()
	rs := rawScan{fast: rawColumns(rows.FieldDescriptions())}
	rs.text.Grow(exportText)
	more := false
	for rows.Next() {
		if len(page) == q.Limit {
			more = true
			break
		}
		page = append(page, audit.Event{})
		if err := rs.scan(rows, &page[len(page)-1]); err != nil {
			return exportRead{page: page, err: wrap("export audit", err)}
		}
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return exportRead{page: page, err: wrap("export audit", err)}
	}
	return exportRead{page: page, more: more}
}

// exportText is room for a page's text (rawScan.text) to begin with: a
// few hundred bytes an event. A page with more grows it, as an append
// does.
const exportText = 256 * exportPage

// rawScan reads an export page's rows from the bytes PostgreSQL sent
// (rows.RawValues) rather than through rows.Scan: pgx's Scan finds a
// plan for each column of each row and allocates each text column's
// string, ten a row, which was most of what reading a page cost beside
// the raw floor's one query (issue 12). Here every text column of a page
// is copied into one buffer, text, and each event's strings are slices of
// it. The buffer is new for each page and never written over (a
// strings.Builder only appends), so a string an event hands on stays as
// it was, like any other. A row rawScan does not read itself (fast
// false, a time out of its range, a NULL where there should be none) goes
// through rows.Scan as before, so what comes out, and the errors, are
// the same.
type rawScan struct {
	fast bool
	text strings.Builder
	slow eventScan
	end  [len(rawTextCols) + 1]int // where each of the row's strings ends in text
}

// The export's columns (paging.AuditColumns) by position, and their types.
const (
	colID, colTime, colDetails, colRepeats = 0, 1, 12, 13
	rawColumnCount                         = 14
)

// rawTextCols are the positions of the text columns, in Event order.
var rawTextCols = [...]int{2, 3, 4, 5, 6, 7, 8, 9, 10, 11}

// rawColumns tells whether a statement's result columns are what rawScan
// reads: the export's 14 columns with bigint and timestamptz in binary,
// text and jsonb as text, as pgx asks for them in its extended protocol.
// Anything else (a simple-protocol connection gets everything as text)
// is read through rows.Scan.
func rawColumns(fds []pgconn.FieldDescription) bool {
	if len(fds) != rawColumnCount {
		return false
	}
	for i, fd := range fds {
		want, format := uint32(pgtype.TextOID), int16(pgtype.TextFormatCode)
		switch i {
		case colID, colRepeats:
			want, format = pgtype.Int8OID, pgtype.BinaryFormatCode
		case colTime:
			want, format = pgtype.TimestamptzOID, pgtype.BinaryFormatCode
		case colDetails:
			want = pgtype.JSONBOID
		}
		if fd.DataTypeOID != want || fd.Format != format {
			return false
		}
	}
	return true
}

// scan reads the current row of rows into e.
func (rs *rawScan) scan(rows pgx.Rows, e *audit.Event) error {
	if rs.fast {
		if ok, err := rs.scanRaw(rows.RawValues(), e); ok || err != nil {
			return err
		}
	}
	if err := rows.Scan(rs.slow.dest()...); err != nil {
		return err
	}
	return rs.slow.finish(e, true)
}

// Binary timestamptz: microseconds from 2000-01-01 UTC. rawScan reads the
// years 1 to 9999 itself and leaves the rest (and ±infinity) to pgx.
const (
	unixToY2K       = 946_684_800 * 1_000_000
	rawTimeMin      = -63_082_281_600_000_000 // 0001-01-01
	rawTimeEnd      = 252_455_616_000_000_000 // 10000-01-01
	microsPerSecond = 1_000_000
)

// scanRaw reads the row v into e; ok is false, with e untouched, for a
// row it leaves to rows.Scan.
func (rs *rawScan) scanRaw(v [][]byte, e *audit.Event) (ok bool, _ error) {
	if len(v[colID]) != 8 || len(v[colTime]) != 8 || len(v[colRepeats]) != 8 {
		return false, nil // NULL
	}
	us := int64(binary.BigEndian.Uint64(v[colTime]))
	if us < rawTimeMin || us >= rawTimeEnd {
		return false, nil
	}
	id := int64(binary.BigEndian.Uint64(v[colID]))
	start := rs.text.Len()
	var num [20]byte
	rs.text.Write(strconv.AppendInt(num[:0], id, 10))
	rs.end[0] = rs.text.Len()
	for i, c := range rawTextCols {
		if v[c] == nil {
			return false, nil
		}
		rs.text.Write(v[c])
		rs.end[i+1] = rs.text.Len()
	}
	s := rs.text.String()
	at := func(i int) string {
		if i == 0 {
			return s[start:rs.end[0]]
		}
		return s[rs.end[i-1]:rs.end[i]]
	}
	us += unixToY2K
	*e = audit.Event{ID: at(0), Time: time.Unix(us/microsPerSecond, us%microsPerSecond*1000).UTC(),
		Action: audit.Action(at(1)), Outcome: audit.Outcome(at(2)),
		Actor:  audit.Actor{ID: at(3), Email: at(4)},
		Target: audit.Target{Type: at(5), ID: at(6), Label: at(7)},
		IP:     at(8), UserAgent: at(9), Reason: at(10)}
	if d := v[colDetails]; d != nil {
		m, err := detailjson.Decode(d)
		if err != nil {
			return true, fmt.Errorf("event %d details: %w", id, err)
		}
		e.Details = m
	}
	if n := int64(binary.BigEndian.Uint64(v[colRepeats])); n > 1 {
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		e.Details[audit.DetailRepeated] = float64(n)
	}
	return true, nil
}
