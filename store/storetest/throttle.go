package storetest

import (
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

var throttleTests = []test{
	{"Failures", testThrottleFailures},
	{"Hit", testThrottleHit},
	{"Prune", testThrottlePrune},
	{"ConcurrentFailures", testThrottleConcurrentFailures},
	{"ConcurrentHits", testThrottleConcurrentHits},
	{"ResetPrefix", testThrottleResetPrefix},
	{"DeviceGeneration", testDeviceGeneration},
	{"FailureBatch", testFailureBatch},
	{"LateHit", testLateHit},
	{"LateHitNext", testLateHitNext},
}

// testLateHit covers the optional auth.LateHitStore with one key: inside
// Atomic, HitLate's answer is Hit's, whether a statement went out after
// it or not, and the hit commits with the transaction; outside one, it
// hits at once.
func testLateHit(t *testing.T, s auth.Store) {
	if _, ok := s.Throttle().(auth.LateHitStore); !ok {
		t.Skip("the store does not implement auth.LateHitStore (optional)")
	}
	key, w := "ip:"+newID(), at(0)
	for i, next := range []bool{true, false} {
		got, _ := lateHit(t, s, true, next, key, "", 0, w)
		if got != i+1 {
			t.Errorf("HitLate, a statement after it %v: %d, want %d", next, got, i+1)
		}
	}
	if n, nextN := lateHit(t, s, false, false, key, "", 0, w); n != 3 || nextN != 0 {
		t.Errorf("HitLate outside Atomic: %d, %d; want 3, 0", n, nextN)
	}
	if n, err := s.Throttle().Hit(ctx(t), key, w); err != nil || n != 4 {
		t.Errorf("Hit after three late hits: %d, %v; want 4", n, err)
	}
}

// testLateHitNext covers auth.LateHitStore's second key: hit after the
// first only while the first's count, as its hit left it, is within the
// budget, in whichever window each row holds (a hit stamped with an older
// window than the stored one, another instance's clock lagging, counts in
// the stored one), in and out of Atomic.
func testLateHitNext(t *testing.T, s auth.Store) {
	if _, ok := s.Throttle().(auth.LateHitStore); !ok {
		t.Skip("the store does not implement auth.LateHitStore (optional)")
	}
	key, next, w := "ip:"+newID(), "ip48:"+newID(), at(0)
	const budget = 2
	for i, c := range []struct {
		window            time.Time
		atomic, statement bool
		n, nextN          int
	}{
		{w, true, true, 1, 1},
		{w, false, false, 2, 2}, // outside Atomic, within the budget
		{w, true, true, 3, 0},   // over the budget: next not hit
		{w, false, false, 4, 0},
		{w.Add(-time.Minute), true, true, 5, 0}, // a lagging clock
		{w.Add(time.Minute), true, true, 1, 1},  // a new window
		{w, true, false, 2, 2},                  // a lagging clock, both in the newer window
		{w, false, false, 3, 0},
		{w.Add(time.Minute), true, true, 4, 0},
	} {
		n, nextN := lateHit(t, s, c.atomic, c.statement, key, next, budget, c.window)
		if n != c.n || nextN != c.nextN {
			t.Errorf("hit %d: HitLate %d, %d; want %d, %d", i+1, n, nextN, c.n, c.nextN)
		}
	}
	if n, err := s.Throttle().Hit(ctx(t), next, w); err != nil || n != 3 {
		t.Errorf("Hit on next after its two counted hits in the window: %d, %v; want 3", n, err)
	}
}

// lateHit is one HitLate on key and next, inside Atomic (with a
// statement sent after it when statement is set) or outside, and its
// answer.
func lateHit(t *testing.T, s auth.Store, atomic, statement bool, key, next string, budget int, w time.Time) (int, int) {
	t.Helper()
	var n, nextN int
	var err error
	if !atomic {
		n, nextN, err = s.Throttle().(auth.LateHitStore).HitLate(ctx(t), key, next, budget, w)()
		must(t, "HitLate outside Atomic", err)
		return n, nextN
	}
	err = s.Atomic(ctx(t), func(tx auth.Store) error {
		hit := tx.Throttle().(auth.LateHitStore).HitLate(ctx(t), key, next, budget, w)
		if statement {
			if _, err := tx.Throttle().AddFailure(ctx(t), key, w); err != nil {
				return err
			}
		}
		var err error
		n, nextN, err = hit()
		return err
	})
	must(t, "Atomic", err)
	return n, nextN
}

// testFailureBatch covers the optional auth.FailureBatchStore: AddFailures
// reports for each key what Failures would have read just before and what
// AddFailure would have returned (a count reset to 0 being none), and
// RestoreFailures in the same transaction puts every key back as it was.
func testFailureBatch(t *testing.T, s auth.Store) {
	if _, ok := s.Throttle().(auth.FailureBatchStore); !ok {
		t.Skip("the store does not implement auth.FailureBatchStore (optional)")
	}
	held, reset, none := "login:"+newID(), "login:"+newID(), "login:"+newID()
	for i := range 2 {
		_, err := s.Throttle().AddFailure(ctx(t), held, at(time.Duration(i)*time.Minute))
		must(t, "AddFailure", err)
	}
	_, err := s.Throttle().AddFailure(ctx(t), reset, at(0))
	must(t, "AddFailure", err)
	must(t, "ResetFailures", s.Throttle().ResetFailures(ctx(t), reset))

	keys := []string{none, held, reset}
	want := []auth.FailureCount{{Got: 1}, {Prev: 2, PrevLast: at(time.Minute), Got: 3}, {Got: 1}}
	batch := func(restore bool) {
		t.Helper()
		err := s.Atomic(ctx(t), func(tx auth.Store) error {
			fb := tx.Throttle().(auth.FailureBatchStore)
			c, err := fb.AddFailures(ctx(t), keys, at(time.Hour))
			if err != nil {
				return err
			}
			if len(c) != len(keys) {
				t.Fatalf("AddFailures: %d counts for %d keys", len(c), len(keys))
			}
			for i := range want {
				if c[i].Prev != want[i].Prev || !c[i].PrevLast.Equal(want[i].PrevLast) || c[i].Got != want[i].Got {
					t.Errorf("AddFailures, key %d: %+v, want %+v", i, c[i], want[i])
				}
			}
			if restore {
				return fb.RestoreFailures(ctx(t), keys, c)
			}
			return nil
		})
		must(t, "Atomic", err)
	}
	check := func(what string, key string, n int, last time.Time) {
		t.Helper()
		got, gotLast, err := s.Throttle().Failures(ctx(t), key)
		must(t, "Failures", err)
		if got != n || !gotLast.Equal(last) {
			t.Errorf("%s: Failures = %d at %v, want %d at %v", what, got, gotLast, n, last)
		}
	}
	batch(true)
	check("restored, a key that held none", none, 0, time.Time{})
	check("restored, a key that held two", held, 2, at(time.Minute))
	check("restored, a key reset to 0", reset, 0, time.Time{})
	batch(false)
	check("counted, a key that held none", none, 1, at(time.Hour))
	check("counted, a key that held two", held, 3, at(time.Hour))
	check("counted, a key reset to 0", reset, 1, at(time.Hour))
}

func testThrottleResetPrefix(t *testing.T, s auth.Store) {
	th := s.Throttle()
	id := newID()
	prefix := "account:" + id + "\x1f"
	in := []string{prefix, prefix + "net:203.0.113.7", prefix + "dev:\xff\x00", prefix + "\xff\xff"}
	out := []string{"account:" + id, "account:" + id + "\x1e", "account:" + id + "\x20", "account:" + id + "x\x1f", "ip:" + id}
	for _, k := range append(slices.Clone(in), out...) {
		_, err := th.AddFailure(ctx(t), k, at(0))
		must(t, "AddFailure", err)
	}
	must(t, "ResetPrefix", th.ResetPrefix(ctx(t), prefix))
	must(t, "ResetPrefix(no match)", th.ResetPrefix(ctx(t), "nothing:"+newID()))
	for _, k := range in {
		if n, _, err := th.Failures(ctx(t), k); err != nil || n != 0 {
			t.Errorf("Failures(%q) after ResetPrefix = %d, %v; want 0", k, n, err)
		}
	}
	for _, k := range out {
		if n, _, err := th.Failures(ctx(t), k); err != nil || n != 1 {
			t.Errorf("Failures(%q), not under the prefix, after ResetPrefix = %d, %v; want 1", k, n, err)
		}
	}
}

func testDeviceGeneration(t *testing.T, s auth.Store) {
	th := s.Throttle()
	u := createUser(t, s, group.UsersID)
	gen := func(id user.ID, want int64) {
		t.Helper()
		g, err := th.DeviceGeneration(ctx(t), id)
		must(t, "DeviceGeneration", err)
		if g != want {
			t.Errorf("DeviceGeneration(%s) = %d, want %d", id, g, want)
		}
	}
	gen(u.ID, 0)
	gen("no-such-user", 0)
	gen("bad\xff\x00id", 0)
	for want := int64(1); want <= 3; want++ {
		g, err := th.RevokeDevices(ctx(t), u.ID)
		must(t, "RevokeDevices", err)
		if g != want {
			t.Errorf("RevokeDevices #%d = %d, want %d", want, g, want)
		}
	}
	gen(u.ID, 3)
	must(t, "Prune", th.Prune(ctx(t), at(100*365*24*time.Hour)))
	gen(u.ID, 3)
	if g, err := th.RevokeDevices(ctx(t), "no-such-user"); err != nil || g != 0 {
		t.Errorf("RevokeDevices(unknown user) = %d, %v; want 0, nil", g, err)
	}
	gen("no-such-user", 0)
	must(t, "Delete", s.Users().Delete(ctx(t), u.ID))
	gen(u.ID, 0)
}

func testThrottleFailures(t *testing.T, s auth.Store) {
	th := s.Throttle()
	key, other := "login:"+newID(), "ip:203.0.113.7"

	n, last, err := th.Failures(ctx(t), key)
	must(t, "Failures(unknown)", err)
	if n != 0 || !last.IsZero() {
		t.Errorf("Failures(unknown) = %d, %v; want 0 and the zero time", n, last)
	}
	must(t, "ResetFailures(unknown)", th.ResetFailures(ctx(t), key))

	for i := 1; i <= 3; i++ {
		n, err := th.AddFailure(ctx(t), key, at(time.Duration(i)*time.Minute))
		must(t, "AddFailure", err)
		if n != i {
			t.Errorf("AddFailure #%d = %d, want %d", i, n, i)
		}
	}
	n, err = th.AddFailure(ctx(t), other, at(0))
	must(t, "AddFailure(other key)", err)
	if n != 1 {
		t.Errorf("AddFailure on another key = %d, want 1", n)
	}

	n, last, err = th.Failures(ctx(t), key)
	must(t, "Failures", err)
	if n != 3 {
		t.Errorf("Failures = %d, want 3", n)
	}
	checkTime(t, "time of the last failure", last, at(3*time.Minute))

	must(t, "ResetFailures", th.ResetFailures(ctx(t), key))
	n, last, err = th.Failures(ctx(t), key)
	must(t, "Failures after ResetFailures", err)
	if n != 0 || !last.IsZero() {
		t.Errorf("Failures after ResetFailures = %d, %v; want 0 and the zero time", n, last)
	}
	n, err = th.AddFailure(ctx(t), key, at(time.Hour))
	must(t, "AddFailure after ResetFailures", err)
	if n != 1 {
		t.Errorf("AddFailure after ResetFailures = %d, want 1", n)
	}
	n, _, err = th.Failures(ctx(t), other)
	must(t, "Failures(other key)", err)
	if n != 1 {
		t.Errorf("Failures of another key after ResetFailures = %d, want 1", n)
	}
}

func testThrottleHit(t *testing.T, s auth.Store) {
	th := s.Throttle()
	key, other := "signup:"+newID(), "signup:"+newID()
	w1, w2 := at(0), at(time.Minute)
	hit := func(key string, w time.Time, want int) {
		t.Helper()
		n, err := th.Hit(ctx(t), key, w)
		must(t, "Hit", err)
		if n != want {
			t.Errorf("Hit(%s, %v) = %d, want %d", key[:10], w.Sub(base), n, want)
		}
	}
	hit(key, w1, 1)
	hit(key, w1, 2)
	hit(other, w1, 1)
	hit(key, w1, 3)
	hit(key, w2, 1) // a newer window starts again
	hit(key, w2, 2)
	hit(other, w2, 1)
	hit(other, w2, 2)
	hit(key, w2, 3)
}

func testThrottlePrune(t *testing.T, s auth.Store) {
	th := s.Throttle()
	old, recent := "old:"+newID(), "recent:"+newID()
	cut := at(time.Hour)
	for range 2 {
		_, err := th.AddFailure(ctx(t), old, cut.Add(-time.Minute))
		must(t, "AddFailure", err)
		_, err = th.AddFailure(ctx(t), recent, cut.Add(-time.Minute))
		must(t, "AddFailure", err)
	}
	_, err := th.AddFailure(ctx(t), recent, cut.Add(time.Minute)) // last failure after the cut
	must(t, "AddFailure", err)

	oldWin, newWin := cut.Add(-time.Minute), cut
	for range 3 {
		_, err := th.Hit(ctx(t), old, oldWin)
		must(t, "Hit", err)
		_, err = th.Hit(ctx(t), recent, newWin)
		must(t, "Hit", err)
	}

	must(t, "Prune", th.Prune(ctx(t), cut))

	n, _, err := th.Failures(ctx(t), old)
	must(t, "Failures", err)
	if n != 0 {
		t.Errorf("Failures last recorded before the cut, after Prune = %d, want 0", n)
	}
	n, last, err := th.Failures(ctx(t), recent)
	must(t, "Failures", err)
	if n != 3 {
		t.Errorf("Failures last recorded after the cut, after Prune = %d, want 3", n)
	}
	checkTime(t, "last failure after Prune", last, cut.Add(time.Minute))

	n, err = th.Hit(ctx(t), old, oldWin)
	must(t, "Hit", err)
	if n != 1 {
		t.Errorf("Hit in a window started before the cut, after Prune = %d, want 1 (forgotten)", n)
	}
	n, err = th.Hit(ctx(t), recent, newWin)
	must(t, "Hit", err)
	if n != 4 {
		t.Errorf("Hit in a window started at the cut, after Prune = %d, want 4 (kept)", n)
	}
}

const concurrency = 50

// run runs fn concurrently and returns each call's count.
func runConcurrently(t *testing.T, fn func(i int) (int, error)) []int {
	t.Helper()
	counts := make([]int, concurrency)
	errs := make([]error, concurrency)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range concurrency {
		wg.Go(func() {
			<-start
			counts[i], errs[i] = fn(i)
		})
	}
	close(start)
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("concurrent call %d: %v", i, err)
		}
	}
	return counts
}

// checkEachOnce checks that counts are 1..concurrency, each exactly once.
func checkEachOnce(t *testing.T, what string, counts []int) {
	t.Helper()
	sorted := slices.Sorted(slices.Values(counts))
	for i, c := range sorted {
		if c != i+1 {
			t.Errorf("%s: %d concurrent calls returned counts %v, want 1..%d each exactly once", what, concurrency, sorted, concurrency)
			return
		}
	}
}

func testThrottleConcurrentFailures(t *testing.T, s auth.Store) {
	key := "login:" + newID()
	counts := runConcurrently(t, func(i int) (int, error) {
		return s.Throttle().AddFailure(ctx(t), key, at(time.Duration(i)*time.Millisecond))
	})
	checkEachOnce(t, "AddFailure", counts)
	n, _, err := s.Throttle().Failures(ctx(t), key)
	must(t, "Failures", err)
	if n != concurrency {
		t.Errorf("Failures after %d concurrent AddFailure = %d", concurrency, n)
	}
}

func testThrottleConcurrentHits(t *testing.T, s auth.Store) {
	key, w := "signup:"+newID(), at(0)
	counts := runConcurrently(t, func(int) (int, error) {
		return s.Throttle().Hit(ctx(t), key, w)
	})
	checkEachOnce(t, "Hit", counts)
	n, err := s.Throttle().Hit(ctx(t), key, w)
	must(t, "Hit", err)
	if n != concurrency+1 {
		t.Errorf("Hit after %d concurrent hits = %d, want %d", concurrency, n, concurrency+1)
	}
}
