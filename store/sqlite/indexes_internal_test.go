package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
)

// indexUse is a secondary index and why it is kept: the statements whose
// plans read it, or, for an index no plan shows, the reason (a foreign
// key's check).
type indexUse struct {
	index   string
	queries []string
	reason  string
}

// writeHotIndexes are the secondary indexes of the tables every login
// writes, and every audited change. Each costs a page written and synced
// per row it changes (issue 12), so each must serve a statement the store
// runs.
func writeHotIndexes(t *testing.T) map[string][]indexUse {
	page := func(q audit.Query) string {
		t.Helper()
		q, err := q.Normalize()
		if err != nil {
			t.Fatal(err)
		}
		eq, err := dialect.Events(q)
		if err != nil {
			t.Fatal(err)
		}
		return eq.SQL
	}
	return map[string][]indexUse{
		"sessions": {
			{index: "sessions_user", queries: []string{
				`SELECT ` + sessionCols + ` FROM sessions s WHERE s.user_id = ? ORDER BY s.created_at DESC, s.id DESC`,
				`DELETE FROM sessions WHERE user_id = ? AND id <> ?`,
			}, reason: "and the cascade of a user's deletion to sessions"},
		},
		"throttle_failures": {
			{index: "throttle_failures_last", queries: []string{`DELETE FROM throttle_failures WHERE last_at < ?`}, reason: "Prune"},
		},
		"throttle_hits": {
			{index: "throttle_hits_window", queries: []string{`DELETE FROM throttle_hits WHERE window_start < ?`}, reason: "Prune"},
		},
		"audit_events": {
			{index: "audit_time", queries: []string{page(audit.Query{}), page(audit.Query{OldestFirst: true}),
				`DELETE FROM audit_events WHERE (id <= ? AND seq IS NOT NULL) OR (seq IS NULL AND time < ?)`},
				reason: "pages unfiltered, and PruneChained"},
			{index: "audit_action", queries: []string{page(audit.Query{Action: audit.LoginFailed}), countByDayQuery(2)},
				reason: "pages by action, and CountByDay"},
			{index: "audit_actor", queries: []string{page(audit.Query{ActorID: "u1"})}, reason: "pages by actor"},
			{index: "audit_target", queries: []string{page(audit.Query{TargetType: audit.TargetUser, TargetID: "u1"})},
				reason: "pages by target"},
			{index: "audit_outcome", queries: []string{page(audit.Query{Outcome: audit.Denied})}, reason: "pages by outcome"},
			{index: "audit_events_repeat", queries: []string{
				`UPDATE audit_events SET repeats = repeats + 1 WHERE repeat_key = ? AND seq IS NOT NULL RETURNING id`},
				reason: "folding a repeat"},
		},
	}
}

// TestWriteHotIndexesServeQueries (issue 12): every secondary index on a
// table a login writes is read by a statement the store runs, as
// EXPLAIN QUERY PLAN shows; an index nothing reads is a page written per
// login for nothing. UNIQUE constraints' own indexes are constraints, not
// listed.
func TestWriteHotIndexesServeQueries(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for table, uses := range writeHotIndexes(t) {
		rows, err := db.r.QueryContext(ctx, `SELECT name FROM sqlite_schema WHERE type = 'index' AND tbl_name = ?
			AND name NOT LIKE 'sqlite_autoindex_%' ORDER BY name`, table)
		if err != nil {
			t.Fatal(err)
		}
		var have, want []string
		for rows.Next() {
			var name string
			if err := rows.Scan(&name); err != nil {
				t.Fatal(err)
			}
			have = append(have, name)
		}
		if err := rows.Close(); err != nil {
			t.Fatal(err)
		}
		for _, u := range uses {
			want = append(want, u.index)
			for _, q := range u.queries {
				if plan := queryPlan(t, db, q); !slices.Contains(strings.Fields(plan), u.index) {
					t.Errorf("%s (kept for %q, %s): its plan does not read it:\n%s", u.index, q, u.reason, plan)
				}
			}
		}
		slices.Sort(want)
		if !slices.Equal(have, want) {
			t.Errorf("indexes on %s: %v, want those some statement reads: %v", table, have, want)
		}
	}
}

// queryPlan is explain of q with NULL for every parameter.
func queryPlan(t *testing.T, db *DB, q string) string {
	t.Helper()
	return explain(t, db, q, make([]any, strings.Count(q, "?"))...)
}

// TestPruneWalksTheRowid: without an index on seq (migration 0016),
// PruneChained finds its cut along the rowid, in order, never sorting and
// never reading audit_time, which would visit every event kept.
func TestPruneWalksTheRowid(t *testing.T) {
	db := newTestDB(t)
	for _, q := range []string{pruneKeepSQL, pruneNewestSQL, pruneBeforeSQL} {
		plan := queryPlan(t, db, q)
		if strings.Contains(plan, "TEMP B-TREE") || strings.Contains(plan, "INDEX") ||
			!strings.Contains(plan, "SEARCH audit_events USING INTEGER PRIMARY KEY") && plan != "SCAN audit_events\n" {
			t.Errorf("plan of %q:\n%s", q, plan)
		}
	}
}
