package postgres

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
)

// Append stores e and sets e.ID to the new row's id.
//
// An event records what a client sent, which may be text PostgreSQL cannot
// hold: a target ID taken from a URL with invalid UTF-8 or a NUL in it. Such
// text is stored with U+FFFD in place of each NUL and each run of invalid
// bytes, rather than
// failing the event (and with it the change it records). jsonb refuses the
// escape \u0000 too, so the details get the same treatment.
func (as auditStore) Append(ctx context.Context, e *audit.Event) error {
	// The details go as text and PostgreSQL parses them: a []byte for a
	// jsonb parameter would go as bytea under pgx's exec and simple
	// protocol modes, which a DSN may choose.
	const q = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent, reason, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb)
		RETURNING id`
	args, err := eventArgs(e)
	if err != nil {
		return wrap("append audit event", err)
	}
	var id int64
	if err := as.s.q.QueryRow(ctx, q, args...).Scan(&id); err != nil {
		return wrap("append audit event", err)
	}
	e.ID = strconv.FormatInt(id, 10)
	return nil
}

// AppendRepeat is audit.Repeater: one upsert on the unique repeat key, so
// the first event under a key is written once even when instances race.
// A new row has no details.repeated; a repeat counts it up from 2.
func (as auditStore) AppendRepeat(ctx context.Context, e *audit.Event, key string) (bool, error) {
	const q = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent, reason, details, repeat_key)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb, $12)
		ON CONFLICT (repeat_key) WHERE repeat_key IS NOT NULL DO UPDATE SET details = jsonb_set(
			COALESCE(audit_events.details, '{}'::jsonb), '{repeated}',
			to_jsonb(COALESCE((audit_events.details->>'repeated')::bigint, 1) + 1))
		RETURNING id, details->'repeated' IS NULL`
	args, err := eventArgs(e)
	if err != nil {
		return false, wrap("append audit event", err)
	}
	var (
		id       int64
		appended bool
	)
	if err := as.s.q.QueryRow(ctx, q, append(args, toStorable(key))...).Scan(&id, &appended); err != nil {
		return false, wrap("append audit event", err)
	}
	e.ID = strconv.FormatInt(id, 10)
	return appended, nil
}

// eventArgs are the values of an audit_events row, in the order of the
// INSERTs above, made storable (see Append).
func eventArgs(e *audit.Event) ([]any, error) {
	var details any // NULL when there are none
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return nil, fmt.Errorf("details: %w", err)
		}
		details = string(replaceJSONNUL(b))
	}
	return []any{e.Time, toStorable(string(e.Action)), toStorable(string(e.Outcome)),
		toStorable(e.Actor.ID), toStorable(e.Actor.Email), toStorable(e.Target.Type), toStorable(e.Target.ID),
		toStorable(e.IP), toStorable(e.UserAgent), toStorable(e.Reason), details}, nil
}

// Query pages newest first on the (time, id) keyset (see
// store/internal/paging). Every filter column leads an index ending in
// (time, id), so a page is one index range scan whichever single filter is
// set.
func (as auditStore) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return audit.Page{}, err
	}
	query, args, ok, err := dialect.Events(q)
	if err != nil {
		return audit.Page{}, err
	}
	if !ok { // no stored event holds a filter's value
		return audit.Page{Events: []audit.Event{}}, nil
	}
	rows, err := as.s.q.Query(ctx, query, args...)
	if err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	defer rows.Close()
	var (
		id      int64
		details []byte
	)
	page, err := paging.ReadEvents(rows, q.Limit, func(e *audit.Event) error {
		err := rows.Scan(&id, &e.Time, (*string)(&e.Action), (*string)(&e.Outcome), &e.Actor.ID, &e.Actor.Email,
			&e.Target.Type, &e.Target.ID, &e.IP, &e.UserAgent, &e.Reason, &details)
		if err != nil {
			return err
		}
		e.ID = strconv.FormatInt(id, 10)
		if details != nil {
			if err := json.Unmarshal(details, &e.Details); err != nil {
				return fmt.Errorf("event %d details: %w", id, err)
			}
		}
		return nil
	})
	if err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	return page, nil
}

func (as auditStore) Prune(ctx context.Context, before time.Time) (int64, error) {
	tag, err := as.s.q.Exec(ctx, `DELETE FROM audit_events WHERE time < $1`, before)
	if err != nil {
		return 0, wrap("prune audit", err)
	}
	return tag.RowsAffected(), nil
}

// toStorable returns s with U+FFFD in place of what PostgreSQL's text
// cannot hold: each run of invalid UTF-8, and each NUL.
func toStorable(s string) string {
	if storable(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// replaceJSONNUL rewrites each \u0000 escape in the JSON b as \ufffd.
// json.Marshal has already made strings valid UTF-8 and escapes NUL, so
// this is the only thing jsonb would refuse. Escapes are read in pairs, so
// an escaped backslash followed by "u0000" is left alone.
func replaceJSONNUL(b []byte) []byte {
	if !bytes.Contains(b, []byte(`\u0000`)) {
		return b
	}
	out := make([]byte, 0, len(b))
	for i := 0; i < len(b); i++ {
		switch {
		case b[i] != '\\' || i+1 == len(b):
			out = append(out, b[i])
		case bytes.HasPrefix(b[i:], []byte(`\u0000`)):
			out = append(out, `\ufffd`...)
			i += len(`\u0000`) - 1
		default:
			out = append(out, b[i], b[i+1])
			i++
		}
	}
	return out
}
