package postgres_test

import (
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/postgres"
	"github.com/usher-go/usher/store/storetest"
)

// TestConformance runs the store conformance suite, each subtest on a
// schema of its own.
func TestConformance(t *testing.T) {
	postgres.TestDSN(t) // skip (or, under CI, fail) once rather than per subtest
	storetest.Run(t, func(t *testing.T) auth.Store {
		return postgres.NewBareTestDB(t)
	})
}
