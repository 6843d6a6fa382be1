package postgres

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"os"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/auth"
)

// dsnEnv names the variable the tests find PostgreSQL through.
const dsnEnv = "USHER_TEST_POSTGRES"

// testDSN returns the test server's DSN. Unset, the test is skipped with
// how to run it; under CI=true, where the tests must run, it fails instead.
func testDSN(tb testing.TB) string {
	tb.Helper()
	dsn := os.Getenv(dsnEnv)
	if dsn != "" {
		return dsn
	}
	const how = dsnEnv + " is not set. To run the PostgreSQL tests, point it at a database the tests may " +
		"create and drop schemas in, e.g.\n\t" + dsnEnv +
		"=postgres://postgres@127.0.0.1:5432/test?sslmode=disable go test ./store/postgres"
	if os.Getenv("CI") == "true" {
		tb.Fatal(how + "\n(CI=true: the PostgreSQL tests must run in CI)")
	}
	tb.Skip(how)
	return ""
}

// newSchemaName returns a schema name no other test uses.
func newSchemaName() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return "usher_test_" + hex.EncodeToString(b[:])
}

// newTestDB opens a DB on a fresh schema, dropped when the test ends.
func newTestDB(tb testing.TB) *DB {
	tb.Helper()
	schema := newSchemaName()
	dropSchemaAtCleanup(tb, schema)
	return openSchema(tb, schema)
}

// newBareTestDB is newTestDB as the schema leaves it: no group, no event.
func newBareTestDB(tb testing.TB) *DB {
	tb.Helper()
	schema := newSchemaName()
	dropSchemaAtCleanup(tb, schema)
	return openBareSchema(tb, schema)
}

// openSchema opens another DB, with its own pool, on schema, closed when
// the test ends, and makes sure it holds the built-in groups.
func openSchema(tb testing.TB, schema string) *DB {
	tb.Helper()
	db := openBareSchema(tb, schema)
	withBuiltinGroups(tb, db)
	return db
}

// openBareSchema is openSchema without the built-in groups.
func openBareSchema(tb testing.TB, schema string) *DB {
	tb.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := OpenWith(ctx, testDSN(tb), Options{Schema: schema})
	if err != nil {
		tb.Fatalf("postgres.OpenWith(schema %s): %v", schema, err)
	}
	tb.Cleanup(func() {
		if err := db.Close(); err != nil {
			tb.Errorf("Close: %v", err)
		}
	})
	return db
}

// seedKey is the secret key of the Managers the tests make: the same as
// the instances tests' testKey, since a schema answers to one key only.
var seedKey = []byte("0123456789abcdef0123456789abcdef")

// withBuiltinGroups creates the built-in groups in s as a host's auth.New
// does: the schema creates no group.
func withBuiltinGroups(tb testing.TB, s auth.Store) {
	tb.Helper()
	_, err := auth.New(auth.Config{Store: s, SecretKey: seedKey, BcryptCost: 4, InsecureLowBcryptCostForTests: true})
	if err != nil {
		tb.Fatalf("auth.New: %v", err)
	}
}

// dropSchemaAtCleanup drops schema, and everything in it, when the test
// ends: after every DB registered later has been closed.
func dropSchemaAtCleanup(tb testing.TB, schema string) {
	tb.Helper()
	dsn := testDSN(tb)
	tb.Cleanup(func() {
		if err := dropSchema(dsn, schema); err != nil {
			tb.Errorf("dropping schema %s: %v", schema, err)
		}
	})
}

func dropSchema(dsn, schema string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	c, err := pgx.Connect(ctx, dsn)
	if err != nil {
		return err
	}
	defer c.Close(ctx)
	_, err = c.Exec(ctx, `DROP SCHEMA IF EXISTS `+pgx.Identifier{schema}.Sanitize()+` CASCADE`)
	return err
}
