package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"reflect"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/auth"
)

// HitLate inside Atomic holds the hit back to the next statement's
// pipeline, and its answer is Hit's; asked for before anything else went
// out, it sends the hit then. Outside a transaction it hits at once.
func TestLateHit(t *testing.T) {
	db, tc := newTracedDB(t)
	ctx := context.Background()
	window := t0.Truncate(time.Minute)
	for _, c := range []struct {
		name  string
		next  bool // a statement goes out before the answer is asked for
		trips int32
	}{
		{"with the next statement", true, 2}, // the opening, hit and count; COMMIT
		{"asked for first", false, 2},        // the opening and hit; COMMIT
	} {
		t.Run(c.name, func(t *testing.T) {
			before, err := db.Throttle().Hit(ctx, "late hit", window)
			must(t, "Hit", err)
			tc.take()
			var got int
			err = db.Atomic(ctx, func(tx auth.Store) error {
				hit := tx.Throttle().(auth.LateHitStore).HitLate(ctx, "late hit", "", 0, window)
				if n, _ := tc.take(); n != 0 {
					t.Errorf("HitLate sent %d round trips, want it held", n)
				}
				if c.next {
					if _, err := tx.Throttle().AddFailure(ctx, "late hit "+c.name, t0); err != nil {
						return err
					}
				}
				var err error
				got, _, err = hit()
				return err
			})
			must(t, "Atomic", err)
			if n, log := tc.take(); n != c.trips {
				t.Errorf("%d round trips, want %d:\n\t%s", n, c.trips, log)
			}
			if got != before+1 {
				t.Errorf("HitLate's count %d, want %d", got, before+1)
			}
		})
	}
	n, _, err := db.Throttle().(auth.LateHitStore).HitLate(ctx, "late hit", "", 0, window)()
	if err != nil || n != 5 { // two hits in each of the two runs above
		t.Errorf("outside a transaction: %d, %v; want 5", n, err)
	}
	if trips, _ := tc.take(); trips != 1 {
		t.Errorf("outside a transaction: %d round trips, want 1", trips)
	}
}

// A held hit that fails (its count past integer's range) fails its
// transaction, even when fn drops the error of the statement it went out
// with and never asks for its answer: nothing of the transaction commits.
func TestLateHitFailure(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	window := t0.Truncate(time.Minute)
	_, err := db.pool.Exec(ctx, `INSERT INTO throttle_hits (key, window_start, count) VALUES ($1, $2, 2147483647)`,
		[]byte("full"), window)
	must(t, "seed", err)
	err = db.Atomic(ctx, func(tx auth.Store) error {
		tx.Throttle().(auth.LateHitStore).HitLate(ctx, "full", "", 0, window)
		_, _ = tx.Throttle().AddFailure(ctx, "after the hit", t0)
		return nil
	})
	if err == nil {
		t.Fatal("Atomic committed a transaction whose held hit failed")
	}
	if n, _, err := db.Throttle().Failures(ctx, "after the hit"); err != nil || n != 0 {
		t.Errorf("the failed transaction's count: %d (%v), want nothing committed", n, err)
	}
}

// Issue 12: a login whose IP hit goes out with its failure counts
// (auth.LateHitStore), refused by the IP's budget, leaves the failure
// counts as they were, as when the hit went first and refused before
// anything was counted, and the hit counted.
func TestLoginRefusedByIPCountsNoFailure(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	now := t0
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey, BcryptCost: 4,
		InsecureLowBcryptCostForTests: true, Now: func() time.Time { return now },
		Throttle: auth.ThrottleConfig{PerIPPerMinute: 3}}, "op")
	must(t, "New", err)
	const password = "Vq7#pLx2!mZr9k"
	_, err = m.CreateUser(ctx, op, auth.NewUser{Email: "ip@example.com", Name: "IP", Password: password, GroupID: "users"})
	must(t, "CreateUser", err)
	client := auth.Client{IP: "192.0.2.9", UserAgent: "test"}
	failures := func() string { return throttleFailures(t, db) }
	for _, email := range []string{"ip@example.com", "nobody@example.com"} {
		now = now.Add(time.Minute) // a fresh window
		for range 3 {
			if _, err := m.Login(ctx, email, "not the password", client); !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("%s, within the IP's budget: %v, want ErrInvalidCredentials", email, err)
			}
		}
		want := failures()
		if want == "" {
			t.Fatal("the wrong passwords counted nothing")
		}
		for _, pw := range []string{"not the password", password} {
			var te *auth.ThrottledError
			if _, err := m.Login(ctx, email, pw, client); !errors.As(err, &te) {
				t.Fatalf("%s, past the IP's budget: %v, want a ThrottledError", email, err)
			}
			if got := failures(); !reflect.DeepEqual(got, want) {
				t.Errorf("%s: a refusal by the IP's budget changed the failure counts:\n%s\nwant\n%s", email, got, want)
			}
		}
		if hits := throttleHits(t, db, "ip:192.0.2.9"); hits != 5 {
			t.Errorf("%s: the IP's hits %d, want 5: refused ones count", email, hits)
		}
	}
}

// Issue 12: from an IPv6 client, whose /48's hit goes out with its /64's
// and the failure counts (auth.LateHitStore), made only if the /64's
// admits the attempt: a refusal by the /64 leaves the /48 uncounted, and
// a refusal by either counts no failure.
func TestLoginRefusedByIPv6CountsNoFailure(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey, BcryptCost: 4,
		InsecureLowBcryptCostForTests: true, Now: func() time.Time { return t0 },
		Throttle: auth.ThrottleConfig{PerIPPerMinute: 3, PerIPv6SitePerMinute: 4}}, "op")
	must(t, "New", err)
	const email, password = "v6@example.com", "Vq7#pLx2!mZr9k"
	_, err = m.CreateUser(ctx, op, auth.NewUser{Email: email, Name: "V6", Password: password, GroupID: "users"})
	must(t, "CreateUser", err)
	a := auth.Client{IP: "2001:db8:2:a::1", UserAgent: "test"}
	b := auth.Client{IP: "2001:db8:2:b::1", UserAgent: "test"} // a's /48, another /64
	const aKey, bKey, site = "ip:2001:db8:2:a::/64", "ip:2001:db8:2:b::/64", "ip48:2001:db8:2::/48"
	for _, s := range []struct {
		c                   auth.Client
		password            string
		refused             bool
		aHits, bHits, sHits int
	}{
		{a, "wrong", false, 1, 0, 1}, {a, "wrong", false, 2, 0, 2}, {a, "wrong", false, 3, 0, 3},
		{a, "wrong", true, 4, 0, 3}, {a, password, true, 5, 0, 3}, // by a's /64: the /48 not hit
		{b, "wrong", false, 5, 1, 4},
		{b, "wrong", true, 5, 2, 5}, {b, password, true, 5, 3, 6}, // by the /48
	} {
		want := throttleFailures(t, db)
		_, err := m.Login(ctx, email, s.password, s.c)
		var te *auth.ThrottledError
		if refused := errors.As(err, &te); refused != s.refused || !refused && !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("%s, %q: %v, want refused %v", s.c.IP, s.password, err, s.refused)
		}
		if got := throttleFailures(t, db); s.refused && got != want || !s.refused && got == want {
			t.Errorf("%s, %q, refused %v: the failure counts went from\n%s\nto\n%s", s.c.IP, s.password, s.refused, want, got)
		}
		got := [3]int{throttleHits(t, db, aKey), throttleHits(t, db, bKey), throttleHits(t, db, site)}
		if got != [3]int{s.aHits, s.bHits, s.sHits} {
			t.Errorf("%s, %q: hits on a's /64, b's, the /48: %v, want %d %d %d", s.c.IP, s.password, got, s.aHits, s.bHits, s.sHits)
		}
	}
}

// throttleFailures lists the throttle_failures rows.
func throttleFailures(t *testing.T, db *DB) string {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), `SELECT key, count, last_at FROM throttle_failures ORDER BY key`)
	must(t, "read failures", err)
	defer rows.Close()
	var out string
	for rows.Next() {
		var (
			k    []byte
			n    int
			last time.Time
		)
		must(t, "scan", rows.Scan(&k, &n, &last))
		out += fmt.Sprintf("%q %d %s\n", k, n, last.UTC())
	}
	must(t, "rows", rows.Err())
	return out
}

// throttleHits reads key's count of hits, 0 for no row.
func throttleHits(t *testing.T, db *DB, key string) int {
	t.Helper()
	var n int
	err := db.pool.QueryRow(context.Background(), `SELECT count FROM throttle_hits WHERE key = $1`, []byte(key)).Scan(&n)
	if err != nil && !errors.Is(err, pgx.ErrNoRows) {
		t.Fatal(err)
	}
	return n
}

// A per-IP budget beyond PostgreSQL's integer (a host meaning "no limit")
// still lets an IPv6 login through its /48's conditional hit (review5:
// the budget was sent as an int4, and every IPv6 login failed).
func TestLoginHugeIPBudgetIPv6(t *testing.T) {
	for _, budget := range []int{math.MaxInt32 + 1, math.MaxInt} {
		db := newTestDB(t)
		ctx := context.Background()
		m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: seedKey, BcryptCost: 4,
			InsecureLowBcryptCostForTests: true, Now: func() time.Time { return t0 },
			Throttle: auth.ThrottleConfig{PerIPPerMinute: budget}}, "op")
		must(t, "New", err)
		_, err = m.CreateUser(ctx, op, auth.NewUser{Email: "v6@example.com", Name: "V6", Password: "Vq7#pLx2!mZr9k", GroupID: "users"})
		must(t, "CreateUser", err)
		_, err = m.Login(ctx, "v6@example.com", "wrong", auth.Client{IP: "2001:db8::1", UserAgent: "t"})
		if !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("budget %d: %v, want ErrInvalidCredentials", budget, err)
		}
		if n := throttleHits(t, db, "ip48:2001:db8::/48"); n != 1 {
			t.Errorf("budget %d: /48 hits %d, want 1", budget, n)
		}
	}
}
