package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// The Setup tests get the store as the factory made it: a Manager's New
// on an empty store adds a setup token of its own.
var setupTests = []test{
	{"AddValidSpend", testSetupAddValidSpend},
	{"Expired", testSetupExpired},
	{"SpendRace", testSetupSpendRace},
	{"SpendInAtomic", testSetupSpendInAtomic},
}

var errRollback = errors.New("storetest: roll back")

func setupValid(t *testing.T, s auth.Store, hash []byte, now time.Time) bool {
	t.Helper()
	ok, err := s.Setup().Valid(ctx(t), hash, now)
	must(t, "Setup().Valid", err)
	return ok
}

func setupSpend(t *testing.T, s auth.Store, hash []byte, now time.Time) bool {
	t.Helper()
	ok, err := s.Setup().Spend(ctx(t), hash, now)
	must(t, "Setup().Spend", err)
	return ok
}

// Two instances add a token each; either works, an unknown one does not,
// and spending one spends both.
func testSetupAddValidSpend(t *testing.T, s auth.Store) {
	a, b, unknown := sum("setup a"), sum("setup b"), sum("setup unknown")
	must(t, "Setup().Add", s.Setup().Add(ctx(t), a, at(24*time.Hour)))
	must(t, "Setup().Add", s.Setup().Add(ctx(t), b, at(25*time.Hour)))
	must(t, "Setup().Add again", s.Setup().Add(ctx(t), b, at(25*time.Hour)))
	if !setupValid(t, s, a, at(2*time.Hour)) || !setupValid(t, s, b, at(2*time.Hour)) {
		t.Fatal("Setup().Valid = false for a stored token")
	}
	if setupValid(t, s, unknown, at(2*time.Hour)) || setupValid(t, s, nil, at(2*time.Hour)) {
		t.Fatal("Setup().Valid = true for an unknown hash")
	}
	if setupSpend(t, s, unknown, at(2*time.Hour)) {
		t.Fatal("Setup().Spend = true for an unknown hash")
	}
	if !setupValid(t, s, a, at(2*time.Hour)) {
		t.Fatal("spending an unknown hash removed a token")
	}
	if !setupSpend(t, s, a, at(2*time.Hour)) {
		t.Fatal("Setup().Spend = false for a stored token")
	}
	if setupValid(t, s, a, at(2*time.Hour)) || setupValid(t, s, b, at(2*time.Hour)) {
		t.Fatal("a token still valid after one was spent")
	}
	if setupSpend(t, s, a, at(2*time.Hour)) || setupSpend(t, s, b, at(2*time.Hour)) {
		t.Fatal("a token spent twice")
	}
}

// A token is valid strictly before its expiry, and an expired one cannot
// be spent.
func testSetupExpired(t *testing.T, s auth.Store) {
	a, b := sum("setup expiring"), sum("setup later")
	must(t, "Setup().Add", s.Setup().Add(ctx(t), a, at(time.Hour)))
	if !setupValid(t, s, a, at(time.Hour-time.Microsecond)) {
		t.Fatal("Setup().Valid = false just before the expiry")
	}
	if setupValid(t, s, a, at(time.Hour)) {
		t.Fatal("Setup().Valid = true at the expiry")
	}
	if setupSpend(t, s, a, at(time.Hour)) {
		t.Fatal("Setup().Spend = true at the expiry")
	}
	must(t, "Setup().Add", s.Setup().Add(ctx(t), b, at(3*time.Hour)))
	if !setupValid(t, s, b, at(2*time.Hour)) {
		t.Fatal("the new token is not valid")
	}
}

// Of 20 concurrent spends of one token exactly one succeeds.
func testSetupSpendRace(t *testing.T, s auth.Store) {
	a := sum("setup raced")
	must(t, "Setup().Add", s.Setup().Add(ctx(t), a, at(time.Hour)))
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for range 20 {
		wg.Go(func() {
			ok, err := s.Setup().Spend(ctx(t), a, at(time.Minute))
			if err != nil {
				t.Error(err)
			}
			if ok {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d spends succeeded, want 1", wins)
	}
}

// A spend inside Atomic that rolls back leaves the token valid.
func testSetupSpendInAtomic(t *testing.T, s auth.Store) {
	a := sum("setup rolled back")
	must(t, "Setup().Add", s.Setup().Add(ctx(t), a, at(time.Hour)))
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		ok, err := tx.Setup().Spend(ctx(t), a, at(time.Minute))
		if err != nil {
			return err
		}
		if !ok {
			t.Error("Spend inside Atomic = false")
		}
		return errRollback
	})
	checkErr(t, "Atomic", err, errRollback)
	if !setupValid(t, s, a, at(time.Minute)) {
		t.Fatal("a spend rolled back still removed the token")
	}
}
