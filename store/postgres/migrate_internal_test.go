package postgres

import (
	"context"
	_ "embed"
	"errors"
	"fmt"
	"net"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/internal/migrations"
)

// schemaVersions returns the versions recorded in schema.
func schemaVersions(t *testing.T, db *DB) []int {
	t.Helper()
	rows, err := db.pool.Query(t.Context(), `SELECT version FROM schema_version ORDER BY version`)
	if err != nil {
		t.Fatal(err)
	}
	vs, err := pgx.CollectRows(rows, pgx.RowTo[int])
	if err != nil {
		t.Fatal(err)
	}
	return vs
}

func TestMigrateOnceAndReopen(t *testing.T) {
	t.Parallel()
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	ms, _ := embedded()

	db := openSchema(t, schema)
	if db.Schema() != schema {
		t.Errorf("Schema() = %q, want %q", db.Schema(), schema)
	}
	if got := schemaVersions(t, db); len(got) != len(ms) {
		t.Fatalf("versions after Open: %v, want 1..%d", got, len(ms))
	}
	// A user survives reopening: the second Open migrates nothing.
	u := testUser("keep@example.com", group.UsersID)
	if err := db.Users().Create(t.Context(), u, ""); err != nil {
		t.Fatal(err)
	}
	db2 := openSchema(t, schema)
	if got := schemaVersions(t, db2); len(got) != len(ms) {
		t.Errorf("versions after reopening: %v, want 1..%d", got, len(ms))
	}
	if _, err := db2.Users().Get(t.Context(), u.ID); err != nil {
		t.Errorf("user created before reopening: %v", err)
	}
}

// Instances starting together on a new schema: each Open succeeds, and
// the schema is created and migrated once.
func TestMigrateConcurrentOpen(t *testing.T) {
	t.Parallel()
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	const n = 6
	dbs := make([]*DB, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
			defer cancel()
			dbs[i], errs[i] = OpenWith(ctx, testDSN(t), Options{Schema: schema})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("Open #%d: %v", i, err)
			continue
		}
		t.Cleanup(func() { dbs[i].Close() })
	}
	if t.Failed() {
		return
	}
	ms, _ := embedded()
	if got := schemaVersions(t, dbs[0]); len(got) != len(ms) {
		t.Errorf("versions after %d concurrent Opens: %v, want each of 1..%d once", n, got, len(ms))
	}
	// Open creates no group; each instance's auth.New, all at once, looks
	// for the built-in groups and they are made once.
	start = make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = auth.New(auth.Config{Store: dbs[i], SecretKey: make([]byte, 32), BcryptCost: 4,
				InsecureLowBcryptCostForTests: true})
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Errorf("auth.New #%d: %v", i, err)
		}
	}
	gs, err := dbs[n-1].Groups().List(t.Context())
	if err != nil || len(gs) != 2 {
		t.Errorf("built-in groups after concurrent Opens and auth.New: %d, %v; want 2", len(gs), err)
	}
}

// A schema migrated by a newer usher is refused and left as it was.
func TestMigrateRefusesNewerSchema(t *testing.T) {
	t.Parallel()
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	db := openSchema(t, schema)
	ms, _ := embedded()
	future := len(ms) + 1
	if _, err := db.pool.Exec(t.Context(), `INSERT INTO schema_version (version) VALUES ($1)`, future); err != nil {
		t.Fatal(err)
	}
	if _, err := db.pool.Exec(t.Context(), `CREATE TABLE from_the_future (x int)`); err != nil {
		t.Fatal(err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 30*time.Second)
	defer cancel()
	db2, err := OpenWith(ctx, testDSN(t), Options{Schema: schema})
	if err == nil {
		db2.Close()
		t.Fatal("Open of a schema at a newer version succeeded")
	}
	if !errors.Is(err, ErrSchemaTooNew) {
		t.Errorf("Open of a newer schema: %v, want ErrSchemaTooNew", err)
	}
	if got := schemaVersions(t, db); len(got) != future || got[len(got)-1] != future {
		t.Errorf("versions after the refused Open: %v, want 1..%d untouched", got, future)
	}
	var exists bool
	if err := db.pool.QueryRow(t.Context(), `SELECT to_regclass('from_the_future') IS NOT NULL`).Scan(&exists); err != nil || !exists {
		t.Errorf("the newer schema's table after the refused Open: exists=%v, %v", exists, err)
	}
}

// A failing step leaves the schema as it was: no half-applied migration.
func TestMigrateFailureRollsBack(t *testing.T) {
	t.Parallel()
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	db := openSchema(t, schema)
	ms, _ := embedded()
	bad := append(ms[:len(ms):len(ms)], migrations.Step{Version: len(ms) + 1, Name: "9999_bad.sql",
		SQL: `CREATE TABLE half_done (x int); SELECT no_such_function();`,
	})
	_, err := applyMigrations(t.Context(), db.pool, schema, bad)
	if err == nil || !strings.Contains(err.Error(), "9999_bad.sql") {
		t.Fatalf("applying a failing migration: %v, want an error naming it", err)
	}
	var exists bool
	if err := db.pool.QueryRow(t.Context(), `SELECT to_regclass('half_done') IS NOT NULL`).Scan(&exists); err != nil || exists {
		t.Errorf("table of the failed step: exists=%v, %v; want rolled back", exists, err)
	}
	if got := schemaVersions(t, db); len(got) != len(ms) {
		t.Errorf("versions after the failed step: %v, want 1..%d", got, len(ms))
	}
}

// Open without Options.Schema uses the DSN's search_path.
func TestOpenSearchPathFromDSN(t *testing.T) {
	t.Parallel()
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	// The schema must exist for search_path to resolve to it.
	first := openSchema(t, schema)
	first.Close()

	dsn := testDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	db, err := Open(t.Context(), dsn+sep+"search_path="+schema)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if db.Schema() != schema {
		t.Errorf("Schema() = %q, want %q from the DSN", db.Schema(), schema)
	}
}

func TestOpenUnreachable(t *testing.T) {
	t.Parallel() // no server needed: runs without USHER_TEST_POSTGRES too

	// A port that was listening a moment ago and no longer is.
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	// A server that accepts connections and never says a word: only the
	// deadline ends the wait for its startup reply.
	mute, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { mute.Close() })
	go func() {
		for {
			c, err := mute.Accept()
			if err != nil {
				return
			}
			t.Cleanup(func() { c.Close() })
		}
	}()

	cases := []struct {
		name, dsn string
	}{
		{"ClosedPort", "postgres://postgres@" + closed + "/test?sslmode=disable"},
		{"MuteServer", "postgres://postgres@" + mute.Addr().String() + "/test?sslmode=disable"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			const deadline = 2 * time.Second
			ctx, cancel := context.WithTimeout(t.Context(), deadline)
			defer cancel()
			start := time.Now()
			db, err := Open(ctx, c.dsn)
			took := time.Since(start)
			if err == nil {
				db.Close()
				t.Fatal("Open succeeded")
			}
			want := "postgres: connect to " + strings.TrimPrefix(strings.Split(c.dsn, "/")[2], "postgres@") + ": "
			if !strings.HasPrefix(err.Error(), want) {
				t.Errorf("error %q, want it to start with %q", err, want)
			}
			if c.name == "MuteServer" && !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("error %v, want context.DeadlineExceeded", err)
			}
			if took > deadline+500*time.Millisecond {
				t.Errorf("Open took %v, past its %v deadline", took, deadline)
			}
			t.Logf("after %v: %v", took.Round(time.Millisecond), err)
		})
	}
}

func TestOpenBadDSN(t *testing.T) {
	t.Parallel()
	_, err := Open(t.Context(), "postgres://u:s3cret@127.0.0.1:5432/db?pool_max_conns=zero")
	if err == nil {
		t.Fatal("Open with a malformed DSN succeeded")
	}
	if !strings.HasPrefix(err.Error(), "postgres: invalid DSN") || strings.Contains(err.Error(), "s3cret") {
		t.Errorf("error %q: want %q, without the password", err, "postgres: invalid DSN")
	}
}

// init0001v1 is 0001_init.sql as first released, verbatim: it inserted the
// built-in groups, which auth.New now creates.
//
//go:embed testdata/0001_init_v1.sql
var init0001v1 string

// A schema made by the first 0001_init.sql opens with this code and keeps
// its groups (the same IDs, names, permissions and times) and its users;
// auth.New, run again and again, creates no group beside them. Whether the
// schema stopped at the first step or went through every later one.
func TestUpgradeFromSeedingSchema(t *testing.T) {
	t.Parallel()
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	old := append([]migrations.Step{{Version: 1, Name: "0001_init.sql", SQL: init0001v1}}, ms[1:]...)
	for _, upTo := range []int{1, len(old)} {
		t.Run(fmt.Sprintf("version%d", upTo), func(t *testing.T) {
			t.Parallel()
			ctx := t.Context()
			schema := newSchemaName()
			dropSchemaAtCleanup(t, schema)
			pool, err := pgxpool.New(ctx, testDSN(t))
			if err != nil {
				t.Fatal(err)
			}
			if _, err := applyMigrations(ctx, pool, schema, old[:upTo]); err != nil {
				pool.Close()
				t.Fatalf("the old migrations: %v", err)
			}
			_, err = pool.Exec(ctx, `INSERT INTO `+pgx.Identifier{schema, "users"}.Sanitize()+`
				(id, email, name, name_key, group_id, created_at, updated_at)
				VALUES ('u1', 'old@example.com', 'Old', 'old', 'users', now(), now())`)
			pool.Close()
			if err != nil {
				t.Fatal(err)
			}

			db, err := OpenWith(ctx, testDSN(t), Options{Schema: schema})
			if err != nil {
				t.Fatalf("Open of a schema made by the old 0001: %v", err)
			}
			defer db.Close()
			if got := schemaVersions(t, db); len(got) != len(ms) {
				t.Fatalf("versions after Open: %v, want 1..%d", got, len(ms))
			}
			before, err := db.Groups().List(ctx)
			if err != nil || len(before) != 2 || before[0].ID != group.AdminID || before[1].ID != group.UsersID {
				t.Fatalf("groups of the old schema after Open: %+v, %v; want admin and users", before, err)
			}
			for range 2 {
				withBuiltinGroups(t, db)
			}
			after, err := db.Groups().List(ctx)
			if err != nil || !reflect.DeepEqual(after, before) {
				t.Errorf("groups after auth.New:\n got %+v, %v\nwant %+v", after, err, before)
			}
			u, err := db.Users().Get(ctx, "u1")
			if err != nil || u.GroupID != string(group.UsersID) {
				t.Errorf("the old schema's user: %+v, %v", u, err)
			}
		})
	}
}

// A session issued before 0014 keeps the limits it was issued under: the
// then default idle timeout of 24 hours (its expires_at is its own), not
// the shorter one sessions get now; and it is not remembered.
func TestSessionsBefore0014KeepTheirLimits(t *testing.T) {
	t.Parallel()
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	// The first 0001 seeds the groups the user needs.
	old := append([]migrations.Step{{Version: 1, Name: "0001_init.sql", SQL: init0001v1}}, ms[1:13]...)
	ctx := t.Context()
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	pool, err := pgxpool.New(ctx, testDSN(t))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := applyMigrations(ctx, pool, schema, old); err != nil {
		pool.Close()
		t.Fatalf("migrations up to 0013: %v", err)
	}
	for _, q := range []string{
		`INSERT INTO ` + pgx.Identifier{schema, "users"}.Sanitize() + ` (id, email, name, name_key, group_id, created_at, updated_at)
			VALUES ('u1', 'old@example.com', 'Old', 'old', 'users', now(), now())`,
		`INSERT INTO ` + pgx.Identifier{schema, "sessions"}.Sanitize() + ` (id, token_hash, user_id, created_at, last_seen_at, expires_at)
			VALUES ('s1', '\x01', 'u1', now(), now(), now() + interval '7 days')`,
	} {
		if _, err := pool.Exec(ctx, q); err != nil {
			pool.Close()
			t.Fatal(err)
		}
	}
	pool.Close()
	db, err := OpenWith(ctx, testDSN(t), Options{Schema: schema})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Sessions().Get(ctx, "s1")
	if err != nil || s.IdleTimeout != 24*time.Hour || s.Remembered {
		t.Fatalf("the old session: %+v, %v; want IdleTimeout 24h, not remembered", s, err)
	}
}
