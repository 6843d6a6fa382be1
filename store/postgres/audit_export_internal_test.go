package postgres

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
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

// Outside a transaction ExportEvents reads the next page while each runs
// over this one, and that read lets go of its connection once the page is
// in: while each waits, the export holds no connection. Stopped by each,
// it returns only once the read ahead has let go of its connection too.
func TestExportEventsReadsAhead(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	seedAuditEvents(t, db, 2*exportPage+1)
	x := db.Audit().(auth.AuditExporter)
	acquired := func() int64 { return db.pool.Stat().AcquireCount() }
	held := func() int32 { return db.pool.Stat().AcquiredConns() }
	// waitFor polls cond for up to 10 s.
	waitFor := func(cond func() bool) bool {
		for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
			if cond() {
				return true
			}
		}
		return false
	}
	start, n := acquired(), 0
	err := x.ExportEvents(ctx, audit.Query{}, func(*audit.Event) error {
		n++
		if n == exportPage { // the last event of the first page
			if !waitFor(func() bool { return acquired() >= start+2 && held() == 0 }) {
				t.Errorf("while each ran over the first page: %d acquires since the export began, %d connections held; "+
					"want the second page read (2 acquires) and no connection held", acquired()-start, held())
			}
		}
		return nil
	})
	if err != nil || n < 2*exportPage+1 {
		t.Fatalf("ExportEvents: %d events, %v", n, err)
	}

	// Stopped while the read ahead holds its connection (caught in the
	// act, as a rule: the read takes milliseconds).
	stop := errors.New("stop")
	inFlight := false
	err = x.ExportEvents(ctx, audit.Query{}, func(*audit.Event) error {
		inFlight = waitFor(func() bool { return held() == 1 })
		return stop
	})
	if err != stop {
		t.Fatalf("ExportEvents stopped by each: %v, want its error", err)
	}
	if h := held(); h != 0 {
		t.Errorf("ExportEvents returned while holding %d connections (read ahead in flight when stopped: %v)", h, inFlight)
	}
	if !inFlight {
		t.Log("the read ahead was never seen holding its connection")
	}
}

// Inside a transaction, whose one connection each may use too, pages are
// read in turn.
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
