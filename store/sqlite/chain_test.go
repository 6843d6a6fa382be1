package sqlite_test

import (
	"database/sql"
	"path/filepath"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/sqlite"
)

// SQLite keeps what PostgreSQL cannot (times to the nanosecond, NUL and
// invalid UTF-8 in text), and a link covers an event as every store gives
// it back (to the microsecond, U+FFFD for those). An event stored in any
// other form than the one it was sealed in was changed: a time moved by
// less than a microsecond (which can reorder events of the same
// microsecond), a U+FFFD turned into a NUL.
func TestChainCoversWhatSQLiteKeeps(t *testing.T) {
	const where = ` WHERE action = 'host.test'`
	for _, c := range []struct {
		name, stmt string
		changed    bool
	}{
		{"Untouched", `UPDATE audit_events SET time = time + 0` + where, false},
		{"SubMicrosecondTime", `UPDATE audit_events SET time = time + 999` + where, true},
		{"NULForReplacement", `UPDATE audit_events SET target_label = 'a' || char(0) || 'b'` + where, true},
		{"DetailsNUL", `UPDATE audit_events SET details = '{"n":0,"name":"Ops\u0000"}'` + where, true},
		{"DetailsNegativeZero", `UPDATE audit_events SET details = '{"n":-0,"name":"Ops\ufffd"}'` + where, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usher.db")
			db, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("sqlite.Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			m, op, err := auth.NewWithOperator(auth.Config{Store: db, Issuer: "chain", SecretKey: []byte("sqlite chain test key, 32 bytes!"),
				BcryptCost: 4, InsecureLowBcryptCostForTests: true}, "chain")
			if err != nil {
				t.Fatal(err)
			}
			err = m.Record(t.Context(), op, "host.test", audit.Success, audit.Target{Type: "t", ID: "x", Label: "a\uFFFDb"},
				map[string]any{"n": 0, "name": "Ops\uFFFD"})
			if err != nil {
				t.Fatal(err)
			}
			if _, err := m.CreateGroup(t.Context(), op, group.Group{Name: "Ops"}); err != nil {
				t.Fatal(err)
			}
			check, err := m.VerifyAuditLog(t.Context(), op)
			if err != nil || check.Break != nil {
				t.Fatalf("before: %+v, %v", check, err)
			}
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			var seq int64
			if err := raw.QueryRow(`SELECT seq FROM audit_events` + where).Scan(&seq); err != nil {
				t.Fatal(err)
			}
			if _, err := raw.Exec(c.stmt); err != nil {
				t.Fatalf("%s: %v", c.stmt, err)
			}
			check, err = m.VerifyAuditLog(t.Context(), op)
			if err != nil {
				t.Fatal(err)
			}
			b := check.Break
			switch {
			case !c.changed && b != nil:
				t.Fatalf("after %s: break %+v, want none", c.stmt, b)
			case c.changed && (b == nil || b.Kind != auth.BreakChanged || b.Seq != seq):
				t.Fatalf("after %s: break %+v, want changed at %d", c.stmt, b, seq)
			}
		})
	}
}

// A details column that is not a JSON object (empty, cut short, a number
// out of float64's range, bytes) fails the page with an error, never a
// panic and never an event with its details quietly dropped; a JSON null
// reads as no details, as encoding/json reads it.
func TestAuditQueryMalformedDetails(t *testing.T) {
	for _, c := range []struct {
		name, details string
		fails         bool
	}{
		{"Empty", `''`, true},
		{"CutShort", `'{"consecutive_failures":1'`, true},
		{"OutOfRange", `'{"n":1e400}'`, true},
		{"NotAnObject", `'[1,2]'`, true},
		{"Bytes", `x'ff00'`, true},
		{"Null", `'null'`, false},
		{"Flat", `'{"n":1}'`, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "usher.db")
			db, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			for i := range 3 { // a NULL before and after the row changed
				var details map[string]any
				if i == 1 {
					details = map[string]any{"n": 1}
				}
				if err := db.Audit().Append(t.Context(), &audit.Event{Action: "host.test", Outcome: audit.Success,
					Details: details}); err != nil {
					t.Fatal(err)
				}
			}
			raw, err := sql.Open("sqlite", path)
			if err != nil {
				t.Fatal(err)
			}
			defer raw.Close()
			if _, err := raw.Exec(`UPDATE audit_events SET details = ` + c.details + ` WHERE details IS NOT NULL`); err != nil {
				t.Fatal(err)
			}
			p, err := db.Audit().Query(t.Context(), audit.Query{})
			if c.fails {
				if err == nil {
					t.Fatalf("details %s: page of %d events, no error", c.details, len(p.Events))
				}
				return
			}
			if err != nil || len(p.Events) != 3 || p.Events[0].Details != nil || p.Events[2].Details != nil {
				t.Fatalf("details %s: %+v, %v", c.details, p.Events, err)
			}
		})
	}
}
