package sqlite

import (
	"context"
	"database/sql"
	"sync/atomic"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/hotpaths"
)

// TestHotPathsPrepared: once each hot path has run, running it again asks
// either statement cache for nothing it does not hold, and sends no
// statement as text to the reader pool past them, so none of its
// statements is parsed again (issue 12: statements prepared once, in a
// bounded set of shapes). A statement built anew on each call, or run
// past the caches, would count on every call.
func TestHotPathsPrepared(t *testing.T) {
	db := newTestDB(t)
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: make([]byte, 32), BcryptCost: 4,
		InsecureLowBcryptCostForTests: true}, "op")
	if err != nil {
		t.Fatal(err)
	}
	paths := hotpaths.Of(m, op)
	// Writes outside a transaction go through the writer's cache, whose
	// misses count; reads outside one go to the reader pool, counted here
	// when sent as text.
	if _, ok := db.root.w.(poolStmts); !ok {
		t.Fatalf("the writer outside a transaction is a %T, not the cache's poolStmts", db.root.w)
	}
	var text atomic.Int64
	db.root.r = textCounter{db.root.r, &text}
	misses := func() int64 { return db.reads.misses.Load() + db.writes.misses.Load() + text.Load() }
	for range 2 { // every statement seen, and prepared
		for _, p := range paths {
			if err := p.Run(); err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
		}
	}
	for _, p := range paths {
		before := misses()
		for range 3 {
			if err := p.Run(); err != nil {
				t.Fatalf("%s: %v", p.Name, err)
			}
		}
		if got := misses() - before; got != 0 {
			t.Errorf("%s ran %d statements unprepared: missed by the caches, or sent past them", p.Name, got)
		}
	}
}

// textCounter counts the statements sent to q as text.
type textCounter struct {
	q querier
	n *atomic.Int64
}

func (c textCounter) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n.Add(1)
	return c.q.ExecContext(ctx, query, args...)
}

func (c textCounter) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.q.QueryContext(ctx, query, args...)
}

func (c textCounter) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.n.Add(1)
	return c.q.QueryRowContext(ctx, query, args...)
}
