package postgres

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/internal/auditjson"
	"github.com/usher-go/usher/store/internal/detailjson"
)

// Append stores e outside the chain and sets e.ID to the new row's id.
// auth.Manager never calls it (it appends through AppendChained); an
// event written this way shows as an insertion when the chain is checked.
//
// An event records what a client sent, which may be text PostgreSQL cannot
// hold: a target ID taken from a URL with invalid UTF-8 or a NUL in it. Such
// text is stored with U+FFFD in place of each NUL and each run of invalid
// bytes, rather than failing the event (and with it the change it
// records). jsonb refuses the escape \u0000 too, so the details get the
// same treatment.
func (as auditStore) Append(ctx context.Context, e *audit.Event) error {
	// The details go as text and PostgreSQL parses them: a []byte for a
	// jsonb parameter would go as bytea under pgx's exec and simple
	// protocol modes, which a DSN may choose.
	const q = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, target_label, ip, user_agent, reason, details)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb)
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

// AppendChained is audit.Chain's append, in one transaction (the caller's,
// or its own). Atomic's advisory lock already runs writers one after
// another; the head moves only from the head that was read (see
// chainHead), so that the chain holds even against a writer outside
// Atomic.
func (as auditStore) AppendChained(ctx context.Context, e *audit.Event, repeatKey string, seal audit.Sealer, fold audit.Folder) (bool, error) {
	appended := false
	err := as.s.Atomic(ctx, func(tx auth.Store) error {
		var err error
		appended, err = tx.(*scope).appendChained(ctx, e, repeatKey, seal, fold)
		return err
	})
	if err != nil {
		return false, wrap("append audit event", err)
	}
	return appended, nil
}

func (s *scope) appendChained(ctx context.Context, e *audit.Event, repeatKey string, seal audit.Sealer, fold audit.Folder) (bool, error) {
	key := toStorable(repeatKey)
	if repeatKey != "" {
		var (
			id, n int64
			link  audit.Link
		)
		err := s.q.QueryRow(ctx, `UPDATE audit_events SET repeats = repeats + 1
			WHERE repeat_key = $1 AND seq IS NOT NULL RETURNING id, seq, key_id, mac, repeats`, key).
			Scan(&id, &link.Seq, &link.KeyID, &link.MAC, &n)
		if err == nil {
			if _, err := s.q.Exec(ctx, `UPDATE audit_events SET repeats_mac = $1 WHERE id = $2`, fold(link, n), id); err != nil {
				return false, err
			}
			e.ID = strconv.FormatInt(id, 10)
			return false, nil
		}
		if !errors.Is(err, pgx.ErrNoRows) {
			return false, err
		}
		// A key on an event outside the chain (written before it began, or
		// by someone without the key) takes no repeat: it is taken off that
		// event, so that e joins the chain.
		if _, err := s.q.Exec(ctx, `UPDATE audit_events SET repeat_key = NULL WHERE repeat_key = $1`, key); err != nil {
			return false, err
		}
	}
	// The event's ID is taken before it is sealed, since its link covers
	// it, and only once the head is locked: IDs then rise with the chain's
	// order, as walks need. The CTE is materialized, so the sequence is
	// read for the row it returns, after the lock was granted (a nextval
	// beside FOR UPDATE in one SELECT could be drawn while waiting).
	prev, id, err := s.chainHead(ctx)
	if err != nil {
		return false, fmt.Errorf("chain head: %w", err)
	}
	e.ID = strconv.FormatInt(id, 10)
	link, head, err := seal(prev, e)
	if err != nil {
		return false, err
	}
	args, err := eventArgs(e)
	if err != nil {
		return false, err
	}
	var rk, repeatsMAC any
	if repeatKey != "" {
		rk, repeatsMAC = key, fold(link, 1)
	}
	// One statement: the row and the head move together. Nothing reads it
	// back, so it goes out with the next statement or the commit
	// (execLate); the head row it must move is locked above, and the
	// statement fails if it is gone all the same.
	const q = `WITH ev AS (
		INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, target_label, ip, user_agent, reason, details,
		 repeat_key, seq, key_id, mac, repeats_mac, id)
		OVERRIDING SYSTEM VALUE
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12::text::jsonb, $13, $14, $15, $16, $19, $20)),
		h AS (UPDATE audit_chain SET head_seq = $14, head_key_id = $17, head_link = $16, head_mark = $18
		WHERE id = 1 AND head_seq = $21 RETURNING 1)` + expectRowSQL + `h`
	err = s.execLate(ctx, func(err error) error {
		if noRow(err) {
			return errors.New("chain head: no row")
		}
		return err
	}, q, append(args, rk, link.Seq, link.KeyID, link.MAC, head.KeyID, head.MAC, repeatsMAC, id, prev.Seq)...)
	return err == nil, err
}

// headAheadSQL reads the chain's head and draws the next event's ID in
// the pipeline that begins an Atomic transaction, right after its lock
// (chainHead). It always returns a row: NULLs when the chain has none.
const headAheadSQL = `SELECT c.head_seq, c.head_key_id, c.head_link, c.head_mark,
	nextval(pg_get_serial_sequence('audit_events', 'id'))
	FROM (VALUES (1)) AS v (id) LEFT JOIN audit_chain c USING (id)`

// headAhead is what headAheadSQL read.
type headAhead struct {
	seq   pgtype.Int8
	keyID pgtype.Text
	link  []byte
	mark  []byte
	id    int64
}

func (h *headAhead) dest() []any { return []any{&h.seq, &h.keyID, &h.link, &h.mark, &h.id} }

// chainHead returns the chain's head and the ID of the event that will
// follow it, which must rise with the chain's order, as walks need.
//
// The first append of an Atomic transaction takes both from what the
// transaction read as it began (headAheadSQL), costing no round trip:
// Atomic's lock came first, so no Atomic transaction appends between
// that read and this transaction's commit, and every ID drawn after the
// lock is above every ID in the chain. A later append of the same
// transaction, or one outside Atomic, reads the head row and locks it
// (FOR UPDATE), and only then draws the ID: the CTE is materialized, so
// the sequence is read for the row it returns, after the lock was granted
// (a nextval beside FOR UPDATE in one SELECT could be drawn while
// waiting). Either way, the statement that moves the head moves it only
// from the head read (head_seq), and fails otherwise: a writer outside
// Atomic that moved it in between fails the transaction rather than fork
// the chain.
func (s *scope) chainHead(ctx context.Context) (prev audit.Mark, id int64, err error) {
	if s.tx != nil {
		if h := s.tx.head; h != nil {
			if !s.tx.begun { // the head is read as the transaction begins
				if err := s.tx.flush(ctx); err != nil {
					return prev, 0, err
				}
			}
			s.tx.head = nil
			if h.seq.Valid {
				return audit.Mark{Seq: h.seq.Int64, KeyID: h.keyID.String, LinkMAC: h.link, MAC: h.mark}, h.id, nil
			}
		}
	}
	err = s.q.QueryRow(ctx, `WITH head AS MATERIALIZED (
		SELECT head_seq, head_key_id, head_link, head_mark FROM audit_chain WHERE id = 1 FOR UPDATE)
		SELECT head_seq, head_key_id, head_link, head_mark, nextval(pg_get_serial_sequence('audit_events', 'id')) FROM head`).
		Scan(&prev.Seq, &prev.KeyID, &prev.LinkMAC, &prev.MAC, &id)
	return prev, id, err
}

// eventArgs are the values of an audit_events row, in the order of the
// INSERTs above, made storable (see Append).
func eventArgs(e *audit.Event) ([]any, error) {
	var details any // NULL when there are none
	if len(e.Details) > 0 {
		// As encoding/json encodes them, faster.
		b, err := auditjson.Marshal(e.Details)
		if err != nil {
			return nil, fmt.Errorf("details: %w", err)
		}
		details = string(replaceJSONNUL(b))
	}
	return []any{e.Time, toStorable(string(e.Action)), toStorable(string(e.Outcome)),
		toStorable(e.Actor.ID), toStorable(e.Actor.Email), toStorable(e.Target.Type), toStorable(e.Target.ID),
		toStorable(e.Target.Label), toStorable(e.IP), toStorable(e.UserAgent), toStorable(e.Reason), details}, nil
}

// Query pages on the (time, id) keyset in either order (see
// store/internal/paging). Every filter column leads an index ending in
// (time, id), so a page is one index range scan whichever single filter is
// set, but for the partial indexes of migration 0018: a page of successes
// or of successful logins walks audit_time, and a page by actor merges two
// walks. It checks q itself (audit.Log): auth.Manager hands q on as its
// caller gave it.
func (as auditStore) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return audit.Page{}, err
	}
	eq, err := dialect.Events(q)
	if err != nil {
		return audit.Page{}, err
	}
	if !eq.OK { // no stored event holds a filter's value
		return audit.Page{Events: []audit.Event{}}, nil
	}
	rows, err := as.s.q.Query(ctx, eq.SQL, eq.Args...)
	if err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	defer rows.Close()
	var sc eventScan
	page, err := eq.Read(rows, func(e *audit.Event) error {
		if err := rows.Scan(sc.dest()...); err != nil {
			return err
		}
		return sc.finish(e, true)
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

// eventScan reads the columns of an audit page (paging's auditSelect) into
// an event.
type eventScan struct {
	ev          audit.Event // the text and time columns, copied out by finish
	id, repeats int64
	details     detailsBytes
	dst         []any
}

// detailsBytes scans the details column into a buffer reused from row to
// row (decoding copies what it keeps), where pgx would allocate a slice
// for each.
type detailsBytes struct {
	b     []byte
	valid bool
}

// ScanBytes implements pgtype.BytesScanner; v is nil for NULL.
func (d *detailsBytes) ScanBytes(v []byte) error {
	d.b, d.valid = append(d.b[:0], v...), v != nil
	return nil
}

// dest returns where Scan puts a row's columns: into sc, made once per
// scan rather than once per row. It is full, so appending to it copies.
func (sc *eventScan) dest() []any {
	if sc.dst == nil {
		e := &sc.ev
		sc.dst = []any{&sc.id, &e.Time, (*string)(&e.Action), (*string)(&e.Outcome), &e.Actor.ID, &e.Actor.Email,
			&e.Target.Type, &e.Target.ID, &e.Target.Label, &e.IP, &e.UserAgent, &e.Reason, &sc.details, &sc.repeats}
	}
	return sc.dst
}

// finish converts what dest read; with repeats, a folded event's count
// joins its details under audit.DetailRepeated.
func (sc *eventScan) finish(e *audit.Event, repeats bool) error {
	*e = sc.ev
	e.ID = strconv.FormatInt(sc.id, 10)
	if sc.details.valid {
		d, err := detailjson.Decode(sc.details.b)
		if err != nil {
			return fmt.Errorf("event %d details: %w", sc.id, err)
		}
		e.Details = d
	}
	if repeats && sc.repeats > 1 {
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		e.Details[audit.DetailRepeated] = float64(sc.repeats)
	}
	return nil
}

// ChainState is audit.Chain's.
func (as auditStore) ChainState(ctx context.Context) (audit.ChainState, error) {
	var st audit.ChainState
	err := as.s.q.QueryRow(ctx, `SELECT legacy_row, head_seq, head_key_id, head_link, head_mark,
		anchor_seq, anchor_key_id, anchor_link, anchor_mark, genesis_key_id, genesis_mark FROM audit_chain WHERE id = 1`).Scan(
		&st.LegacyRow, &st.Head.Seq, &st.Head.KeyID, &st.Head.LinkMAC, &st.Head.MAC,
		&st.Anchor.Seq, &st.Anchor.KeyID, &st.Anchor.LinkMAC, &st.Anchor.MAC, &st.Genesis.KeyID, &st.Genesis.MAC)
	if err != nil {
		return st, wrap("read audit chain", err)
	}
	st.Genesis.Seq = st.LegacyRow
	return st, nil
}

// SetGenesis is audit.Chain's.
func (as auditStore) SetGenesis(ctx context.Context, g audit.Mark) error {
	if _, err := as.s.q.Exec(ctx, `UPDATE audit_chain SET genesis_key_id = $1, genesis_mark = $2 WHERE id = 1`, g.KeyID, g.MAC); err != nil {
		return wrap("write audit chain", err)
	}
	return nil
}

// ChainEvents is audit.Chain's: one primary-key range read.
func (as auditStore) ChainEvents(ctx context.Context, afterRow int64, limit int) ([]audit.Chained, error) {
	rows, err := as.s.q.Query(ctx, `SELECT id, time, action, outcome, actor_id, actor_email, target_type,
		target_id, target_label, ip, user_agent, reason, details, repeats, seq, key_id, mac, repeat_key, repeats_mac
		FROM audit_events WHERE id > $1 ORDER BY id LIMIT $2`, afterRow, limit)
	if err != nil {
		return nil, wrap("read audit chain", err)
	}
	defer rows.Close()
	var (
		out   []audit.Chained
		sc    eventScan
		seq   *int64
		keyID *string
		rkey  *string
	)
	for rows.Next() {
		var c audit.Chained
		if err := rows.Scan(append(sc.dest(), &seq, &keyID, &c.Link.MAC, &rkey, &c.RepeatsMAC)...); err != nil {
			return nil, wrap("read audit chain", err)
		}
		if err := sc.finish(&c.Event, false); err != nil {
			return nil, wrap("read audit chain", err)
		}
		c.Row, c.Repeats = sc.id, sc.repeats
		if seq != nil {
			c.Link.Seq = *seq
		}
		if keyID != nil {
			c.Link.KeyID = *keyID
		}
		if rkey != nil {
			c.RepeatKey = *rkey
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("read audit chain", err)
	}
	return out, nil
}

// PruneChained is audit.Chain's, in one transaction.
func (as auditStore) PruneChained(ctx context.Context, before time.Time, anchor func(last audit.Link) (audit.Mark, error)) (int64, error) {
	var n int64
	err := as.s.Atomic(ctx, func(tx auth.Store) error {
		var err error
		n, err = tx.(*scope).pruneChained(ctx, before, anchor)
		return err
	})
	if err != nil {
		return 0, wrap("prune audit", err)
	}
	return n, nil
}

func (s *scope) pruneChained(ctx context.Context, before time.Time, anchor func(last audit.Link) (audit.Mark, error)) (int64, error) {
	// As store/sqlite: chained events go oldest first along the chain, up
	// to the first one at or after before, so the chain kept has no hole.
	var cut *int64
	err := s.q.QueryRow(ctx, `SELECT COALESCE(
		(SELECT MIN(seq) FROM audit_events WHERE seq IS NOT NULL AND time >= $1) - 1,
		(SELECT MAX(seq) FROM audit_events))`, before).Scan(&cut)
	if err != nil {
		return 0, err
	}
	var upTo int64
	if cut != nil && *cut > 0 {
		var last audit.Link
		err := s.q.QueryRow(ctx, `SELECT seq, key_id, mac FROM audit_events WHERE seq = $1`, *cut).
			Scan(&last.Seq, &last.KeyID, &last.MAC)
		switch {
		case errors.Is(err, pgx.ErrNoRows):
			// Nothing chained is older: pruned already.
		case err != nil:
			return 0, err
		default:
			mark, err := anchor(last)
			if err != nil {
				return 0, err
			}
			_, err = s.q.Exec(ctx, `UPDATE audit_chain SET anchor_seq = $1, anchor_key_id = $2, anchor_link = $3,
				anchor_mark = $4 WHERE id = 1`, mark.Seq, mark.KeyID, mark.LinkMAC, mark.MAC)
			if err != nil {
				return 0, err
			}
			upTo = *cut
		}
	}
	tag, err := s.q.Exec(ctx, `DELETE FROM audit_events WHERE seq <= $1 OR (seq IS NULL AND time < $2)`, upTo, before)
	if err != nil {
		return 0, err
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
