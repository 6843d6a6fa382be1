package sqlite

import (
	"context"
	"crypto/sha256"
	"errors"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// lookupSessions creates n users in group "ops" with one session each and
// returns the sessions' token hashes; session i is "s<i>" of user "u<i>".
func lookupSessions(t *testing.T, db *DB, n int) [][]byte {
	t.Helper()
	ctx := context.Background()
	g := &group.Group{ID: "ops", Name: "Ops", Permissions: []group.Permission{"a:b"}, CreatedAt: t0, UpdatedAt: t0}
	if err := db.Groups().Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	hashes := make([][]byte, n)
	for i := range n {
		id := strconv.Itoa(i)
		u := &user.User{ID: user.ID("u" + id), Email: id + "@example.com", GroupID: "ops", CreatedAt: t0, UpdatedAt: t0}
		if err := db.Users().Create(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		h := sha256.Sum256([]byte(u.ID))
		hashes[i] = h[:]
		s := &auth.Session{ID: "s" + id, UserID: u.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.Sessions().Create(ctx, s, hashes[i]); err != nil {
			t.Fatal(err)
		}
	}
	return hashes
}

// lookupOpen is how many of the lookup's own connections are open, and
// how many of them are free.
func lookupOpen(db *DB) (open, free int) {
	db.lookups.mu.Lock()
	defer db.lookups.mu.Unlock()
	return db.lookups.open, len(db.lookups.free)
}

// Outside a transaction the session lookup runs on a connection of its
// own, kept and reused by a lone caller; it reads what is committed at
// each call (a revoked session, a changed permission list); a context
// already ended fails it with the context's error and closes that
// connection; with every connection busy it runs on the pool; after
// Close it fails.
func TestLookupConns(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	hashes := lookupSessions(t, db, 3)
	ss := sessionStore{db.root}
	lookup := func(ctx context.Context, i int) (lookupResult, error) {
		var r lookupResult
		err := ss.LookupInto(ctx, hashes[i], &r.s, &r.u, &r.g)
		return r, err
	}

	r, err := lookup(ctx, 0)
	if err != nil || r.s.ID != "s0" || r.u.ID != "u0" || !slices.Equal(r.g.Permissions, []group.Permission{"a:b"}) {
		t.Fatalf("lookup: %+v, %v", r, err)
	}
	if open, free := lookupOpen(db); open != 1 || free != 1 {
		t.Fatalf("after one lookup: %d connections open, %d free; want the lookup's own, kept", open, free)
	}
	kept := db.lookups.free[0]
	if _, err := lookup(ctx, 1); err != nil {
		t.Fatal(err)
	}
	if open, _ := lookupOpen(db); open != 1 || db.lookups.free[0] != kept {
		t.Fatalf("a lone caller's second lookup did not reuse its connection (%d open)", open)
	}

	// Committed changes read on the very next lookup (invariant 3).
	if _, err := db.w.ExecContext(ctx, `UPDATE groups SET permissions = 'x:y z:*' WHERE id = 'ops'`); err != nil {
		t.Fatal(err)
	}
	if r, err := lookup(ctx, 1); err != nil || !slices.Equal(r.g.Permissions, []group.Permission{"x:y", "z:*"}) {
		t.Fatalf("after changing the group: %v, %v", r.g.Permissions, err)
	}
	if err := db.Sessions().Delete(ctx, "s1"); err != nil {
		t.Fatal(err)
	}
	if _, err := lookup(ctx, 1); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Fatalf("a deleted session: %v, want ErrSessionNotFound", err)
	}
	if open, free := lookupOpen(db); open != 1 || free != 1 {
		t.Fatalf("after a lookup that found nothing: %d open, %d free; want the connection kept", open, free)
	}

	ended, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := lookup(ended, 0); !errors.Is(err, context.Canceled) {
		t.Fatalf("an ended context: %v, want context.Canceled", err)
	}
	if open, free := lookupOpen(db); open != 0 || free != 0 {
		t.Fatalf("after a failed lookup: %d open, %d free; want its connection closed", open, free)
	}

	var busy []*lookupConn
	for range lookupConnsMax {
		c := db.lookups.get(ctx)
		if c == nil {
			t.Fatal("fewer than lookupConnsMax connections")
		}
		busy = append(busy, c)
	}
	if r, err := lookup(ctx, 2); err != nil || r.s.ID != "s2" {
		t.Fatalf("with every connection busy: %+v, %v", r, err)
	}
	if open, _ := lookupOpen(db); open != lookupConnsMax {
		t.Fatalf("%d open past the bound %d", open, lookupConnsMax)
	}
	for _, c := range busy {
		db.lookups.put(c, false)
	}
	if c := db.lookups.get(ctx); c != busy[len(busy)-1] {
		t.Fatal("the connection given back last was not taken first")
	} else {
		db.lookups.put(c, false)
	}

	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	if open, free := lookupOpen(db); open != 0 || free != 0 {
		t.Fatalf("after Close: %d open, %d free", open, free)
	}
	if _, err := lookup(ctx, 0); err == nil {
		t.Fatal("a lookup after Close succeeded")
	}
}

// Many goroutines at once (run with -race), more than the lookup has
// connections: each reads its own session, and no more connections open
// than the bound.
func TestLookupConnsConcurrent(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	const n = 40
	hashes := lookupSessions(t, db, n)
	ss := sessionStore{db.root}
	var wg sync.WaitGroup
	for g := range 3 * lookupConnsMax {
		wg.Go(func() {
			for k := range 100 {
				i := (g*7 + k) % n
				var r lookupResult
				if err := ss.LookupInto(ctx, hashes[i], &r.s, &r.u, &r.g); err != nil || r.s.ID != "s"+strconv.Itoa(i) {
					t.Errorf("goroutine %d: session %d read as %q, %v", g, i, r.s.ID, err)
					return
				}
			}
		})
	}
	wg.Wait()
	if open, free := lookupOpen(db); open > lookupConnsMax || open != free {
		t.Fatalf("%d connections open, %d free; bound %d", open, free, lookupConnsMax)
	}
}

// A first lookup whose context has already ended fails with the
// context's error and leaves the lookup's own connections to the next
// caller; a connection that cannot be opened at all leaves every lookup
// to the pool, which still answers.
func TestLookupConnsDialFailures(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	hashes := lookupSessions(t, db, 1)
	ss := sessionStore{db.root}
	var r lookupResult
	ended, cancel := context.WithCancel(ctx)
	cancel()
	if err := ss.LookupInto(ended, hashes[0], &r.s, &r.u, &r.g); !errors.Is(err, context.Canceled) {
		t.Fatalf("an ended context: %v, want context.Canceled", err)
	}
	if err := ss.LookupInto(ctx, hashes[0], &r.s, &r.u, &r.g); err != nil || r.s.ID != "s0" {
		t.Fatalf("next lookup: %q, %v", r.s.ID, err)
	}
	if open, free := lookupOpen(db); open != 1 || free != 1 {
		t.Fatalf("after a dial cut short by its caller: %d open, %d free; want the next lookup on its own connection", open, free)
	}

	broken := newTestDB(t)
	hashes = lookupSessions(t, broken, 1)
	broken.lookups.dsn = "file:" + t.TempDir() + "/missing/usher.db?mode=ro"
	ss = sessionStore{broken.root}
	for range 2 {
		r = lookupResult{}
		if err := ss.LookupInto(ctx, hashes[0], &r.s, &r.u, &r.g); err != nil || r.s.ID != "s0" {
			t.Fatalf("with no connection of its own: %q, %v", r.s.ID, err)
		}
	}
	if open, _ := lookupOpen(broken); open != 0 || !broken.lookups.failed {
		t.Fatalf("after a failed dial: %d open, failed %v", open, broken.lookups.failed)
	}
}
