package postgres

import (
	"context"
	"errors"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// TestAdmitLateAsCountedFirst: a password login's admission on
// PostgreSQL counts with its commit and leaves the store to put the counts
// back on a refusal (auth.LateFailureBatchStore). Attempt by attempt, it
// must refuse exactly the attempts, with the same waits, and leave exactly
// the throttle rows, that the Manager's own reading leaves where the
// counts go out first (auth.FailureBatchStore, the same store with
// AddFailuresLate hidden): at the back-off's boundaries to the
// nanosecond (the rows keep microseconds), past the last distinct wait,
// at an IPv4 address's budget and an IPv6 /64's and /48's, and at the
// account's budget for the day, whose refusal keeps the counts.
func TestAdmitLateAsCountedFirst(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	ms := time.Millisecond
	const right, wrong = "Vq7#pLx2!mZr9k", "not the password"
	type attempt struct {
		at       time.Duration // after t0
		ip, pw   string
		throttle bool // want a ThrottledError, else the password's answer
	}
	for _, sc := range []struct {
		name     string
		throttle auth.ThrottleConfig
		attempts []attempt
	}{
		{"back-off", auth.ThrottleConfig{FreeFailures: 2, BaseDelay: time.Second, MaxDelay: 4 * time.Second,
			PerIPPerMinute: 1000, AccountFailuresPerDay: 1000}, []attempt{
			{500, "192.0.2.7", wrong, false},
			{100*ms + 500, "192.0.2.7", wrong, false}, // the row keeps 100ms
			{200*ms + 500, "192.0.2.7", wrong, true},  // 2 failures: 1s after 100ms
			{1100*ms - 1, "192.0.2.7", wrong, true},
			{1100 * ms, "192.0.2.7", wrong, false},
			{3100*ms - 1, "192.0.2.7", wrong, true}, // 3 failures: 2s
			{3100*ms + 700, "192.0.2.7", wrong, false},
			{7100*ms - 1, "192.0.2.7", wrong, true}, // 4: 4s, the last distinct wait
			{7100 * ms, "192.0.2.7", wrong, false},
			{11100*ms - 1, "192.0.2.7", wrong, true}, // 5: still 4s
			{11100 * ms, "192.0.2.7", right, false},  // resets the count
			{11200 * ms, "192.0.2.7", wrong, false},
		}},
		{"client budgets", auth.ThrottleConfig{FreeFailures: 100, PerIPPerMinute: 2, PerIPv6SitePerMinute: 3,
			AccountFailuresPerDay: 1000}, []attempt{
			{ms, "2001:db8:0:1::1", wrong, false},
			{2 * ms, "2001:db8:0:1::2", wrong, false},
			{3 * ms, "2001:db8:0:1::3", wrong, true},  // the /64's third; the /48 not hit
			{4 * ms, "2001:db8:0:2::1", wrong, false}, // the /48's third
			{5 * ms, "2001:db8:0:3::1", right, true},  // the /48's fourth
			{6 * ms, "192.0.2.9", wrong, false},
			{7 * ms, "192.0.2.9", right, false},
			{8 * ms, "192.0.2.9", wrong, true},
			{61 * time.Second, "192.0.2.9", right, false}, // a new minute
		}},
		// No back-off in effect: FreeFailures+32 overflows an int.
		{"free failures at the largest int", auth.ThrottleConfig{FreeFailures: math.MaxInt, PerIPPerMinute: 1000,
			AccountFailuresPerDay: 1000}, []attempt{
			{ms, "192.0.2.5", wrong, false},
			{2 * ms, "192.0.2.5", wrong, false},
			{3 * ms, "192.0.2.5", right, false},
		}},
		{"day", auth.ThrottleConfig{FreeFailures: 100, PerIPPerMinute: 1000, AccountFailuresPerDay: 3}, []attempt{
			{ms, "192.0.2.1", wrong, false},
			{2 * ms, "192.0.2.2", wrong, false},
			{3 * ms, "192.0.2.3", wrong, false},
			{4 * ms, "192.0.2.4", right, true}, // the fourth of the day
			{24 * time.Hour, "192.0.2.4", right, false},
		}},
	} {
		t.Run(sc.name, func(t *testing.T) {
			var runs [2][]string
			for i, hide := range []bool{false, true} {
				db := newTestDB(t)
				now := t0
				var st auth.Store = db
				if hide {
					st = withoutLateCounts{db}
				}
				if _, late := st.Throttle().(auth.LateFailureBatchStore); late == hide {
					t.Fatalf("store %d: LateFailureBatchStore %v", i, late)
				}
				m, op, err := auth.NewWithOperator(auth.Config{Store: st, SecretKey: seedKey, BcryptCost: 4,
					InsecureLowBcryptCostForTests: true, Now: func() time.Time { return now }, Throttle: sc.throttle}, "op")
				if err != nil {
					t.Fatal(err)
				}
				if _, err := m.CreateUser(context.Background(), op, auth.NewUser{Email: "known@example.com",
					Name: "Known", Password: right, GroupID: "users"}); err != nil {
					t.Fatal(err)
				}
				for j, a := range sc.attempts {
					now = t0.Add(a.at)
					_, err := m.Login(context.Background(), "known@example.com", a.pw, auth.Client{IP: a.ip, UserAgent: "test"})
					var te *auth.ThrottledError
					switch {
					case errors.As(err, &te) != a.throttle:
						t.Fatalf("store %d, attempt %d at %v: %v; want throttled: %v", i, j, a.at, err, a.throttle)
					case te == nil && a.pw == right && err != nil,
						te == nil && a.pw == wrong && !errors.Is(err, auth.ErrInvalidCredentials):
						t.Fatalf("store %d, attempt %d at %v: %v", i, j, a.at, err)
					}
					runs[i] = append(runs[i], fmt.Sprintf("attempt %d: %v\n%s", j, err, throttleRows(t, db)))
				}
			}
			for j := range runs[0] {
				if runs[0][j] != runs[1][j] {
					t.Fatalf("counted with the commit:\n%s\ncounted first:\n%s", runs[0][j], runs[1][j])
				}
			}
		})
	}
}

// throttleRows is the throttle tables' rows, one a line, in key order.
func throttleRows(t *testing.T, db *DB) string {
	t.Helper()
	rows, err := db.pool.Query(context.Background(), `SELECT 'failures', key, count, last_at FROM throttle_failures
		UNION ALL SELECT 'hits', key, count, window_start FROM throttle_hits ORDER BY 1, 2`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	out := ""
	for rows.Next() {
		var (
			table string
			key   []byte
			n     int
			at    time.Time
		)
		if err := rows.Scan(&table, &key, &n, &at); err != nil {
			t.Fatal(err)
		}
		out += fmt.Sprintf("\t%s %q %d %s\n", table, key, n, at.Format(time.RFC3339Nano))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// withoutLateCounts is a store whose throttle is not an
// auth.LateFailureBatchStore (earlyCounts), in and out of transactions.
type withoutLateCounts struct{ auth.Store }

func (s withoutLateCounts) Throttle() auth.ThrottleStore {
	return earlyCounts{s.Store.Throttle(), s.Store.Throttle().(throttleStore)}
}

func (s withoutLateCounts) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return s.Store.Atomic(ctx, func(tx auth.Store) error { return fn(withoutLateCounts{tx}) })
}

func (s withoutLateCounts) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	return s.Store.(auth.DeferredSyncStore).AtomicDeferSync(ctx, func(tx auth.Store) error { return fn(withoutLateCounts{tx}) })
}

// earlyCounts is the store's throttle as an auth.FailureBatchStore and
// auth.LateHitStore alone.
type earlyCounts struct {
	auth.ThrottleStore
	ts throttleStore
}

func (e earlyCounts) AddFailures(ctx context.Context, keys []string, at time.Time) ([]auth.FailureCount, error) {
	return e.ts.AddFailures(ctx, keys, at)
}

func (e earlyCounts) RestoreFailures(ctx context.Context, keys []string, c []auth.FailureCount) error {
	return e.ts.RestoreFailures(ctx, keys, c)
}

func (e earlyCounts) HitLate(ctx context.Context, key, next string, budget int, window time.Time) func() (int, int, error) {
	return e.ts.HitLate(ctx, key, next, budget, window)
}

var (
	_ auth.FailureBatchStore = earlyCounts{}
	_ auth.LateHitStore      = earlyCounts{}
)

// AddFailuresLate's arguments it cannot send fail the whole transaction,
// as a statement's failure would: the hit held before it does not commit
// without the counts.
func TestAddFailuresLateBadArguments(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	window := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	rule := auth.AdmitRule{Free: 5, Cutoffs: []time.Time{window}}
	for name, keys := range map[string][]string{"repeated": {"k", "k"}, "none": nil} {
		err := db.AtomicDeferSync(ctx, func(tx auth.Store) error {
			ts := tx.Throttle().(auth.LateFailureBatchStore)
			ts.HitLate(ctx, "ip:"+name, "", 10, window)
			_, _, err := ts.AddFailuresLate(ctx, keys, window, rule)()
			if err == nil {
				t.Errorf("%s keys: no error", name)
			}
			return nil // the caller drops it: the transaction must fail all the same
		})
		if err == nil {
			t.Errorf("%s keys: the transaction committed", name)
		}
		var n int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM throttle_hits`).Scan(&n); err != nil || n != 0 {
			t.Errorf("%s keys: %d hits committed (%v), want none", name, n, err)
		}
	}
}
