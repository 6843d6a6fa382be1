package sqlite

import (
	"context"
	"database/sql"
	"sync"
)

// maxCachedStmts bounds each pool's statement cache. The statements cached
// are the hot reads (the session lookup, pages of users and of the audit
// trail), whose shapes are few: a listing's shape is its sort, direction,
// filters present and page size, and a host asks for a handful of them. Past the bound a statement
// runs unprepared, as every statement did before the cache, so an unusual
// mix of shapes costs parsing, never memory.
const maxCachedStmts = 128

// stmtCache holds statements prepared once on one pool, keyed by their
// SQL, for as long as the DB is open. database/sql prepares a *sql.Stmt
// again on each connection it runs on, once per connection, and the
// driver keeps the compiled statement between calls, so a cached
// statement is parsed and planned once per connection, not once per call.
// Entries are never evicted: a statement handed out is never closed
// under its caller, until Close.
type stmtCache struct {
	db     *sql.DB
	mu     sync.Mutex
	stmts  map[string]*sql.Stmt
	closed bool
}

func newStmtCache(db *sql.DB) *stmtCache {
	return &stmtCache{db: db, stmts: make(map[string]*sql.Stmt)}
}

// get returns the cached statement of query, preparing it on a miss; nil
// when the cache is full or closed, or the statement does not prepare
// (the caller then runs query as text, which reports the error).
func (c *stmtCache) get(ctx context.Context, query string) *sql.Stmt {
	c.mu.Lock()
	st, ok := c.stmts[query]
	full := c.closed || len(c.stmts) >= maxCachedStmts
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
	if other, ok := c.stmts[query]; ok || c.closed || len(c.stmts) >= maxCachedStmts {
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

// readStmt returns query prepared once on the reader pool, for reads
// outside a transaction. Inside one it returns nil (run query as text on
// the transaction): the writer pool has one connection, which the
// transaction holds, so a statement could not be prepared on the pool
// meanwhile; no hot read runs inside a transaction.
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
