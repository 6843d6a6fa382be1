package auth_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/postgres"
	"github.com/usher-go/usher/store/sqlite"
)

// The write floors of issue 12: CreateUser and a password login, less
// their password work, beside the one write they cannot do without, a raw
// INSERT of a user row and its commit, prepared once, on the same database
// in the same process, the two taking turns at going first (timeBoth).
//
// The password work is set aside rather than subtracted (SetBcryptAside):
// CreateUser stores a hash computed once, and Login's comparison answers
// from a memo of bcrypt's first answer. CreateUser's strength check
// (zxcvbn, issue 13) is CPU work on the password, not on the store, and
// weighed against bcrypt by BenchmarkPasswordStrength: it is set aside
// too (SetStrengthCheckAside); subtracting it, timed apart, added more
// noise than the whole difference being measured.

// writeFloor is one store and its raw floor: insert runs one INSERT of a
// user row and its commit.
type writeFloor struct {
	name   string
	store  auth.Store
	insert func(b *testing.B, n int)
}

// floorInsertCols are the columns of the floor's user row, as the stores'
// user Create writes them.
const floorInsertCols = `(id, email, name, name_key, group_id, disabled, password_hash, created_at, updated_at, last_login_at, version)`

// floorHash is the floor rows' password hash: as long as a real one.
var floorHash = "$usher2$k1$" + strings.Repeat("x", 60)

// writeFloors returns SQLite's floors, and PostgreSQL's when
// USHER_TEST_POSTGRES names a database.
//
// SQLite's floor runs on a twin file ("sqlite"): the same migrations, the
// same pragmas, in the same directory, written only by the floor. Its
// INSERT on usher's own file ("sqlite-shared") is kept for comparison, but
// it is not a floor usher can meet: every write of a second connection
// makes SQLite drop the other connection's whole page cache (in WAL mode,
// a changed wal-index header resets the pager), so each turn both sides
// read their b-trees back from the file, which a store's one writer never
// does in production.
func writeFloors(b *testing.B) []writeFloor {
	out := []writeFloor{sqliteWriteFloor(b, "sqlite", true), sqliteWriteFloor(b, "sqlite-shared", false)}
	if dsn := os.Getenv("USHER_TEST_POSTGRES"); dsn != "" {
		out = append(out, postgresWriteFloor(b, dsn))
	}
	return out
}

// sqliteWriteFloor opens a store and a raw pool of one connection with the
// store writer's pragmas (WAL, synchronous=FULL, BEGIN IMMEDIATE): on a
// twin file when twin is set, else on the store's own file.
func sqliteWriteFloor(b *testing.B, name string, twin bool) writeFloor {
	ctx := context.Background()
	dir := b.TempDir()
	path := filepath.Join(dir, "usher.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	if twin {
		path = filepath.Join(dir, "floor.db")
		t, err := sqlite.Open(ctx, path)
		if err != nil {
			b.Fatal(err)
		}
		t.Close()
	}
	raw := rawWriter(b, path)
	if twin {
		// The group the floor's rows name; usher's own file gets it from
		// auth.New.
		if _, err := raw.Exec(`INSERT INTO groups (id, name, name_key, created_at, updated_at)
			VALUES ('users', 'Users', 'users', 0, 0)`); err != nil {
			b.Fatal(err)
		}
	}
	return writeFloor{name: name, store: db, insert: sqliteInsert(b, raw)}
}

// sqliteInsert prepares the floor's INSERT on raw and returns the floor:
// the n-th user row inserted and committed.
func sqliteInsert(b *testing.B, raw *sql.DB) func(*testing.B, int) {
	st, err := raw.Prepare(`INSERT INTO users ` + floorInsertCols + ` VALUES (?, ?, ?, ?, 'users', 0, ?, ?, ?, NULL, 1)`)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { st.Close() })
	return func(b *testing.B, n int) {
		tx, err := raw.Begin()
		if err != nil {
			b.Fatal(err)
		}
		now := time.Now().UnixNano()
		id := floorID(n)
		if _, err := tx.Stmt(st).Exec(id, id+"@floor.example", "Floor", "floor", floorHash, now, now); err != nil {
			b.Fatal(err)
		}
		if err := tx.Commit(); err != nil {
			b.Fatal(err)
		}
	}
}

// rawWriter is a pool of one connection on the SQLite file at path with
// the store writer's pragmas (WAL, synchronous=FULL, the memory map, the
// automatic checkpoint at 10,000 pages as store/sqlite's
// walCheckpointPages, BEGIN IMMEDIATE).
func rawWriter(b *testing.B, path string) *sql.DB {
	raw, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(10000)&_pragma=journal_mode(WAL)"+
		"&_pragma=synchronous(FULL)&_pragma=foreign_keys(1)&_pragma=mmap_size(1073741824)"+
		"&_pragma=wal_autocheckpoint(10000)&_txlock=immediate")
	if err != nil {
		b.Fatal(err)
	}
	raw.SetMaxOpenConns(1)
	b.Cleanup(func() { raw.Close() })
	return raw
}

// postgresWriteFloor opens a store in a schema of its own and a raw pool
// on the same schema; pgx prepares the floor's INSERT once per connection.
func postgresWriteFloor(b *testing.B, dsn string) writeFloor {
	ctx := context.Background()
	db, raw, _ := postgresFloorSchema(b, dsn)
	const q = `INSERT INTO users ` + floorInsertCols + ` VALUES ($1, $2, 'Floor', 'floor', 'users', false, $3, $4, $4, NULL, 1)`
	insert := func(b *testing.B, n int) {
		id := floorID(n)
		err := pgx.BeginFunc(ctx, raw, func(tx pgx.Tx) error {
			_, err := tx.Exec(ctx, q, id, id+"@floor.example", floorHash, time.Now())
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
	return writeFloor{name: "postgres", store: db, insert: insert}
}

// postgresFloorSchema opens a store in a new schema, and a raw pool whose
// search_path is that schema, dropped with it when the benchmark ends.
func postgresFloorSchema(b *testing.B, dsn string) (*postgres.DB, *pgxpool.Pool, string) {
	ctx := context.Background()
	schema := "usher_floor_" + strings.ToLower(rand.Text()[:10])
	db, err := postgres.OpenWith(ctx, dsn, postgres.Options{Schema: schema})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := pgxpool.ParseConfig(dsn)
	if err != nil {
		b.Fatal(err)
	}
	cfg.ConnConfig.RuntimeParams["search_path"] = schema
	raw, err := pgxpool.NewWithConfig(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		db.Close()
		_, _ = raw.Exec(ctx, "DROP SCHEMA "+pgx.Identifier{schema}.Sanitize()+" CASCADE")
		raw.Close()
	})
	return db, raw, schema
}

// floorID is a fresh random user ID, as usher issues them; n keeps it
// apart from any other in the run.
func floorID(n int) string {
	var r [12]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("floor%d-%s", n, hex.EncodeToString(r[:]))
}

// floorManager is a Manager on s with bcrypt at its least cost, set aside,
// and throttling budgets no loop reaches (each attempt still counts
// against every one of them).
func floorManager(b *testing.B, s auth.Store) (*auth.Manager, *auth.Principal) {
	m, op, err := auth.NewWithOperator(auth.Config{Store: s, SecretKey: testKey, BcryptCost: 4,
		InsecureLowBcryptCostForTests: true,
		Throttle: auth.ThrottleConfig{PerIPPerMinute: 1 << 30, FreeFailures: 1 << 30,
			AccountFailuresPerDay: 1 << 30}}, "floor")
	if err != nil {
		b.Fatal(err)
	}
	return m, op
}

// floorPassword is the floor accounts' password.
const floorPassword = "Vq7#pLx2!mZr9k"

// floorAccount creates on m the account the floors log in to, with
// floorPassword, then sets bcrypt and the strength check aside on m, and
// returns the account's email.
func floorAccount(b *testing.B, m *auth.Manager, op *auth.Principal) string {
	const email = "login-floor@example.com"
	if _, err := m.CreateUser(context.Background(), op, auth.NewUser{Email: email, Name: "Login Floor",
		Password: floorPassword, GroupID: "users"}); err != nil {
		b.Fatal(err)
	}
	auth.SetBcryptAside(m)
	auth.SetStrengthCheckAside(m)
	return email
}

// BenchmarkCreateUserFloor times CreateUser, bcrypt and the strength
// check set aside, beside one raw INSERT and commit (target ≤ 1.5). It
// reports usher/floor and each side's ns/op.
func BenchmarkCreateUserFloor(b *testing.B) {
	for _, f := range writeFloors(b) {
		b.Run(f.name, func(b *testing.B) {
			ctx := context.Background()
			m, op := floorManager(b, f.store)
			auth.SetBcryptAside(m)
			auth.SetStrengthCheckAside(m)
			var tUsher, tFloor time.Duration
			n := 0
			for b.Loop() {
				email := fmt.Sprintf("create%d-%s@example.com", n, rand.Text()[:8])
				tf, tu := timeBoth(n, func() { f.insert(b, n) }, func() {
					if _, err := m.CreateUser(ctx, op, auth.NewUser{Email: email, Name: "Floor User",
						Password: floorPassword, GroupID: "users"}); err != nil {
						b.Fatal(err)
					}
				})
				tFloor += tf
				tUsher += tu
				n++
			}
			reportFloor(b, tUsher, tFloor, n)
		})
	}
}

// BenchmarkLoginFloor times a password login, bcrypt set aside, beside one
// raw INSERT and commit: a success (a session, target ≤ 2) and a wrong
// password. Each attempt is counted against the IP's minute, the
// network's back-off and the account's day, as in production.
func BenchmarkLoginFloor(b *testing.B) {
	for _, f := range writeFloors(b) {
		ctx := context.Background()
		m, op := floorManager(b, f.store)
		email := floorAccount(b, m, op)
		for _, c := range []struct {
			name, password string
			want           error
		}{{"success", floorPassword, nil}, {"wrong-password", "not the password", auth.ErrInvalidCredentials}} {
			b.Run(f.name+"/"+c.name, func(b *testing.B) {
				login := func() {
					if _, err := m.Login(ctx, email, c.password, client); !errorsIs(err, c.want) {
						b.Fatal(err)
					}
				}
				login() // bcrypt's answer, memoized
				var tUsher, tFloor time.Duration
				n := 0
				for b.Loop() {
					tf, tu := timeBoth(n, func() { f.insert(b, n) }, login)
					tFloor += tf
					tUsher += tu
					n++
				}
				reportFloor(b, tUsher, tFloor, n)
			})
		}
	}
}
