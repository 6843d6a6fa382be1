package auth_test

import (
	"context"
	"errors"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
)

// lateHitBatch is the store's own auth.FailureBatchStore with
// auth.LateHitStore besides: the hits made at once, the second only while
// the first's count is within the budget, their answers given by the
// function HitLate returns, as a store whose hits went out with the next
// statement gives them.
type lateHitBatch struct {
	countedBatch
	lateHits, over *atomic.Int32 // calls, and answers over the first key's budget
}

// The budgets in TestLateHitMatchesKeyByKey: an IP's (an IPv6 /64's), an
// IPv6 /48's, and the account's day.
const (
	overBudget = 3
	siteBudget = 5
	dayBudget  = 8
)

func (l lateHitBatch) HitLate(ctx context.Context, key, next string, budget int, window time.Time) func() (int, int, error) {
	l.lateHits.Add(1)
	n, err := l.Hit(ctx, key, window)
	nextN := 0
	switch {
	case n > budget:
		l.over.Add(1)
	case err == nil && next != "":
		nextN, err = l.Hit(ctx, next, window)
	}
	return func() (int, int, error) { return n, nextN, err }
}

// lateStep is one attempt of TestLateHitMatchesKeyByKey: from c, after
// the clock advanced, and what counting key by key answers ("ok", "bad"
// credentials, or the refusal: "ip" for the IP's own budget, "site" for
// an IPv6 /48's, "back-off", "day").
type lateStep struct {
	c        auth.Client
	password string
	advance  time.Duration
	want     string
}

// Issue 12: with a LateHitStore, whose hits on the client's budgets the
// Manager asks about only after the failure counts, a run of attempts
// gets the same answers and leaves the same failure counts and hits, step
// by step, as counting key by key: a refusal by the IP's budget, or by an
// IPv6 client's /48 (hit only when its /64 admits the attempt), counts no
// failure (the counts are put back), and neither does one by the
// back-off.
func TestLateHitMatchesKeyByKey(t *testing.T) {
	v4 := client
	a := auth.Client{IP: "2001:db8:1:a::1", UserAgent: "test-agent/1.0"}
	b := auth.Client{IP: "2001:db8:1:b::2", UserAgent: "test-agent/1.0"} // a's /48, another /64
	for _, run := range []struct {
		name  string
		steps []lateStep
	}{
		{"IPv4", []lateStep{
			{v4, "wrong", time.Minute, "bad"}, {v4, "wrong", 0, "bad"}, {v4, adminPassword, 0, "ok"}, // the IP's budget spent
			{v4, "wrong", 0, "ip"}, {v4, adminPassword, 0, "ip"}, // refused by it alone
			{v4, "wrong", time.Minute, "bad"}, {v4, "wrong", 0, "bad"}, {v4, "wrong", 0, "bad"},
			{v4, "wrong", 0, "ip"}, // refused by it alone, three failures counted
			{v4, "wrong", time.Minute, "bad"}, {v4, "wrong", 0, "back-off"}, {v4, "wrong", 0, "back-off"},
			{v4, "wrong", 0, "ip"}, // refused by both
			{v4, adminPassword, 2 * time.Minute, "ok"},
			{v4, "wrong", time.Minute, "day"}, {v4, "wrong", 0, "day"}, // the day's budget spent
			{v4, "wrong", 0, "day"}, {v4, adminPassword, time.Hour, "day"},
		}},
		{"IPv6", []lateStep{
			{a, "wrong", time.Minute, "bad"}, {a, "wrong", 0, "bad"}, {a, "wrong", 0, "bad"}, // a's /64 spent
			{a, "wrong", 0, "ip"},                          // refused by it alone: the /48 not hit
			{b, "wrong", 0, "bad"}, {b, "wrong", 0, "bad"}, // the /48 spent
			{b, "wrong", 0, "site"}, {b, adminPassword, time.Second, "ip"}, // refused by it alone, then by b's /64
			{a, "wrong", time.Minute, "bad"}, {a, "wrong", 0, "back-off"}, {a, "wrong", 0, "back-off"}, // a's fifth
			{a, "wrong", 0, "ip"}, // by both
			{b, "wrong", 0, "bad"}, {b, "wrong", 0, "bad"}, {b, "wrong", 0, "site"},
			{b, "wrong", time.Minute, "day"}, {a, adminPassword, time.Minute, "day"}, // the day's budget
		}},
	} {
		t.Run(run.name, func(t *testing.T) { testLateHitSteps(t, run.steps) })
	}
}

// testLateHitSteps runs steps key by key and then with a LateHitStore,
// each on a fresh database, and compares them.
func testLateHitSteps(t *testing.T, steps []lateStep) {
	throttle := func(c *auth.Config) {
		c.Throttle = auth.ThrottleConfig{PerIPPerMinute: overBudget, PerIPv6SitePerMinute: siteBudget,
			FreeFailures: 4, BaseDelay: time.Minute, MaxDelay: time.Hour, AccountFailuresPerDay: dayBudget}
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
		for _, s := range steps {
			e.clk.Advance(s.advance)
			out = append(out, e.throttleAttempt(t, m, s.c, s.password))
		}
		return out
	}
	want, got := run(false), run(true)
	for i, s := range steps {
		if answer := lateAnswer(want[i]); answer != s.want {
			t.Errorf("attempt %d, key by key: %s (%+v), the test expects %s", i+1, answer, want[i], s.want)
		}
	}
	if lateHits.Load() == 0 || restores.Load() == 0 || over.Load() == 0 {
		t.Fatalf("%d late hits, %d restores, %d over the IP's budget: the test does not reach the late hit's refusals",
			lateHits.Load(), restores.Load(), over.Load())
	}
	sameSteps(t, "late hit", want, got)
}

// lateAnswer names a key-by-key attempt's answer as lateStep.want does.
func lateAnswer(st throttleStep) string {
	switch {
	case st.err == nil:
		return "ok"
	case errors.Is(st.err, auth.ErrInvalidCredentials):
		return "bad"
	case !errors.Is(st.err, auth.ErrThrottled):
		return st.err.Error()
	case st.ipHits > overBudget:
		return "ip"
	case st.siteHits > siteBudget:
		return "site"
	case st.day > dayBudget:
		return "day"
	}
	return "back-off"
}
