package sqlite

import (
	"context"
	"database/sql"
	_ "embed"
	"fmt"
	"path/filepath"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/internal/migrations"
)

func TestEmbeddedMigrationsAreNumbered(t *testing.T) {
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	if len(ms) == 0 || ms[0].Name != "0001_init.sql" {
		t.Fatalf("migrations = %v", ms)
	}
}

// A migration that fails leaves no trace of the steps before it.
func TestMigrationsAreAtomic(t *testing.T) {
	ctx := context.Background()
	wdsn, _, err := dsns(filepath.Join(t.TempDir(), "x.db"))
	if err != nil {
		t.Fatal(err)
	}
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	ms := []migrations.Step{
		{Version: 1, Name: "0001_ok.sql", SQL: "CREATE TABLE a (x); INSERT INTO a VALUES (1);"},
		{Version: 2, Name: "0002_bad.sql", SQL: "CREATE TABLE b (x); SELECT nonsense FROM nowhere;"},
	}
	if err := applyMigrations(ctx, w, ms); err == nil || !strings.Contains(err.Error(), "0002_bad.sql") {
		t.Fatalf("applyMigrations = %v, want the failing step named", err)
	}
	var n int
	if err := w.QueryRow(`SELECT count(*) FROM sqlite_schema WHERE name IN ('a', 'b', 'schema_version')`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d tables left behind by a failed migration (%v)", n, err)
	}
	// Applying the good step alone, twice, runs it once.
	for range 2 {
		if err := applyMigrations(ctx, w, ms[:1]); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.QueryRow(`SELECT count(*) FROM a`).Scan(&n); err != nil || n != 1 {
		t.Fatalf("rows in a = %d, %v; want the step applied once", n, err)
	}
}

func TestDSNs(t *testing.T) {
	w, r, err := dsns("file:/tmp/x.db?cache=private")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"file:/tmp/x.db?cache=private&", "_pragma=busy_timeout(10000)", "_pragma=foreign_keys(1)",
		"_pragma=journal_mode(WAL)", "_pragma=synchronous(FULL)", "_pragma=mmap_size(", "_txlock=immediate"} {
		if !strings.Contains(w, want) {
			t.Errorf("writer DSN %q lacks %q", w, want)
		}
	}
	if !strings.Contains(r, "_pragma=query_only(1)") || strings.Contains(r, "_txlock") {
		t.Errorf("reader DSN %q", r)
	}
	if w, _, _ := dsns("/tmp/x.db"); !strings.HasPrefix(w, "/tmp/x.db?_pragma=") {
		t.Errorf("plain path DSN %q", w)
	}
}

// The reader pool really is read-only: a write sent there by mistake fails
// instead of becoming a second writer.
func TestReadersAreQueryOnly(t *testing.T) {
	db := newTestDB(t)
	if _, err := db.r.Exec(`DELETE FROM groups`); err == nil {
		t.Fatal("write through a reader connection succeeded")
	}
	var fk, timeout int
	if err := db.r.QueryRow(`PRAGMA foreign_keys`).Scan(&fk); err != nil || fk != 1 {
		t.Errorf("reader foreign_keys = %d, %v", fk, err)
	}
	if err := db.w.QueryRow(`PRAGMA busy_timeout`).Scan(&timeout); err != nil || timeout != busyTimeoutMS {
		t.Errorf("writer busy_timeout = %d, %v", timeout, err)
	}
	var mode string
	if err := db.w.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Errorf("journal_mode = %q, %v", mode, err)
	}
	var mmap int64
	if err := db.r.QueryRow(`PRAGMA mmap_size`).Scan(&mmap); err != nil || mmap != mmapSize() {
		t.Errorf("reader mmap_size = %d, %v", mmap, err)
	}
}

// init0001v1 is 0001_init.sql as first released, verbatim: it inserted the
// built-in groups, which auth.New now creates.
//
//go:embed testdata/0001_init_v1.sql
var init0001v1 string

// A database made by the first 0001_init.sql opens with this code and keeps
// its groups (the same IDs, names, permissions and times) and its users;
// auth.New, run again and again, creates no group beside them. Whether the
// database stopped at the first step or went through every later one.
func TestUpgradeFromSeedingSchema(t *testing.T) {
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	old := append([]migrations.Step{{Version: 1, Name: "0001_init.sql", SQL: init0001v1}}, ms[1:]...)
	for _, upTo := range []int{1, len(old)} {
		t.Run(fmt.Sprintf("version%d", upTo), func(t *testing.T) {
			ctx := context.Background()
			path, w := migratedTo(t, old[:upTo])
			if _, err := w.Exec(`INSERT INTO users (id, email, name, name_key, group_id, created_at, updated_at)
				VALUES ('u1', 'old@example.com', 'Old', 'old', 'users', 1, 1)`); err != nil {
				t.Fatal(err)
			}
			w.Close()

			db, err := Open(ctx, path)
			if err != nil {
				t.Fatalf("Open of a database made by the old 0001: %v", err)
			}
			defer db.Close()
			var v int
			if err := db.r.QueryRow(`SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v != len(ms) {
				t.Fatalf("version after Open = %d, %v; want %d", v, err, len(ms))
			}
			before, err := db.Groups().List(ctx)
			if err != nil || len(before) != 2 || before[0].ID != group.AdminID || before[1].ID != group.UsersID {
				t.Fatalf("groups of the old database after Open: %+v, %v; want admin and users", before, err)
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
				t.Errorf("the old database's user: %+v, %v", u, err)
			}
		})
	}
}

// A session issued before 0014 keeps the limits it was issued under: the
// then default idle timeout of 24 hours (its expires_at is its own), not
// the shorter one sessions get now; and it is not remembered.
func TestSessionsBefore0014KeepTheirLimits(t *testing.T) {
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	path, w := migratedTo(t, ms[:13])
	for _, q := range []string{
		`PRAGMA foreign_keys = OFF`, // no groups: auth.New makes them
		`INSERT INTO users (id, email, name, name_key, group_id, created_at, updated_at) VALUES ('u1', 'old@example.com', 'Old', 'old', 'users', 1, 1)`,
		`INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at) VALUES ('s1', x'01', 'u1', 1, 1, 2)`,
	} {
		if _, err := w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := db.Sessions().Get(ctx, "s1")
	if err != nil || s.IdleTimeout != 24*time.Hour || s.Remembered {
		t.Fatalf("the old session: %+v, %v; want IdleTimeout 24h, not remembered", s, err)
	}
}

// migratedTo creates a database file with steps applied, as an older
// version of this package left it, and returns its path and a writer
// pool of one connection on it (so a pragma holds for what follows),
// closed at the end of the test.
func migratedTo(t *testing.T, steps []migrations.Step) (string, *sql.DB) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "old.db")
	wdsn, _, err := dsns(path)
	if err != nil {
		t.Fatal(err)
	}
	w, err := sql.Open("sqlite", wdsn)
	if err != nil {
		t.Fatal(err)
	}
	w.SetMaxOpenConns(1)
	t.Cleanup(func() { w.Close() })
	if err := applyMigrations(context.Background(), w, steps); err != nil {
		t.Fatalf("migrations up to %d: %v", len(steps), err)
	}
	return path, w
}
