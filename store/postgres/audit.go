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
	var details any // NULL when there are none
	if len(e.Details) > 0 {
		b, err := json.Marshal(e.Details)
		if err != nil {
			return wrap("append audit event", fmt.Errorf("details: %w", err))
		}
		details = string(replaceJSONNUL(b))
	}
	// The details go as text and PostgreSQL parses them: a []byte for a
	// jsonb parameter would go as bytea under pgx's exec and simple
	// protocol modes, which a DSN may choose.
	const q = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, ip, user_agent, reason, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11::text::jsonb)
		RETURNING id`
	var id int64
	err := as.s.q.QueryRow(ctx, q, e.Time, toStorable(string(e.Action)), toStorable(string(e.Outcome)),
		toStorable(e.Actor.ID), toStorable(e.Actor.Email), toStorable(e.Target.Type), toStorable(e.Target.ID),
		toStorable(e.IP), toStorable(e.UserAgent), toStorable(e.Reason), details).Scan(&id)
	if err != nil {
		return wrap("append audit event", err)
	}
	e.ID = strconv.FormatInt(id, 10)
	return nil
}

// Query pages newest first on the (time, id) keyset. Every filter column
// leads an index ending in (time, id), so a page is one index range scan
// whichever single filter is set.
func (as auditStore) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return audit.Page{}, err
	}
	var (
		where []string
		args  []any
	)
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	for _, f := range [...]struct{ col, v string }{
		{"action", string(q.Action)},
		{"actor_id", q.ActorID},
		{"target_type", q.TargetType},
		{"target_id", q.TargetID},
		{"outcome", string(q.Outcome)},
	} {
		if f.v == "" {
			continue
		}
		if !storable(f.v) {
			// No stored event holds it.
			return audit.Page{Events: []audit.Event{}}, nil
		}
		where = append(where, f.col+" = "+arg(f.v))
	}
	if !q.Since.IsZero() {
		where = append(where, "time >= "+arg(q.Since))
	}
	if !q.Until.IsZero() {
		where = append(where, "time < "+arg(q.Until))
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
		where = append(where, fmt.Sprintf("(time, id) < (%s, %s)", arg(c.Time), arg(id)))
	}
	var b strings.Builder
	b.WriteString(`SELECT id, time, action, outcome, actor_id, actor_email, target_type, target_id,
		ip, user_agent, reason, details FROM audit_events`)
	if len(where) > 0 {
		b.WriteString(" WHERE " + strings.Join(where, " AND "))
	}
	b.WriteString(" ORDER BY time DESC, id DESC LIMIT " + arg(q.Limit+1))

	rows, err := as.s.q.Query(ctx, b.String(), args...)
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
			id      int64
			t       time.Time
			details []byte
		)
		err := rows.Scan(&id, &t, (*string)(&e.Action), (*string)(&e.Outcome), &e.Actor.ID, &e.Actor.Email, &e.Target.Type,
			&e.Target.ID, &e.IP, &e.UserAgent, &e.Reason, &details)
		if err != nil {
			return audit.Page{}, wrap("query audit", err)
		}
		e.ID, e.Time = strconv.FormatInt(id, 10), t
		if details != nil {
			if err := json.Unmarshal(details, &e.Details); err != nil {
				return audit.Page{}, wrap("query audit", fmt.Errorf("event %d details: %w", id, err))
			}
		}
		page.Events = append(page.Events, e)
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
