package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

// BenchmarkAuditPagePacked reads 50-event pages of 1,000,000 events through
// the store's Query beside two floors on the store's own reader pool, each
// prepared once: the plain keyset query scanned column by column into
// plain values (issue 12's floor, as auth's BenchmarkAuditLogPage1M times
// it), and the very SQL Query sends (eventColumns) run raw, scanned into a
// string and the details. The three take turns at going first. Pages:
// the newest, the newest of one action, and the newest of one actor
// (whose floors are both the SQL Query sends; see the case). It reports
// usher/floor, usher/packed, and each one's allocations per page: what
// usher costs over the SQL it sends is its own (unpacking, decoding the
// details, the cursor).
func BenchmarkAuditPagePacked(b *testing.B) {
	const n = 1_000_000
	db := newTestDB(b)
	ctx := context.Background()
	if _, err := db.w.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1)
		INSERT INTO audit_events (time, action, outcome, actor_id, actor_email, target_type, target_id,
			target_label, ip, user_agent, reason, details)
		SELECT ? + i * 1000000000, CASE WHEN i % 7 = 0 THEN 'login.failed' ELSE 'login.succeeded' END,
			CASE WHEN i % 7 = 0 THEN 'failure' ELSE 'success' END, '0123456789abcdef0123456789abcdef',
			'person@example.com', 'user', '0123456789abcdef0123456789abcdef', 'person@example.com', '198.51.100.7', ?,
			CASE WHEN i % 7 = 0 THEN 'wrong password' ELSE '' END,
			CASE WHEN i % 7 = 0 THEN '{"consecutive_failures":1}' END
		FROM c`, n, t0.UnixNano(), strings.Repeat("Mozilla/5.0 ", 8)); err != nil {
		b.Fatal(err)
	}
	for _, c := range []struct {
		name, where string
		q           audit.Query
		args        []any
	}{
		{"newest", "", audit.Query{}, nil},
		// The floor repeats the condition of audit_action (migration
		// 0020), as Query does: without it no query reaches that index.
		{"action", " WHERE action = ? AND " + dialect.RareAction, audit.Query{Action: audit.LoginFailed}, []any{"login.failed"}},
		// No one keyset query serves a page by actor since migration 0021
		// (audit_actor leaves out events on the actor's own account):
		// both floors are the SQL Query sends, the merge of audit_actor
		// and audit_target (dialect.Events), run raw.
		{"actor", "", audit.Query{ActorID: "0123456789abcdef0123456789abcdef"}, nil},
	} {
		order := c.where + ` ORDER BY time DESC, id DESC LIMIT 51`
		b.Run(c.name, func(b *testing.B) {
			plainSQL, packedSQL, args := `SELECT `+eventFloorColumns+` FROM audit_events`+order,
				`SELECT `+eventColumns+` FROM audit_events`+order, c.args
			if c.q.ActorID != "" {
				q, err := c.q.Normalize()
				if err != nil {
					b.Fatal(err)
				}
				eq, err := dialect.Events(q)
				if err != nil {
					b.Fatal(err)
				}
				plainSQL, packedSQL, args = eq.SQL, eq.SQL, eq.Args
			}
			plain, packed := prepareRead(b, db, plainSQL), prepareRead(b, db, packedSQL)
			readPlain := func() { readPlainEvents(b, plain, args) }
			if plainSQL == packedSQL {
				readPlain = func() { readPackedEvents(b, plain, args) }
			}
			run := [3]func(){
				func() {
					if p, err := db.Audit().Query(ctx, c.q); err != nil || len(p.Events) != 50 {
						b.Fatalf("Query: %d events, %v", len(p.Events), err)
					}
				},
				readPlain,
				func() { readPackedEvents(b, packed, args) },
			}
			var allocs [3]float64
			for k := range run {
				allocs[k] = testing.AllocsPerRun(20, run[k])
			}
			var t [3]time.Duration // usher, plain, packed
			i := 0
			for b.Loop() {
				for j := range 3 { // the order rotates, so that none always goes first
					k := (i + j) % 3
					t0 := time.Now()
					run[k]()
					t[k] += time.Since(t0)
				}
				i++
			}
			b.ReportMetric(float64(t[0])/float64(t[1]), "usher/floor")
			b.ReportMetric(float64(t[0])/float64(t[2]), "usher/packed")
			b.ReportMetric(float64(t[0].Nanoseconds())/float64(i), "usher-ns/op")
			b.ReportMetric(allocs[0], "usher-allocs/op")
			b.ReportMetric(allocs[1], "floor-allocs/op")
			b.ReportMetric(allocs[2], "packed-allocs/op")
		})
	}
}

// eventFloorColumns are the plain columns of an audit page.
const eventFloorColumns = `id, time, action, outcome, actor_id, actor_email, target_type, target_id,
	target_label, ip, user_agent, reason, details, repeats`

func prepareRead(b *testing.B, db *DB, query string) *sql.Stmt {
	st, err := db.reads.db.Prepare(query)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return st
}

// readPlainEvents reads the rows of st column by column into plain values.
func readPlainEvents(tb testing.TB, st *sql.Stmt, args []any) {
	var (
		id, tm, repeats            int64
		s1, s2, s3, s4, s5, s6, s7 string
		s8, s9, s10                string
		details                    sql.NullString
	)
	readEvents(tb, st, args, &id, &tm, &s1, &s2, &s3, &s4, &s5, &s6, &s7, &s8, &s9, &s10, &details, &repeats)
}

// readPackedEvents reads the rows of st, eventColumns, as they come.
func readPackedEvents(tb testing.TB, st *sql.Stmt, args []any) {
	var packed, details sql.NullString
	readEvents(tb, st, args, &packed, &details)
}

// readEvents reads the 51 rows of st into dest.
func readEvents(tb testing.TB, st *sql.Stmt, args []any, dest ...any) {
	rows, err := st.Query(args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		if err := rows.Scan(dest...); err != nil {
			tb.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil || n != 51 {
		tb.Fatalf("read %d rows: %v", n, err)
	}
}
