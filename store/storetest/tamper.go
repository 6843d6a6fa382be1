package storetest

import (
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// Tamper is what [RunAuditTampering] needs of a store: a fresh, empty,
// migrated store; another handle on the same database (as a second
// instance of the host would open); and a way to run a statement on the
// database directly, as someone with write access but without the secret
// key would.
type Tamper struct {
	Store auth.Store
	Again func(t *testing.T) auth.Store
	Exec  func(t *testing.T, stmt string)
	// Bytes writes b as an SQL literal of the database's binary type.
	Bytes func(b []byte) string
	// Overriding is what an INSERT into audit_events needs between its
	// columns and its rows to set the id itself: "" on SQLite,
	// "OVERRIDING SYSTEM VALUE" on PostgreSQL (an identity column).
	Overriding string
}

// RunAuditTampering checks, through auth.Manager.VerifyAuditLog, that the
// store keeps the audit trail's hash chain so that every kind of tampering
// shows: a changed, removed, reordered or inserted event, a cut tail, a
// forged head or anchor; and that the chain stays whole after pruning and
// with two instances writing at once. The statements it runs are plain SQL
// on the tables audit_events (columns id, seq, mac, reason, target_label)
// and audit_chain (head_seq, anchor_seq), the schema usher's own stores
// share.
func RunAuditTampering(t *testing.T, open func(t *testing.T) Tamper) {
	cases := []struct {
		name string
		// tamper changes the trail; events are the chain's rows in
		// append order. It returns the break to expect.
		tamper func(t *testing.T, x Tamper, events []audit.Chained) auth.AuditBreak
	}{
		{"ChangedReason", func(t *testing.T, x Tamper, ev []audit.Chained) auth.AuditBreak {
			mid := ev[len(ev)/2]
			x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET reason = 'all fine' WHERE id = %d`, mid.Row))
			return auth.AuditBreak{Kind: auth.BreakChanged, EventID: mid.ID, Seq: mid.Link.Seq}
		}},
		{"ChangedLabel", func(t *testing.T, x Tamper, ev []audit.Chained) auth.AuditBreak {
			e := ev[2]
			x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET target_label = 'someone@else.example' WHERE id = %d`, e.Row))
			return auth.AuditBreak{Kind: auth.BreakChanged, EventID: e.ID, Seq: e.Link.Seq}
		}},
		{"Removed", func(t *testing.T, x Tamper, ev []audit.Chained) auth.AuditBreak {
			mid, next := ev[len(ev)/2], ev[len(ev)/2+1]
			x.Exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, mid.Row))
			return auth.AuditBreak{Kind: auth.BreakRemoved, EventID: next.ID, Seq: mid.Link.Seq}
		}},
		{"Reordered", func(t *testing.T, x Tamper, ev []audit.Chained) auth.AuditBreak {
			a, b := ev[3], ev[4]
			// Swap the two events' places: each takes the other's link.
			x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET seq = -1 WHERE id = %d`, a.Row))
			x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET seq = %d, mac = (SELECT mac FROM audit_events WHERE id = %d) WHERE id = %d`, a.Link.Seq, a.Row, b.Row))
			x.Exec(t, fmt.Sprintf(`UPDATE audit_events SET seq = %d, mac = %s WHERE id = %d`, b.Link.Seq, x.Bytes(b.Link.MAC), a.Row))
			return auth.AuditBreak{Kind: auth.BreakReordered, EventID: a.ID, Seq: a.Link.Seq}
		}},
		{"Inserted", func(t *testing.T, x Tamper, ev []audit.Chained) auth.AuditBreak {
			x.Exec(t, fmt.Sprintf(`INSERT INTO audit_events (time, action, outcome, actor_id, actor_email)
				SELECT time, action, outcome, actor_id, actor_email FROM audit_events WHERE id = %d`, ev[1].Row))
			last := ev[len(ev)-1]
			return auth.AuditBreak{Kind: auth.BreakInserted, EventID: "", Seq: last.Link.Seq + 1}
		}},
		{"TruncatedTail", func(t *testing.T, x Tamper, ev []audit.Chained) auth.AuditBreak {
			last := ev[len(ev)-1]
			x.Exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id >= %d`, ev[len(ev)-2].Row))
			return auth.AuditBreak{Kind: auth.BreakTruncated, Seq: last.Link.Seq - 1}
		}},
		{"TruncatedWithHeadMoved", func(t *testing.T, x Tamper, ev []audit.Chained) auth.AuditBreak {
			last, prev := ev[len(ev)-1], ev[len(ev)-2]
			x.Exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, last.Row))
			x.Exec(t, fmt.Sprintf(`UPDATE audit_chain SET head_seq = %d, head_link = %s`, prev.Link.Seq, x.Bytes(prev.Link.MAC)))
			return auth.AuditBreak{Kind: auth.BreakMark, Seq: prev.Link.Seq}
		}},
		{"HeadZeroed", func(t *testing.T, x Tamper, ev []audit.Chained) auth.AuditBreak {
			// As a chain that never began: the check must not take the
			// events for ones appended while it read.
			x.Exec(t, `UPDATE audit_chain SET head_seq = 0, head_key_id = '', head_link = NULL, head_mark = NULL`)
			return auth.AuditBreak{Kind: auth.BreakMark, Seq: 0}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			x := open(t)
			m, op := tamperManager(t, x.Store, nil)
			seedTrail(t, m, op)
			events := chainedEvents(t, x.Store)
			check := verify(t, m, op)
			if check.Break != nil || check.Checked != int64(len(events)) || check.First != 1 {
				t.Fatalf("before tampering: %+v (break %v), want %d events checked from 1", check, check.Break, len(events))
			}
			want := c.tamper(t, x, events)
			check = verify(t, m, op)
			got := check.Break
			if got == nil {
				t.Fatalf("VerifyAuditLog found nothing; want %+v", want)
			}
			if want.Kind == auth.BreakInserted {
				want.EventID = got.EventID // the store picked the new row's ID
			}
			if *got != want {
				t.Fatalf("VerifyAuditLog found %+v, want %+v", *got, want)
			}
			if !errors.Is(got, auth.ErrAuditTampered) {
				t.Errorf("the break %v does not match ErrAuditTampered", got)
			}
		})
	}
	t.Run("Pruned", func(t *testing.T) {
		t.Parallel()
		testPrunedChain(t, open(t))
	})
	for _, c := range []struct {
		name string
		run  func(*testing.T, Tamper)
	}{
		{"DetailsRoundTrip", testDetailsRoundTrip},
		{"RepeatKeyHijacked", testRepeatKeyHijacked},
		{"RepeatKeyOnUnchained", testRepeatKeyOnUnchained},
		{"RepeatCountChanged", testRepeatCountChanged},
		{"LegacyMadeNew", testLegacyMadeNew},
		{"LegacyTakeover", testLegacyTakeover},
		{"EventIDRenumbered", testEventIDRenumbered},
	} {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			c.run(t, open(t))
		})
	}
	t.Run("TwoInstances", func(t *testing.T) {
		t.Parallel()
		testChainTwoInstances(t, open(t))
	})
}

var tamperKey = []byte("storetest tamper key, 32 bytes!!")

// tamperManager returns a Manager over s with an operator; clk, when set,
// is its clock.
func tamperManager(t *testing.T, s auth.Store, clk func() time.Time) (*auth.Manager, *auth.Principal) {
	t.Helper()
	m, op, err := auth.NewWithOperator(auth.Config{Store: s, Issuer: "storetest", SecretKey: tamperKey,
		BcryptCost: 4, InsecureLowBcryptCostForTests: true, Now: clk, AuditRetention: 24 * time.Hour}, "storetest")
	if err != nil {
		t.Fatalf("auth.NewWithOperator: %v", err)
	}
	return m, op
}

// seedTrail makes a dozen events of several kinds, with details, labels
// and a folded repeat.
func seedTrail(t *testing.T, m *auth.Manager, op *auth.Principal) {
	t.Helper()
	c := ctx(t)
	g, err := m.CreateGroup(c, op, group.Group{Name: "Operators", Permissions: []group.Permission{group.UsersRead}})
	must(t, "CreateGroup", err)
	for i := range 3 {
		_, err := m.CreateUser(c, op, auth.NewUser{Email: fmt.Sprintf("user%d@example.com", i), Name: "User",
			Password: "a long enough password", GroupID: g.ID})
		must(t, "CreateUser", err)
	}
	client := auth.Client{IP: "192.0.2.9", UserAgent: "storetest"}
	for _, pw := range []string{"a long enough password", "wrong password", "wrong password"} {
		if _, err := m.Login(c, "user1@example.com", pw, client); err != nil && !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("Login: %v", err)
		}
	}
	g.Description, g.Permissions = "on call", []group.Permission{group.UsersRead, group.AuditRead}
	_, err = m.UpdateGroup(c, op, *g)
	must(t, "UpdateGroup", err)
}

// chainedEvents is chainEvents for a seeded trail.
func chainedEvents(t *testing.T, s auth.Store) []audit.Chained {
	t.Helper()
	all := chainEvents(t, s)
	if len(all) < 10 {
		t.Fatalf("only %d events seeded", len(all))
	}
	return all
}

func verify(t *testing.T, m *auth.Manager, op *auth.Principal) *auth.AuditCheck {
	t.Helper()
	check, err := m.VerifyAuditLog(ctx(t), op)
	must(t, "VerifyAuditLog", err)
	return check
}

// After pruning by retention the chain checks from its anchor; a forged
// anchor, or the first event kept removed, shows.
func testPrunedChain(t *testing.T, x Tamper) {
	var mu sync.Mutex
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	clk := func() time.Time { mu.Lock(); defer mu.Unlock(); return now }
	m, op := tamperManager(t, x.Store, clk)
	seedTrail(t, m, op)
	old := len(chainedEvents(t, x.Store))
	mu.Lock()
	now = now.Add(48 * time.Hour)
	mu.Unlock()
	_, err := m.CreateGroup(ctx(t), op, group.Group{Name: "Later"})
	must(t, "CreateGroup", err)
	n, err := m.PruneAuditLog(ctx(t))
	must(t, "PruneAuditLog", err)
	if n != int64(old) {
		t.Fatalf("PruneAuditLog = %d, want %d", n, old)
	}
	check := verify(t, m, op)
	if check.Break != nil || check.First != int64(old)+1 || check.Checked != 2 {
		t.Fatalf("after pruning: %+v (break %v); want 2 events from %d", check, check.Break, old+1)
	}
	kept := chainEvents(t, x.Store)
	x.Exec(t, fmt.Sprintf(`DELETE FROM audit_events WHERE id = %d`, kept[0].Row))
	check = verify(t, m, op)
	if b := check.Break; b == nil || b.Kind != auth.BreakRemoved || b.Seq != int64(old)+1 {
		t.Fatalf("first event after the anchor removed: break %+v", b)
	}
	x.Exec(t, fmt.Sprintf(`UPDATE audit_chain SET anchor_seq = %d`, old+1))
	check = verify(t, m, op)
	if b := check.Break; b == nil || b.Kind != auth.BreakMark {
		t.Fatalf("anchor moved: break %+v, want a bad mark", b)
	}
}

// Two instances, each with its own handle on the database, logging in
// and failing at once, make one whole chain.
func testChainTwoInstances(t *testing.T, x Tamper) {
	m0, op0 := tamperManager(t, x.Store, nil)
	m1, _ := tamperManager(t, x.Again(t), nil)
	_, err := m0.CreateUser(ctx(t), op0, auth.NewUser{Email: "racer@example.com", Password: "a long enough password", GroupID: group.UsersID})
	must(t, "CreateUser", err)
	var wg sync.WaitGroup
	for i := range 16 {
		m := [2]*auth.Manager{m0, m1}[i%2]
		pw := "a long enough password"
		if i%8 == 0 {
			pw = "wrong password"
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			client := auth.Client{IP: fmt.Sprintf("192.0.2.%d", i), UserAgent: "storetest"}
			if _, err := m.Login(ctx(t), "racer@example.com", pw, client); err != nil && !errors.Is(err, auth.ErrInvalidCredentials) {
				t.Errorf("Login: %v", err)
			}
		}()
	}
	wg.Wait()
	check := verify(t, m0, op0)
	if check.Break != nil || check.Checked < 17 {
		t.Fatalf("after racing logins: %+v (break %v)", check, check.Break)
	}
}
