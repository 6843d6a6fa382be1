package auth

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"reflect"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"golang.org/x/crypto/bcrypt"
)

// Config configures a [Manager]. Only Store and SecretKey are required; the
// zero value of every other field is a safe default.
type Config struct {
	// Store keeps everything; store/sqlite.Open returns one.
	Store Store
	// Issuer names the application, e.g. in authenticator apps.
	Issuer string
	// SecretKey keys the password pre-hash, the sealing of TOTP secrets,
	// the MAC that binds each passkey to its user, and the hashing of
	// recovery codes. At least 32 random bytes; keep it out of the database
	// and its backups. Losing it makes every password, TOTP secret, passkey
	// and recovery code unusable.
	SecretKey []byte
	// PreviousSecretKeys still open what older keys made: to rotate, move
	// the old SecretKey here and set a new one. Passwords are rehashed under
	// the new key at each user's next login, [Manager.RotateSecrets]
	// re-seals every TOTP secret and re-MACs every passkey at once, and
	// recovery codes keep working until the user regenerates them. Drop an
	// old key only when [Manager.OldKeyUsage] counts no password hash, no
	// TOTP secret and no passkey under it: [New] refuses to start without a
	// key that password hashes still name, and, given no previous key at
	// all, while TOTP secrets or passkeys are under another key.
	PreviousSecretKeys [][]byte

	// BcryptCost is the bcrypt work factor; 0 means [DefaultBcryptCost].
	// Values below [MinBcryptCost] are refused unless
	// InsecureLowBcryptCostForTests is set. Stored hashes of a lower cost are upgraded at the next login.
	BcryptCost int
	// InsecureLowBcryptCostForTests allows BcryptCost 4 (bcrypt's least)
	// to MinBcryptCost-1. It exists so
	// test suites run fast; it MUST NOT be set in production.
	InsecureLowBcryptCostForTests bool
	// MinPasswordLength counts characters (Unicode code points); 0 means
	// [DefaultMinPasswordLength], the NIST SP 800-63B minimum; at most
	// [MaxMinPasswordLength]. Passwords are limited to
	// [MaxPasswordBytes]. There are no composition rules (800-63B 3.1.1.2).
	MinPasswordLength int
	// MinPasswordScore is the least guess-count score (zxcvbn's, 0 to 4) a
	// new password must reach, offline: 0 means [DefaultMinPasswordScore];
	// a negative value turns the check off (say, for a host that checks
	// with a breach list of its own in PasswordChecker). A password built
	// from the account's email, name or the Issuer must reach it without
	// them. A refusal is a [*WeakPasswordError] whose Reason says why.
	// The first 100 bytes of a password are scored: a longer one is judged
	// by them.
	MinPasswordScore int
	// PasswordChecker, if set, is asked about every new password (sign-up,
	// creation, change, reset) after usher's own checks passed, with the
	// account it is for, e.g. to refuse passwords from a breach list. Its
	// error is wrapped in [ErrPasswordRejected].
	PasswordChecker func(ctx context.Context, password string, account PasswordContext) error

	// Permissions are the host's own permissions, offered beside usher's in
	// [Manager.Permissions]. A group may only hold catalog permissions.
	Permissions []group.Entry

	// BootstrapToken, when set, must be presented by the first sign-up.
	// When it is empty, the first sign-up needs a one-time setup token
	// that usher makes itself while the database holds no user: the host
	// gets it from [Manager.SetupToken] and shows it to whoever runs it
	// (a log line or the console at start), so that a stranger who reaches
	// a fresh instance first cannot make itself its admin.
	BootstrapToken string
	// InsecureOpenFirstSignup lets anybody who reaches the instance first
	// sign up as its admin, with no token. It MUST NOT be set on an
	// instance reachable by anyone but its operator before the first
	// account exists; it is for tests and for hosts that create the first
	// account themselves at once. Ignored when BootstrapToken is set.
	InsecureOpenFirstSignup bool

	// ReauthWindow is how long after login a session counts as fresh:
	// binding a new second factor ([Manager.BeginTOTP]) without typing the
	// password again is allowed only that long, so a stolen old session
	// cannot enrol its own authenticator (OWASP ASVS 5.0 V7.5: re-authenticate
	// before sensitive account changes). 0 means [DefaultReauthWindow].
	ReauthWindow time.Duration

	// IdleTimeout ends a session not used for this long; 0 means
	// [DefaultIdleTimeout]. Every timeout is at least [MinSessionTimeout].
	// Each session keeps the limits it was issued with: changing these
	// changes the sessions issued afterwards.
	//
	// Granularity (OWASP ASVS 5.0 V7.3.1): a session's last use is
	// recorded at most once a minute, so it ends between its idle timeout
	// less a minute and its idle timeout after its last use, never later,
	// on every instance sharing the database. The record is written
	// behind the request, in batches within seconds ([Manager.Close]
	// writes what waits); a use within a minute of the deadline is
	// written on the request, so no other instance and no
	// [Manager.PruneSessions] sees the session idle while its use is on
	// the way. A batch that fails is logged and lost: those sessions may
	// end early, never late.
	IdleTimeout time.Duration
	// AbsoluteTimeout ends a session this long after login whatever its
	// use; 0 means [DefaultAbsoluteTimeout].
	AbsoluteTimeout time.Duration
	// RememberIdleTimeout and RememberAbsoluteTimeout are the limits of a
	// session whose login asked to be remembered (Client.Remember: a "keep
	// me signed in" choice the host offers); 0 means
	// [DefaultRememberIdleTimeout] and [DefaultRememberAbsoluteTimeout].
	// Neither may be shorter than its ordinary counterpart. A host that
	// offers no such choice never issues one.
	RememberIdleTimeout     time.Duration
	RememberAbsoluteTimeout time.Duration

	// Passkeys sets up passkeys (WebAuthn): the relying party and whether
	// they may log in without a password. The zero value leaves them off.
	Passkeys PasskeyConfig

	// SSO sets up single sign-on with OpenID Connect providers. The zero
	// value leaves it off.
	SSO SSOConfig
	// DisablePasswordLogin refuses [Manager.Login] ([ErrPasswordLoginDisabled])
	// while a sign-on provider is enabled, so people log in only through
	// the providers (and passkeys). The first sign-up still works, so a
	// fresh install can be set up, and so do command-line tools
	// ([NewWithOperator]) for recovery.
	DisablePasswordLogin bool

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
	// before each further attempt waits; 0 means [DefaultFreeFailures].
	FreeFailures int
	// BaseDelay is the wait after FreeFailures failures; it doubles with
	// each further failure. 0 means [DefaultBaseDelay].
	BaseDelay time.Duration
	// MaxDelay caps the wait; 0 means [DefaultMaxDelay].
	MaxDelay time.Duration
	// PerIPPerMinute is the budget of login attempts from one client IP in
	// a minute; 0 means [DefaultPerIPPerMinute], negative disables the
	// per-IP budget.
	PerIPPerMinute int
	// PerIPv6SitePerMinute is the budget of login attempts from one IPv6
	// /48 in a minute, so that a site rotating through its 65,536 /64s
	// sprays no faster than a few of them; 0 means
	// [DefaultPerIPv6SitePerMinute]. It is disabled with PerIPPerMinute.
	PerIPv6SitePerMinute int
	// AccountFailuresPerDay bounds the password attempts on one account,
	// from every network together, that present no trusted device token,
	// per UTC day (NIST SP 800-63B 5.2.2: at most 100 consecutive failed
	// attempts); 0 means [DefaultAccountFailuresPerDay]. See "Throttling"
	// in the package documentation for the trade-off.
	AccountFailuresPerDay int
	// DeviceTrust is how long a device token ([LoginResult.DeviceToken])
	// stays valid after it was issued; each login with it renews it. 0
	// means [DefaultDeviceTrust].
	DeviceTrust time.Duration
}

// What a zero field of [Config] means, and the bounds [New] checks.
const (
	DefaultBcryptCost = 12
	// MinBcryptCost is the least cost New accepts outside tests.
	MinBcryptCost            = 10
	DefaultMinPasswordLength = 8
	MaxMinPasswordLength     = 256
	// DefaultMinPasswordScore is zxcvbn's 3: "safely unguessable",
	// about 10^10 guesses or more.
	DefaultMinPasswordScore = 3
	// MaxMinPasswordScore is zxcvbn's highest score.
	MaxMinPasswordScore = 4
	DefaultReauthWindow = 5 * time.Minute
	// A session ends after an hour unused or a day after login, whichever
	// comes first: the reauthentication NIST SP 800-63B-4 (2.2.3) asks of
	// AAL2, and OWASP ASVS 5.0 V7.3.1 and V7.3.2 (inactivity and absolute
	// timeouts) at level 2.
	DefaultIdleTimeout     = time.Hour
	DefaultAbsoluteTimeout = 24 * time.Hour
	// A remembered session ("keep me signed in") lasts a week unused and
	// thirty days at most: NIST SP 800-63B-4 (2.1.3) asks of AAL1 a
	// reauthentication at least every 30 days. The host offers the choice;
	// ASVS 5.0 V7.3 leaves the figures to its risk analysis (V7.1.1).
	DefaultRememberIdleTimeout     = 7 * 24 * time.Hour
	DefaultRememberAbsoluteTimeout = 30 * 24 * time.Hour
	MinSessionTimeout              = time.Minute

	DefaultFreeFailures   = 5
	DefaultBaseDelay      = time.Second
	DefaultMaxDelay       = 15 * time.Minute
	DefaultPerIPPerMinute = 60

	DefaultPerIPv6SitePerMinute  = 2 * DefaultPerIPPerMinute
	DefaultAccountFailuresPerDay = 100
	DefaultDeviceTrust           = 180 * 24 * time.Hour

	// MaxPasswordBytes is the longest password accepted, in bytes. The
	// HMAC pre-hash lets all of it count (bcrypt alone stops at 72).
	MaxPasswordBytes = 1024
	minSecretKeyLen  = 32
)

// withDefaults returns cfg with every zero field that has a default set to
// it. It checks nothing: see [Config.check].
func (cfg Config) withDefaults() Config {
	setDefault(&cfg.BcryptCost, DefaultBcryptCost)
	setDefault(&cfg.MinPasswordLength, DefaultMinPasswordLength)
	setDefault(&cfg.MinPasswordScore, DefaultMinPasswordScore)
	setDefault(&cfg.ReauthWindow, DefaultReauthWindow)
	setDefault(&cfg.IdleTimeout, DefaultIdleTimeout)
	setDefault(&cfg.AbsoluteTimeout, DefaultAbsoluteTimeout)
	// The remembered limits default to the longer of their default and
	// the ordinary limit, so that lengthening the ordinary ones alone stays
	// valid.
	setDefault(&cfg.RememberIdleTimeout, max(DefaultRememberIdleTimeout, cfg.IdleTimeout))
	setDefault(&cfg.RememberAbsoluteTimeout, max(DefaultRememberAbsoluteTimeout, cfg.AbsoluteTimeout))
	t := &cfg.Throttle
	setDefault(&t.FreeFailures, DefaultFreeFailures)
	setDefault(&t.BaseDelay, DefaultBaseDelay)
	setDefault(&t.MaxDelay, DefaultMaxDelay)
	setDefault(&t.PerIPPerMinute, DefaultPerIPPerMinute)
	setDefault(&t.PerIPv6SitePerMinute, DefaultPerIPv6SitePerMinute)
	setDefault(&t.AccountFailuresPerDay, DefaultAccountFailuresPerDay)
	setDefault(&t.DeviceTrust, DefaultDeviceTrust)
	cfg.Passkeys = cfg.Passkeys.withDefaults(cfg.Issuer)
	return cfg
}

func setDefault[T comparable](field *T, def T) {
	var zero T
	if *field == zero {
		*field = def
	}
}

// check reports the first field of a defaulted cfg that New cannot accept.
func (cfg *Config) check() error {
	switch {
	case cfg.Store == nil:
		return errors.New("Store is nil")
	case sameSink(cfg.AuditMirror, cfg.Store.Audit()):
		// Each event would be written twice, the copy outside the chain,
		// where VerifyAuditLog reports it as inserted.
		return errors.New("AuditMirror is the Store's own audit trail: mirror to somewhere else")
	case len(cfg.SecretKey) < minSecretKeyLen:
		return fmt.Errorf("SecretKey must be at least %d bytes", minSecretKeyLen)
	case cfg.BcryptCost > bcrypt.MaxCost:
		return fmt.Errorf("BcryptCost %d is above %d", cfg.BcryptCost, bcrypt.MaxCost)
	case cfg.BcryptCost < MinBcryptCost && !(cfg.InsecureLowBcryptCostForTests && cfg.BcryptCost >= bcrypt.MinCost):
		return fmt.Errorf("BcryptCost %d is below %d", cfg.BcryptCost, MinBcryptCost)
	case cfg.MinPasswordLength < 1 || cfg.MinPasswordLength > MaxMinPasswordLength:
		return fmt.Errorf("MinPasswordLength must be 1 to %d", MaxMinPasswordLength)
	case cfg.MinPasswordScore > MaxMinPasswordScore:
		return fmt.Errorf("MinPasswordScore must be at most %d", MaxMinPasswordScore)
	}
	if err := cfg.Passkeys.check(); err != nil {
		return err
	}
	if err := cfg.SSO.check(); err != nil {
		return err
	}
	return cfg.checkDurations()
}

// checkDurations is the second half of [Config.check]: timeouts, retention
// and the throttle.
func (cfg *Config) checkDurations() error {
	t := cfg.Throttle
	switch {
	case cfg.IdleTimeout < MinSessionTimeout || cfg.AbsoluteTimeout < MinSessionTimeout:
		return fmt.Errorf("session timeouts must be at least %v", MinSessionTimeout)
	case cfg.RememberIdleTimeout < cfg.IdleTimeout || cfg.RememberAbsoluteTimeout < cfg.AbsoluteTimeout:
		return errors.New("a remembered session's timeouts must be at least the ordinary ones")
	case cfg.AuditRetention < 0:
		return errors.New("AuditRetention is negative")
	case t.FreeFailures < 0 || t.BaseDelay < 0 || t.MaxDelay < t.BaseDelay:
		return errors.New("negative Throttle values, or Throttle.MaxDelay below Throttle.BaseDelay")
	case t.PerIPv6SitePerMinute < 0 || t.AccountFailuresPerDay < 0 || t.DeviceTrust < 0:
		return errors.New("negative Throttle values")
	}
	return nil
}

// sameSink reports whether a and b are the same sink value; a sink of a
// type that cannot be compared is another.
func sameSink(a, b audit.Sink) (same bool) {
	if a == nil || b == nil || reflect.TypeOf(a) != reflect.TypeOf(b) {
		return false
	}
	defer func() {
		if recover() != nil {
			same = false
		}
	}()
	return a == b
}
