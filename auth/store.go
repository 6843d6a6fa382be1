package auth

import (
	"context"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Store is everything the [Manager] keeps: one accessor per kind of record
// and [Store.Atomic] to change several in one transaction. store/sqlite
// implements it; store/storetest is the conformance suite any other
// implementation must pass.
type Store interface {
	Users() user.Store
	Groups() group.Store
	Sessions() SessionStore
	Throttle() ThrottleStore
	Audit() AuditStore
	TwoFactorStore
	// Atomic runs fn in one transaction over every store: fn's changes and
	// the audit events it appends commit together or not at all. Writes
	// inside fn are serialized against every other Atomic call, so a check
	// made inside fn (say, "is this the last admin?") still holds at commit.
	// fn's error is returned unchanged. fn must not keep its Store after it
	// returns, and must have no effect outside it: a store may run fn again
	// after a serialization failure. Atomic inside fn runs in the same
	// transaction. A panic in fn rolls the transaction back; the store may
	// return it as an error rather than re-panic. Reads made outside Atomic
	// see committed state only and may be stale by the time a later Atomic
	// runs: a check that must still hold at commit belongs inside fn.
	Atomic(ctx context.Context, fn func(Store) error) error
}

// AuditStore appends events and queries them.
type AuditStore interface {
	audit.Sink
	audit.Log
}

// SessionStore keeps sessions. Tokens are never stored: only their SHA-256
// (tokenHash, 32 bytes). A method given an unknown session returns
// [ErrSessionNotFound].
type SessionStore interface {
	// Create inserts s (Token is ignored) under tokenHash.
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
	// DeleteExpired removes sessions that expired before now or were last
	// seen before idleSince, and returns how many went.
	DeleteExpired(ctx context.Context, now, idleSince time.Time) (int, error)
}

// ThrottleStore keeps login-throttling counters, shared by every instance on
// the same database. Keys are opaque strings chosen by the Manager.
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
	// Hit counts one attempt for key in the fixed window that starts at
	// window and returns the count so far in it, this one included. A hit
	// in a newer window starts the count again at 1. Atomic.
	Hit(ctx context.Context, key string, window time.Time) (int, error)
	// Prune forgets failures last recorded, and windows started, before t.
	Prune(ctx context.Context, before time.Time) error
}
