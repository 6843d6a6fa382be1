package postgres

import (
	"bufio"
	"context"
	"io"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
)

// seedAuditEvents inserts n events into db in one statement, one a second
// from t0, as auth's seedEvents fills SQLite: one in seven a failed login
// with details and a reason, the rest successful logins, a browser's user
// agent on each. They are outside the chain (no seq), as events written
// before it began: neither a page nor an export checks it.
func seedAuditEvents(tb testing.TB, db *DB, n int) {
	tb.Helper()
	ctx := context.Background()
	start := time.Now()
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_events (time, action, outcome, actor_id, actor_email,
			target_type, target_id, target_label, ip, user_agent, reason, details)
		SELECT $1::timestamptz + i * interval '1 second',
			CASE WHEN i % 7 = 0 THEN 'login.failed' ELSE 'login.succeeded' END,
			CASE WHEN i % 7 = 0 THEN 'failure' ELSE 'success' END,
			'0123456789abcdef0123456789abcdef', 'person@example.com', 'user',
			'0123456789abcdef0123456789abcdef', 'person@example.com', '198.51.100.7', $2,
			CASE WHEN i % 7 = 0 THEN 'wrong password' ELSE '' END,
			CASE WHEN i % 7 = 0 THEN '{"consecutive_failures":1}'::jsonb END
		FROM generate_series(0, $3 - 1) AS i`, t0, strings.Repeat("Mozilla/5.0 ", 8), n); err != nil {
		tb.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `VACUUM ANALYZE audit_events`); err != nil {
		tb.Fatal(err)
	}
	tb.Logf("fixture: %d events in %v", n, time.Since(start).Round(time.Millisecond))
}

// BenchmarkAuditExportFloor exports 1,000,000 events through
// auth.Manager.ExportAuditLog, as JSON Lines and as CSV to io.Discard,
// beside issue 12's floor in the same loop, the two taking turns at going
// first: one query through the pool reading the same columns of every
// row, oldest first, scanned into plain values as a pgx application
// would, each row written through a 64 KiB buffer as it is (writeRawRow:
// the columns tab-separated, the time formatted, no quoting). It is
// auth's BenchmarkAuditExport1M on PostgreSQL. It reports usher/floor
// (issue 12: at the floor's rate) and each side's events per second.
// Seeding takes about half a minute, so it skips under -short.
func BenchmarkAuditExportFloor(b *testing.B) {
	if testing.Short() {
		b.Skip("seeds 1,000,000 events")
	}
	const n = 1_000_000
	db := newTestDB(b)
	seedAuditEvents(b, db, n)
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey}, "bench")
	if err != nil {
		b.Fatal(err)
	}
	ctx := context.Background()
	for _, format := range []audit.Format{audit.JSONLines, audit.CSV} {
		b.Run(string(format), func(b *testing.B) {
			floor := func() {
				// Each export records itself: a few events more than n.
				if got := floorExport(b, db); got < n {
					b.Fatalf("floor wrote %d rows", got)
				}
			}
			usher := func() {
				if got, err := m.ExportAuditLog(ctx, op, audit.Query{}, format, io.Discard); err != nil || got < n {
					b.Fatalf("exported %d: %v", got, err)
				}
			}
			tFloor, tUsher, i := loopBoth(b, floor, usher)
			b.ReportMetric(float64(tUsher)/float64(tFloor), "usher/floor")
			b.ReportMetric(float64(n)*float64(i)/tUsher.Seconds(), "events/s")
			b.ReportMetric(float64(n)*float64(i)/tFloor.Seconds(), "floor-events/s")
		})
	}
}

// floorExport reads every event, oldest first, in one query and writes
// each row to io.Discard; it returns how many it wrote.
func floorExport(tb testing.TB, db *DB) int {
	rows, err := db.pool.Query(context.Background(), `SELECT id, time, action, outcome, actor_id, actor_email,
		target_type, target_id, target_label, ip, user_agent, reason, details, repeats
		FROM audit_events ORDER BY time, id`)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	w := bufio.NewWriterSize(io.Discard, 64<<10)
	var (
		r    rawAuditRow
		line []byte
		n    int
	)
	for rows.Next() {
		if err := rows.Scan(&r.id, &r.t, &r.action, &r.outcome, &r.actorID, &r.actorEmail, &r.targetType, &r.targetID,
			&r.targetLabel, &r.ip, &r.userAgent, &r.reason, &r.details, &r.repeats); err != nil {
			tb.Fatal(err)
		}
		line = r.appendRaw(line[:0])
		if _, err := w.Write(line); err != nil {
			tb.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	if err := w.Flush(); err != nil {
		tb.Fatal(err)
	}
	return n
}

// rawAuditRow is a row of the floor's query, in plain values.
type rawAuditRow struct {
	id, repeats                                      int64
	t                                                time.Time
	action, outcome, actorID, actorEmail, targetType string
	targetID, targetLabel, ip, userAgent, reason     string
	details                                          []byte
}

// appendRaw appends r's columns as they are, tab-separated, and a newline:
// the floor's write, without quoting or escaping (auth's writeRaw), the
// time in RFC 3339 as an export writes it.
func (r *rawAuditRow) appendRaw(b []byte) []byte {
	b = strconv.AppendInt(b, r.id, 10)
	b = append(b, '\t')
	b = r.t.UTC().AppendFormat(b, time.RFC3339Nano)
	for _, s := range [...]string{r.action, r.outcome, r.actorID, r.actorEmail, r.targetType, r.targetID,
		r.targetLabel, r.ip, r.userAgent, r.reason} {
		b = append(b, '\t')
		b = append(b, s...)
	}
	b = append(b, '\t')
	b = append(b, r.details...)
	b = append(b, '\t')
	b = strconv.AppendInt(b, r.repeats, 10)
	return append(b, '\n')
}
