package postgres

import (
	"context"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

// TestAuditPageAllocations: a page of events with details allocates
// within 1.10 of the raw read of the same rows through the pool, scanned
// into plain values (issue 12's floor): details decoded without
// encoding/json's intermediate values, read into a reused buffer.
func TestAuditPageAllocations(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for i := range 60 {
		if err := db.Audit().Append(ctx, &audit.Event{Time: t0.Add(time.Duration(i) * time.Second),
			Action: audit.LoginFailed, Outcome: audit.Failure, Actor: audit.Actor{ID: "0123456789abcdef", Email: "a@example.com"},
			Target: audit.Target{Type: audit.TargetUser, ID: "0123456789abcdef", Label: "a@example.com"},
			IP:     "198.51.100.7", UserAgent: "Mozilla/5.0", Reason: "wrong password",
			Details: map[string]any{audit.DetailConsecutiveFailures: i%5 + 1}}); err != nil {
			t.Fatal(err)
		}
	}
	const raw = `SELECT id, time, action, outcome, actor_id, actor_email, target_type, target_id, target_label, ip,
		user_agent, reason, details, repeats FROM audit_events ORDER BY time DESC, id DESC LIMIT 51`
	floor := testing.AllocsPerRun(50, func() { floorAuditPage(t, db, raw, nil) })
	usher := testing.AllocsPerRun(50, func() {
		if p, err := db.Audit().Query(ctx, audit.Query{}); err != nil || len(p.Events) != 50 {
			t.Fatalf("page of %d, %v", len(p.Events), err)
		}
	})
	t.Logf("a page of 50: %v allocations, the raw read %v", usher, floor)
	if usher > 1.10*floor {
		t.Fatalf("a page of 50 allocates %v times, %.2f× the raw read's %v; want at most 1.10×", usher, usher/floor, floor)
	}
}
