package sqlite

import (
	"context"
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"strconv"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/internal/paging"
	"github.com/usher-go/usher/user"
)

// The benchmarks build their database afresh in b.TempDir() on every run,
// with raw SQL in one transaction (the store's own Create would take a
// minute for 100,000 users on a small machine); nothing is cached between
// runs. Rows are what the store would write, name_key included.

// benchUsers inserts n users: IDs as usher issues them (benchID), so in an
// order unrelated to creation, names drawn from a small set so the name
// order has ties in every case variant, a third never logged in.
func benchUsers(b *testing.B, db *DB, n int) {
	b.Helper()
	ctx := context.Background()
	rng := rand.New(rand.NewPCG(1, 2))
	first := []string{"alice", "Bob", "CAROL", "dave", "Émile", "frank", "Grace", "heidi", "Ivan", "judy"}
	last := []string{"Smith", "jones", "Müller", "O'Brien", "Nguyen", "garcía", "Kim", "Lee", "Brown", "Wilson"}
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO users
		(id, email, name, name_key, group_id, disabled, password_hash, created_at, updated_at, last_login_at)
		VALUES (?, ?, ?, ?, ?, ?, '', ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		name := first[rng.IntN(len(first))] + " " + last[rng.IntN(len(last))]
		created := t0.Add(time.Duration(i/2) * time.Second).UnixNano() // pairs tie
		var lastLogin any
		if i%3 != 0 {
			lastLogin = created + rng.Int64N(int64(1000*time.Hour))
		}
		groupID := "users"
		if i%10 == 0 {
			groupID = "admin"
		}
		if _, err := st.ExecContext(ctx, benchID("user", i), fmt.Sprintf("user%07d@example.com", i),
			name, foldKey(name), groupID, i%50 == 0, created, created, lastLogin); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
}

// BenchmarkListUsers lists 50-row pages of 100,000 users: the first page,
// and the page after the 50,000th row in each direction, which keyset paging
// must make as cheap as the first.
func BenchmarkListUsers(b *testing.B) {
	const n, depth = 100_000, 50_000
	db := newTestDB(b)
	start := time.Now()
	benchUsers(b, db, n)
	b.Logf("inserted %d users in %v", n, time.Since(start).Round(time.Millisecond))
	ctx := context.Background()
	for _, s := range allSorts {
		for _, desc := range []bool{false, true} {
			q := user.Query{Sort: s, Descending: desc, Limit: 50}
			dir := "asc"
			if desc {
				dir = "desc"
			}
			b.Run(fmt.Sprintf("%s/%s/first", s, dir), func(b *testing.B) {
				benchList(b, db, q)
			})
			// The cursor a client would hold after paging to row 50,000.
			col := orderKeys[s]
			var key, id string
			sqlDir := map[bool]string{false: "ASC", true: "DESC"}[desc]
			if err := db.r.QueryRowContext(ctx, fmt.Sprintf(`SELECT CAST(%s AS TEXT), u.id FROM users u
				ORDER BY %s %s, u.id %s LIMIT 1 OFFSET %d`, col, col, sqlDir, sqlDir, depth-1)).Scan(&key, &id); err != nil {
				b.Fatal(err)
			}
			deep := q
			deep.Cursor = paging.EncodeUserCursor(paging.UserCursor{Sort: s, Desc: desc, Key: key, ID: user.ID(id)})
			b.Run(fmt.Sprintf("%s/%s/deep", s, dir), func(b *testing.B) {
				benchList(b, db, deep)
			})
		}
	}
}

// orderKeys are the sort key columns of the listing orders.
var orderKeys = map[user.Sort]string{
	user.SortCreated:   "u.created_at",
	user.SortEmail:     "u.email",
	user.SortName:      "u.name_key",
	user.SortLastLogin: "u.last_login_key",
}

func benchList(b *testing.B, db *DB, q user.Query) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := db.Users().List(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Users) != q.Limit || p.Next == "" {
			b.Fatalf("page of %d, next %q", len(p.Users), p.Next)
		}
	}
}

// benchToken is session i's token as auth.Manager issues them (base64url
// of 32 random bytes) and what is stored: HMAC-SHA-256 of the raw bytes
// under the session key auth derives from the benchmarks' secret key
// (HKDF-SHA-256, label "usher session token v1").
func benchToken(i int) (string, []byte) {
	var seed [8]byte
	binary.LittleEndian.PutUint64(seed[:], uint64(i))
	raw := sha256.Sum256(seed[:])
	k, err := hkdf.Key(sha256.New, benchSecret, nil, "usher session token v1", 32)
	if err != nil {
		panic(err) // HKDF fails only for absurd lengths
	}
	mac := hmac.New(sha256.New, k)
	mac.Write(raw[:])
	return base64.RawURLEncoding.EncodeToString(raw[:]), mac.Sum(nil)
}

// benchID is the i-th ID of a kind ("user", "session") shaped as usher
// issues IDs (auth's newID: 128 random bits, 32 lower-case hex digits):
// the first 16 bytes of SHA-256 of the kind and i. Short sequential IDs
// would make every index smaller and every lookup faster than a real
// database's (issue 12). Being a function of i, the fixture is the same on
// every run and a benchmark can name row i's ID without keeping a list.
func benchID(kind string, i int) string {
	sum := sha256.Sum256(fmt.Appendf(nil, "%s %d", kind, i))
	return hex.EncodeToString(sum[:16])
}

// benchSecret is the secret key of the benchmarks' Managers.
var benchSecret = make([]byte, 32)

// BenchmarkSessionLookup looks sessions up among 200,000 (about 20 each
// for 10,000 users): the store's Lookup alone, serially and from parallel
// goroutines, and the whole auth.Manager.Authenticate it serves.
func BenchmarkSessionLookup(b *testing.B) {
	const users, perUser = 10_000, 20
	db := newTestDB(b)
	ctx := context.Background()
	now := t0.Add(time.Hour)
	start := time.Now()
	benchUsers(b, db, users)
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	st, err := tx.PrepareContext(ctx, `INSERT INTO sessions
		(id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent) VALUES (?, ?, ?, ?, ?, ?, ?, ?)`)
	if err != nil {
		b.Fatal(err)
	}
	// Enabled users only: Authenticate turns a disabled user away.
	var uids []string
	rows, err := tx.QueryContext(ctx, `SELECT id FROM users WHERE disabled = 0`)
	if err != nil {
		b.Fatal(err)
	}
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			b.Fatal(err)
		}
		uids = append(uids, id)
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	for i := range users * perUser {
		_, hash := benchToken(i)
		if _, err := st.ExecContext(ctx, benchID("session", i), hash, uids[i%len(uids)], now.UnixNano(), now.UnixNano(),
			now.Add(24*time.Hour).UnixNano(), "203.0.113.7",
			"Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36"); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	b.Logf("inserted %d sessions in %v", users*perUser, time.Since(start).Round(time.Millisecond))

	// Probe sessions in a random order, so the B-tree pages touched vary.
	rng := rand.New(rand.NewPCG(3, 4))
	probes := make([]int, 4096)
	for i := range probes {
		probes[i] = rng.IntN(users * perUser)
	}
	hashes := make([][]byte, len(probes))
	tokens := make([]string, len(probes))
	for i, p := range probes {
		tokens[i], hashes[i] = benchToken(p)
	}

	b.Run("store", func(b *testing.B) {
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			if _, _, _, err := db.Sessions().Lookup(ctx, hashes[i%len(hashes)]); err != nil {
				b.Fatal(err)
			}
			i++
		}
	})
	b.Run("store-parallel", func(b *testing.B) {
		b.ReportAllocs()
		b.RunParallel(func(pb *testing.PB) {
			i := rand.IntN(len(hashes))
			for pb.Next() {
				if _, _, _, err := db.Sessions().Lookup(ctx, hashes[i%len(hashes)]); err != nil {
					b.Error(err)
					return
				}
				i++
			}
		})
	})
	b.Run("authenticate", func(b *testing.B) {
		m, err := auth.New(auth.Config{
			Store: db, SecretKey: benchSecret, BcryptCost: 4, InsecureLowBcryptCostForTests: true,
			Now: func() time.Time { return now }, // sessions were seen just now: no Touch
		})
		if err != nil {
			b.Fatal(err)
		}
		b.ReportAllocs()
		i := 0
		for b.Loop() {
			p, err := m.Authenticate(ctx, tokens[i%len(tokens)])
			if err != nil {
				b.Fatal(err)
			}
			_ = p.Can("profile:update_name")
			i++
		}
	})
}

// BenchmarkAuditQuery pages 100,000 events newest first, unfiltered and by
// actor: the first page, and the page after the 50,000th event, which the
// (time, id) keyset must make as cheap as the first.
func BenchmarkAuditQuery(b *testing.B) {
	const n, depth = 100_000, 50_000
	db := newTestDB(b)
	ctx := context.Background()
	tx, err := db.w.BeginTx(ctx, nil)
	if err != nil {
		b.Fatal(err)
	}
	defer tx.Rollback()
	st, err := tx.PrepareContext(ctx, `INSERT INTO audit_events (time, action, outcome, actor_id, actor_email,
		target_type, target_id, ip, user_agent, details) VALUES (?, ?, ?, ?, ?, 'user', ?, '203.0.113.7', 'bench/1.0', ?)`)
	if err != nil {
		b.Fatal(err)
	}
	for i := range n {
		if _, err := st.ExecContext(ctx, t0.Add(time.Duration(i/2)*time.Second).UnixNano(), "login.succeeded", "success",
			benchID("user", i%10), fmt.Sprintf("u%07d@example.com", i%10), benchID("user", i), `{"method":"password"}`); err != nil {
			b.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		b.Fatal(err)
	}
	for _, f := range []struct {
		name string
		q    audit.Query
	}{
		{"all", audit.Query{Limit: 50}},
		{"actor", audit.Query{ActorID: benchID("user", 3), Limit: 50}},
	} {
		b.Run(f.name+"/first", func(b *testing.B) { benchAudit(b, db, f.q) })
		// The cursor a client would hold after paging to event 50,000 of
		// those the filter keeps.
		deep := f.q
		deep.Limit = 500
		for range depth / 10 / 500 {
			p, err := db.Audit().Query(ctx, deep)
			if err != nil || p.Next == "" {
				b.Fatalf("walking to the deep page: %v", err)
			}
			deep.Cursor = p.Next
			if f.q.ActorID == "" {
				for range 9 { // ten times as many events without a filter
					if p, err = db.Audit().Query(ctx, deep); err != nil || p.Next == "" {
						b.Fatalf("walking to the deep page: %v", err)
					}
					deep.Cursor = p.Next
				}
			}
		}
		deep.Limit = 50
		b.Run(f.name+"/deep", func(b *testing.B) { benchAudit(b, db, deep) })
	}
}

func benchAudit(b *testing.B, db *DB, q audit.Query) {
	ctx := context.Background()
	b.ReportAllocs()
	for b.Loop() {
		p, err := db.Audit().Query(ctx, q)
		if err != nil {
			b.Fatal(err)
		}
		if len(p.Events) != q.Limit || p.Next == "" {
			b.Fatalf("page of %d, next %q", len(p.Events), p.Next)
		}
	}
}

// BenchmarkDurability weighs synchronous=FULL (the writer's setting: every
// commit is synced) against NORMAL, interleaved in one loop so that both
// see the same machine: a bare write (a throttle counter, one commit), a
// CreateUser and a Login through auth.Manager, bcrypt at cost 4 so that the
// sync is not hidden behind it (at the default cost 12 a bcrypt takes
// about 250 ms). It reports each as µs/op and FULL's ratio to NORMAL.
func BenchmarkDurability(b *testing.B) {
	ctx := context.Background()
	type side struct {
		db *DB
		m  *auth.Manager
		op *auth.Principal
	}
	open := func(mode string) side {
		defer func(old string) { synchronous = old }(synchronous)
		synchronous = mode
		db, err := Open(ctx, b.TempDir()+"/durability.db")
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { db.Close() })
		m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: benchSecret, BcryptCost: 4,
			InsecureLowBcryptCostForTests: true}, "bench")
		if err != nil {
			b.Fatal(err)
		}
		return side{db, m, op}
	}
	sides := [2]side{open("NORMAL"), open("FULL")}
	var hit, create, login [2]time.Duration
	n := 0
	for b.Loop() {
		for j, s := range sides {
			t := time.Now()
			if _, err := s.db.Throttle().Hit(ctx, "k"+strconv.Itoa(n), t0); err != nil {
				b.Fatal(err)
			}
			hit[j] += time.Since(t)
			email := fmt.Sprintf("u%d@example.com", n)
			t = time.Now()
			if _, err := s.m.CreateUser(ctx, s.op, auth.NewUser{Email: email, Password: "a long enough password", GroupID: "users"}); err != nil {
				b.Fatal(err)
			}
			create[j] += time.Since(t)
			t = time.Now()
			if _, err := s.m.Login(ctx, email, "a long enough password", auth.Client{}); err != nil {
				b.Fatal(err)
			}
			login[j] += time.Since(t)
		}
		n++
	}
	for _, r := range []struct {
		name string
		d    [2]time.Duration
	}{{"write", hit}, {"create", create}, {"login", login}} {
		b.ReportMetric(float64(r.d[0].Microseconds())/float64(n), r.name+"-normal-µs/op")
		b.ReportMetric(float64(r.d[1].Microseconds())/float64(n), r.name+"-full-µs/op")
		b.ReportMetric(float64(r.d[1])/float64(r.d[0]), r.name+"-full/normal")
	}
}
