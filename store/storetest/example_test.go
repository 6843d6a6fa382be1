package storetest_test

import (
	"path/filepath"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/store/storetest"
)

// A store proves it keeps the contract with one test that hands Run a
// factory: a fresh, empty, migrated store per call, closed when the subtest
// ends. This is store/sqlite's; a host's own store looks the same. In a
// _test.go file the function is declared as func TestConformance(t *testing.T).
func ExampleRun() {
	testConformance := func(t *testing.T) {
		storetest.Run(t, func(t *testing.T) auth.Store {
			db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "users.db"))
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { db.Close() })
			return db
		})
	}
	_ = testConformance
}
