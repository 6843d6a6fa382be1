package postgres

import (
	"slices"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/audit"
)

// Over a year of events of ten actions, one of them successful logins,
// counting three other actions' last 30 days reads the audit_action index
// (action, time, id), not the table, and so does counting successful
// logins too, which that index leaves out (migration 0018): they are
// counted over the range of audit_time. Without them, the second arm
// reads nothing. CountByDay is planned with its arguments at every call
// (countPlannedPerCall), and so is each plan here.
func TestCountByDayPlan(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	if _, err := db.pool.Exec(ctx, `INSERT INTO audit_events (time, action, outcome, actor_id)
		SELECT $1::timestamptz + i * interval '10 minutes',
			CASE WHEN i % 10 = 0 THEN 'login.succeeded' ELSE 'action.' || (i % 10) END, 'success', 'actor'
		FROM generate_series(1, 52560) i`, t0); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(ctx, `ANALYZE audit_events`); err != nil {
		t.Fatal(err)
	}
	until := t0.AddDate(1, 0, 0)
	since := until.AddDate(0, 0, -30)
	actions := []string{"action.1", "action.2", "action.3"}
	for _, c := range []struct {
		succeeded bool
		indexes   []string
	}{
		{false, []string{"audit_action"}},
		{true, []string{"audit_action", "audit_time"}},
	} {
		nodes, indexes := planOf(t, db, "", false, countByDayQuery, actions, since, until, c.succeeded)
		if slices.Contains(nodes, "Seq Scan") || !slices.Equal(indexes, c.indexes) {
			t.Errorf("succeeded=%v: nodes %v, indexes %v; want a scan of %v and no Seq Scan",
				c.succeeded, nodes, indexes, c.indexes)
		}
	}
	countPlannedPerCall(t, db, since, until)
}

// countPlannedPerCall: CountByDay, called ten times on one connection,
// is planned with its arguments each time, never by the generic plan
// that PostgreSQL switches a cached statement to after five calls, which
// reads the window whole through audit_time (TestCountByDayPlan).
func countPlannedPerCall(t *testing.T, db *DB, since, until time.Time) {
	one, err := OpenWith(t.Context(), testDSN(t)+"&pool_max_conns=1", Options{Schema: db.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	defer one.Close()
	for range 10 {
		if _, err := one.Audit().(audit.Counter).CountByDay(t.Context(),
			[]audit.Action{"action.1", audit.LoginSucceeded}, since, until); err != nil {
			t.Fatal(err)
		}
	}
	var generic int64
	if err := one.pool.QueryRow(t.Context(), `SELECT COALESCE(sum(generic_plans), 0)::bigint FROM pg_prepared_statements
		WHERE statement LIKE '%GROUP BY day, action%' AND statement NOT LIKE '%pg_prepared_statements%'`).Scan(&generic); err != nil {
		t.Fatal(err)
	}
	if generic != 0 {
		t.Errorf("CountByDay ran %d times by a generic plan; want planned with its arguments each time", generic)
	}
}

// TestPerCallMode: a host's cached query modes give way to one that plans
// each call (CountByDay); a mode that prepares no named statement, which
// a connection pooler may need, stays the host's.
func TestPerCallMode(t *testing.T) {
	for m, want := range map[pgx.QueryExecMode]pgx.QueryExecMode{
		pgx.QueryExecModeCacheStatement: pgx.QueryExecModeExec,
		pgx.QueryExecModeCacheDescribe:  pgx.QueryExecModeExec,
		pgx.QueryExecModeDescribeExec:   pgx.QueryExecModeDescribeExec,
		pgx.QueryExecModeExec:           pgx.QueryExecModeExec,
		pgx.QueryExecModeSimpleProtocol: pgx.QueryExecModeSimpleProtocol,
	} {
		if got := perCallMode(m); got != want {
			t.Errorf("perCallMode(%v) = %v, want %v", m, got, want)
		}
	}
}
