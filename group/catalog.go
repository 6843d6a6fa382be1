package group

import (
	"fmt"
	"slices"
	"strings"
)

// Entry describes one permission for a permission picker.
type Entry struct {
	Permission Permission
	Label      string
	Category   string
}

// The permissions usher itself checks.
const (
	UsersRead             Permission = "users:read"
	UsersWrite            Permission = "users:write"
	GroupsRead            Permission = "groups:read"
	GroupsWrite           Permission = "groups:write"
	AuditRead             Permission = "audit:read"
	SessionsRevoke        Permission = "sessions:revoke"
	ProfileUpdateName     Permission = "profile:update_name"
	ProfileUpdateEmail    Permission = "profile:update_email"
	ProfileUpdatePassword Permission = "profile:update_password"
	ProfileUpdateAvatar   Permission = "profile:update_avatar"
	ProfileManage2FA      Permission = "profile:manage_2fa"
	ProfileManagePasskeys Permission = "profile:manage_passkeys"
	ProfileManageSSO      Permission = "profile:manage_sso"
	ProfileAll            Permission = "profile:*"
	SSOManage             Permission = "sso:manage"
	categoryUsers                    = "Users and groups"
	categoryProfile                  = "Own profile"
	categorySettings                 = "Settings"
)

// AccessReview lets its holder read the access review (every group with
// its permissions and members, every account with its factors, and the
// findings: auth.Manager.AccessReview) and record that a review was done.
// "*" covers it, so the built-in admin group has it; no other built-in
// group does.
const AccessReview Permission = "access:review"

// BuiltinPermissions returns usher's own permissions, the ones every
// [Catalog] starts with. The slice is a fresh copy: changing it changes
// nothing else.
func BuiltinPermissions() []Entry { return slices.Clone(builtin) }

// builtin is never changed: NewCatalog and BuiltinPermissions copy it.
var builtin = []Entry{
	{UsersRead, "View users", categoryUsers},
	{UsersWrite, "Create, edit, disable and delete users", categoryUsers},
	{GroupsRead, "View groups", categoryUsers},
	{GroupsWrite, "Create, edit and delete groups", categoryUsers},
	{AuditRead, "Read the audit log", categoryUsers},
	{SessionsRevoke, "See and revoke other users' sessions", categoryUsers},
	{AccessReview, "Review who has access, and record the review", categoryUsers},
	{ProfileUpdateName, "Change own name", categoryProfile},
	{ProfileUpdateEmail, "Change own email", categoryProfile},
	{ProfileUpdatePassword, "Change own password", categoryProfile},
	{ProfileUpdateAvatar, "Change own avatar", categoryProfile},
	{ProfileManage2FA, "Manage own two-factor authentication", categoryProfile},
	{ProfileManagePasskeys, "Manage own passkeys", categoryProfile},
	{ProfileManageSSO, "Link and unlink own single sign-on accounts", categoryProfile},
	{SSOManage, "Add, edit and remove single sign-on providers", categorySettings},
}

// Catalog is the fixed list of permissions a deployment knows: usher's own
// ([BuiltinPermissions]) merged with the host's. It is read-only once built
// and safe for concurrent use.
type Catalog struct {
	entries   []Entry
	known     map[Permission]struct{}
	resources map[string]struct{}
}

// NewCatalog merges the host's permissions with [BuiltinPermissions]. A
// host entry must be a valid, non-wildcard permission that is not already
// listed. The catalog keeps copies: changing host afterwards changes
// nothing.
func NewCatalog(host ...Entry) (*Catalog, error) {
	c := &Catalog{known: map[Permission]struct{}{}, resources: map[string]struct{}{}}
	for _, e := range slices.Concat(builtin, host) {
		if err := e.Permission.Validate(); err != nil {
			return nil, err
		}
		if e.Permission.Wildcard() {
			return nil, fmt.Errorf("%w: catalog entry %q is a wildcard", ErrInvalidPermission, e.Permission)
		}
		if _, dup := c.known[e.Permission]; dup {
			return nil, fmt.Errorf("%w: %q listed twice", ErrInvalidPermission, e.Permission)
		}
		if strings.TrimSpace(e.Label) == "" {
			e.Label = string(e.Permission)
		}
		c.known[e.Permission] = struct{}{}
		c.resources[e.Permission.Resource()] = struct{}{}
		c.entries = append(c.entries, e)
	}
	return c, nil
}

// Entries returns every permission in the catalog, usher's first.
func (c *Catalog) Entries() []Entry { return slices.Clone(c.entries) }

// Known reports whether p is in the catalog, or is "*", or is "resource:*"
// for a resource the catalog has.
func (c *Catalog) Known(p Permission) bool {
	if p == All {
		return true
	}
	if strings.HasSuffix(string(p), ":*") {
		_, ok := c.resources[p.Resource()]
		return ok
	}
	_, ok := c.known[p]
	return ok
}

// Normalize validates a permission list for storing in a group: each entry
// valid and known, duplicates dropped, sorted. Errors wrap
// [ErrInvalidPermission] or [ErrUnknownPermission].
func (c *Catalog) Normalize(perms []Permission) ([]Permission, error) {
	out := make([]Permission, 0, len(perms))
	for _, p := range perms {
		p = Permission(strings.TrimSpace(string(p)))
		if err := p.Validate(); err != nil {
			return nil, err
		}
		if !c.Known(p) {
			return nil, fmt.Errorf("%w: %q", ErrUnknownPermission, p)
		}
		out = append(out, p)
	}
	slices.Sort(out)
	return slices.Compact(out), nil
}
