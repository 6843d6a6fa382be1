package auth_test

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// The write floors at the size issue 12 names for its comparison: 100,000
// users, 200,000 sessions and a million audit events. The floors above
// run on files that hold only what their loops write, where every b-tree
// is a few pages deep and stays in the page cache; here each random key a
// write adds (a user's ID, email and name, a session's token, an audit
// event's target) lands in a large index, as it does in production.

// Sizes of the seeded file (issue 12).
const (
	scaleUsers    = 100_000
	scaleSessions = 200_000
	scaleEvents   = 1_000_000
)

// BenchmarkWriteFloorsAtScale is BenchmarkCreateUserFloor and
// BenchmarkLoginFloor (SQLite, on a twin file) with both files seeded:
// usher's with scaleUsers users, scaleSessions sessions over them and
// scaleEvents audit events on them, the floor's twin with the same number
// of users, all the floor's INSERT touches. The seed is plain SQL, a
// minute's work or less, made once for the sub-benchmarks. It reports
// usher/floor and each side's ns/op, as the floors above.
func BenchmarkWriteFloorsAtScale(b *testing.B) {
	ctx := context.Background()
	dir := b.TempDir()
	path, twin := filepath.Join(dir, "usher.db"), filepath.Join(dir, "floor.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { db.Close() })
	m, op := floorManager(b, db) // the groups, and the operator
	t, err := sqlite.Open(ctx, twin)
	if err != nil {
		b.Fatal(err)
	}
	t.Close()
	seed := rawWriter(b, path)
	seedUsers(b, seed)
	seedSessionsAndEvents(b, seed)
	raw := rawWriter(b, twin)
	if _, err := raw.Exec(`INSERT INTO groups (id, name, name_key, created_at, updated_at) VALUES ('users', 'Users', 'users', 0, 0)`); err != nil {
		b.Fatal(err)
	}
	seedUsers(b, raw)
	for _, r := range []*sql.DB{seed, raw} {
		checkpointTruncate(b, r)
	}
	seed.Close()
	insert := sqliteInsert(b, raw)

	email := floorAccount(b, m, op)
	n, created := 0, 0 // the floor's rows, usher's users
	usher := map[string]func(){
		"create-user": func() {
			created++
			if _, err := m.CreateUser(ctx, op, auth.NewUser{Email: fmt.Sprintf("scale%d@example.com", created),
				Name: "Floor User", Password: floorPassword, GroupID: "users"}); err != nil {
				b.Fatal(err)
			}
		},
		"login-success": func() {
			if _, err := m.Login(ctx, email, floorPassword, client); err != nil {
				b.Fatal(err)
			}
		},
	}
	for _, name := range []string{"create-user", "login-success"} {
		b.Run(name, func(b *testing.B) {
			usher[name]() // warm: every statement prepared
			tFloor, tUsher, ops := loopBoth(b, func() { n++; insert(b, n) }, usher[name])
			reportFloor(b, tUsher, tFloor, ops)
		})
	}
}

// seedUsers inserts scaleUsers users into the "users" group, with random
// IDs, emails and names, as usher issues and people choose them, created a
// second apart, two in three logged in once.
func seedUsers(b *testing.B, raw *sql.DB) {
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	if _, err := raw.Exec(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?1 - 1)
		INSERT INTO users `+floorInsertCols+`
		SELECT lower(hex(randomblob(12))), 'seed' || i || '-' || lower(hex(randomblob(4))) || '@seed.example',
			'Seed ' || i, lower(hex(randomblob(6))), 'users', 0, ?2, ?3 + i * 1000000000, ?3 + i * 1000000000,
			CASE WHEN i % 3 = 0 THEN NULL ELSE ?3 + abs(random() % 1000000000000000) END, 1
		FROM c`, scaleUsers, floorHash, t0); err != nil {
		b.Fatal(err)
	}
}

// seedSessionsAndEvents inserts scaleSessions sessions of random users and
// scaleEvents audit events on random users, outside the chain (as events
// from before it would be): most of them a user's own successful login,
// one in seven a failed one, one in ten an admin's change to the user.
func seedSessionsAndEvents(b *testing.B, raw *sql.DB) {
	var top int64
	if err := raw.QueryRow(`SELECT max(rowid) FROM users`).Scan(&top); err != nil {
		b.Fatal(err)
	}
	now := time.Now()
	if _, err := raw.Exec(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?1 - 1)
		INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent)
		SELECT lower(hex(randomblob(16))), randomblob(32), u.id, ?2, ?2, ?3, '198.51.100.7', ?4
		FROM c JOIN users u ON u.rowid = 1 + abs(random() % ?5)`,
		scaleSessions, now.UnixNano(), now.Add(24*time.Hour).UnixNano(), strings.Repeat("Mozilla/5.0 ", 8), top); err != nil {
		b.Fatal(err)
	}
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano()
	if _, err := raw.Exec(`WITH RECURSIVE c(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM c WHERE i < ?1 - 1)
		INSERT INTO audit_events (time, action, outcome, actor_id, actor_email, target_type, target_id,
			target_label, ip, user_agent, reason, details)
		SELECT ?2 + i * 1000000000,
			CASE WHEN i % 10 = 0 THEN 'user.updated' WHEN i % 7 = 0 THEN 'login.failed' ELSE 'login.succeeded' END,
			CASE WHEN i % 7 = 0 AND i % 10 <> 0 THEN 'failure' ELSE 'success' END,
			CASE WHEN i % 10 = 0 THEN 'seed-admin' ELSE u.id END,
			CASE WHEN i % 10 = 0 THEN 'admin@seed.example' ELSE u.email END,
			'user', u.id, u.email, '198.51.100.7', ?3,
			CASE WHEN i % 7 = 0 AND i % 10 <> 0 THEN 'wrong password' ELSE '' END,
			CASE WHEN i % 7 = 0 AND i % 10 <> 0 THEN '{"consecutive_failures":1}' END
		FROM c JOIN users u ON u.rowid = 1 + abs(random() % ?4)`,
		scaleEvents, t0, strings.Repeat("Mozilla/5.0 ", 8), top); err != nil {
		b.Fatal(err)
	}
}
