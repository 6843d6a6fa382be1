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
	details, err := eventDetails(e)
	if err != nil {
		return wrap("append audit event", err)
	}
	const q = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent, reason, details)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	res, err := as.s.w.ExecContext(ctx, q, eventArgs(e, details)...)
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

// AppendRepeat is audit.Repeater: one upsert on the unique repeat key, so
// the first event under a key is written once even when instances race.
// A new row has no details.repeated; a repeat counts it up from 2.
func (as auditStore) AppendRepeat(ctx context.Context, e *audit.Event, key string) (bool, error) {
	details, err := eventDetails(e)
	if err != nil {
		return false, wrap("append audit event", err)
	}
	const q = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent, reason, details, repeat_key)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)
		ON CONFLICT (repeat_key) WHERE repeat_key IS NOT NULL DO UPDATE SET details = json_set(
			COALESCE(audit_events.details, '{}'), '$.repeated',
			COALESCE(json_extract(audit_events.details, '$.repeated'), 1) + 1)
		RETURNING id, json_extract(details, '$.repeated') IS NULL`
	var (
		id       int64
		appended bool
	)
	if err := as.s.w.QueryRowContext(ctx, q, append(eventArgs(e, details), key)...).Scan(&id, &appended); err != nil {
		return false, wrap("append audit event", err)
	}
	e.ID = strconv.FormatInt(id, 10)
	return appended, nil
}

// eventDetails is e's details as stored: JSON text, NULL when there are
// none.
func eventDetails(e *audit.Event) (any, error) {
	if len(e.Details) == 0 {
		return nil, nil
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		return nil, fmt.Errorf("details: %w", err)
	}
	return string(b), nil
}

// eventArgs are the values of an audit_events row, in the order of the
// INSERTs above.
func eventArgs(e *audit.Event, details any) []any {
	return []any{nanos(e.Time), string(e.Action), string(e.Outcome), e.Actor.ID,
		e.Actor.Email, e.Target.Type, e.Target.ID, e.IP, e.UserAgent, e.Reason, details}
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
