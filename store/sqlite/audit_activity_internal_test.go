package sqlite

import (
	"strings"
	"testing"
)

// CountByDay seeks the audit_action index (action, time) for each action
// rather than reading the whole trail.
func TestCountByDayUsesActionIndex(t *testing.T) {
	db := newTestDB(t)
	plan := explain(t, db, countByDayQuery(3), "login.succeeded", "login.failed", "login.throttled", int64(0), int64(1))
	if !strings.Contains(plan, "SEARCH audit_events USING INDEX audit_action (action=? AND time>? AND time<?)") {
		t.Errorf("plan:\n%s", plan)
	}
}
