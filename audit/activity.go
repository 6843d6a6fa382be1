package audit

import (
	"context"
	"time"
)

// DayCount is how many events of one action a [Counter] found on one day.
type DayCount struct {
	// Day is the day's first instant, midnight UTC.
	Day    time.Time
	Action Action
	// Count includes the repeats an event stands for: an event folded by
	// into one (see [Chain]) counts Details[DetailRepeated] times (at least
	// once).
	Count int64
}

// Counter is an optional interface of a [Log] that counts events per day
// and action in one query, for activity charts. auth.Manager.LoginActivity
// needs it; usher's stores have it.
type Counter interface {
	// CountByDay counts the events whose Action is one of actions and
	// whose Time is in [since, until), grouped by UTC day and action.
	// It returns only the (day, action) pairs with events, ordered by
	// day then action; no actions, or until not after since, count
	// nothing. An event that folds repeats counts as many times as it
	// happened. It must use an index on (action, time), not read the
	// whole trail. Safe for concurrent use.
	CountByDay(ctx context.Context, actions []Action, since, until time.Time) ([]DayCount, error)
}
