package sqlite

import (
	"strings"
	"testing"
)

// CountByDay seeks the audit_action index (action, time) for each action
// rather than reading the whole trail, and the time range of audit_time
// for successful logins, which audit_action leaves out (migration 0020).
func TestCountByDayUsesActionIndex(t *testing.T) {
	db := newTestDB(t)
	plan := explain(t, db, countByDayQuery(2, true), int64(0), int64(1), "login.failed", "login.throttled")
	for _, want := range []string{
		"SEARCH audit_events USING INDEX audit_action (action=? AND time>? AND time<?)",
		"SEARCH audit_events USING INDEX audit_time (time>? AND time<?)",
	} {
		if !strings.Contains(plan, want) {
			t.Errorf("plan:\n%s\nwant %s", plan, want)
		}
	}
	if strings.Count(plan, "SEARCH") != 2 || strings.Contains(plan, "SCAN audit_events") {
		t.Errorf("plan:\n%s\nwant two searches and no scan", plan)
	}
}
