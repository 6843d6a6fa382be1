package postgres

import (
	"testing"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
)

// As store/sqlite's: a trail written before migration 0013 keeps its
// events and counts, as legacy events beside the chain.
func TestUpgradeToAuditChain(t *testing.T) {
	t.Parallel()
	ctx := t.Context()
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	pool, err := pgxpool.New(ctx, testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := applyMigrations(ctx, pool, schema, ms[:12]); err != nil {
		pool.Close()
		t.Fatal(err)
	}
	_, err = pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "audit_events"}.Sanitize()+`
		(time, action, outcome, actor_id, details, repeat_key) VALUES
		(now(), 'authorization.denied', 'denied', 'u1', '{"repeated":5,"note":"kept"}', 'k1'),
		(now(), 'user.created', 'success', 'u1', '{"email":"a@example.com"}', NULL),
		(now(), 'logout', 'success', 'u1', '{"repeated":2}', 'k2')`)
	pool.Close()
	if err != nil {
		t.Fatal(err)
	}
	db, err := OpenWith(ctx, testDSN(t), Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Audit().ChainState(ctx)
	if err != nil || st.LegacyRow != 3 || st.Head.Seq != 0 {
		t.Fatalf("chain state after the upgrade: %+v, %v; want legacy up to row 3", st, err)
	}
	evs, err := db.Audit().ChainEvents(ctx, 0, 10)
	if err != nil || len(evs) != 3 {
		t.Fatalf("events after the upgrade: %+v, %v", evs, err)
	}
	p, err := db.Audit().Query(ctx, audit.Query{Limit: 10, Action: audit.AuthorizationDeny})
	if err != nil || len(p.Events) != 1 || p.Events[0].Details[audit.DetailRepeated] != float64(5) || p.Events[0].Details["note"] != "kept" {
		t.Fatalf("the folded denial after the upgrade: %+v, %v", p.Events, err)
	}
	p, err = db.Audit().Query(ctx, audit.Query{Limit: 10, Action: audit.Logout})
	if err != nil || len(p.Events) != 1 || len(p.Events[0].Details) != 1 || p.Events[0].Details[audit.DetailRepeated] != float64(2) {
		t.Fatalf("the folded logout after the upgrade: %+v, %v", p.Events, err)
	}
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: []byte("0123456789abcdef0123456789abcdef")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	check, err := m.VerifyAuditLog(ctx, op)
	if err != nil || check.Break != nil || check.Legacy != 3 || check.Checked == 0 {
		t.Fatalf("VerifyAuditLog after the upgrade: %+v (break %v), %v", check, check.Break, err)
	}
}
