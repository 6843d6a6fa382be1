package storetest

import (
	"reflect"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
)

var activityTests = []test{
	{"CountByDay", testCountByDay},
	{"CountByDayNothing", testCountByDayNothing},
}

// counter returns the store's audit.Counter, skipping the test for a store
// without one (it is optional).
func counter(t *testing.T, s auth.Store) audit.Counter {
	t.Helper()
	c, ok := s.Audit().(audit.Counter)
	if !ok {
		t.Skip("the store's audit log is no audit.Counter")
	}
	return c
}

// CountByDay counts per UTC day and action, within [since, until), only
// the actions asked for, a folded repeat as often as it happened.
func testCountByDay(t *testing.T, s auth.Store) {
	c := counter(t, s)
	day := time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)
	at := func(d int, clock time.Duration, a audit.Action, details map[string]any) {
		e := newEvent(day.AddDate(0, 0, d).Add(clock), a, audit.Success, "u1", audit.Target{})
		e.Details = details
		appendEvent(t, s, e)
	}
	at(-1, 23*time.Hour, audit.LoginFailed, nil) // before since
	at(0, 10*time.Hour, audit.LoginSucceeded, nil)
	at(0, 11*time.Hour, audit.LoginSucceeded, nil)
	at(0, 12*time.Hour, audit.LoginFailed, nil)
	at(0, 12*time.Hour, audit.Logout, nil) // not asked for
	at(0, 24*time.Hour-time.Microsecond, audit.LoginFailed, nil)
	at(1, 0, audit.LoginFailed, nil) // the next day's first instant
	for range 3 {                    // one event standing for three
		appendChained(t, s, newEvent(day.AddDate(0, 0, 2).Add(5*time.Hour), audit.LoginThrottled, audit.Failure, "u1", audit.Target{}), "throttled")
	}
	at(2, 6*time.Hour, audit.LoginThrottled, nil)
	at(3, 0, audit.LoginSucceeded, nil) // at until: outside

	// since in another zone: the same instant, the days still UTC's.
	since := day.In(time.FixedZone("UTC+5", 5*3600))
	got, err := c.CountByDay(ctx(t), []audit.Action{audit.LoginSucceeded, audit.LoginFailed, audit.LoginThrottled},
		since, day.AddDate(0, 0, 3))
	must(t, "CountByDay", err)
	want := []audit.DayCount{
		{Day: day, Action: audit.LoginFailed, Count: 2},
		{Day: day, Action: audit.LoginSucceeded, Count: 2},
		{Day: day.AddDate(0, 0, 1), Action: audit.LoginFailed, Count: 1},
		{Day: day.AddDate(0, 0, 2), Action: audit.LoginThrottled, Count: 4},
	}
	for i := range got {
		if got[i].Day.Location() != time.UTC {
			t.Errorf("day %v is not in UTC", got[i].Day)
		}
	}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("CountByDay =\n%v\nwant\n%v", got, want)
	}
}

// No actions, or an empty window, count nothing.
func testCountByDayNothing(t *testing.T, s auth.Store) {
	c := counter(t, s)
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	appendEvent(t, s, newEvent(now, audit.LoginSucceeded, audit.Success, "u1", audit.Target{}))
	for name, tc := range map[string]struct {
		actions      []audit.Action
		since, until time.Time
	}{
		"no actions":      {nil, now.Add(-time.Hour), now.Add(time.Hour)},
		"empty window":    {[]audit.Action{audit.LoginSucceeded}, now, now},
		"reversed window": {[]audit.Action{audit.LoginSucceeded}, now.Add(time.Hour), now.Add(-time.Hour)},
		"other action":    {[]audit.Action{audit.LoginFailed}, now.Add(-time.Hour), now.Add(time.Hour)},
	} {
		got, err := c.CountByDay(ctx(t), tc.actions, tc.since, tc.until)
		if err != nil || len(got) != 0 {
			t.Errorf("%s: %v, %v", name, got, err)
		}
	}
}
