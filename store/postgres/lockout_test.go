package postgres_test

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/postgres"
)

// Issue 8 on PostgreSQL: 40 networks guess one account at once through 3
// Managers, each with its own pool, on one schema. The guesses admitted
// stay within the account's budget for the day, and the owner's trusted
// device still logs in on every instance.
func TestDistributedGuessingInstances(t *testing.T) {
	postgres.TestDSN(t)
	schema := postgres.NewSchemaName()
	postgres.DropSchemaAtCleanup(t, schema)
	clk := &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
	var ms []*auth.Manager
	for range 3 {
		m, err := auth.New(auth.Config{Store: postgres.OpenSchema(t, schema), SecretKey: testKey, BcryptCost: 4,
			InsecureLowBcryptCostForTests: true, Now: clk.Now, Permissions: hostPerms})
		if err != nil {
			t.Fatal(err)
		}
		ms = append(ms, m)
	}
	setup, _, err := ms[2].SetupToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ms[2].SignUp(t.Context(), auth.SignUp{Email: adminEmail, Password: adminPass, BootstrapToken: setup}, client); err != nil {
		t.Fatal(err)
	}
	r, err := ms[0].Login(t.Context(), adminEmail, adminPass, client)
	if err != nil {
		t.Fatal(err)
	}
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for n := range 40 {
		wg.Go(func() {
			for i := range 10 {
				_, err := ms[(n+i)%3].Login(t.Context(), adminEmail, "wrong guess",
					auth.Client{IP: fmt.Sprintf("2001:db8:%x::%x", n, i)})
				if errors.Is(err, auth.ErrInvalidCredentials) {
					admitted.Add(1)
				}
				clk.Advance(2 * time.Second)
			}
		})
	}
	wg.Wait()
	if got, limit := admitted.Load(), int32(auth.DefaultAccountFailuresPerDay-1); got > limit {
		t.Errorf("%d guesses admitted, want at most %d (the day's budget less the owner's login)", got, limit)
	}
	if _, err := ms[1].Login(t.Context(), adminEmail, adminPass, auth.Client{IP: "2001:db8:ffff::1"}); !errors.Is(err, auth.ErrThrottled) {
		t.Errorf("untrusted login after the budget was spent: %v, want ErrThrottled", err)
	}
	for i, m := range ms {
		if _, err := m.Login(t.Context(), adminEmail, adminPass, auth.Client{IP: client.IP, DeviceToken: r.DeviceToken}); err != nil {
			t.Fatalf("owner's trusted device on instance %d: %v", i, err)
		}
	}
}
