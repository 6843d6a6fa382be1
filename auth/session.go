package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Session is a login. Token is set only on the value returned when the
// session is issued: it is the bearer secret the host hands to the browser,
// and usher keeps only its HMAC-SHA-256 under a key derived from the secret
// key.
type Session struct {
	ID         string
	UserID     user.ID
	Token      string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry; idle expiry is LastSeenAt + IdleTimeout
	// IdleTimeout ends the session when it is not used for this long. Like
	// ExpiresAt it is fixed when the session is issued, so a later change
	// of Config leaves issued sessions their limits (sessions from before
	// usher kept it have the old default, 24 hours).
	IdleTimeout time.Duration
	// Remembered: the login asked to be remembered (Client.Remember), so
	// the session has the longer limits of Config.RememberIdleTimeout and
	// Config.RememberAbsoluteTimeout.
	Remembered bool
	IP         string
	UserAgent  string
	// MultiFactor: the login that opened the session was multi-factor by
	// itself: a passwordless passkey with user verification, or a sign-on
	// provider marked (or asserting through amr) that it enforces MFA. It
	// satisfies a group's RequireTwoFactor without a local factor, and a
	// session that replaces it keeps it.
	MultiFactor bool
}

// touchInterval is how stale LastSeenAt may get before Authenticate
// records a use again: at most one a minute per session, written behind
// the request (touch.go), keeps reads reads.
const touchInterval = time.Minute

// issueSession creates a session for u inside tx and returns it with its
// token.
func (m *Manager) issueSession(ctx context.Context, tx Store, u *user.User, c Client) (*Session, error) {
	return m.issueSessionMF(ctx, tx, u, c, false)
}

// issueSessionMF is issueSession, with MultiFactor set as mf says.
func (m *Manager) issueSessionMF(ctx context.Context, tx Store, u *user.User, c Client, mf bool) (*Session, error) {
	now := m.clock()
	idle, absolute := m.limits(c.Remember)
	return m.storeSession(ctx, tx, &Session{
		MultiFactor: mf,
		UserID:      u.ID,
		CreatedAt:   now,
		LastSeenAt:  now,
		ExpiresAt:   now.Add(absolute),
		IdleTimeout: idle,
		Remembered:  c.Remember,
		IP:          c.IP,
		UserAgent:   c.UserAgent,
	})
}

// limits returns the idle and absolute timeouts of a new session,
// remembered or not (OWASP ASVS 5.0 V7.3.1, V7.3.2).
func (m *Manager) limits(remember bool) (idle, absolute time.Duration) {
	if remember {
		return m.cfg.RememberIdleTimeout, m.cfg.RememberAbsoluteTimeout
	}
	return m.cfg.IdleTimeout, m.cfg.AbsoluteTimeout
}

// storeSession gives s a new ID and a new 32-byte token, stores it inside
// tx and returns it with the token.
func (m *Manager) storeSession(ctx context.Context, tx Store, s *Session) (*Session, error) {
	token, hash, id, err := m.newBearer()
	if err != nil {
		return nil, err
	}
	s.ID = id
	if err := tx.Sessions().Create(ctx, s, hash); err != nil {
		return nil, fmt.Errorf("auth: creating session: %w", err)
	}
	s.Token = token
	return s, nil
}

// replaceSession ends the actor's session and issues its replacement, for
// the same user and client, inside tx: after re-authentication or binding
// a new factor the session token changes and the old one stops working
// (OWASP ASVS 5.0 V7.2.4), so a token taken before is worth nothing after.
// renew starts the new session's lifetime now, for an operation that
// checked the password; otherwise the replacement keeps the old session's
// start and absolute expiry, so that an operation that proved no password
// neither lengthens a session nor makes it fresh. The old session's
// deletion decides a race: of two operations on one session, one replaces
// it and the other fails with [ErrUnauthenticated], changing nothing.
func (m *Manager) replaceSession(ctx context.Context, tx Store, a *Principal, renew bool, e *audit.Event) (*Session, error) {
	old := a.session
	if old.ID == "" {
		return nil, denied(DenyUnauthenticated, "no session to replace")
	}
	if err := tx.Sessions().Delete(ctx, old.ID); errors.Is(err, ErrSessionNotFound) {
		return nil, fmt.Errorf("%w: the session has ended", ErrUnauthenticated)
	} else if err != nil {
		return nil, err
	}
	c, now := a.Client(), m.clock()
	next := &Session{UserID: a.user.ID, CreatedAt: old.CreatedAt, LastSeenAt: now, ExpiresAt: old.ExpiresAt, IP: c.IP, UserAgent: c.UserAgent,
		MultiFactor: old.MultiFactor, IdleTimeout: old.IdleTimeout, Remembered: old.Remembered}
	if renew {
		// A new lifetime, of the kind the login chose, under today's limits.
		var absolute time.Duration
		next.IdleTimeout, absolute = m.limits(old.Remembered)
		next.CreatedAt, next.ExpiresAt = now, now.Add(absolute)
	}
	s, err := m.storeSession(ctx, tx, next)
	if err != nil {
		return nil, err
	}
	e.Details = withDetail(e.Details, audit.DetailSessionReplaced, old.ID)
	e.Details[audit.DetailSessionID] = s.ID
	return s, nil
}

// expired reports whether s has passed its absolute or idle timeout, the
// ones it was issued with. A store that returns no idle timeout gets the
// configured one.
func (m *Manager) expired(s *Session, now time.Time) bool {
	return !now.Before(s.ExpiresAt) || !now.Before(s.LastSeenAt.Add(m.idleTimeout(s)))
}

// idleTimeout is s's own idle timeout or, for a store that returns none,
// the configured one.
func (m *Manager) idleTimeout(s *Session) time.Duration {
	if s.IdleTimeout > 0 {
		return s.IdleTimeout
	}
	return m.cfg.IdleTimeout
}

// Authenticate resolves a session token to a [Principal], reading the user
// and its group's permissions fresh on every call, so a permission change,
// a disable or a deletion applies to the very next request. A malformed,
// unknown, expired or revoked token gives [ErrUnauthenticated].
func (m *Manager) Authenticate(ctx context.Context, token string) (*Principal, error) {
	// The token's shape is checked before anything is allocated or
	// hashed: a malformed token, which any client can send, costs no
	// garbage (invariant 9).
	raw, ok := decodeToken(token)
	if !ok {
		return nil, ErrUnauthenticated
	}
	r := new(sessionRead)
	err := m.lookupSession(ctx, &raw, r)
	if errors.Is(err, ErrSessionNotFound) {
		return nil, ErrUnauthenticated
	}
	if err != nil {
		return nil, fmt.Errorf("auth: looking up session: %w", err)
	}
	p, s := &r.p, &r.p.session
	now := m.clock()
	m.lastSeen(s) // a use this instance has not written yet counts
	if m.expired(s, now) {
		if err := m.store.Sessions().Delete(ctx, s.ID); err != nil && !errors.Is(err, ErrSessionNotFound) {
			m.log.WarnContext(ctx, "usher: deleting expired session", "err", err)
		}
		return nil, ErrUnauthenticated
	}
	if p.user.Disabled {
		return nil, ErrUnauthenticated
	}
	if err := m.touch(ctx, s, now); err != nil {
		return nil, fmt.Errorf("auth: touching session: %w", err)
	}
	m.adopt(p)
	if err := m.applyTwoFactorPolicy(ctx, m.store, p); err != nil {
		return nil, fmt.Errorf("auth: reading second factor: %w", err)
	}
	return p, nil
}

// Logout ends the session of token. An unknown or expired token is not an
// error: the session is gone either way.
func (m *Manager) Logout(ctx context.Context, token string) error {
	raw, ok := decodeToken(token)
	if !ok {
		return nil // no such session
	}
	r := new(sessionRead)
	err := m.lookupSession(ctx, &raw, r)
	if errors.Is(err, ErrSessionNotFound) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("auth: looking up session: %w", err)
	}
	s, u := &r.p.session, &r.p.user
	return m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		if err := tx.Sessions().Delete(ctx, s.ID); errors.Is(err, ErrSessionNotFound) {
			return nil // a concurrent logout won
		} else if err != nil {
			return err
		}
		return rec(&audit.Event{
			Action: audit.Logout, Outcome: audit.Success,
			Actor:  audit.Actor{ID: string(u.ID), Email: u.Email},
			Target: audit.Target{Type: audit.TargetSession, ID: s.ID},
			IP:     s.IP, UserAgent: s.UserAgent,
		})
	})
}

// Sessions lists the actor's own live sessions, newest first. Compare each
// ID with actor.Session().ID to mark the current one.
func (m *Manager) Sessions(ctx context.Context, actor *Principal) ([]Session, error) {
	if !m.mine(actor) {
		return nil, m.refuse(ctx, actor, "", audit.AuthorizationDeny, audit.Target{Type: audit.TargetSession})
	}
	return m.liveSessions(ctx, actor.user.ID)
}

// UserSessions lists another user's live sessions; it needs
// sessions:revoke.
func (m *Manager) UserSessions(ctx context.Context, actor *Principal, id user.ID) ([]Session, error) {
	target := audit.Target{Type: audit.TargetUser, ID: string(id)}
	if err := m.deniedUnless(ctx, actor, group.SessionsRevoke, target); err != nil {
		return nil, err
	}
	// Seeing where someone logs in from is part of managing them.
	if err := m.mayManageUser(ctx, m.store, actor, id); err != nil {
		if isDenial(err) {
			m.recordDenial(ctx, actor, audit.AuthorizationDeny, target, err)
		}
		return nil, err
	}
	return m.liveSessions(ctx, id)
}

func (m *Manager) liveSessions(ctx context.Context, id user.ID) ([]Session, error) {
	all, err := m.store.Sessions().List(ctx, id)
	if err != nil {
		return nil, err
	}
	now := m.clock()
	live := all[:0]
	for _, s := range all {
		m.lastSeen(&s)
		if !m.expired(&s, now) {
			live = append(live, s)
		}
	}
	return live, nil
}

// RevokeSession ends one session. A user may end any of its own sessions;
// ending someone else's needs sessions:revoke and that the actor holds every
// permission of the owner's group.
func (m *Manager) RevokeSession(ctx context.Context, actor *Principal, sessionID string) error {
	target := audit.Target{Type: audit.TargetSession, ID: sessionID}
	return m.change(ctx, actor, "", audit.SessionRevoked, target, func(tx Store, a *Principal, e *audit.Event) error {
		s, err := tx.Sessions().Get(ctx, sessionID)
		if err != nil {
			return err
		}
		if s.UserID != a.user.ID {
			if !a.Can(group.SessionsRevoke) {
				return m.needs(group.SessionsRevoke)
			}
			if err := m.mayManageUser(ctx, tx, a, s.UserID); err != nil {
				return err
			}
		}
		e.Details = map[string]any{audit.DetailUserID: string(s.UserID)}
		return tx.Sessions().Delete(ctx, s.ID)
	})
}

// RevokeOtherSessions ends every session of the actor but the current one
// and returns how many ended.
func (m *Manager) RevokeOtherSessions(ctx context.Context, actor *Principal) (int, error) {
	var n int
	target := audit.Target{Type: audit.TargetUser}
	if actor != nil {
		target.ID = string(actor.user.ID)
	}
	err := m.change(ctx, actor, "", audit.SessionRevoked, target, func(tx Store, a *Principal, e *audit.Event) error {
		var err error
		n, err = tx.Sessions().DeleteUser(ctx, a.user.ID, a.session.ID)
		e.Details = map[string]any{audit.DetailRevoked: n, audit.DetailKept: a.session.ID}
		return err
	})
	return n, err
}

// PruneSessions deletes expired sessions, login challenges, passkey
// ceremonies and SSO flows, and stale throttling counters, and returns how
// many sessions went. A host calls it now and then (say hourly); expired sessions are
// refused whether or not they were pruned.
func (m *Manager) PruneSessions(ctx context.Context) (int, error) {
	now := m.clock()
	n, err := m.store.Sessions().DeleteExpired(ctx, now)
	if err != nil {
		return n, err
	}
	if _, err := m.store.Challenges().DeleteExpired(ctx, now); err != nil {
		return n, err
	}
	if _, err := m.store.Ceremonies().DeleteExpired(ctx, now); err != nil {
		return n, err
	}
	if _, err := m.store.Flows().DeleteExpired(ctx, now); err != nil {
		return n, err
	}
	// A day's budget (countDay) must outlive its day.
	keep := max(m.cfg.Throttle.MaxDelay, 24*time.Hour) + time.Hour
	return n, m.store.Throttle().Prune(ctx, now.Add(-keep))
}
