package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
)

// eventPages appends events like each of kinds, a second apart, to a new
// database: three rounds to warm it (every b-tree then has its right-most
// leaf, where the next event goes), then one more of each, and returns the
// pages each of those wrote.
func eventPages(t *testing.T, kinds ...audit.Event) []int64 {
	t.Helper()
	db, path := walDB(t)
	ctx := context.Background()
	at := t0
	appendOne := func(k audit.Event) {
		at = at.Add(time.Second)
		e := k
		e.Time = at
		if err := db.Audit().Append(ctx, &e); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 {
		for _, k := range kinds {
			appendOne(k)
		}
	}
	pages := make([]int64, len(kinds))
	for i, k := range kinds {
		pages[i] = framesOf(t, db, path, func() { appendOne(k) })
	}
	return pages
}

// selfEvent is an event of u1 on their own account.
func selfEvent(a audit.Action, o audit.Outcome) audit.Event {
	return audit.Event{Action: a, Outcome: o, Actor: audit.Actor{ID: "u1"}, Target: audit.Target{Type: audit.TargetUser, ID: "u1"}}
}

// TestSuccessSkipsOutcomeIndex (issue 12, migration 0018): a successful
// event, which most logins and changes write, writes one page fewer than
// a failure: audit_outcome holds the rare outcomes only.
func TestSuccessSkipsOutcomeIndex(t *testing.T) {
	p := eventPages(t, selfEvent(audit.LoginSucceeded, audit.Failure), selfEvent(audit.LoginSucceeded, audit.Success))
	if failure, success := p[0], p[1]; success != failure-1 {
		t.Errorf("a success wrote %d pages and a failure %d; want one fewer for the success", success, failure)
	}
}

// TestAuditPagePlans: a page of events is one index walk in its order,
// never a sort, whichever single filter is set, in either order, with a
// cursor or not; a rare outcome reads the partial audit_outcome index
// (migration 0018), a success the time index; any action but a
// successful login reads the partial audit_action index (migration 0020),
// a successful login the time index.
func TestAuditPagePlans(t *testing.T) {
	db := newTestDB(t)
	cases := []struct {
		name  string
		q     audit.Query
		index string
	}{
		{"none", audit.Query{}, "audit_time"},
		{"action", audit.Query{Action: audit.LoginFailed}, "audit_action"},
		{"successful logins", audit.Query{Action: audit.LoginSucceeded}, "audit_time"},
		{"actor", audit.Query{ActorID: "u1"}, "audit_actor"},
		{"target", audit.Query{TargetType: audit.TargetUser, TargetID: "u1"}, "audit_target"},
		{"failure", audit.Query{Outcome: audit.Failure}, "audit_outcome"},
		{"denied", audit.Query{Outcome: audit.Denied}, "audit_outcome"},
		{"success", audit.Query{Outcome: audit.Success}, "audit_time"},
		{"since", audit.Query{Since: t0}, "audit_time"},
	}
	for _, c := range cases {
		eachPageShape(t, c.q, func(oldest, withCursor bool, eq paging.EventsQuery) {
			plan := explain(t, db, eq.SQL, eq.Args...)
			if strings.Contains(plan, "TEMP B-TREE") || !slices.Contains(strings.Fields(plan), c.index) {
				t.Errorf("%s oldest=%v cursor=%v: want a walk of %s:\n%s", c.name, oldest, withCursor, c.index, plan)
			}
		})
	}
}

// eachPageShape calls fn with the statement of a page of q in either
// order, with a cursor and without.
func eachPageShape(t *testing.T, q audit.Query, fn func(oldest, withCursor bool, eq paging.EventsQuery)) {
	t.Helper()
	for _, oldest := range []bool{false, true} {
		for _, withCursor := range []bool{false, true} {
			q := q
			q.OldestFirst = oldest
			if withCursor {
				q.Cursor = paging.EncodeAuditCursor(paging.AuditCursor{Time: t0, ID: "5", Oldest: oldest})
			}
			q, err := q.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			eq, err := dialect.Events(q)
			if err != nil {
				t.Fatal(err)
			}
			fn(oldest, withCursor, eq)
		}
	}
}

// TestPrunePlans (migration 0019): with audit_seq gone, Prune finds its
// cut on the table's own b-tree by ID, never reading the events it keeps
// through audit_time, and deletes through the ID range and audit_time.
func TestPrunePlans(t *testing.T) {
	db := newTestDB(t)
	for _, c := range []struct {
		name, q string
		want    []string
		not     []string
	}{
		{"first kept", pruneKeptSQL, []string{"SCAN audit_events"}, []string{"audit_time", "TEMP B-TREE"}},
		{"last before it", pruneLastBeforeSQL, []string{"SEARCH audit_events USING INTEGER PRIMARY KEY (rowid<?)"}, []string{"TEMP B-TREE"}},
		{"last", pruneLastSQL, []string{"SCAN audit_events"}, []string{"TEMP B-TREE", "INDEX"}},
		{"delete", pruneSQL, []string{"MULTI-INDEX OR", "INTEGER PRIMARY KEY (rowid<?)", "INDEX audit_time (time<?)"}, nil},
	} {
		plan := queryPlan(t, db, c.q)
		for _, w := range c.want {
			if !strings.Contains(plan, w) {
				t.Errorf("%s: plan lacks %q:\n%s", c.name, w, plan)
			}
		}
		for _, n := range c.not {
			if strings.Contains(plan, n) {
				t.Errorf("%s: plan has %q:\n%s", c.name, n, plan)
			}
		}
	}
}
