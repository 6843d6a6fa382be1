// Package audit defines the audit trail: the [Event] record, the action
// names usher writes, the [Sink] that appends events and the [Log] that
// queries them, and [SlogSink], which mirrors events into a host's logs.
//
// usher writes each event in the same transaction as the change it records:
// if the event cannot be written, the change does not happen. Events never
// carry a password, token, TOTP secret or recovery code.
//
// Everything usher writes into an event is named by a constant, so a host
// can filter and render events without copying strings: the actions
// ([Actions]), the target types ([TargetUser], [TargetGroup], ...) and the
// keys of Event.Details ([DetailBefore], [DetailAfter], [DetailName], ...),
// each documented with the actions that carry it.
package audit

import (
	"context"
	"errors"
	"time"
)

// Action names what happened.
type Action string

// The actions usher records.
const (
	LoginSucceeded   Action = "login.succeeded"
	LoginFailed      Action = "login.failed" // Reason says why; the caller only saw ErrInvalidCredentials
	LoginThrottled   Action = "login.throttled"
	Logout           Action = "logout"
	SignUp           Action = "signup"
	SessionRevoked   Action = "session.revoked"
	PasswordUpgraded Action = "password.rehashed"
	LoginChallenged  Action = "login.challenged" // password right, second factor owed

	TOTPEnrollStarted    Action = "totp.enroll_started"
	TOTPEnabled          Action = "totp.enabled"
	TOTPDisabled         Action = "totp.disabled"
	RecoveryCodesRenewed Action = "totp.recovery_codes_regenerated"
	RecoveryCodeUsed     Action = "totp.recovery_code_used" // Details[DetailRemaining]
	SecondFactorFailed   Action = "login.second_factor_failed"
	ChallengeExhausted   Action = "login.challenge_exhausted"
	TwoFactorReset       Action = "user.two_factor_reset" // Details[DetailPasskeysRemoved]
	PasskeyRegistered    Action = "passkey.registered"    // Details: DetailPasskeyID, DetailName, DetailAAGUID
	PasskeyRenamed       Action = "passkey.renamed"       // Details: DetailPasskeyID, DetailBefore, DetailAfter
	PasskeyDeleted       Action = "passkey.deleted"       // Details: DetailPasskeyID, DetailName
	// PasskeyCloneWarning: a passkey's signature counter did not grow, a
	// sign of a cloned authenticator; the login was refused. Details:
	// DetailPasskeyID, DetailSignCount, DetailStoredSignCount.
	PasskeyCloneWarning Action = "passkey.clone_warning"
	// Single sign-on. Provider events name the provider as target
	// ([TargetProvider]) and never hold its client secret.
	UserProvisioned  Action = "sso.user_provisioned" // an account made at a first sign-on
	IdentityLinked   Action = "sso.identity_linked"
	IdentityUnlinked Action = "sso.identity_unlinked"
	GroupMapped      Action = "sso.group_mapped" // Details: DetailBefore, DetailAfter (group IDs)
	ProviderAdded    Action = "sso.provider_added"
	ProviderChanged  Action = "sso.provider_changed"
	ProviderRemoved  Action = "sso.provider_removed"
	SecretsRotated   Action = "secrets.rotated"
	PasswordsWrapped Action = "secrets.passwords_wrapped" // Details[DetailWrapped]
	PasswordImported Action = "user.password_imported"

	UserCreated   Action = "user.created"
	UserUpdated   Action = "user.updated"
	UserDeleted   Action = "user.deleted"
	UserDisabled  Action = "user.disabled"
	UserEnabled   Action = "user.enabled"
	PasswordReset Action = "user.password_reset"
	// PasswordChangeRequired: an administrator required the user to
	// change the password at the next login.
	PasswordChangeRequired Action = "user.password_change_required"
	LoginUnlocked          Action = "user.login_unlocked"
	DevicesRevoked         Action = "user.devices_revoked"
	PasswordChanged        Action = "profile.password_changed"
	ProfileUpdated         Action = "profile.updated"
	AvatarChanged          Action = "profile.avatar_changed"
	GroupCreated           Action = "group.created"
	GroupUpdated           Action = "group.updated"
	GroupDeleted           Action = "group.deleted"
	AuthorizationDeny      Action = "authorization.denied"
	AuditPruned            Action = "audit.pruned"
	// AuditExported: someone exported the trail (auth.Manager.ExportAuditLog).
	// Details: DetailFormat, DetailCount, DetailSince, DetailUntil.
	AuditExported Action = "audit.exported"
	// AccessReviewed: someone recorded that they reviewed who has access
	// (auth.Manager.MarkAccessReviewed). Details: DetailNote,
	// DetailFindings, DetailUsers.
	AccessReviewed Action = "access.reviewed"
)

// Actions lists every action usher itself records, for a filter
// drop-down; a host's own actions (auth.Manager.Record) come on top.
func Actions() []Action {
	return []Action{
		LoginSucceeded,
		LoginFailed,
		LoginThrottled,
		Logout,
		SignUp,
		SessionRevoked,
		PasswordUpgraded,
		LoginChallenged,
		TOTPEnrollStarted,
		TOTPEnabled,
		TOTPDisabled,
		RecoveryCodesRenewed,
		RecoveryCodeUsed,
		SecondFactorFailed,
		ChallengeExhausted,
		TwoFactorReset,
		PasskeyRegistered,
		PasskeyRenamed,
		PasskeyDeleted,
		PasskeyCloneWarning,
		UserProvisioned,
		IdentityLinked,
		IdentityUnlinked,
		GroupMapped,
		ProviderAdded,
		ProviderChanged,
		ProviderRemoved,
		SecretsRotated,
		PasswordsWrapped,
		PasswordImported,
		UserCreated,
		UserUpdated,
		UserDeleted,
		UserDisabled,
		UserEnabled,
		PasswordReset,
		PasswordChangeRequired,
		LoginUnlocked,
		DevicesRevoked,
		PasswordChanged,
		ProfileUpdated,
		AvatarChanged,
		GroupCreated,
		GroupUpdated,
		GroupDeleted,
		AuthorizationDeny,
		AuditPruned,
		AuditExported,
		AccessReviewed,
	}
}

// Outcome says whether the action happened.
type Outcome string

// The outcomes.
const (
	Success Outcome = "success"
	Failure Outcome = "failure"
	Denied  Outcome = "denied"
)

// Actor is who acted, as they were at the time. Empty for anonymous actions
// such as a failed login of an unknown email.
type Actor struct {
	ID string
	// Email is the actor's email at the time, the actor's label: it
	// outlives the account.
	Email string
}

// Target is what was acted on.
type Target struct {
	Type string // one of the Target constants, or a host's own type
	ID   string // empty when the action was on no one record (a listing)
	// Label names the target for a person, as it was at the time: a
	// user's email, a group's or a provider's name. It outlives the
	// target, so a deleted user's history still reads. Empty when there
	// was nothing to name.
	Label string
}

// The target types usher writes; a host's own events (auth.Manager.Record)
// may use others. Query.TargetType filters on them.
const (
	// TargetUser: ID is a user ID (user.ID), or empty for a user listing
	// or creation refused before an ID existed.
	TargetUser = "user"
	// TargetGroup: ID is a group ID (group.ID), or empty for a listing.
	TargetGroup = "group"
	// TargetSession: ID is a session ID (auth.Session.ID).
	TargetSession = "session"
	// TargetAudit: the audit trail itself, on a refused read. ID is empty.
	TargetAudit = "audit"
	// TargetRoute: a route guarded by auth.Manager.RequirePermission, on
	// a refusal. ID is the method and path, as in "GET /admin".
	TargetRoute = "route"
	// TargetProvider is a single sign-on provider, by its ID.
	TargetProvider = "sso_provider"
)

// Event is one entry of the audit trail.
type Event struct {
	ID        string // assigned by the store on Append
	Time      time.Time
	Action    Action
	Outcome   Outcome
	Actor     Actor
	Target    Target
	IP        string
	UserAgent string
	// Reason is the detail of a failure or denial, kept for the admin and
	// never shown to the caller that failed.
	Reason string
	// Details holds what changed, under the Detail keys (e.g.
	// [DetailBefore] and [DetailAfter]). It must be JSON-encodable and must
	// never hold a secret. Stores keep it as JSON, so numbers read back are
	// float64 and lists []any.
	Details map[string]any
}

// Errors.
var (
	ErrInvalidQuery  = errors.New("audit: invalid query")
	ErrInvalidCursor = errors.New("audit: invalid cursor")
	// ErrUnsealable is a Sealer's refusal of an event the store has not
	// given its ID yet (see Sealer).
	ErrUnsealable = errors.New("audit: event to seal has no ID")
)

// Sink appends events. Append must be safe for concurrent use. A store
// that keeps events sets e.ID to an ID it assigns: unique, and never
// handed out again, even after Prune, so an ID in a log line names one event
// forever.
type Sink interface {
	Append(ctx context.Context, e *Event) error
}

// Log reads a stored audit trail. Safe for concurrent use.
// Events come back as they were appended, Time in UTC to at least
// microsecond precision; a store may replace text it cannot hold (invalid
// UTF-8, NUL) with U+FFFD rather than fail the change the event records.
type Log interface {
	// Query returns events matching q, newest first; events with the same
	// Time come in one order that paging keeps, so a walk through every
	// page sees each event once. Query checks q itself, as a caller
	// gave it, with [Query.Normalize] (defaults filled; a bad field fails
	// with its [ErrInvalidQuery]). q.Cursor is one this Log made
	// (Page.Next) or fails with [ErrInvalidCursor]; its format is the
	// Log's own.
	Query(ctx context.Context, q Query) (Page, error)
}
