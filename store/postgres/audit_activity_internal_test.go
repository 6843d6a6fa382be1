package postgres

import (
	"strings"
	"testing"
)

// Over a year of events of ten actions, counting three actions' last 30
// days reads the audit_action index (action, time, id), not the table.
func TestCountByDayPlan(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_events (time, action, outcome, actor_id)
		SELECT $1::timestamptz + i * interval '10 minutes', 'action.' || (i % 10), 'success', 'actor'
		FROM generate_series(1, 52560) i`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}
	until := t0.AddDate(1, 0, 0)
	plan := explain(t, db, countByDayQuery, []string{"action.1", "action.2", "action.3"}, until.AddDate(0, 0, -30), until)
	if !strings.Contains(plan, "audit_action") || strings.Contains(plan, "Seq Scan") {
		t.Errorf("want a scan of the audit_action index, got\n%s", plan)
	}
}
