package postgres

import (
	"fmt"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
	"github.com/usher-go/usher/user"
)

// explain returns PostgreSQL's plan for query.
func explain(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), "EXPLAIN "+query, args...)
	if err != nil {
		t.Fatalf("EXPLAIN: %v\n%s", err, query)
	}
	lines, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return strings.Join(lines, "\n")
}

// checkSeek fails unless plan reads the index named and sorts nothing: a
// page, however deep, must be one index range scan that LIMIT stops.
func checkSeek(t *testing.T, what, plan, index string) {
	t.Helper()
	if strings.Contains(plan, "Sort") || !strings.Contains(plan, " using "+index+" ") {
		t.Errorf("%s: want an index scan of %s and no sort, got\n%s", what, index, plan)
	}
}

// The plans of the hot queries over enough rows (and fresh statistics) for
// the planner to choose as it would in production: every listing order
// reads its index in order, first page and deep, both directions; the
// session lookup probes the token_hash index; the audit trail pages on
// (time, id) (filtered pages: TestAuditPagePlans).
func TestPlans(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	benchUsers(t, db, 20_000)
	benchSessions(t, db, 20_000, t0)
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_events (time, action, outcome, actor_id)
		SELECT $1::timestamptz + i * interval '1 second', 'login.failed', 'failure', 'actor' || (i % 50)
		FROM generate_series(1, 20000) i`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}

	indexes := map[user.Sort]string{
		user.SortCreated: "users_created", user.SortEmail: "users_email_unique",
		user.SortName: "users_name", user.SortLastLogin: "users_last_login",
	}
	for _, s := range allSorts {
		for _, desc := range []bool{false, true} {
			q := user.Query{Sort: s, Descending: desc, Limit: 50}
			deep := q
			deep.Cursor = deepCursor(t, db, q, 10_000)
			for name, q := range map[string]user.Query{"first": q, "deep": deep} {
				query, args, _, err := listQuery(q)
				if err != nil {
					t.Fatal(err)
				}
				checkSeek(t, fmt.Sprintf("list %s desc=%v %s", s, desc, name), explain(t, db, query, args...), indexes[s])
			}
		}
	}

	_, hash := benchToken(7)
	checkSeek(t, "session lookup", explain(t, db, sessionLookupSQL, hash), "sessions_token_hash_unique")

	// The audit query is built inside Query; run it for its result, and
	// explain the same SQL by hand.
	p, err := db.Audit().Query(ctx, audit.Query{Limit: 50})
	if err != nil || p.Next == "" {
		t.Fatalf("Audit().Query: %d events, next %q, %v", len(p.Events), p.Next, err)
	}
	c, _ := paging.DecodeAuditCursor(p.Next)
	const page = `SELECT id FROM audit_events WHERE (time, id) < ($1, $2) ORDER BY time DESC, id DESC LIMIT 51`
	checkSeek(t, "audit page", explain(t, db, page, c.Time, 1<<40), "audit_time")
}
