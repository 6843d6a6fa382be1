package sqlite

import (
	"context"
	"database/sql"
	"database/sql/driver"
	"errors"
	"io"
	"sync"
)

// Authenticate's session lookup on connections of its own, past
// database/sql.
//
// database/sql wraps every query in work of its own: a connection taken
// from the pool and given back, each under the pool's lock; the
// statement found again for that connection; the arguments converted; a
// Rows and a Row allocated and closed; the value converted again by Scan.
// On the lookup every request makes that was about a dozen allocations
// and one to two microseconds of a 25–35 µs call (BENCHMARKS.md, issue
// 12). lookupConns keeps a few reader connections opened through the
// driver itself, each with the lookup prepared once, and runs the lookup
// on them through the database/sql/driver interfaces directly.
//
// They are reader connections like the pool's (the same DSN: query_only,
// the same memory map), outside any transaction, so a lookup reads what is
// committed when it starts, as through the pool (invariant 3: nothing is
// kept between lookups but the compiled statement). A connection serves
// one call at a time: taken from free, given back after. Free is a stack,
// so that a lone caller keeps reading through one connection, whose page
// cache and memory map stay warm. When every connection is busy (more
// lookups at once than lookupConnsMax), or none can be opened, the lookup
// runs on the pool's statement as before. A connection that failed a
// lookup (anything but no row) is closed, never reused.
type lookupConns struct {
	drv driver.Driver
	dsn string

	mu     sync.Mutex
	free   []*lookupConn
	open   int  // connections open: free or in use
	failed bool // opening one failed: the pool's statement serves from now on (see get)
	closed bool
}

// lookupConnsMax bounds the connections kept. Past it lookups wait for
// nothing: they run on the pool's statement.
const lookupConnsMax = 4

// lookupConn is one connection of lookupConns with the lookup prepared on
// it, and room for the one argument and the one value, reused.
type lookupConn struct {
	conn  driver.Conn
	stmt  driver.Stmt
	query driver.StmtQueryContext
	args  [1]driver.NamedValue
	dest  [1]driver.Value
}

// get returns a free connection, opening one when none is free and fewer
// than lookupConnsMax are open; nil when the caller should use the pool.
func (p *lookupConns) get(ctx context.Context) *lookupConn {
	p.mu.Lock()
	if n := len(p.free); n > 0 {
		c := p.free[n-1]
		p.free[n-1] = nil
		p.free = p.free[:n-1]
		p.mu.Unlock()
		return c
	}
	if p.closed || p.failed || p.drv == nil || p.open >= lookupConnsMax {
		p.mu.Unlock()
		return nil
	}
	p.open++
	p.mu.Unlock()
	c, err := p.dial(ctx)
	if err != nil {
		p.mu.Lock()
		p.open--
		// A caller's context that ended while preparing says nothing of
		// the connections; anything else (the file, the driver) would
		// fail every later dial too, so none is tried again.
		if ctx.Err() == nil {
			p.failed = true
		}
		p.mu.Unlock()
		return nil
	}
	return c
}

// dial opens a connection and prepares the lookup on it.
func (p *lookupConns) dial(ctx context.Context) (*lookupConn, error) {
	conn, err := p.drv.Open(p.dsn)
	if err != nil {
		return nil, err
	}
	c := &lookupConn{conn: conn}
	prep, ok := conn.(driver.ConnPrepareContext)
	if !ok {
		c.close()
		return nil, errors.New("sqlite: the driver cannot prepare with a context")
	}
	st, err := prep.PrepareContext(ctx, sessionLookupSQL)
	if err != nil {
		c.close() // st may be a typed nil: not kept
		return nil, err
	}
	c.stmt = st
	if c.query, ok = st.(driver.StmtQueryContext); !ok {
		c.close()
		return nil, errors.New("sqlite: the driver cannot query with a context")
	}
	return c, nil
}

// put gives c back after a lookup; a connection that failed one, or one
// given back after Close, is closed.
func (p *lookupConns) put(c *lookupConn, failed bool) {
	p.mu.Lock()
	if !failed && !p.closed {
		p.free = append(p.free, c)
		p.mu.Unlock()
		return
	}
	p.open--
	p.mu.Unlock()
	c.close()
}

// close closes the free connections; those in use close when given back.
func (p *lookupConns) close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	var errs []error
	for _, c := range p.free {
		errs = append(errs, c.close())
		p.open--
	}
	p.free = nil
	return errors.Join(errs...)
}

func (c *lookupConn) close() error {
	var err error
	if c.stmt != nil {
		err = c.stmt.Close()
	}
	return errors.Join(err, c.conn.Close())
}

// lookup runs the session lookup for tokenHash on c, with what
// database/sql would have given: the packed row, sql.ErrNoRows when no
// session has that hash, or the driver's error.
func (c *lookupConn) lookup(ctx context.Context, tokenHash []byte, packed *sql.NullString) error {
	c.args[0] = driver.NamedValue{Ordinal: 1, Value: tokenHash}
	rows, err := c.query.QueryContext(ctx, c.args[:])
	c.args[0].Value = nil // not kept alive by a connection at rest
	if err != nil {
		return err
	}
	err = rows.Next(c.dest[:])
	v := c.dest[0]
	c.dest[0] = nil
	if cerr := rows.Close(); err == nil {
		err = cerr
	}
	if errors.Is(err, io.EOF) {
		return sql.ErrNoRows
	}
	if err != nil {
		return err
	}
	// The value is the driver's own: a string the caller may keep (the
	// session's strings are substrings of it), or NULL, which the caller
	// meets by the plain query.
	switch v := v.(type) {
	case string:
		*packed = sql.NullString{String: v, Valid: true}
	case []byte:
		*packed = sql.NullString{String: string(v), Valid: true}
	default:
		*packed = sql.NullString{}
	}
	return nil
}

// lookupPacked reads the packed lookup row of tokenHash outside a
// transaction: on a connection of its own where one is free, else on the
// pool's statement.
func (db *DB) lookupPacked(ctx context.Context, tokenHash []byte, packed *sql.NullString) error {
	if c := db.lookups.get(ctx); c != nil {
		err := c.lookup(ctx, tokenHash, packed)
		db.lookups.put(c, err != nil && !errors.Is(err, sql.ErrNoRows))
		return err
	}
	return db.lookup.QueryRowContext(ctx, tokenHash).Scan(packed)
}
