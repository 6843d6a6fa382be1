package auth

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// Config configures a [Manager]. Only Store and SecretKey are required; the
// zero value of every other field is a safe default.
type Config struct {
	// Store keeps everything; store/sqlite.Open returns one.
	Store Store
	// Issuer names the application, e.g. in authenticator apps.
	Issuer string
	// SecretKey keys the password pre-hash, the sealing of TOTP secrets and
	// the hashing of recovery codes. At least 32 random bytes; keep it out
	// of the database and its backups. Losing it makes every password, TOTP
	// secret and recovery code unusable.
	SecretKey []byte
	// PreviousSecretKeys still open what older keys made: to rotate, move
	// the old SecretKey here and set a new one. Passwords are rehashed under
	// the new key at each user's next login, [Manager.RotateSecrets]
	// re-seals every TOTP secret at once, and recovery codes keep working
	// until the user regenerates them. Drop an old key only when nothing
	// depends on it any more.
	PreviousSecretKeys [][]byte

	// BcryptCost is the bcrypt work factor; 0 means [DefaultBcryptCost].
	// Values below 10 are refused unless InsecureLowBcryptCostForTests is
	// set. Stored hashes of a lower cost are upgraded at the next login.
	BcryptCost int
	// InsecureLowBcryptCostForTests allows BcryptCost 4 to 9. It exists so
	// test suites run fast; it MUST NOT be set in production.
	InsecureLowBcryptCostForTests bool
	// MinPasswordLength counts characters (Unicode code points); 0 means 8,
	// the NIST SP 800-63B minimum. Passwords are limited to
	// [MaxPasswordBytes]. There are no composition rules (800-63B 3.1.1.2).
	MinPasswordLength int
	// PasswordChecker, if set, is asked about every new password (sign-up,
	// creation, change, reset), e.g. to refuse passwords from a breach
	// list. Its error is wrapped in [ErrPasswordRejected].
	PasswordChecker func(ctx context.Context, password string) error

	// Permissions are the host's own permissions, offered beside usher's in
	// [Manager.Permissions]. A group may only hold catalog permissions.
	Permissions []group.Entry

	// BootstrapToken, when set, must be presented by the first sign-up.
	BootstrapToken string

	// ReauthWindow is how long after login a session counts as fresh:
	// binding a new second factor ([Manager.BeginTOTP]) without typing the
	// password again is allowed only that long, so a stolen old session
	// cannot enrol its own authenticator (OWASP ASVS 5.0 V7.5: re-authenticate
	// before sensitive account changes). 0 means 5 minutes.
	ReauthWindow time.Duration

	// IdleTimeout ends a session not used for this long; 0 means 24 hours.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login whatever its
	// use; 0 means 7 days.
	AbsoluteTimeout time.Duration

	// Throttle sets login throttling; the zero value means the defaults.
	Throttle ThrottleConfig

	// AuditRetention is how long [Manager.PruneAuditLog] keeps events;
	// 0 keeps them for ever.
	AuditRetention time.Duration
	// AuditMirror, if set, receives every event after it was committed,
	// e.g. [audit.SlogSink] to copy the trail into the host's logs. Its
	// errors are logged, never returned.
	AuditMirror audit.Sink

	// HTTPError writes an error response for the net/http helpers; nil
	// writes the status text. The host renders its own pages here.
	HTTPError func(w http.ResponseWriter, r *http.Request, status int, err error)

	// Logger receives operational messages (never secrets); nil discards.
	Logger *slog.Logger
	// Now is the clock; nil means time.Now. Tests pass a fake.
	Now func() time.Time
	// Rand is the source of tokens, IDs and secrets; nil means
	// crypto/rand.Reader. Anything else is for tests only.
	Rand io.Reader
}

// ThrottleConfig sets login throttling (OWASP ASVS 5.0 V6.3.1, NIST SP
// 800-63B 5.2.2). Counters live in the store, so they hold across restarts
// and across instances sharing a database.
type ThrottleConfig struct {
	// FreeFailures is how many consecutive failures an account may have
	// before each further attempt waits; 0 means 5.
	FreeFailures int
	// BaseDelay is the wait after FreeFailures failures; it doubles with
	// each further failure. 0 means 1 second.
	BaseDelay time.Duration
	// MaxDelay caps the wait; 0 means 15 minutes.
	MaxDelay time.Duration
	// PerIPPerMinute is the budget of login attempts from one client IP in
	// a minute; 0 means 60, negative disables the per-IP budget.
	PerIPPerMinute int
}

// Defaults.
const (
	DefaultBcryptCost      = 12
	DefaultIdleTimeout     = 24 * time.Hour
	DefaultAbsoluteTimeout = 7 * 24 * time.Hour
	// MaxPasswordBytes is the longest password accepted, in bytes. The
	// HMAC pre-hash lets all of it count (bcrypt alone stops at 72).
	MaxPasswordBytes = 1024
	minSecretKeyLen  = 32
)
