// Package postgres stores everything usher keeps in one PostgreSQL schema:
// users, groups, sessions, throttling counters, the audit trail, second
// factors (TOTP credentials, recovery codes, passkeys and their pending
// ceremonies, login challenges) and single sign-on (OpenID providers,
// linked identities, pending login flows). [*DB] implements [auth.Store], every part
// of it, so it is what a host passes as auth.Config.Store. It uses
// github.com/jackc/pgx/v5 and its pgxpool.
//
// # PostgreSQL or SQLite
//
// Choose store/sqlite while the application runs as one process: it needs
// no server, its file is the whole database, and a session lookup is a
// local read (about 25 µs) where PostgreSQL is a network round trip
// (about 100 µs over loopback, more across machines).
//
// Choose PostgreSQL as soon as two or more instances of the application
// serve the same users, say behind a load balancer, or when the host
// already runs PostgreSQL and wants usher's tables backed up and
// replicated with its own. Point every instance at the same database and
// schema and each keeps usher's promises across all of them: a session
// revoked or a user disabled through one is refused by the others at the
// next request; a group's new permissions apply at the next Authenticate
// wherever it runs; login throttling counts the failures made through any
// instance; a TOTP code or a recovery code accepted by one is refused by
// the others, even at the same moment; exactly one first user signs up
// however many instances race.
// Nothing is cached in the process, so there is nothing to invalidate.
//
// # Use
//
//	db, err := postgres.Open(ctx, "postgres://app:secret@db.internal:5432/myapp?sslmode=verify-full")
//	if err != nil { ... }
//	defer db.Close()
//	m, err := auth.New(auth.Config{Store: db, ...})
//
// Open connects, migrates the schema (see Migrations) and returns. Keep one
// *DB for the life of the process. The DSN is anything pgx reads: a URL or
// key=value pairs, with pgxpool's settings such as pool_max_conns (the
// default is max(4, runtime.NumCPU()) connections per instance; mind the
// server's max_connections across all instances). Give Open a context with
// a deadline, or set connect_timeout in the DSN: a server that accepts the
// connection but never answers is otherwise waited for indefinitely.
//
// Every commit of usher's but AtomicDeferSync's reaches the disk before it
// returns, so that a crash cannot bring back a used TOTP code, a revoked
// session or an uncounted attempt. Open refuses a DSN whose
// synchronous_commit parameter is off ([ErrDSNSetting]), and each pooled
// connection, as it connects, turns it back on where the server's
// configuration, the database, the role or the DSN's options parameter
// (-c synchronous_commit=off) turned it off; another level, such as local
// or remote_apply, stays. RESET ALL or DISCARD ALL on a connection would
// bring back the value it connected with; usher runs neither.
//
// [OpenWith] takes [Options]. Options.Schema keeps usher's tables in a
// schema of their own, created if missing and made the search_path of every
// pooled connection; without it the tables go where the DSN's search_path
// resolves, by default the role's schema or public. Several usher
// deployments can share one database under different schemas; they do not
// wait for each other's locks.
//
// # Atomic and concurrency
//
// [DB.Atomic] runs fn in one READ COMMITTED transaction that first takes a
// transaction-scoped advisory lock, pg_advisory_xact_lock, keyed by the
// schema. Atomic calls on one schema therefore run one at a time across
// every pool and every instance, exactly as SQLite's single writer runs
// them, and the check-then-write sequences the Manager relies on (is this
// the first user? the last admin?) hold at commit. The BEGIN and the lock
// go to the server in the pipeline of fn's first statement, costing no
// round trip of their own, and the lock ends with the transaction,
// whatever happens to the connection. So does, for Atomic (not
// AtomicDeferSync), a read of the audit chain's head and the draw of the
// next event's ID, which the transaction's first audit event takes:
// an Atomic transaction that appends none leaves a gap in the IDs, as a
// rolled-back one always has.
//
// The alternative, SERIALIZABLE transactions retried on serialization
// failures (SQLSTATE 40001), would let unrelated Atomic calls overlap, but
// it aborts and re-runs fn whenever PostgreSQL's predicate locks see a
// possible conflict, which for "count the users, then insert one" is nearly
// every concurrent call, and each re-run repeats fn's reads. Atomic
// transactions are short (a handful of indexed statements and an audit
// insert) and a login spends far longer in bcrypt outside them, so one lock
// costs little and is simple to reason about. READ COMMITTED is what makes
// it correct: each statement after the lock sees what the previous holder
// committed, where a REPEATABLE READ or SERIALIZABLE snapshot would date
// from before the wait. Should PostgreSQL still abort a transaction, to
// break a deadlock with writes made outside Atomic (SQLSTATE 40P01), or
// with 40001, Atomic rolls back and runs fn again, up to five times, as
// [auth.Store] allows.
//
// Reads and writes outside Atomic run on the pool, one statement each, and
// need no lock. Every consume-once or counting operation is a single
// statement whose result decides: the throttle's AddFailure and Hit are
// INSERT ... ON CONFLICT DO UPDATE ... RETURNING, which PostgreSQL applies
// to the latest committed row, waiting for a concurrent writer of the same
// key, so concurrent callers on any instance each get their own count
// (a password login's AddFailures updates the rows it finds, whose
// UPDATE waits and re-reads the same way, and upserts the other keys);
// TOTP's UseStep is UPDATE ... WHERE last_step < step, a passkey's
// UpdateUse is UPDATE ... WHERE sign_count < count, and a recovery code
// or a challenge is consumed by a DELETE, whose rows affected tell the one
// winner from the callers that waited for its row lock and found nothing;
// a passkey ceremony and an SSO flow are taken the same way, by
// DELETE ... RETURNING. A provider's Update is UPDATE ... WHERE version =
// the version read, so of two admins saving one version the second gets
// [oidc.ErrStale].
//
// A store call that fails on a constraint inside Atomic (a taken email,
// say) runs under a savepoint, pipelined with it so that the common case
// costs no extra round trip, and leaves fn's transaction usable as a failed
// statement does in SQLite. fn must use the [auth.Store] it is given:
// calling the outer DB's Atomic from inside fn waits for the lock that fn's
// own transaction holds.
//
// A write inside Atomic whose result fn does not read, and which fails on
// no constraint (the last login, a throttle reset, the audit event's
// append), is held back and sent in one pipeline with fn's next
// statement, or with COMMIT. It returns nil at once; should it fail
// anyway (say, the last login of a user deleted meanwhile), the rest of the pipeline, COMMIT included, does not run,
// the transaction is rolled back, and its error (user.ErrNotFound and the
// like) comes back from the next statement and from Atomic, even if fn
// dropped the statement's. Nothing of the transaction is written. Two
// more go out the same way: a session inserted for the user the
// transaction has just read (a login's, whose foreign key then holds, and
// whose random ID and token hash cannot collide), and a password login's
// read of the account by email at the end of its admission
// ([auth.LateUserHashStore]), whose answer is taken after the commit.
// CreateUser's insert of the user goes out the same way
// ([auth.LateUserCreateStore]), without the savepoint: a taken email or
// a group that does not exist fails the whole transaction, and comes back
// from Atomic as user.ErrEmailTaken or group.ErrNotFound.
// The admission's hits on the client IP's budgets ([auth.LateHitStore])
// go out with the failure counts that follow them, in the pipeline that
// begins the transaction; a failure fails the transaction too. An IPv6
// client's /48 is hit by a conditional upsert that counts only while its
// /64's row, as the hit before it in the same transaction left it (and
// locked), is within its budget, so the /48 is spent exactly when key by
// key counting would spend it.
//
// A failure count is reset by setting it to 0, not by deleting its row
// (issue 12): a successful login resets the count its own admission has
// just raised, and a deleted row would come back at the next attempt with
// a new primary-key entry, where an update of the count is heap-only (no
// index covers it since migration 0018). Every statement reads a 0 as no
// failures, and Prune deletes such a row by the time of its last failure.
// Since migration 0019 the statement that counts a login's failures
// returns what each key held before from the row itself (prev_last), so
// it needs no read or lock of the rows of its own.
//
// # Errors
//
// Constraint violations come back as the stores' sentinels, by SQLSTATE
// (23505 unique, 23503 foreign key) and constraint name, wrapped so that
// [errors.Is] matches: a duplicate email is [user.ErrEmailTaken], a
// duplicate group name [group.ErrNameTaken], deleting a group with members
// [group.ErrInUse], a user whose group does not exist [group.ErrNotFound],
// unknown IDs [user.ErrNotFound], [group.ErrNotFound] or
// [auth.ErrSessionNotFound]; a taken provider ID is
// [oidc.ErrProviderExists], a linked identity [oidc.ErrIdentityTaken], and
// linking to an unknown user or through an unknown provider
// [user.ErrNotFound] or [oidc.ErrNotFound], told apart by the constraint's
// name. Other failures are pgx's errors, wrapped with the operation;
// errors.As finds the *pgconn.PgError.
//
// # Schema
//
// The logical schema is store/sqlite's, in PostgreSQL's types: timestamptz
// (microsecond precision, what auth.Manager keeps; read back in UTC; an
// optional time is NULL and reads back as the zero time), bytea for token
// hashes, sealed secrets and avatars, jsonb for audit details, text[] for a
// group's permissions. Every column a listing sorts or pages by is
// COLLATE "C", so orders and cursors are byte orders whatever the
// database's locale, as in SQLite. Case-insensitive names (group name
// uniqueness, the name order, search) go through a name_key column that Go
// lower-cases, as store/sqlite does, because lower() folds by collation and
// leaves "É" alone under "C".
//
// PostgreSQL's text holds neither NUL nor invalid UTF-8, which SQLite
// stores. The Manager validates names and emails, so this only meets input
// it does not validate. A lookup by such a key (a user ID from a URL, a
// session ID) matches nothing and says so without asking the server; an
// audit event that records such text stores U+FFFD in its place; throttle
// keys, which the Manager derives from what a client typed, are bytea and
// take any bytes. A write of text holding a NUL fails with [ErrTextNUL]
// before anything is sent, in every query mode (in pgx's simple protocol
// the NUL would end the protocol message and cost the connection).
//
// User listings page by keyset, never OFFSET: each order has an index
// ending in the user ID (the email order uses the unique email index), and
// a cursor holds the last row's (key, ID), so every page, however deep, is
// one index range scan. The audit trail pages the same way on (time, id),
// newest first. Event IDs come from an identity column and are never
// reused. Since migration 0018 the audit indexes by outcome, action and
// actor leave out what most events are (a success, a successful login, a
// user's event on their own account), so that a login writes three index
// entries fewer: a page of successes, or of successful logins, walks the
// index by time, and a page by actor merges the index by actor with the
// index by target for the actor's own account.
//
// The key_check table holds one row, the auth.KeyCheck by which auth.New
// recognises the secret key; session and challenge tokens are stored as
// HMAC-SHA-256 under a key derived from it (migration 0003 deleted the
// sessions and challenges stored under plain SHA-256 before). A passkey
// row keeps the key_id and mac that package auth makes (migration 0009),
// byte for byte.
//
// Single sign-on (migration 0010): an OpenID provider keeps its client
// secret sealed by package auth (key_id, sealed_secret, byte for byte), its
// scopes and allowed domains as JSON arrays and its group map as a JSON
// object, in text columns (jsonb would refuse "\u0000"); its default group
// and mapped groups are no foreign keys. A provider's text that PostgreSQL
// cannot hold is refused with [oidc.ErrInvalidProvider]. A linked identity
// is keyed by (issuer, subject) and goes with its user and its provider;
// a pending flow is kept under the keyed hash of its key, goes with the
// user it links (if any), and is taken by one DELETE ... RETURNING.
//
// # Migrations
//
// The schema lives in migrations/NNNN_name.sql, embedded in the binary and
// numbered from 0001 without gaps. Open applies the missing ones in one
// transaction (PostgreSQL's DDL is transactional: a failing step leaves the
// schema as it was), recording each in the schema_version table. The
// transaction holds an advisory lock keyed by the schema, so instances
// starting at once migrate it once: the others wait and find nothing left
// to do. A schema whose version is newer than this code knows is refused
// with [ErrSchemaTooNew] and never downgraded. The role needs CREATE on the
// database (or an existing schema) and on the schema for the first Open;
// later Opens of an up-to-date schema need neither. To change the schema,
// add the next file; never edit one that has been released. The schema
// holds no rows of its own: auth.New creates the built-in groups. (The one
// exception to the rule: 0001 once inserted those groups and no longer
// does. In a rolling deploy, a database made by this version and opened by
// an instance older than that change has no groups until a newer instance's
// auth.New runs; do not roll back across it.)
//
// Most migrations take milliseconds. Migration 0018 rebuilds three audit
// indexes as partial ones and drops the failure counts' index by time:
// on a million audit events it took 0.8 seconds, once (on a 2-vCPU VM, the
// index builds 0.2 to 0.3 seconds each), during which the audit log can
// be neither written nor read, so logins wait. An instance still running
// older code reads the same pages, but one by actor (and, once its plan
// is generic, one by outcome or action) walks the index by time.
// Migration 0019 adds a nullable column to the failure counts, which
// rewrites nothing; code older than it runs on the new schema (it reads a
// count reset to 0 as no failures too).
//
// # Connection poolers
//
// Atomic's locks are transaction-scoped, so PgBouncer in transaction mode
// keeps them correct. Two settings need care there: Options.Schema sets
// search_path as a startup parameter, which PgBouncer refuses unless told
// to ignore it (prefer setting the role's search_path with ALTER ROLE), and
// pgx caches prepared statements per connection, which needs PgBouncer
// 1.21 or later with max_prepared_statements, or
// default_query_exec_mode=exec (or simple_protocol) in the DSN; the
// conformance suite passes in both. In transaction mode, the server
// connection on which usher turned synchronous_commit back on as it
// connected is not the one its later transactions run on: there, do not
// turn synchronous_commit off in the server's configuration, for the
// database or for the role usher uses.
//
// # Tests
//
// The tests, the conformance suite (store/storetest) included, and the
// benchmarks find PostgreSQL through the USHER_TEST_POSTGRES variable, a
// DSN of a database where they may create and drop schemas:
//
//	USHER_TEST_POSTGRES=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./store/postgres
//
// Each test works in a fresh schema that it drops afterwards. Unset, the
// tests skip with that hint, except under CI=true, where they fail. The
// multi-instance tests run two auth.Managers, each over its own DB, on one
// schema.
package postgres
