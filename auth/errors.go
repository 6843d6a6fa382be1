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
	// ErrLastAdmin: the change would leave no enabled admin.
	ErrLastAdmin = errors.New("auth: the last enabled admin cannot be deleted, disabled or moved")
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
