package storetest

import (
	"encoding/json"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
)

var auditTests = []test{
	{"RoundTrip", testAuditRoundTrip},
	{"DistinctIDs", testAuditDistinctIDs},
	{"Filters", testAuditFilters},
	{"Paging", testAuditPaging},
	{"InvalidCursor", testAuditInvalidCursor},
	{"Prune", testAuditPrune},
	{"Repeat", testAuditRepeat},
	{"RepeatConcurrent", testAuditRepeatConcurrent},
}

func newEvent(tm time.Time, action audit.Action, outcome audit.Outcome, actorID string, target audit.Target) *audit.Event {
	return &audit.Event{
		Time:      tm,
		Action:    action,
		Outcome:   outcome,
		Actor:     audit.Actor{ID: actorID, Email: "actor-" + actorID + "@example.com"},
		Target:    target,
		IP:        "2001:db8::1",
		UserAgent: "storetest",
	}
}

func appendEvent(t *testing.T, s auth.Store, e *audit.Event) *audit.Event {
	t.Helper()
	must(t, "Audit().Append", s.Audit().Append(ctx(t), e))
	if e.ID == "" {
		t.Fatal("Audit().Append left Event.ID empty; the store assigns it")
	}
	return e
}

// query runs one normalized audit query.
func query(t *testing.T, s auth.Store, q audit.Query) audit.Page {
	t.Helper()
	q, err := q.Normalize()
	must(t, "audit.Query.Normalize", err)
	p, err := s.Audit().Query(ctx(t), q)
	must(t, "Audit().Query", err)
	return p
}

// walkAudit follows Next to the end.
func walkAudit(t *testing.T, s auth.Store, q audit.Query) []audit.Event {
	t.Helper()
	q, err := q.Normalize()
	must(t, "audit.Query.Normalize", err)
	var all []audit.Event
	for pages := 1; ; pages++ {
		if pages > 100 {
			t.Fatal("Audit().Query: still a Next after 100 pages")
		}
		p, err := s.Audit().Query(ctx(t), q)
		if err != nil {
			t.Fatalf("Audit().Query page %d: %v", pages, err)
		}
		if len(p.Events) > q.Limit {
			t.Fatalf("Audit().Query page %d: %d events, more than Limit %d", pages, len(p.Events), q.Limit)
		}
		if p.Next != "" && len(p.Events) < q.Limit {
			t.Fatalf("Audit().Query page %d: %d events with Limit %d, yet Next is set", pages, len(p.Events), q.Limit)
		}
		if len(p.Events) == 0 && q.Cursor != "" {
			t.Fatalf("Audit().Query page %d is empty: the previous page, the last with events, should have had no Next", pages)
		}
		all = append(all, p.Events...)
		if p.Next == "" {
			return all
		}
		q.Cursor = p.Next
	}
}

// jsonRoundTrip is what Details look like after storing as JSON: numbers
// become float64, slices []any, maps map[string]any.
func jsonRoundTrip(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	must(t, "json.Marshal", err)
	var out map[string]any
	must(t, "json.Unmarshal", json.Unmarshal(b, &out))
	return out
}

func checkEvent(t *testing.T, what string, got audit.Event, want *audit.Event) {
	t.Helper()
	if got.ID != want.ID || got.Action != want.Action || got.Outcome != want.Outcome ||
		got.Actor != want.Actor || got.Target != want.Target || got.IP != want.IP ||
		got.UserAgent != want.UserAgent || got.Reason != want.Reason {
		t.Errorf("%s:\n got  %+v\n want %+v", what, got, *want)
	}
	checkTime(t, what+": Time", got.Time, want.Time)
	if len(want.Details) == 0 {
		if len(got.Details) != 0 {
			t.Errorf("%s: Details = %v, want none", what, got.Details)
		}
		return
	}
	if wantD := jsonRoundTrip(t, want.Details); !reflect.DeepEqual(got.Details, wantD) {
		t.Errorf("%s: Details = %#v, want %#v", what, got.Details, wantD)
	}
}

func testAuditRoundTrip(t *testing.T, s auth.Store) {
	e := newEvent(at(0), audit.UserUpdated, audit.Denied, newID(), audit.Target{Type: audit.TargetUser, ID: newID()})
	e.Reason = "lacks users:write"
	e.Details = map[string]any{
		"before":  map[string]any{"name": "Zoë", "group": "users"},
		"after":   map[string]any{"name": "Zoë Ångström", "group": "admin"},
		"count":   3,
		"ratio":   0.25,
		"flags":   []any{true, false, nil, "x", 7},
		"nothing": nil,
	}
	plain := newEvent(at(time.Second), audit.Logout, audit.Success, "", audit.Target{})
	plain.Actor = audit.Actor{}
	plain.IP, plain.UserAgent = "", ""
	appendEvent(t, s, e)
	appendEvent(t, s, plain)

	p := query(t, s, audit.Query{})
	if len(p.Events) != 2 || p.Next != "" {
		t.Fatalf("Audit().Query = %d events, Next %q; want 2 and empty", len(p.Events), p.Next)
	}
	checkEvent(t, "the event with details", p.Events[1], e)
	checkEvent(t, "the event without details", p.Events[0], plain)
}

func testAuditDistinctIDs(t *testing.T, s auth.Store) {
	seen := map[string]bool{}
	for i := range 20 {
		// Same time, same content: only the ID tells them apart.
		e := appendEvent(t, s, newEvent(at(0), audit.LoginFailed, audit.Failure, "", audit.Target{}))
		if seen[e.ID] {
			t.Fatalf("Audit().Append #%d reused ID %q", i, e.ID)
		}
		seen[e.ID] = true
	}
	all := walkAudit(t, s, audit.Query{Limit: 7})
	if len(all) != 20 {
		t.Errorf("Audit().Query of 20 identical events: %d, want 20", len(all))
	}
	for _, e := range all {
		if !seen[e.ID] {
			t.Errorf("Audit().Query returned ID %q that Append did not", e.ID)
		}
	}
}

func testAuditFilters(t *testing.T, s auth.Store) {
	alice, bob := newID(), newID()
	u1 := audit.Target{Type: audit.TargetUser, ID: newID()}
	u2 := audit.Target{Type: audit.TargetUser, ID: newID()}
	g1 := audit.Target{Type: audit.TargetGroup, ID: u1.ID} // same ID, other type
	specs := []struct {
		action  audit.Action
		outcome audit.Outcome
		actor   string
		target  audit.Target
	}{
		{audit.LoginSucceeded, audit.Success, alice, u1},
		{audit.LoginFailed, audit.Failure, "", u2},
		{audit.UserUpdated, audit.Success, alice, u2},
		{audit.UserUpdated, audit.Denied, bob, u1},
		{audit.GroupUpdated, audit.Success, alice, g1},
		{audit.LoginFailed, audit.Failure, bob, u1},
		{audit.UserDeleted, audit.Success, bob, u2},
		{audit.GroupCreated, audit.Success, bob, g1},
		{audit.LoginSucceeded, audit.Success, bob, u2},
		{audit.Logout, audit.Success, alice, audit.Target{}},
	}
	var events []*audit.Event
	for i, sp := range specs {
		e := newEvent(at(time.Duration(i)*time.Minute), sp.action, sp.outcome, sp.actor, sp.target)
		if sp.actor == "" {
			e.Actor = audit.Actor{}
		}
		events = append(events, appendEvent(t, s, e))
	}
	cases := []struct {
		name string
		q    audit.Query
		keep func(e *audit.Event) bool
	}{
		{"All", audit.Query{}, func(*audit.Event) bool { return true }},
		{"Action", audit.Query{Action: audit.LoginFailed},
			func(e *audit.Event) bool { return e.Action == audit.LoginFailed }},
		{"ActorID", audit.Query{ActorID: alice},
			func(e *audit.Event) bool { return e.Actor.ID == alice }},
		{"TargetType", audit.Query{TargetType: audit.TargetGroup},
			func(e *audit.Event) bool { return e.Target.Type == audit.TargetGroup }},
		{"TargetID", audit.Query{TargetID: u1.ID},
			func(e *audit.Event) bool { return e.Target.ID == u1.ID }},
		{"TargetTypeAndID", audit.Query{TargetType: audit.TargetUser, TargetID: u1.ID},
			func(e *audit.Event) bool { return e.Target == u1 }},
		{"Outcome", audit.Query{Outcome: audit.Failure},
			func(e *audit.Event) bool { return e.Outcome == audit.Failure }},
		{"OutcomeDenied", audit.Query{Outcome: audit.Denied},
			func(e *audit.Event) bool { return e.Outcome == audit.Denied }},
		{"Since", audit.Query{Since: at(6 * time.Minute)}, // inclusive
			func(e *audit.Event) bool { return !e.Time.Before(at(6 * time.Minute)) }},
		{"Until", audit.Query{Until: at(3 * time.Minute)}, // exclusive
			func(e *audit.Event) bool { return e.Time.Before(at(3 * time.Minute)) }},
		{"Range", audit.Query{Since: at(2 * time.Minute), Until: at(7 * time.Minute)},
			func(e *audit.Event) bool {
				return !e.Time.Before(at(2*time.Minute)) && e.Time.Before(at(7*time.Minute))
			}},
		{"RangeBetweenEvents", audit.Query{Since: at(2*time.Minute + time.Second), Until: at(3*time.Minute - time.Second)},
			func(e *audit.Event) bool { return false }},
		{"Combined", audit.Query{ActorID: bob, TargetType: audit.TargetUser, Outcome: audit.Success, Since: at(time.Minute)},
			func(e *audit.Event) bool {
				return e.Actor.ID == bob && e.Target.Type == audit.TargetUser && e.Outcome == audit.Success
			}},
		{"NoMatch", audit.Query{ActorID: newID()}, func(*audit.Event) bool { return false }},
	}
	for _, c := range cases {
		var want []*audit.Event
		for _, e := range slices.Backward(events) { // newest first
			if c.keep(e) {
				want = append(want, e)
			}
		}
		for _, limit := range []int{0, 2} {
			q := c.q
			q.Limit = limit
			got := walkAudit(t, s, q)
			if len(got) != len(want) {
				t.Errorf("filter %s (limit %d): %d events %v, want %d %v", c.name, limit, len(got), eventIDs(got), len(want), eventPtrIDs(want))
				continue
			}
			for i := range want {
				checkEvent(t, fmt.Sprintf("filter %s (limit %d), event %d", c.name, limit, i), got[i], want[i])
			}
		}
	}
}

func eventIDs(events []audit.Event) []string {
	var ids []string
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

func eventPtrIDs(events []*audit.Event) []string {
	var ids []string
	for _, e := range events {
		ids = append(ids, e.ID)
	}
	return ids
}

func testAuditPaging(t *testing.T, s auth.Store) {
	want := map[string]time.Time{}
	for i := range 23 {
		// Groups of three share a time, so the cursor has to break ties.
		tm := at(time.Duration((i*5)%8) * time.Second)
		e := appendEvent(t, s, newEvent(tm, audit.UserCreated, audit.Success, newID(), audit.Target{}))
		want[e.ID] = tm
	}
	for _, limit := range []int{1, 3, 4, 23, 50} {
		all := walkAudit(t, s, audit.Query{Limit: limit})
		seen := map[string]bool{}
		for i, e := range all {
			if seen[e.ID] {
				t.Errorf("limit %d: event %s returned twice", limit, e.ID)
			}
			seen[e.ID] = true
			wt, ok := want[e.ID]
			if !ok {
				t.Errorf("limit %d: unknown event %s", limit, e.ID)
				continue
			}
			checkTime(t, "event time", e.Time, wt)
			if i > 0 && e.Time.After(all[i-1].Time) {
				t.Errorf("limit %d: event %d (%v) is newer than event %d (%v); want newest first",
					limit, i, e.Time, i-1, all[i-1].Time)
			}
		}
		if len(seen) != len(want) {
			t.Errorf("limit %d: walked %d distinct events, want %d", limit, len(seen), len(want))
		}
	}
}

func testAuditInvalidCursor(t *testing.T, s auth.Store) {
	for range 3 {
		appendEvent(t, s, newEvent(at(0), audit.Logout, audit.Success, newID(), audit.Target{}))
	}
	// The last is well-formed in the encoding usher's own stores use,
	// base64url of {"t":"2024-05-17T04:00:15.123456Z","i":""}, but no store
	// made it: it lacks the event ID a keyset needs.
	for _, c := range []string{"not a cursor!", "bm90IGpzb24", "eyJ0IjoiMjAyNC0wNS0xN1QwNDowMDoxNS4xMjM0NTZaIiwiaSI6IiJ9"} {
		q, err := audit.Query{Cursor: c}.Normalize()
		must(t, "Normalize", err)
		_, err = s.Audit().Query(ctx(t), q)
		checkErr(t, fmt.Sprintf("Audit().Query with cursor %q", c), err, audit.ErrInvalidCursor)
	}
}

func testAuditPrune(t *testing.T, s auth.Store) {
	cut := at(time.Hour)
	var kept []string
	for _, d := range []time.Duration{-2 * time.Hour, -time.Minute, -time.Microsecond, 0, time.Microsecond, time.Hour} {
		e := appendEvent(t, s, newEvent(cut.Add(d), audit.LoginSucceeded, audit.Success, newID(), audit.Target{}))
		if d >= 0 {
			kept = append(kept, e.ID)
		}
	}
	n, err := s.Audit().Prune(ctx(t), cut)
	must(t, "Audit().Prune", err)
	if n != 3 {
		t.Errorf("Audit().Prune = %d, want 3", n)
	}
	got := eventIDs(walkAudit(t, s, audit.Query{}))
	slices.Reverse(got) // oldest first, like kept
	if !slices.Equal(got, kept) {
		t.Errorf("events left after Prune: %v, want %v (at and after the cut)", got, kept)
	}
	n, err = s.Audit().Prune(ctx(t), cut)
	must(t, "Audit().Prune again", err)
	if n != 0 {
		t.Errorf("Audit().Prune again = %d, want 0", n)
	}
}

// repeater returns the store's audit.Repeater, skipping the test for a
// store without one (the interface is optional).
func repeater(t *testing.T, s auth.Store) audit.Repeater {
	t.Helper()
	r, ok := s.Audit().(audit.Repeater)
	if !ok {
		t.Skip("the store's audit part is no audit.Repeater")
	}
	return r
}

// AppendRepeat writes the first event under a key and counts the rest in
// its details; other keys, and plain Append, are not affected.
func testAuditRepeat(t *testing.T, s auth.Store) {
	r := repeater(t, s)
	target := audit.Target{Type: audit.TargetRoute, ID: "GET /admin"}
	first := newEvent(at(0), audit.AuthorizationDeny, audit.Denied, "u1", target)
	first.Details = map[string]any{"note": "kept"}
	appended, err := r.AppendRepeat(ctx(t), first, "k1")
	must(t, "AppendRepeat(first)", err)
	if !appended || first.ID == "" {
		t.Fatalf("AppendRepeat(first) = %v, ID %q; want true and an ID", appended, first.ID)
	}
	for i := range 4 {
		e := newEvent(at(time.Duration(i+1)*time.Second), audit.AuthorizationDeny, audit.Denied, "u1", target)
		appended, err := r.AppendRepeat(ctx(t), e, "k1")
		must(t, "AppendRepeat(repeat)", err)
		if appended || e.ID != first.ID {
			t.Fatalf("AppendRepeat(repeat %d) = %v, ID %q; want false and the first's ID %q", i, appended, e.ID, first.ID)
		}
	}
	other := newEvent(at(time.Minute), audit.AuthorizationDeny, audit.Denied, "u1", target)
	appended, err = r.AppendRepeat(ctx(t), other, "k2")
	must(t, "AppendRepeat(other key)", err)
	if !appended {
		t.Fatal("AppendRepeat under a new key was not appended")
	}
	plain := appendEvent(t, s, newEvent(at(time.Minute), audit.AuthorizationDeny, audit.Denied, "u1", target))
	all := walkAudit(t, s, audit.Query{})
	if len(all) != 3 {
		t.Fatalf("%d events, want 3", len(all))
	}
	for _, e := range all {
		switch e.ID {
		case first.ID:
			if e.Details[audit.DetailRepeated] != float64(5) || e.Details["note"] != "kept" {
				t.Errorf("first event details %v, want repeated 5 and its own note", e.Details)
			}
		case other.ID, plain.ID:
			if _, ok := e.Details[audit.DetailRepeated]; ok {
				t.Errorf("event %s counts repeats: %v", e.ID, e.Details)
			}
		}
	}
}

// Racing AppendRepeat calls under one key write one event and count
// every call.
func testAuditRepeatConcurrent(t *testing.T, s auth.Store) {
	r := repeater(t, s)
	const n = 8
	var (
		wg    sync.WaitGroup
		mu    sync.Mutex
		first int
	)
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := newEvent(at(time.Duration(i)*time.Millisecond), audit.LoginThrottled, audit.Failure, "", audit.Target{})
			appended, err := r.AppendRepeat(ctx(t), e, "race")
			if err != nil {
				t.Errorf("AppendRepeat: %v", err)
				return
			}
			if appended {
				mu.Lock()
				first++
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	all := walkAudit(t, s, audit.Query{})
	if first != 1 || len(all) != 1 || all[0].Details[audit.DetailRepeated] != float64(n) {
		t.Fatalf("%d appended, %d events (details %v); want 1 event counting %d", first, len(all), detailsOf(all), n)
	}
}

func detailsOf(es []audit.Event) []map[string]any {
	out := make([]map[string]any, len(es))
	for i, e := range es {
		out[i] = e.Details
	}
	return out
}
