package sqlite

import (
	"slices"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
)

// TestOwnEventSkipsActorIndex (issue 12, migration 0021): an event of a
// user on their own account (every login writes one), and an event with
// no actor, write one page fewer than an event of a user on another
// account: audit_actor leaves them out, audit_target holds the first.
func TestOwnEventSkipsActorIndex(t *testing.T) {
	on := func(actor, target string) audit.Event {
		return audit.Event{Action: audit.UserUpdated, Outcome: audit.Success,
			Actor: audit.Actor{ID: actor}, Target: audit.Target{Type: audit.TargetUser, ID: target}}
	}
	p := eventPages(t, on("u1", "u1"), on("u1", "u2"), on("", "u2"))
	if own, other, nobody := p[0], p[1], p[2]; own != other-1 || nobody != other-1 {
		t.Errorf("pages written: own account %d, another account %d, no actor %d; want one fewer than another account's for the other two",
			own, other, nobody)
	}
}

// TestActorPagePlans (migration 0021): a page filtered by actor reads
// audit_actor for the actor's events on anything else and audit_target
// for those on their own account, merging the two without a sort, in
// either order, with a cursor or not. EXPLAIN QUERY PLAN names audit_actor
// for both arms of the merge here, so the test reads the program itself:
// the indexes its OpenRead instructions open, and whether it sorts.
func TestActorPagePlans(t *testing.T) {
	db := newTestDB(t)
	roots := map[int64]string{}
	rows, err := db.r.Query(`SELECT rootpage, name FROM sqlite_schema WHERE tbl_name = 'audit_events'`)
	if err != nil {
		t.Fatal(err)
	}
	for rows.Next() {
		var root int64
		var name string
		if err := rows.Scan(&root, &name); err != nil {
			t.Fatal(err)
		}
		roots[root] = name
	}
	rows.Close()
	eachPageShape(t, audit.Query{ActorID: "u1"}, func(oldest, withCursor bool, eq paging.EventsQuery) {
		opened, sorts := program(t, db, roots, eq.SQL, eq.Args...)
		slices.Sort(opened)
		want := []string{"audit_actor", "audit_events", "audit_target"}
		if !slices.Equal(slices.Compact(opened), want) || sorts {
			t.Errorf("oldest=%v cursor=%v: opens %v, sorts %v; want %v and no sort\n%s", oldest, withCursor, opened, sorts, want, eq.SQL)
		}
	})
}

// program reads the bytecode of q: the names of the b-trees its OpenRead
// instructions open (roots maps root pages to names), and whether it
// opens a sorter.
func program(t *testing.T, db *DB, roots map[int64]string, q string, args ...any) (opened []string, sorts bool) {
	t.Helper()
	rows, err := db.r.Query("EXPLAIN "+q, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var addr, p1, p2, p3, p5 int64
		var op string
		var p4, comment any
		if err := rows.Scan(&addr, &op, &p1, &p2, &p3, &p4, &p5, &comment); err != nil {
			t.Fatal(err)
		}
		switch op {
		case "OpenRead":
			opened = append(opened, roots[p2])
		case "SorterOpen":
			sorts = true
		}
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return opened, sorts
}
