package auth

import (
	"errors"
	"fmt"
	"time"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Errors returned by the [Manager]. Match them with [errors.Is]; the text
// after the colon may change.
var (
	// ErrInvalidCredentials covers an unknown email, a wrong password and
	// a failed second factor alike, so a caller cannot tell which.
	ErrInvalidCredentials = errors.New("auth: invalid credentials")
	// ErrAccountDisabled is returned only after a correct password.
	ErrAccountDisabled = errors.New("auth: account disabled")
	// ErrThrottled is matched by every *ThrottledError.
	ErrThrottled = errors.New("auth: too many attempts")
	// ErrSignupClosed: sign-up is only for the first account.
	ErrSignupClosed = errors.New("auth: sign-up is closed")
	// ErrBootstrapToken: the first sign-up needs Config.BootstrapToken, or
	// else the setup token of [Manager.SetupToken], and presented a wrong,
	// expired or spent one.
	ErrBootstrapToken = errors.New("auth: wrong bootstrap token")
	// ErrUnauthenticated: the token names no live session.
	ErrUnauthenticated = errors.New("auth: not authenticated")
	// ErrForbidden: the actor lacks a permission, or the change would
	// grant more than the actor holds, or touch the actor's own group.
	// errors.As finds a [*DeniedError] that says which.
	ErrForbidden = errors.New("auth: forbidden")
	// ErrLastAdmin: the change would leave no enabled admin. It is an
	// ErrForbidden too.
	ErrLastAdmin = fmt.Errorf("%w: the last enabled admin cannot be deleted, disabled or moved", ErrForbidden)
	// ErrStale: the user or group was changed by someone else since the
	// caller read it (its Version moved on), so the write was refused and
	// nothing changed. Read it again and redo the edit. It wraps
	// user.ErrStale or group.ErrStale as well.
	ErrStale = errors.New("auth: changed by someone else since it was read")
	// ErrSessionNotFound: no such session (store contract, and RevokeSession).
	ErrSessionNotFound = errors.New("auth: session not found")

	ErrPasswordTooShort = errors.New("auth: password too short")
	ErrPasswordTooLong  = errors.New("auth: password too long")
	// ErrPasswordRejected: Config.PasswordChecker refused the password, or
	// it is too easy to guess ([ErrPasswordTooWeak]).
	ErrPasswordRejected = errors.New("auth: password not allowed")
	// ErrPasswordTooWeak: the password is too easy to guess
	// (Config.MinPasswordScore); a [*WeakPasswordError] says why. It is an
	// ErrPasswordRejected too.
	ErrPasswordTooWeak = fmt.Errorf("%w: too easy to guess", ErrPasswordRejected)
	// ErrInvalidPasswordHash: [Manager.ImportPasswordHash] was given
	// something that is not a bcrypt hash.
	ErrInvalidPasswordHash = errors.New("auth: not a bcrypt hash")

	ErrInvalidImage  = errors.New("auth: not a PNG, JPEG, GIF or WebP image")
	ErrImageTooLarge = errors.New("auth: image too large")

	// ErrInvalidConfig is wrapped by every error [New] finds in its
	// Config (a store failure, or [ErrWrongSecretKey], is not).
	ErrInvalidConfig = errors.New("auth: invalid config")
)

// WeakPasswordError refuses a new password as too easy to guess and says
// why, in words safe and useful to show the person who chose it (Reason is
// one of the Reason constants, e.g. [ReasonCommonPassword]). It never holds
// the password. errors.Is(err, ErrPasswordTooWeak) and
// errors.Is(err, ErrPasswordRejected) match it.
type WeakPasswordError struct {
	Reason string
}

func (e *WeakPasswordError) Error() string {
	return "auth: password too easy to guess: " + e.Reason
}

// Unwrap returns [ErrPasswordTooWeak].
func (e *WeakPasswordError) Unwrap() error { return ErrPasswordTooWeak }

// ThrottledError says how long to wait before the next attempt.
// errors.Is(err, ErrThrottled) matches it.
type ThrottledError struct {
	RetryAfter time.Duration
}

func (e *ThrottledError) Error() string {
	return fmt.Sprintf("auth: too many attempts, retry after %s", e.RetryAfter.Round(time.Second))
}

// Is makes errors.Is(err, ErrThrottled) true.
func (e *ThrottledError) Is(target error) bool { return target == ErrThrottled }

// Errors of the second factor.
var (
	// ErrChallengeNotFound: no such challenge (store contract).
	ErrChallengeNotFound = errors.New("auth: challenge not found")
	// ErrInvalidChallenge: the login challenge is unknown, expired, used
	// up or already answered; start the login again.
	ErrInvalidChallenge = errors.New("auth: login challenge invalid or expired")
	// ErrReauthRequired: the operation needs the password, or a login
	// younger than Config.ReauthWindow.
	ErrReauthRequired = errors.New("auth: password or a fresh login required")
	// ErrEnrollmentRequired: the principal's group requires a second
	// factor and the user has none yet; only enrolling is allowed.
	// It is an ErrForbidden too.
	ErrEnrollmentRequired = fmt.Errorf("%w: two-factor enrollment required", ErrForbidden)
	// ErrPasswordChangeRequired: an administrator required the user to
	// change the password ([Manager.RequirePasswordChange]); until the
	// user has ([Manager.ChangePassword]), nothing else is allowed. It is
	// an ErrForbidden too.
	ErrPasswordChangeRequired = fmt.Errorf("%w: a password change is required", ErrForbidden)
	// ErrUnknownKey: a secret is sealed, or a passkey MACed, under a key
	// that is neither Config.SecretKey nor in Config.PreviousSecretKeys
	// (for a passkey, also: under no key, or with a MAC that does not
	// verify).
	ErrUnknownKey = errors.New("auth: secret sealed under an unknown key")
)

// Errors of passkeys.
var (
	// ErrPasskeysDisabled: Config.Passkeys sets no relying party.
	ErrPasskeysDisabled = errors.New("auth: passkeys are not enabled")
	// ErrPasswordlessDisabled: Config.Passkeys.DisablePasswordless is
	// set; passkeys work only as a second factor.
	ErrPasswordlessDisabled = errors.New("auth: passwordless login is disabled")
	// ErrInvalidCeremony: the passkey ceremony is unknown, already used,
	// expired, or begun for another user or login; begin again. A failed
	// login also matches ErrInvalidCredentials.
	ErrInvalidCeremony = errors.New("auth: passkey ceremony invalid or expired")
	// ErrPasskeyRejected: the browser's answer to a registration is
	// malformed or failed verification (origin, RP ID, challenge,
	// signature, attestation, user presence); the message says which.
	ErrPasskeyRejected = errors.New("auth: passkey response rejected")
)

// Errors of single sign-on.
var (
	// ErrSSODisabled: Config.SSO sets no callback URL.
	ErrSSODisabled = errors.New("auth: single sign-on is not enabled")
	// ErrProviderUnavailable: the provider's discovery failed (it is down,
	// unreachable, or its document is refused); usher asks again after a
	// back-off.
	ErrProviderUnavailable = errors.New("auth: sign-on provider unavailable")
	// ErrProviderDisabled: the provider exists but is not enabled.
	ErrProviderDisabled = errors.New("auth: sign-on provider disabled")
	// ErrInvalidFlow: the sign-on flow is unknown, used, expired, or of
	// another provider; start again. A failed login also matches
	// ErrInvalidCredentials.
	ErrInvalidFlow = errors.New("auth: sign-on flow invalid or expired")
	// ErrSSONotLinked: the provider's account is linked to no local
	// account and none may be made or linked; the wrapped message says
	// why (unverified email, linking off, provisioning off, domain not
	// allowed). It matches ErrInvalidCredentials too.
	ErrSSONotLinked = errors.New("auth: no account for this sign-on")
	// ErrPasswordLoginDisabled: Config.DisablePasswordLogin is set and a
	// sign-on provider is enabled.
	ErrPasswordLoginDisabled = errors.New("auth: password login is disabled: sign in with a provider")
)

// NotLinkedError is an [ErrSSONotLinked] with its reason in words a page
// can show ("an account has this email, but the provider does not vouch
// for it"). errors.Is matches it with ErrSSONotLinked and
// ErrInvalidCredentials; errors.As finds it.
type NotLinkedError struct {
	Reason string
}

func (e *NotLinkedError) Error() string {
	return ErrSSONotLinked.Error() + ": " + e.Reason
}

// Is makes errors.Is match ErrSSONotLinked and ErrInvalidCredentials.
func (e *NotLinkedError) Is(target error) bool {
	return target == ErrSSONotLinked || target == ErrInvalidCredentials
}

// SSOError is an error response from the provider (RFC 6749 4.1.2.1):
// the person refused, or the provider could not log them in. Code is the
// provider's error code ("access_denied", ...), for a page to choose its
// words; Description is the provider's own text. errors.Is(err,
// ErrInvalidCredentials) matches it.
type SSOError struct {
	Code        string
	Description string
}

func (e *SSOError) Error() string {
	return fmt.Sprintf("auth: the sign-on provider answered %q: %s", e.Code, e.Description)
}

// Is makes errors.Is(err, ErrInvalidCredentials) true.
func (e *SSOError) Is(target error) bool { return target == ErrInvalidCredentials }

// FieldError is bad input in one named field: the caller fixes it by
// changing that field, and a page shows its message next to that input
// without copying usher's rules. Err is the error of the rule the input
// broke, wrapping its sentinel (user.ErrInvalidEmail, ErrPasswordTooShort,
// group.ErrUnknownPermission, ...), so errors.Is matches as it would
// without the FieldError, and errors.As finds the field:
//
//	var fe *auth.FieldError
//	if errors.As(err, &fe) {
//		form.Errors[fe.Field] = message(fe.Err)
//	}
//
// Not every refusal is a FieldError: a wrong password or code on login or
// re-authentication stays [ErrInvalidCredentials], which never says which
// answer was wrong; refusals wrap [ErrForbidden]; a missing record is the
// store's not-found error.
type FieldError struct {
	Field string // one of the Field constants
	Err   error
}

func (e *FieldError) Error() string {
	if e.Err == nil {
		return "auth: " + e.Field + ": invalid"
	}
	return "auth: " + e.Field + ": " + e.Err.Error()
}

// Unwrap returns Err, so errors.Is and errors.As see through a FieldError.
func (e *FieldError) Unwrap() error { return e.Err }

// The fields a [FieldError] names. Each is the Go name of the input in
// lower snake case: the field of the struct a method takes (NewUser.GroupID
// is "group_id") or the parameter (ChangePassword's newPassword is
// "new_password"), so a form can name its inputs alike.
const (
	// FieldEmail: the Email of [NewUser], [SignUp], [UserUpdate] or
	// [ProfileUpdate]. Its errors wrap user.ErrInvalidEmail, or
	// user.ErrEmailTaken when another account has it.
	FieldEmail = "email"
	// FieldName: the Name of [NewUser], [SignUp], [UserUpdate] or
	// [ProfileUpdate] (user.ErrInvalidName), or of a group.Group
	// (group.ErrInvalidName, group.ErrNameTaken).
	FieldName = "name"
	// FieldPassword: the Password of a new account, in [NewUser] or
	// [SignUp] ([ErrPasswordTooShort], [ErrPasswordTooLong],
	// [ErrPasswordRejected]).
	FieldPassword = "password"
	// FieldNewPassword: the newPassword of [Manager.ChangePassword] or
	// [Manager.ResetPassword], with the same errors as FieldPassword.
	FieldNewPassword = "new_password"
	// FieldPasswordHash: the bcryptHash of [Manager.ImportPasswordHash]
	// ([ErrInvalidPasswordHash]).
	FieldPasswordHash = "password_hash"
	// FieldGroupID: the GroupID of [NewUser] or [UserUpdate] names no
	// group (group.ErrNotFound).
	FieldGroupID = "group_id"
	// FieldDescription: the Description of a group.Group
	// (group.ErrInvalidDescription).
	FieldDescription = "description"
	// FieldPermissions: the Permissions of a group.Group
	// (group.ErrInvalidPermission, group.ErrUnknownPermission), or they
	// lack profile:manage_2fa while RequireTwoFactor is set
	// (group.ErrTwoFactorWithoutEnrollment).
	FieldPermissions = "permissions"
	// FieldCode: the code given to [Manager.ConfirmTOTP] or
	// [Manager.VerifyTOTP] is not six digits, or the one given to
	// [Manager.VerifyRecoveryCode] is not a recovery code's shape
	// (totp.ErrMalformedCode). A wrong code is [ErrInvalidCredentials].
	FieldCode = "code"
	// FieldImage: the image of [Manager.SetAvatar] ([ErrInvalidImage],
	// [ErrImageTooLarge]).
	FieldImage = "image"
	// FieldQuery: the query of [Manager.ListUsers] or [Manager.AuditLog],
	// its cursor included (user.ErrInvalidQuery, user.ErrInvalidCursor,
	// audit.ErrInvalidQuery, audit.ErrInvalidCursor).
	FieldQuery = "query"
	// FieldAction and FieldOutcome: the action and outcome of
	// [Manager.Record] (audit.ErrInvalidQuery).
	FieldAction  = "action"
	FieldOutcome = "outcome"
)

// inField names the input err is about; nil stays nil.
func inField(field string, err error) error {
	if err == nil {
		return nil
	}
	return &FieldError{Field: field, Err: err}
}

// taken names the field of a store's refusal of a duplicate: an email or
// a group name already in use. Other errors pass unchanged.
func taken(err error) error {
	switch {
	case errors.Is(err, user.ErrEmailTaken):
		return inField(FieldEmail, err)
	case errors.Is(err, group.ErrNameTaken):
		return inField(FieldName, err)
	}
	return err
}

// staleErr is the refusal of a write from a stale read: ErrStale and the
// store package's own sentinel (user.ErrStale, group.ErrStale).
func staleErr(storeErr error) error { return fmt.Errorf("%w: %w", ErrStale, storeErr) }

// stale makes a store's refusal of a stale write match ErrStale too. Other
// errors pass unchanged.
func stale(err error) error {
	if errors.Is(err, user.ErrStale) || errors.Is(err, group.ErrStale) {
		return staleErr(err)
	}
	return err
}
