package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"unicode"

	_ "modernc.org/sqlite" // registers the "sqlite" database/sql driver

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// DB is one SQLite database holding every usher store. It implements
// [auth.Store]; pass it as auth.Config.Store. It is safe for concurrent use
// and meant to live as long as the process: open it once, close it on
// shutdown.
type DB struct {
	w *sql.DB // one connection: every write and every Atomic transaction
	r *sql.DB // read-only connections for reads outside a transaction

	// reads holds the hot reads prepared once on the reader pool
	// (stmts.go): the session lookup of auth.Manager.Authenticate, pages
	// of users.
	reads *stmtCache
	// lookup is the session lookup, reads' first entry, held apart so
	// that Authenticate neither locks the cache nor hashes the SQL text.
	lookup *sql.Stmt
	// lookups run that lookup past database/sql (lookupconns.go).
	lookups lookupConns
	// perms are the permission lists the session lookup read (groups.go).
	perms permListCache
	// writes holds the statements run on the writer, in and out of
	// transactions, prepared once on its one connection (stmts.go).
	writes *stmtCache
	// chain is the audit chain's head as this DB last appended to it
	// (chainguess.go), nil for unknown.
	chain atomic.Pointer[chainGuess]
	// headReads counts the reads of the chain's head the guess did not
	// save (TestChainGuess).
	headReads atomic.Int64

	root *scope
}

// Compile-time proof that DB and the transaction-bound store fill the
// contract.
var (
	_ auth.Store             = (*DB)(nil)
	_ auth.Store             = (*scope)(nil)
	_ auth.DeferredSyncStore = (*DB)(nil)
	_ auth.DeferredSyncStore = (*scope)(nil)
	_ auth.UserHashStore     = userStore{}
	_ auth.FailureBatchStore = throttleStore{}
	// The optional batch of last uses (auth.Manager's background touch).
	_ auth.SessionBatchToucher = sessionStore{}
)

// Errors returned by [Open].
var (
	// ErrSchemaTooNew means the database was migrated by a newer version of
	// usher than this one. It is refused rather than touched: an older
	// binary does not know what the newer schema means, and migrations
	// never run backwards. Upgrade the binary (or restore a backup).
	ErrSchemaTooNew = errors.New("sqlite: database schema is newer than this version of usher")
	// ErrInMemory means the DSN names an in-memory database. DB keeps two
	// connection pools on one file (see the package documentation), and
	// every SQLite connection to ":memory:" is a separate, empty database.
	// Use a file, for tests one under t.TempDir().
	ErrInMemory = errors.New("sqlite: in-memory databases are not supported; use a file")
	// ErrDSNSetting means the DSN sets a connection setting that usher sets
	// itself (see the package documentation): _txlock, a pragma such as
	// synchronous or foreign_keys, or the driver's shorthand for one
	// (_sync, _fk, _journal, ...). The driver applies the host's setting
	// after usher's, or before it in an order of its own, so either one
	// would be lost without a word; a synchronous=NORMAL that won would let
	// a power loss undo a used TOTP code or a revoked session. A _pragma
	// holding more than one statement or a comment is refused too, as are
	// the pragmas that loosen a check usher's writes rely on
	// (defer_foreign_keys, ignore_check_constraints, writable_schema), and
	// a DSN under which the writer does not end up in WAL mode with
	// usher's synchronous and foreign_keys (SQLite's nolock=1, say).
	ErrDSNSetting = errors.New("sqlite: the DSN sets a connection setting usher sets itself")
)

// busyTimeoutMS is how long a connection waits for another's write lock
// before giving up with SQLITE_BUSY. Writes are short, so reaching it means
// something is badly wrong rather than merely busy.
const busyTimeoutMS = 10000

// Open opens (creating if needed) the SQLite database named by dsn and
// brings its schema up to date. dsn is a file path ("users.db") or a "file:"
// URI ("file:users.db?cache=private"); usher appends the parameters it relies
// on (busy timeout, WAL, foreign keys, synchronous=FULL, the memory map,
// the checkpoint at walCheckpointPages, BEGIN IMMEDIATE),
// so the DSN should not set _txlock or those pragmas itself. A new file is
// created with mode 0600 (owner only); its WAL and shared-memory files
// follow it.
//
// Open fails with [ErrDSNSetting] for a DSN that sets one of those, with
// [ErrInMemory] for an in-memory database and with
// [ErrSchemaTooNew] for a database written by a newer usher.
func Open(ctx context.Context, dsn string) (*DB, error) {
	wdsn, rdsn, err := dsns(dsn)
	if err != nil {
		return nil, err
	}
	if err := createOwnerOnly(dsn); err != nil {
		return nil, err
	}
	db := &DB{}
	db.root = &scope{db: db}

	// The writer first: it creates the file, switches it to WAL and
	// migrates, so readers only ever see a complete schema.
	if db.w, err = sql.Open("sqlite", wdsn); err != nil {
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	// One connection serializes this process's writers in Go, where
	// waiting is cheap; busy_timeout serializes them against other
	// processes.
	db.w.SetMaxOpenConns(1)
	db.w.SetMaxIdleConns(1)
	// Before migrating: nothing is written under settings Open refuses.
	if err := checkWriter(ctx, db.w); err != nil {
		db.w.Close()
		return nil, err
	}
	if err := migrate(ctx, db.w); err != nil {
		db.w.Close()
		return nil, err
	}

	if db.r, err = sql.Open("sqlite", rdsn); err != nil {
		db.w.Close()
		return nil, fmt.Errorf("sqlite: open: %w", err)
	}
	n := max(4, runtime.NumCPU())
	db.r.SetMaxOpenConns(n)
	db.r.SetMaxIdleConns(n)
	// The session lookup is prepared now, so that it is cached however
	// many listing shapes come first, and a broken schema fails Open.
	lookup, err := db.r.PrepareContext(ctx, sessionLookupSQL)
	if err != nil {
		db.r.Close()
		db.w.Close()
		return nil, fmt.Errorf("sqlite: prepare session lookup: %w", err)
	}
	db.reads = newStmtCache(db.r, maxCachedStmts)
	db.reads.stmts[sessionLookupSQL] = lookup
	db.lookup = lookup
	db.lookups.drv, db.lookups.dsn = db.r.Driver(), rdsn
	db.writes = newStmtCache(db.w, maxWriterStmts)
	db.root.r, db.root.w = db.r, poolStmts{db.w, db.writes}
	return db, nil
}

// Close closes the prepared statements and both connection pools. Calls in
// flight finish first; calls after Close fail.
func (db *DB) Close() error {
	return errors.Join(db.lookups.close(), db.reads.Close(), db.writes.Close(), db.r.Close(), db.w.Close())
}

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

// Atomic runs fn in one BEGIN IMMEDIATE transaction: see [auth.Store]. The
// write lock is taken at BEGIN, so two Atomic calls never interleave, in this
// process or another one on the same file, and fn never has to be retried.
// fn's error is returned unchanged after rollback. A panic in fn rolls back
// too and comes back as an [*auth.PanicError]. fn must use the Store it is
// given: calling db's own methods inside fn waits for the connection fn
// holds.
func (db *DB) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return db.root.Atomic(ctx, fn)
}

// AtomicDeferSync is Atomic, but its commit does not wait for the disk
// ([auth.DeferredSyncStore]): the transaction runs with synchronous=NORMAL
// on the writer's connection, which does not sync the write-ahead log at
// commit; the next commit with synchronous=FULL, every Atomic one, syncs
// the log and with it this commit, which precedes it there.
func (db *DB) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	return db.root.AtomicDeferSync(ctx, fn)
}

// mmapSize is how much of the database file each connection reads through
// a memory map instead of one read system call per page. A session lookup
// touches a handful of pages scattered over a large file; through the map,
// pages the OS already caches cost no system call, which took a third off
// Lookup. It only reserves address space (SQLite falls back to reads where
// a map fails), so it stays modest where address space is scarce.
func mmapSize() int64 {
	if strconv.IntSize == 32 {
		return 64 << 20
	}
	return 1 << 30
}

// walCheckpointPages is how many pages the write-ahead log holds before
// the commit that passes it copies them into the database file (SQLite's
// automatic checkpoint; its default is 1,000). Every write of usher
// rewrites a few pages that stay hot (the audit chain's head, the right
// edge of the audit log and its time index, the throttle counts), and a
// checkpoint copies each page once however often the log holds it, with
// one sync of the file: ten times the default makes each write's share of
// the checkpoint smaller, most of all on a large file, where the other
// pages lie scattered (BENCHMARKS.md, issue 12: at 100,000 users and a
// million events, CreateUser went from 1.70-1.84x its raw INSERT to
// 1.61-1.65x, and from 1.51-1.52x to 1.36-1.43x on a small file, the
// raw INSERT run with the same setting). The price: the log grows to
// about 41 MB on disk (10,000 frames of a 4 KiB page and its header),
// which the writes after a complete checkpoint reuse from its start; a
// larger transaction, or a long read that holds the checkpoint back,
// grows it further, and the file keeps its largest size until Close
// (journal_size_limit is not set). The commit that checkpoints waits for
// up to 10,000 pages to be copied,
// 18-30 ms once in about 650 writes on that file, against 5-6 ms once
// in 65 by default: a rarer, longer pause, beside the 50-250 ms a login
// spends in bcrypt.
const walCheckpointPages = 10_000

// synchronous is the writer's synchronous pragma; the durability benchmark
// compares it with NORMAL.
var synchronous = "FULL"

// createOwnerOnly creates the database file named by dsn, if it does not
// exist yet, readable and writable by the owner only (0600): it holds
// password hashes and sealed secrets (OWASP ASVS 5.0 V13.3.1). SQLite
// gives the WAL and shared-memory files the database file's mode. An
// existing file keeps its mode.
func createOwnerOnly(dsn string) error {
	path, rawQuery, _ := strings.Cut(dsn, "?")
	path = strings.TrimPrefix(path, "file:")
	if q, err := url.ParseQuery(rawQuery); err != nil || (q.Has("mode") && q.Get("mode") != "rwc") {
		return nil // read-only or read-write modes never create; dsns reports a bad query
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if errors.Is(err, fs.ErrExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("sqlite: creating %s: %w", path, err)
	}
	return f.Close()
}

// dsns derives the writer's and the readers' DSN from the caller's.
func dsns(dsn string) (writer, reader string, err error) {
	if strings.TrimSpace(dsn) == "" {
		// SQLite would open a private temporary database per connection.
		return "", "", fmt.Errorf("%w (empty DSN)", ErrInMemory)
	}
	path, rawQuery, hasQuery := strings.Cut(dsn, "?")
	q, err := url.ParseQuery(rawQuery)
	if err != nil {
		return "", "", fmt.Errorf("sqlite: DSN query: %w", err)
	}
	name := strings.TrimPrefix(path, "file:")
	if name == ":memory:" || strings.EqualFold(q.Get("mode"), "memory") || q.Get("vfs") == "memdb" {
		return "", "", ErrInMemory
	}
	if err := ownSettings(q); err != nil {
		return "", "", err
	}
	sep := "?"
	if hasQuery {
		sep = "&"
	}
	// modernc.org/sqlite runs each _pragma on every new connection, with
	// busy_timeout first so the others already wait for locks.
	common := dsn + sep + fmt.Sprintf("_pragma=busy_timeout(%d)&_pragma=foreign_keys(1)&_pragma=mmap_size(%d)",
		busyTimeoutMS, mmapSize())
	// synchronous=FULL syncs the WAL at every commit, so what a commit
	// records (a burned TOTP step, a revoked session, a throttle counter)
	// survives power loss; NORMAL could lose the last commits, and with
	// them a used code would work again. BENCHMARKS.md measures the cost.
	//
	// wal_autocheckpoint(walCheckpointPages): see walCheckpointPages.
	writer = common + "&_pragma=journal_mode(WAL)&_pragma=synchronous(" + synchronous + ")" +
		fmt.Sprintf("&_pragma=wal_autocheckpoint(%d)", walCheckpointPages) + "&_txlock=immediate"
	// query_only turns a write sent to a reader by mistake into an error
	// instead of a second writer competing for the lock.
	reader = common + "&_pragma=query_only(1)"
	return writer, reader, nil
}

// ownedKeys are the DSN keys of modernc.org/sqlite that set what usher
// sets: _txlock, and the shorthand of the pragmas in ownedPragmas.
var ownedKeys = []string{
	"_txlock", "_query_only",
	"_busy_timeout", "_timeout",
	"_foreign_keys", "_fk",
	"_journal_mode", "_journal",
	"_synchronous", "_sync",
}

// ownedPragmas are the pragmas dsns sets on every connection, and
// locking_mode, whose EXCLUSIVE would keep the reader pool out of the file
// (Open would fail only after the busy timeout, as "database is locked").
//
// The rest loosen a check usher's writes rely on, though usher does not
// set them, and are refused with any value: defer_foreign_keys moves a foreign key's failure from the
// statement, where the store maps it (an unknown group is
// group.ErrNotFound), to the commit, where it is an unmapped error (until
// the connection's first commit turns it off, so which transaction it
// hits is chance); ignore_check_constraints lets a second row into the single-row tables
// that hold the audit chain's head and the key check; writable_schema
// lets a statement rewrite the schema itself.
var ownedPragmas = []string{
	"busy_timeout", "foreign_keys", "mmap_size", "journal_mode",
	"synchronous", "wal_autocheckpoint", "query_only", "locking_mode",
	"defer_foreign_keys", "ignore_check_constraints", "writable_schema",
}

// ownSettings refuses a DSN that sets what dsns sets. modernc.org/sqlite
// runs the _pragma values sorted by name and the shorthand keys after
// them, so a host's synchronous(NORMAL) or _sync=NORMAL would override
// usher's FULL, and its foreign_keys(0) would turn off the cascades that
// delete a user's sessions (ASVS 5.0 V7.4.2, sessions end with the account).
func ownSettings(q url.Values) error {
	for _, k := range ownedKeys {
		if q.Has(k) {
			return fmt.Errorf("%w: %s", ErrDSNSetting, k)
		}
	}
	// A shared cache takes table locks between the writer and the readers
	// of this process: a read would wait for the write transaction, where
	// WAL lets it read the last commit at once.
	for _, v := range q["cache"] {
		if strings.EqualFold(v, "shared") {
			return fmt.Errorf("%w: cache=%s", ErrDSNSetting, v)
		}
	}
	for _, v := range q["_pragma"] {
		// The driver runs every statement of a _pragma, and SQLite reads
		// a comment as a space: "temp_store(2);pragma synchronous=0" and
		// "synchronous/**/(0)" would pass the name check below.
		if strings.ContainsRune(v, ';') || strings.Contains(v, "--") || strings.Contains(v, "/*") {
			return fmt.Errorf("%w: _pragma=%s (one pragma a _pragma, without comments)", ErrDSNSetting, v)
		}
		// A pragma is "name(value)", "name=value" or "name", in any case,
		// possibly with a schema ("main.synchronous") and quotes or
		// spaces around either.
		name, _, _ := strings.Cut(v, "(")
		name, _, _ = strings.Cut(name, "=")
		name = strings.Map(func(r rune) rune {
			if strings.ContainsRune(" \t\r\n\f\v\"`[]'", r) {
				return -1
			}
			return unicode.ToLower(r)
		}, name)
		if i := strings.LastIndexByte(name, '.'); i >= 0 {
			name = name[i+1:]
		}
		for _, p := range ownedPragmas {
			if name == p {
				return fmt.Errorf("%w: _pragma=%s", ErrDSNSetting, v)
			}
		}
	}
	return nil
}

// checkWriter reads back the settings the writer's guarantees rest on.
// ownSettings refuses the DSNs known to change them; this catches the
// rest, such as SQLite's nolock=1 or a VFS without shared memory, under
// which journal_mode(WAL) leaves the journal at DELETE without an error.
func checkWriter(ctx context.Context, w *sql.DB) error {
	var mode string
	var sync, fk int
	if err := w.QueryRowContext(ctx, "PRAGMA journal_mode").Scan(&mode); err != nil {
		return fmt.Errorf("sqlite: reading journal_mode: %w", err)
	}
	if err := w.QueryRowContext(ctx, "PRAGMA synchronous").Scan(&sync); err != nil {
		return fmt.Errorf("sqlite: reading synchronous: %w", err)
	}
	if err := w.QueryRowContext(ctx, "PRAGMA foreign_keys").Scan(&fk); err != nil {
		return fmt.Errorf("sqlite: reading foreign_keys: %w", err)
	}
	wantSync := map[string]int{"OFF": 0, "NORMAL": 1, "FULL": 2, "EXTRA": 3}[synchronous]
	if !strings.EqualFold(mode, "wal") || sync != wantSync || fk != 1 {
		return fmt.Errorf("%w: the writer runs with journal_mode=%s, synchronous=%d, foreign_keys=%d; want wal, %d, 1",
			ErrDSNSetting, mode, sync, fk, wantSync)
	}
	return nil
}

// querier is what *sql.DB and *sql.Tx have in common: each method's SQL is
// written once and runs on either.
type querier interface {
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scope is the store bound to where its statements run: outside a
// transaction, reads go to the reader pool and writes to the writer; inside
// Atomic, both go to the transaction, so fn reads its own writes.
type scope struct {
	db   *DB
	tx   *sql.Tx  // nil outside Atomic
	txs  *txState // nil outside Atomic
	r, w querier
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
