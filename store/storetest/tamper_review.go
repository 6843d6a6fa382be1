package storetest

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// More of RunAuditTampering: what a store round trip does to an event's
// details; the repeat key and count of a folded event; the events written
// before the chain began.

// Details that do not come back from a store as they went in (a -0 that
// jsonb reads as 0, keys that are one once NUL is replaced, numbers
// beyond float64, times, invalid UTF-8) still verify: an untouched trail
// is never reported as tampered.
func testDetailsRoundTrip(t *testing.T, x Tamper) {
	m, op := tamperManager(t, x.Store, nil)
	negZero := math.Copysign(0, -1)
	for i := range 16 {
		details := map[string]any{
			"neg":     negZero,
			"\x00k":   i,
			"\uFFFDk": -i,
			"nested":  map[string]any{"list": []any{negZero, "nul\x00", "bad\xff"}, "k\x00": true},
			"big":     uint64(1<<63 + 1),
			"when":    time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
			"bad\xff": strings.Repeat("x", 5000),
		}
		err := m.Record(ctx(t), op, "host.review", audit.Success,
			audit.Target{Type: "thing", ID: "a\x00b\xff", Label: "l\x00"}, details)
		must(t, "Record", err)
	}
	check := verify(t, m, op)
	if check.Break != nil || check.Checked < 16 {
		t.Fatalf("untouched trail with awkward details: %+v (break %v)", check, check.Break)
	}
}

// An attacker who sets the repeat key of an old, unrelated event to the
// key a coming denial will have (repeat keys hash nothing secret) makes
// that denial fold into it: it is never appended. The check sees a repeat
// key that is not the event's own.
func testRepeatKeyHijacked(t *testing.T, x Tamper) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m, op := tamperManager(t, x.Store, clk)
	seedTrail(t, m, op)
	_, err := m.CreateUser(ctx(t), op, auth.NewUser{Email: "nosy@example.com", Password: "a long enough password", GroupID: group.UsersID})
	must(t, "CreateUser", err)
	res, err := m.Login(ctx(t), "nosy@example.com", "a long enough password", auth.Client{IP: "192.0.2.7"})
	must(t, "Login", err)
	nosy, err := m.Authenticate(ctx(t), res.Session.Token)
	must(t, "Authenticate", err)
	if _, err := m.AuditLog(ctx(t), nosy, audit.Query{}); err == nil {
		t.Fatal("AuditLog without audit:read succeeded")
	}
	ev := chainEvents(t, x.Store)
	denial := ev[len(ev)-1]
	if denial.Outcome != audit.Denied {
		t.Fatalf("last event %+v, want the denial", denial.Event)
	}
	// The denial's key is a hash of its fields and ":" and its minute; the
	// next minute's key is known.
	victim := ev[0]
	x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET repeat_key =
		(SELECT substr(repeat_key, 1, 65) FROM audit_events WHERE id = %d) || '%d' WHERE id = %d`,
		denial.Row, now.Truncate(time.Minute).Add(time.Minute).Unix(), victim.Row))
	mu.Lock()
	now = now.Add(time.Minute)
	mu.Unlock()
	if _, err := m.AuditLog(ctx(t), nosy, audit.Query{}); err == nil {
		t.Fatal("AuditLog without audit:read succeeded")
	}
	check := verify(t, m, op)
	want := auth.AuditBreak{Kind: auth.BreakChanged, EventID: victim.ID, Seq: victim.Link.Seq}
	if check.Break == nil || *check.Break != want {
		t.Fatalf("repeat key moved onto event %s: break %+v, want %+v", victim.ID, check.Break, want)
	}
}

// A stale repeat key on an event written outside the chain (before it
// began, or by someone without the key) takes no repeat: the denial is
// appended to the chain, not folded into a row no link covers, nor lost
// to the key being taken.
func testRepeatKeyOnUnchained(t *testing.T, x Tamper) {
	now := time.Date(2026, 3, 1, 10, 0, 30, 0, time.UTC)
	m, op := tamperManager(t, x.Store, func() time.Time { return now })
	_, err := m.CreateUser(ctx(t), op, auth.NewUser{Email: "nosy@example.com", Password: "a long enough password", GroupID: group.UsersID})
	must(t, "CreateUser", err)
	res, err := m.Login(ctx(t), "nosy@example.com", "a long enough password", auth.Client{IP: "192.0.2.7"})
	must(t, "Login", err)
	nosy, err := m.Authenticate(ctx(t), res.Session.Token)
	must(t, "Authenticate", err)
	if _, err := m.AuditLog(ctx(t), nosy, audit.Query{}); err == nil {
		t.Fatal("AuditLog without audit:read succeeded")
	}
	ev := chainEvents(t, x.Store)
	denial := ev[len(ev)-1]
	// Someone moves the denial's key to an unchained row of their own,
	// below the legacy boundary.
	x.Exec(t, fmt.Sprintf(`INSERT INTO audit_events (time, action, outcome, actor_id, actor_email, repeat_key)
		SELECT time, 'user.created', 'success', '', '', repeat_key || 'x' FROM audit_events WHERE id = %d`, denial.Row))
	x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET repeat_key = NULL WHERE id = %d`, denial.Row))
	x.Exec(t, `UPDATE audit_events SET repeat_key = substr(repeat_key, 1, length(repeat_key) - 1) WHERE repeat_key LIKE '%x'`)
	x.Exec(t, `UPDATE audit_chain SET legacy_row = (SELECT MAX(id) FROM audit_events)`)
	if _, err := m.AuditLog(ctx(t), nosy, audit.Query{}); err == nil {
		t.Fatal("AuditLog without audit:read succeeded")
	}
	after := chainEvents(t, x.Store)
	last := after[len(after)-1]
	if last.Outcome != audit.Denied || last.Link.Seq != denial.Link.Seq+1 {
		t.Fatalf("the repeated denial was not appended to the chain: last event %+v (seq %d)", last.Event, last.Link.Seq)
	}
}

// A folded event's repeat count is outside what its link covers: it can be
// set back to 1, hiding a burst of refusals.
func testRepeatCountChanged(t *testing.T, x Tamper) {
	m, op := tamperManager(t, x.Store, nil)
	_, err := m.CreateUser(ctx(t), op, auth.NewUser{Email: "nosy@example.com", Password: "a long enough password", GroupID: group.UsersID})
	must(t, "CreateUser", err)
	res, err := m.Login(ctx(t), "nosy@example.com", "a long enough password", auth.Client{IP: "192.0.2.7"})
	must(t, "Login", err)
	nosy, err := m.Authenticate(ctx(t), res.Session.Token)
	must(t, "Authenticate", err)
	for range 5 {
		if _, err := m.AuditLog(ctx(t), nosy, audit.Query{}); err == nil {
			t.Fatal("AuditLog without audit:read succeeded")
		}
	}
	x.Exec(t, `UPDATE audit_events SET repeats = 1`)
	check := verify(t, m, op)
	if check.Break == nil {
		t.Fatalf("repeat count set back to 1: %+v, no break", check)
	}
}

// Events written before the chain began are not covered, but one cannot
// pass for a new event: an event below the legacy boundary that is newer
// than the chain's first event was written (or rewritten) by someone
// without the key.
func testLegacyMadeNew(t *testing.T, x Tamper) {
	var mu sync.Mutex
	now := time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC)
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	// A trail from before the chain: three events and the boundary the
	// migration sets.
	for i := range 3 {
		e := &audit.Event{Time: now.Add(time.Duration(i-10) * time.Hour), Action: audit.UserCreated, Outcome: audit.Success}
		must(t, "Audit().Append", x.Store.Audit().Append(ctx(t), e))
	}
	x.Exec(t, `UPDATE audit_chain SET legacy_row = (SELECT MAX(id) FROM audit_events)`)
	m, op := tamperManager(t, x.Store, clk)
	seedTrail(t, m, op)
	mu.Lock()
	now = now.Add(time.Hour)
	mu.Unlock()
	_, err := m.CreateGroup(ctx(t), op, group.Group{Name: "Later"})
	must(t, "CreateGroup", err)
	check := verify(t, m, op)
	if check.Break != nil || check.Legacy != 3 {
		t.Fatalf("before tampering: %+v (break %v), want 3 legacy events", check, check.Break)
	}
	ev := chainEvents(t, x.Store)
	last := ev[len(ev)-1]
	// The oldest event now says a group was deleted, at the newest
	// event's time: the trail read by time shows it among today's.
	x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET action = 'group.deleted',
		time = (SELECT time FROM audit_events WHERE id = %d) WHERE id = %d`, last.Row, ev[0].Row))
	check = verify(t, m, op)
	want := auth.AuditBreak{Kind: auth.BreakInserted, EventID: ev[0].ID, Seq: 1}
	if check.Break == nil || *check.Break != want {
		t.Fatalf("legacy event made new: %+v (break %+v), want %+v", check, check.Break, want)
	}
}

// Someone without the key makes the whole chain look as if it never
// began: every link cleared, the head and anchor zeroed and the legacy
// boundary raised over every event. Every event then counts as written
// before the chain, and can say anything.
func testLegacyTakeover(t *testing.T, x Tamper) {
	m, op := tamperManager(t, x.Store, nil)
	seedTrail(t, m, op)
	x.Exec(t, `UPDATE audit_events SET seq = NULL, key_id = NULL, mac = NULL, reason = 'all fine'`)
	x.Exec(t, `UPDATE audit_chain SET legacy_row = (SELECT MAX(id) FROM audit_events), head_seq = 0, head_key_id = '',
		head_link = NULL, head_mark = NULL, anchor_seq = 0, anchor_key_id = '', anchor_link = NULL, anchor_mark = NULL`)
	if b := verify(t, m, op).Break; b == nil || b.Kind != auth.BreakMark {
		t.Fatalf("the whole chain turned into legacy events: break %+v, want a bad mark (the genesis no longer vouches for the boundary)", b)
	}
	// Removing the genesis mark as well does not help: the key check
	// says the chain started, and nobody without the key can say otherwise.
	x.Exec(t, `UPDATE audit_chain SET genesis_key_id = '', genesis_mark = NULL`)
	if b := verify(t, m, op).Break; b == nil || b.Kind != auth.BreakMark {
		t.Fatalf("the genesis removed too: break %+v, want a bad mark", b)
	}
	// Nor does a restart: New does not mark a new start over a reset chain.
	m2, op2 := tamperManager(t, x.Again(t), nil)
	if b := verify(t, m2, op2).Break; b == nil || b.Kind != auth.BreakMark {
		t.Fatalf("after a restart: break %+v, want a bad mark", b)
	}
}

// An event's link covers its ID: an event given an unused, higher ID (its
// place in the walk kept), as someone without the key would do so that it
// no longer matches the ID the mirror and earlier exports name, is a
// changed event. The newest is the one whose place a new ID cannot
// betray.
func testEventIDRenumbered(t *testing.T, x Tamper) {
	m, op := tamperManager(t, x.Store, nil)
	seedTrail(t, m, op)
	ev := chainedEvents(t, x.Store)
	last := ev[len(ev)-1]
	if last.RepeatKey != "" {
		t.Fatalf("the newest event %+v has a repeat key; the copy below would clash with it", last)
	}
	if b := verify(t, m, op).Break; b != nil {
		t.Fatalf("before: %+v", b)
	}
	// Copied under the new ID (its place moved aside first, as seq is
	// unique), then deleted.
	x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET seq = -seq WHERE id = %d`, last.Row))
	cols := `time, action, outcome, actor_id, actor_email, target_type, target_id, target_label, ip, user_agent, reason,
		details, repeat_key, repeats, repeats_mac, key_id, mac`
	x.Exec(t, fmt.Sprintf(`INSERT INTO audit_events (id, seq, %s) %s SELECT id + 1000, -seq, %s FROM audit_events WHERE id = %d`,
		cols, x.Overriding, cols, last.Row))
	x.Exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, last.Row))
	want := auth.AuditBreak{Kind: auth.BreakChanged, EventID: strconv.FormatInt(last.Row+1000, 10), Seq: last.Link.Seq}
	if b := verify(t, m, op).Break; b == nil || *b != want {
		t.Fatalf("event %d renumbered: break %+v, want %+v", last.Row, b, want)
	}
}
