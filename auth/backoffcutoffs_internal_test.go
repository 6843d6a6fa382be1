package auth

import (
	"math"
	"testing"
	"time"
)

// TestBackoffCutoffs: AdmitRule's cutoffs refuse exactly what backoffLeft
// refuses, n failures after FreeFailures, for every configuration Validate
// lets through: a wait that doubles past MaxDelay, a BaseDelay whose
// shifts overflow (backoff is then not monotonic), and a FreeFailures so
// large that n - FreeFailures is all a cutoff can go by (free+32 would
// overflow: the cutoffs came back empty, and every PostgreSQL login
// failed; at math.MaxInt-32 the loop never ended).
func TestBackoffCutoffs(t *testing.T) {
	now := time.Date(2026, 12, 7, 9, 0, 0, 123456789, time.UTC)
	for _, tc := range []struct {
		name       string
		free       int
		base, maxD time.Duration
	}{
		{"huge FreeFailures", math.MaxInt, time.Second, time.Minute},
		{"FreeFailures a little less", math.MaxInt - 1, time.Second, time.Minute},
		{"FreeFailures+31 the largest int", math.MaxInt - 31, time.Second, time.Minute},
		{"FreeFailures+32 the largest int", math.MaxInt - 32, time.Second, time.Minute},
		{"FreeFailures+33 the largest int", math.MaxInt - 33, time.Second, time.Minute},
		{"defaults", DefaultFreeFailures, DefaultBaseDelay, DefaultMaxDelay},
		{"one free", 1, time.Nanosecond, math.MaxInt64},
		{"shifts overflow", 3, 1<<62 + 1, math.MaxInt64},
		{"base is max", 2, 5 * time.Hour, 5 * time.Hour},
	} {
		m := &Manager{cfg: Config{Throttle: ThrottleConfig{FreeFailures: tc.free, BaseDelay: tc.base, MaxDelay: tc.maxD}}}
		cut := m.backoffCutoffs(now)
		if len(cut) == 0 || len(cut) > 33 {
			t.Fatalf("%s: %d cutoffs", tc.name, len(cut))
		}
		for shift := 0; shift <= 40; shift++ {
			n := tc.free + shift // may wrap, as backoff's n - FreeFailures does back
			if n < 0 || n < tc.free {
				break // more failures than an int holds
			}
			c := cut[min(shift, len(cut)-1)]
			for _, last := range []time.Time{c.Add(-time.Nanosecond), c, c.Add(time.Nanosecond), now} {
				if got, want := last.After(c), m.backoffLeft(n, last, now) > 0; got != want {
					t.Fatalf("%s: n = free+%d, last %v: the cutoff %v refuses: %v; backoffLeft: %v",
						tc.name, shift, last, c, got, want)
				}
			}
		}
	}
}
