package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/internal/auditjson"
)

// Append stores e outside the chain and sets e.ID to the new row's id.
// auth.Manager never calls it (it appends through AppendChained); an
// event written this way shows as an insertion when the chain is checked.
func (as auditStore) Append(ctx context.Context, e *audit.Event) error {
	details, err := eventDetails(e)
	if err != nil {
		return wrap("append audit event", err)
	}
	err = as.s.Atomic(ctx, func(tx auth.Store) error {
		s := tx.(*scope)
		id, err := s.nextEventID(ctx)
		if err != nil {
			return err
		}
		const q = `INSERT INTO audit_events
			(time, action, outcome, actor_id, actor_email, target_type, target_id, target_label, ip, user_agent, reason, details, id)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
		if _, err := s.w.ExecContext(ctx, q, append(eventArgs(e, details), id)...); err != nil {
			return err
		}
		if _, err := s.w.ExecContext(ctx, `UPDATE audit_chain SET last_row = ? WHERE id = 1`, id); err != nil {
			return err
		}
		e.ID = strconv.FormatInt(id, 10)
		return nil
	})
	if err != nil {
		return as.doom(wrap("append audit event", err))
	}
	return nil
}

// doom marks the transaction the store runs in, if any, as one that must not
// commit, since an audit append failed in it, and returns err. An append
// runs two or three statements (the event, the chain's head, the last
// ID); one that fails after another has run leaves the transaction half
// written: the head moved to an event that is not there, which a check of
// the chain would report as events cut off. Atomic then rolls back, even
// if fn goes on and returns nil (TestFailedAppendDoomsTransaction).
// Outside a transaction the append's own Atomic has rolled back already.
func (as auditStore) doom(err error) error {
	if as.s.txs != nil && as.s.txs.doomed == nil {
		as.s.txs.doomed = err
	}
	return err
}

// nextEventSQL is the ID the next event takes: above every ID ever used,
// which the chain's row remembers (last_row, migration 0017) even once
// Prune emptied the table, and above every row there is. It runs under
// the write lock its transaction holds, so nobody takes the ID meanwhile.
const nextEventSQL = `max(last_row, coalesce((SELECT max(id) FROM audit_events), 0)) + 1`

// nextEventID is nextEventSQL alone, for an event outside the chain.
func (s *scope) nextEventID(ctx context.Context) (int64, error) {
	var id int64
	if err := s.w.QueryRowContext(ctx, `SELECT `+nextEventSQL+` FROM audit_chain WHERE id = 1`).Scan(&id); err != nil {
		return 0, fmt.Errorf("next event ID: %w", err)
	}
	return id, nil
}

// AppendChained is audit.Chain's append. The whole of it runs in one
// transaction (the caller's, or its own), which SQLite's single writer
// serializes against every other: no two events take the same head.
func (as auditStore) AppendChained(ctx context.Context, e *audit.Event, repeatKey string, seal audit.Sealer, fold audit.Folder) (bool, error) {
	appended := false
	err := as.s.Atomic(ctx, func(tx auth.Store) error {
		var err error
		appended, err = tx.(*scope).appendChained(ctx, e, repeatKey, seal, fold)
		return err
	})
	if err != nil {
		return false, as.doom(wrap("append audit event", err))
	}
	return appended, nil
}

func (s *scope) appendChained(ctx context.Context, e *audit.Event, repeatKey string, seal audit.Sealer, fold audit.Folder) (bool, error) {
	if repeatKey != "" {
		var (
			id, n int64
			link  audit.Link
		)
		err := s.w.QueryRowContext(ctx,
			`UPDATE audit_events SET repeats = repeats + 1
			WHERE repeat_key = ? AND seq IS NOT NULL RETURNING id, seq, key_id, mac, repeats`, repeatKey).
			Scan(&id, &link.Seq, &link.KeyID, &link.MAC, &n)
		if err == nil {
			if _, err := s.w.ExecContext(ctx, `UPDATE audit_events SET repeats_mac = ? WHERE id = ?`, fold(link, n), id); err != nil {
				return false, err
			}
			e.ID = strconv.FormatInt(id, 10)
			return false, nil
		}
		if !errors.Is(err, sql.ErrNoRows) {
			return false, err
		}
		// A key on an event outside the chain (written before it began, or
		// by someone without the key) takes no repeat: it is taken off that
		// event, so that e joins the chain.
		if _, err := s.w.ExecContext(ctx, `UPDATE audit_events SET repeat_key = NULL WHERE repeat_key = ?`, repeatKey); err != nil {
			return false, err
		}
	}
	if err := s.appendLink(ctx, e, repeatKey, seal, fold); err != nil {
		return false, err
	}
	return true, nil
}

// appendLink appends e as the chain's next link. The event's ID is taken
// before it is sealed, since its link covers it (nextEventSQL).
//
// The head it links to and the ID are those the last append of this DB
// left (chainGuess), checked by the head's move itself (moveGuessedSQL):
// one statement fewer in every audited change (issue 12). When the
// check finds the chain moved (another DB on the file appended, or the
// guess's transaction rolled back), the head is read and e sealed again.
func (s *scope) appendLink(ctx context.Context, e *audit.Event, repeatKey string, seal audit.Sealer, fold audit.Folder) error {
	g := s.db.chain.Load()
	for {
		at := g
		if at == nil {
			var err error
			if at, err = s.readHead(ctx); err != nil {
				return err
			}
		}
		prev, id := at.head, at.next
		e.ID = strconv.FormatInt(id, 10)
		link, head, err := seal(prev, e)
		if err != nil {
			return err
		}
		details, err := eventDetails(e)
		if err != nil {
			return err
		}
		var key, repeatsMAC any
		if repeatKey != "" {
			key, repeatsMAC = repeatKey, fold(link, 1)
		}
		if err := s.moveHead(ctx, g, head, id); errors.Is(err, errChainMoved) {
			g = nil
			s.db.chain.Store(nil)
			continue
		} else if err != nil {
			return err
		}
		args := append(eventArgs(e, details), key, link.Seq, link.KeyID, link.MAC, repeatsMAC, id)
		if _, err := s.w.ExecContext(ctx, insertLinkSQL, args...); err != nil {
			return err
		}
		s.db.chain.Store(&chainGuess{head: head, next: id + 1})
		return nil
	}
}

// readHead reads the chain's head and the next event's ID.
func (s *scope) readHead(ctx context.Context) (*chainGuess, error) {
	s.db.headReads.Add(1)
	var h chainGuess
	err := s.w.QueryRowContext(ctx, `SELECT head_seq, head_key_id, head_link, head_mark, `+nextEventSQL+`
		FROM audit_chain WHERE id = 1`).Scan(&h.head.Seq, &h.head.KeyID, &h.head.LinkMAC, &h.head.MAC, &h.next)
	if err != nil {
		return nil, fmt.Errorf("chain head: %w", err)
	}
	return &h, nil
}

// eventDetails is e's details as stored: JSON text, NULL when there are
// none. auditjson encodes them as encoding/json does, faster.
func eventDetails(e *audit.Event) (any, error) {
	if len(e.Details) == 0 {
		return nil, nil
	}
	b, err := auditjson.Marshal(e.Details)
	if err != nil {
		return nil, fmt.Errorf("details: %w", err)
	}
	return string(b), nil
}

// eventArgs are the values of an audit_events row, in the order of the
// INSERTs above.
func eventArgs(e *audit.Event, details any) []any {
	return []any{nanos(e.Time), string(e.Action), string(e.Outcome), e.Actor.ID, e.Actor.Email,
		e.Target.Type, e.Target.ID, e.Target.Label, e.IP, e.UserAgent, e.Reason, details}
}

// Query pages on the (time, id) keyset in either order (see
// store/internal/paging). Every filter column leads an index ending in
// time (which SQLite extends with id), so a page is one index seek whichever
// single filter is set; a page of successful events walks audit_time, as
// audit_outcome holds the rare outcomes only (migration 0018).
func (as auditStore) Query(ctx context.Context, q audit.Query) (audit.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return audit.Page{}, err
	}
	eq, err := dialect.Events(q) // SQLite stores any string: eq.OK
	if err != nil {
		return audit.Page{}, err
	}
	// Prepared once per shape (see stmts.go), unless inside a transaction.
	rows, err := as.s.queryCached(ctx, eq.SQL, eq.Args...)
	if err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	defer rows.Close()
	var ps pageScan
	page, err := eq.Read(rows, func(e *audit.Event) error { return ps.scan(rows, e) })
	if err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	if err := rows.Err(); err != nil {
		return audit.Page{}, wrap("query audit", err)
	}
	return page, nil
}

// eventScan reads the plain columns of an event (paging.AuditColumns)
// into an event.
type eventScan struct {
	ev             audit.Event // the text columns, copied out by finish
	id, t, repeats int64
	details        detailsText
	dst            []any
}

// dest returns where Scan puts a row's columns: into sc, made once per
// scan rather than once per row. It is full, so appending to it copies.
func (sc *eventScan) dest() []any {
	if sc.dst == nil {
		e := &sc.ev
		sc.dst = []any{&sc.id, &sc.t, &e.Action, &e.Outcome, &e.Actor.ID, &e.Actor.Email, &e.Target.Type,
			&e.Target.ID, &e.Target.Label, &e.IP, &e.UserAgent, &e.Reason, &sc.details, &sc.repeats}
	}
	return sc.dst
}

// finish converts what dest read; with repeats, a folded event's count
// joins its details under audit.DetailRepeated.
func (sc *eventScan) finish(e *audit.Event, repeats bool) error {
	*e = sc.ev
	e.ID, e.Time = strconv.FormatInt(sc.id, 10), fromNanos(sc.t)
	return readDetails(e, &sc.details, sc.repeats, repeats)
}

// ChainState is audit.Chain's.
func (as auditStore) ChainState(ctx context.Context) (audit.ChainState, error) {
	var st audit.ChainState
	err := as.s.r.QueryRowContext(ctx, `SELECT legacy_row, head_seq, head_key_id, head_link, head_mark,
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
	if _, err := as.s.w.ExecContext(ctx, `UPDATE audit_chain SET genesis_key_id = ?, genesis_mark = ? WHERE id = 1`, g.KeyID, g.MAC); err != nil {
		return wrap("write audit chain", err)
	}
	return nil
}

// ChainEvents is audit.Chain's: one primary-key range read.
func (as auditStore) ChainEvents(ctx context.Context, afterRow int64, limit int) ([]audit.Chained, error) {
	rows, err := as.s.r.QueryContext(ctx, `SELECT id, time, action, outcome, actor_id, actor_email, target_type,
		target_id, target_label, ip, user_agent, reason, details, repeats, seq, key_id, mac, repeat_key, repeats_mac
		FROM audit_events WHERE id > ? ORDER BY id LIMIT ?`, afterRow, limit)
	if err != nil {
		return nil, wrap("read audit chain", err)
	}
	defer rows.Close()
	var (
		out   []audit.Chained
		sc    eventScan
		seq   sql.NullInt64
		keyID sql.NullString
		rkey  sql.NullString
	)
	for rows.Next() {
		var c audit.Chained
		if err := rows.Scan(append(sc.dest(), &seq, &keyID, &c.Link.MAC, &rkey, &c.RepeatsMAC)...); err != nil {
			return nil, wrap("read audit chain", err)
		}
		if err := sc.finish(&c.Event, false); err != nil {
			return nil, wrap("read audit chain", err)
		}
		c.Row, c.Link.Seq, c.Link.KeyID, c.RepeatKey, c.Repeats = sc.id, seq.Int64, keyID.String, rkey.String, sc.repeats
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
	// The chained events go oldest first along the chain: up to the first
	// one at or after before, even if a later one is older (clocks of
	// several instances differ), so the chain kept has no hole. Along the
	// chain, seq and ID rise together (migration 0019): the cut is the
	// last chained event before the first one kept, found by ID.
	cut, err := s.pruneCut(ctx, before)
	if err != nil {
		return 0, err
	}
	if cut.id > 0 {
		mark, err := anchor(cut.last)
		if err != nil {
			return 0, err
		}
		_, err = s.w.ExecContext(ctx, `UPDATE audit_chain SET anchor_seq = ?, anchor_key_id = ?, anchor_link = ?,
			anchor_mark = ? WHERE id = 1`, mark.Seq, mark.KeyID, mark.LinkMAC, mark.MAC)
		if err != nil {
			return 0, err
		}
	}
	res, err := s.w.ExecContext(ctx, pruneSQL, cut.id, nanos(before))
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

// pruneAt is where Prune cuts the chain: after the chained event with ID
// id and link last; at ID 0 (no event has it), nothing chained goes.
type pruneAt struct {
	id   int64
	last audit.Link
}

// The statements of Prune (TestPrunePlans): the first chained event kept
// (a walk of the table's b-tree by ID over the events Prune deletes;
// +time keeps SQLite off audit_time, which would read every event kept);
// the chained event before it, or the newest one where none is kept; and
// the delete, of the chained events up to the cut by ID and the others
// older than the cut by time.
const (
	pruneKeptSQL = `SELECT (SELECT id FROM audit_events
		WHERE seq IS NOT NULL AND +time >= ? ORDER BY id LIMIT 1)`
	pruneLastBeforeSQL = `SELECT id, seq, key_id, mac FROM audit_events
		WHERE seq IS NOT NULL AND id < ? ORDER BY id DESC LIMIT 1`
	pruneLastSQL = `SELECT id, seq, key_id, mac FROM audit_events
		WHERE seq IS NOT NULL ORDER BY id DESC LIMIT 1`
	pruneSQL = `DELETE FROM audit_events
		WHERE (seq IS NOT NULL AND id <= ?) OR (seq IS NULL AND time < ?)`
)

// pruneCut finds the last chained event before the first chained one at
// or after before: the newest chained event when none is.
func (s *scope) pruneCut(ctx context.Context, before time.Time) (pruneAt, error) {
	var at pruneAt
	var kept sql.NullInt64
	if err := s.w.QueryRowContext(ctx, pruneKeptSQL, nanos(before)).Scan(&kept); err != nil {
		return at, err
	}
	q, args := pruneLastSQL, []any{}
	if kept.Valid {
		q, args = pruneLastBeforeSQL, []any{kept.Int64}
	}
	err := s.w.QueryRowContext(ctx, q, args...).Scan(&at.id, &at.last.Seq, &at.last.KeyID, &at.last.MAC)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		// Nothing chained is older (or it was pruned already).
		return pruneAt{}, nil
	case err != nil:
		return pruneAt{}, err
	}
	return at, nil
}
