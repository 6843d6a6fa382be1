package sqlite

import (
	"context"
	"database/sql"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
)

// A trail written before migration 0013 (a folded denial counted in its
// details, events with details of their own) keeps its events and counts;
// they are legacy, not covered by the chain, and the chain the Manager then
// writes checks whole beside them.
func TestUpgradeToAuditChain(t *testing.T) {
	ctx := context.Background()
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	path, w := migratedTo(t, ms[:12])
	if _, err := w.Exec(`INSERT INTO audit_events (time, action, outcome, actor_id, details, repeat_key) VALUES
		(1, 'authorization.denied', 'denied', 'u1', '{"repeated":5,"note":"kept"}', 'k1'),
		(2, 'user.created', 'success', 'u1', '{"email":"a@example.com"}', NULL),
		(3, 'logout', 'success', 'u1', '{"repeated":2}', 'k2')`); err != nil {
		t.Fatal(err)
	}
	w.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	st, err := db.Audit().ChainState(ctx)
	if err != nil || st.LegacyRow != 3 || st.Head.Seq != 0 {
		t.Fatalf("chain state after the upgrade: %+v, %v; want legacy up to row 3", st, err)
	}
	p, err := db.Audit().Query(ctx, audit.Query{Limit: 10, OldestFirst: true})
	if err != nil || len(p.Events) != 3 {
		t.Fatalf("events after the upgrade: %+v, %v", p.Events, err)
	}
	if d := p.Events[0].Details; d[audit.DetailRepeated] != float64(5) || d["note"] != "kept" {
		t.Errorf("the folded denial reads %v, want 5 repeats and its note", d)
	}
	if d := p.Events[2].Details; len(d) != 1 || d[audit.DetailRepeated] != float64(2) {
		t.Errorf("the folded logout reads %v, want only its 2 repeats", d)
	}
	var raw sql.NullString
	if err := db.r.QueryRow(`SELECT details FROM audit_events WHERE id = 3`).Scan(&raw); err != nil || raw.Valid {
		t.Errorf("details left in the row of a count alone: %v, %v", raw, err)
	}

	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: []byte("0123456789abcdef0123456789abcdef")}, "test")
	if err != nil {
		t.Fatal(err)
	}
	check, err := m.VerifyAuditLog(ctx, op)
	if err != nil || check.Break != nil || check.Legacy != 3 || check.Checked == 0 {
		t.Fatalf("VerifyAuditLog after the upgrade: %+v (break %v), %v; want 3 legacy events and the new ones checked", check, check.Break, err)
	}
}
