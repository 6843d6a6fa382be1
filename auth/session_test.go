package auth_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

func TestSessionTimeouts(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) {
		c.IdleTimeout = time.Hour
		c.AbsoluteTimeout = 3 * time.Hour
	})
	e.admin()
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	tok := r.Session.Token
	// Used every 50 minutes, the session lives until its absolute timeout.
	for range 3 {
		e.clk.Advance(50 * time.Minute)
		if _, err := e.m.Authenticate(e.ctx, tok); err != nil {
			t.Fatalf("after %v: %v", e.clk.Now().Sub(r.Session.CreatedAt), err)
		}
	}
	e.clk.Advance(30 * time.Minute) // 3h10m after login
	_, err = e.m.Authenticate(e.ctx, tok)
	wantErr(t, err, auth.ErrUnauthenticated)

	// Idle: unused for an hour, it is gone.
	r, _ = e.m.Login(e.ctx, adminEmail, adminPassword, client)
	e.clk.Advance(59 * time.Minute)
	e.auth(r.Session.Token)
	e.clk.Advance(59 * time.Minute)
	e.auth(r.Session.Token)
	e.clk.Advance(61 * time.Minute)
	_, err = e.m.Authenticate(e.ctx, r.Session.Token)
	wantErr(t, err, auth.ErrUnauthenticated)
}

// LastSeenAt is written at most once a minute.
func TestTouchAtMostOncePerMinute(t *testing.T) {
	e := newEnv(t)
	e.admin()
	r, _ := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	created := r.Session.LastSeenAt
	e.clk.Advance(30 * time.Second)
	if p := e.auth(r.Session.Token); !p.Session().LastSeenAt.Equal(created) {
		t.Fatal("LastSeenAt written within the minute")
	}
	e.clk.Advance(31 * time.Second)
	p := e.auth(r.Session.Token)
	if !p.Session().LastSeenAt.Equal(e.clk.Now()) {
		t.Fatalf("LastSeenAt %v, want %v", p.Session().LastSeenAt, e.clk.Now())
	}
	// Written behind the request: stored once the batch is.
	if err := auth.FlushTouches(e.m); err != nil {
		t.Fatal(err)
	}
	s, _ := e.db.Sessions().Get(e.ctx, r.Session.ID)
	if !s.LastSeenAt.Equal(e.clk.Now()) {
		t.Fatal("LastSeenAt not stored")
	}
}

func TestGarbageTokens(t *testing.T) {
	e := newEnv(t)
	p := e.admin()
	valid := p.Session().ID // an ID is not a token
	raw := make([]byte, 32)
	for _, tok := range []string{"", "x", valid, strings.Repeat("A", 43), strings.Repeat("A", 44),
		strings.Repeat("\x00", 43), strings.Repeat("é", 22), base64.RawURLEncoding.EncodeToString(raw),
		strings.Repeat("a", 1<<20), "Bearer abc", "../../etc/passwd"} {
		got, err := e.m.Authenticate(e.ctx, tok)
		if got != nil {
			t.Fatalf("%q authenticated", tok[:min(len(tok), 10)])
		}
		wantErr(t, err, auth.ErrUnauthenticated)
		if err := e.m.Logout(e.ctx, tok); err != nil {
			t.Fatalf("Logout(garbage): %v", err)
		}
	}
}

// A malformed token is turned away before anything is allocated or
// hashed (invariant 9): a client sending garbage makes no garbage.
func TestMalformedTokenAllocatesNothing(t *testing.T) {
	e := newEnv(t)
	for _, tok := range []string{"", "x", strings.Repeat("A", 42), strings.Repeat("A", 44),
		strings.Repeat("*", 43), strings.Repeat("A", 42) + "B", strings.Repeat("a", 1<<10)} {
		var err error
		allocs := testing.AllocsPerRun(20, func() { _, err = e.m.Authenticate(e.ctx, tok) })
		wantErr(t, err, auth.ErrUnauthenticated)
		if allocs != 0 {
			t.Errorf("Authenticate(%.10q…) allocated %v times", tok, allocs)
		}
		allocs = testing.AllocsPerRun(20, func() { err = e.m.Logout(e.ctx, tok) })
		if err != nil || allocs != 0 {
			t.Errorf("Logout(%.10q…): %v, %v allocations", tok, err, allocs)
		}
	}
}

func TestLogout(t *testing.T) {
	e := newEnv(t)
	p := e.admin()
	r, _ := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err := e.m.Logout(e.ctx, r.Session.Token); err != nil {
		t.Fatal(err)
	}
	_, err := e.m.Authenticate(e.ctx, r.Session.Token)
	wantErr(t, err, auth.ErrUnauthenticated)
	e.auth(tokenOf(p)) // the other session lives
	if err := e.m.Logout(e.ctx, r.Session.Token); err != nil {
		t.Fatal("second logout:", err)
	}
}

func TestSessionsListAndRevoke(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	bob2 := e.login("bob@example.com", passwordOf("bob@example.com"))
	list, err := e.m.Sessions(e.ctx, bob)
	if err != nil || len(list) != 2 {
		t.Fatalf("Sessions: %d, %v", len(list), err)
	}
	for _, s := range list {
		if s.Token != "" {
			t.Fatal("listed session carries a token")
		}
		if s.IP != client.IP || s.UserAgent != client.UserAgent {
			t.Fatalf("session %+v lacks client", s)
		}
	}
	// Bob cannot revoke the admin's session.
	wantErr(t, e.m.RevokeSession(e.ctx, bob, admin.Session().ID), auth.ErrForbidden)
	e.auth(tokenOf(admin))
	// Bob revokes his own other session.
	if err := e.m.RevokeSession(e.ctx, bob, bob2.Session().ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Authenticate(e.ctx, tokenOf(bob2))
	wantErr(t, err, auth.ErrUnauthenticated)
	// The admin (sessions:revoke via *) revokes Bob's.
	if err := e.m.RevokeSession(e.ctx, admin, bob.Session().ID); err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Authenticate(e.ctx, tokenOf(bob))
	wantErr(t, err, auth.ErrUnauthenticated)
	wantErr(t, e.m.RevokeSession(e.ctx, admin, "no-such-session"), auth.ErrSessionNotFound)

	// RevokeOtherSessions keeps the current one.
	a2 := e.login(adminEmail, adminPassword)
	n, err := e.m.RevokeOtherSessions(e.ctx, a2)
	if err != nil || n != 1 {
		t.Fatalf("RevokeOtherSessions = %d, %v", n, err)
	}
	e.auth(tokenOf(a2))
	_, err = e.m.Authenticate(e.ctx, tokenOf(admin))
	wantErr(t, err, auth.ErrUnauthenticated)
}

// Invariant 4: the database holds only SHA-256 of tokens, never a token.
func TestRawTokensAbsentFromDatabase(t *testing.T) {
	e := newEnv(t)
	var tokens []string
	p := e.admin()
	tokens = append(tokens, tokenOf(p))
	for range 5 {
		r, _ := e.m.Login(e.ctx, adminEmail, adminPassword, client)
		tokens = append(tokens, r.Session.Token)
	}
	e.db.Close() // flush the WAL into the main file
	var blob []byte
	files, _ := filepath.Glob(e.path + "*")
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		blob = append(blob, b...)
	}
	foundHash := false
	for _, tok := range tokens {
		raw, _ := base64.RawURLEncoding.DecodeString(tok)
		sum := sha256.Sum256(raw)
		if bytes.Contains(blob, []byte(tok)) || bytes.Contains(blob, raw) || bytes.Contains(blob, sum[:]) {
			t.Fatal("a raw session token, or its unkeyed SHA-256, is in the database file")
		}
		foundHash = foundHash || bytes.Contains(blob, auth.TokenHash(e.m, tok))
	}
	if !foundHash {
		t.Fatal("control failed: no token hash found in the file, so the scan proves nothing")
	}
	if bytes.Contains(blob, []byte(adminPassword)) {
		t.Fatal("the password is in the database file")
	}
}

// sessions:revoke alone does not list the sessions of someone holding more.
func TestUserSessionsSkipsMayManage(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	h := e.group(admin, "Helpdesk", group.SessionsRevoke)
	_, help := e.user(admin, "help@example.com", h.ID)
	wantErr(t, e.m.RevokeSession(e.ctx, help, admin.Session().ID), auth.ErrForbidden)
	if list, err := e.m.UserSessions(e.ctx, help, admin.User().ID); err == nil {
		t.Errorf("helpdesk read %d admin sessions (IP %q)", len(list), list[0].IP)
	}
}

// Invariant 3, the check Authenticate makes itself: SetDisabled revokes the
// user's sessions, but a session that outlives the disable (a write made
// straight to the database, a store that revoked nothing, a restore from a
// backup) must still be refused, on the very next request.
func TestAuthenticateRefusesDisabledUser(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	runners := e.group(admin, "runners", "backups:run", group.ProfileUpdateName)
	u, _ := e.user(admin, "dora@example.com", runners.ID)
	r, err := e.m.Login(e.ctx, "dora@example.com", passwordOf("dora@example.com"), client)
	if err != nil {
		t.Fatal(err)
	}
	token := r.Session.Token
	stale := e.auth(token) // read while enabled, used after the disable
	if !stale.Can("backups:run") {
		t.Fatal("control: the enabled user cannot run backups")
	}
	rename := func(name string) error {
		_, _, err := e.m.UpdateProfile(e.ctx, stale, auth.ProfileUpdate{Name: &name})
		return err
	}
	if err := rename("Dora"); err != nil {
		t.Fatalf("control: the enabled user cannot rename itself: %v", err)
	}

	setDisabledInStore(t, e, u.ID, true)
	if _, err := e.db.Sessions().Get(e.ctx, r.Session.ID); err != nil {
		t.Fatalf("the session should outlive a disable made in the store: %v", err)
	}

	p, err := e.m.Authenticate(e.ctx, token)
	wantErr(t, err, auth.ErrUnauthenticated)
	if p != nil {
		t.Fatal("Authenticate returned a principal for a disabled user")
	}
	if p.Can("backups:run") || p.Can(group.ProfileUpdateName) {
		t.Fatal("the refused principal can act")
	}
	// A principal read before the disable, writing through the Manager,
	// is refused too: the write reads the user again.
	wantErr(t, rename("Dora D."), auth.ErrForbidden)
	// So is what needs no permission at all: ending one's own sessions.
	_, err = e.m.RevokeOtherSessions(e.ctx, stale)
	wantErr(t, err, auth.ErrForbidden)

	// Re-enabled the same way, the untouched session works again: the check
	// is made per request, not once at login.
	setDisabledInStore(t, e, u.ID, false)
	if p := e.auth(token); !p.Can("backups:run") {
		t.Fatal("re-enabled user cannot run backups")
	}
}

// setDisabledInStore flips Disabled in the store, bypassing
// Manager.SetDisabled and the session revocation it does.
func setDisabledInStore(t *testing.T, e *env, id user.ID, disabled bool) {
	t.Helper()
	u, err := e.db.Users().Get(e.ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	u.Disabled = disabled
	if err := e.db.Users().Update(e.ctx, u); err != nil {
		t.Fatal(err)
	}
}

// Invariant 4: someone who can write the database but lacks the secret key
// stores a session under the SHA-256 of a token of their choosing (what
// usher stored before session hashes were keyed). It must not authenticate.
func TestSessionWrittenWithoutKeyRefused(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	raw := bytes.Repeat([]byte{7}, 32)
	token := base64.RawURLEncoding.EncodeToString(raw)
	sum := sha256.Sum256(raw)
	now := e.clk.Now()
	s := &auth.Session{ID: "forged", UserID: admin.User().ID, CreatedAt: now, LastSeenAt: now, ExpiresAt: now.Add(time.Hour)}
	if err := e.db.Sessions().Create(e.ctx, s, sum[:]); err != nil {
		t.Fatal(err)
	}
	_, err := e.m.Authenticate(e.ctx, token)
	wantErr(t, err, auth.ErrUnauthenticated)
}

// A session issued before a key rotation still authenticates while the old
// key is among PreviousSecretKeys, and no longer once it is dropped.
func TestSessionAcrossKeyRotation(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	token := tokenOf(admin)
	newKey := []byte("a rotated secret key, 32 bytes!!")
	rotated := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, [][]byte{testKey} })
	if _, err := rotated.Authenticate(e.ctx, token); err != nil {
		t.Fatalf("a session from before the rotation: %v", err)
	}
	s, err := rotated.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	dropped := e.manager(e.db, func(c *auth.Config) { c.SecretKey = newKey })
	_, err = dropped.Authenticate(e.ctx, token)
	wantErr(t, err, auth.ErrUnauthenticated)
	if _, err := dropped.Authenticate(e.ctx, s.Session.Token); err != nil {
		t.Fatalf("a session made under the new key: %v", err)
	}
}

// PruneSessions also removes the passkey ceremonies that expired before
// now, and only those.
func TestPruneSessionsRemovesExpiredCeremonies(t *testing.T) {
	e := newEnv(t)
	now := e.clk.Now()
	mk := func(id string, expires time.Time) []byte {
		hash := sha256.Sum256([]byte(id))
		c := &passkey.Ceremony{ID: id, Kind: passkey.KindLogin, Data: []byte("{}"),
			CreatedAt: expires.Add(-passkey.CeremonyTimeout), ExpiresAt: expires}
		if err := e.db.Ceremonies().Create(e.ctx, c, hash[:]); err != nil {
			t.Fatal(err)
		}
		return hash[:]
	}
	expired, atNow, live := mk("expired", now.Add(-time.Second)), mk("at-now", now), mk("live", now.Add(time.Minute))
	if _, err := e.m.PruneSessions(e.ctx); err != nil {
		t.Fatal(err)
	}
	_, err := e.db.Ceremonies().Take(e.ctx, expired)
	wantErr(t, err, passkey.ErrCeremonyNotFound)
	for _, h := range [][]byte{atNow, live} {
		if _, err := e.db.Ceremonies().Take(e.ctx, h); err != nil {
			t.Errorf("a ceremony not expired before now was pruned: %v", err)
		}
	}
}

// PruneSessions also removes the SSO flows that expired before now, and
// only those.
func TestPruneSessionsRemovesExpiredFlows(t *testing.T) {
	e := newEnv(t)
	now := e.clk.Now()
	mk := func(id string, expires time.Time) []byte {
		hash := sha256.Sum256([]byte(id))
		f := &oidc.Flow{ID: id, ProviderID: "idp", State: "s-" + id, Nonce: "n-" + id, Verifier: "v-" + id,
			CreatedAt: expires.Add(-oidc.FlowTimeout), ExpiresAt: expires}
		if err := e.db.Flows().Create(e.ctx, f, hash[:]); err != nil {
			t.Fatal(err)
		}
		return hash[:]
	}
	expired, atNow, live := mk("expired", now.Add(-time.Second)), mk("at-now", now), mk("live", now.Add(time.Minute))
	if _, err := e.m.PruneSessions(e.ctx); err != nil {
		t.Fatal(err)
	}
	_, err := e.db.Flows().Take(e.ctx, expired)
	wantErr(t, err, oidc.ErrFlowNotFound)
	for _, h := range [][]byte{atNow, live} {
		if _, err := e.db.Flows().Take(e.ctx, h); err != nil {
			t.Errorf("a flow not expired before now was pruned: %v", err)
		}
	}
}
