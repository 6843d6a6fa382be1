package passkey

import (
	"context"
	"time"

	"github.com/usher-go/usher/user"
)

// Store keeps passkeys and the users' WebAuthn user handles.
//
// Not found: Get, GetByCredentialID, Rename, Delete and UpdateUse for an
// unknown passkey return [ErrNotFound], and so do Rename and Delete for a
// passkey of another user, so that nobody learns another user's passkey
// IDs; UserByHandle returns it for an unknown handle. List, Count and
// DeleteUser of a user without passkeys (or unknown) return none, 0 and 0;
// UserHandle returns nil. Create and SetUserHandle for an unknown user fail
// with [user.ErrNotFound] and store nothing. Remac of an unknown passkey,
// like Remac of one no longer under oldKeyID, reports false with no error.
//
// Uniqueness: a credential ID is registered once across all users (Create
// fails with [ErrCredentialTaken]); a user handle belongs to one user.
//
// Deletes: passkeys and the user handle go with their user
// ([user.Store.Delete]), in the same statement or transaction.
//
// Keys: KeyID and MAC are the caller's (package auth makes them; see
// [Credential]). A store keeps them byte for byte, checks nothing about
// them, and changes them only through Remac.
//
// Times come back as the same instant in UTC, to at least microsecond
// precision; a zero LastUsedAt comes back zero. Byte fields come back
// byte for byte; nil and empty Transports are the same. Safe for
// concurrent use, across instances sharing one database.
type Store interface {
	// Create inserts c under c.ID, which the caller made.
	Create(ctx context.Context, c *Credential) error
	// Get returns one passkey by its ID.
	Get(ctx context.Context, id string) (*Credential, error)
	// GetByCredentialID returns the passkey with the authenticator's
	// credential ID, whoever it belongs to.
	GetByCredentialID(ctx context.Context, credID []byte) (*Credential, error)
	// List returns a user's passkeys, oldest first (by CreatedAt, then ID).
	List(ctx context.Context, userID user.ID) ([]Credential, error)
	// Count returns how many passkeys a user has.
	Count(ctx context.Context, userID user.ID) (int, error)
	// Rename sets the name of the passkey id if userID owns it. The name
	// is stored as given: the caller checks it with [NormalizeName].
	Rename(ctx context.Context, id string, userID user.ID, name string) error
	// Delete removes the passkey id if userID owns it.
	Delete(ctx context.Context, id string, userID user.ID) error
	// DeleteUser removes every passkey of a user (the handle stays) and
	// returns how many went.
	DeleteUser(ctx context.Context, userID user.ID) (int, error)
	// UpdateUse records a login: it sets SignCount, BackedUp and
	// LastUsedAt, in one conditional UPDATE, only if signCount is greater
	// than the stored count or both are 0, and reports whether it did. A
	// count that does not grow (a possible clone) writes nothing and
	// returns false with no error. Of two logins racing with the same
	// count, exactly one wins (unless both are 0).
	UpdateUse(ctx context.Context, id string, signCount uint32, backedUp bool, at time.Time) (bool, error)

	// UnderOtherKey lists up to limit passkeys, of every user, whose KeyID
	// is not keyID and whose ID sorts after after (byte order; "" for the
	// first page), ordered by ID: a key rotation pages through them with
	// the last ID it saw. None is an empty list, not an error.
	UnderOtherKey(ctx context.Context, keyID string, after string, limit int) ([]Credential, error)
	// Remac replaces the passkey's KeyID and MAC with newKeyID and mac if
	// its KeyID is still oldKeyID, in one conditional UPDATE, and reports
	// whether it did: a concurrent change (another rotation, a delete)
	// wins. Nothing else of the passkey changes.
	Remac(ctx context.Context, id, oldKeyID, newKeyID string, mac []byte) (bool, error)

	// UserHandle returns the user's WebAuthn user handle, nil if the user
	// has none yet.
	UserHandle(ctx context.Context, userID user.ID) ([]byte, error)
	// SetUserHandle gives the user handle, unless the user has one
	// already: the first write wins, and every caller gets back the handle
	// stored, so concurrent registrations agree on one. A handle another
	// user holds fails with [ErrHandleTaken].
	SetUserHandle(ctx context.Context, userID user.ID, handle []byte) ([]byte, error)
	// UserByHandle returns the user whose handle it is.
	UserByHandle(ctx context.Context, handle []byte) (user.ID, error)
}
