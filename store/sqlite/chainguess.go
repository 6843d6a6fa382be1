package sqlite

import (
	"context"
	"errors"
	"fmt"

	"github.com/usher-go/usher/audit"
)

// chainGuess is the chain's head and the next event's ID as the last
// chained append of this DB left them (appendLink). It is a guess, never
// trusted: another DB on the same file may have appended since, or the
// append's transaction rolled back. The head's move checks it against
// the chain's row under the write lock (moveGuessedSQL) before the event
// is written, so an event is linked to the head a read would have given,
// or not written at all.
type chainGuess struct {
	head audit.Mark
	next int64
}

// insertLinkSQL writes a link of the chain: the event's columns (eventArgs),
// then repeat_key, seq, key_id, mac, repeats_mac and id.
const insertLinkSQL = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, target_label, ip, user_agent, reason, details,
		 repeat_key, seq, key_id, mac, repeats_mac, id)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`

// moveHeadSQL moves the chain's head to a new link and records its ID as
// the last one used: head_seq, head_key_id, head_link, head_mark,
// last_row.
const moveHeadSQL = `UPDATE audit_chain SET head_seq = ?, head_key_id = ?, head_link = ?, head_mark = ?, last_row = ?
		WHERE id = 1`

// moveGuessedSQL is moveHeadSQL, done only if the chain's row holds the
// guessed head and nextEventSQL gives the guessed ID: exactly what the
// read it saves would have returned (IS, so that a NULL read back as nil
// matches nil). Its last five arguments are the guess: head_seq,
// head_key_id, head_link, head_mark, the ID. It runs before the event's
// INSERT, which then needs no condition: checked in an INSERT … SELECT,
// the guess cost SQLite a temporary table and a statement journal on
// every append, as that statement reads the table it writes.
//
// Where two DBs append in turn to one file (an admin tool beside the
// application), each append finds the other moved the chain and runs four
// statements where reading first ran three; a single writer runs two.
const moveGuessedSQL = moveHeadSQL + ` AND head_seq IS ? AND head_key_id IS ? AND head_link IS ? AND head_mark IS ?
		AND ` + nextEventSQL + ` = ?`

// errChainMoved: the chain's head is not the guessed one.
var errChainMoved = errors.New("sqlite: audit chain moved")

// moveHead moves the chain's head to head, at event ID id; with a guess g,
// only if the chain still holds it, returning errChainMoved if not.
func (s *scope) moveHead(ctx context.Context, g *chainGuess, head audit.Mark, id int64) error {
	args := []any{head.Seq, head.KeyID, head.LinkMAC, head.MAC, id}
	q := moveHeadSQL
	if g != nil {
		q = moveGuessedSQL
		args = append(args, g.head.Seq, g.head.KeyID, g.head.LinkMAC, g.head.MAC, g.next)
	}
	res, err := s.w.ExecContext(ctx, q, args...)
	if err != nil {
		return fmt.Errorf("chain head: %w", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return fmt.Errorf("chain head: %w", err)
	}
	if n != 1 {
		if g == nil {
			return errors.New("chain head: the chain's row is missing")
		}
		return errChainMoved
	}
	return nil
}
