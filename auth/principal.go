package auth

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Principal is an authenticated user for the length of one request: the
// user, its group and the session, read fresh by [Manager.Authenticate].
// Only a Manager makes Principals that can do anything: the zero value is
// denied everything.
//
// A Principal is opaque: what decides who acts and what they may do is
// unexported, and the accessors return copies, so no host code (and no bug
// in it) can change who a Principal is. Only the request it acts in
// ([Principal.SetClient]) is the host's to set.
//
// A Principal belongs to the Manager that authenticated it: every other
// Manager (another tenant's database, another instance) refuses it, for
// reads as for writes. [Principal.Can] answers from the Principal alone, so
// a host with several Managers guards routes with
// [Manager.RequirePermission] rather than calling Can on a Principal of
// unknown origin.
type Principal struct {
	user    user.User
	group   group.Group
	session Session
	client  Client

	perms *group.Set
	// mustEnroll: the group requires a second factor the user lacks; only
	// enrolling is allowed.
	mustEnroll bool
	// by is the Manager that made the principal: a Principal acts only on
	// the Manager that authenticated it, never on another's store.
	by *Manager
	// operator names the person behind an operator principal (see
	// [NewWithOperator]).
	operator string
}

// User returns a copy of the principal's account as it was read for this
// request. Changing the copy changes nothing.
func (p *Principal) User() user.User {
	if p == nil {
		return user.User{}
	}
	return p.user
}

// Group returns a copy of the principal's group as it was read for this
// request, its permission list included.
func (p *Principal) Group() group.Group {
	if p == nil {
		return group.Group{}
	}
	g := p.group
	g.Permissions = slices.Clone(g.Permissions)
	return g
}

// Session returns a copy of the session the principal authenticated with;
// its Token is empty. An operator principal has none.
func (p *Principal) Session() Session {
	if p == nil {
		return Session{}
	}
	return p.session
}

// Client returns the request the principal acts in: what
// [Principal.SetClient] set or, when nothing was set, the IP and user agent
// the session was created with.
func (p *Principal) Client() Client {
	if p == nil {
		return Client{}
	}
	if p.client != (Client{}) {
		return p.client
	}
	return Client{IP: p.session.IP, UserAgent: p.session.UserAgent}
}

// SetClient records the request the principal is acting in, for the
// throttle and the audit trail; [Manager.Middleware] sets it from each
// request. It changes nothing about who the principal is or what it may
// do. A Principal belongs to one request: do not share it between
// goroutines that call SetClient.
func (p *Principal) SetClient(c Client) {
	if p != nil {
		p.client = c
	}
}

// MustEnroll reports that the principal's group requires two-factor
// authentication and the user has no second factor yet: every permission
// but profile:manage_2fa and profile:manage_passkeys (the two ways to get
// one) is withheld until it has. A host redirects such a user to its
// enrollment page.
func (p *Principal) MustEnroll() bool { return p != nil && p.mustEnroll }

// MustChangePassword reports that an administrator required the user to
// change the password ([Manager.RequirePasswordChange]) and the user has
// not yet: every permission but profile:update_password is withheld (even
// enrolling a second factor, which comes after) until [Manager.ChangePassword]
// clears it. As for a principal that owes enrolment, logging out, reading
// its own sessions and second-factor state ([Manager.Sessions],
// [Manager.TwoFactorStatus]) and the host's own [Manager.Record] still
// work. A host redirects such a user to its change-password page. An
// operator principal never owes one.
func (p *Principal) MustChangePassword() bool { return p != nil && p.user.MustChangePassword }

// owed returns why perm is withheld until the principal settles what it
// owes (a password change, then a second factor), or nil.
func (p *Principal) owed(perm group.Permission) error {
	if r := p.owedReason(perm); r != 0 {
		return owedError(r)
	}
	return nil
}

// owedReason is why owed refuses perm, or 0. It does not allocate.
func (p *Principal) owedReason(perm group.Permission) DenyReason {
	if p.user.MustChangePassword {
		if perm == group.ProfileUpdatePassword {
			return 0
		}
		return DenyPasswordChangeRequired
	}
	if p.mustEnroll && !enrolling(perm) {
		return DenyEnrollmentRequired
	}
	return 0
}

// Can reports whether the principal's group grants perm. It does not
// allocate. A disabled user can do nothing.
func (p *Principal) Can(perm group.Permission) bool {
	if p == nil || p.user.Disabled {
		return false
	}
	if p.owedReason(perm) != 0 {
		return false
	}
	return p.perms.Has(perm)
}

// Permissions returns what the principal's group grants.
func (p *Principal) Permissions() []group.Permission {
	if p == nil {
		return nil
	}
	return p.perms.Permissions()
}

func (p *Principal) auditActor() audit.Actor {
	if p.operator != "" {
		return audit.Actor{ID: "operator", Email: p.operator}
	}
	return audit.Actor{ID: string(p.user.ID), Email: p.user.Email}
}

// permCache keeps compiled permission sets per group. An entry is used only
// while the group's stored permission list is exactly the cached one, so a
// change applies on the very next Authenticate; the cache only saves
// compiling the same list again.
type permCache struct {
	m sync.Map // group.ID → *permEntry
}

type permEntry struct {
	perms []group.Permission
	set   *group.Set
}

// maxCachedGroups bounds the cache; past it, sets are compiled per call.
const maxCachedGroups = 4096

func (c *permCache) set(g *group.Group) *group.Set {
	if v, ok := c.m.Load(g.ID); ok {
		if e := v.(*permEntry); slices.Equal(e.perms, g.Permissions) {
			return e.set
		}
	}
	e := &permEntry{perms: slices.Clone(g.Permissions), set: group.NewSet(g.Permissions)}
	if c.size() < maxCachedGroups {
		c.m.Store(g.ID, e)
	}
	return e.set
}

func (c *permCache) size() int {
	n := 0
	c.m.Range(func(_, _ any) bool { n++; return n < maxCachedGroups })
	return n
}

// principal builds a Principal from stored records.
func (m *Manager) principal(u *user.User, g *group.Group, s *Session) *Principal {
	p := &Principal{user: *u, group: *g}
	if s != nil {
		p.session = *s
	}
	m.adopt(p)
	return p
}

// adopt makes p, whose user, group and session are read, a Principal of
// m: its group's permissions compiled, m as its maker, no token kept.
func (m *Manager) adopt(p *Principal) {
	p.perms, p.by = m.perms.set(&p.group), m
	p.session.Token = ""
}

// mine reports whether m made p. A Principal from another Manager (say, one
// per tenant database) is nobody here, even for reads.
func (m *Manager) mine(p *Principal) bool { return p != nil && p.perms != nil && p.by == m }

// actorIn re-reads the acting user, its group and its session inside tx and
// checks that it holds perm. Reading inside the transaction means a check
// and the change it guards see the same state: an admin demoted or logged
// out a moment ago cannot finish an operation with the permissions it had
// (OWASP ASVS 5.0 V8.3.1).
func (m *Manager) actorIn(ctx context.Context, tx Store, actor *Principal, perm group.Permission) (*Principal, error) {
	if actor != nil && actor.operator != "" {
		if !m.mine(actor) {
			return nil, denied(DenyUnauthenticated, "an operator of another Manager")
		}
		return actor, nil // no user or session to re-read
	}
	fresh, err := m.reread(ctx, tx, actor)
	if err != nil {
		return nil, err
	}
	if fresh.user.Disabled {
		// Even an operation that needs no permission (ending one's own
		// sessions) is refused: a disabled account can do nothing.
		return nil, denied(DenyDisabled, "the account is disabled")
	}
	if err := fresh.owed(perm); err != nil {
		return nil, err
	}
	if perm != "" && !fresh.Can(perm) {
		return nil, m.needs(perm)
	}
	return fresh, nil
}

// reread returns actor as the store has it now: its session still live and
// still the same user's, the user and its group as they are, the two-factor
// policy applied. The identity is the one the Manager recorded when it
// authenticated actor, which no host code can change.
func (m *Manager) reread(ctx context.Context, tx Store, actor *Principal) (*Principal, error) {
	if !m.mine(actor) || actor.user.ID == "" {
		return nil, denied(DenyUnauthenticated, "no principal this Manager authenticated")
	}
	s, err := tx.Sessions().Get(ctx, actor.session.ID)
	if err == nil {
		m.lastSeen(s)
	}
	if errors.Is(err, ErrSessionNotFound) || err == nil && (s.UserID != actor.user.ID || m.expired(s, m.clock())) {
		return nil, fmt.Errorf("%w: the session has ended", ErrUnauthenticated)
	}
	if err != nil {
		return nil, err
	}
	u, err := tx.Users().Get(ctx, actor.user.ID)
	if err != nil {
		return nil, denied(DenyUnauthenticated, fmt.Sprintf("acting user: %v", err))
	}
	g, err := tx.Groups().Get(ctx, group.ID(u.GroupID))
	if err != nil {
		return nil, denied(DenyUnauthenticated, fmt.Sprintf("acting user's group: %v", err))
	}
	fresh := m.principal(u, g, s)
	fresh.client = actor.client
	if err := m.applyTwoFactorPolicy(ctx, tx, fresh); err != nil {
		return nil, err
	}
	return fresh, nil
}

// applyTwoFactorPolicy marks p as owing an enrollment when its group
// requires a second factor it lacks. Only such groups cost the extra read.
func (m *Manager) applyTwoFactorPolicy(ctx context.Context, s Store, p *Principal) error {
	if !p.group.RequireTwoFactor || p.session.MultiFactor {
		return nil
	}
	methods, err := m.secondFactors(ctx, s, p.user.ID)
	p.mustEnroll = len(methods) == 0
	return err
}

// mayManage checks that actor holds every permission target's group grants:
// otherwise editing, disabling or resetting the target would hand the actor
// a way into more than it holds.
func mayManage(actor *Principal, target *group.Group) error {
	if p, ok := actor.perms.Covers(target.Permissions); !ok {
		return actor.by.aboutPermission(DenyGrantsMore, p, fmt.Sprintf("group %q grants %s, which you do not hold", target.Name, p))
	}
	return nil
}

// enrolling reports whether perm is one that binds a second factor: all a
// principal that owes one may use.
func enrolling(perm group.Permission) bool {
	return perm == group.ProfileManage2FA || perm == group.ProfileManagePasskeys
}
