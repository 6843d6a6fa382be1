// Package sqlite stores everything usher keeps in one SQLite database file:
// users, groups, sessions, throttling counters, the audit trail, second
// factors (TOTP, recovery codes, passkeys and their pending ceremonies) and
// single sign-on (OpenID providers, linked identities, pending login
// flows).
// [*DB] implements [auth.Store], so it is what a host passes as
// auth.Config.Store. It uses modernc.org/sqlite, a pure-Go SQLite: no cgo,
// no system library.
//
// # Use
//
//	db, err := sqlite.Open(ctx, "file:/var/lib/myapp/users.db")
//	if err != nil { ... }
//	defer db.Close()
//	m, err := auth.New(auth.Config{Store: db, ...})
//
// Open creates the file if needed and migrates it (see Migrations). Keep one
// *DB for the life of the process. A DSN is a path or a "file:" URI; usher
// adds the connection settings it depends on, and Open refuses a DSN that
// sets one of them ([ErrDSNSetting]): _txlock, the busy_timeout,
// journal_mode, foreign_keys, synchronous, mmap_size, wal_autocheckpoint
// and query_only pragmas, and the driver's shorthand for them (_sync,
// _fk, _journal, _busy_timeout, ...), a _pragma of more than one
// statement or with a comment, locking_mode and cache=shared (readers
// would wait for the writer, or be locked out), the pragmas that loosen
// the checks usher's writes rely on (defer_foreign_keys,
// ignore_check_constraints, writable_schema, with any value), and a DSN
// under which the writer does not end up in WAL mode with those settings
// (SQLite's nolock=1, a VFS without shared memory).
// Other pragmas (cache_size, say) are the host's to set. In-memory
// databases are refused ([ErrInMemory]); tests use a file under
// t.TempDir(), which is nearly as fast.
//
// A file Open creates gets mode 0600, owner only (its WAL and shared-memory
// files take the same mode): it holds password hashes and sealed secrets.
// An existing file keeps its mode; check it. The writer runs with
// synchronous=FULL, so every commit is synced before it returns and what it
// records (a used TOTP code, a revoked session, a throttle counter) survives
// a power loss; BENCHMARKS.md measures the cost (about one fsync a commit).
// The one exception is [DB.AtomicDeferSync], which a login uses to count an
// attempt before its bcrypt: that commit is synced by the attempt's own
// outcome, which follows it in the log and is synced before the caller
// learns anything. The writer copies the log into the file every 10,000
// pages rather than SQLite's default 1,000, so the -wal file beside the
// database grows to about 41 MB, and more after a large transaction, and
// keeps its largest size until Close (BENCHMARKS.md, issue 12, says what
// that saves each write).
//
// # Connections and concurrency
//
// A DB holds two database/sql pools on the one file, and a few reader
// connections of the session lookup's own, in WAL mode so that readers
// never wait for the writer:
//
//   - the writer: a single connection. Every write and every [DB.Atomic]
//     transaction runs on it, so within a process writers queue in Go
//     rather than contend in SQLite. Transactions start with BEGIN
//     IMMEDIATE, taking the write lock up front.
//   - the readers: max(4, runtime.NumCPU()) connections opened with
//     query_only, serving every read made outside a transaction. The hot
//     reads (the session lookup behind auth.Manager.Authenticate, pages of
//     users and of the audit trail) are prepared once on this pool and
//     kept until [DB.Close], at most 128 distinct statements; each
//     connection compiles a statement once, not once per call.
//   - the session lookup's: up to four more reader connections, opened as
//     the readers are but through the driver itself, each with the lookup
//     prepared once. Outside a transaction the lookup runs on one of them,
//     past database/sql's work per query, and on the readers' pool when
//     all are busy.
//
// Against other processes (or a second DB on the same file), busy_timeout
// makes a writer wait up to ten seconds for the lock instead of failing,
// and BEGIN IMMEDIATE means a transaction never has to upgrade a read lock
// to a write lock, which is the one case where SQLite reports SQLITE_BUSY
// without waiting. Callers therefore never see SQLITE_BUSY in normal use.
//
// Inside Atomic, reads go through the transaction too, so fn sees its own
// writes and nothing else changes under it. fn must use the [auth.Store] it
// is given: calling the outer DB from inside fn waits for the writer that fn
// itself holds.
//
// # Errors
//
// Constraint violations come back as the stores' sentinels, wrapped so that
// [errors.Is] matches: a duplicate email is [user.ErrEmailTaken], a
// duplicate group name [group.ErrNameTaken], deleting a group with members
// [group.ErrInUse], a user whose group does not exist [group.ErrNotFound],
// unknown IDs [user.ErrNotFound], [group.ErrNotFound] or
// [auth.ErrSessionNotFound]; a taken provider ID is
// [oidc.ErrProviderExists], a linked identity [oidc.ErrIdentityTaken].
// Match them with errors.Is, never by text.
//
// # Schema
//
// Times are INTEGER unix nanoseconds, read back as UTC; an optional time
// (users.last_login_at, totp_credentials.confirmed_at) is NULL when unset
// and reads back as the zero time. Names are compared case-insensitively
// through a name_key column holding the name lower-cased by Go, because
// SQLite folds ASCII only. Group permissions are one space-separated string.
// Deleting a user cascades to its sessions, avatar and second factors.
// The key_check table holds one row, the auth.KeyCheck by which auth.New
// recognises the secret key; session and challenge tokens are stored as
// HMAC-SHA-256 under a key derived from it (migration 0003 deleted the
// sessions and challenges stored under plain SHA-256 before). A pending
// passkey ceremony is kept under the keyed hash of its key, with a NULL
// user_id while a passwordless login has no user, and taken by one
// DELETE ... RETURNING. A passkey row keeps the key_id and mac that package
// auth makes (migration 0009), byte for byte. Single sign-on (migration
// 0010): an OpenID provider keeps its sealed client secret byte for byte,
// its scopes and allowed domains as JSON arrays and its group map as a
// JSON object, in TEXT (its default and mapped groups are no foreign
// keys); a linked identity is keyed by (issuer, subject) and goes with its
// user and its provider; a pending flow is kept under the keyed hash of
// its key, goes with the user it links (if any), and is taken by one
// DELETE ... RETURNING.
//
// User listings page by keyset, never OFFSET: each order has an index ending
// in the user ID, and a cursor holds the last row's (key, ID), so every
// page, however deep, is one index seek. The audit trail pages the same way
// on (time, id), newest first.
//
// # Migrations
//
// The schema lives in migrations/NNNN_name.sql, embedded in the binary and
// numbered from 0001 without gaps. Open applies the missing ones, in order,
// in one transaction, recording each in the schema_version table; a
// database already up to date is left alone. A database whose version is
// newer than this code knows is refused with [ErrSchemaTooNew] and never
// downgraded. To change the schema, add the next file; never edit one that
// has been released. The schema holds no rows of its own: auth.New creates
// the built-in groups. (The one exception to the rule: 0001 once inserted
// those groups and no longer does. A database made by this version and then
// opened by a binary older than that change has no groups; run the newer
// binary's auth.New once, or do not roll back across it.)
//
// Most migrations take milliseconds. Migration 0017 rebuilds the audit
// log's table (to drop AUTOINCREMENT, which wrote one page more per
// audited change): Open takes about 16 seconds more per million audit
// events kept, once, on a loaded 2-vCPU machine. Migration 0018 makes the
// audit index by outcome hold the rare outcomes only, rebuilding it: 0.3
// seconds per million events, on the same machine. Migration 0019 drops
// the unique index on the chain's seq (one page fewer per audited change;
// a seq written twice by hand is found by Manager.VerifyAuditLog), at
// once. Migration 0020 makes the audit index by action leave successful
// logins out, rebuilding it as 0018 did the outcome's: a page of
// successful logins alone walks the log by time, as a page of successes
// does. Migration 0021 makes the audit index by actor leave out a user's
// events on their own account (the index by target holds them) and events
// with no actor, rebuilding it too: the two rebuilds took 2.4 seconds per
// million events, on the same machine under load. Migration 0022 drops the
// failure counts' index by time, at once; Manager.PruneSessions then
// reads the counts' table whole.
//
// # Backups
//
// Copying the file while the process runs can tear it. Use SQLite's own
// "VACUUM INTO 'backup.db'" (or the sqlite3 command-line ".backup"), which
// produce a consistent copy while readers and writers carry on.
package sqlite
