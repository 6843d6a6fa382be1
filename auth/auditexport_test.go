package auth_test

import (
	"bufio"
	"bytes"
	"database/sql"
	"encoding/csv"
	"encoding/json"
	"io"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// An export writes the events the query selects, oldest first, in either
// format; it is refused without audit:read and is itself recorded.
func TestExportAuditLog(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	hostile := auth.Client{IP: "203.0.113.5", UserAgent: "=HYPERLINK(\"http://evil.example\")"}
	if _, err := e.m.Login(e.ctx, "nobody@example.com", "wrong password!", hostile); err == nil {
		t.Fatal("login of an unknown email succeeded")
	}
	e.clk.Advance(30 * time.Minute) // within the admin session's idle hour
	since := e.clk.Now()
	_, p := e.user(admin, "erin@example.com", group.UsersID)
	all := e.events() // newest first

	var jsonl bytes.Buffer
	n, err := e.m.ExportAuditLog(e.ctx, admin, audit.Query{}, audit.JSONLines, &jsonl)
	if err != nil || n != int64(len(all)) {
		t.Fatalf("ExportAuditLog(JSON Lines) = %d, %v; want %d events", n, err, len(all))
	}
	var got []audit.ExportedEvent
	sc := bufio.NewScanner(&jsonl)
	for sc.Scan() {
		var ev audit.ExportedEvent
		if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
			t.Fatalf("line %q: %v", sc.Text(), err)
		}
		got = append(got, ev)
	}
	for i, ev := range got {
		want := all[len(all)-1-i]
		if ev.ID != want.ID || ev.Action != want.Action || ev.Actor != want.Actor.Email || ev.Label != want.Target.Label {
			t.Fatalf("line %d: %+v, want event %+v (oldest first)", i, ev, want)
		}
	}

	var ranged bytes.Buffer
	n, err = e.m.ExportAuditLog(e.ctx, admin, audit.Query{Since: since, Action: audit.UserCreated}, audit.CSV, &ranged)
	if err != nil || n != 1 {
		t.Fatalf("ExportAuditLog(CSV, since, user.created) = %d, %v; want 1", n, err)
	}
	rows, err := csv.NewReader(&ranged).ReadAll()
	if err != nil || len(rows) != 2 || rows[0][0] != "id" || rows[1][2] != string(audit.UserCreated) || rows[1][8] != "erin@example.com" {
		t.Fatalf("CSV export: %q, %v", rows, err)
	}

	var hostileCSV bytes.Buffer
	if _, err := e.m.ExportAuditLog(e.ctx, admin, audit.Query{Action: audit.LoginFailed}, audit.CSV, &hostileCSV); err != nil {
		t.Fatal(err)
	}
	rows, _ = csv.NewReader(&hostileCSV).ReadAll()
	if len(rows) != 2 || rows[1][10] != "'"+hostile.UserAgent {
		t.Fatalf("a user agent that is a formula exported as %q, want it defused with a quote", rows)
	}

	_, err = e.m.ExportAuditLog(e.ctx, p, audit.Query{}, audit.CSV, io.Discard)
	wantErr(t, err, auth.ErrForbidden)
	_, err = e.m.ExportAuditLog(e.ctx, admin, audit.Query{}, "xml", io.Discard)
	wantErr(t, err, audit.ErrInvalidQuery)
	ev := e.lastEvent(audit.AuditExported)
	if ev.Actor.Email != adminEmail || ev.Details[audit.DetailFormat] != "csv" || ev.Details[audit.DetailCount] != float64(1) {
		t.Errorf("export event %+v", ev)
	}
}

// seedEvents writes n events straight into the SQLite file at path, in one
// statement, outside the chain (as legacy events would be): one in seven a
// failed login with details, the rest successful logins, a second apart.
func seedEvents(t testing.TB, path string, n int) {
	t.Helper()
	db, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	_, err = db.Exec(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ? - 1)
		INSERT INTO audit_events (time, action, outcome, actor_id, actor_email, target_type, target_id,
			target_label, ip, user_agent, reason, details)
		SELECT ? + i * 1000000000,
			CASE WHEN i % 7 = 0 THEN 'login.failed' ELSE 'login.succeeded' END,
			CASE WHEN i % 7 = 0 THEN 'failure' ELSE 'success' END,
			'0123456789abcdef0123456789abcdef', 'person@example.com', 'user',
			'0123456789abcdef0123456789abcdef', 'person@example.com', '198.51.100.7', ?,
			CASE WHEN i % 7 = 0 THEN 'wrong password' ELSE '' END,
			CASE WHEN i % 7 = 0 THEN '{"consecutive_failures":1}' END
		FROM c`, n, t0, strings.Repeat("Mozilla/5.0 ", 8))
	if err != nil {
		t.Fatal(err)
	}
}
