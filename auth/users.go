package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
	"golang.org/x/crypto/bcrypt"
)

// NewUser is an account an admin creates.
type NewUser struct {
	Email    string
	Name     string
	Password string
	// GroupID is the new user's group; empty means the default "Users"
	// group ([group.UsersID]).
	GroupID group.ID
}

// UserUpdate changes an account; nil fields stay as they are.
type UserUpdate struct {
	Name    *string
	Email   *string
	GroupID *group.ID
	// Version is the user.User.Version the caller read (and showed in its
	// form). It is required: if the account changed since, the update is
	// refused with [ErrStale] rather than overwrite that change.
	Version int64
}

func userTarget(id user.ID) audit.Target {
	return audit.Target{Type: audit.TargetUser, ID: string(id)}
}

// ListUsers returns one page of users with their group name and 2FA status.
// It needs users:read.
func (m *Manager) ListUsers(ctx context.Context, actor *Principal, q user.Query) (user.Page, error) {
	if err := m.deniedUnless(ctx, actor, group.UsersRead, audit.Target{Type: audit.TargetUser}); err != nil {
		return user.Page{}, err
	}
	q, err := q.Normalize()
	if err != nil {
		return user.Page{}, inField(FieldQuery, err)
	}
	// The cursor is the store's to read: a foreign one fails there with
	// user.ErrInvalidCursor.
	page, err := m.store.Users().List(ctx, q)
	if errors.Is(err, user.ErrInvalidCursor) {
		err = inField(FieldQuery, err)
	}
	// The store counts rows; only those whose MAC verifies are passkeys.
	for i := range page.Users {
		if err == nil && page.Users[i].Passkeys > 0 {
			page.Users[i].Passkeys, err = m.countGenuinePasskeys(ctx, m.store, page.Users[i].ID)
		}
	}
	return page, err
}

// GetUser returns one user. It needs users:read, except for the actor's own
// account.
func (m *Manager) GetUser(ctx context.Context, actor *Principal, id user.ID) (*user.User, error) {
	if !m.mine(actor) || actor.user.ID != id {
		if err := m.deniedUnless(ctx, actor, group.UsersRead, userTarget(id)); err != nil {
			return nil, err
		}
	}
	return m.store.Users().Get(ctx, id)
}

// CreateUser creates an account. It needs users:write, and the actor must
// hold every permission of the group the user joins (no escalation).
func (m *Manager) CreateUser(ctx context.Context, actor *Principal, in NewUser) (*user.User, error) {
	if in.GroupID == "" {
		in.GroupID = group.UsersID
	}
	u, err := m.newUser(in.Email, in.Name, in.GroupID)
	if err != nil {
		return nil, err
	}
	if !actor.Can(group.UsersWrite) {
		// Refuse before spending a bcrypt on a request that cannot succeed.
		return nil, m.refuse(ctx, actor, group.UsersWrite, audit.UserCreated, audit.Target{Type: audit.TargetUser})
	}
	pc := accountOf(u)
	pc.byOther = true
	hash, err := m.newPasswordHash(ctx, FieldPassword, pc, in.Password)
	if err != nil {
		return nil, err
	}
	err = m.change(ctx, actor, group.UsersWrite, audit.UserCreated, userTarget(u.ID), func(tx Store, a *Principal, e *audit.Event) error {
		g, err := getGroupFor(ctx, tx, in.GroupID)
		if err != nil {
			return err
		}
		if err := mayManage(a, g); err != nil {
			return err
		}
		if err := createLate(ctx, tx, u, hash); err != nil {
			return err
		}
		e.Details = map[string]any{audit.DetailEmail: u.Email, audit.DetailName: u.Name, audit.DetailGroup: string(g.ID), audit.DetailGroupName: g.Name}
		// The label labelTarget would read back from the row just written.
		e.Target.Label = u.Email
		return nil
	})
	if err != nil {
		// A held-back insert's taken email comes back from the commit.
		return nil, taken(err)
	}
	return u, nil
}

// createLate is tx.Users().Create, held back to the transaction's next
// statement or commit where the store can ([LateUserCreateStore]): for a
// caller whose transaction ends on the insert's failure, and which maps
// that failure once the transaction has returned it.
func createLate(ctx context.Context, tx Store, u *user.User, hash string) error {
	if l, ok := tx.Users().(LateUserCreateStore); ok {
		return l.CreateLate(ctx, u, hash)
	}
	return tx.Users().Create(ctx, u, hash)
}

// UpdateUser changes a user's name, email or group. up.Version must be the
// Version of the user the caller read: a user changed since is refused
// with [ErrStale], changing nothing. It needs users:write;
// the actor must hold every permission of the user's group and of the new
// group; nobody changes their own group; the last enabled admin cannot be
// moved out of the admin group. On the actor's own account UpdateProfile's
// rules hold too: the name needs profile:update_name, and the email is
// refused (ErrForbidden): change it with [Manager.UpdateProfile], which
// asks for the password and ends the other sessions. A group change applies to the user's very
// next request.
func (m *Manager) UpdateUser(ctx context.Context, actor *Principal, id user.ID, up UserUpdate) (*user.User, error) {
	ch, err := parseNameEmail(up.Name, up.Email)
	if err != nil {
		return nil, err
	}
	var out *user.User
	err = m.change(ctx, actor, group.UsersWrite, audit.UserUpdated, userTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		u, err := tx.Users().Get(ctx, id)
		if err != nil {
			return err
		}
		if u.Version != up.Version {
			return staleErr(user.ErrStale)
		}
		if err := m.mayManageUser(ctx, tx, a, id); err != nil {
			return err
		}
		before, after := map[string]any{}, map[string]any{}
		ch.apply(u, before, after)
		if err := selfUpdateAllowed(a, u, after); err != nil {
			return err
		}
		if up.GroupID != nil && string(*up.GroupID) != u.GroupID {
			if err := m.checkRegroup(ctx, tx, a, u, *up.GroupID); err != nil {
				return err
			}
			before[audit.DetailGroup], after[audit.DetailGroup] = u.GroupID, string(*up.GroupID)
			u.GroupID = string(*up.GroupID)
		}
		out = u
		if len(after) == 0 {
			e.Action = "" // nothing changed, nothing to record
			return nil
		}
		u.UpdatedAt = m.clock()
		e.Details = map[string]any{audit.DetailBefore: before, audit.DetailAfter: after}
		return stale(taken(tx.Users().Update(ctx, u)))
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// selfUpdateAllowed applies UpdateProfile's rules to an actor changing its
// own account through UpdateUser, so users:write is no way around them: the
// name needs profile:update_name, and the email, the login name, changes
// only through UpdateProfile, which asks for the password and ends the
// other sessions.
func selfUpdateAllowed(a *Principal, u *user.User, after map[string]any) error {
	if u.ID != a.user.ID {
		return nil
	}
	if _, changed := after[audit.DetailEmail]; changed {
		return denied(DenyOwnAccount, "change your own email with UpdateProfile")
	}
	return profileAllowed(a, after)
}

// nameEmail is a validated change of name and email; nil fields stay.
type nameEmail struct{ name, email *string }

func parseNameEmail(name, email *string) (nameEmail, error) {
	var ch nameEmail
	if name != nil {
		n, err := user.NormalizeName(*name)
		if err != nil {
			return ch, inField(FieldName, err)
		}
		ch.name = &n
	}
	if email != nil {
		e, err := user.NormalizeEmail(*email)
		if err != nil {
			return ch, inField(FieldEmail, err)
		}
		ch.email = &e
	}
	return ch, nil
}

// apply changes u and notes each changed field's old and new value.
func (ch nameEmail) apply(u *user.User, before, after map[string]any) {
	if ch.name != nil && *ch.name != u.Name {
		before[audit.DetailName], after[audit.DetailName] = u.Name, *ch.name
		u.Name = *ch.name
	}
	if ch.email != nil && *ch.email != u.Email {
		before[audit.DetailEmail], after[audit.DetailEmail] = u.Email, *ch.email
		u.Email = *ch.email
	}
}

// endLogins ends every session of a user but except, and every pending
// two-step login: after a password reset, a disable or a password change,
// nothing begun with the old state may finish.
func endLogins(ctx context.Context, tx Store, id user.ID, except string) (int, error) {
	if _, err := tx.Challenges().DeleteUser(ctx, id); err != nil {
		return 0, err
	}
	return tx.Sessions().DeleteUser(ctx, id, except)
}

// checkRegroup applies the rules for moving u into group to.
func (m *Manager) checkRegroup(ctx context.Context, tx Store, a *Principal, u *user.User, to group.ID) error {
	if u.ID == a.user.ID {
		return denied(DenyOwnGroup, "nobody changes their own group")
	}
	g, err := getGroupFor(ctx, tx, to)
	if err != nil {
		return err
	}
	if err := mayManage(a, g); err != nil {
		return err
	}
	return m.checkNotLastAdmin(ctx, tx, u)
}

// getGroupFor reads the group a user is to join: one that does not exist
// is bad input in the GroupID field.
func getGroupFor(ctx context.Context, tx Store, id group.ID) (*group.Group, error) {
	g, err := tx.Groups().Get(ctx, id)
	if errors.Is(err, group.ErrNotFound) {
		return nil, inField(FieldGroupID, err)
	}
	return g, err
}

// checkNotLastAdmin refuses a change that takes u out of the enabled admins
// when u is the last one. It runs inside the change's transaction, which the
// store serializes, so two admins cannot demote each other at once.
func (m *Manager) checkNotLastAdmin(ctx context.Context, tx Store, u *user.User) error {
	if u.GroupID != string(group.AdminID) || u.Disabled {
		return nil
	}
	n, err := tx.Users().CountInGroup(ctx, string(group.AdminID), true)
	if err != nil {
		return err
	}
	if n <= 1 {
		return lastAdmin()
	}
	return nil
}

// DeleteUser removes an account for good, with its sessions, avatar and
// second factors; the user is logged out before the call returns. It needs
// users:write and the actor must hold every permission of the user's group.
func (m *Manager) DeleteUser(ctx context.Context, actor *Principal, id user.ID) error {
	return m.change(ctx, actor, group.UsersWrite, audit.UserDeleted, userTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		u, err := tx.Users().Get(ctx, id)
		if err != nil {
			return err
		}
		if err := m.mayManageUser(ctx, tx, a, id); err != nil {
			return err
		}
		if err := m.checkNotLastAdmin(ctx, tx, u); err != nil {
			return err
		}
		if _, err := tx.Sessions().DeleteUser(ctx, id, ""); err != nil {
			return err
		}
		e.Details = map[string]any{audit.DetailEmail: u.Email, audit.DetailName: u.Name, audit.DetailGroup: u.GroupID}
		return tx.Users().Delete(ctx, id)
	})
}

// SetDisabled disables or re-enables an account. Disabling ends every
// session of the user before the call returns; a disabled user cannot log
// in. It needs users:write; the last enabled admin cannot be disabled.
func (m *Manager) SetDisabled(ctx context.Context, actor *Principal, id user.ID, disabled bool) error {
	action := audit.UserEnabled
	if disabled {
		action = audit.UserDisabled
	}
	return m.change(ctx, actor, group.UsersWrite, action, userTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		u, err := tx.Users().Get(ctx, id)
		if err != nil {
			return err
		}
		if err := m.mayManageUser(ctx, tx, a, id); err != nil {
			return err
		}
		if disabled {
			if err := m.checkNotLastAdmin(ctx, tx, u); err != nil {
				return err
			}
			n, err := endLogins(ctx, tx, id, "")
			if err != nil {
				return err
			}
			e.Details = map[string]any{audit.DetailSessionsRevoked: n}
		}
		if u.Disabled == disabled {
			e.Action = ""
			return nil
		}
		u.Disabled = disabled
		u.UpdatedAt = m.clock()
		return stale(tx.Users().Update(ctx, u))
	})
}

// ResetPassword sets a new password for a user, e.g. one who forgot
// theirs, and ends all of that user's sessions and the trust of their
// devices (see [Manager.RevokeDevices]). It needs users:write and the actor
// must hold every permission of the user's group.
func (m *Manager) ResetPassword(ctx context.Context, actor *Principal, id user.ID, newPassword string) error {
	if !actor.Can(group.UsersWrite) {
		return m.refuse(ctx, actor, group.UsersWrite, audit.PasswordReset, userTarget(id))
	}
	// The account's email and name, for the password check only: a stale
	// or missing read changes nothing (the write below reads again).
	pc := PasswordContext{UserID: id}
	if u, err := m.store.Users().Get(ctx, id); err == nil {
		pc = accountOf(u)
	}
	pc.byOther = id != actor.user.ID
	hash, err := m.newPasswordHash(ctx, FieldNewPassword, pc, newPassword)
	if err != nil {
		return err
	}
	return m.setPasswordAsAdmin(ctx, actor, id, hash, audit.PasswordReset)
}

// RequirePasswordChange requires user id to change the password: until
// the user has ([Manager.ChangePassword], which clears the requirement in
// the same transaction), every session of the account may do nothing but
// change its password ([Principal.MustChangePassword],
// [ErrPasswordChangeRequired]); logging in still works, so that the user
// can. It is audited (user.password_change_required); requiring it of a
// user who already owes one changes and records nothing.
//
// It is a call of its own rather than part of [Manager.ResetPassword]
// because a reset does not always mean the administrator chose the
// password (an import, a reset the user asked for over the phone): the
// admin page that resets a password calls this next when asked to. Order
// does not matter, since the requirement is read afresh on every request
// of every session. Like ResetPassword it needs users:write and every
// permission of the user's group, and is refused for the actor's own
// account. It is refused (ErrForbidden) when the user's group does not
// grant profile:update_password, as the user could then never change it.
func (m *Manager) RequirePasswordChange(ctx context.Context, actor *Principal, id user.ID) error {
	if !actor.Can(group.UsersWrite) {
		return m.refuse(ctx, actor, group.UsersWrite, audit.PasswordChangeRequired, userTarget(id))
	}
	return m.change(ctx, actor, group.UsersWrite, audit.PasswordChangeRequired, userTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		if id == a.user.ID {
			return denied(DenyOwnAccount, "you cannot require a change of your own password")
		}
		u, err := tx.Users().Get(ctx, id)
		if err != nil {
			return err
		}
		g, err := tx.Groups().Get(ctx, group.ID(u.GroupID))
		if err != nil {
			return err
		}
		if err := mayManage(a, g); err != nil {
			return err
		}
		if !group.NewSet(g.Permissions).Has(group.ProfileUpdatePassword) {
			return m.aboutPermission(DenyTargetLacks, group.ProfileUpdatePassword,
				fmt.Sprintf("group %q does not grant %s, so the user could never change it", g.Name, group.ProfileUpdatePassword))
		}
		if u.MustChangePassword {
			e.Action = ""
			return nil
		}
		return tx.Users().SetMustChangePassword(ctx, id, true)
	})
}

// ImportPasswordHash sets a user's password to a bcrypt hash made by
// another system (one that hashed the raw password with bcrypt, as most
// do), for a migration to usher. The hash is stored bound to the account
// under the secret key, so it verifies like any imported hash and is
// upgraded to usher's own format at the user's next login; a bcrypt hash
// written to the store any other way is refused, since only someone with
// the key can bind it (invariant 4). Like [Manager.ResetPassword] it needs
// users:write and every permission of the user's group, ends the user's
// sessions and device trust, and is audited (user.password_imported). A
// hash that is not bcrypt is a [FieldError] for [FieldPasswordHash]
// wrapping [ErrInvalidPasswordHash].
func (m *Manager) ImportPasswordHash(ctx context.Context, actor *Principal, id user.ID, bcryptHash string) error {
	if !actor.Can(group.UsersWrite) {
		return m.refuse(ctx, actor, group.UsersWrite, audit.PasswordImported, userTarget(id))
	}
	cost, err := bcrypt.Cost([]byte(bcryptHash))
	if len(bcryptHash) > 128 || !isPlainBcrypt(bcryptHash) || err != nil || cost > bcrypt.MaxCost {
		return inField(FieldPasswordHash, ErrInvalidPasswordHash)
	}
	wrapped, ok := m.hasher.wrap(id, bcryptHash)
	if !ok {
		return inField(FieldPasswordHash, ErrInvalidPasswordHash)
	}
	return m.setPasswordAsAdmin(ctx, actor, id, wrapped, audit.PasswordImported)
}

// setPasswordAsAdmin stores hash as another user's password and ends what
// the old password opened: sessions, pending logins, device trust.
func (m *Manager) setPasswordAsAdmin(ctx context.Context, actor *Principal, id user.ID, hash string, action audit.Action) error {
	return m.change(ctx, actor, group.UsersWrite, action, userTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		if id == a.user.ID {
			return denied(DenyOwnAccount, "change your own password with ChangePassword")
		}
		if err := m.mayManageUser(ctx, tx, a, id); err != nil {
			return err
		}
		if err := tx.Users().SetPasswordHash(ctx, id, hash); err != nil {
			return err
		}
		n, err := endLogins(ctx, tx, id, "")
		if err != nil {
			return err
		}
		e.Details = map[string]any{audit.DetailSessionsRevoked: n}
		return revokeDevices(ctx, tx, id, e)
	})
}

// UnlockLogin clears every throttling count of a user's account (the
// back-off of each network and device, the day's budget, the second
// factor's failures), ending any back-off at once (for a user who proved
// who they are some other way). It needs users:write and every permission
// of the user's group.
func (m *Manager) UnlockLogin(ctx context.Context, actor *Principal, id user.ID) error {
	return m.change(ctx, actor, group.UsersWrite, audit.LoginUnlocked, userTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		u, err := tx.Users().Get(ctx, id)
		if err != nil {
			return err
		}
		if err := m.mayManageUser(ctx, tx, a, id); err != nil {
			return err
		}
		return tx.Throttle().ResetPrefix(ctx, throttlePrefix(u.Email))
	})
}
