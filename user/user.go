// Package user defines the user account: the [User] record, email
// normalization and validation, the listing [Query] and [Page], and the
// [Store] interface that a storage backend implements.
//
// The package holds data and rules about data only. Who may read or change a
// user is decided by package auth, which is the one entry point a host calls.
package user

import (
	"errors"
	"time"
)

// ID identifies a user. It is opaque: hosts store and compare it, never parse it.
type ID string

// User is one account. It carries no credential: password hashes, TOTP
// secrets and passkeys live behind their own stores so that a User can be
// handed to templates and JSON encoders without leaking anything.
type User struct {
	ID    ID
	Email string // normalized: trimmed, lower-cased
	Name  string
	// GroupID is the ID of the user's group (a group.ID). Every user has
	// exactly one group; its permissions are the user's permissions.
	GroupID  string
	Disabled bool
	// Version counts the record's writes through [Store.Update]: 1 when
	// created, one more at each Update. A caller that edits a user passes
	// back the Version it read, and a write made from a stale read is
	// refused with [ErrStale] (see Store.Update). Get, GetByEmail and List
	// return it; a session lookup need not.
	Version int64
	// MustChangePassword: an administrator reset the password and asked
	// the user to change it; until the user has, every session of the
	// account may do nothing but change its password. Only
	// [Store.SetMustChangePassword] writes it (Create and Update leave it
	// alone); Get, GetByEmail, List and the session lookup return it.
	MustChangePassword bool
	CreatedAt          time.Time
	UpdatedAt          time.Time
	LastLoginAt        time.Time // zero if the user never logged in
}

// Summary is one row of a user listing: the user and what an admin page shows
// beside it.
type Summary struct {
	User
	GroupName string
	TwoFactor bool // a confirmed TOTP secret is enrolled
	Passkeys  int  // number of registered passkeys
	HasAvatar bool // an avatar is stored (Store.Avatar would return it)
	// Providers are the IDs of the sign-on providers the user is linked
	// through, sorted, each once.
	Providers []string
}

// Errors returned by this package and by every [Store].
var (
	ErrNotFound      = errors.New("user: not found")
	ErrEmailTaken    = errors.New("user: email already in use")
	ErrInvalidEmail  = errors.New("user: invalid email address")
	ErrInvalidName   = errors.New("user: invalid name")
	ErrInvalidQuery  = errors.New("user: invalid query")
	ErrInvalidCursor = errors.New("user: invalid cursor")
	// ErrStale: the user was changed by someone else since it was read
	// (its Version moved on), so the write was refused.
	ErrStale = errors.New("user: changed since it was read")
)

// ErrNoAvatar is returned by Store.Avatar for a user without an avatar.
var ErrNoAvatar = errors.New("user: no avatar")
