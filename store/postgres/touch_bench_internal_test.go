package postgres

import (
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// staleRuns counts BenchmarkAuthenticateStaleFloor's runs: each one's
// clock is two minutes later than the last one's, whose uses were
// written, so that every session is stale again.
var staleRuns int

// BenchmarkAuthenticateStaleFloor is store/sqlite's (auth's)
// BenchmarkAuthenticateStale on PostgreSQL: Authenticate of sessions
// last used over a minute ago, each one's first call of the minute (a
// different one of the 200,000 each time), which queues the use for
// auth's background batch (auth/touch.go), beside two floors in the same
// loop, the three taking turns at going first: the bare round trip
// `SELECT 1` through the pool, which BenchmarkSessionLookup's
// authenticate-over-roundtrip divides by, and the lookup's own SQL
// (sessionLookupSQL) run raw for another session, its row received but
// not decoded. The batches are written by the Manager's flusher while the
// loop runs, as they would be in a server; its writes are in the times
// on the machine's two cores, not in either side. It reports
// usher/roundtrip, usher/lookup and each side's ns/op. The sessions'
// LastSeenAt go back to the fixture's afterwards.
func BenchmarkAuthenticateStaleFloor(b *testing.B) {
	db := bigDB(b)
	ctx := context.Background()
	staleRuns++
	now := bigNow.Add(time.Duration(staleRuns) * 2 * time.Minute)
	m, err := auth.New(auth.Config{Store: db, SecretKey: seedKey, BcryptCost: 4, InsecureLowBcryptCostForTests: true,
		Now: func() time.Time { return now }})
	if err != nil {
		b.Fatal(err)
	}
	defer restoreLastSeen(b, db)
	var t [3]time.Duration
	sides := [3]func(i int){
		func(i int) {
			k := (i * 7919) % bigSessions // distinct for the first 200,000
			token, _ := benchToken(k)
			if _, err := m.Authenticate(ctx, token); err != nil {
				b.Fatal(err)
			}
		},
		func(int) {
			var one int
			if err := db.pool.QueryRow(ctx, `SELECT 1`).Scan(&one); err != nil {
				b.Fatal(err)
			}
		},
		func(i int) {
			_, hash := benchToken((i*7919 + 1) % bigSessions)
			rows, err := db.pool.Query(ctx, sessionLookupSQL, hash)
			if err != nil {
				b.Fatal(err)
			}
			n := 0
			for rows.Next() {
				_ = rows.RawValues()
				n++
			}
			rows.Close()
			if err := rows.Err(); err != nil || n != 1 {
				b.Fatalf("the raw lookup: %d rows, %v", n, err)
			}
		},
	}
	i := 0
	for b.Loop() {
		if i == bigSessions {
			b.Fatal("every session has been used this minute: run fewer iterations")
		}
		for k := range 3 { // usher, round trip, lookup; then round trip, lookup, usher; ...
			side := (i + k) % 3
			start := time.Now()
			sides[side](i)
			t[side] += time.Since(start)
		}
		i++
	}
	b.StopTimer()
	if err := m.Close(); err != nil { // writes what waits
		b.Fatal(err)
	}
	b.ReportMetric(float64(t[0])/float64(t[1]), "usher/roundtrip")
	b.ReportMetric(float64(t[0])/float64(t[2]), "usher/lookup")
	for k, name := range []string{"usher", "roundtrip", "lookup"} {
		b.ReportMetric(float64(t[k].Nanoseconds())/float64(i), name+"-ns/op")
	}
}

// BenchmarkTouchBatchFloor writes the last use of 1,024 sessions of the
// 200,000, as auth's flusher does (auth.SessionBatchToucher, one UPDATE
// over unnest), beside the floor in the same loop, the two taking turns
// at going first: the UPDATE a plain application would write for the same
// rows, `UPDATE sessions SET last_seen_at = $1 WHERE id = ANY($2)`. Every
// write sets a later time than the one before, so both sides change every
// row each time. It reports usher/floor and each side's ns per batch and
// per session. The sessions' LastSeenAt go back to the fixture's
// afterwards.
func BenchmarkTouchBatchFloor(b *testing.B) {
	const batch = 1024 // auth's touchBatchMax
	db := bigDB(b)
	ctx := context.Background()
	defer restoreLastSeen(b, db)
	tb, ok := db.Sessions().(auth.SessionBatchToucher)
	if !ok {
		b.Fatal("the session store has no TouchBatch")
	}
	rng := rand.New(rand.NewPCG(5, 6))
	ids := make([]string, batch)
	for i, k := range rng.Perm(bigSessions)[:batch] {
		ids[i] = benchID("session", k)
	}
	touches := make([]auth.SessionTouch, batch)
	at := bigNow
	next := func() time.Time {
		at = at.Add(time.Millisecond)
		return at
	}
	tFloor, tUsher, n := loopBoth(b, func() {
		tag, err := db.pool.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = ANY($2)`, next(), ids)
		if err != nil || tag.RowsAffected() != batch {
			b.Fatalf("the raw UPDATE: %v rows, %v", tag.RowsAffected(), err)
		}
	}, func() {
		t := next()
		for i, id := range ids {
			touches[i] = auth.SessionTouch{ID: id, At: t}
		}
		if err := tb.TouchBatch(ctx, touches); err != nil {
			b.Fatal(err)
		}
	})
	reportFloor(b, tUsher, tFloor, n)
	b.ReportMetric(float64(tUsher.Nanoseconds())/float64(n)/batch, "usher-ns/session")
	b.ReportMetric(float64(tFloor.Nanoseconds())/float64(n)/batch, "floor-ns/session")
}

// restoreLastSeen sets every session of the fixture back to its LastSeenAt,
// bigNow, for the benchmarks that follow.
func restoreLastSeen(b *testing.B, db *DB) {
	if _, err := db.pool.Exec(context.Background(), `UPDATE sessions SET last_seen_at = $1 WHERE last_seen_at <> $1`, bigNow); err != nil {
		b.Fatal(err)
	}
}
