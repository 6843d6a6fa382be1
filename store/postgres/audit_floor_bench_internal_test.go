package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

// BenchmarkAuditPageFloor reads 50-event pages of 1,000,000 events (one in
// seven a failed login with details, as auth's BenchmarkAuditLogPage1M
// seeds SQLite) through the store's Query beside issue 12's floor in the
// same loop: the same 51 rows and columns read by one keyset query through
// the pool (which pgx prepares once per connection), scanned into plain
// values, the two taking turns at going first. Pages: the newest, one
// 500,000 events deep (through a cursor), the newest of one action and
// the newest of one actor.
// It reports usher/floor (target ≤ 1.30), each side's ns/op, and each
// side's allocations per page and their ratio (target ≤ 1.10).
func BenchmarkAuditPageFloor(b *testing.B) {
	const n = 1_000_000
	db := newTestDB(b)
	ctx := context.Background()
	seedAuditEvents(b, db, n)
	deepAt := t0.Add(500_000 * time.Second)
	const sel = `SELECT id, time, action, outcome, actor_id, actor_email, target_type, target_id,
		target_label, ip, user_agent, reason, details, repeats FROM audit_events `
	byActor := audit.Query{ActorID: "0123456789abcdef0123456789abcdef"}
	actorSQL, actorArgs := sentQuery(b, byActor)
	for _, c := range []struct {
		name  string
		q     audit.Query
		floor string
		args  []any
	}{
		{"newest", audit.Query{}, sel + `ORDER BY time DESC, id DESC LIMIT 51`, nil},
		{"deep", audit.Query{Cursor: deepCursorAt(b, db, deepAt)},
			sel + `WHERE (time, id) < ($1, $2) ORDER BY time DESC, id DESC LIMIT 51`, []any{deepAt, deepID(b, db, deepAt)}},
		// The floor repeats the condition of the partial audit_action
		// index, as the store does (migration 0018), or no query reaches it.
		{"action", audit.Query{Action: audit.LoginFailed}, sel + `WHERE action = $1 AND ` + rareAction +
			` ORDER BY time DESC, id DESC LIMIT 51`, []any{"login.failed"}},
		// No one keyset query serves a page by actor since migration 0018
		// (audit_actor leaves out events on the actor's own account): the
		// floor is the SQL Query sends, the merge of two index walks, run
		// raw. Every seeded event is on its actor's own account.
		{"actor", byActor, actorSQL, actorArgs},
	} {
		b.Run(c.name, func(b *testing.B) {
			floor := func() {
				if got := floorAuditPage(b, db, c.floor, c.args); got != 51 {
					b.Fatalf("floor read %d rows", got)
				}
			}
			usher := func() {
				if p, err := db.Audit().Query(ctx, c.q); err != nil || len(p.Events) != 50 {
					b.Fatalf("Query: %d events, %v", len(p.Events), err)
				}
			}
			usherAllocs, floorAllocs := testing.AllocsPerRun(20, usher), testing.AllocsPerRun(20, floor)
			tFloor, tUsher, n := loopBoth(b, floor, usher)
			reportFloor(b, tUsher, tFloor, n)
			b.ReportMetric(usherAllocs, "usher-allocs/op")
			b.ReportMetric(floorAllocs, "floor-allocs/op")
			b.ReportMetric(usherAllocs/floorAllocs, "allocs-usher/floor")
		})
	}
}

// sentQuery is the SQL and arguments Query sends for q.
func sentQuery(b *testing.B, q audit.Query) (string, []any) {
	q, err := q.Normalize()
	if err != nil {
		b.Fatal(err)
	}
	eq, err := dialect.Events(q)
	if err != nil || !eq.OK {
		b.Fatalf("the query of %+v: %v", q, err)
	}
	return eq.SQL, eq.Args
}

// deepID is the id of the event at time at.
func deepID(b *testing.B, db *DB, at time.Time) int64 {
	var id int64
	if err := db.pool.QueryRow(context.Background(), `SELECT id FROM audit_events WHERE time = $1`, at).Scan(&id); err != nil {
		b.Fatal(err)
	}
	return id
}

// deepCursorAt is the cursor after the event at time at, newest first:
// the next page starts with the event before it.
func deepCursorAt(b *testing.B, db *DB, at time.Time) string {
	// A cursor holds no filter: one made under Until serves the
	// unfiltered query too.
	p, err := db.Audit().Query(context.Background(), audit.Query{Until: at.Add(time.Microsecond), Limit: 1})
	if err != nil || p.Next == "" || !p.Events[0].Time.Equal(at) {
		b.Fatalf("the deep cursor: %+v, %v", p, err)
	}
	return p.Next
}

// floorAuditPage reads a page of audit rows into plain values and counts
// them.
func floorAuditPage(tb testing.TB, db *DB, query string, args []any) int {
	rows, err := db.pool.Query(context.Background(), query, args...)
	if err != nil {
		tb.Fatal(err)
	}
	defer rows.Close()
	var (
		id, repeats                                      int64
		t                                                time.Time
		action, outcome, actorID, actorEmail, targetType string
		targetID, targetLabel, ip, userAgent, reason     string
		details                                          []byte
		n                                                int
	)
	for rows.Next() {
		if err := rows.Scan(&id, &t, &action, &outcome, &actorID, &actorEmail, &targetType, &targetID,
			&targetLabel, &ip, &userAgent, &reason, &details, &repeats); err != nil {
			tb.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		tb.Fatal(err)
	}
	return n
}
