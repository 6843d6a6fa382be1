package auth

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/go-webauthn/webauthn/webauthn"
	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// Manager is the one entry point of usher. Every operation that reads or
// changes users, groups or sessions goes through it, and it checks the
// acting [Principal]'s permissions itself, so a host cannot forget to. A
// Manager is safe for concurrent use; several Managers (in one process or
// many) may share one Store.
type Manager struct {
	cfg     Config
	store   Store
	catalog *group.Catalog
	hasher  *hasher
	keys    *keyring
	// deviceKeys sign device tokens (device.go), current first.
	deviceKeys [][]byte
	log        *slog.Logger
	now        func() time.Time
	rand       io.Reader
	perms      permCache
	// wa is the WebAuthn relying party; nil when passkeys are off.
	wa *webauthn.WebAuthn
	// disc caches the sign-on providers' discovery.
	disc discoveries
	// setup is the setup token this Manager made (setup.go).
	setup setupToken
	// touches are the sessions' last uses not yet written (touch.go).
	touches toucher
}

// New checks cfg and returns a Manager. Errors in cfg wrap
// [ErrInvalidConfig]. New computes one bcrypt hash (for equal-time failures
// on unknown emails), so it takes as long as one login. It refuses with
// [ErrWrongSecretKey] a Config.SecretKey (with PreviousSecretKeys) that the
// database was not made with, recognised by the [KeyCheck] that the first
// New on a database stores, and one that lacks a previous key which
// password hashes still need, or, given no previous key, that TOTP
// secrets or passkeys still need (see [OldKeyUsage]). It binds every legacy
// password hash (format 1, or plain bcrypt written straight to the store)
// to its account, audited; a legacy hash written after that does not
// verify until the next New wraps it. It also creates the
// built-in groups that the store lacks (see [Store]), audited; a store
// failure there is returned (wrapped, matchable with errors.Is). That store
// work runs under context.Background, so an unreachable database makes New
// wait as long as the store's own connect timeout: give a PostgreSQL DSN a
// connect_timeout. On a database without users it makes the setup token
// that the first sign-up needs ([Manager.SetupToken]).
func New(cfg Config) (*Manager, error) {
	bad := func(format string, a ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidConfig, fmt.Sprintf(format, a...))
	}
	cfg = cfg.withDefaults()
	if err := cfg.check(); err != nil {
		return nil, bad("%v", err)
	}
	catalog, err := group.NewCatalog(cfg.Permissions...)
	if err != nil {
		return nil, bad("Permissions: %v", err)
	}
	m := &Manager{
		cfg:     cfg,
		store:   cfg.Store,
		catalog: catalog,
		log:     cfg.Logger,
		now:     cfg.Now,
		rand:    cfg.Rand,
	}
	if m.log == nil {
		m.log = slog.New(slog.DiscardHandler)
	}
	if m.now == nil {
		m.now = time.Now
	}
	if m.rand == nil {
		m.rand = rand.Reader
	}
	if m.wa, err = newWebAuthn(cfg.Passkeys); err != nil {
		return nil, bad("Passkeys: %v", err)
	}
	if m.keys, err = newKeyring(cfg.SecretKey, cfg.PreviousSecretKeys); err != nil {
		return nil, bad("%v", err)
	}
	if m.deviceKeys, err = deviceKeys(cfg); err != nil {
		return nil, bad("%v", err)
	}
	if m.hasher, err = newHasher(m.keys, cfg.BcryptCost, m.rand); err != nil {
		return nil, bad("%v", err)
	}
	if err := m.prepareStore(context.Background()); err != nil {
		return nil, err
	}
	return m, nil
}

// prepareStore is New's store work, in order: the key check, the audit
// chain's start, the legacy hashes, the built-in groups, the declared
// providers, the setup token.
func (m *Manager) prepareStore(ctx context.Context) error {
	for _, step := range []func(context.Context) error{
		m.checkKey, m.startChain, m.checkKeysHeld, m.wrapLegacyHashes, m.seedBuiltinGroups, m.seedDeclaredProviders, m.makeSetupToken,
	} {
		if err := step(ctx); err != nil {
			return err
		}
	}
	return nil
}

// Permissions returns the permission catalog: usher's own and the host's,
// with labels and categories for a permission picker.
func (m *Manager) Permissions() []group.Entry { return m.catalog.Entries() }

// clock returns the current time in UTC, truncated to microseconds so that
// what is stored and what is returned compare equal.
func (m *Manager) clock() time.Time { return m.now().UTC().Truncate(time.Microsecond) }

// randomBytes reads n bytes from the configured source.
func (m *Manager) randomBytes(n int) ([]byte, error) {
	b := make([]byte, n)
	if _, err := io.ReadFull(m.rand, b); err != nil {
		return nil, fmt.Errorf("auth: reading randomness: %w", err)
	}
	return b, nil
}

// newID returns 128 random bits in hex: unguessable IDs for users, groups
// and sessions, so knowing one ID tells nothing about another.
func (m *Manager) newID() (string, error) {
	b, err := m.randomBytes(16)
	if err != nil {
		return "", err
	}
	return hex.EncodeToString(b), nil
}

// record appends e inside tx, filling the time and bounding the fields
// that may come from a request.
func (m *Manager) record(ctx context.Context, tx Store, e *audit.Event) error {
	m.prepare(e)
	m.labelTarget(ctx, tx, e)
	if _, err := tx.Audit().AppendChained(ctx, e, "", m.sealEvent, m.foldMark); err != nil {
		return fmt.Errorf("auth: writing audit event: %w", err)
	}
	return nil
}

// mirror hands committed events to Config.AuditMirror.
func (m *Manager) mirror(ctx context.Context, events ...*audit.Event) {
	if m.cfg.AuditMirror == nil {
		return
	}
	for _, e := range events {
		if err := m.cfg.AuditMirror.Append(ctx, e); err != nil {
			m.log.WarnContext(ctx, "usher: audit mirror failed", "action", e.Action, "err", err)
		}
	}
}

// atomic runs fn in a transaction and mirrors the events it recorded once
// they are committed. fn appends events to *events through rec.
func (m *Manager) atomic(ctx context.Context, fn func(tx Store, rec func(*audit.Event) error) error) error {
	var events []*audit.Event
	err := m.store.Atomic(ctx, func(tx Store) error {
		events = events[:0] // the store may run fn again
		return fn(tx, func(e *audit.Event) error {
			if err := m.record(ctx, tx, e); err != nil {
				return err
			}
			events = append(events, e)
			return nil
		})
	})
	if err == nil {
		m.mirror(ctx, events...)
	}
	return err
}

// prepare fills e's time and bounds the fields that may come from a
// request.
func (m *Manager) prepare(e *audit.Event) {
	if e.Time.IsZero() {
		e.Time = m.clock()
	}
	e.Target.Type = cutBytes(e.Target.Type, maxTargetTypeLength)
	e.Target.ID = cutBytes(e.Target.ID, MaxTargetIDLength)
	e.Reason = cutBytes(e.Reason, maxReasonLength)
}

// recordAlone writes one event in its own transaction: for failures and
// denials, whose triggering transaction (if any) was rolled back. A
// denial or a throttled attempt repeated within the minute is folded into
// the first one's count (see [repeatKey]).
func (m *Manager) recordAlone(ctx context.Context, e *audit.Event) {
	m.prepare(e)
	var err error
	if key := repeatKey(e); key != "" {
		err = m.recordRepeat(ctx, e, key)
	} else {
		err = m.atomic(ctx, func(_ Store, rec func(*audit.Event) error) error { return rec(e) })
	}
	if err != nil {
		m.log.ErrorContext(ctx, "usher: could not write audit event", "action", e.Action, "err", err)
	}
}

// isDenial reports whether err is an authorization refusal, which is
// audited as such. Every refusal wraps ErrForbidden (ErrLastAdmin,
// ErrEnrollmentRequired and the built-in groups' refusals included).
func isDenial(err error) bool { return errors.Is(err, ErrForbidden) }
