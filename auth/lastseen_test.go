package auth_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"log/slog"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// The last use of a session (LastSeenAt) is written behind the request
// (auth/touch.go): these tests hold the request path to reads, the idle
// timeout to its boundary on one instance and across two, and the batch
// to its bounds.

// countingStore counts the writes of last use that reach the store.
type countingStore struct {
	*sqlite.DB
	mu      sync.Mutex
	touches int // Touch calls
	batches [][]auth.SessionTouch
	fail    error // TouchBatch fails with it when set
}

type countingSessions struct {
	auth.SessionStore
	c *countingStore
}

func (c *countingStore) Sessions() auth.SessionStore {
	return countingSessions{c.DB.Sessions(), c}
}

func (c *countingStore) writes() (touches, batches int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.touches, len(c.batches)
}

func (s countingSessions) Touch(ctx context.Context, id string, at, notAfter time.Time) error {
	s.c.mu.Lock()
	s.c.touches++
	s.c.mu.Unlock()
	return s.SessionStore.Touch(ctx, id, at, notAfter)
}

func (s countingSessions) TouchBatch(ctx context.Context, touches []auth.SessionTouch) error {
	s.c.mu.Lock()
	s.c.batches = append(s.c.batches, touches)
	fail := s.c.fail
	s.c.mu.Unlock()
	if fail != nil {
		return fail
	}
	return s.SessionStore.(auth.SessionBatchToucher).TouchBatch(ctx, touches)
}

// stored returns the session's LastSeenAt as the store has it.
func (e *env) lastSeen(id string) time.Time {
	e.t.Helper()
	s, err := e.db.Sessions().Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Sessions().Get: %v", err)
	}
	return s.LastSeenAt
}

// A use once a minute writes nothing on the request: it waits for the
// batch, which writes every waiting session in one call.
func TestAuthenticateWritesNoLastUse(t *testing.T) {
	e := newEnv(t)
	e.admin()
	cs := &countingStore{DB: e.db}
	m := e.manager(cs)
	a, b := e.login(adminEmail, adminPassword), e.login(adminEmail, adminPassword)
	before := e.lastSeen(a.Session().ID)
	e.clk.Advance(5 * time.Minute)
	for _, p := range []*auth.Principal{a, b, a} {
		q, err := m.Authenticate(e.ctx, tokenOf(p))
		if err != nil {
			t.Fatal(err)
		}
		if !q.Session().LastSeenAt.Equal(e.clk.Now()) {
			t.Errorf("Principal's LastSeenAt = %v, want now", q.Session().LastSeenAt)
		}
	}
	if touches, batches := cs.writes(); touches+batches != 0 {
		t.Fatalf("Authenticate wrote the last use on the request: %d touches, %d batches", touches, batches)
	}
	if got := e.lastSeen(a.Session().ID); !got.Equal(before) {
		t.Fatalf("stored LastSeenAt moved before the batch: %v", got)
	}
	if err := auth.FlushTouches(m); err != nil {
		t.Fatal(err)
	}
	if touches, batches := cs.writes(); touches != 0 || batches != 1 || len(cs.batches[0]) != 2 {
		t.Fatalf("after the batch: %d touches, %d batches (%v), want one batch of 2", touches, batches, cs.batches)
	}
	for _, p := range []*auth.Principal{a, b} {
		if got := e.lastSeen(p.Session().ID); !got.Equal(e.clk.Now()) {
			t.Errorf("stored LastSeenAt = %v, want %v", got, e.clk.Now())
		}
	}
}

// The request path does not wait for SQLite's writer: with the write lock
// held by another connection, Authenticate still answers.
func TestAuthenticateWithWriterLocked(t *testing.T) {
	e := newEnv(t)
	p := e.admin()
	e.clk.Advance(5 * time.Minute)
	raw, err := sql.Open("sqlite", e.path)
	if err != nil {
		t.Fatal(err)
	}
	defer raw.Close()
	conn, err := raw.Conn(e.ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	if _, err := conn.ExecContext(e.ctx, `BEGIN IMMEDIATE`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(e.ctx, 3*time.Second)
	defer cancel()
	_, err = e.m.Authenticate(ctx, tokenOf(p))
	if _, rerr := conn.ExecContext(e.ctx, `ROLLBACK`); rerr != nil {
		t.Fatal(rerr)
	}
	if err != nil {
		t.Fatalf("Authenticate with the writer locked: %v", err)
	}
}

// The idle timeout holds to its boundary: a session last used at L is
// accepted at L + idle - 1µs and refused at L + idle, whether its use was
// written on the request (near the deadline), waits for its batch, or
// was written by it.
func TestIdleTimeoutBoundary(t *testing.T) {
	const idle = time.Hour
	for _, c := range []struct {
		name  string
		after time.Duration // since the last stored use, when used again
		flush bool
	}{
		{"written on the request", idle - auth.TouchHeadroom + time.Second, false},
		{"waiting for its batch", idle - auth.TouchHeadroom - time.Second, false},
		{"written by its batch", 10 * time.Minute, true},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.admin()
			a, b := e.login(adminEmail, adminPassword), e.login(adminEmail, adminPassword)
			e.clk.Advance(c.after)
			last := e.clk.Now()
			e.auth(tokenOf(a))
			e.auth(tokenOf(b))
			if c.flush {
				if err := auth.FlushTouches(e.m); err != nil {
					t.Fatal(err)
				}
			}
			e.clk.Advance(idle - time.Microsecond)
			if _, err := e.m.Authenticate(e.ctx, tokenOf(a)); err != nil {
				t.Fatalf("used %v ago, within its idle timeout: %v", e.clk.Now().Sub(last), err)
			}
			e.clk.Advance(time.Microsecond)
			_, err := e.m.Authenticate(e.ctx, tokenOf(b))
			wantErr(t, err, auth.ErrUnauthenticated)
		})
	}
}

// Two Managers on one SQLite file, each with its own pool: a session used
// on one within its idle timeout is neither refused by the other nor
// pruned. A use with more than the headroom left waits for its batch,
// written within its bound (here: at once); a use nearer its deadline,
// which a late batch could land after, is written on the request.
func TestIdleTimeoutAcrossInstances(t *testing.T) {
	e := newEnv(t)
	e.admin()
	db2, err := sqlite.Open(e.ctx, e.path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db2.Close() })
	other := e.manager(db2)
	far, near := e.login(adminEmail, adminPassword), e.login(adminEmail, adminPassword)
	login := e.clk.Now()

	e.clk.Advance(time.Hour - 2*auth.TouchHeadroom)
	e.auth(tokenOf(far))
	if got := e.lastSeen(far.Session().ID); !got.Equal(login) {
		t.Fatalf("a use with %v left was written on the request", 2*auth.TouchHeadroom)
	}
	if err := auth.FlushTouches(e.m); err != nil {
		t.Fatal(err)
	}

	e.clk.Advance(2*auth.TouchHeadroom - 30*time.Second)
	e.auth(tokenOf(near))

	e.clk.Advance(31 * time.Second) // an hour and a second after login
	for _, p := range []*auth.Principal{far, near} {
		if _, err := other.Authenticate(e.ctx, tokenOf(p)); err != nil {
			t.Fatalf("the other instance refused a session last used %v ago: %v",
				e.clk.Now().Sub(p.Session().LastSeenAt), err)
		}
	}
	if _, err := other.PruneSessions(e.ctx); err != nil { // the sign-up's session goes
		t.Fatal(err)
	}
	for _, p := range []*auth.Principal{far, near} {
		if _, err := e.db.Sessions().Get(e.ctx, p.Session().ID); err != nil {
			t.Fatalf("a session used within its idle timeout was pruned: %v", err)
		}
	}
}

// A batch that cannot be written is logged, and its uses stop counting:
// the sessions keep what the store has, so they may end early, never late.
func TestLastUseFailureLoggedNotExtending(t *testing.T) {
	var logs bytes.Buffer
	e := newEnv(t)
	e.admin()
	cs := &countingStore{DB: e.db, fail: errors.New("disk full")}
	m := e.manager(cs, func(c *auth.Config) { c.Logger = slog.New(slog.NewTextHandler(&logs, nil)) })
	p := e.login(adminEmail, adminPassword)
	e.clk.Advance(30 * time.Minute)
	if _, err := m.Authenticate(e.ctx, tokenOf(p)); err != nil {
		t.Fatal(err)
	}
	if err := auth.FlushTouches(m); err == nil || !strings.Contains(err.Error(), "disk full") {
		t.Fatalf("FlushTouches: %v, want the store's error", err)
	}
	if !strings.Contains(logs.String(), "disk full") || !strings.Contains(logs.String(), "level=ERROR") {
		t.Fatalf("failure not logged as an error: %q", logs.String())
	}
	if n := auth.PendingTouches(m); n != 0 {
		t.Fatalf("%d uses kept after a failed batch", n)
	}
	e.clk.Advance(30 * time.Minute) // an hour after the stored last use
	_, err := m.Authenticate(e.ctx, tokenOf(p))
	wantErr(t, err, auth.ErrUnauthenticated)
}

// A session revoked while its use waits stays revoked after the batch.
func TestLastUseDoesNotResurrect(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	p := e.login(adminEmail, adminPassword)
	e.clk.Advance(5 * time.Minute)
	e.auth(tokenOf(p))
	if err := e.m.RevokeSession(e.ctx, e.auth(tokenOf(admin)), p.Session().ID); err != nil {
		t.Fatal(err)
	}
	if err := auth.FlushTouches(e.m); err != nil {
		t.Fatal(err)
	}
	_, err := e.db.Sessions().Get(e.ctx, p.Session().ID)
	wantErr(t, err, auth.ErrSessionNotFound)
	_, err = e.m.Authenticate(e.ctx, tokenOf(p))
	wantErr(t, err, auth.ErrUnauthenticated)
}

// Close writes what waits and ends the flusher; afterwards a use is
// written on the request.
func TestCloseWritesLastUse(t *testing.T) {
	e := newEnv(t)
	p := e.admin()
	m := e.manager(e.db)
	auth.SetTouchFlush(m, time.Hour, 0, nil) // only Close writes
	e.clk.Advance(5 * time.Minute)
	if _, err := m.Authenticate(e.ctx, tokenOf(p)); err != nil {
		t.Fatal(err)
	}
	if !auth.TouchFlusherRunning(m) {
		t.Fatal("no flusher for a waiting use")
	}
	if err := m.Close(); err != nil {
		t.Fatal(err)
	}
	if got := e.lastSeen(p.Session().ID); !got.Equal(e.clk.Now()) {
		t.Fatalf("after Close, stored LastSeenAt = %v, want %v", got, e.clk.Now())
	}
	if auth.TouchFlusherRunning(m) || auth.PendingTouches(m) != 0 {
		t.Fatal("flusher or uses left after Close")
	}
	e.clk.Advance(5 * time.Minute)
	if _, err := m.Authenticate(e.ctx, tokenOf(p)); err != nil {
		t.Fatal(err)
	}
	if got := e.lastSeen(p.Session().ID); !got.Equal(e.clk.Now()) {
		t.Fatalf("a use after Close: stored LastSeenAt = %v, want %v", got, e.clk.Now())
	}
	if err := m.Close(); err != nil {
		t.Fatalf("second Close: %v", err)
	}
}

// The flusher writes a batch after its delay, or sooner once the batch is
// full, and ends when nothing waits.
func TestLastUseFlushTriggers(t *testing.T) {
	for _, c := range []struct {
		name  string
		delay time.Duration
		batch int
	}{
		{"after the delay", time.Millisecond, 0},
		{"when the batch is full", time.Hour, 2},
	} {
		t.Run(c.name, func(t *testing.T) {
			e := newEnv(t)
			e.admin()
			m := e.manager(e.db)
			flushed := make(chan int, 10)
			auth.SetTouchFlush(m, c.delay, c.batch, func(n int, err error) {
				if err != nil {
					t.Error(err)
				}
				flushed <- n
			})
			a, b := e.login(adminEmail, adminPassword), e.login(adminEmail, adminPassword)
			e.clk.Advance(5 * time.Minute)
			for _, p := range []*auth.Principal{a, b} {
				if _, err := m.Authenticate(e.ctx, tokenOf(p)); err != nil {
					t.Fatal(err)
				}
			}
			got := 0
			for got < 2 {
				select {
				case n := <-flushed:
					got += n
				case <-time.After(10 * time.Second):
					t.Fatalf("no batch written within 10 s (%d of 2 uses)", got)
				}
			}
			for _, p := range []*auth.Principal{a, b} {
				if s := e.lastSeen(p.Session().ID); !s.Equal(e.clk.Now()) {
					t.Errorf("stored LastSeenAt = %v, want %v", s, e.clk.Now())
				}
			}
		})
	}
}
