package postgres_test

import (
	"fmt"
	"testing"

	"github.com/jackc/pgx/v5"

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

func TestAuditTampering(t *testing.T) {
	dsn := postgres.TestDSN(t)
	storetest.RunAuditTampering(t, func(t *testing.T) storetest.Tamper {
		schema := postgres.NewSchemaName()
		postgres.DropSchemaAtCleanup(t, schema)
		return storetest.Tamper{
			Store: postgres.OpenBareSchema(t, schema),
			Again: func(t *testing.T) auth.Store { return postgres.OpenBareSchema(t, schema) },
			Exec: func(t *testing.T, stmt string) {
				t.Helper()
				c, err := pgx.Connect(t.Context(), dsn)
				if err != nil {
					t.Fatal(err)
				}
				defer c.Close(t.Context())
				if _, err := c.Exec(t.Context(), "SET search_path TO "+pgx.Identifier{schema}.Sanitize()); err != nil {
					t.Fatal(err)
				}
				if _, err := c.Exec(t.Context(), stmt); err != nil {
					t.Fatalf("%s: %v", stmt, err)
				}
			},
			Bytes:      func(b []byte) string { return fmt.Sprintf(`'\x%x'::bytea`, b) },
			Overriding: "OVERRIDING SYSTEM VALUE",
		}
	})
}
