package sqlite

import (
	"context"
	"errors"

	"github.com/usher-go/usher/audit"
)

// chainGuess is the chain's head and the next event's ID as the last
// chained append of this DB left them (appendLink). It is a guess, never
// trusted: another DB on the same file may have appended since, or the
// append's transaction rolled back. The INSERT that uses it checks it
// against the chain's row under the write lock (insertGuessedSQL), so an
// event is linked to the head a read would have given, or not written
// by it at all.
type chainGuess struct {
	head audit.Mark
	next int64
}

// insertLinkSQL writes a link of the chain: the event's columns (eventArgs),
// then repeat_key, seq, key_id, mac, repeats_mac and id.
const insertLinkSQL = insertLinkInto + ` VALUES ` + linkValues

// insertLinkInto and linkValues are what insertLinkSQL and
// insertGuessedSQL share.
const (
	insertLinkInto = `INSERT INTO audit_events
		(time, action, outcome, actor_id, actor_email, target_type, target_id, target_label, ip, user_agent, reason, details,
		 repeat_key, seq, key_id, mac, repeats_mac, id)`
	linkValues = `(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
)

// insertGuessedSQL is insertLinkSQL, written only if the chain's row
// holds the guessed head, and nextEventSQL gives the guessed ID: exactly
// what the read it saves would have returned (IS, so that a NULL read
// back as nil matches nil). Its last five arguments are the guess:
// head_seq, head_key_id, head_link, head_mark, the ID. SQLite stages the
// row in a temporary table first, as the statement reads the table it
// writes (nextEventSQL): a little work, far less than a statement.
//
// Where two DBs append in turn to one file (an admin tool beside the
// application), each append finds the other moved the chain and runs four
// statements where reading first ran three; a single writer runs two.
const insertGuessedSQL = insertLinkInto + ` SELECT * FROM (VALUES ` + linkValues + `)
		WHERE EXISTS (SELECT 1 FROM audit_chain WHERE id = 1 AND head_seq IS ? AND head_key_id IS ?
			AND head_link IS ? AND head_mark IS ? AND ` + nextEventSQL + ` = ?)`

// errChainMoved: the chain's head is not the guessed one.
var errChainMoved = errors.New("sqlite: audit chain moved")

// insertGuessed runs insertGuessedSQL with the link's args (insertLinkSQL's),
// returning errChainMoved when the check let nothing through.
func (s *scope) insertGuessed(ctx context.Context, g *chainGuess, args []any) error {
	res, err := s.w.ExecContext(ctx, insertGuessedSQL,
		append(args, g.head.Seq, g.head.KeyID, g.head.LinkMAC, g.head.MAC, g.next)...)
	if err != nil {
		return err
	}
	n, err := res.RowsAffected()
	if err != nil {
		return err
	}
	if n != 1 {
		return errChainMoved
	}
	return nil
}
