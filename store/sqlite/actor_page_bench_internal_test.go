package sqlite

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

// BenchmarkActorPageMerge weighs what migration 0021 costs the reads it
// saves the writes: a page of 50 events filtered by actor, first and
// 100,000 events deep, as Query reads it (the merge of the partial
// audit_actor and audit_target, paging.Dialect.ActorOthers) beside the
// single walk of a full index on (actor_id, time) that it replaced, made
// again here, the two interleaved in one loop. 200,000 events: u1 acts on
// itself in 9 of 10 of its events (a user logging in), admin in 1 of 10.
// It reports merge/walk.
func BenchmarkActorPageMerge(b *testing.B) {
	db := newTestDB(b)
	ctx := context.Background()
	if _, err := db.w.Exec(`CREATE INDEX audit_actor_full ON audit_events (actor_id, time)`); err != nil {
		b.Fatal(err)
	}
	if _, err := db.w.ExecContext(ctx, `WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < 199999)
		INSERT INTO audit_events (time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent, details)
		SELECT ? + i * 1000000000, 'login.succeeded', 'success',
			CASE i % 4 WHEN 0 THEN 'u1' WHEN 1 THEN 'admin' ELSE 'x' || (i % 1000) END, 'a@example.com', 'user',
			CASE WHEN i % 4 = 0 AND i % 40 <> 0 THEN 'u1' WHEN i % 4 = 1 AND i % 40 = 1 THEN 'admin' ELSE 'x' || i END,
			'203.0.113.7', 'bench/1.0', '{"method":"password"}' FROM c`, t0.UnixNano()); err != nil {
		b.Fatal(err)
	}
	for _, actor := range []string{"u1", "admin"} {
		for _, deep := range []bool{false, true} {
			q := audit.Query{ActorID: actor, Limit: 50}
			if deep {
				q.Until = t0.Add(100_000 * time.Second)
			}
			q, _ = q.Normalize()
			eqNew, err := dialect.Events(q)
			if err != nil {
				b.Fatal(err)
			}
			old := *dialect
			old.ActorOthers = ""
			eqOld, err := old.Events(q)
			if err != nil {
				b.Fatal(err)
			}
			oldSQL := strings.Replace(eqOld.SQL, "FROM audit_events", "FROM audit_events INDEXED BY audit_actor_full", 1)
			run := func(sql string, args []any) func() {
				return func() {
					rows, err := db.r.QueryContext(ctx, sql, args...)
					if err != nil {
						b.Fatal(err)
					}
					n := 0
					for rows.Next() {
						n++
					}
					rows.Close()
					if n != 51 {
						b.Fatalf("%d rows", n)
					}
				}
			}
			fNew, fOld := run(eqNew.SQL, eqNew.Args), run(oldSQL, eqOld.Args)
			b.Run(fmt.Sprintf("%s/deep=%v", actor, deep), func(b *testing.B) {
				var tn, to time.Duration
				i := 0
				for b.Loop() {
					for j := range 2 {
						t := time.Now()
						if (i+j)%2 == 0 {
							fNew()
							tn += time.Since(t)
						} else {
							fOld()
							to += time.Since(t)
						}
					}
					i++
				}
				b.ReportMetric(float64(tn)/float64(to), "merge/walk")
				b.ReportMetric(float64(tn.Nanoseconds())/float64(i), "merge-ns")
				b.ReportMetric(float64(to.Nanoseconds())/float64(i), "walk-ns")
			})
		}
	}
}
