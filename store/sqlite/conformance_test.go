package sqlite_test

import (
	"database/sql"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/store/storetest"
)

func TestConformance(t *testing.T) {
	storetest.Run(t, func(t *testing.T) auth.Store {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "usher.db"))
		if err != nil {
			t.Fatalf("sqlite.Open: %v", err)
		}
		t.Cleanup(func() {
			if err := db.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
		})
		return db
	})
}

func TestAuditTampering(t *testing.T) {
	storetest.RunAuditTampering(t, func(t *testing.T) storetest.Tamper {
		path := filepath.Join(t.TempDir(), "usher.db")
		open := func(t *testing.T) auth.Store {
			db, err := sqlite.Open(t.Context(), path)
			if err != nil {
				t.Fatalf("sqlite.Open: %v", err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		}
		return storetest.Tamper{
			Store: open(t),
			Again: open,
			Exec: func(t *testing.T, stmt string) {
				t.Helper()
				raw, err := sql.Open("sqlite", path)
				if err != nil {
					t.Fatal(err)
				}
				defer raw.Close()
				if _, err := raw.Exec(stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			},
			Bytes: func(b []byte) string { return fmt.Sprintf("X'%X'", b) },
		}
	})
}
