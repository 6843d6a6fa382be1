package sqlite

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// guessSeal links an event to the head it is given, over its ID and
// action, as auth's Sealer does over the whole event.
func guessSeal(head audit.Mark, e *audit.Event) (audit.Link, audit.Mark, error) {
	h := sha256.New()
	h.Write(head.LinkMAC)
	h.Write([]byte(e.ID + "/" + string(e.Action)))
	link := audit.Link{Seq: head.Seq + 1, KeyID: "k1", MAC: h.Sum(nil)}
	return link, audit.Mark{Seq: link.Seq, LinkMAC: link.MAC, KeyID: "k1", MAC: append([]byte("mark:"), link.MAC...)}, nil
}

// TestChainGuess (issue 12): an append links to the head the last one in
// this DB left, without reading it, and the check in the head's move
// (moveGuessedSQL) catches every way that guess goes stale: a rolled-back
// append, another DB on the same file appending, an event appended
// outside the chain, a head written by hand. Each then reads the head once, and the chain stays whole, with no
// ID used twice.
func TestChainGuess(t *testing.T) {
	db, other, start := twoDBs(t)
	ctx := context.Background()
	base := db.headReads.Load()
	n := 0
	add := func(d *DB) {
		t.Helper()
		n++
		e := &audit.Event{Time: t0.Add(time.Duration(n) * time.Second), Action: audit.Action("a" + strconv.Itoa(n)), Outcome: audit.Success}
		if _, err := d.Audit().AppendChained(ctx, e, "", guessSeal, nil); err != nil {
			t.Fatal(err)
		}
	}
	reads := func(want int64) {
		t.Helper()
		if got := db.headReads.Load() - base; got != want {
			t.Fatalf("the head was read %d times, want %d", got, want)
		}
	}
	for range 3 {
		add(db)
	}
	reads(0) // guessed

	errRollback := errors.New("roll back")
	err := db.Atomic(ctx, func(tx auth.Store) error {
		e := &audit.Event{Time: t0, Action: "rolled.back", Outcome: audit.Success}
		if _, err := tx.Audit().AppendChained(ctx, e, "", guessSeal, nil); err != nil {
			return err
		}
		return errRollback
	})
	if !errors.Is(err, errRollback) {
		t.Fatal(err)
	}
	reads(0)
	add(db) // the guess the rollback left is stale
	reads(1)

	add(other)
	add(db) // the other DB moved the head
	reads(2)

	if err := db.Audit().Append(ctx, &audit.Event{Time: t0, Action: "outside", Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	add(db) // an ID taken outside the chain
	reads(3)

	if _, err := db.w.Exec(`UPDATE audit_chain SET head_mark = x'00'`); err != nil {
		t.Fatal(err)
	}
	add(db) // a head written behind the DB's back
	reads(4)
	if _, err := db.w.Exec(`UPDATE audit_chain SET head_key_id = 'by hand'`); err != nil {
		t.Fatal(err)
	}
	add(db)
	reads(5)
	add(db)
	reads(5)

	prev, chained := checkGuessedChain(t, db, start.Head)
	if chained != n {
		t.Fatalf("%d chained events, want %d", chained, n)
	}

	// A head's seq written by hand: the next link follows it, as a read
	// of the head would have it.
	if _, err := db.w.Exec(`UPDATE audit_chain SET head_seq = head_seq + 10`); err != nil {
		t.Fatal(err)
	}
	add(db)
	reads(6)
	st, err := db.Audit().ChainState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Head.Seq != prev.Seq+11 {
		t.Errorf("head at %d after the seq written by hand, want %d", st.Head.Seq, prev.Seq+11)
	}

	// A head's link written by hand: the next link is sealed over it, as
	// a read of the head would have it.
	if _, err := db.w.Exec(`UPDATE audit_chain SET head_link = x'01'`); err != nil {
		t.Fatal(err)
	}
	add(db)
	reads(7)
}

// TestChainGuessConcurrent: appends from many goroutines on two DBs of
// one file, some rolled back, some under repeat keys, make one whole
// chain with no ID twice, its head the last link (by review3).
func TestChainGuessConcurrent(t *testing.T) {
	db, other, start := twoDBs(t)
	ctx := context.Background()
	fold := func(l audit.Link, n int64) []byte { return []byte(strconv.FormatInt(n, 10)) }
	var wg sync.WaitGroup
	var mu sync.Mutex
	committed := 0
	for g := range 6 {
		d := db
		if g%3 == 2 {
			d = other
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := rand.New(rand.NewPCG(uint64(g), 1))
			for i := range 40 {
				e := &audit.Event{Time: t0.Add(time.Duration(i) * time.Second), Action: audit.Action(fmt.Sprintf("g%d.%d", g, i)), Outcome: audit.Success}
				key := ""
				if r.IntN(4) == 0 {
					key = "rk" + strconv.Itoa(r.IntN(3))
				}
				rollback := r.IntN(5) == 0
				var appended bool
				err := d.Atomic(ctx, func(tx auth.Store) error {
					var err error
					appended, err = tx.Audit().AppendChained(ctx, e, key, guessSeal, fold)
					if err != nil {
						return err
					}
					if rollback {
						return errors.New("rb")
					}
					return nil
				})
				if rollback {
					continue
				}
				if err != nil {
					t.Error(err)
					return
				}
				if appended {
					mu.Lock()
					committed++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	prev, chained := checkGuessedChain(t, db, start.Head)
	st, err := db.Audit().ChainState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if st.Head.Seq != prev.Seq || string(st.Head.LinkMAC) != string(prev.LinkMAC) {
		t.Fatalf("head at %d, want the last link, %d", st.Head.Seq, prev.Seq)
	}
	if chained != committed {
		t.Fatalf("%d chained events, want the %d committed", chained, committed)
	}
	t.Logf("chained %d, head reads %d+%d", chained, db.headReads.Load(), other.headReads.Load())
}

// TestChainGuessNilMark: a head whose mark a Sealer left nil (stored as
// NULL) is guessed as well as any other (IS, not =): one read, not one
// per append (by review3).
func TestChainGuessNilMark(t *testing.T) {
	db, _ := walDB(t)
	ctx := context.Background()
	seal := func(head audit.Mark, e *audit.Event) (audit.Link, audit.Mark, error) {
		l, m, err := guessSeal(head, e)
		m.MAC = nil
		return l, m, err
	}
	base := db.headReads.Load()
	for i := range 5 {
		e := &audit.Event{Time: t0, Action: audit.Action("n" + strconv.Itoa(i)), Outcome: audit.Success}
		if _, err := db.Audit().AppendChained(ctx, e, "", seal, nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := db.headReads.Load() - base; n > 1 {
		t.Errorf("5 appends after a nil mark read the head %d times, want at most 1", n)
	}
}

// checkGuessedChain walks db's chain past start, checking that no ID is
// used twice and that each link is guessSeal's of the one before; it
// returns the last link's mark and how many it walked.
func checkGuessedChain(t *testing.T, db *DB, start audit.Mark) (audit.Mark, int) {
	t.Helper()
	all, err := db.Audit().ChainEvents(context.Background(), 0, 10000)
	if err != nil {
		t.Fatal(err)
	}
	prev, chained := start, 0
	seen := map[int64]bool{}
	for _, c := range all {
		if seen[c.Row] {
			t.Fatalf("ID %d used twice", c.Row)
		}
		seen[c.Row] = true
		if c.Link.Seq <= start.Seq {
			continue
		}
		chained++
		want, head, _ := guessSeal(prev, &c.Event)
		if c.Link.Seq != want.Seq || !bytes.Equal(c.Link.MAC, want.MAC) {
			t.Fatalf("event %d (%s) is not linked to the one before it", c.Row, c.Action)
		}
		prev = head
	}
	return prev, chained
}

// twoDBs opens a test database twice, and reads its chain's state: the
// built-in groups' events left its first links, and the first DB's guess.
func twoDBs(t *testing.T) (db, other *DB, start audit.ChainState) {
	t.Helper()
	db, path := walDB(t)
	other, err := Open(context.Background(), path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { other.Close() })
	if start, err = db.Audit().ChainState(context.Background()); err != nil {
		t.Fatal(err)
	}
	return db, other, start
}

// TestFailedAppendDoomsTransaction (review4): an append whose event
// cannot be written after the chain's head has moved, chained or plain,
// inside a transaction whose fn goes on and returns nil, commits nothing:
// not the head on an event that is not there, nor the change beside it.
func TestFailedAppendDoomsTransaction(t *testing.T) {
	db, _, _ := twoDBs(t)
	ctx := context.Background()
	e := &audit.Event{Time: t0, Action: "first", Outcome: audit.Success}
	if _, err := db.Audit().AppendChained(ctx, e, "", guessSeal, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := db.w.Exec(`CREATE TRIGGER no_room BEFORE INSERT ON audit_events WHEN NEW.action = 'bad'
		BEGIN SELECT RAISE(ABORT, 'no room'); END`); err != nil {
		t.Fatal(err)
	}
	before, err := db.Audit().ChainState(ctx)
	if err != nil {
		t.Fatal(err)
	}
	appends := map[string]func(tx auth.Store, e *audit.Event) error{
		"chained": func(tx auth.Store, e *audit.Event) error {
			_, err := tx.Audit().AppendChained(ctx, e, "", guessSeal, nil)
			return err
		},
		"plain": func(tx auth.Store, e *audit.Event) error { return tx.Audit().Append(ctx, e) },
	}
	for name, appendEvent := range appends {
		var appendErr error
		err := db.Atomic(ctx, func(tx auth.Store) error {
			if err := tx.Groups().Create(ctx, &group.Group{ID: group.ID("g-" + name), Name: "G " + name}); err != nil {
				return err
			}
			appendErr = appendEvent(tx, &audit.Event{Time: t0.Add(time.Second), Action: "bad", Outcome: audit.Success})
			return nil // the host goes on
		})
		if appendErr == nil {
			t.Fatalf("%s: the append did not fail", name)
		}
		if !errors.Is(err, appendErr) {
			t.Errorf("%s: Atomic = %v, want the append's error %v", name, err, appendErr)
		}
		after, err := db.Audit().ChainState(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if after.Head.Seq != before.Head.Seq || !bytes.Equal(after.Head.MAC, before.Head.MAC) {
			t.Errorf("%s: head moved from %+v to %+v with no event", name, before.Head, after.Head)
		}
		if _, err := db.Groups().Get(ctx, group.ID("g-"+name)); !errors.Is(err, group.ErrNotFound) {
			t.Errorf("%s: the change beside the failed append: %v, want group.ErrNotFound", name, err)
		}
	}
	// The chain goes on from the head it kept.
	if _, err := db.Audit().AppendChained(ctx, &audit.Event{Time: t0, Action: "next", Outcome: audit.Success}, "", guessSeal, nil); err != nil {
		t.Fatal(err)
	}
	st, err := db.Audit().ChainState(ctx)
	if err != nil || st.Head.Seq != before.Head.Seq+1 {
		t.Fatalf("after: head %+v, %v; want seq %d", st.Head, err, before.Head.Seq+1)
	}
}
