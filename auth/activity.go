package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// LoginDay is one UTC day of login activity, as [Manager.LoginActivity]
// counts it from the audit trail.
type LoginDay struct {
	// Day is the day's first instant, midnight UTC.
	Day time.Time
	// Succeeded counts audit.LoginSucceeded (every way of logging in),
	// Failed audit.LoginFailed (wrong password, unknown account, ...),
	// Throttled audit.LoginThrottled (attempts refused unheard).
	Succeeded, Failed, Throttled int64
}

// MaxActivityDays bounds the days [Manager.LoginActivity] counts.
const MaxActivityDays = 366

// loginActions are the actions LoginActivity counts.
var loginActions = []audit.Action{audit.LoginSucceeded, audit.LoginFailed, audit.LoginThrottled}

// LoginActivity counts the logins that succeeded, failed and were
// throttled on each of the last days UTC days, today included: days
// entries, oldest first, a day without any included with zeros. A surge of
// failures or throttled attempts is how a password-guessing campaign shows
// (OWASP ASVS 5.0 V16.3.1). It needs audit:read, and days must be 1 to
// [MaxActivityDays] (a [FieldError] on [FieldQuery] wrapping
// audit.ErrInvalidQuery).
//
// The counting is the store's: its audit log must be an [audit.Counter],
// which counts in one indexed query however long the trail. usher's stores
// are; for a store that is not, LoginActivity fails with
// [errors.ErrUnsupported] rather than read the whole trail page by page.
func (m *Manager) LoginActivity(ctx context.Context, actor *Principal, days int) ([]LoginDay, error) {
	if err := m.deniedUnless(ctx, actor, group.AuditRead, audit.Target{Type: audit.TargetAudit}); err != nil {
		return nil, err
	}
	if days < 1 || days > MaxActivityDays {
		return nil, inField(FieldQuery, fmt.Errorf("%w: days must be 1 to %d", audit.ErrInvalidQuery, MaxActivityDays))
	}
	c, ok := m.store.Audit().(audit.Counter)
	if !ok {
		return nil, fmt.Errorf("auth: the store's audit log cannot count events (audit.Counter): %w", errors.ErrUnsupported)
	}
	now := m.clock().UTC()
	since := time.Date(now.Year(), now.Month(), now.Day()-(days-1), 0, 0, 0, 0, time.UTC)
	counts, err := c.CountByDay(ctx, loginActions, since, since.AddDate(0, 0, days))
	if err != nil {
		return nil, fmt.Errorf("auth: counting logins: %w", err)
	}
	out := make([]LoginDay, days)
	for i := range out {
		out[i].Day = since.AddDate(0, 0, i)
	}
	for _, dc := range counts {
		i := int(dc.Day.Sub(since) / (24 * time.Hour))
		if i < 0 || i >= days {
			continue // a store's rounding: not one of ours
		}
		switch dc.Action {
		case audit.LoginSucceeded:
			out[i].Succeeded += dc.Count
		case audit.LoginFailed:
			out[i].Failed += dc.Count
		case audit.LoginThrottled:
			out[i].Throttled += dc.Count
		}
	}
	return out, nil
}
