package auth

import (
	"fmt"

	"github.com/usher-go/usher/group"
)

// DenyReason says why a [DeniedError] refused an operation.
type DenyReason int

// The reasons of a [DeniedError].
const (
	// DenyUnauthenticated: no principal this Manager authenticated (none,
	// another Manager's, or one whose account is gone).
	DenyUnauthenticated DenyReason = iota + 1
	// DenyDisabled: the acting account is disabled.
	DenyDisabled
	// DenyPermission: the actor's group does not grant Permission.
	DenyPermission
	// DenyGrantsMore: the group the operation touches (the target user's,
	// the one to assign, the one edited or created) grants Permission,
	// which the actor does not hold: nobody manages more than they hold.
	DenyGrantsMore
	// DenyOwnAccount: an administrator's operation aimed at the actor's
	// own account, which the actor changes through the profile operations
	// instead (they ask for the password).
	DenyOwnAccount
	// DenyOwnGroup: nobody changes their own group, or loosens its
	// two-factor requirement.
	DenyOwnGroup
	// DenyLastAdmin: the change would leave no enabled admin
	// ([ErrLastAdmin]).
	DenyLastAdmin
	// DenyBuiltinGroup: the change would delete a built-in group or take
	// "*" from the admin group (group.ErrBuiltin).
	DenyBuiltinGroup
	// DenyPasswordChangeRequired: the actor owes a password change
	// ([ErrPasswordChangeRequired]).
	DenyPasswordChangeRequired
	// DenyEnrollmentRequired: the actor owes a second factor
	// ([ErrEnrollmentRequired]).
	DenyEnrollmentRequired
	// DenyTargetLacks: the target user's group does not grant Permission,
	// so the user could never do what the operation asks of them.
	DenyTargetLacks
	// DenyConfigured: the record is declared in the host's configuration
	// and cannot be changed through the Manager.
	DenyConfigured
)

// DeniedError is a refusal: the actor may not do this, and Reason says
// why. Every refusal usher makes is one, wherever it wraps [ErrForbidden]:
// errors.Is(err, ErrForbidden) matches it, as do [ErrLastAdmin],
// [ErrEnrollmentRequired] and [ErrPasswordChangeRequired] for their
// reasons and group.ErrBuiltin for DenyBuiltinGroup; errors.As finds it:
//
//	var de *auth.DeniedError
//	if errors.As(err, &de) {
//		page.Error = de.Message()
//	}
//
// Its Error text is for logs and the audit trail and may name the records
// involved; [DeniedError.Message] is the sentence to show the person
// refused.
type DeniedError struct {
	Reason DenyReason
	// Permission is the permission the refusal is about (DenyPermission,
	// DenyGrantsMore, DenyTargetLacks, and DenyUnauthenticated where the
	// operation needs one), else "". It may be a wildcard.
	Permission group.Permission
	// Label is Permission's label in the catalog ([Manager.Permissions]):
	// "all permissions" for "*", or the permission itself when the
	// catalog has no label for it.
	Label string

	text string // after "auth: forbidden: ", for logs
	err  error  // another package's sentinel the refusal is also, or nil
}

func (e *DeniedError) Error() string { return ErrForbidden.Error() + ": " + e.text }

// Is makes errors.Is match ErrForbidden, and ErrLastAdmin,
// ErrEnrollmentRequired and ErrPasswordChangeRequired for their reasons.
func (e *DeniedError) Is(target error) bool {
	switch target {
	case ErrForbidden:
		return true
	case ErrLastAdmin:
		return e.Reason == DenyLastAdmin
	case ErrEnrollmentRequired:
		return e.Reason == DenyEnrollmentRequired
	case ErrPasswordChangeRequired:
		return e.Reason == DenyPasswordChangeRequired
	}
	return false
}

// Unwrap returns the other package's sentinel the refusal is (such as
// group.ErrBuiltin), or nil.
func (e *DeniedError) Unwrap() error { return e.err }

// Message says in a sentence why the person was refused, for a page to
// show them: it names a permission by its catalog label, and nothing about
// other accounts that the person could not see anyway (no group name, no
// email). For DenyGrantsMore it names one permission of the group the
// operation touched, one the person lacks: that is the reason, and the
// person can read the account or group it is about. A host that wants
// other words, or fewer, switches on Reason.
func (e *DeniedError) Message() string {
	switch e.Reason {
	case DenyUnauthenticated:
		return "You are not logged in, or your session has ended."
	case DenyDisabled:
		return "Your account is disabled."
	case DenyPermission:
		return fmt.Sprintf("You need the permission “%s” (%s), which your group does not grant.", e.Label, e.Permission)
	case DenyGrantsMore:
		return fmt.Sprintf("That group grants “%s” (%s), which your own group does not: "+
			"you can only manage, assign or grant what you hold yourself.", e.Label, e.Permission)
	case DenyOwnAccount:
		return "This cannot be done to your own account this way: change your own account from your profile."
	case DenyOwnGroup:
		return "Nobody can change their own group, or loosen their own group's two-factor requirement: ask another administrator."
	case DenyLastAdmin:
		return "That would leave no enabled administrator: make someone else an administrator first."
	case DenyBuiltinGroup:
		return "The administrators' group cannot be deleted or lose all permissions (*), and the default group cannot be deleted."
	case DenyPasswordChangeRequired:
		return "You must choose a new password before you can do anything else."
	case DenyEnrollmentRequired:
		return "Your group requires two-factor authentication: set up a second factor before you can do anything else."
	case DenyTargetLacks:
		return fmt.Sprintf("The user's group does not grant “%s” (%s), so the user could never do what this asks.", e.Label, e.Permission)
	case DenyConfigured:
		return "This is set in the application's configuration and cannot be changed here."
	}
	return "You do not have permission for this."
}

// denied is a refusal for reason; text is what Error says after
// "auth: forbidden: ".
func denied(reason DenyReason, text string) *DeniedError {
	return &DeniedError{Reason: reason, text: text}
}

// owedError is the refusal of what a principal owes. The texts are those
// of the sentinels, which stay what they were.
func owedError(reason DenyReason) *DeniedError {
	if reason == DenyPasswordChangeRequired {
		return denied(reason, "a password change is required")
	}
	return denied(reason, "two-factor enrollment required")
}

// lastAdmin is the refusal matching [ErrLastAdmin].
func lastAdmin() *DeniedError {
	return denied(DenyLastAdmin, "the last enabled admin cannot be deleted, disabled or moved")
}

// builtinGroup is the refusal matching group.ErrBuiltin.
func builtinGroup() *DeniedError {
	e := denied(DenyBuiltinGroup, group.ErrBuiltin.Error())
	e.err = group.ErrBuiltin
	return e
}

// needs is the refusal of an actor lacking perm.
func (m *Manager) needs(perm group.Permission) *DeniedError {
	return m.aboutPermission(DenyPermission, perm, "needs "+string(perm))
}

// aboutPermission is a refusal about perm, labelled from the catalog.
func (m *Manager) aboutPermission(reason DenyReason, perm group.Permission, text string) *DeniedError {
	e := denied(reason, text)
	e.Permission, e.Label = perm, m.label(perm)
	return e
}

// label names perm as the catalog does. Refusals are rare: a scan of the
// catalog costs nothing that matters.
func (m *Manager) label(perm group.Permission) string {
	switch {
	case perm == group.All:
		return "all permissions"
	case perm.Wildcard():
		return fmt.Sprintf("every %q permission", perm.Resource())
	}
	if m != nil && m.catalog != nil {
		for _, e := range m.catalog.Entries() {
			if e.Permission == perm {
				return e.Label
			}
		}
	}
	return string(perm)
}
