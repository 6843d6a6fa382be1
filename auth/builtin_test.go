package auth_test

import (
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// New creates the built-in groups a store lacks, each with its audit event
// (invariant 6), and a second Manager on the same store creates nothing.
func TestBuiltinGroupsCreatedAndAudited(t *testing.T) {
	e := newEnv(t)
	e.manager(e.db) // a second instance starting on the same store
	created := map[string]audit.Event{}
	for _, ev := range e.events() {
		if ev.Action == audit.GroupCreated {
			if _, twice := created[ev.Target.ID]; twice {
				t.Fatalf("group %s created twice", ev.Target.ID)
			}
			created[ev.Target.ID] = ev
		}
	}
	for _, id := range []group.ID{group.AdminID, group.UsersID} {
		ev, ok := created[string(id)]
		if !ok {
			t.Fatalf("no %s event for %s; events %v", audit.GroupCreated, id, created)
		}
		if ev.Actor.ID != "" || ev.Target.Type != audit.TargetGroup || ev.Outcome != audit.Success {
			t.Errorf("event %+v", ev)
		}
		if _, err := e.db.Groups().Get(e.ctx, id); err != nil {
			t.Errorf("group %s: %v", id, err)
		}
	}
}
