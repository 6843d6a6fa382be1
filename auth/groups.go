package auth

import (
	"context"
	"fmt"
	"slices"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

func groupTarget(id group.ID) audit.Target {
	return audit.Target{Type: audit.TargetGroup, ID: string(id)}
}

// ListGroups returns every group, ordered by name. It needs groups:read.
func (m *Manager) ListGroups(ctx context.Context, actor *Principal) ([]group.Group, error) {
	if err := m.deniedUnless(ctx, actor, group.GroupsRead, audit.Target{Type: audit.TargetGroup}); err != nil {
		return nil, err
	}
	return m.store.Groups().List(ctx)
}

// GetGroup returns one group. It needs groups:read.
func (m *Manager) GetGroup(ctx context.Context, actor *Principal, id group.ID) (*group.Group, error) {
	if err := m.deniedUnless(ctx, actor, group.GroupsRead, groupTarget(id)); err != nil {
		return nil, err
	}
	return m.store.Groups().Get(ctx, id)
}

// AssignableGroups returns the groups actor may put a user in, ordered by
// name: those whose every permission the actor holds, which is the rule
// [Manager.CreateUser] and [Manager.UpdateUser] apply to the group given.
// A form offers these and no others, so nobody is shown a choice that
// would be refused (OWASP ASVS 5.0 V8.2.1: the interface follows the
// authorization rules, which stay enforced by the operations). It needs
// users:write, the permission that assigns; it shows nothing of the groups
// that grant more than the actor holds.
func (m *Manager) AssignableGroups(ctx context.Context, actor *Principal) ([]group.Group, error) {
	if err := m.deniedUnless(ctx, actor, group.UsersWrite, audit.Target{Type: audit.TargetGroup}); err != nil {
		return nil, err
	}
	all, err := m.store.Groups().List(ctx)
	if err != nil {
		return nil, err
	}
	return slices.DeleteFunc(all, func(g group.Group) bool {
		_, ok := actor.perms.Covers(g.Permissions)
		return !ok
	}), nil
}

// cleanGroup validates the editable fields of g: name and description
// (see [group.NormalizeName], [group.NormalizeDescription]) and
// permissions (each must be in the catalog, and a group that requires
// two-factor must let its members enrol).
func (m *Manager) cleanGroup(g *group.Group) error {
	var err error
	if g.Name, err = group.NormalizeName(g.Name); err != nil {
		return inField(FieldName, err)
	}
	if g.Description, err = group.NormalizeDescription(g.Description); err != nil {
		return inField(FieldDescription, err)
	}
	if g.Permissions, err = m.catalog.Normalize(g.Permissions); err != nil {
		return inField(FieldPermissions, err)
	}
	set := group.NewSet(g.Permissions)
	if g.RequireTwoFactor && !set.Has(group.ProfileManage2FA) && !(m.wa != nil && set.Has(group.ProfileManagePasskeys)) {
		// Its members could never enrol, and so could never do anything.
		return inField(FieldPermissions, group.ErrTwoFactorWithoutEnrollment)
	}
	return nil
}

// CreateGroup creates a group from g's Name, Description, Permissions and
// RequireTwoFactor; ID and timestamps are assigned. It needs groups:write,
// and the actor must itself hold every permission the group grants.
func (m *Manager) CreateGroup(ctx context.Context, actor *Principal, g group.Group) (*group.Group, error) {
	if err := m.cleanGroup(&g); err != nil {
		return nil, err
	}
	id, err := m.newID()
	if err != nil {
		return nil, err
	}
	g.ID = group.ID(id)
	g.CreatedAt = m.clock()
	g.UpdatedAt = g.CreatedAt
	err = m.change(ctx, actor, group.GroupsWrite, audit.GroupCreated, groupTarget(g.ID), func(tx Store, a *Principal, e *audit.Event) error {
		if err := mayManage(a, &g); err != nil {
			return err
		}
		e.Details = map[string]any{audit.DetailName: g.Name, audit.DetailPermissions: permStrings(g.Permissions), audit.DetailRequireTwoFactor: g.RequireTwoFactor}
		return taken(tx.Groups().Create(ctx, &g))
	})
	if err != nil {
		return nil, err
	}
	return &g, nil
}

// UpdateGroup replaces the Name, Description, Permissions and
// RequireTwoFactor of the group with g.ID. g.Version must be the Version of
// the group the caller read: a group changed since (say, a permission
// another admin revoked) is refused with [ErrStale], never overwritten.
// The group returned carries the new Version. It needs groups:write; the actor
// must hold every permission the group grants before and after the edit;
// the admin group keeps "*"; a member of the group cannot clear its
// RequireTwoFactor (another group editor must). Members get the new permissions on their very
// next request. The audit event holds the permission lists before and
// after.
func (m *Manager) UpdateGroup(ctx context.Context, actor *Principal, g group.Group) (*group.Group, error) {
	if err := m.cleanGroup(&g); err != nil {
		return nil, err
	}
	var out *group.Group
	err := m.change(ctx, actor, group.GroupsWrite, audit.GroupUpdated, groupTarget(g.ID), func(tx Store, a *Principal, e *audit.Event) error {
		old, err := tx.Groups().Get(ctx, g.ID)
		if err != nil {
			return err
		}
		if old.Version != g.Version {
			return staleErr(group.ErrStale)
		}
		if old.ID == group.AdminID && !slices.Contains(g.Permissions, group.All) {
			return builtinGroup()
		}
		if err := mayManage(a, old); err != nil {
			return err
		}
		if err := ownPolicyKept(a, old, &g); err != nil {
			return err
		}
		if err := mayManage(a, &g); err != nil {
			return err
		}
		g.CreatedAt = old.CreatedAt
		g.UpdatedAt = m.clock()
		e.Details = map[string]any{audit.DetailBefore: groupFields(old), audit.DetailAfter: groupFields(&g)}
		out = &g
		return stale(taken(tx.Groups().Update(ctx, &g)))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ownPolicyKept refuses a member of old clearing its two-factor
// requirement: nobody changes their own group, and a member who could
// loosen its policy could then drop its own second factor. Tightening it,
// or editing the name and description, changes nothing a member could
// gain by; a permission added is one the actor holds already ([mayManage]).
func ownPolicyKept(a *Principal, old, g *group.Group) error {
	if a.user.GroupID == string(old.ID) && old.RequireTwoFactor && !g.RequireTwoFactor {
		return denied(DenyOwnGroup, "nobody clears their own group's two-factor requirement")
	}
	return nil
}

// DeleteGroup removes an empty group. It needs groups:write and every
// permission the group grants; the built-in groups ([group.Group.Builtin])
// cannot be deleted, and a group with members is refused with
// [group.ErrInUse].
func (m *Manager) DeleteGroup(ctx context.Context, actor *Principal, id group.ID) error {
	return m.change(ctx, actor, group.GroupsWrite, audit.GroupDeleted, groupTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		g, err := tx.Groups().Get(ctx, id)
		if err != nil {
			return err
		}
		if g.Builtin() {
			// The admin group must exist; the default group is where new
			// users go when no group is named.
			return builtinGroup()
		}
		if err := mayManage(a, g); err != nil {
			return err
		}
		n, err := tx.Users().CountInGroup(ctx, string(id), false)
		if err != nil {
			return err
		}
		if n > 0 {
			return fmt.Errorf("%w: %d members", group.ErrInUse, n)
		}
		e.Details = map[string]any{audit.DetailName: g.Name, audit.DetailPermissions: permStrings(g.Permissions)}
		return tx.Groups().Delete(ctx, id)
	})
}

// groupFields is what the audit trail keeps of a group's editable fields.
func groupFields(g *group.Group) map[string]any {
	return map[string]any{
		audit.DetailName:             g.Name,
		audit.DetailDescription:      g.Description,
		audit.DetailPermissions:      permStrings(g.Permissions),
		audit.DetailRequireTwoFactor: g.RequireTwoFactor,
	}
}

func permStrings(ps []group.Permission) []string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = string(p)
	}
	return out
}
