// Package group defines groups and permissions: the [Group] record, the
// [Permission] syntax with its wildcards, the compiled [Set] that answers
// "may this user do that" without allocating, the [Catalog] of permissions a
// host offers, and the [Store] interface.
//
// A permission is "resource:action", both parts made of lower-case letters,
// digits, '_', '-' and '.'. A group may also hold the wildcards "resource:*"
// (every action on one resource) and "*" (everything). Every user belongs to
// exactly one group, and the group's permissions are the user's.
//
// Two groups exist from the start ([Group.Builtin]): [AdminID], which holds
// "*" and cannot lose it, and [UsersID], where new users go. Neither can be
// deleted. [BuiltinPermissions] lists the permissions usher itself checks.
//
// # Errors
//
// Errors are this package's sentinels ([ErrInvalidName],
// [ErrUnknownPermission], ...), matched with [errors.Is]. A group's text
// is checked by [NormalizeName] and [NormalizeDescription], its permissions
// by [Catalog.Normalize]; a page may call them too, to check a form before
// sending it. Package auth runs every rule again and wraps a refused input
// in an error that names the field (auth.FieldError), which still matches
// these sentinels.
package group

import (
	"context"
	"errors"
	"fmt"
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
	ID ID
	// Name is unique, case-insensitively; see [NormalizeName].
	Name string
	// Description is free text for admins; see [NormalizeDescription].
	Description string
	Permissions []Permission
	// RequireTwoFactor makes members without a second factor enrol before
	// any other permission applies. Such a group must grant
	// [ProfileManage2FA], or [ProfileManagePasskeys] where the host has
	// passkeys on ([ErrTwoFactorWithoutEnrollment]).
	RequireTwoFactor bool
	// Version counts the record's writes through [Store.Update]: 1 when
	// created, one more at each Update. An editor passes back the Version
	// it read, and a write made from a stale read is refused with
	// [ErrStale]. Get and List return it; a session lookup need not.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Builtin reports whether g is one of the two groups every database starts
// with, [AdminID] or [UsersID]. Neither can be deleted ([ErrBuiltin]). Only
// the admin group must also keep "*": test g.ID == AdminID for that.
func (g *Group) Builtin() bool { return g.ID == AdminID || g.ID == UsersID }

// Errors returned by this package, by every [Store] and, for groups, by
// package auth. Match them with [errors.Is]; the text after the colon may
// change.
var (
	// ErrNotFound: no group has that ID.
	ErrNotFound = errors.New("group: not found")
	// ErrNameTaken: another group has that name, compared
	// case-insensitively.
	ErrNameTaken = errors.New("group: name already in use")
	// ErrInvalidName: the name breaks the rule of [NormalizeName].
	ErrInvalidName = errors.New("group: invalid name")
	// ErrInvalidDescription: the description breaks the rule of
	// [NormalizeDescription].
	ErrInvalidDescription = errors.New("group: invalid description")
	// ErrInvalidPermission: a permission is not valid syntax (see
	// [Permission.Validate]), or a catalog entry is a wildcard or listed
	// twice.
	ErrInvalidPermission = errors.New("group: invalid permission")
	// ErrUnknownPermission: a permission is valid but not in the [Catalog].
	ErrUnknownPermission = errors.New("group: permission not in catalog")
	// ErrTwoFactorWithoutEnrollment: the group sets RequireTwoFactor but
	// grants neither [ProfileManage2FA] nor (with passkeys on)
	// [ProfileManagePasskeys], so its members could never enrol
	// and so never do anything. It is an ErrInvalidPermission too.
	ErrTwoFactorWithoutEnrollment = fmt.Errorf("%w: a group that requires two-factor must grant %s (or, with passkeys on, %s)", ErrInvalidPermission, ProfileManage2FA, ProfileManagePasskeys)
	// ErrBuiltin: the change would delete a built-in group (see
	// [Group.Builtin]) or take "*" from the admin group.
	ErrBuiltin = errors.New("group: the admin group cannot be deleted or lose \"*\", nor the default group be deleted")
	// ErrInUse: the group still has members, so it cannot be deleted.
	ErrInUse = errors.New("group: group still has members")
	// ErrStale: the group was changed by someone else since it was read
	// (its Version moved on), so the write was refused.
	ErrStale = errors.New("group: changed since it was read")
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
	// Create inserts g; the caller sets every field including the ID, but
	// Version: the store stores 1 and sets g.Version to 1.
	Create(ctx context.Context, g *Group) error
	// Get returns one group.
	Get(ctx context.Context, id ID) (*Group, error)
	// List returns every group, ordered by name.
	List(ctx context.Context) ([]Group, error)
	// Update writes Name, Description, Permissions, RequireTwoFactor and
	// UpdatedAt of g if the stored Version is still g.Version, in one
	// conditional statement, and then sets g.Version to the new stored
	// Version (one more). A stored Version that differs fails with
	// [ErrStale], writing nothing; an unknown ID fails with [ErrNotFound].
	Update(ctx context.Context, g *Group) error
	// Delete removes a group. It fails with [ErrInUse], removing nothing,
	// while any user belongs to it, checked in the same statement as the
	// delete, so no member can join in between.
	Delete(ctx context.Context, id ID) error
}
