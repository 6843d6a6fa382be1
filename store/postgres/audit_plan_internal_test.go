package postgres

import (
	"encoding/hex"
	"encoding/json"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
)

// seedAuditMix inserts n events a second apart from t0, mixed as a
// healthy log is: most of them successful logins of 200 users, each on
// their own account; a failed login in 25, half of them naming no
// account; an admin's change of a user in 25; a denial in 100.
func seedAuditMix(t *testing.T, db *DB, n int) {
	t.Helper()
	ctx := t.Context()
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_events (time, action, outcome, actor_id, target_type, target_id)
		SELECT $1::timestamptz + i * interval '1 second',
			CASE WHEN b BETWEEN 1 AND 4 THEN 'login.failed' WHEN b BETWEEN 5 AND 8 THEN 'user.updated'
				WHEN b = 9 THEN 'user.deleted' ELSE 'login.succeeded' END,
			CASE WHEN b BETWEEN 1 AND 4 THEN 'failure' WHEN b = 9 THEN 'denied' ELSE 'success' END,
			CASE WHEN b IN (3, 4) THEN '' WHEN b BETWEEN 5 AND 8 THEN 'admin' || (i % 3)
				WHEN b = 9 THEN 'u' || (i % 7) ELSE 'u' || (i % 200) END,
			'user', 'u' || (i % 200)
		FROM generate_series(1, $2::int) i, LATERAL (SELECT i % 100 AS b) AS x`, t0, n); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}
}

// planNode is a node of EXPLAIN (FORMAT JSON)'s plan.
type planNode struct {
	NodeType  string     `json:"Node Type"`
	IndexName string     `json:"Index Name"`
	Plans     []planNode `json:"Plans"`
}

// ordered makes the planner sort nothing it can read in order, and read
// an index in its order rather than as a bitmap: a test of a page's plan
// then asks whether the page can be one walk that its LIMIT stops, as it
// is on a log too long to sort, whatever the size of the test's table.
const ordered = "SET LOCAL enable_sort = off; SET LOCAL enable_bitmapscan = off"

// planOf returns the node types and the indexes of PostgreSQL's plan for
// query, each sorted and listed once, planned after the SET LOCAL
// statements of settings (none when empty). Generic, it is the plan
// PostgreSQL makes of the prepared statement without its arguments' values,
// as it may once pgx has run the statement five times on a connection:
// then only the query's own terms, not its arguments, can prove a partial
// index usable (a custom plan proves outcome = 'failure' implies outcome
// <> 'success').
func planOf(t *testing.T, db *DB, settings string, generic bool, query string, args ...any) (nodes, indexes []string) {
	t.Helper()
	var raw []byte
	err := pgx.BeginFunc(t.Context(), db.pool, func(tx pgx.Tx) error {
		if generic {
			settings += "; SET LOCAL plan_cache_mode = force_generic_plan"
		}
		if _, err := tx.Exec(t.Context(), strings.TrimPrefix(settings, "; ")); settings != "" && err != nil {
			return err
		}
		if !generic {
			return tx.QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) "+query, args...).Scan(&raw)
		}
		if _, err := tx.Exec(t.Context(), "PREPARE usher_plan AS "+query); err != nil {
			return err
		}
		// EXPLAIN takes no parameters: EXECUTE's arguments are written.
		exec := "usher_plan"
		if len(args) > 0 {
			lits := make([]string, len(args))
			for i, a := range args {
				lits[i] = literal(t, a)
			}
			exec += " (" + strings.Join(lits, ", ") + ")"
		}
		err := tx.QueryRow(t.Context(), "EXPLAIN (FORMAT JSON) EXECUTE "+exec).Scan(&raw)
		if _, derr := tx.Exec(t.Context(), "DEALLOCATE usher_plan"); err == nil {
			err = derr
		}
		return err
	})
	if err != nil {
		t.Fatalf("EXPLAIN: %v\n%s", err, query)
	}
	var plans []struct{ Plan planNode }
	if err := json.Unmarshal(raw, &plans); err != nil || len(plans) != 1 {
		t.Fatalf("EXPLAIN: %v\n%s", err, raw)
	}
	var walk func(n planNode)
	walk = func(n planNode) {
		nodes = append(nodes, n.NodeType)
		if n.IndexName != "" {
			indexes = append(indexes, n.IndexName)
		}
		for _, c := range n.Plans {
			walk(c)
		}
	}
	walk(plans[0].Plan)
	slices.Sort(nodes)
	slices.Sort(indexes)
	return slices.Compact(nodes), slices.Compact(indexes)
}

// literal writes v, an argument of the statements planOf is given, as
// an SQL literal.
func literal(t *testing.T, v any) string {
	t.Helper()
	quote := func(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }
	switch v := v.(type) {
	case string:
		return quote(v)
	case time.Time:
		return quote(v.Format(time.RFC3339Nano))
	case int64:
		return strconv.FormatInt(v, 10)
	case bool:
		return strconv.FormatBool(v)
	case []string:
		for i := range v {
			v[i] = quote(v[i])
		}
		return "ARRAY[" + strings.Join(v, ", ") + "]::text[]"
	case [][]byte:
		lits := make([]string, len(v))
		for i := range v {
			lits[i] = `'\x` + hex.EncodeToString(v[i]) + "'"
		}
		return "ARRAY[" + strings.Join(lits, ", ") + "]::bytea[]"
	}
	t.Fatalf("literal: %T", v)
	return ""
}

// TestAuditPagePlans (migration 0018): over 20,000 events, a page of
// events can be one index walk in its order (ordered), never a sort nor a
// scan of the table, whichever single filter is set, in either order, with a cursor
// or not: a rare outcome reads the partial audit_outcome index, a success
// the time index; any action but a successful login reads the partial
// audit_action index, a successful login the time index; a page by actor
// merges audit_actor and audit_target (Merge Append), then reads its
// rows by ID. Custom and generic plans alike (planOf).
func TestAuditPagePlans(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	seedAuditMix(t, db, 20_000)
	cases := []struct {
		name    string
		q       audit.Query
		indexes []string
	}{
		{"none", audit.Query{}, []string{"audit_time"}},
		{"action", audit.Query{Action: audit.LoginFailed}, []string{"audit_action"}},
		{"successful logins", audit.Query{Action: audit.LoginSucceeded}, []string{"audit_time"}},
		{"actor", audit.Query{ActorID: "u7"}, []string{"audit_actor", "audit_events_pkey", "audit_target"}},
		{"admin", audit.Query{ActorID: "admin1"}, []string{"audit_actor", "audit_events_pkey", "audit_target"}},
		{"target", audit.Query{TargetType: audit.TargetUser, TargetID: "u7"}, []string{"audit_target"}},
		{"failure", audit.Query{Outcome: audit.Failure}, []string{"audit_outcome"}},
		{"denied", audit.Query{Outcome: audit.Denied}, []string{"audit_outcome"}},
		{"success", audit.Query{Outcome: audit.Success}, []string{"audit_time"}},
	}
	for _, c := range cases {
		eachPageShape(t, c.q, func(oldest, withCursor bool, eq paging.EventsQuery) {
			for _, generic := range []bool{false, true} {
				nodes, indexes := planOf(t, db, ordered, generic, eq.SQL, eq.Args...)
				bad := slices.Contains(nodes, "Sort") || slices.Contains(nodes, "Seq Scan") || slices.Contains(nodes, "Bitmap Heap Scan")
				if c.q.ActorID != "" && !slices.Contains(nodes, "Merge Append") {
					bad = true
				}
				if bad || !slices.Equal(indexes, c.indexes) {
					t.Errorf("%s oldest=%v cursor=%v generic=%v: nodes %v, indexes %v; want a walk of %v, no sort\n%s",
						c.name, oldest, withCursor, generic, nodes, indexes, c.indexes, eq.SQL)
				}
			}
		})
	}
}

// eachPageShape calls fn with the statement of a page of q in either
// order, with a cursor (in the middle of seedAuditMix's events) and
// without.
func eachPageShape(t *testing.T, q audit.Query, fn func(oldest, withCursor bool, eq paging.EventsQuery)) {
	t.Helper()
	for _, oldest := range []bool{false, true} {
		for _, withCursor := range []bool{false, true} {
			q := q
			q.OldestFirst = oldest
			if withCursor {
				q.Cursor = paging.EncodeAuditCursor(paging.AuditCursor{Time: t0.Add(10_000 * time.Second), ID: "10000", Oldest: oldest})
			}
			q, err := q.Normalize()
			if err != nil {
				t.Fatal(err)
			}
			eq, err := dialect.Events(q)
			if err != nil || !eq.OK {
				t.Fatal(err)
			}
			fn(oldest, withCursor, eq)
		}
	}
}
