package sqlite

import (
	"context"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/user"
)

// TestStmtCacheBounded: the reader's cache holds at most maxCachedStmts
// statements, the writer's more; a query past the bound still runs (as
// text), and after Close nothing is handed out.
func TestStmtCacheBounded(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for i := range maxCachedStmts + 10 { // the session lookup is one of the cached already
		rows, err := db.root.queryCached(ctx, `SELECT `+strconv.Itoa(i))
		if err != nil {
			t.Fatal(err)
		}
		var n int
		for rows.Next() {
			err = rows.Scan(&n)
		}
		if rows.Close(); err != nil || n != i {
			t.Fatalf("query %d: got %d, %v", i, n, err)
		}
	}
	if got := len(db.reads.stmts); got != maxCachedStmts {
		t.Fatalf("cache holds %d statements, want %d", got, maxCachedStmts)
	}
	if db.reads.get(ctx, `SELECT 1`) == nil || db.reads.get(ctx, sessionLookupSQL) == nil {
		t.Fatal("a cached statement was not handed out")
	}
	if db.reads.get(ctx, `SELECT 'past the bound'`) != nil {
		t.Fatal("a statement past the bound was cached")
	}
	// The writer's statements are fixed texts: its cache holds more, and
	// is bounded all the same.
	for i := range maxWriterStmts + 10 {
		st := db.writes.get(ctx, `SELECT `+strconv.Itoa(i))
		if st == nil && len(db.writes.stmts) < maxWriterStmts {
			t.Fatalf("the writer's cache refused statement %d with %d of %d held", i, len(db.writes.stmts), maxWriterStmts)
		}
	}
	if got := len(db.writes.stmts); got != maxWriterStmts {
		t.Fatalf("the writer's cache holds %d statements, want %d", got, maxWriterStmts)
	}
	if err := db.reads.Close(); err != nil {
		t.Fatal(err)
	}
	if db.reads.get(ctx, `SELECT 1`) != nil || len(db.reads.stmts) != 0 {
		t.Fatal("a closed cache handed out a statement")
	}
}

// TestStmtCacheConcurrentPages: pages of every size and sort read
// concurrently through the cache agree with each other; run with -race.
func TestStmtCacheConcurrentPages(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for i := range 30 {
		if err := db.Users().Create(ctx, &user.User{ID: user.ID("u" + strconv.Itoa(i)), Email: "u" + strconv.Itoa(i) + "@example.com",
			Name: "U", GroupID: "users", CreatedAt: t0, UpdatedAt: t0}, ""); err != nil {
			t.Fatal(err)
		}
	}
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			for limit := 1; limit <= 30; limit++ {
				q := user.Query{Sort: allSorts[(g+limit)%len(allSorts)], Limit: limit}
				p, err := db.Users().List(ctx, q)
				if err != nil || len(p.Users) != limit || (p.Next == "") != (limit == 30) {
					t.Errorf("limit %d: %d users, next %q, %v", limit, len(p.Users), p.Next, err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// TestStmtCacheAuditPages: pages of the audit trail go through the cache,
// one statement per shape: walking every page of one query, first and
// deep alike, adds one statement, whose SQL holds the written LIMIT.
func TestStmtCacheAuditPages(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for i := range 25 {
		if err := db.Audit().Append(ctx, &audit.Event{Time: t0.Add(time.Duration(i) * time.Second),
			Action: audit.LoginFailed, Outcome: audit.Failure, Details: map[string]any{"n": i}}); err != nil {
			t.Fatal(err)
		}
	}
	before := len(db.reads.stmts)
	q := audit.Query{Limit: 4}
	pages := 0
	for {
		p, err := db.Audit().Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		pages++
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if pages != 7 {
		t.Fatalf("walked %d pages, want 7", pages)
	}
	// The first page has no keyset condition: two shapes in all.
	if got := len(db.reads.stmts) - before; got != 2 {
		t.Fatalf("walking the pages cached %d statements, want 2", got)
	}
	for query := range db.reads.stmts {
		if strings.Contains(query, "audit_events") && !strings.HasSuffix(query, " LIMIT 5") {
			t.Errorf("cached audit page without its written LIMIT: %q", query)
		}
	}
}

// TestAuditPageAllocations: a page of events with details allocates
// within 1.10 of the raw read of the same rows, prepared once and scanned
// into plain values (issue 12's floor): no per-row map of encoding/json,
// no formatted ID, no statement prepared per call.
func TestAuditPageAllocations(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for i := range 60 {
		if err := db.Audit().Append(ctx, &audit.Event{Time: t0.Add(time.Duration(i) * time.Second),
			Action: audit.LoginFailed, Outcome: audit.Failure, Actor: audit.Actor{ID: "0123456789abcdef", Email: "a@example.com"},
			Target: audit.Target{Type: audit.TargetUser, ID: "0123456789abcdef", Label: "a@example.com"},
			IP:     "198.51.100.7", UserAgent: "Mozilla/5.0", Reason: "wrong password",
			Details: map[string]any{audit.DetailConsecutiveFailures: i%5 + 1, audit.DetailMethod: "totp"}}); err != nil {
			t.Fatal(err)
		}
	}
	st, err := db.reads.db.PrepareContext(ctx, `SELECT `+eventFloorColumns+` FROM audit_events
		ORDER BY time DESC, id DESC LIMIT 51`)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	floor := testing.AllocsPerRun(50, func() { readPlainEvents(t, st, nil) })
	usher := testing.AllocsPerRun(50, func() {
		if p, err := db.Audit().Query(ctx, audit.Query{}); err != nil || len(p.Events) != 50 {
			t.Fatalf("page of %d, %v", len(p.Events), err)
		}
	})
	t.Logf("a page of 50: %v allocations, the raw read %v", usher, floor)
	if usher > 1.10*floor {
		t.Fatalf("a page of 50 allocates %v times, %.2f× the raw read's %v; want at most 1.10×", usher, usher/floor, floor)
	}
}
