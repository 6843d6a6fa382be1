package sqlite

import (
	"context"
	"slices"
	"strings"
	"testing"
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
// writes. Each costs a page written and synced per row it changes
// (issue 12), so each must serve a statement the store runs.
var writeHotIndexes = map[string][]indexUse{
	"sessions": {
		{index: "sessions_user", queries: []string{
			`SELECT ` + sessionCols + ` FROM sessions s WHERE s.user_id = ? ORDER BY s.created_at DESC, s.id DESC`,
			`DELETE FROM sessions WHERE user_id = ? AND id <> ?`,
		}, reason: "and the cascade of a user's deletion to sessions"},
	},
}

// TestWriteHotIndexesServeQueries (issue 12): every secondary index on a
// table a login writes is read by a statement the store runs, as
// EXPLAIN QUERY PLAN shows; an index nothing reads is a page written per
// login for nothing. UNIQUE constraints' own indexes are constraints, not
// listed.
func TestWriteHotIndexesServeQueries(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for table, uses := range writeHotIndexes {
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
