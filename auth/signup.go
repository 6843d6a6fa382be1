package auth

import (
	"context"
	"errors"
	"fmt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// SignUp is the first account's registration.
type SignUp struct {
	Email    string
	Name     string
	Password string
	// BootstrapToken must equal Config.BootstrapToken when that is set,
	// and otherwise be the setup token of [Manager.SetupToken], unless
	// Config.InsecureOpenFirstSignup is set.
	BootstrapToken string
}

// SignupOpen reports whether sign-up is still possible, i.e. no account
// exists yet. A page uses it to decide whether to offer the form; SignUp
// itself decides again, atomically.
func (m *Manager) SignupOpen(ctx context.Context) (bool, error) {
	n, err := m.store.Users().Count(ctx)
	return n == 0, err
}

// SignUp creates the first account, in the built-in admin group, and logs
// it in. Exactly one sign-up can ever succeed, even when many race: the
// count and the insert happen in one serialized transaction. Every later
// call fails with [ErrSignupClosed]; further accounts are made by an admin
// with [Manager.CreateUser]. Unless the host chose otherwise
// (Config.BootstrapToken, Config.InsecureOpenFirstSignup), it needs the
// setup token of [Manager.SetupToken], which it spends: a wrong, expired
// or spent token is [ErrBootstrapToken].
func (m *Manager) SignUp(ctx context.Context, in SignUp, c Client) (*Session, error) {
	c = c.clean()
	if open, err := m.SignupOpen(ctx); err != nil {
		return nil, err
	} else if !open {
		return nil, ErrSignupClosed // cheap refusal before spending a bcrypt
	}
	setup, err := m.checkSignupToken(ctx, in.BootstrapToken, c)
	if err != nil {
		return nil, err
	}
	u, err := m.newUser(in.Email, in.Name, group.AdminID)
	if err != nil {
		return nil, err
	}
	hash, err := m.newPasswordHash(ctx, FieldPassword, accountOf(u), in.Password)
	if err != nil {
		return nil, err
	}
	var s *Session
	err = m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		s, err = m.createFirst(ctx, tx, rec, u, hash, setup, c)
		return err
	})
	if errors.Is(err, errSetupSpent) {
		return nil, m.wrongSignupToken(ctx, c, "setup token expired or spent")
	}
	if err != nil {
		return nil, err
	}
	return s, nil
}

// createFirst makes u, the first account, inside tx and opens its
// session, unless an account exists already; it spends the setup token of
// hash setup (when not nil) in the same transaction, so that of sign-ups
// racing with one token only one can win.
func (m *Manager) createFirst(ctx context.Context, tx Store, rec func(*audit.Event) error,
	u *user.User, hash string, setup []byte, c Client) (*Session, error) {
	n, err := tx.Users().Count(ctx)
	if err != nil {
		return nil, err
	}
	if n > 0 {
		return nil, ErrSignupClosed
	}
	if setup != nil {
		if ok, err := tx.Setup().Spend(ctx, setup, m.clock()); err != nil {
			return nil, err
		} else if !ok {
			return nil, errSetupSpent
		}
	}
	if err := tx.Users().Create(ctx, u, hash); err != nil {
		return nil, err
	}
	if err := tx.Users().SetLastLogin(ctx, u.ID, u.CreatedAt); err != nil {
		return nil, err
	}
	s, err := m.issueSession(ctx, tx, u, c)
	if err != nil {
		return nil, err
	}
	e := selfEvent(audit.SignUp, audit.Success, u, c)
	e.Details = map[string]any{audit.DetailEmail: u.Email, audit.DetailName: u.Name, audit.DetailGroup: string(group.AdminID)}
	return s, rec(e)
}

// errSetupSpent: the setup token a sign-up presented was valid before the
// transaction and no longer is inside it.
var errSetupSpent = errors.New("auth: setup token spent")

// newUser validates the fields of a new account and returns it with a
// fresh ID and timestamps.
func (m *Manager) newUser(email, name string, gid group.ID) (*user.User, error) {
	email, err := user.NormalizeEmail(email)
	if err != nil {
		return nil, inField(FieldEmail, err)
	}
	name, err = user.NormalizeName(name)
	if err != nil {
		return nil, inField(FieldName, err)
	}
	id, err := m.newID()
	if err != nil {
		return nil, fmt.Errorf("auth: %w", err)
	}
	now := m.clock()
	return &user.User{
		ID: user.ID(id), Email: email, Name: name, GroupID: string(gid),
		CreatedAt: now, UpdatedAt: now,
	}, nil
}
