package postgres

import (
	"bufio"
	"context"
	"encoding/csv"
	"encoding/json"
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
// beside two floors in the same loop, the three taking turns at going
// first. Both floors read the same columns of every row, oldest first, in
// one query through the pool, scanned into plain values as a pgx
// application would, and write each row, buffered, to io.Discard. The raw
// floor writes the columns as they are (appendRaw: tab-separated, the time
// formatted, no quoting), as auth's BenchmarkAuditExport1M does on SQLite.
// The plain floor writes the format as a plain application would, with
// the standard library: encoding/json for a struct of the row, the details
// as they are stored (json.RawMessage), or encoding/csv. It reports usher
// over each floor (issue 12: at the floor's rate) and each one's events
// per second, and the same ratios of CPU time (cpuTime: this process's
// and its connections' server processes'), which the machine's load
// moves far less than wall time. Seeding takes about 20 seconds, so it skips under -short.
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
			var t, cpu [3]time.Duration
			sides := [3]func(){
				func() {
					if got, err := m.ExportAuditLog(ctx, op, audit.Query{}, format, io.Discard); err != nil || got < n {
						b.Fatalf("exported %d: %v", got, err)
					}
				},
				// Each export records itself: the floors read a few
				// events more than n.
				func() { floorExport(b, db, n, rawWriter) },
				func() { floorExport(b, db, n, plainWriter(format)) },
			}
			i := 0
			for b.Loop() {
				for k := range 3 { // usher, raw, plain; then raw, plain, usher; ...
					side := (i + k) % 3
					start, cpu0 := time.Now(), cpuTime(b, db)
					sides[side]()
					t[side] += time.Since(start)
					cpu[side] += cpuTime(b, db) - cpu0
				}
				i++
			}
			b.ReportMetric(float64(t[0])/float64(t[1]), "usher/raw")
			b.ReportMetric(float64(t[0])/float64(t[2]), "usher/plain")
			b.ReportMetric(float64(cpu[0])/float64(cpu[1]), "cpu-usher/raw")
			b.ReportMetric(float64(cpu[0])/float64(cpu[2]), "cpu-usher/plain")
			for k, name := range []string{"usher", "raw", "plain"} {
				b.ReportMetric(float64(n)*float64(i)/t[k].Seconds(), name+"-events/s")
			}
		})
	}
}

// rowWriter writes rows to w: write each, then flush once.
type rowWriter func(w io.Writer) (write func(*rawAuditRow) error, flush func() error)

// floorExport reads every event, oldest first, in one query and writes
// each row through newWriter to io.Discard; it fails b unless there are
// at least n.
func floorExport(b *testing.B, db *DB, n int, newWriter rowWriter) {
	rows, err := db.pool.Query(context.Background(), `SELECT id, time, action, outcome, actor_id, actor_email,
		target_type, target_id, target_label, ip, user_agent, reason, details, repeats
		FROM audit_events ORDER BY time, id`)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	write, flush := newWriter(io.Discard)
	var (
		r   rawAuditRow
		got int
	)
	for rows.Next() {
		if err := rows.Scan(&r.id, &r.t, &r.action, &r.outcome, &r.actorID, &r.actorEmail, &r.targetType, &r.targetID,
			&r.targetLabel, &r.ip, &r.userAgent, &r.reason, &r.details, &r.repeats); err != nil {
			b.Fatal(err)
		}
		if err := write(&r); err != nil {
			b.Fatal(err)
		}
		got++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	if err := flush(); err != nil {
		b.Fatal(err)
	}
	if got < n {
		b.Fatalf("floor wrote %d rows, want at least %d", got, n)
	}
}

// rawWriter writes each row's columns as they are (appendRaw) through a
// 64 KiB buffer.
func rawWriter(w io.Writer) (func(*rawAuditRow) error, func() error) {
	bw := bufio.NewWriterSize(w, 64<<10)
	var line []byte
	return func(r *rawAuditRow) error {
		line = r.appendRaw(line[:0])
		_, err := bw.Write(line)
		return err
	}, bw.Flush
}

// plainWriter writes rows in format f as a plain application would: with
// encoding/json through a 64 KiB buffer, or with encoding/csv.
func plainWriter(f audit.Format) rowWriter {
	if f == audit.CSV {
		return func(w io.Writer) (func(*rawAuditRow) error, func() error) {
			cw := csv.NewWriter(w)
			var cell [13]string
			return func(r *rawAuditRow) error {
					cell = [13]string{strconv.FormatInt(r.id, 10), r.t.UTC().Format(time.RFC3339Nano), r.action, r.outcome,
						r.actorID, r.actorEmail, r.targetType, r.targetID, r.targetLabel, r.ip, r.userAgent, r.reason,
						string(r.details)}
					return cw.Write(cell[:])
				}, func() error {
					cw.Flush()
					return cw.Error()
				}
		}
	}
	return func(w io.Writer) (func(*rawAuditRow) error, func() error) {
		bw := bufio.NewWriterSize(w, 64<<10)
		enc := json.NewEncoder(bw)
		return func(r *rawAuditRow) error {
			return enc.Encode(plainEvent{ID: r.id, Time: r.t.UTC(), Action: r.action, Outcome: r.outcome,
				ActorID: r.actorID, Actor: r.actorEmail, TargetType: r.targetType, TargetID: r.targetID,
				Target: r.targetLabel, IP: r.ip, UserAgent: r.userAgent, Reason: r.reason, Details: r.details})
		}, bw.Flush
	}
}

// plainEvent is a row as the plain floor's encoding/json writes it.
type plainEvent struct {
	ID         int64           `json:"id"`
	Time       time.Time       `json:"time"`
	Action     string          `json:"action"`
	Outcome    string          `json:"outcome"`
	ActorID    string          `json:"actor_id,omitempty"`
	Actor      string          `json:"actor,omitempty"`
	TargetType string          `json:"target_type,omitempty"`
	TargetID   string          `json:"target_id,omitempty"`
	Target     string          `json:"target,omitempty"`
	IP         string          `json:"ip,omitempty"`
	UserAgent  string          `json:"user_agent,omitempty"`
	Reason     string          `json:"reason,omitempty"`
	Details    json.RawMessage `json:"details,omitempty"`
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
