package postgres

import (
	"context"
	"time"

	"github.com/usher-go/usher/audit"
)

// CountByDay is audit.Counter: one GROUP BY over a range of the
// audit_action index (action, time, id) for each action, so it reads the
// matching events only, never the whole trail; successful logins, which
// that index leaves out (migration 0018), are counted over the range of
// audit_time, where they are most of the rows. Days are UTC days, counted
// from the Unix epoch. A folded repeat counts its repeats.
func (as auditStore) CountByDay(ctx context.Context, actions []audit.Action, since, until time.Time) ([]audit.DayCount, error) {
	if len(actions) == 0 || !until.After(since) {
		return nil, nil
	}
	names := make([]string, 0, len(actions))
	succeeded := false
	for _, a := range actions {
		if a == audit.LoginSucceeded {
			succeeded = true
			continue
		}
		names = append(names, string(a))
	}
	// Planned with its arguments at every call (DB.perCall, an unnamed
	// statement or the simple protocol): cached, PostgreSQL would switch
	// to a generic plan after five calls on a connection, and a generic
	// plan, which takes the window of unknown bounds for a small one,
	// reads it whole through audit_time. A count is no hot path; planning
	// it costs less than that walk.
	rows, err := as.s.q.Query(ctx, countByDayQuery, as.s.db.perCall, names, since, until, succeeded)
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
// and action: $1 the actions but audit.LoginSucceeded, $2 and $3 since
// and until, $4 whether to count successful logins too. The first arm
// reads audit_action: the planner proves the index's condition from the
// actions' values, which it plans with (CountByDay). The second reads
// nothing when $4 is false.
const countByDayQuery = `SELECT floor(extract(epoch FROM time) / 86400)::bigint AS day, action,
		sum(repeats)::bigint
	FROM (SELECT time, action, repeats FROM audit_events
		WHERE action = ANY($1) AND time >= $2 AND time < $3
		UNION ALL
		SELECT time, action, repeats FROM audit_events
		WHERE $4 AND action = '` + string(audit.LoginSucceeded) + `' AND time >= $2 AND time < $3) AS e
	GROUP BY day, action
	ORDER BY day, action`
