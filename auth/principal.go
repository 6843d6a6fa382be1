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
// Only a Manager makes Principals that can do anything: the zero value, or
// one a host builds itself, is denied everything.
type Principal struct {
	User    user.User
	Group   group.Group
	Session Session
	// Client is the request the principal is acting in, for the audit
	// trail. The net/http middleware fills it; when empty, events carry the
	// IP and user agent the session was created with.
	Client Client

	perms *group.Set
	// Who authenticated, as the Manager saw it: the exported fields are the
	// host's to read (and could be changed); these decide who acts.
	userID    user.ID
	sessionID string
	// mustEnroll: the group requires a second factor the user lacks; only
	// enrolling is allowed.
	mustEnroll bool
	// operator names the person behind an [Manager.Operator] principal.
	operator string
}

// Operator returns a principal holding every permission, with no user and
// no session behind it, for command-line tools run by whoever controls the
// database and the secret key (examples/adminctl): recovering a locked-out
// admin, resetting a second factor, rotating keys. Everything it does is
// checked against the same invariants (the last admin stays, the admin group
// keeps "*") and audited with actor ID "operator" and the given name.
//
// It MUST NOT be reachable from a request path: anyone who can obtain it
// can do anything.
func (m *Manager) Operator(name string) *Principal {
	name = cleanField(name, 128)
	if name == "" {
		name = "operator"
	}
	all := &group.Group{ID: group.AdminID, Name: "Operator", Permissions: []group.Permission{group.All}}
	return &Principal{
		User:     user.User{Email: name},
		Group:    *all,
		perms:    group.NewSet(all.Permissions),
		operator: name,
	}
}

// MustEnroll reports that the principal's group requires two-factor
// authentication and the user has not enrolled yet: every permission but
// profile:manage_2fa is withheld until it has. A host redirects such a user
// to its enrollment page.
func (p *Principal) MustEnroll() bool { return p != nil && p.mustEnroll }

// Can reports whether the principal's group grants perm. It does not
// allocate. A disabled user can do nothing.
func (p *Principal) Can(perm group.Permission) bool {
	if p == nil || p.User.Disabled {
		return false
	}
	if p.mustEnroll && perm != group.ProfileManage2FA {
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
	return audit.Actor{ID: string(p.userID), Email: p.User.Email}
}

func (p *Principal) client() Client {
	if p.Client != (Client{}) {
		return p.Client
	}
	return Client{IP: p.Session.IP, UserAgent: p.Session.UserAgent}
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
	p := &Principal{User: *u, Group: *g, perms: m.perms.set(g), userID: u.ID}
	if s != nil {
		p.Session = *s
		p.sessionID = s.ID
	}
	return p
}

// actorIn re-reads the acting user, its group and its session inside tx and
// checks that it holds perm. Reading inside the transaction means a check
// and the change it guards see the same state: an admin demoted or logged
// out a moment ago cannot finish an operation with the permissions it had
// (OWASP ASVS 5.0 V8.3.1). The identity comes from the Manager's own record
// of the authentication, never from the Principal's exported fields.
func (m *Manager) actorIn(ctx context.Context, tx Store, actor *Principal, perm group.Permission) (*Principal, error) {
	if actor != nil && actor.operator != "" && actor.perms != nil {
		return actor, nil // no user or session to re-read
	}
	if actor == nil || actor.perms == nil || actor.userID == "" {
		return nil, fmt.Errorf("%w: no authenticated principal", ErrForbidden)
	}
	s, err := tx.Sessions().Get(ctx, actor.sessionID)
	if errors.Is(err, ErrSessionNotFound) || err == nil && (s.UserID != actor.userID || m.expired(s, m.clock())) {
		return nil, fmt.Errorf("%w: the session has ended", ErrUnauthenticated)
	}
	if err != nil {
		return nil, err
	}
	u, err := tx.Users().Get(ctx, actor.userID)
	if err != nil {
		return nil, fmt.Errorf("%w: acting user: %v", ErrForbidden, err)
	}
	g, err := tx.Groups().Get(ctx, group.ID(u.GroupID))
	if err != nil {
		return nil, fmt.Errorf("%w: acting user's group: %v", ErrForbidden, err)
	}
	fresh := m.principal(u, g, s)
	fresh.Client = actor.Client
	if err := m.applyTwoFactorPolicy(ctx, tx, fresh); err != nil {
		return nil, err
	}
	if fresh.mustEnroll && perm != group.ProfileManage2FA {
		return nil, ErrEnrollmentRequired
	}
	if perm != "" && !fresh.Can(perm) {
		return nil, fmt.Errorf("%w: needs %s", ErrForbidden, perm)
	}
	return fresh, nil
}

// applyTwoFactorPolicy marks p as owing an enrollment when its group
// requires a second factor it lacks. Only such groups cost the extra read.
func (m *Manager) applyTwoFactorPolicy(ctx context.Context, s Store, p *Principal) error {
	if !p.Group.RequireTwoFactor {
		return nil
	}
	ok, err := enrolled(ctx, s, p.userID)
	p.mustEnroll = !ok
	return err
}

// mayManage checks that actor holds every permission target's group grants:
// otherwise editing, disabling or resetting the target would hand the actor
// a way into more than it holds.
func mayManage(actor *Principal, target *group.Group) error {
	if p, ok := actor.perms.Covers(target.Permissions); !ok {
		return fmt.Errorf("%w: group %q grants %s, which you do not hold", ErrForbidden, target.Name, p)
	}
	return nil
}
