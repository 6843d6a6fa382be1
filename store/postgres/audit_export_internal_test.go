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
