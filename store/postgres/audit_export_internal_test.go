package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/internal/heapwatch"
	"github.com/usher-go/usher/store/internal/paging"
)

// pagesOnly is db without auth.AuditExporter: the Manager exports it a
// page of Query at a time.
type pagesOnly struct{ *DB }

func (p pagesOnly) Audit() auth.AuditStore { return struct{ auth.AuditStore }{p.DB.Audit()} }

// An export read through ExportEvents is byte for byte the export read
// through Query's pages, in both formats, whole and filtered, across
// ExportEvents' page boundaries, with folded repeats and details and text
// that must be escaped or defused.
func TestExportEventsMatchesPages(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	seedAuditEvents(t, db, 2*exportPage+123)
	at := func(i int) time.Time { return t0.Add(time.Duration(i) * time.Second) }
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_events (time, action, outcome, actor_id, actor_email,
			target_type, target_id, target_label, ip, user_agent, reason, details, repeats)
		VALUES ($1, 'host.thing', 'denied', 'a', 'x@example.com', 'user', '=cmd|x', 'L"abel', '::1', 'UA,	with tab',
			'line one
line two <&>', '{"nested":{"a":[1,2.5,"é\u2028"]},"n":1e21}', 1),
		($2, 'login.failed', 'failure', '', '', '', '', '', '', '', '-1', '{"k":"v"}', 3),
		($2, 'login.failed', 'failure', '', '', '', '', '', '', '', '@x', NULL, 2)`,
		at(exportPage-1), at(exportPage)); err != nil {
		t.Fatal(err)
	}
	direct, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey}, "test")
	if err != nil {
		t.Fatal(err)
	}
	paged, pagedOp, err := auth.NewWithOperator(auth.Config{Store: pagesOnly{db}, SecretKey: seedKey}, "test")
	if err != nil {
		t.Fatal(err)
	}
	// Until, before the exports' own events, keeps both to the same rows.
	until := at(3 * exportPage)
	for _, c := range []struct {
		name string
		q    audit.Query
		want int64
	}{
		{"all", audit.Query{Until: until}, 2*exportPage + 126},
		{"failed logins", audit.Query{Action: audit.LoginFailed, Until: until}, (2*exportPage+123+6)/7 + 2},
		{"range", audit.Query{Since: at(exportPage - 10), Until: at(exportPage + 10)}, 23},
		{"none", audit.Query{Action: "no.such", Until: until}, 0},
	} {
		for _, f := range []audit.Format{audit.JSONLines, audit.CSV} {
			t.Run(c.name+"/"+string(f), func(t *testing.T) {
				var got, want bytes.Buffer
				n, err := direct.ExportAuditLog(ctx, op, c.q, f, &got)
				if err != nil || n != c.want {
					t.Fatalf("ExportAuditLog through ExportEvents = %d, %v; want %d", n, err, c.want)
				}
				if m, err := paged.ExportAuditLog(ctx, pagedOp, c.q, f, &want); err != nil || m != n {
					t.Fatalf("ExportAuditLog through Query = %d, %v; want %d", m, err, n)
				}
				if !bytes.Equal(got.Bytes(), want.Bytes()) {
					t.Fatalf("the exports differ: %d bytes through ExportEvents, %d through Query", got.Len(), want.Len())
				}
			})
		}
	}
}

// ExportEvents checks its query as Query does, and stops at each's
// first error, returning it.
func TestExportEventsErrors(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	seedAuditEvents(t, db, 10)
	x := db.Audit().(auth.AuditExporter)
	err := x.ExportEvents(ctx, audit.Query{Outcome: "maybe"}, func(*audit.Event) error { return nil })
	if !errors.Is(err, audit.ErrInvalidQuery) {
		t.Fatalf("ExportEvents with a bad outcome: %v, want audit.ErrInvalidQuery", err)
	}
	stop := errors.New("stop")
	calls := 0
	err = x.ExportEvents(ctx, audit.Query{}, func(*audit.Event) error { calls++; return stop })
	if err != stop || calls != 1 {
		t.Fatalf("ExportEvents: %v after %d calls, want each's error after one", err, calls)
	}
}

// Inside a transaction, each may use the transaction's one connection
// between events: ExportEvents holds no read open while it runs.
func TestExportEventsInTransaction(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	seedAuditEvents(t, db, exportPage+1)
	var n int
	err := db.Atomic(ctx, func(tx auth.Store) error {
		return tx.Audit().(auth.AuditExporter).ExportEvents(ctx, audit.Query{}, func(*audit.Event) error {
			n++
			if n == exportPage {
				// The transaction's connection is free for a statement.
				_, err := tx.Users().Count(ctx)
				return err
			}
			return nil
		})
	})
	if err != nil || n < exportPage+1 {
		t.Fatalf("ExportEvents in a transaction: %d events, %v", n, err)
	}
}

// exportAll returns the events ExportEvents gives x for q, each copied.
func exportAll(t *testing.T, x auth.AuditStore, q audit.Query) []audit.Event {
	t.Helper()
	var got []audit.Event
	err := x.(auth.AuditExporter).ExportEvents(context.Background(), q, func(e *audit.Event) error {
		got = append(got, *e)
		return nil
	})
	if err != nil {
		t.Fatalf("ExportEvents: %v", err)
	}
	return got
}

// queryAll returns the events of q, oldest first, read through Query's
// pages (rows.Scan).
func queryAll(t *testing.T, x auth.AuditStore, q audit.Query) []audit.Event {
	t.Helper()
	q.OldestFirst, q.Limit = true, audit.MaxLimit
	var all []audit.Event
	for {
		page, err := x.Query(context.Background(), q)
		if err != nil {
			t.Fatalf("Query: %v", err)
		}
		all = append(all, page.Events...)
		if page.Next == "" {
			return all
		}
		q.Cursor = page.Next
	}
}

// ExportEvents reads its rows from pgx's raw values (rawScan): the events
// are those rows.Scan gives Query, field for field (the time's instant and
// location included), for times at the edges of the years it reads itself
// and beyond them (where it hands the row to rows.Scan), before 1970,
// details absent, flat, nested and folded with repeats, and text that is
// not ASCII. On a connection in the simple protocol, where every column
// comes as text, it reads through rows.Scan: the IDs here are eight
// digits, eight bytes, which read as a binary bigint would be garbage.
func TestExportEventsRawMatchesScan(t *testing.T) {
	db := newBareTestDB(t)
	ctx := context.Background()
	if _, err := db.pool.Exec(ctx, `ALTER TABLE audit_events ALTER COLUMN id RESTART WITH 12345678`); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_events (time, action, outcome, actor_id, actor_email,
			target_type, target_id, target_label, ip, user_agent, reason, details, repeats)
		VALUES ('0001-01-01 00:00:00+00', 'a.first', 'success', '', '', '', '', '', '', '', '', NULL, 1),
			('0100-06-01 12:00:00+00 BC', 'a.bc', 'success', 'x', '', '', '', '', '', '', '', '{"k":"v"}', 1),
			('1969-12-31 23:59:59.999999+00', 'a.pre', 'failure', 'é', 'ü@example.com', 'user', '名前', 'L',
				'::1', 'UA 😀', 'why', '{"nested":{"a":[1,2.5]},"n":1e21}', 1),
			('2025-01-02 03:04:05.123456+00', 'a.now', 'denied', '', '', '', '', '', '', '', '', NULL, 3),
			('2025-01-02 03:04:05.123456+00', 'a.now', 'denied', '', '', '', '', '', '', '', '', '{"k":true}', 2),
			('9999-12-31 23:59:59.999999+00', 'a.last', 'success', '', '', '', '', '', '', '', '', NULL, 1),
			('10000-01-01 00:00:00+00', 'a.beyond', 'success', '', '', '', '', '', '', '', '', NULL, 1)`); err != nil {
		t.Fatal(err)
	}
	want := queryAll(t, db.Audit(), audit.Query{})
	if len(want) != 7 {
		t.Fatalf("Query gave %d events, want 7", len(want))
	}
	if got := exportAll(t, db.Audit(), audit.Query{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("ExportEvents gave\n%+v\nQuery gave\n%+v", got, want)
	}
	simple, err := OpenWith(ctx, testDSN(t)+"&default_query_exec_mode=simple_protocol", Options{Schema: db.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	defer simple.Close()
	for _, c := range []struct {
		db   *DB
		want bool
	}{{db, binaryResults(db)}, {simple, false}} {
		rows, err := c.db.pool.Query(ctx, `SELECT `+paging.AuditColumns+` FROM audit_events`)
		if err != nil {
			t.Fatal(err)
		}
		if got := rawColumns(rows.FieldDescriptions()); got != c.want {
			t.Errorf("rawColumns = %v, want %v", got, c.want)
		}
		rows.Close()
	}
	if got := exportAll(t, simple.Audit(), audit.Query{}); !reflect.DeepEqual(got, want) {
		t.Fatalf("ExportEvents in the simple protocol gave\n%+v\nQuery gave\n%+v", got, want)
	}
	// A time pgx refuses (infinity) fails the export, as it fails Query.
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_events (time, action, outcome) VALUES ('infinity', 'a.inf', 'success')`); err != nil {
		t.Fatal(err)
	}
	err = db.Audit().(auth.AuditExporter).ExportEvents(ctx, audit.Query{}, func(*audit.Event) error { return nil })
	if _, qerr := db.Audit().Query(ctx, audit.Query{OldestFirst: true, Limit: audit.MaxLimit}); err == nil || qerr == nil {
		t.Fatalf("an infinite time: ExportEvents %v, Query %v; want both to fail", err, qerr)
	}
}

// An export's memory is its page, whatever the number of events: 300,000
// events, about 100 MB of JSON Lines, exported with the heap under
// 64 MB. Read in one page, they would take more than that.
func TestExportEventsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds 300,000 events")
	}
	db := newTestDB(t)
	const n = 300_000
	seedAuditEvents(t, db, n)
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey}, "test")
	if err != nil {
		t.Fatal(err)
	}
	runtime.GC()
	w := &heapwatch.Writer{Every: 4 << 20}
	got, err := m.ExportAuditLog(context.Background(), op, audit.Query{}, audit.JSONLines, w)
	if err != nil || got < n {
		t.Fatalf("ExportAuditLog = %d, %v; want at least %d", got, err, n)
	}
	w.Check(t, 90<<20, 64<<20)
}

// ExportEvents reads the next page while each runs on this one (issue
// 12), on a connection it gives back once the page is read, not once each
// is done with the page before; and when each fails, it returns only once
// that read has ended, holding nothing, even when each failed with the
// read still going.
func TestExportEventsReadsAhead(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	seedAuditEvents(t, db, 2*exportPage+1)
	x := db.Audit().(auth.AuditExporter)
	stop := errors.New("stop")
	for _, c := range []struct {
		failAt  int
		watch   bool // wait in each for the read ahead to end
		reading bool // wait in each for the read ahead to hold a connection
	}{{1, false, false}, {1, false, true}, {1, true, false}, {exportPage + 1, true, false}} {
		n := 0
		saw := "read ahead"
		base := db.pool.Stat().AcquireCount()
		err := x.ExportEvents(ctx, audit.Query{}, func(*audit.Event) error {
			n++
			if n == 1 && c.watch {
				saw = watchReadAhead(db, base)
			}
			for deadline := time.Now().Add(20 * time.Second); n == 1 && c.reading && db.pool.Stat().AcquiredConns() == 0; { // not a timing
				if time.Now().After(deadline) {
					saw = "no read holding a connection"
					break
				}
				runtime.Gosched()
			}
			if n == c.failAt {
				return stop
			}
			return nil
		})
		if err != stop || n != c.failAt {
			t.Fatalf("ExportEvents: %v after %d calls, want each's error after %d", err, n, c.failAt)
		}
		if saw != "read ahead" {
			t.Errorf("failing at %d: %s", c.failAt, saw)
		}
		if held := db.pool.Stat().AcquiredConns(); held != 0 {
			t.Errorf("failing at %d (%+v): ExportEvents returned holding %d connections", c.failAt, c, held)
		}
	}
}

// watchReadAhead waits, as each runs on the first page, for the second
// page's read to take a connection of db's pool and give it back: two
// acquires since base (the first page's and its), none held. It says
// whether it saw that.
func watchReadAhead(db *DB, base int64) string {
	deadline := time.Now().Add(20 * time.Second) // not a timing: a read that never comes
	for {
		st := db.pool.Stat()
		if st.AcquireCount() >= base+2 && st.AcquiredConns() == 0 {
			return "read ahead"
		}
		if time.Now().After(deadline) {
			return fmt.Sprintf("no read ahead: %d acquires, %d connections held", st.AcquireCount()-base, st.AcquiredConns())
		}
		runtime.Gosched()
	}
}

// binaryResults reports whether db's pool reads result columns in
// PostgreSQL's binary format: the modes that describe a statement before
// running it do; exec and simple_protocol (which USHER_TEST_POSTGRES may
// name) read text.
func binaryResults(db *DB) bool {
	switch db.pool.Config().ConnConfig.DefaultQueryExecMode {
	case pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe, pgx.QueryExecModeDescribeExec:
		return true
	}
	return false
}
