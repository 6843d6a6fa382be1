package auth

import (
	"context"
	"fmt"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// Store is everything the [Manager] keeps, and the one value a host passes
// as Config.Store: one accessor per kind of record, and [Store.Atomic] to
// change several in one transaction. store/sqlite and store/postgres
// implement it; store/storetest is the conformance suite any other
// implementation must pass. A new kind of record is one more accessor
// here, with its contract in the package that defines its store.
//
// What every part must honour, besides what its own documentation says:
//
//   - Concurrency: the Store and every part it returns are safe for
//     concurrent use by many goroutines, and by several Managers in this
//     process or others sharing one database. An accessor is called once
//     per operation, so it must be cheap (store/sqlite and store/postgres
//     return a one-pointer value that does not allocate).
//   - Time: a time given to a store comes back as the same instant in UTC
//     ([time.Time.Location] is [time.UTC]), to at least microsecond
//     precision; the Manager passes times truncated to microseconds, so they
//     compare equal with [time.Time.Equal]. A store may keep more
//     (store/sqlite keeps nanoseconds, store/postgres microseconds); a finer
//     time may come back rounded to the microsecond. An optional time
//     (user.User.LastLoginAt, totp.Credential.ConfirmedAt) that is zero
//     comes back zero. Comparisons with a bound ("expired before now",
//     "older than before") are strict: a row exactly at the bound stays.
//   - Not found: each method says what an unknown ID or key returns; it
//     is always an error that [errors.Is] matches with the part's sentinel
//     ([user.ErrNotFound], [group.ErrNotFound], [ErrSessionNotFound],
//     [ErrChallengeNotFound], [totp.ErrNotEnrolled], [passkey.ErrNotFound],
//     [passkey.ErrCeremonyNotFound], [oidc.ErrNotFound],
//     [oidc.ErrFlowNotFound]) unless the method says otherwise,
//     never a nil record with a nil error. A key the store cannot even
//     hold (invalid UTF-8 or NUL for PostgreSQL text) is simply not
//     found. Bad input never panics.
//   - Deletes: deleting a user ([user.Store.Delete]) removes, in the same
//     statement or transaction, everything that hangs off it: sessions,
//     avatar, TOTP credential, recovery codes, passkeys and the WebAuthn
//     user handle, pending challenges and pending passkey ceremonies,
//     linked SSO identities and pending SSO flows that link to it
//     (LinkUser). Deleting a provider ([oidc.ProviderStore.Delete])
//     removes the identities linked through it the same way.
//     Audit events stay (they name the actor and target as text).
//     Deleting a group that still has members fails with [group.ErrInUse]
//     and removes nothing; a provider naming the group (DefaultGroup,
//     GroupMap) does not hold it: the Manager checks those.
//   - Built-in groups: a store need not create any group, and its schema
//     should not. [New] creates [group.AdminID] and [group.UsersID]
//     through Groups(), inside Atomic and audited, when they are missing,
//     and leaves them alone when they exist.
//   - Cursors: user.Query.Cursor and audit.Query.Cursor are opaque to the
//     Manager, which passes them through unread. Only the store that made a
//     cursor reads it; any other string fails with [user.ErrInvalidCursor]
//     or [audit.ErrInvalidCursor].
type Store interface {
	// Users keeps accounts, their password hashes and avatars.
	Users() user.Store
	// Groups keeps groups and the permissions they carry.
	Groups() group.Store
	// Sessions keeps login sessions under the hash of their token.
	Sessions() SessionStore
	// Throttle keeps the login-throttling counters every instance shares.
	Throttle() ThrottleStore
	// Audit appends events to the audit trail and queries it.
	Audit() AuditStore
	// TOTP keeps TOTP secrets and recovery codes.
	TOTP() totp.Store
	// Passkeys keeps passkeys (WebAuthn credentials) and user handles.
	Passkeys() passkey.Store
	// Ceremonies keeps pending WebAuthn ceremonies (passkey registration and login).
	Ceremonies() passkey.CeremonyStore
	// Providers keeps the OpenID providers people may log in with.
	Providers() oidc.ProviderStore
	// Identities keeps the identities at providers linked to local users.
	Identities() oidc.IdentityStore
	// Flows keeps pending logins at providers, between begin and callback.
	Flows() oidc.FlowStore
	// Challenges keeps the pending second step of two-step logins.
	Challenges() ChallengeStore
	// Setup keeps the hashes of the setup tokens that guard the first
	// sign-up.
	Setup() SetupStore
	// KeyCheck keeps the value by which [New] recognises the secret key
	// the database was made with.
	KeyCheck() KeyCheckStore
	// Atomic runs fn in one transaction over every store: fn's changes and
	// the audit events it appends commit together or not at all. Writes
	// inside fn are serialized against every other Atomic call, so a check
	// made inside fn (say, "is this the last admin?") still holds at commit.
	// fn's error is returned unchanged. fn must not keep its Store after it
	// returns, and must have no effect outside it: a store may run fn again
	// after a serialization failure. Atomic inside fn runs in the same
	// transaction. A panic in fn rolls the transaction back and Atomic
	// returns it as a [*PanicError]; it does not panic again, so that no
	// connection is left inside a transaction. Reads made outside Atomic
	// see committed state only and may be stale by the time a later Atomic
	// runs: a check that must still hold at commit belongs inside fn.
	Atomic(ctx context.Context, fn func(Store) error) error
}

// UserHashStore is an optional interface of the [user.Store] a [Store]
// hands out (Users), detected at run time: an account and its stored
// password hash in one read, as Get (or GetByEmail) and then PasswordHash
// would return them, and [user.ErrNotFound] for no account. A password
// login reads the account through it before bcrypt and again, inside its
// outcome's transaction, after; without it, through the two methods.
type UserHashStore interface {
	GetWithHash(ctx context.Context, id user.ID) (*user.User, string, error)
	GetByEmailWithHash(ctx context.Context, email string) (*user.User, string, error)
}

// LateUserHashStore is an optional interface of the [user.Store] a
// [Store] hands out (Users), detected at run time: GetByEmailWithHash
// sent with the transaction's next statement or its commit, rather than
// on its own (issue 12: on a server, each is a round trip). The Manager
// reads the account through it as the last step of a password login's
// admission, inside AtomicDeferSync (or Atomic).
type LateUserHashStore interface {
	// GetByEmailWithHashLate queues GetByEmailWithHash(ctx, email) in
	// the transaction and returns the function that gives its answer
	// once the transaction has ended. If the read fails, the transaction
	// fails with its error. Outside a transaction it reads at once.
	GetByEmailWithHashLate(ctx context.Context, email string) func() (*user.User, string, error)
}

// LateUserCreateStore is an optional interface of the [user.Store] a
// [Store] hands out (Users), detected at run time: Create sent with the
// transaction's next statement or its commit, rather than on its own
// (issue 12: on a server, each is a round trip). Where Create inside a
// transaction returns a taken email and leaves the transaction usable,
// CreateLate's failure (the errors Create returns: user.ErrEmailTaken,
// group.ErrNotFound) may come only with the next statement or the commit,
// and then fails the transaction: it comes back from that statement and
// from Atomic, and nothing of the transaction is written. A failure the
// store can tell at once (a group ID it could never store) CreateLate
// returns at once, as Create does. The Manager uses it in CreateUser,
// where a failed insert ends the change anyway.
type LateUserCreateStore interface {
	// CreateLate queues Create(ctx, u, passwordHash) in the transaction
	// and sets u.Version to 1, as Create does. Outside a transaction it
	// creates at once.
	CreateLate(ctx context.Context, u *user.User, passwordHash string) error
}

// FailureBatchStore is an optional interface of a [ThrottleStore],
// detected at run time, that counts an attempt's failures on several keys
// in one step: a password login's network back-off and the account's day
// (issue 12: on a server, each step is a round trip). The Manager uses it
// only inside Atomic or AtomicDeferSync; without it, it reads and counts
// key by key.
type FailureBatchStore interface {
	ThrottleStore
	// AddFailures counts one failure at at on each of keys, as AddFailure
	// does, and returns for each what Failures returned just before
	// (Prev, PrevLast) and what AddFailure returned (Got). A key's row
	// stays the transaction's until it ends: nothing else changes it in
	// between.
	AddFailures(ctx context.Context, keys []string, at time.Time) ([]FailureCount, error)
	// RestoreFailures puts keys back as AddFailures found them, in the
	// same transaction: c[i] is what it returned for keys[i]. A key that
	// held no failure is forgotten.
	RestoreFailures(ctx context.Context, keys []string, c []FailureCount) error
}

// LateHitStore is an optional interface of a [ThrottleStore], detected
// at run time: a login's hits on its client's budgets sent with the
// transaction's next statement rather than on their own (issue 12: on a
// server, each is a round trip). The Manager uses it inside a password
// login's admission, when the throttle is a [FailureBatchStore] too: the
// hits go out with the failure counts, and when a hit refuses the
// attempt, the counts are put back in the same transaction
// (RestoreFailures), so the attempt leaves what counting the hits first
// leaves.
type LateHitStore interface {
	ThrottleStore
	// HitLate queues Hit(ctx, key, window) in the transaction and, when
	// next is not empty, Hit(ctx, next, window) after it, made only if
	// key's count as its hit left it is at most budget (an IPv6 client's
	// /64 and then its /48). It returns the function that gives their
	// answers, nextN 0 when next's hit was not made. The hits go out with
	// the transaction's next statement; the function, called before
	// that, sends them. If a hit fails, the transaction fails with its
	// error. Outside a transaction it hits at once, next under the same
	// condition.
	HitLate(ctx context.Context, key, next string, budget int, window time.Time) func() (n, nextN int, err error)
}

// FailureCount is one key's part of [FailureBatchStore.AddFailures].
type FailureCount struct {
	Prev     int       // failures before, 0 for none
	PrevLast time.Time // the last of them, the zero time for none
	Got      int       // failures after, this one included
}

// DeferredSyncStore is an optional interface of a [Store], detected at
// run time: a store that has it lets a transaction commit without waiting
// for stable storage.
//
// AtomicDeferSync runs fn as Atomic does, with the same guarantees but
// one: its commit may return before it is durable. It is visible to every
// later transaction at once, as any commit is, and it becomes durable with
// the next commit that is synced, which every Atomic commit is, as that
// commit follows it in the store's log (SQLite's write-ahead log,
// PostgreSQL's WAL). Until then a power loss may undo it.
//
// The Manager uses it for the one write of a login attempt made before
// the password is checked (the attempt counted against the throttling
// budgets): the attempt's outcome commits through Atomic before the
// caller learns it, so no reservation of an attempt that was answered can
// be lost, and the reservation costs no sync of its own. Without it the
// Manager uses Atomic.
type DeferredSyncStore interface {
	Store
	AtomicDeferSync(ctx context.Context, fn func(Store) error) error
}

// PanicError is what [Store.Atomic] returns when fn panicked, after rolling
// the transaction back. It unwraps to Value when that is an error, so
// [errors.Is] sees through the panic.
type PanicError struct {
	Value any    // what fn panicked with
	Stack []byte // where, as runtime/debug.Stack formats it
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("auth: panic in Atomic: %v", e.Value)
}

// Unwrap returns Value when it is an error.
func (e *PanicError) Unwrap() error {
	err, _ := e.Value.(error)
	return err
}

// AuditStore appends events and queries them: the audit trail that the
// Manager writes inside Atomic, with the change each event records, as a
// tamper-evident chain. See [audit.Sink], [audit.Log] and [audit.Chain]
// for the contract; the Manager appends through audit.Chain only. Two
// optional interfaces add to it: [audit.Counter] ([Manager.LoginActivity]
// needs it) and [AuditExporter] ([Manager.ExportAuditLog] reads through
// it where the store has it).
type AuditStore interface {
	audit.Sink
	audit.Log
	audit.Chain
}

// SessionStore keeps sessions. Tokens are never stored: only a keyed hash
// of each (tokenHash, 32 bytes), which is unique. A method given an unknown session
// returns [ErrSessionNotFound] unless its comment says otherwise. Sessions
// go with their user ([user.Store.Delete]). Safe for concurrent use.
type SessionStore interface {
	// Create inserts s (Token is ignored) under tokenHash;
	// [user.ErrNotFound] for an unknown user. Every other field of s comes
	// back from Lookup, Get and List as it was given, IdleTimeout and
	// Remembered included.
	Create(ctx context.Context, s *Session, tokenHash []byte) error
	// Lookup returns the session stored under tokenHash together with its
	// user and the user's group, read in one consistent query. It does not
	// check expiry.
	Lookup(ctx context.Context, tokenHash []byte) (*Session, *user.User, *group.Group, error)
	// Get returns one session by ID.
	Get(ctx context.Context, id string) (*Session, error)
	// Touch sets LastSeenAt to at if the stored value is before
	// notAfter; otherwise, and for an unknown session, it does nothing.
	Touch(ctx context.Context, id string, at, notAfter time.Time) error
	// List returns a user's sessions, newest first (none is not an error).
	List(ctx context.Context, userID user.ID) ([]Session, error)
	// Delete removes one session.
	Delete(ctx context.Context, id string) error
	// DeleteUser removes every session of a user except the one with ID
	// except (may be empty) and returns how many went.
	DeleteUser(ctx context.Context, userID user.ID, except string) (int, error)
	// DeleteExpired removes sessions that have expired by now (ExpiresAt
	// at or before now) or were last seen at least their own IdleTimeout
	// before now, and returns how many went: a session is over at the
	// very instant of its deadline, as [Manager.Authenticate] decides.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}

// SessionTouch is one session's last use, as [SessionBatchToucher] writes
// it.
type SessionTouch struct {
	ID string
	At time.Time
}

// SessionBatchToucher is an optional interface of a [SessionStore]: the
// Manager writes the LastSeenAt of the sessions used in the last few
// seconds in one call, off the request path (see [Config.IdleTimeout]).
// A store without it gets one Touch per session, from the same background
// work.
type SessionBatchToucher interface {
	// TouchBatch sets each listed session's LastSeenAt to At where the
	// stored value is before At, in one transaction: all or none. A
	// session not stored (unknown, revoked, deleted) is skipped and
	// never created, so a late batch cannot bring a session back. The
	// same ID twice in one batch is not an error; the later At wins where
	// both would move it. Safe for concurrent use.
	TouchBatch(ctx context.Context, touches []SessionTouch) error
}

// ThrottleStore keeps login-throttling counters, shared by every instance on
// the same database. Keys are opaque strings chosen by the Manager, derived
// from what a client typed: they may be any bytes (not only valid UTF-8)
// and an unknown key is not an error. Safe for concurrent use; the counting
// methods are atomic against each other across instances.
type ThrottleStore interface {
	// Failures returns the number of consecutive failures recorded for key
	// and the time of the last; 0 and the zero time for an unknown key.
	Failures(ctx context.Context, key string) (int, time.Time, error)
	// AddFailure counts one more failure at the given time and returns the
	// new count. It is atomic: concurrent calls each see their own count.
	// The stored time never moves backwards (instances' clocks differ).
	AddFailure(ctx context.Context, key string, at time.Time) (int, error)
	// ResetFailures forgets key's failures (none is not an error).
	ResetFailures(ctx context.Context, key string) error
	// ResetPrefix forgets the failures of every key that begins with
	// prefix, compared byte by byte (none is not an error). The Manager
	// ends prefix with a byte its keys hold nowhere else.
	ResetPrefix(ctx context.Context, prefix string) error
	// Hit counts one attempt for key in the fixed window that starts at
	// window and returns the count so far in it, this one included. A hit
	// in a newer window starts the count again at 1. Atomic.
	Hit(ctx context.Context, key string, window time.Time) (int, error)
	// Prune forgets failures last recorded, and windows started, before t.
	// Device generations stay.
	Prune(ctx context.Context, before time.Time) error
	// DeviceGeneration returns the user's device-trust generation: 0 for
	// a user whose devices were never revoked, and for an unknown user.
	DeviceGeneration(ctx context.Context, id user.ID) (int64, error)
	// RevokeDevices adds one to the user's device generation, atomically,
	// and returns the new value; for an unknown user it stores nothing and
	// returns 0. The generation goes with its user ([user.Store.Delete]).
	RevokeDevices(ctx context.Context, id user.ID) (int64, error)
}
