package auth_test

import (
	"bufio"
	"context"
	"database/sql"
	"io"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// BenchmarkAuditChainCost measures what chaining an event costs: in one
// loop, a transaction appending 50 of a login's events outside the chain
// (the floor), the same transaction appending them to the chain (head
// read, HMAC-SHA-256 over the event, row, head moved), and a whole
// successful login at the lowest bcrypt cost, which writes one such event.
// Fifty events a transaction keep the commit's fsync, which the chain does
// not change, from drowning the difference. It reports the chain's extra
// time per event and that extra as a share of the login.
func BenchmarkAuditChainCost(b *testing.B) {
	ctx := context.Background()
	db := benchDB(b)
	clk := newClock()
	m, err := auth.New(auth.Config{Store: db, SecretKey: testKey, BcryptCost: 4, InsecureLowBcryptCostForTests: true,
		Now: clk.Now, Throttle: auth.ThrottleConfig{PerIPPerMinute: -1, AccountFailuresPerDay: 1 << 30}})
	if err != nil {
		b.Fatal(err)
	}
	if _, err := m.SignUp(ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: setupToken(b, m)}, client); err != nil {
		b.Fatal(err)
	}
	seal := auth.SealEvent(m)
	event := func() *audit.Event {
		return &audit.Event{Time: time.Now().UTC(), Action: audit.LoginSucceeded, Outcome: audit.Success,
			Actor:  audit.Actor{ID: "0123456789abcdef0123456789abcdef", Email: adminEmail},
			Target: audit.Target{Type: audit.TargetUser, ID: "0123456789abcdef0123456789abcdef", Label: adminEmail},
			IP:     client.IP, UserAgent: client.UserAgent,
			Details: map[string]any{audit.DetailSessionID: "fedcba9876543210fedcba9876543210"}}
	}
	var tPlain, tChained, tLogin time.Duration
	const perTx = 50
	for b.Loop() {
		t0 := time.Now()
		err := db.Atomic(ctx, func(tx auth.Store) error {
			for range perTx {
				if err := tx.Audit().Append(ctx, event()); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		err = db.Atomic(ctx, func(tx auth.Store) error {
			for range perTx {
				if _, err := tx.Audit().AppendChained(ctx, event(), "", seal, nil); err != nil {
					return err
				}
			}
			return nil
		})
		if err != nil {
			b.Fatal(err)
		}
		t2 := time.Now()
		if _, err := m.Login(ctx, adminEmail, adminPassword, client); err != nil {
			b.Fatal(err)
		}
		tLogin += time.Since(t2)
		tPlain += t1.Sub(t0)
		tChained += t2.Sub(t1)
	}
	n := float64(b.N)
	b.ReportMetric(float64(tPlain.Nanoseconds())/n/perTx, "plain-ns/event")
	b.ReportMetric(float64(tChained.Nanoseconds())/n/perTx, "chained-ns/event")
	b.ReportMetric(float64((tChained-tPlain).Nanoseconds())/n/perTx, "chain-ns/event")
	b.ReportMetric(float64(tChained)/float64(tPlain), "chained/plain")
	b.ReportMetric(float64(tChained-tPlain)/perTx/float64(tLogin), "chain/login")
	b.ReportMetric(float64(tLogin.Nanoseconds())/n, "login-ns/op")
}

// million is an audit trail of a million events on one SQLite file, built
// once per benchmark (seeding takes seconds), with a Manager and an admin.
type million struct {
	path  string
	db    *sqlite.DB
	raw   *sql.DB
	m     *auth.Manager
	admin *auth.Principal
}

func newMillion(b *testing.B) *million {
	b.Helper()
	ctx := context.Background()
	path := filepath.Join(b.TempDir(), "million.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: testKey}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	seedEvents(b, path, 1_000_000)
	// The floor's pool is opened as the store's reader pool is (its
	// pragmas, as bigDB's floor), so that the two differ only by what
	// usher adds.
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=foreign_keys(1)&_pragma=mmap_size(1073741824)&_pragma=query_only(1)")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { raw.Close() })
	return &million{path: path, db: db, raw: raw, m: m, admin: op}
}

// BenchmarkAuditLogPage1M reads a page of 50 events from a million through
// Manager.AuditLog beside the floor, the same page read by one prepared
// query on the same file, the two taking turns at going first in one loop:
// the newest page, a page 500,000 events deep (through a cursor), and the
// newest page of one action (every event of which has details; the floor
// repeats the condition of SQLite's partial audit_action index, as the
// store does, migration 0020). It reports
// usher/floor (issue 12's target ≤ 1.30), and the allocations of one page
// on each side and their ratio (target ≤ 1.10): both read the same 51 rows.
func BenchmarkAuditLogPage1M(b *testing.B) {
	f := newMillion(b)
	ctx := context.Background()
	deep, err := f.m.AuditLog(ctx, f.admin, audit.Query{Until: time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).Add(500_000 * time.Second), Limit: 1})
	if err != nil || len(deep.Events) != 1 {
		b.Fatal(err)
	}
	cursorAt := deep.Events[0]
	cases := []struct {
		name  string
		q     audit.Query
		floor string
		args  []any
	}{
		{"newest", audit.Query{}, `SELECT id, time, action, outcome, actor_id, actor_email, target_type, target_id,
			target_label, ip, user_agent, reason, details, repeats FROM audit_events ORDER BY time DESC, id DESC LIMIT 51`, nil},
		{"deep", audit.Query{Until: cursorAt.Time.Add(time.Nanosecond)}, `SELECT id, time, action, outcome, actor_id,
			actor_email, target_type, target_id, target_label, ip, user_agent, reason, details, repeats FROM audit_events
			WHERE time < ? ORDER BY time DESC, id DESC LIMIT 51`, []any{cursorAt.Time.Add(time.Nanosecond).UnixNano()}},
		{"action", audit.Query{Action: audit.LoginFailed}, `SELECT id, time, action, outcome, actor_id, actor_email,
			target_type, target_id, target_label, ip, user_agent, reason, details, repeats FROM audit_events
			WHERE action = ? AND action <> 'login.succeeded' ORDER BY time DESC, id DESC LIMIT 51`, []any{"login.failed"}},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			st, err := f.raw.Prepare(c.floor)
			if err != nil {
				b.Fatal(err)
			}
			defer st.Close()
			floor := func() {
				if n := readRows(b, st, nil, c.args...); n != 51 {
					b.Fatalf("floor read %d rows", n)
				}
			}
			usher := func() {
				p, err := f.m.AuditLog(ctx, f.admin, c.q)
				if err != nil || len(p.Events) != 50 {
					b.Fatalf("AuditLog: %d events, %v", len(p.Events), err)
				}
			}
			usherAllocs, floorAllocs := testing.AllocsPerRun(20, usher), testing.AllocsPerRun(20, floor)
			tFloor, tUsher, n := loopBoth(b, floor, usher)
			reportFloor(b, tUsher, tFloor, n)
			reportAllocs(b, usherAllocs, floorAllocs)
		})
	}
}

// rawEvent is a row of the floor's queries, in plain values.
type rawEvent struct {
	id, t, repeats                                   int64
	action, outcome, actorID, actorEmail, targetType string
	targetID, targetLabel, ip, userAgent, reason     string
	details                                          sql.NullString
}

// readRows scans every row of the statement into plain values, as a
// caller of database/sql would, hands each to each (when not nil), and
// counts them.
func readRows(b *testing.B, st *sql.Stmt, each func(*rawEvent), args ...any) int {
	rows, err := st.Query(args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var (
		r rawEvent
		n int
	)
	for rows.Next() {
		if err := rows.Scan(&r.id, &r.t, &r.action, &r.outcome, &r.actorID, &r.actorEmail, &r.targetType, &r.targetID,
			&r.targetLabel, &r.ip, &r.userAgent, &r.reason, &r.details, &r.repeats); err != nil {
			b.Fatal(err)
		}
		if each != nil {
			each(&r)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// writeRaw writes r's columns as they are, tab-separated, a line each: the
// write of the export's floor, without quoting or escaping.
func writeRaw(w *bufio.Writer, r *rawEvent) {
	var num [20]byte
	w.Write(strconv.AppendInt(num[:0], r.id, 10))
	w.WriteByte('\t')
	w.Write(strconv.AppendInt(num[:0], r.t, 10))
	for _, s := range [...]string{r.action, r.outcome, r.actorID, r.actorEmail, r.targetType, r.targetID,
		r.targetLabel, r.ip, r.userAgent, r.reason, r.details.String} {
		w.WriteByte('\t')
		w.WriteString(s)
	}
	w.WriteByte('\t')
	w.Write(strconv.AppendInt(num[:0], r.repeats, 10))
	w.WriteByte('\n')
}

// BenchmarkAuditExport1M exports a million events as JSON Lines and as CSV
// (to io.Discard) beside the floor, one prepared query reading every row
// oldest first and writing its columns as they are through a buffer to
// io.Discard (writeRaw), the two taking turns at going first in one loop.
// It reports events per second and usher/floor.
func BenchmarkAuditExport1M(b *testing.B) {
	f := newMillion(b)
	ctx := context.Background()
	st, err := f.raw.Prepare(`SELECT id, time, action, outcome, actor_id, actor_email, target_type, target_id,
		target_label, ip, user_agent, reason, details, repeats FROM audit_events ORDER BY time, id`)
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	for _, format := range []audit.Format{audit.JSONLines, audit.CSV} {
		b.Run(string(format), func(b *testing.B) {
			var events, rows int64
			floor := func() {
				w := bufio.NewWriterSize(io.Discard, 64<<10)
				rows = int64(readRows(b, st, func(r *rawEvent) { writeRaw(w, r) }))
				if err := w.Flush(); err != nil {
					b.Fatal(err)
				}
			}
			usher := func() {
				n, err := f.m.ExportAuditLog(ctx, f.admin, audit.Query{}, format, io.Discard)
				if err != nil || n < 1_000_000 {
					b.Fatalf("exported %d: %v", n, err)
				}
				events += n
			}
			tFloor, tUsher, i := loopBoth(b, floor, usher)
			b.ReportMetric(float64(tUsher)/float64(tFloor), "usher/floor")
			b.ReportMetric(float64(events)/tUsher.Seconds(), "events/s")
			b.ReportMetric(float64(rows)*float64(i)/tFloor.Seconds(), "floor-events/s")
		})
	}
}
