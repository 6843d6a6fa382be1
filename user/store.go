package user

import (
	"context"
	"time"
)

// Store keeps users. Implementations must be safe for concurrent use. Emails
// arrive normalized (see [NormalizeEmail]) and are unique; a write that would
// duplicate one fails with [ErrEmailTaken]. A method given an ID that does not
// exist returns [ErrNotFound] unless its comment says otherwise. Times come
// back as the same instant in UTC, to at least microsecond precision; a zero
// LastLoginAt comes back zero. A user's GroupID must name a stored group: a
// write naming none fails with an error matching group.ErrNotFound.
type Store interface {
	// Create inserts u with the given password hash (empty for an account
	// that cannot log in with a password). The caller sets every field,
	// including ID and timestamps, but Version: the store stores 1 and
	// sets u.Version to 1.
	Create(ctx context.Context, u *User, passwordHash string) error
	// Get returns the user with the given ID.
	Get(ctx context.Context, id ID) (*User, error)
	// GetByEmail returns the user with the given normalized email.
	GetByEmail(ctx context.Context, email string) (*User, error)
	// Update writes Email, Name, GroupID, Disabled and UpdatedAt of u if
	// the stored Version is still u.Version, in one conditional statement,
	// and then sets u.Version to the new stored Version (one more). A
	// stored Version that differs fails with [ErrStale], writing nothing;
	// an unknown ID fails with [ErrNotFound]. The other setters
	// (SetPasswordHash, SetMustChangePassword, SetLastLogin, SetAvatar)
	// leave Version alone.
	Update(ctx context.Context, u *User) error
	// Delete removes the user and, in the same statement or transaction,
	// everything that hangs off it: sessions, avatar, TOTP credential,
	// recovery codes and pending login challenges. Audit events stay.
	Delete(ctx context.Context, id ID) error
	// List returns one page of users in q's order, ties broken by ID, so
	// that a walk through every page sees each matching user once. q has
	// been through [Query.Normalize]. q.Cursor is one this store made
	// (Page.Next) or fails with [ErrInvalidCursor]; its format is the
	// store's own.
	List(ctx context.Context, q Query) (Page, error)
	// Count returns the number of users.
	Count(ctx context.Context) (int, error)
	// CountInGroup returns the number of members of a group, only the
	// enabled ones when enabledOnly is set. An unknown group counts 0.
	CountInGroup(ctx context.Context, groupID string, enabledOnly bool) (int, error)
	// PasswordHash returns the stored hash, empty when the user has none.
	PasswordHash(ctx context.Context, id ID) (string, error)
	// CountPasswordHashes returns the number of users whose stored hash
	// begins with prefix and with none of the except prefixes, compared
	// byte for byte (no pattern characters). It reads every user, so it
	// is for rare checks (a key rotation), not for each request. The
	// prefixes are the caller's: a store knows no hash format.
	CountPasswordHashes(ctx context.Context, prefix string, except []string) (int, error)
	// PasswordHashes returns, in ID order, up to limit users after the
	// given ID (all from the start when it is empty) whose stored hash
	// begins with one of prefixes, compared byte for byte as in
	// CountPasswordHashes; fewer than limit only on the last page. For a
	// rare pass over the hashes of some format (auth wraps legacy hashes
	// at start); the prefixes are the caller's.
	PasswordHashes(ctx context.Context, prefixes []string, after ID, limit int) ([]StoredHash, error)
	// ReplacePasswordHash sets the stored hash to hash only if it is still
	// old, in one conditional statement, and reports whether it did; an
	// unknown ID reports false.
	ReplacePasswordHash(ctx context.Context, id ID, old, hash string) (bool, error)
	// SetPasswordHash replaces the stored hash.
	SetPasswordHash(ctx context.Context, id ID, hash string) error
	// SetMustChangePassword sets or clears [User.MustChangePassword].
	// SetPasswordHash leaves the flag alone, and neither touches Version.
	// An unknown ID fails with [ErrNotFound].
	SetMustChangePassword(ctx context.Context, id ID, must bool) error
	// SetLastLogin records a successful login.
	SetLastLogin(ctx context.Context, id ID, at time.Time) error
	// SetAvatar stores an image; nil data removes it (removing none is not
	// an error).
	SetAvatar(ctx context.Context, id ID, data []byte, contentType string) error
	// Avatar returns the stored image and its content type; [ErrNoAvatar]
	// when the user has none.
	Avatar(ctx context.Context, id ID) ([]byte, string, error)
}

// StoredHash is a user's ID and stored password hash
// ([Store.PasswordHashes]).
type StoredHash struct {
	ID   ID
	Hash string
}
