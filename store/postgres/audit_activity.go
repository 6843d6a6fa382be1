package postgres

import (
	"context"
	"time"

	"github.com/usher-go/usher/audit"
)

// CountByDay is audit.Counter: one GROUP BY whose WHERE is a range on the
// audit_action index (action, time, id) for each action, so it reads the
// matching events only, never the whole trail. Days are UTC days, counted
// from the Unix epoch. A folded repeat counts its repeats.
func (as auditStore) CountByDay(ctx context.Context, actions []audit.Action, since, until time.Time) ([]audit.DayCount, error) {
	if len(actions) == 0 || !until.After(since) {
		return nil, nil
	}
	names := make([]string, len(actions))
	for i, a := range actions {
		names[i] = string(a)
	}
	rows, err := as.s.q.Query(ctx, countByDayQuery, names, since, until)
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
		if err := rows.Scan(&day, (*string)(&c.Action), &c.Count); err != nil {
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

// countByDayQuery counts events per UTC day (days since the Unix epoch)
// and action: $1 the actions, $2 and $3 since and until.
const countByDayQuery = `SELECT floor(extract(epoch FROM time) / 86400)::bigint AS day, action,
		sum(repeats)::bigint
	FROM audit_events
	WHERE action = ANY($1) AND time >= $2 AND time < $3
	GROUP BY day, action
	ORDER BY day, action`
