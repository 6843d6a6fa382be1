package postgres

import (
	"context"
	"errors"
	"fmt"
	"hash/fnv"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// DB is one PostgreSQL schema holding every usher store, reached through a
// connection pool. It implements [auth.Store]; pass it as
// auth.Config.Store. It is safe for concurrent use and meant to live as long
// as the process: open it once, close it on shutdown. Any number of DBs, in
// this process or others, may share one schema: that is what it is for.
type DB struct {
	pool *pgxpool.Pool
	// schema is where the tables are, as PostgreSQL resolved it at Open.
	schema string
	// begin starts an Atomic transaction and takes its lock, in the
	// pipeline of the transaction's first statement (see atomic.go).
	begin []string
	// perCall is the query mode of a statement that must be planned with
	// its arguments at every call (CountByDay): the pool's own mode,
	// unless that caches statements, which PostgreSQL plans generically
	// after a few calls.
	perCall pgx.QueryExecMode

	root *scope
}

// Compile-time proof that DB and the transaction-bound store fill the
// contract.
var (
	_ auth.Store               = (*DB)(nil)
	_ auth.Store               = (*scope)(nil)
	_ auth.DeferredSyncStore   = (*DB)(nil)
	_ auth.DeferredSyncStore   = (*scope)(nil)
	_ auth.UserHashStore       = userStore{}
	_ auth.FailureBatchStore   = throttleStore{}
	_ auth.LateHitStore        = throttleStore{}
	_ auth.LateUserCreateStore = userStore{}
	// The optional batch of last uses (auth.Manager's background touch).
	_ auth.SessionBatchToucher = sessionStore{}
)

// Errors returned by [Open].
var (
	// ErrSchemaTooNew means the schema was migrated by a newer version of
	// usher than this one. It is refused rather than touched: an older
	// binary does not know what the newer schema means, and migrations
	// never run backwards. Upgrade the binary (or restore a backup).
	ErrSchemaTooNew = errors.New("postgres: database schema is newer than this version of usher")
	// ErrNoSchema means the connection's search_path names no schema that
	// exists, so there is nowhere to create the tables. Set
	// [Options.Schema], or create the schema the search_path names.
	ErrNoSchema = errors.New("postgres: search_path names no existing schema")
	// ErrDSNSetting means the DSN sets a connection setting usher depends
	// on to a value that undoes a guarantee: synchronous_commit off, with
	// which a commit returns before it is on the disk, so that a crash
	// could bring back a used TOTP code or a revoked session. usher's
	// connections commit synchronously (see [OpenWith]).
	ErrDSNSetting = errors.New("postgres: the DSN sets a connection setting usher depends on")
)

// Options adjusts [OpenWith]. The zero value is what [Open] uses.
type Options struct {
	// Schema is the PostgreSQL schema that holds usher's tables. When set,
	// Open creates it if it does not exist (the role needs the CREATE
	// privilege on the database for that) and makes it the search_path of
	// every pooled connection, overriding any search_path in the DSN. Use
	// it to keep usher's tables apart from the host's in one database, or to
	// give each test a schema of its own. Empty means the DSN's search_path,
	// by default the role's own schema or public.
	Schema string
}

// Open connects to the PostgreSQL database named by dsn and brings its
// schema up to date; it is [OpenWith] with zero [Options]. dsn is a URL
// ("postgres://user:pass@host:5432/db?sslmode=verify-full") or a key=value
// string, as pgx and libpq read them; pool_max_conns and the other pgxpool
// settings may be added to it.
//
// Open returns once it has connected, migrated and checked the schema, or
// with an error, within ctx's deadline: a server that cannot be reached
// fails Open rather than the first request. It fails with
// [ErrSchemaTooNew] for a schema written by a newer usher.
func Open(ctx context.Context, dsn string) (*DB, error) {
	return OpenWith(ctx, dsn, Options{})
}

// OpenWith is [Open] with options.
func OpenWith(ctx context.Context, dsn string, opts Options) (*DB, error) {
	return openWith(ctx, dsn, opts, nil)
}

// openWith is OpenWith; tracer, when set, traces every connection's
// statements (the tests count round trips with it).
func openWith(ctx context.Context, dsn string, opts Options, tracer pgx.QueryTracer) (*DB, error) {
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		// pgx masks a password in the DSN it quotes.
		return nil, fmt.Errorf("postgres: invalid DSN: %w", err)
	}
	for k, v := range cfg.ConnConfig.RuntimeParams {
		// PostgreSQL takes a parameter's name in any case.
		if strings.EqualFold(k, "synchronous_commit") && commitOff(v) {
			return nil, fmt.Errorf("%w: %s=%s", ErrDSNSetting, k, v)
		}
	}
	if opts.Schema != "" {
		if strings.ContainsRune(opts.Schema, 0) {
			return nil, fmt.Errorf("postgres: invalid schema name %q", opts.Schema)
		}
		cfg.ConnConfig.RuntimeParams["search_path"] = pgx.Identifier{opts.Schema}.Sanitize()
	}
	cfg.AfterConnect = afterConnect
	if tracer != nil {
		cfg.ConnConfig.Tracer = tracer
	}

	pool, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	// The pool connects lazily; make a bad address or password fail here,
	// within ctx. pgx's message may be only the context's error, so name
	// the server.
	if err := pool.Ping(ctx); err != nil {
		pool.Close()
		return nil, fmt.Errorf("postgres: connect to %s: %w",
			net.JoinHostPort(cfg.ConnConfig.Host, strconv.Itoa(int(cfg.ConnConfig.Port))), err)
	}
	db := &DB{pool: pool, perCall: perCallMode(cfg.ConnConfig.DefaultQueryExecMode)}
	db.root = &scope{db: db, q: guardedPool{pool}}
	if db.schema, err = migrate(ctx, pool, opts.Schema); err != nil {
		pool.Close()
		return nil, err
	}
	db.begin = []string{"BEGIN ISOLATION LEVEL READ COMMITTED",
		fmt.Sprintf("SELECT pg_advisory_xact_lock(%d, %d)", lockClassAtomic, lockKey(db.schema))}
	return db, nil
}

// perCallMode is DB.perCall for a pool whose default query mode is m. A
// host that chose a mode that prepares no named statement (exec, simple
// protocol: a connection pooler may need them) keeps it; either plans
// each call with its arguments.
func perCallMode(m pgx.QueryExecMode) pgx.QueryExecMode {
	switch m {
	case pgx.QueryExecModeCacheStatement, pgx.QueryExecModeCacheDescribe:
		return pgx.QueryExecModeExec
	}
	return m
}

// commitOff reports whether v, a value of synchronous_commit, is one of
// PostgreSQL's spellings of off.
func commitOff(v string) bool {
	switch strings.ToLower(strings.TrimSpace(v)) {
	case "off", "false", "no", "0":
		return true
	}
	return false
}

// durableCommitSQL turns synchronous_commit back on for the connection
// when the server's configuration, the database, the role or the DSN's
// options turned it off, and leaves any other level (local, remote_apply)
// as it is. Every Atomic commit must reach the disk before it returns, so
// that a crash cannot bring back what it recorded (NIST SP 800-63B
// 5.1.4.2: a time-based OTP is accepted once; 5.2.2: failed attempts stay
// counted; a revoked session stays revoked), and AtomicDeferSync's
// unsynced commit relies on the next one to flush it. The functions are
// named with their schema, so that a search_path (the DSN's) cannot put
// others of the same name before them.
const durableCommitSQL = `SELECT pg_catalog.set_config('synchronous_commit', 'on', false) WHERE pg_catalog.current_setting('synchronous_commit') = 'off'`

// afterConnect makes every timestamptz scan in UTC, as the stores promise,
// instead of pgx's default time.Local, and commits synchronous
// (durableCommitSQL).
func afterConnect(ctx context.Context, c *pgx.Conn) error {
	c.TypeMap().RegisterType(&pgtype.Type{
		Name: "timestamptz", OID: pgtype.TimestamptzOID,
		Codec: &pgtype.TimestamptzCodec{ScanLocation: time.UTC},
	})
	if _, err := c.Exec(ctx, durableCommitSQL); err != nil {
		// Open and wrap prefix "postgres: ...: ".
		return fmt.Errorf("setting synchronous_commit on: %w", err)
	}
	return nil
}

// Close closes the pool. Calls in flight finish first; calls after Close
// fail. It always returns nil; the error is there so that Close has the
// same signature as store/sqlite's.
func (db *DB) Close() error {
	db.pool.Close()
	return nil
}

// Schema returns the PostgreSQL schema holding usher's tables.
func (db *DB) Schema() string { return db.schema }

// Users returns the user store.
func (db *DB) Users() user.Store { return db.root.Users() }

// Groups returns the group store.
func (db *DB) Groups() group.Store { return db.root.Groups() }

// Sessions returns the session store.
func (db *DB) Sessions() auth.SessionStore { return db.root.Sessions() }

// Throttle returns the login-throttling store.
func (db *DB) Throttle() auth.ThrottleStore { return db.root.Throttle() }

// Audit returns the audit trail.
func (db *DB) Audit() auth.AuditStore { return db.root.Audit() }

// Atomic runs fn in one transaction that holds the schema's Atomic lock:
// see [auth.Store] and the package documentation. fn's error is returned
// unchanged after rollback. A panic in fn rolls back too and comes back as
// an [*auth.PanicError]. fn must use the Store it is given: calling db's own
// Atomic inside fn waits for the lock that fn's transaction holds.
func (db *DB) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return db.root.Atomic(ctx, fn)
}

// AtomicDeferSync is Atomic, but its commit does not wait for the WAL to
// reach the disk ([auth.DeferredSyncStore]): the transaction sets
// synchronous_commit off for itself alone (SET LOCAL), in the round trip
// that begins it. The next synchronous commit, every Atomic one, flushes
// the WAL up to its own record, and with it this commit, which precedes it.
func (db *DB) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	return db.root.AtomicDeferSync(ctx, fn)
}

// Advisory lock classes: the first key of pg_advisory_xact_lock(int, int).
// The second is lockKey(schema), so that usher schemas in one database do
// not wait for each other, and the class keeps usher's locks apart from
// any the host takes with the one-argument (bigint) form or other classes.
const (
	lockClassMigrate int32 = 0x75730001 // "us" 1: schema migrations
	lockClassAtomic  int32 = 0x75730002 // "us" 2: Atomic transactions
)

// lockKey is the schema's half of an advisory lock key. A collision
// between two schemas only makes them share a lock.
func lockKey(schema string) int32 {
	h := fnv.New32a()
	h.Write([]byte(schema))
	return int32(h.Sum32())
}

// querier is what *pgxpool.Pool and *txConn have in common: each method's
// SQL is written once and runs on either.
type querier interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
	Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
	QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	SendBatch(ctx context.Context, b *pgx.Batch) pgx.BatchResults
}

// scope is the store bound to where its statements run: the pool outside a
// transaction, the transaction inside Atomic, so fn reads its own writes.
type scope struct {
	db *DB
	tx *txConn // nil outside Atomic
	q  querier
}

// The per-kind stores are one-pointer values, so handing one out as an
// interface does not allocate.
type (
	userStore     struct{ s *scope }
	groupStore    struct{ s *scope }
	sessionStore  struct{ s *scope }
	throttleStore struct{ s *scope }
	auditStore    struct{ s *scope }
)

func (s *scope) Users() user.Store            { return userStore{s} }
func (s *scope) Groups() group.Store          { return groupStore{s} }
func (s *scope) Sessions() auth.SessionStore  { return sessionStore{s} }
func (s *scope) Throttle() auth.ThrottleStore { return throttleStore{s} }
func (s *scope) Audit() auth.AuditStore       { return auditStore{s} }
