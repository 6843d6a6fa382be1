package sqlite

import (
	"context"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
)

// CountByDay is audit.Counter: one GROUP BY whose WHERE is a range on the
// audit_action index (action, time) for each action, so it reads the
// matching events only, never the whole trail. A folded repeat counts
// its repeats.
func (as auditStore) CountByDay(ctx context.Context, actions []audit.Action, since, until time.Time) ([]audit.DayCount, error) {
	if len(actions) == 0 || !until.After(since) {
		return nil, nil
	}
	args := make([]any, 0, len(actions)+2)
	for _, a := range actions {
		args = append(args, string(a))
	}
	args = append(args, nanos(since), nanos(until))
	rows, err := as.s.r.QueryContext(ctx, countByDayQuery(len(actions)), args...)
	if err != nil {
		return nil, wrap("count audit events", err)
	}
	defer rows.Close()
	var out []audit.DayCount
	for rows.Next() {
		var (
			day int64
			c   audit.DayCount
		)
		if err := rows.Scan(&day, &c.Action, &c.Count); err != nil {
			return nil, wrap("count audit events", err)
		}
		c.Day = time.Unix(day*86400, 0).UTC()
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("count audit events", err)
	}
	return out, nil
}

// countByDayQuery counts n actions' events per day: arguments the n
// actions, then since and until.
func countByDayQuery(n int) string {
	// A stored time is Unix nanoseconds: 86400e9 of them make a UTC day.
	return `SELECT time / 86400000000000 AS day, action, SUM(repeats)
		FROM audit_events
		WHERE action IN (` + strings.TrimSuffix(strings.Repeat("?,", n), ",") + `) AND time >= ? AND time < ?
		GROUP BY day, action
		ORDER BY day, action`
}
