package auth

import (
	"context"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// change runs one audited change made by actor. Inside a single
// transaction it re-reads the actor, checks perm (none when empty), runs fn
// and records the event fn filled in; fn may clear e.Action to record
// nothing when the change turned out to be a no-op. If anything fails the
// transaction rolls back whole; a refusal (anything wrapping ErrForbidden)
// is then recorded in an event of its own with outcome denied (OWASP ASVS
// 5.0 V16.3.2).
func (m *Manager) change(ctx context.Context, actor *Principal, perm group.Permission, action audit.Action, target audit.Target,
	fn func(tx Store, a *Principal, e *audit.Event) error) error {
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		a, err := m.actorIn(ctx, tx, actor, perm)
		if err != nil {
			return err
		}
		c := a.Client()
		e := &audit.Event{
			Action: action, Outcome: audit.Success, Actor: a.auditActor(), Target: target,
			IP: c.IP, UserAgent: c.UserAgent,
		}
		if err := fn(tx, a, e); err != nil {
			return err
		}
		if e.Action == "" {
			return nil
		}
		return rec(e)
	})
	if err != nil && isDenial(err) {
		m.recordDenial(ctx, actor, action, target, err)
	}
	return err
}

// recordDenial writes a denied event in its own transaction.
func (m *Manager) recordDenial(ctx context.Context, actor *Principal, action audit.Action, target audit.Target, reason error) {
	e := &audit.Event{Action: action, Outcome: audit.Denied, Target: target, Reason: reason.Error()}
	if actor != nil {
		e.Actor = actor.auditActor()
		c := actor.Client()
		e.IP, e.UserAgent = c.IP, c.UserAgent
	}
	m.recordAlone(ctx, e)
}

// refuse records and returns the denial of an action for lack of perm:
// [ErrPasswordChangeRequired] or [ErrEnrollmentRequired] when that is why
// the actor lacks it.
func (m *Manager) refuse(ctx context.Context, actor *Principal, perm group.Permission, action audit.Action, target audit.Target) error {
	var err error = denied(DenyUnauthenticated, "not authenticated")
	switch {
	case perm != "" && m.mine(actor) && !actor.user.Disabled && actor.owed(perm) != nil && actor.perms.Has(perm):
		err = actor.owed(perm)
	case perm != "" && !m.mine(actor):
		// Same text as before for the audit trail; the reason says why.
		err = m.aboutPermission(DenyUnauthenticated, perm, "needs "+string(perm))
	case perm != "":
		err = m.needs(perm)
	}
	m.recordDenial(ctx, actor, action, target, err)
	return err
}

// deniedUnless guards a read: it checks perm on the principal as
// authenticated for this request and records a denial when it is missing.
func (m *Manager) deniedUnless(ctx context.Context, actor *Principal, perm group.Permission, target audit.Target) error {
	if m.mine(actor) && actor.Can(perm) {
		return nil
	}
	if m.mine(actor) {
		if err := actor.owed(perm); err != nil {
			m.recordDenial(ctx, actor, audit.AuthorizationDeny, target, err)
			return err
		}
	}
	return m.refuse(ctx, actor, perm, audit.AuthorizationDeny, target)
}

// mayManageUser loads the target's group inside tx and checks that the
// actor holds everything it grants.
func (m *Manager) mayManageUser(ctx context.Context, tx Store, a *Principal, id user.ID) error {
	u, err := tx.Users().Get(ctx, id)
	if err != nil {
		return err
	}
	g, err := tx.Groups().Get(ctx, group.ID(u.GroupID))
	if err != nil {
		return err
	}
	return mayManage(a, g)
}
