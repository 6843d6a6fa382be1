package auth_test

import (
	"bytes"
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// auditSpy is a store whose audit log records the queries it is given,
// and, with export set, has an auth.AuditExporter that calls it.
type auditSpy struct {
	*sqlite.DB
	queries *[]audit.Query
	export  func(q audit.Query, each func(*audit.Event) error) error
}

func (s auditSpy) Audit() auth.AuditStore {
	log := spyLog{s.DB.Audit(), s.queries}
	if s.export != nil {
		return spyExporter{log, s.export}
	}
	return log
}

type spyLog struct {
	auth.AuditStore
	queries *[]audit.Query
}

func (s spyLog) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	*s.queries = append(*s.queries, q)
	return s.AuditStore.Query(ctx, q)
}

type spyExporter struct {
	spyLog
	export func(q audit.Query, each func(*audit.Event) error) error
}

func (s spyExporter) ExportEvents(_ context.Context, q audit.Query, each func(*audit.Event) error) error {
	return s.export(q, each)
}

// AuditLog leaves the query to the store, its one owner (audit.Log), and
// a query the store refuses names the query field.
func TestAuditLogQueryCheckedByStore(t *testing.T) {
	e := newEnv(t)
	var queries []audit.Query
	m := e.manager(auditSpy{DB: e.db, queries: &queries})
	admin := e.on(m, e.admin())
	p, err := m.AuditLog(e.ctx, admin, audit.Query{Action: audit.SignUp})
	if err != nil || len(p.Events) != 1 {
		t.Fatalf("AuditLog: %d events, %v; want the sign-up", len(p.Events), err)
	}
	if len(queries) != 1 || queries[0] != (audit.Query{Action: audit.SignUp}) {
		t.Fatalf("the store was given %+v; want the query as the caller gave it, once", queries)
	}
	for _, q := range []audit.Query{{Limit: -1}, {Limit: audit.MaxLimit + 1}, {Outcome: "maybe"}, {Cursor: "%%%"}} {
		_, err := m.AuditLog(e.ctx, admin, q)
		var fe *auth.FieldError
		if !errors.As(err, &fe) || fe.Field != auth.FieldQuery ||
			!(errors.Is(err, audit.ErrInvalidQuery) || errors.Is(err, audit.ErrInvalidCursor)) {
			t.Errorf("AuditLog(%+v) = %v; want a FieldError on %q wrapping the store's refusal", q, err, auth.FieldQuery)
		}
	}
	// The store is safe called directly: it checks the query itself.
	if _, err := e.db.Audit().Query(e.ctx, audit.Query{Limit: -1}); !errors.Is(err, audit.ErrInvalidQuery) {
		t.Fatalf("Query(Limit -1) = %v; want audit.ErrInvalidQuery", err)
	}
	if p, err := e.db.Audit().Query(e.ctx, audit.Query{}); err != nil || len(p.Events) == 0 {
		t.Fatalf("Query with no limit: %d events, %v", len(p.Events), err)
	}
}

// ExportAuditLog reads through the store's auth.AuditExporter where it
// has one: the checked query goes to it, what it hands over is written,
// and its error is returned as it is.
func TestExportAuditLogThroughExporter(t *testing.T) {
	e := newEnv(t)
	var (
		queries []audit.Query
		gotQ    audit.Query
		fail    error
	)
	ev := audit.Event{ID: "7", Time: e.clk.Now(), Action: "host.thing", Outcome: audit.Success, Reason: "=1+1"}
	m := e.manager(auditSpy{DB: e.db, queries: &queries, export: func(q audit.Query, each func(*audit.Event) error) error {
		gotQ = q
		for range 3 {
			e := ev // each may keep nothing: the store reuses its events
			if err := each(&e); err != nil {
				return err
			}
		}
		return fail
	}})
	admin := e.on(m, e.admin())
	var out bytes.Buffer
	n, err := m.ExportAuditLog(e.ctx, admin, audit.Query{Action: "host.thing"}, audit.CSV, &out)
	if err != nil || n != 3 {
		t.Fatalf("ExportAuditLog = %d, %v; want the exporter's 3 events", n, err)
	}
	if gotQ.Action != "host.thing" || !gotQ.OldestFirst || gotQ.Until.IsZero() {
		t.Fatalf("the exporter was given %+v; want the action, oldest first, until the call", gotQ)
	}
	if len(queries) != 0 {
		t.Fatalf("the export also read %d pages through Query", len(queries))
	}
	if lines := strings.Count(out.String(), "\n"); lines != 4 || !strings.Contains(out.String(), ",'=1+1,") {
		t.Fatalf("export: %q; want a header and 3 rows, the formula defused", out.String())
	}
	fail = errors.New("disk gone")
	if _, err := m.ExportAuditLog(e.ctx, admin, audit.Query{}, audit.JSONLines, &out); err != fail {
		t.Fatalf("ExportAuditLog with a failing exporter: %v; want its error as it is", err)
	}
}
