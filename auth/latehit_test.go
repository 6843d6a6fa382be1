package auth_test

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// lateHitBatch is the store's own auth.FailureBatchStore with
// auth.LateHitStore besides: the hit made at once, its answer given by
// the function HitLate returns, as a store whose hit went out with the
// next statement gives it.
type lateHitBatch struct {
	countedBatch
	lateHits, over *atomic.Int32 // calls, and answers over overBudget
}

// overBudget is the IP's budget in TestLateHitMatchesKeyByKey.
const overBudget = 3

func (l lateHitBatch) HitLate(ctx context.Context, key string, window time.Time) func() (int, error) {
	l.lateHits.Add(1)
	n, err := l.Hit(ctx, key, window)
	if n > overBudget {
		l.over.Add(1)
	}
	return func() (int, error) { return n, err }
}

// Issue 12: with a LateHitStore, whose IP hit the Manager asks about only
// after the failure counts, a run of attempts gets the same answers and
// leaves the same counts, step by step, as counting key by key: a refusal
// by the IP's budget counts no failure (the counts are put back), and
// neither does one by the back-off.
func TestLateHitMatchesKeyByKey(t *testing.T) {
	throttle := func(c *auth.Config) {
		c.Throttle = auth.ThrottleConfig{PerIPPerMinute: overBudget, FreeFailures: 4, BaseDelay: time.Minute,
			MaxDelay: time.Hour, AccountFailuresPerDay: 8}
	}
	var restores, lateHits, over atomic.Int32
	run := func(late bool) []throttleStep {
		e := newEnv(t, throttle)
		e.admin()
		wrap := keyByKey
		if late {
			wrap = func(ts auth.ThrottleStore) auth.ThrottleStore {
				return lateHitBatch{countedBatch{ts.(auth.FailureBatchStore), &restores}, &lateHits, &over}
			}
		}
		m := e.manager(throttleStore{e.db, wrap}, throttle)
		var out []throttleStep
		for _, s := range []struct {
			password string
			advance  time.Duration
		}{
			{"wrong", time.Minute}, {"wrong", 0}, {adminPassword, 0}, // the IP's budget spent
			{"wrong", 0}, {adminPassword, 0}, // refused by it alone
			{"wrong", time.Minute}, {"wrong", 0}, {"wrong", 0},
			{"wrong", 0},                                       // refused by it alone, three failures counted
			{"wrong", time.Minute}, {"wrong", 0}, {"wrong", 0}, // the back-off
			{"wrong", 0}, // refused by both
			{adminPassword, 2 * time.Minute}, {"wrong", time.Minute}, {"wrong", 0},
			{"wrong", 0}, {adminPassword, time.Hour}, // the day's budget
		} {
			e.clk.Advance(s.advance)
			out = append(out, e.throttleAttempt(t, m, s.password))
		}
		return out
	}
	want, got := run(false), run(true)
	if lateHits.Load() == 0 || restores.Load() == 0 || over.Load() < 3 {
		t.Fatalf("%d late hits, %d restores, %d over the IP's budget: the test does not reach the late hit's refusals",
			lateHits.Load(), restores.Load(), over.Load())
	}
	sameSteps(t, "late hit", want, got)
}
