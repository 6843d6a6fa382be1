package sqlite_test

import (
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
