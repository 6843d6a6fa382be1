package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
)

// Append stores e and sets e.ID to the new row's id.
func (as auditStore) Append(ctx context.Context, e *audit.Event) error {
	var details any // NULL when there are none
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return wrap("append audit event", fmt.Errorf("details: %w", err))
		}
		details = string(b)
	}
	const q = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent, reason, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	res, err := as.s.w.ExecContext(ctx, q, nanos(e.Time), string(e.Action), string(e.Outcome), e.Actor.ID,
		e.Actor.Email, e.Target.Type, e.Target.ID, e.IP, e.UserAgent, e.Reason, details)
	if err != nil {
		return wrap("append audit event", err)
	}
	id, err := res.LastInsertId()
	if err != nil {
		return wrap("append audit event", err)
	}
	e.ID = strconv.FormatInt(id, 10)
	return nil
}

// Query pages newest first on the (time, id) keyset. Every filter column
// leads an index ending in time (which SQLite extends with id), so a page is
// one index seek whichever single filter is set.
func (as auditStore) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return audit.Page{}, err
	}
	var (
		where []string
		args  []any
	)
	eq := func(col, v string) {
		if v != "" {
			where = append(where, col+" = ?")
			args = append(args, v)
		}
	}
	eq("action", string(q.Action))
	eq("actor_id", q.ActorID)
	eq("target_type", q.TargetType)
	eq("target_id", q.TargetID)
	eq("outcome", string(q.Outcome))
	if !q.Since.IsZero() {
		where = append(where, "time >= ?")
		args = append(args, q.Since.UnixNano())
	}
	if !q.Until.IsZero() {
		where = append(where, "time < ?")
		args = append(args, q.Until.UnixNano())
	}
	if q.Cursor != "" {
		c, err := audit.DecodeCursor(q.Cursor)
		if err != nil {
			return audit.Page{}, err
		}
		id, err := strconv.ParseInt(c.ID, 10, 64)
		if err != nil {
			return audit.Page{}, fmt.Errorf("%w: bad id", audit.ErrInvalidCursor)
		}
		where = append(where, "(time, id) < (?, ?)")
		args = append(args, nanos(c.Time), id)
	}
	var b strings.Builder
	b.WriteString(`SELECT id, time, action, outcome, actor_id, actor_email, target_type, target_id,
		ip, user_agent, reason, details FROM audit_events`)
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY time DESC, id DESC LIMIT ?")
	args = append(args, q.Limit+1)

	rows, err := as.s.r.QueryContext(ctx, b.String(), args...)
	if err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	defer rows.Close()
	page := audit.Page{Events: make([]audit.Event, 0, min(q.Limit, 64))}
	for rows.Next() {
		if len(page.Events) == q.Limit {
			last := page.Events[len(page.Events)-1]
			page.Next = audit.EncodeCursor(audit.Cursor{Time: last.Time, ID: last.ID})
			break
		}
		var (
			e       audit.Event
			id, t   int64
			details sql.NullString
		)
		err := rows.Scan(&id, &t, &e.Action, &e.Outcome, &e.Actor.ID, &e.Actor.Email, &e.Target.Type,
			&e.Target.ID, &e.IP, &e.UserAgent, &e.Reason, &details)
		if err != nil {
			return audit.Page{}, wrap("query audit", err)
		}
		e.ID, e.Time = strconv.FormatInt(id, 10), fromNanos(t)
		if details.Valid {
			if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
				return audit.Page{}, wrap("query audit", fmt.Errorf("event %d details: %w", id, err))
			}
		}
		page.Events = append(page.Events, e)
	}
	if err := rows.Err(); err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	return page, nil
}

func (as auditStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	res, err := as.s.w.ExecContext(ctx, `DELETE FROM audit_events WHERE time < ?`, nanos(before))
	if err != nil {
		return 0, wrap("prune audit", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap("prune audit", err)
	}
	return n, nil
}
