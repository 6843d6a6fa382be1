package auth_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// countingSink is an AuditMirror that counts what it is handed.
type countingSink struct {
	mu sync.Mutex
	n  map[audit.Action]int
}

func (s *countingSink) Append(_ context.Context, e *audit.Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.n == nil {
		s.n = map[audit.Action]int{}
	}
	s.n[e.Action]++
	return nil
}

func (s *countingSink) count(a audit.Action) int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n[a]
}

func countEvents(e *env, a audit.Action) (n int, last audit.Event) {
	for _, ev := range e.events() {
		if ev.Action == a {
			if n == 0 {
				last = ev
			}
			n++
		}
	}
	return n, last
}

// Repeated identical denials from one source within a minute are one event
// with a count, in the trail and in the mirror; the first is written as
// always, and the next minute starts a new event.
func TestRepeatedDenialsAreOneEvent(t *testing.T) {
	mirror := &countingSink{}
	e := newEnv(t, func(c *auth.Config) { c.AuditMirror = mirror })
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	for range 50 {
		_, err := e.m.ListUsers(e.ctx, bob, user.Query{})
		wantErr(t, err, auth.ErrForbidden)
	}
	n, ev := countEvents(e, audit.AuthorizationDeny)
	if n != 1 || ev.Details[audit.DetailRepeated] != float64(50) {
		t.Fatalf("%d denial events, the newest with details %v; want 1 counting 50", n, ev.Details)
	}
	if got := mirror.count(audit.AuthorizationDeny); got != 1 {
		t.Fatalf("mirror got %d denials, want 1", got)
	}
	// Another reason (another target) is another event.
	_, err := e.m.GetUser(e.ctx, bob, admin.User().ID)
	wantErr(t, err, auth.ErrForbidden)
	if n, _ := countEvents(e, audit.AuthorizationDeny); n != 2 {
		t.Fatalf("%d denial events after a different denial, want 2", n)
	}
	// A minute on: a new event.
	e.clk.Advance(time.Minute)
	_, err = e.m.ListUsers(e.ctx, bob, user.Query{})
	wantErr(t, err, auth.ErrForbidden)
	n, ev = countEvents(e, audit.AuthorizationDeny)
	if n != 3 || ev.Details[audit.DetailRepeated] != nil {
		t.Fatalf("%d denial events, the newest with details %v; want 3, the newest uncounted", n, ev.Details)
	}
}

// Throttled attempts alike: a loop against a throttled account is one
// login.throttled event with a count, though each refusal names its own
// wait.
func TestRepeatedThrottledAttemptsAreOneEvent(t *testing.T) {
	mirror := &countingSink{}
	e := newEnv(t, func(c *auth.Config) { c.AuditMirror = mirror })
	e.admin()
	for range 5 {
		_, err := e.m.Login(e.ctx, adminEmail, "wrong password", client)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	for range 30 {
		_, err := e.m.Login(e.ctx, adminEmail, "wrong password", client)
		wantErr(t, err, auth.ErrThrottled)
	}
	n, ev := countEvents(e, audit.LoginThrottled)
	if n != 1 || ev.Details[audit.DetailRepeated] != float64(30) {
		t.Fatalf("%d throttled events, the newest with details %v; want 1 counting 30", n, ev.Details)
	}
	if got := mirror.count(audit.LoginThrottled); got != 1 {
		t.Fatalf("mirror got %d throttled events, want 1", got)
	}
}
