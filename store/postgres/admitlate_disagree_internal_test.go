package postgres

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// TestAdmitLateDisagreement: when the store's put-back disagrees with the
// Manager's own reading of the counts (auth.LateFailureBatchStore), the
// attempt fails with an error: it neither reaches the password nor passes
// for a throttled one. Both ways: the store keeps the counts of an attempt
// the Manager refuses (its rule's back-off never refuses), and puts back
// those of an attempt the Manager admits (its rule's budget refuses all).
func TestAdmitLateDisagreement(t *testing.T) {
	t0 := time.Date(2026, 12, 7, 9, 0, 0, 0, time.UTC)
	const right = "Vq7#pLx2!mZr9k"
	for _, tc := range []struct {
		name  string
		tweak func(*auth.AdmitRule)
		pw    []string // the attempts before the one that must fail
	}{
		{"the store keeps refused counts", func(r *auth.AdmitRule) {
			for i := range r.Cutoffs {
				r.Cutoffs[i] = r.Cutoffs[i].Add(24 * time.Hour)
			}
		}, []string{"wrong"}},
		{"the store puts back admitted counts", func(r *auth.AdmitRule) { r.Budget = 0 }, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			db := newTestDB(t)
			now := t0
			lie := false
			st := tweakedRule{db, func(r *auth.AdmitRule) {
				if lie {
					tc.tweak(r)
				}
			}}
			m, op, err := auth.NewWithOperator(auth.Config{Store: st, SecretKey: seedKey, BcryptCost: 4,
				InsecureLowBcryptCostForTests: true, Now: func() time.Time { return now },
				Throttle: auth.ThrottleConfig{FreeFailures: 1, BaseDelay: time.Minute, MaxDelay: time.Hour,
					PerIPPerMinute: 100, AccountFailuresPerDay: 100}}, "op")
			if err != nil {
				t.Fatal(err)
			}
			ctx := context.Background()
			if _, err := m.CreateUser(ctx, op, auth.NewUser{Email: "known@example.com",
				Name: "Known", Password: right, GroupID: "users"}); err != nil {
				t.Fatal(err)
			}
			c := auth.Client{IP: "192.0.2.7", UserAgent: "test"}
			for _, pw := range tc.pw {
				now = now.Add(time.Second)
				if _, err := m.Login(ctx, "known@example.com", pw, c); !errors.Is(err, auth.ErrInvalidCredentials) {
					t.Fatalf("setup attempt: %v", err)
				}
			}
			lie = true
			now = now.Add(time.Second)
			res, err := m.Login(ctx, "known@example.com", right, c)
			var te *auth.ThrottledError
			if err == nil || errors.As(err, &te) || errors.Is(err, auth.ErrInvalidCredentials) {
				t.Fatalf("Login with the store disagreeing: %v, %v; want an error of its own", res, err)
			}
		})
	}
}

// tweakedRule is a store whose throttle hands AddFailuresLate the
// Manager's rule changed by tweak.
type tweakedRule struct {
	auth.Store
	tweak func(*auth.AdmitRule)
}

func (s tweakedRule) Throttle() auth.ThrottleStore {
	return tweakedThrottle{s.Store.Throttle().(throttleStore), s.tweak}
}

func (s tweakedRule) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	return s.Store.Atomic(ctx, func(tx auth.Store) error { return fn(tweakedRule{tx, s.tweak}) })
}

func (s tweakedRule) AtomicDeferSync(ctx context.Context, fn func(auth.Store) error) error {
	return s.Store.(auth.DeferredSyncStore).AtomicDeferSync(ctx, func(tx auth.Store) error { return fn(tweakedRule{tx, s.tweak}) })
}

type tweakedThrottle struct {
	throttleStore
	tweak func(*auth.AdmitRule)
}

func (t tweakedThrottle) AddFailuresLate(ctx context.Context, keys []string, at time.Time, r auth.AdmitRule) func() ([]auth.FailureCount, bool, error) {
	r.Cutoffs = append([]time.Time(nil), r.Cutoffs...)
	t.tweak(&r)
	return t.throttleStore.AddFailuresLate(ctx, keys, at, r)
}

var _ auth.LateFailureBatchStore = tweakedThrottle{}
