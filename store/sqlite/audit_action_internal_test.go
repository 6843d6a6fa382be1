package sqlite

import (
	"context"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

// TestSuccessfulLoginSkipsActionIndex (issue 12, migration 0020): a
// successful login's event writes one page fewer than another event of
// the same outcome: audit_action leaves login.succeeded out.
func TestSuccessfulLoginSkipsActionIndex(t *testing.T) {
	db, path := walDB(t)
	ctx := context.Background()
	at := t0
	appendOne := func(a audit.Action) {
		at = at.Add(time.Second)
		e := &audit.Event{Time: at, Action: a, Outcome: audit.Success,
			Actor: audit.Actor{ID: "u1"}, Target: audit.Target{Type: audit.TargetUser, ID: "u1"}}
		if err := db.Audit().Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // warm, as in TestSuccessSkipsOutcomeIndex
		appendOne(audit.LoginSucceeded)
		appendOne(audit.LoginChallenged)
	}
	succeeded := framesOf(t, db, path, func() { appendOne(audit.LoginSucceeded) })
	challenged := framesOf(t, db, path, func() { appendOne(audit.LoginChallenged) })
	if succeeded != challenged-1 {
		t.Errorf("a successful login's event wrote %d pages and a challenge's %d; want one fewer", succeeded, challenged)
	}
}
