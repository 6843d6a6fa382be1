package auth

import (
	"context"
	"errors"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// ProfileUpdate changes the actor's own account; nil fields stay.
type ProfileUpdate struct {
	Name  *string // needs profile:update_name
	Email *string // needs profile:update_email and Password
	// Password is the current password, required to change the email:
	// the email is the login name, so a stolen session must not be able to
	// change it and lock the owner out.
	Password string
}

// UpdateProfile changes the actor's own name and email. Changing the email
// needs the current password, ends the actor's other sessions (OWASP ASVS
// 5.0 V7.5.1) and replaces the actor's own session with a new one (V7.2.4),
// which it returns: hand its Token to the client
// ([Manager.SetSessionCookie]), as the actor's old token no longer works.
// The session is nil when the email did not change and the old one goes
// on. The new address is not verified by usher: a host that needs proof of
// ownership sends its own confirmation first.
func (m *Manager) UpdateProfile(ctx context.Context, actor *Principal, up ProfileUpdate) (*user.User, *Session, error) {
	ch, err := parseNameEmail(up.Name, up.Email)
	if err != nil {
		return nil, nil, err
	}
	key, err := m.reauthForEmail(ctx, actor, ch, up.Password)
	if err != nil {
		return nil, nil, err
	}
	var out *user.User
	var s *Session
	err = m.change(ctx, actor, "", audit.ProfileUpdated, selfTarget(actor), func(tx Store, a *Principal, e *audit.Event) error {
		u := a.user
		before, after := map[string]any{}, map[string]any{}
		ch.apply(&u, before, after)
		if err := profileAllowed(a, after); err != nil {
			return err
		}
		out = &u
		if len(after) == 0 {
			e.Action = ""
			return nil
		}
		if _, changed := after[audit.DetailEmail]; changed {
			var err error
			if s, err = m.emailChanged(ctx, tx, a, e, key); err != nil {
				return err
			}
		}
		u.UpdatedAt = m.clock()
		e.Details = withDetail(e.Details, audit.DetailBefore, before)
		e.Details[audit.DetailAfter] = after
		return stale(taken(tx.Users().Update(ctx, &u)))
	})
	if err != nil {
		return nil, nil, err
	}
	return out, s, nil
}

// reauthForEmail checks the current password when ch changes the actor's
// email and the actor may change it, and returns the throttle key to reset
// ("" when nothing was checked).
func (m *Manager) reauthForEmail(ctx context.Context, actor *Principal, ch nameEmail, password string) (string, error) {
	if ch.email == nil || actor == nil || *ch.email == actor.user.Email || !actor.Can(group.ProfileUpdateEmail) {
		return "", nil
	}
	if password == "" {
		return "", ErrReauthRequired
	}
	return m.verifyOwnPassword(ctx, actor, password, "wrong current password on email change")
}

// profileAllowed checks that a holds the permission of every profile field
// in after.
func profileAllowed(a *Principal, after map[string]any) error {
	for field, perm := range map[string]group.Permission{audit.DetailName: group.ProfileUpdateName, audit.DetailEmail: group.ProfileUpdateEmail} {
		if _, changed := after[field]; changed && !a.Can(perm) {
			return a.by.needs(perm)
		}
	}
	return nil
}

// emailChanged does what a new login name demands inside the profile's
// transaction: the password was checked for it (key), that check's
// failures are forgotten, the actor's other sessions and pending logins
// end, and the actor's own session is replaced, the new one returned.
func (m *Manager) emailChanged(ctx context.Context, tx Store, a *Principal, e *audit.Event, key string) (*Session, error) {
	if key == "" {
		return nil, ErrReauthRequired // the email changed since the password was checked
	}
	if err := tx.Throttle().ResetFailures(ctx, key); err != nil {
		return nil, err
	}
	n, err := endLogins(ctx, tx, a.user.ID, a.session.ID)
	if err != nil {
		return nil, err
	}
	e.Details = map[string]any{audit.DetailOtherSessionsRevoked: n}
	return m.replaceSession(ctx, tx, a, true, e)
}

// ChangePassword sets the actor's own password after checking the current
// one, ends the actor's other sessions (OWASP ASVS 5.0 V6.2.3, V7.4.3) and
// the trust of the user's devices (see [Manager.RevokeDevices]), and
// replaces the actor's own session with a new one (V7.2.4), which it
// returns: hand its Token to the client ([Manager.SetSessionCookie]), as
// the actor's old token no longer works. It needs profile:update_password.
// A wrong current password gives [ErrInvalidCredentials] and counts as a
// failed login for throttling, so a stolen session cannot guess the
// password freely. It clears a change an administrator required
// ([Manager.RequirePasswordChange]) in the same transaction, and is the one
// operation a principal that owes one may use.
func (m *Manager) ChangePassword(ctx context.Context, actor *Principal, current, newPassword string) (*Session, error) {
	target := selfTarget(actor)
	if !actor.Can(group.ProfileUpdatePassword) {
		return nil, m.refuse(ctx, actor, group.ProfileUpdatePassword, audit.PasswordChanged, target)
	}
	key, err := m.verifyOwnPassword(ctx, actor, current, "wrong current password on password change")
	if err != nil {
		return nil, err
	}
	hash, err := m.newPasswordHash(ctx, FieldNewPassword, accountOf(&actor.user), newPassword)
	if err != nil {
		return nil, err
	}
	var s *Session
	err = m.change(ctx, actor, group.ProfileUpdatePassword, audit.PasswordChanged, target, func(tx Store, a *Principal, e *audit.Event) error {
		if err := m.storeOwnPassword(ctx, tx, a, hash, key); err != nil {
			return err
		}
		n, err := endLogins(ctx, tx, a.user.ID, a.session.ID)
		if err != nil {
			return err
		}
		e.Details = map[string]any{audit.DetailOtherSessionsRevoked: n}
		if err := revokeDevices(ctx, tx, a.user.ID, e); err != nil {
			return err
		}
		s, err = m.replaceSession(ctx, tx, a, true, e)
		return err
	})
	if err != nil {
		return nil, err
	}
	return s, nil
}

// storeOwnPassword writes the actor's new password hash, clears a change
// it owed and resets the login failures counted under key.
func (m *Manager) storeOwnPassword(ctx context.Context, tx Store, a *Principal, hash, key string) error {
	if err := tx.Users().SetPasswordHash(ctx, a.user.ID, hash); err != nil {
		return err
	}
	if a.user.MustChangePassword {
		if err := tx.Users().SetMustChangePassword(ctx, a.user.ID, false); err != nil {
			return err
		}
		a.user.MustChangePassword = false
	}
	return tx.Throttle().ResetFailures(ctx, key)
}

// verifyOwnPassword checks the actor's current password before a sensitive
// change (OWASP ASVS 5.0 V6.2.3, V7.5.1). It is throttled and counted like a
// login, so a stolen session cannot guess the password freely; the caller
// resets the count (the returned key) in its transaction on success.
func (m *Manager) verifyOwnPassword(ctx context.Context, actor *Principal, password, failReason string) (string, error) {
	u, err := m.store.Users().Get(ctx, actor.user.ID)
	if err != nil {
		return "", err
	}
	c := actor.Client()
	key := accountKey(u.Email)
	n, err := m.reserveAttempt(ctx, key, c, u.Email)
	if err != nil {
		return "", err
	}
	stored, err := m.store.Users().PasswordHash(ctx, u.ID)
	if err != nil {
		return "", err
	}
	if len(password) > MaxPasswordBytes {
		password = password[:MaxPasswordBytes] // cannot match; still costs a bcrypt
		stored = ""
	}
	if ok, _ := m.hasher.verify(u.ID, stored, password); !ok {
		return "", m.loginFailed(ctx, n, u, u.Email, c, failReason)
	}
	return key, nil
}

// SetAvatar stores the actor's avatar. The image must be PNG, JPEG, GIF or
// WebP (recognised by content), at most [MaxAvatarBytes], [MaxAvatarPixels]
// on each side and [MaxAvatarArea] in all, which admits photos straight
// from a phone; a bigger one is [ErrImageTooLarge], refused from its
// header before any pixel is decoded. The image is turned upright by its
// EXIF orientation, cut to its centred square, scaled down to [AvatarSize]
// pixels square (a smaller one is not enlarged) and re-encoded (a JPEG as
// JPEG, anything else as PNG), so nothing of the upload but its pixels is
// kept: no EXIF, GPS position, XMP, ICC profile or comment. It needs
// profile:update_avatar.
func (m *Manager) SetAvatar(ctx context.Context, actor *Principal, image []byte) error {
	target := selfTarget(actor)
	if !actor.Can(group.ProfileUpdateAvatar) {
		return m.refuse(ctx, actor, group.ProfileUpdateAvatar, audit.AvatarChanged, target)
	}
	data, contentType, err := normalizeAvatarBounded(ctx, image)
	if errors.Is(err, ErrInvalidImage) || errors.Is(err, ErrImageTooLarge) {
		return inField(FieldImage, err)
	} else if err != nil {
		return err
	}
	return m.change(ctx, actor, group.ProfileUpdateAvatar, audit.AvatarChanged, target, func(tx Store, a *Principal, e *audit.Event) error {
		e.Details = map[string]any{audit.DetailContentType: contentType, audit.DetailBytes: len(data)}
		return tx.Users().SetAvatar(ctx, a.user.ID, data, contentType)
	})
}

// RemoveAvatar deletes the actor's avatar. It needs profile:update_avatar.
func (m *Manager) RemoveAvatar(ctx context.Context, actor *Principal) error {
	target := selfTarget(actor)
	return m.change(ctx, actor, group.ProfileUpdateAvatar, audit.AvatarChanged, target, func(tx Store, a *Principal, e *audit.Event) error {
		e.Details = map[string]any{audit.DetailRemoved: true}
		return tx.Users().SetAvatar(ctx, a.user.ID, nil, "")
	})
}

// UserAvatar returns user id's avatar and its content type ("image/jpeg"
// or "image/png": what [Manager.SetAvatar] stored), or [user.ErrNoAvatar]
// for a user without one, to an actor allowed to see that user: the
// actor's own avatar needs no permission (as in [Manager.GetUser]),
// anyone else's needs users:read. A refusal is [ErrForbidden], recorded
// in the audit trail, and says nothing about whether the user exists.
// This is what a host serves avatars through.
func (m *Manager) UserAvatar(ctx context.Context, actor *Principal, id user.ID) ([]byte, string, error) {
	if !m.mine(actor) || actor.user.ID != id {
		if err := m.deniedUnless(ctx, actor, group.UsersRead, userTarget(id)); err != nil {
			return nil, "", err
		}
	}
	return m.store.Users().Avatar(ctx, id)
}

// Avatar returns a user's avatar and its content type, or
// [user.ErrNoAvatar], checking nobody: it is for a host that decides by
// itself who may see an avatar (a public directory, a background job). A
// page served to a signed-in user should call [Manager.UserAvatar], which
// shows someone else's avatar only to an actor with users:read.
func (m *Manager) Avatar(ctx context.Context, id user.ID) ([]byte, string, error) {
	return m.store.Users().Avatar(ctx, id)
}
