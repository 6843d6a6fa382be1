package auth

import (
	"errors"
	"fmt"
	"time"
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
	// ErrBootstrapToken: the first sign-up needs Config.BootstrapToken.
	ErrBootstrapToken = errors.New("auth: wrong bootstrap token")
	// ErrUnauthenticated: the token names no live session.
	ErrUnauthenticated = errors.New("auth: not authenticated")
	// ErrForbidden: the actor lacks a permission, or the change would
	// grant more than the actor holds, or touch the actor's own group.
	ErrForbidden = errors.New("auth: forbidden")
	// ErrLastAdmin: the change would leave no enabled admin. It is an
	// ErrForbidden too.
	ErrLastAdmin = fmt.Errorf("%w: the last enabled admin cannot be deleted, disabled or moved", ErrForbidden)
	// ErrSessionNotFound: no such session (store contract, and RevokeSession).
	ErrSessionNotFound = errors.New("auth: session not found")

	ErrPasswordTooShort = errors.New("auth: password too short")
	ErrPasswordTooLong  = errors.New("auth: password too long")
	// ErrPasswordRejected: Config.PasswordChecker refused the password.
	ErrPasswordRejected = errors.New("auth: password not allowed")

	ErrInvalidImage  = errors.New("auth: not a PNG, JPEG, GIF or WebP image")
	ErrImageTooLarge = errors.New("auth: image too large")

	// ErrInvalidConfig is wrapped by every error from [New].
	ErrInvalidConfig = errors.New("auth: invalid config")
)

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
	// ErrUnknownKey: a secret is sealed under a key that is neither
	// Config.SecretKey nor in Config.PreviousSecretKeys.
	ErrUnknownKey = errors.New("auth: secret sealed under an unknown key")
)
