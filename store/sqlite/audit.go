package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"strconv"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
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

// Query pages newest first on the (time, id) keyset (see
// store/internal/paging). Every filter column leads an index ending in time
// (which SQLite extends with id), so a page is one index seek whichever
// single filter is set.
func (as auditStore) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return audit.Page{}, err
	}
	query, args, _, err := dialect.Events(q) // SQLite stores any string
	if err != nil {
		return audit.Page{}, err
	}
	rows, err := as.s.r.QueryContext(ctx, query, args...)
	if err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	defer rows.Close()
	var (
		id, t   int64
		details sql.NullString
	)
	page, err := paging.ReadEvents(rows, q.Limit, func(e *audit.Event) error {
		err := rows.Scan(&id, &t, &e.Action, &e.Outcome, &e.Actor.ID, &e.Actor.Email, &e.Target.Type,
			&e.Target.ID, &e.IP, &e.UserAgent, &e.Reason, &details)
		if err != nil {
			return err
		}
		e.ID, e.Time = strconv.FormatInt(id, 10), fromNanos(t)
		if details.Valid {
			if err := json.Unmarshal([]byte(details.String), &e.Details); err != nil {
				return fmt.Errorf("event %d details: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return audit.Page{}, wrap("query audit", err)
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
