package postgres

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
)

// TestActorPagesMatchPlain: a page by actor, read as two walks merged
// (ActorOthers, LimitArms), holds exactly what the one plain statement
// of the same query holds, with the same cursors, for pages of 1 to 4
// events, in both orders, forward and back, under every other filter,
// over events that tie on time across the two walks.
func TestActorPagesMatchPlain(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	r := rand.New(rand.NewPCG(1, 2))
	actors := []string{"a", "b"}
	actions := []audit.Action{audit.LoginSucceeded, audit.UserUpdated, audit.LoginFailed}
	outcomes := []audit.Outcome{audit.Success, audit.Failure}
	for i := range 60 {
		actor := actors[r.IntN(2)]
		var target audit.Target
		switch r.IntN(4) {
		case 0, 1:
			target = audit.Target{Type: audit.TargetUser, ID: actor}
		case 2:
			target = audit.Target{Type: audit.TargetUser, ID: actors[r.IntN(2)]}
		case 3:
			target = audit.Target{Type: audit.TargetGroup, ID: actor}
		}
		e := &audit.Event{Time: t0.Add(time.Duration(i/4) * time.Second), Action: actions[r.IntN(3)],
			Outcome: outcomes[r.IntN(2)], Actor: audit.Actor{ID: actor, Email: actor + "@example.com"}, Target: target}
		must(t, "Append", db.Audit().Append(ctx, e))
	}
	plain := *dialect
	plain.ActorOthers, plain.LimitArms = "", false
	filters := []audit.Query{
		{},
		{TargetType: audit.TargetUser},
		{TargetType: audit.TargetUser, TargetID: "a"},
		{TargetType: audit.TargetUser, TargetID: "b"},
		{Action: audit.LoginSucceeded},
		{Action: audit.UserUpdated},
		{Outcome: audit.Success},
		{Outcome: audit.Failure},
		{Since: t0.Add(3 * time.Second), Until: t0.Add(11 * time.Second)},
	}
	for _, f := range filters {
		for _, oldest := range []bool{false, true} {
			for limit := 1; limit <= 4; limit++ {
				q := f
				q.ActorID, q.OldestFirst, q.Limit = "a", oldest, limit
				name := fmt.Sprintf("%+v", q)
				var pages []audit.Page
				for {
					got, err := db.Audit().Query(ctx, q)
					must(t, name, err)
					want := pageWith(t, db, &plain, q)
					if !samePage(got, want) {
						t.Fatalf("%s, page %d: %v (next %q, prev %q), the plain statement %v (next %q, prev %q)", name,
							len(pages), ids(got), got.Next, got.Prev, ids(want), want.Next, want.Prev)
					}
					pages = append(pages, got)
					if got.Next == "" || len(pages) > 60 {
						break
					}
					q.Cursor = got.Next
				}
				for i := len(pages) - 1; i > 0; i-- {
					q.Cursor = pages[i].Prev
					got, err := db.Audit().Query(ctx, q)
					must(t, name, err)
					if want := pageWith(t, db, &plain, q); !samePage(got, want) || !slices.Equal(ids(got), ids(pages[i-1])) {
						t.Fatalf("%s, back to page %d: %v, the plain statement %v, forward %v", name, i-1,
							ids(got), ids(want), ids(pages[i-1]))
					}
				}
			}
		}
	}
}

// pageWith is auditStore.Query with the dialect d.
func pageWith(t *testing.T, db *DB, d *paging.Dialect, q audit.Query) audit.Page {
	t.Helper()
	q, err := q.Normalize()
	must(t, "Normalize", err)
	eq, err := d.Events(q)
	must(t, "Events", err)
	rows, err := db.pool.Query(t.Context(), eq.SQL, eq.Args...)
	must(t, eq.SQL, err)
	defer rows.Close()
	var sc eventScan
	p, err := eq.Read(rows, func(e *audit.Event) error {
		if err := rows.Scan(sc.dest()...); err != nil {
			return err
		}
		return sc.finish(e, true)
	})
	must(t, "Read", err)
	return p
}

func ids(p audit.Page) []string {
	out := make([]string, len(p.Events))
	for i, e := range p.Events {
		out[i] = e.ID
	}
	return out
}

func samePage(a, b audit.Page) bool {
	return slices.Equal(ids(a), ids(b)) && a.Next == b.Next && a.Prev == b.Prev
}
