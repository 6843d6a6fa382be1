package storetest

import (
	"bytes"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
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
	{"PagingBothWays", testAuditPagingBothWays},
	{"ActorPaging", testAuditActorPaging},
	{"OldestFirst", testAuditOldestFirst},
	{"Prune", testAuditPrune},
	{"Repeat", testAuditRepeat},
	{"RepeatConcurrent", testAuditRepeatConcurrent},
	{"Chain", testAuditChain},
	{"ChainConcurrent", testAuditChainConcurrent},
	{"ChainRollback", testAuditChainRollback},
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
	e := newEvent(at(0), audit.UserUpdated, audit.Denied, newID(), audit.Target{Type: audit.TargetUser, ID: newID(), Label: "zoë@example.com"})
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
		// The common action, which a store may leave out of its action
		// index (SQLite's migration 0020).
		{"ActionSucceeded", audit.Query{Action: audit.LoginSucceeded},
			func(e *audit.Event) bool { return e.Action == audit.LoginSucceeded }},
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

// testSeal is a Sealer for the store's side of the chain: the store keeps
// what it is given, so any MAC will do. It links each event to the head it
// was given, which the checks below rely on.
func testSeal(head audit.Mark, e *audit.Event) (audit.Link, audit.Mark, error) {
	h := sha256.New()
	h.Write(head.LinkMAC)
	h.Write([]byte(e.Action))
	link := audit.Link{Seq: head.Seq + 1, KeyID: "k1", MAC: h.Sum(nil)}
	return link, audit.Mark{Seq: link.Seq, LinkMAC: link.MAC, KeyID: "k2", MAC: []byte("head mark")}, nil
}

// testFold is a Folder for the store's side: any mark will do, as long
// as it names the link and the count.
func testFold(link audit.Link, repeats int64) []byte {
	return []byte(fmt.Sprintf("%d:%x", repeats, link.MAC))
}

func appendChained(t *testing.T, s auth.Store, e *audit.Event, key string) bool {
	t.Helper()
	appended, err := s.Audit().AppendChained(ctx(t), e, key, testSeal, testFold)
	must(t, "Audit().AppendChained", err)
	if e.ID == "" {
		t.Fatal("Audit().AppendChained left Event.ID empty; the store assigns it")
	}
	return appended
}

// chainEvents reads the whole chain walk, in batches of 2.
func chainEvents(t *testing.T, s auth.Store) []audit.Chained {
	t.Helper()
	var all []audit.Chained
	for after := int64(0); ; {
		batch, err := s.Audit().ChainEvents(ctx(t), after, 2)
		must(t, "Audit().ChainEvents", err)
		all = append(all, batch...)
		if len(batch) < 2 {
			return all
		}
		after = batch[len(batch)-1].Row
	}
}

// checkChain checks that the chained events have Seq 1.. from first with
// no gap, each linked to the one before, and that the head is the last.
func checkChain(t *testing.T, s auth.Store, first int64, wantLen int) []audit.Chained {
	t.Helper()
	var chained []audit.Chained
	for _, c := range chainEvents(t, s) {
		if c.Link.Seq != 0 {
			chained = append(chained, c)
		}
	}
	if len(chained) != wantLen {
		t.Fatalf("%d chained events, want %d", len(chained), wantLen)
	}
	for i, c := range chained {
		if c.Link.Seq != first+int64(i) || c.Link.KeyID != "k1" || len(c.Link.MAC) != sha256.Size {
			t.Fatalf("chained event %d: link %+v, want Seq %d under k1", i, c.Link, first+int64(i))
		}
		if c.Row <= 0 || c.ID != strconv.FormatInt(c.Row, 10) {
			t.Fatalf("chained event %d: Row %d, ID %q", i, c.Row, c.ID)
		}
		if i > 0 {
			prev := audit.Mark{Seq: chained[i-1].Link.Seq, LinkMAC: chained[i-1].Link.MAC}
			want, _, _ := testSeal(prev, &c.Event)
			if !bytes.Equal(c.Link.MAC, want.MAC) {
				t.Fatalf("chained event %d (%s) is not linked to the one before it", i, c.Action)
			}
		}
	}
	st, err := s.Audit().ChainState(ctx(t))
	must(t, "Audit().ChainState", err)
	if n := len(chained); n > 0 {
		last := chained[n-1].Link
		if st.Head.Seq != last.Seq || !bytes.Equal(st.Head.LinkMAC, last.MAC) || st.Head.KeyID != "k2" ||
			string(st.Head.MAC) != "head mark" {
			t.Fatalf("head %+v, want the last link %+v marked under k2", st.Head, last)
		}
	}
	return chained
}

// The chain: each append links to the head, which moves; the walk reads
// every event in append order with its link and details as stored (no
// repeat count), and events appended outside the chain with none.
func testAuditChain(t *testing.T, s auth.Store) {
	st, err := s.Audit().ChainState(ctx(t))
	must(t, "Audit().ChainState", err)
	if st.Head.Seq != 0 || st.Anchor.Seq != 0 || st.LegacyRow != 0 {
		t.Fatalf("a new store's chain state %+v, want zero", st)
	}
	for i, a := range []audit.Action{audit.LoginSucceeded, audit.UserCreated, audit.Logout} {
		e := newEvent(at(time.Duration(i)*time.Second), a, audit.Success, "u1", audit.Target{Type: audit.TargetUser, ID: "u2", Label: "b@example.com"})
		e.Details = map[string]any{"n": i}
		if !appendChained(t, s, e, "") {
			t.Fatal("AppendChained without a key reported no append")
		}
	}
	d := newEvent(at(4*time.Second), audit.AuthorizationDeny, audit.Denied, "u1", audit.Target{})
	appendChained(t, s, d, "deny")
	appendChained(t, s, newEvent(at(5*time.Second), audit.AuthorizationDeny, audit.Denied, "u1", audit.Target{}), "deny")
	plain := appendEvent(t, s, newEvent(at(6*time.Second), audit.Logout, audit.Success, "u1", audit.Target{}))
	chained := checkChain(t, s, 1, 4)
	if chained[1].Target.Label != "b@example.com" || chained[2].Details["n"] != float64(2) {
		t.Errorf("chained event read back as %+v / %+v", chained[1].Event, chained[2].Event)
	}
	if _, ok := chained[3].Details[audit.DetailRepeated]; ok {
		t.Errorf("a chain walk shows the repeat count: %v", chained[3].Details)
	}
	all := chainEvents(t, s)
	if last := all[len(all)-1]; last.ID != plain.ID || last.Link.Seq != 0 || last.Link.MAC != nil {
		t.Errorf("the event appended outside the chain walks as %+v", last)
	}
	if p := query(t, s, audit.Query{Action: audit.AuthorizationDeny}); len(p.Events) != 1 || p.Events[0].Details[audit.DetailRepeated] != float64(2) {
		t.Errorf("Query shows the folded denial as %+v", p.Events)
	}
}

// Appends racing from many goroutines (and, on a store shared by several
// instances, from each) make one chain: no Seq twice, no gap, each linked
// to the one before.
func testAuditChainConcurrent(t *testing.T, s auth.Store) {
	const n = 24
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			e := newEvent(at(time.Duration(i)*time.Millisecond), audit.LoginSucceeded, audit.Success, newID(), audit.Target{})
			if _, err := s.Audit().AppendChained(ctx(t), e, "", testSeal, testFold); err != nil {
				t.Errorf("AppendChained: %v", err)
			}
		}()
	}
	wg.Wait()
	checkChain(t, s, 1, n)
}

// An append inside a transaction that rolls back leaves neither the event
// nor a moved head.
func testAuditChainRollback(t *testing.T, s auth.Store) {
	appendChained(t, s, newEvent(at(0), audit.Logout, audit.Success, "u1", audit.Target{}), "")
	failed := errors.New("roll back")
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		e := newEvent(at(time.Second), audit.UserDeleted, audit.Success, "u1", audit.Target{})
		if _, err := tx.Audit().AppendChained(ctx(t), e, "", testSeal, testFold); err != nil {
			return err
		}
		return failed
	})
	checkErr(t, "Atomic", err, failed)
	appendChained(t, s, newEvent(at(2*time.Second), audit.Logout, audit.Success, "u1", audit.Target{}), "")
	checkChain(t, s, 1, 2)
}

// PruneChained deletes the chained events oldest first along the chain, up
// to the first at or after the cut (one older than the cut but after it in
// the chain stays, so the chain kept has no hole), and the unchained
// events older than the cut; it anchors the chain at the last link
// deleted.
func testAuditPrune(t *testing.T, s auth.Store) {
	cut := at(time.Hour)
	legacy := appendEvent(t, s, newEvent(cut.Add(-3*time.Hour), audit.Logout, audit.Success, "u1", audit.Target{}))
	legacyKept := appendEvent(t, s, newEvent(cut, audit.Logout, audit.Success, "u1", audit.Target{}))
	var ids []string
	for _, d := range []time.Duration{-2 * time.Hour, -time.Minute, -time.Microsecond, 0, -time.Second, time.Hour} {
		e := newEvent(cut.Add(d), audit.LoginSucceeded, audit.Success, newID(), audit.Target{})
		appendChained(t, s, e, "")
		ids = append(ids, e.ID)
	}
	var anchored []audit.Link
	anchor := func(last audit.Link) (audit.Mark, error) {
		anchored = append(anchored, last)
		return audit.Mark{Seq: last.Seq, LinkMAC: last.MAC, KeyID: "k3", MAC: []byte("anchor mark")}, nil
	}
	n, err := s.Audit().PruneChained(ctx(t), cut, anchor)
	must(t, "Audit().PruneChained", err)
	if n != 4 {
		t.Errorf("Audit().PruneChained = %d, want 4 (three chained, one unchained)", n)
	}
	if len(anchored) != 1 || anchored[0].Seq != 3 {
		t.Fatalf("anchor called with %+v, want once with Seq 3", anchored)
	}
	got := eventIDs(walkAudit(t, s, audit.Query{OldestFirst: true}))
	// The event a second before the cut stays: it follows one at the cut.
	want := []string{ids[4], legacyKept.ID, ids[3], ids[5]} // oldest first by time, then ID
	if !slices.Equal(got, want) {
		t.Errorf("events left after PruneChained: %v, want %v (legacy %s gone)", got, want, legacy.ID)
	}
	st, err := s.Audit().ChainState(ctx(t))
	must(t, "Audit().ChainState", err)
	if st.Anchor.Seq != 3 || !bytes.Equal(st.Anchor.LinkMAC, anchored[0].MAC) || st.Anchor.KeyID != "k3" ||
		string(st.Anchor.MAC) != "anchor mark" || st.Head.Seq != 6 {
		t.Errorf("after pruning: anchor %+v, head %+v", st.Anchor, st.Head)
	}
	n, err = s.Audit().PruneChained(ctx(t), cut, anchor)
	must(t, "Audit().PruneChained again", err)
	if n != 0 || len(anchored) != 1 {
		t.Errorf("Audit().PruneChained again = %d (anchor calls %d), want 0 and no new anchor", n, len(anchored))
	}
	// Pruning everything leaves the head where it was, for the next append.
	n, err = s.Audit().PruneChained(ctx(t), cut.Add(10*time.Hour), anchor)
	must(t, "Audit().PruneChained all", err)
	if n != 4 || anchored[len(anchored)-1].Seq != 6 {
		t.Errorf("pruning all: %d deleted, anchors %+v; want 4 and the last at Seq 6", n, anchored)
	}
	e := newEvent(cut.Add(11*time.Hour), audit.Logout, audit.Success, "u1", audit.Target{})
	appendChained(t, s, e, "")
	checkChain(t, s, 7, 1)
	// An event ID names one event forever: not even a table that pruning
	// emptied gives an ID again, to a chained event or a plain one.
	used := append(ids, legacy.ID, legacyKept.ID)
	checkNew := func(what string, e *audit.Event) {
		t.Helper()
		if slices.Contains(used, e.ID) {
			t.Errorf("%s after pruning emptied the log took ID %s again (IDs used: %v)", what, e.ID, used)
		}
		used = append(used, e.ID)
	}
	checkNew("AppendChained", e)
	// The newest event outside the chain: pruning everything still
	// anchors the chain at its last link.
	checkNew("Append", appendEvent(t, s, newEvent(cut.Add(12*time.Hour), audit.Logout, audit.Success, "u1", audit.Target{})))
	n, err = s.Audit().PruneChained(ctx(t), cut.Add(20*time.Hour), anchor)
	must(t, "Audit().PruneChained all", err)
	if n != 2 || anchored[len(anchored)-1].Seq != 7 {
		t.Errorf("pruning all after an unchained event: %d deleted, anchors %+v; want 2 and the last at Seq 7", n, anchored)
	}
	checkNew("Append", appendEvent(t, s, newEvent(cut.Add(21*time.Hour), audit.Logout, audit.Success, "u1", audit.Target{})))
}

// AppendChained under a key writes the first event and counts the rest;
// other keys, and no key, are not affected.
func testAuditRepeat(t *testing.T, s auth.Store) {
	target := audit.Target{Type: audit.TargetRoute, ID: "GET /admin"}
	first := newEvent(at(0), audit.AuthorizationDeny, audit.Denied, "u1", target)
	first.Details = map[string]any{"note": "kept"}
	if !appendChained(t, s, first, "k1") {
		t.Fatal("AppendChained(first) reported a repeat")
	}
	for i := range 4 {
		e := newEvent(at(time.Duration(i+1)*time.Second), audit.AuthorizationDeny, audit.Denied, "u1", target)
		if appendChained(t, s, e, "k1") || e.ID != first.ID {
			t.Fatalf("AppendChained(repeat %d): appended or ID %q; want a repeat of %q", i, e.ID, first.ID)
		}
	}
	other := newEvent(at(time.Minute), audit.AuthorizationDeny, audit.Denied, "u1", target)
	if !appendChained(t, s, other, "k2") {
		t.Fatal("AppendChained under a new key was not appended")
	}
	plain := newEvent(at(time.Minute), audit.AuthorizationDeny, audit.Denied, "u1", target)
	appendChained(t, s, plain, "")
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
	chained := checkChain(t, s, 1, 3) // repeats add no link
	for _, c := range chained {
		want, wantMAC := int64(1), []byte(nil)
		switch c.ID {
		case first.ID:
			want, wantMAC = 5, testFold(c.Link, 5)
		case other.ID:
			wantMAC = testFold(c.Link, 1)
		}
		if c.Repeats != want || !bytes.Equal(c.RepeatsMAC, wantMAC) {
			t.Errorf("event %s walks with %d repeats under mark %q; want %d under %q", c.ID, c.Repeats, c.RepeatsMAC, want, wantMAC)
		}
	}
}

// Racing AppendChained calls under one key write one event and count
// every call.
func testAuditRepeatConcurrent(t *testing.T, s auth.Store) {
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
			appended, err := s.Audit().AppendChained(ctx(t), e, "race", testSeal, testFold)
			if err != nil {
				t.Errorf("AppendChained: %v", err)
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

// Paging back from any page with Prev gives the pages seen before it, in
// the same order, and the first page has no Prev.
func testAuditPagingBothWays(t *testing.T, s auth.Store) {
	for i := range 11 {
		appendEvent(t, s, newEvent(at(time.Duration(i%4)*time.Second), audit.UserCreated, audit.Success, newID(), audit.Target{}))
	}
	for _, oldest := range []bool{false, true} {
		q := audit.Query{Limit: 3, OldestFirst: oldest}
		var pages [][]string
		p := query(t, s, q)
		if p.Prev != "" {
			t.Fatalf("oldest %v: the first page has a Prev", oldest)
		}
		pages = append(pages, eventIDs(p.Events))
		for p.Next != "" {
			q.Cursor = p.Next
			p = query(t, s, q)
			pages = append(pages, eventIDs(p.Events))
		}
		if len(pages) != 4 || len(pages[3]) != 2 {
			t.Fatalf("oldest %v: pages %v, want 3+3+3+2", oldest, pages)
		}
		// From the last page back to the first.
		for i := len(pages) - 2; i >= 0; i-- {
			if p.Prev == "" {
				t.Fatalf("oldest %v: page %d has no Prev", oldest, i+1)
			}
			q.Cursor = p.Prev
			p = query(t, s, q)
			if got := eventIDs(p.Events); !slices.Equal(got, pages[i]) {
				t.Fatalf("oldest %v: back to page %d: %v, want %v", oldest, i, got, pages[i])
			}
			if p.Next == "" {
				t.Fatalf("oldest %v: page %d reached back has no Next", oldest, i)
			}
		}
		if p.Prev != "" {
			t.Errorf("oldest %v: the first page reached back has a Prev", oldest)
		}
		// Forward again from a page reached back.
		q.Cursor = p.Next
		if got := eventIDs(query(t, s, q).Events); !slices.Equal(got, pages[1]) {
			t.Errorf("oldest %v: forward after back: %v, want %v", oldest, got, pages[1])
		}
	}
}

// A page filtered by actor holds the actor's events on their own account
// and on anything else, in one order (a store may read the two from
// different indexes and merge them, as SQLite does): walking it forward,
// back, and oldest first, with filters beside the actor's, gives exactly
// the actor's events in the (time, id) order, ties between the two kinds
// included.
func testAuditActorPaging(t *testing.T, s auth.Store) {
	alice, bob := newID(), newID()
	self := audit.Target{Type: audit.TargetUser, ID: alice}
	others := []audit.Target{{Type: audit.TargetUser, ID: bob}, {Type: audit.TargetGroup, ID: alice}, {}}
	var want []string
	for i := range 16 {
		// Four events a second, three of them on others: ties, within what
		// a store may read through one index too.
		tm := at(time.Duration(i/4) * time.Second)
		target, action := self, audit.LoginSucceeded
		if i%4 != 1 {
			target, action = others[(i/4)%len(others)], audit.UserUpdated
		}
		want = append(want, appendEvent(t, s, newEvent(tm, action, audit.Success, alice, target)).ID)
		// Around them, events the filter leaves out: bob on alice, bob on
		// himself, and one with no actor.
		appendEvent(t, s, newEvent(tm, audit.UserUpdated, audit.Success, bob, self))
		appendEvent(t, s, newEvent(tm, audit.LoginSucceeded, audit.Success, bob, audit.Target{Type: audit.TargetUser, ID: bob}))
		e := newEvent(tm, audit.LoginFailed, audit.Failure, "", audit.Target{})
		e.Actor = audit.Actor{}
		appendEvent(t, s, e)
	}
	slices.Reverse(want)
	// Pages of one to four events: a store that walks the actor's events
	// in parts, each part cut at the page's size, must cut a second's ties
	// in the page's order wherever the cut falls.
	for _, limit := range []int{1, 2, 3, 4} {
		for _, oldest := range []bool{false, true} {
			walkActorPages(t, s, audit.Query{ActorID: alice, Limit: limit, OldestFirst: oldest}, want)
		}
	}
	for _, c := range []struct {
		name string
		q    audit.Query
		n    int
	}{
		{"own account", audit.Query{ActorID: alice, TargetType: audit.TargetUser, TargetID: alice}, 4},
		{"another account", audit.Query{ActorID: alice, TargetType: audit.TargetUser, TargetID: bob}, 6}, // seconds 0 and 3
		{"groups", audit.Query{ActorID: alice, TargetType: audit.TargetGroup}, 3},
		{"own logins", audit.Query{ActorID: alice, Action: audit.LoginSucceeded}, 4},
		{"changes", audit.Query{ActorID: alice, Action: audit.UserUpdated}, 12},
		{"since", audit.Query{ActorID: alice, Since: at(3 * time.Second)}, 4},
	} {
		if got := walkAudit(t, s, c.q); len(got) != c.n {
			t.Errorf("%s: %d events, want %d", c.name, len(got), c.n)
		} else {
			for _, e := range got {
				if e.Actor.ID != alice {
					t.Errorf("%s: an event of %q", c.name, e.Actor.ID)
				}
			}
		}
	}
}

// walkActorPages pages through q forward, then back, and checks it finds
// newest (the events q matches, newest first) in q's order, and each page
// again on the way back.
func walkActorPages(t *testing.T, s auth.Store, q audit.Query, newest []string) {
	t.Helper()
	exp := slices.Clone(newest)
	if q.OldestFirst {
		slices.Reverse(exp)
	}
	var pages [][]string
	var got []string
	p := query(t, s, q)
	for {
		if len(pages) > len(exp) {
			t.Fatalf("limit %d, oldest %v: still a Next after %d pages", q.Limit, q.OldestFirst, len(pages))
		}
		pages = append(pages, eventIDs(p.Events))
		got = append(got, eventIDs(p.Events)...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
		p = query(t, s, q)
	}
	if !slices.Equal(got, exp) {
		t.Fatalf("limit %d, oldest %v: the actor's events %v, want %v", q.Limit, q.OldestFirst, got, exp)
	}
	for i := len(pages) - 2; i >= 0; i-- {
		q.Cursor = p.Prev
		p = query(t, s, q)
		if back := eventIDs(p.Events); !slices.Equal(back, pages[i]) {
			t.Fatalf("limit %d, oldest %v: back to page %d: %v, want %v", q.Limit, q.OldestFirst, i, back, pages[i])
		}
	}
}

// OldestFirst turns the order around, and a cursor of one order is
// refused by the other.
func testAuditOldestFirst(t *testing.T, s auth.Store) {
	for i := range 5 {
		appendEvent(t, s, newEvent(at(time.Duration(4-i)*time.Second), audit.UserCreated, audit.Success, newID(), audit.Target{}))
	}
	newest := eventIDs(walkAudit(t, s, audit.Query{Limit: 2}))
	oldest := eventIDs(walkAudit(t, s, audit.Query{Limit: 2, OldestFirst: true}))
	slices.Reverse(oldest)
	if len(newest) != 5 || !slices.Equal(newest, oldest) {
		t.Errorf("oldest first, reversed: %v; newest first: %v", oldest, newest)
	}
	p := query(t, s, audit.Query{Limit: 2})
	q, err := audit.Query{Limit: 2, OldestFirst: true, Cursor: p.Next}.Normalize()
	must(t, "Normalize", err)
	_, err = s.Audit().Query(ctx(t), q)
	checkErr(t, "a newest-first cursor in an oldest-first query", err, audit.ErrInvalidCursor)
}

func detailsOf(es []audit.Event) []map[string]any {
	out := make([]map[string]any, len(es))
	for i, e := range es {
		out[i] = e.Details
	}
	return out
}
