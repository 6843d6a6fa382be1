package sqlite

import (
	"context"
	"database/sql"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
)

// Migration 0017 rebuilds audit_events without AUTOINCREMENT: every row
// keeps its ID and content, the indexes come back as they were, and the
// next event takes an ID above every one ever used, as sqlite_sequence
// remembered it, not above the rows left.
func TestUpgradeAuditIDs(t *testing.T) {
	ctx := context.Background()
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	if ms[16].Version != 17 {
		t.Fatalf("migration 17 is at %d", ms[16].Version)
	}
	path, w := migratedTo(t, ms[:16])
	if _, err := w.Exec(`INSERT INTO audit_events (time, action, outcome, actor_id, actor_email, target_type, target_id,
		target_label, ip, user_agent, reason, details, repeat_key, repeats, repeats_mac, seq, key_id, mac) VALUES
		(1, 'user.created', 'success', 'u1', 'a@example.com', 'user', 'u2', 'b@example.com', '192.0.2.1', 'ua', '', '{"k":"v"}', NULL, 1, NULL, NULL, NULL, NULL),
		(2, 'login.failed', 'failure', '', '', 'user', 'u3', '', '192.0.2.2', '', 'wrong password', NULL, 'r1', 4, x'0102', 1, 'k1', x'aabb'),
		(3, 'logout', 'success', 'u1', 'a@example.com', '', '', '', '', '', '', NULL, NULL, 1, NULL, 2, 'k1', x'ccdd'),
		(4, 'logout', 'success', 'u1', '', '', '', '', '', '', '', NULL, NULL, 1, NULL, NULL, NULL, NULL),
		(5, 'logout', 'success', 'u1', '', '', '', '', '', '', '', NULL, NULL, 1, NULL, NULL, NULL, NULL)`); err != nil {
		t.Fatal(err)
	}
	// The newest two pruned: sqlite_sequence remembers 5, the table holds
	// 3; the chain's head is at the last seq written.
	if _, err := w.Exec(`DELETE FROM audit_events WHERE id > 3; UPDATE audit_chain SET head_seq = 2`); err != nil {
		t.Fatal(err)
	}
	rows, indexes := auditRows(t, w), auditIndexes(t, w)
	w.Close()

	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if got := auditRows(t, db.w); got != rows {
		t.Errorf("rows after the upgrade:\n%s\nwant\n%s", got, rows)
	}
	// Open goes on to migration 0018, which makes audit_outcome partial,
	// 0019, which drops audit_seq, and 0020 and 0021, which make
	// audit_action and audit_actor partial.
	indexes = strings.Replace(indexes, "audit_actor ON audit_events (actor_id, time)",
		"audit_actor ON audit_events (actor_id, time) WHERE actor_id <> '' AND (target_type <> 'user' OR target_id <> actor_id)", 1)
	indexes = strings.Replace(indexes, "audit_action ON audit_events (action, time)",
		"audit_action ON audit_events (action, time) WHERE action <> 'login.succeeded'", 1)
	indexes = strings.Replace(indexes, "audit_outcome ON audit_events (outcome, time)",
		"audit_outcome ON audit_events (outcome, time) WHERE outcome <> 'success'", 1)
	indexes = strings.Replace(indexes, "\nCREATE UNIQUE INDEX audit_seq ON audit_events (seq) WHERE seq IS NOT NULL", "", 1)
	if got := auditIndexes(t, db.w); got != indexes {
		t.Errorf("indexes after the upgrade:\n%s\nwant\n%s", got, indexes)
	}
	var schema string
	if err := db.w.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'audit_events'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if strings.Contains(strings.ToUpper(schema), "AUTOINCREMENT") {
		t.Errorf("audit_events still has AUTOINCREMENT: %s", schema)
	}
	e := &audit.Event{Time: t0, Action: audit.Logout, Outcome: audit.Success}
	if err := db.Audit().Append(ctx, e); err != nil || e.ID != "6" {
		t.Errorf("first event after the upgrade: ID %q, %v; want 6, above the pruned 5", e.ID, err)
	}
	chained := &audit.Event{Time: t0, Action: audit.Logout, Outcome: audit.Success}
	if _, err := db.Audit().AppendChained(ctx, chained, "", func(head audit.Mark, e *audit.Event) (audit.Link, audit.Mark, error) {
		link := audit.Link{Seq: head.Seq + 1, KeyID: "k", MAC: []byte("mac")}
		return link, audit.Mark{Seq: link.Seq, LinkMAC: link.MAC, KeyID: "k", MAC: []byte("mark")}, nil
	}, nil); err != nil || chained.ID != "7" {
		t.Errorf("first chained event after the upgrade: ID %q, %v; want 7", chained.ID, err)
	}
}

// auditRows is every audit_events row, each column quoted as SQL.
func auditRows(t *testing.T, db *sql.DB) string {
	t.Helper()
	var s sql.NullString
	err := db.QueryRow(`SELECT group_concat(r, char(10)) FROM (SELECT concat_ws(',', quote(id), quote(time), quote(action),
		quote(outcome), quote(actor_id), quote(actor_email), quote(target_type), quote(target_id), quote(target_label), quote(ip),
		quote(user_agent), quote(reason), quote(details), quote(repeat_key), quote(repeats), quote(repeats_mac), quote(seq),
		quote(key_id), quote(mac)) AS r FROM audit_events ORDER BY id)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s.String
}

// auditIndexes is the SQL of every index on audit_events, by name.
func auditIndexes(t *testing.T, db *sql.DB) string {
	t.Helper()
	var s sql.NullString
	err := db.QueryRow(`SELECT group_concat(sql, char(10)) FROM (SELECT sql FROM sqlite_schema
		WHERE type = 'index' AND tbl_name = 'audit_events' ORDER BY name)`).Scan(&s)
	if err != nil {
		t.Fatal(err)
	}
	return s.String
}
