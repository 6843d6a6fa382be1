package sqlite

import (
	"context"
	"database/sql"
	"sync"
	"sync/atomic"
)

// maxCachedStmts bounds the reader pool's statement cache. The statements
// cached are the hot reads (pages of users and of the audit trail, the
// session lookup's fallback), whose shapes are few: a listing's shape is
// its sort, direction, filters present and page size, and a host asks
// for a handful of them. Past the bound a statement runs unprepared, as
// every statement did before the cache, so an unusual mix of shapes costs
// parsing, never memory.
const maxCachedStmts = 128

// maxWriterStmts bounds the writer's cache. Its statements are the
// stores' writes and the reads inside transactions, texts fixed in the
// code (AddFailures' grows with its keys, of which the Manager passes at
// most two), so the bound only keeps a mistake from growing without end.
// The store contract (storetest.Run) prepares 101 of them: at
// maxCachedStmts, a host that used every feature over a long run could
// have found the last few it used unprepared, first come, first served.
const maxWriterStmts = 256

// stmtCache holds statements prepared once on one pool, keyed by their
// SQL, for as long as the DB is open. database/sql prepares a *sql.Stmt
// again on each connection it runs on, once per connection, and the
// driver keeps the compiled statement between calls, so a cached
// statement is parsed and planned once per connection, not once per call.
// Entries are never evicted: a statement handed out is never closed
// under its caller, until Close.
type stmtCache struct {
	db     *sql.DB
	max    int // statements it holds at most
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
	// wanted are statements a transaction ran as text because they were
	// not cached yet: prepared once the transaction has let go of the
	// writer's one connection (prepareWanted).
	wanted map[string]bool
	// misses counts the statements asked for that were not cached: run
	// as text, or prepared then and there. Once a store's hot paths have
	// each run, it stays still (TestHotPathsPrepared).
	misses atomic.Int64
}

func newStmtCache(db *sql.DB, bound int) *stmtCache {
	return &stmtCache{db: db, max: bound, stmts: make(map[string]*sql.Stmt)}
}

// get returns the cached statement of query, preparing it on a miss; nil
// when the cache is full or closed, or the statement does not prepare
// (the caller then runs query as text, which reports the error).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st := c.stmts[query]
	c.mu.Unlock()
	if st != nil {
		return st
	}
	c.misses.Add(1)
	return c.prepare(ctx, query)
}

// prepare is get without counting a miss: the cached statement of query,
// prepared and cached if it is not yet, unless the cache is full or
// closed; nil then, or when the statement does not prepare.
func (c *stmtCache) prepare(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.stmts[query]
	full := c.closed || len(c.stmts) >= c.max
	c.mu.Unlock()
	if ok || full {
		return st
	}
	// Prepared outside the lock: preparing may wait for a connection.
	st, err := c.db.PrepareContext(ctx, query)
	if err != nil {
		return nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if other, ok := c.stmts[query]; ok || c.closed || len(c.stmts) >= c.max {
		st.Close()
		return other // nil unless another call cached query first
	}
	c.stmts[query] = st
	return st
}

// Close closes every cached statement; get returns nil afterwards.
func (c *stmtCache) Close() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.closed = true
	var first error
	for q, st := range c.stmts {
		if err := st.Close(); err != nil && first == nil {
			first = err
		}
		delete(c.stmts, q)
	}
	return first
}

// cached returns the cached statement of query, or nil, preparing
// nothing: inside a transaction on the writer pool, whose one connection
// the transaction holds, preparing on the pool would wait for it for
// ever. A miss is noted, and prepareWanted prepares it later.
func (c *stmtCache) cached(query string) *sql.Stmt {
	c.mu.Lock()
	defer c.mu.Unlock()
	st, ok := c.stmts[query]
	if !ok {
		c.misses.Add(1)
	}
	if !ok && !c.closed && len(c.stmts)+len(c.wanted) < c.max {
		if c.wanted == nil {
			c.wanted = make(map[string]bool)
		}
		c.wanted[query] = true
	}
	return st
}

// prepareWanted prepares the statements transactions missed (cached),
// once no transaction holds the connection.
func (c *stmtCache) prepareWanted(ctx context.Context) {
	c.mu.Lock()
	wanted := c.wanted
	c.wanted = nil
	c.mu.Unlock()
	for q := range wanted {
		c.prepare(ctx, q)
	}
}

// txStmts is a transaction's querier on the writer: each statement runs
// through the writer's cache, prepared once on its connection and bound to
// the transaction (Tx.StmtContext reuses the connection's prepared
// statement), or as text the first time, while it is not cached yet.
// Every store method's SQL reaches it unchanged, so every write path gains
// without a change of its own.
type txStmts struct {
	tx    *sql.Tx
	cache *stmtCache
	state *txState
}

// stmt is query prepared for the transaction, nil while it is not cached.
// Every statement goes through it, so it drops what was read ahead.
func (q txStmts) stmt(ctx context.Context, query string) *sql.Stmt {
	q.state.ahead = nil
	if st := q.cache.cached(query); st != nil {
		return q.tx.StmtContext(ctx, st)
	}
	return nil
}

func (q txStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.tx.ExecContext(ctx, query, args...)
}

func (q txStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.tx.QueryContext(ctx, query, args...)
}

func (q txStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.stmt(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.tx.QueryRowContext(ctx, query, args...)
}

// poolStmts is the writer pool's querier outside a transaction: each
// statement prepared once through the cache (get), or as text past its
// bound.
type poolStmts struct {
	db    *sql.DB
	cache *stmtCache
}

func (q poolStmts) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	if st := q.cache.get(ctx, query); st != nil {
		return st.ExecContext(ctx, args...)
	}
	return q.db.ExecContext(ctx, query, args...)
}

func (q poolStmts) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := q.cache.get(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return q.db.QueryContext(ctx, query, args...)
}

func (q poolStmts) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	if st := q.cache.get(ctx, query); st != nil {
		return st.QueryRowContext(ctx, args...)
	}
	return q.db.QueryRowContext(ctx, query, args...)
}

// readStmt returns query prepared once on the reader pool, for reads
// outside a transaction. Inside one it returns nil: the statement runs on
// the transaction's querier (txStmts), which has the writer's cache.
func (s *scope) readStmt(ctx context.Context, query string) *sql.Stmt {
	if s.tx != nil {
		return nil
	}
	return s.db.reads.get(ctx, query)
}

// queryCached is s.r.QueryContext through readStmt.
func (s *scope) queryCached(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	if st := s.readStmt(ctx, query); st != nil {
		return st.QueryContext(ctx, args...)
	}
	return s.r.QueryContext(ctx, query, args...)
}
