package auth

import (
	"context"
	"fmt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// ProfileUpdate changes the actor's own account; nil fields stay.
type ProfileUpdate struct {
	Name  *string // needs profile:update_name
	Email *string // needs profile:update_email
}

// UpdateProfile changes the actor's own name and email.
func (m *Manager) UpdateProfile(ctx context.Context, actor *Principal, up ProfileUpdate) (*user.User, error) {
	ch, err := parseNameEmail(up.Name, up.Email)
	if err != nil {
		return nil, err
	}
	var out *user.User
	target := audit.Target{Type: audit.TargetUser}
	if actor != nil {
		target.ID = string(actor.User.ID)
	}
	err = m.change(ctx, actor, "", audit.ProfileUpdated, target, func(tx Store, a *Principal, e *audit.Event) error {
		u := a.User
		before, after := map[string]any{}, map[string]any{}
		ch.apply(&u, before, after)
		for field, perm := range map[string]group.Permission{"name": group.ProfileUpdateName, "email": group.ProfileUpdateEmail} {
			if _, changed := after[field]; changed && !a.Can(perm) {
				return fmt.Errorf("%w: needs %s", ErrForbidden, perm)
			}
		}
		out = &u
		if len(after) == 0 {
			e.Action = ""
			return nil
		}
		u.UpdatedAt = m.clock()
		e.Details = map[string]any{"before": before, "after": after}
		return tx.Users().Update(ctx, &u)
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// ChangePassword sets the actor's own password after checking the current
// one, and ends the actor's other sessions (OWASP ASVS 5.0 V6.2.3, V7.4.3).
// It needs profile:update_password. A wrong current password gives
// [ErrInvalidCredentials] and counts as a failed login for throttling, so a
// stolen session cannot guess the password freely.
func (m *Manager) ChangePassword(ctx context.Context, actor *Principal, current, next string) error {
	target := audit.Target{Type: audit.TargetUser}
	if actor != nil {
		target.ID = string(actor.User.ID)
	}
	if !actor.Can(group.ProfileUpdatePassword) {
		return m.refuse(ctx, actor, group.ProfileUpdatePassword, audit.PasswordChanged, target)
	}
	c := actor.client()
	key := accountKey(actor.User.Email)
	if err := m.checkThrottle(ctx, key, c); err != nil {
		return err
	}
	stored, err := m.store.Users().PasswordHash(ctx, actor.User.ID)
	if err != nil {
		return err
	}
	if len(current) > MaxPasswordBytes {
		current = current[:MaxPasswordBytes] // cannot match; still costs a bcrypt
		stored = ""
	}
	if ok, _ := m.hasher.verify(stored, current); !ok {
		u := actor.User
		return m.loginFailed(ctx, key, &u, u.Email, c, "wrong current password on password change")
	}
	hash, err := m.newPasswordHash(ctx, next)
	if err != nil {
		return err
	}
	return m.change(ctx, actor, group.ProfileUpdatePassword, audit.PasswordChanged, target, func(tx Store, a *Principal, e *audit.Event) error {
		if err := tx.Users().SetPasswordHash(ctx, a.User.ID, hash); err != nil {
			return err
		}
		if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
			return err
		}
		n, err := tx.Sessions().DeleteUser(ctx, a.User.ID, a.Session.ID)
		e.Details = map[string]any{"other_sessions_revoked": n}
		return err
	})
}

// SetAvatar stores the actor's avatar. The image must be PNG, JPEG, GIF or
// WebP (recognised by content), at most [MaxAvatarBytes] and
// [MaxAvatarPixels] on each side; it is decoded and re-encoded, which strips
// metadata such as EXIF and GPS. It needs profile:update_avatar.
func (m *Manager) SetAvatar(ctx context.Context, actor *Principal, image []byte) error {
	target := audit.Target{Type: audit.TargetUser}
	if actor != nil {
		target.ID = string(actor.User.ID)
	}
	if !actor.Can(group.ProfileUpdateAvatar) {
		return m.refuse(ctx, actor, group.ProfileUpdateAvatar, audit.AvatarChanged, target)
	}
	data, contentType, err := normalizeAvatar(image)
	if err != nil {
		return err
	}
	return m.change(ctx, actor, group.ProfileUpdateAvatar, audit.AvatarChanged, target, func(tx Store, a *Principal, e *audit.Event) error {
		e.Details = map[string]any{"content_type": contentType, "bytes": len(data)}
		return tx.Users().SetAvatar(ctx, a.User.ID, data, contentType)
	})
}

// RemoveAvatar deletes the actor's avatar. It needs profile:update_avatar.
func (m *Manager) RemoveAvatar(ctx context.Context, actor *Principal) error {
	target := audit.Target{Type: audit.TargetUser}
	if actor != nil {
		target.ID = string(actor.User.ID)
	}
	return m.change(ctx, actor, group.ProfileUpdateAvatar, audit.AvatarChanged, target, func(tx Store, a *Principal, e *audit.Event) error {
		e.Details = map[string]any{"removed": true}
		return tx.Users().SetAvatar(ctx, a.User.ID, nil, "")
	})
}

// Avatar returns a user's avatar and its content type, or
// [user.ErrNoAvatar]. Avatars are not secret: any caller may read one.
func (m *Manager) Avatar(ctx context.Context, id user.ID) ([]byte, string, error) {
	return m.store.Users().Avatar(ctx, id)
}
