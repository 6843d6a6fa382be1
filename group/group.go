// Package group defines groups and permissions: the [Group] record, the
// [Permission] syntax with its wildcards, the compiled [Set] that answers
// "may this user do that" without allocating, the [Catalog] of permissions a
// host offers, and the [Store] interface.
//
// A permission is "resource:action", both parts made of lower-case letters,
// digits, '_', '-' and '.'. A group may also hold the wildcards "resource:*"
// (every action on one resource) and "*" (everything). Every user belongs to
// exactly one group, and the group's permissions are the user's.
package group

import (
	"context"
	"errors"
	"time"
)

// ID identifies a group. It is opaque.
type ID string

// The groups every new database starts with.
const (
	// AdminID is the built-in admin group. It holds "*", cannot be deleted
	// and cannot lose "*". The first user lands here.
	AdminID ID = "admin"
	// UsersID is the default group for new users: the "profile:*"
	// permissions, so people can look after their own account.
	UsersID ID = "users"
)

// Group is a named set of permissions.
type Group struct {
	ID          ID
	Name        string // unique, case-insensitively
	Description string
	Permissions []Permission
	// RequireTwoFactor makes members without a second factor enrol before
	// any other permission applies.
	RequireTwoFactor bool
	CreatedAt        time.Time
	UpdatedAt        time.Time
}

// Builtin reports whether g is the built-in admin group.
func (g *Group) Builtin() bool { return g.ID == AdminID }

// Errors returned by this package and by every [Store].
var (
	ErrNotFound          = errors.New("group: not found")
	ErrNameTaken         = errors.New("group: name already in use")
	ErrInvalidName       = errors.New("group: invalid name")
	ErrInvalidPermission = errors.New("group: invalid permission")
	ErrUnknownPermission = errors.New("group: permission not in catalog")
	ErrBuiltin           = errors.New("group: the admin group cannot be deleted or lose \"*\", nor the default group be deleted")
	ErrInUse             = errors.New("group: group still has members")
)

// Store keeps groups. Implementations must be safe for concurrent use. Names
// are unique case-insensitively (Unicode lower case, as [strings.ToLower]
// folds, not only ASCII): a write that would duplicate one fails with
// [ErrNameTaken]. A method given an unknown ID returns [ErrNotFound].
// Permissions come back in the order they were written. Times come back as
// the same instant in UTC, to at least microsecond precision. A store need
// not create any group: auth.New creates the built-in ones ([AdminID],
// [UsersID]) through Create when they are missing.
type Store interface {
	// Create inserts g; the caller sets every field including the ID.
	Create(ctx context.Context, g *Group) error
	// Get returns one group.
	Get(ctx context.Context, id ID) (*Group, error)
	// List returns every group, ordered by name.
	List(ctx context.Context) ([]Group, error)
	// Update writes Name, Description, Permissions, RequireTwoFactor and
	// UpdatedAt of g.
	Update(ctx context.Context, g *Group) error
	// Delete removes a group. It fails with [ErrInUse], removing nothing,
	// while any user belongs to it, checked in the same statement as the
	// delete, so no member can join in between.
	Delete(ctx context.Context, id ID) error
}
