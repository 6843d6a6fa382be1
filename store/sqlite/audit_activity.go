package sqlite

import (
	"context"
	"strconv"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
)

// CountByDay is audit.Counter: one GROUP BY over a range of the
// audit_action index (action, time) for each action, so it reads the
// matching events only, never the whole trail; successful logins, which
// that index leaves out (migration 0020), are counted over the range of
// audit_time, where they are most of the rows. A folded repeat counts its
// repeats.
func (as auditStore) CountByDay(ctx context.Context, actions []audit.Action, since, until time.Time) ([]audit.DayCount, error) {
	if len(actions) == 0 || !until.After(since) {
		return nil, nil
	}
	args := make([]any, 2, len(actions)+2)
	args[0], args[1] = nanos(since), nanos(until)
	succeeded := false
	for _, a := range actions {
		if a == audit.LoginSucceeded {
			succeeded = true
			continue
		}
		args = append(args, string(a))
	}
	rows, err := as.s.r.QueryContext(ctx, countByDayQuery(len(args)-2, succeeded), args...)
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

// countByDayQuery counts the events per day of n actions other than
// audit.LoginSucceeded, and of that one too when succeeded is set:
// arguments since, until, then the n actions.
func countByDayQuery(n int, succeeded bool) string {
	// A stored time is Unix nanoseconds: 86400e9 of them make a UTC day.
	const day = `SELECT time / 86400000000000 AS day, action, repeats FROM audit_events WHERE `
	var arms []string
	if n > 0 {
		in := make([]string, n)
		for i := range in {
			in[i] = "?" + strconv.Itoa(i+3)
		}
		arms = append(arms, day+`action IN (`+strings.Join(in, ",")+`) AND `+dialect.RareAction+` AND time >= ?1 AND time < ?2`)
	}
	if succeeded {
		arms = append(arms, day+`action = '`+string(audit.LoginSucceeded)+`' AND time >= ?1 AND time < ?2`)
	}
	return `SELECT day, action, SUM(repeats) FROM (` + strings.Join(arms, " UNION ALL ") + `)
		GROUP BY day, action
		ORDER BY day, action`
}
