package postgres

import (
	"context"
	"crypto/sha256"
	"errors"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

var t0 = time.Date(2025, 1, 2, 3, 4, 5, 123456000, time.UTC)

func testUser(email string, g group.ID) *user.User {
	return &user.User{
		ID: user.ID("u-" + email), Email: email, Name: "Test", GroupID: string(g),
		CreatedAt: t0, UpdatedAt: t0,
	}
}

func testSession(id string, u user.ID) (*auth.Session, []byte) {
	h := sha256.Sum256([]byte("token " + id))
	return &auth.Session{
		ID: id, UserID: u, CreatedAt: t0, LastSeenAt: t0.Add(time.Minute), ExpiresAt: t0.Add(time.Hour),
		IP: "198.51.100.1", UserAgent: "test",
	}, h[:]
}

func must(t *testing.T, what string, err error) {
	t.Helper()
	if err != nil {
		t.Fatalf("%s: %v", what, err)
	}
}

// The packed lookup returns exactly what the plain one does, for strings
// that could confuse the packing: separators, digits, empty values,
// multi-byte runes, no permissions.
func TestLookupPackedMatchesPlain(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	groups := []*group.Group{
		{ID: "g:1", Name: "12:34", Description: "", Permissions: nil},
		{ID: "g2", Name: "Équipe ünïcødé 🚀", Description: "3:abc:", Permissions: []group.Permission{"a:b", "c:*", "*"}},
	}
	for _, g := range groups {
		g.CreatedAt, g.UpdatedAt = t0, t0.Add(time.Second)
		must(t, "create group", db.Groups().Create(ctx, g))
	}
	cases := []struct {
		u        *user.User
		ip, ua   string
		lastSeen time.Time
	}{
		{&user.User{ID: "1:1", Email: "a@x.org", Name: "", GroupID: "g:1"}, "", "", t0},
		{&user.User{ID: "u2", Email: "9:9@x.org", Name: "Zoë 10:", GroupID: "g2", Disabled: true,
			LastLoginAt: t0.Add(time.Hour)}, "2001:db8::1", strings.Repeat("Mozilla/5.0 :", 40), t0.Add(time.Minute)},
		{&user.User{ID: "u3", Email: "b@x.org", Name: "B", GroupID: string(group.AdminID)}, "::1", "ua", t0},
	}
	for i, c := range cases {
		c.u.CreatedAt, c.u.UpdatedAt = t0, t0.Add(time.Duration(i)*time.Second)
		must(t, "create user", db.Users().Create(ctx, c.u, ""))
		s, hash := testSession("s:"+string(c.u.ID), c.u.ID)
		s.IP, s.UserAgent, s.LastSeenAt = c.ip, c.ua, c.lastSeen
		must(t, "create session", db.Sessions().Create(ctx, s, hash))

		ss := sessionStore{db.root}
		ps, pu, pg, err := ss.Lookup(ctx, hash)
		must(t, "Lookup", err)
		ls, lu, lg, err := ss.lookupPlain(ctx, hash)
		must(t, "lookupPlain", err)
		if !reflect.DeepEqual(ps, ls) || !reflect.DeepEqual(pu, lu) || !reflect.DeepEqual(pg, lg) {
			t.Errorf("case %d: packed and plain lookups differ:\n packed %+v\n        %+v\n        %+v\n plain  %+v\n        %+v\n        %+v",
				i, ps, pu, pg, ls, lu, lg)
		}
		want := *c.u
		want.Version = 0 // a session lookup need not read it (user.User.Version)
		if !reflect.DeepEqual(*pu, want) {
			t.Errorf("case %d: user %+v, want %+v", i, *pu, want)
		}
	}
}

func TestUnpackLookupMalformed(t *testing.T) {
	t.Parallel()
	ok := strings.Repeat("1:a", 10)
	if !unpackLookup(ok, new(lookupResult)) {
		t.Fatalf("unpackLookup(%q) = false, want true", ok)
	}
	for _, p := range []string{"", "1:a", ok + "x", "x:a" + ok[3:], "-1:" + ok, "99:" + ok[2:], strings.Repeat("1:a", 9) + "2:a"} {
		if unpackLookup(p, new(lookupResult)) {
			t.Errorf("unpackLookup(%q) = true, want false", p)
		}
	}
}

// A store call that fails on a constraint inside Atomic leaves the
// transaction usable, as it does in SQLite: fn may handle the error and
// carry on, and what it did before and after commits.
func TestAtomicFailedStatementKeepsTransaction(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	staff := &group.Group{ID: "staff", Name: "Staff", CreatedAt: t0, UpdatedAt: t0}
	must(t, "create group", db.Groups().Create(ctx, staff))
	member := testUser("member@example.com", "staff")
	must(t, "create user", db.Users().Create(ctx, member, ""))

	first, dup, last := testUser("a@example.com", group.UsersID), testUser("a@example.com", group.UsersID), testUser("c@example.com", group.UsersID)
	dup.ID = "u-dup"
	err := db.Atomic(ctx, func(tx auth.Store) error {
		must(t, "create first user", tx.Users().Create(ctx, first, ""))
		steps := []struct {
			name string
			err  error
			want error
		}{
			{"duplicate email", tx.Users().Create(ctx, dup, ""), user.ErrEmailTaken},
			{"unknown group", tx.Users().Create(ctx, testUser("x@example.com", "nope"), ""), group.ErrNotFound},
			{"taken group name", tx.Groups().Create(ctx, &group.Group{ID: "g2", Name: "STAFF", CreatedAt: t0, UpdatedAt: t0}), group.ErrNameTaken},
			{"group in use", tx.Groups().Delete(ctx, "staff"), group.ErrInUse},
			{"session of unknown user", func() error {
				s, h := testSession("s1", "nobody")
				return tx.Sessions().Create(ctx, s, h)
			}(), user.ErrNotFound},
			{"avatar of unknown user", tx.Users().SetAvatar(ctx, "nobody", []byte("GIF89a"), "image/gif"), user.ErrNotFound},
			{"TOTP of unknown user", tx.TOTP().Put(ctx, &totp.Credential{UserID: "nobody", KeyID: "k",
				Sealed: []byte{1}, CreatedAt: t0}), user.ErrNotFound},
			{"recovery codes of unknown user", tx.TOTP().SetRecoveryCodes(ctx, "nobody", "k",
				[]byte{1}, [][]byte{{2}, {3}}), user.ErrNotFound},
		}
		for _, s := range steps {
			if !errors.Is(s.err, s.want) {
				t.Errorf("%s inside Atomic: %v, want %v", s.name, s.err, s.want)
			}
		}
		return tx.Users().Create(ctx, last, "")
	})
	must(t, "Atomic", err)
	for _, u := range []*user.User{first, last, member} {
		if _, err := db.Users().Get(ctx, u.ID); err != nil {
			t.Errorf("user %s after commit: %v", u.Email, err)
		}
	}
	if _, err := db.Users().Get(ctx, dup.ID); !errors.Is(err, user.ErrNotFound) {
		t.Errorf("refused user after commit: %v, want not found", err)
	}
	if _, err := db.Groups().Get(ctx, "staff"); err != nil {
		t.Errorf("group whose delete was refused: %v", err)
	}
}

func TestAtomicPanicRollsBack(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	// More rounds than the pool has connections: each must come back
	// without an open transaction.
	for i := range int(db.pool.Config().MaxConns) + 2 {
		u := testUser("panic@example.com", group.UsersID)
		err := db.Atomic(ctx, func(tx auth.Store) error {
			must(t, "create user", tx.Users().Create(ctx, u, ""))
			panic(errors.New("boom"))
		})
		var pe *auth.PanicError
		if !errors.As(err, &pe) || pe.Error() != "auth: panic in Atomic: boom" || len(pe.Stack) == 0 {
			t.Fatalf("round %d: Atomic with a panicking fn returned %v, want a *PanicError", i, err)
		}
		if _, err := db.Users().Get(ctx, u.ID); !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("round %d: user created before the panic: %v, want rolled back", i, err)
		}
	}
	conns := db.pool.AcquireAllIdle(ctx)
	for _, c := range conns {
		if st := c.Conn().PgConn().TxStatus(); st != 'I' {
			t.Errorf("pooled connection in transaction status %q after the panics, want 'I' (idle)", st)
		}
		c.Release()
	}
	if len(conns) == 0 {
		t.Error("no idle connection in the pool after the panics")
	}
}

// Atomic calls on two pools over one schema run one after the other: the
// second waits for the first's lock and then sees its commit.
func TestAtomicSerializesAcrossPools(t *testing.T) {
	t.Parallel()
	schema := newSchemaName()
	dropSchemaAtCleanup(t, schema)
	db1, db2 := openSchema(t, schema), openSchema(t, schema)
	ctx := t.Context()

	holding, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	releaseFirst := func() { once.Do(func() { close(release) }) }
	// Should the test stop early, the first transaction must still end,
	// or closing its pool would wait for it forever.
	t.Cleanup(releaseFirst)
	done1 := make(chan error, 1)
	go func() {
		done1 <- db1.Atomic(ctx, func(tx auth.Store) error {
			if err := tx.Users().Create(ctx, testUser("first@example.com", group.AdminID), ""); err != nil {
				return err
			}
			close(holding)
			<-release
			return nil
		})
	}()
	<-holding
	counted := make(chan int, 1)
	done2 := make(chan error, 1)
	go func() {
		done2 <- db2.Atomic(ctx, func(tx auth.Store) error {
			n, err := tx.Users().Count(ctx)
			counted <- n
			return err
		})
	}()
	// Wait until db2's transaction is queued on the lock.
	deadline := time.Now().Add(10 * time.Second)
	for {
		var waiting int
		must(t, "pg_locks", db1.pool.QueryRow(ctx, `SELECT count(*) FROM pg_locks
			WHERE locktype = 'advisory' AND classid = $1::oid AND objid = $2::oid AND NOT granted`,
			uint32(lockClassAtomic), uint32(lockKey(schema))).Scan(&waiting))
		if waiting > 0 {
			break
		}
		select {
		case n := <-counted:
			t.Fatalf("second Atomic ran while the first held the lock (it counted %d users)", n)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("second Atomic never waited for the lock")
		}
		time.Sleep(5 * time.Millisecond) // polling, not timing: the check is the lock state
	}
	releaseFirst()
	must(t, "first Atomic", <-done1)
	must(t, "second Atomic", <-done2)
	if n := <-counted; n != 1 {
		t.Errorf("second Atomic counted %d users, want 1: it must see the first's commit", n)
	}
}

func TestRetryable(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	_, err := db.pool.Exec(t.Context(), `DO $$ BEGIN RAISE EXCEPTION 'x' USING ERRCODE = '40P01'; END $$`)
	if !retryable(wrap("op", err)) {
		t.Errorf("retryable(%v) = false, want true for a deadlock", err)
	}
	_, err = db.pool.Exec(t.Context(), `SELECT 1/0`)
	if retryable(err) || retryable(errors.New("x")) || retryable(nil) {
		t.Error("retryable is true for a division by zero, a plain error or nil")
	}
}

// A key PostgreSQL cannot store (invalid UTF-8, NUL) matches nothing: the
// store answers as SQLite would, without an error that would also abort
// an enclosing transaction. Throttle keys are bytes and take anything.
func TestUnstorableKeys(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := t.Context()
	u := testUser("real@example.com", group.UsersID)
	must(t, "create user", db.Users().Create(ctx, u, ""))

	for _, bad := range []string{"\xff\xfe", "a\x00b"} {
		err := db.Atomic(ctx, func(tx auth.Store) error {
			us, gs, ss := tx.Users(), tx.Groups(), tx.Sessions()
			_, err := us.Get(ctx, user.ID(bad))
			check(t, "Users().Get", err, user.ErrNotFound)
			_, err = us.GetByEmail(ctx, bad)
			check(t, "Users().GetByEmail", err, user.ErrNotFound)
			check(t, "Users().Delete", us.Delete(ctx, user.ID(bad)), user.ErrNotFound)
			_, err = us.PasswordHash(ctx, user.ID(bad))
			check(t, "Users().PasswordHash", err, user.ErrNotFound)
			_, _, err = us.Avatar(ctx, user.ID(bad))
			check(t, "Users().Avatar", err, user.ErrNotFound)
			check(t, "Users().SetAvatar", us.SetAvatar(ctx, user.ID(bad), nil, ""), user.ErrNotFound)
			bu := testUser("bad@example.com", group.ID(bad))
			check(t, "Users().Create in a bad group", us.Create(ctx, bu, ""), group.ErrNotFound)
			if n, err := us.CountInGroup(ctx, bad, false); n != 0 || err != nil {
				t.Errorf("CountInGroup(bad) = %d, %v", n, err)
			}
			_, err = gs.Get(ctx, group.ID(bad))
			check(t, "Groups().Get", err, group.ErrNotFound)
			check(t, "Groups().Delete", gs.Delete(ctx, group.ID(bad)), group.ErrNotFound)
			_, err = ss.Get(ctx, bad)
			check(t, "Sessions().Get", err, auth.ErrSessionNotFound)
			check(t, "Sessions().Delete", ss.Delete(ctx, bad), auth.ErrSessionNotFound)
			check(t, "Sessions().Touch", ss.Touch(ctx, bad, t0, t0), nil)
			if l, err := ss.List(ctx, user.ID(bad)); len(l) != 0 || err != nil {
				t.Errorf("Sessions().List(bad) = %v, %v", l, err)
			}
			if n, err := ss.DeleteUser(ctx, user.ID(bad), ""); n != 0 || err != nil {
				t.Errorf("Sessions().DeleteUser(bad) = %d, %v", n, err)
			}
			q, _ := user.Query{Search: bad}.Normalize()
			if p, err := us.List(ctx, q); len(p.Users) != 0 || err != nil {
				t.Errorf("Users().List(search bad) = %d users, %v", len(p.Users), err)
			}
			aq, _ := audit.Query{ActorID: bad}.Normalize()
			if p, err := tx.Audit().Query(ctx, aq); len(p.Events) != 0 || err != nil {
				t.Errorf("Audit().Query(actor bad) = %d events, %v", len(p.Events), err)
			}
			ts, cs := tx.TOTP(), tx.Challenges()
			_, err = ts.Get(ctx, user.ID(bad))
			check(t, "TOTP().Get", err, totp.ErrNotEnrolled)
			check(t, "TOTP().Confirm", ts.Confirm(ctx, user.ID(bad), t0), totp.ErrNotEnrolled)
			if ok, err := ts.UseStep(ctx, user.ID(bad), 1); ok || err != nil {
				t.Errorf("TOTP().UseStep(bad) = %v, %v", ok, err)
			}
			if ok, err := ts.UseRecoveryCode(ctx, user.ID(bad), []byte{1}); ok || err != nil {
				t.Errorf("TOTP().UseRecoveryCode(bad) = %v, %v", ok, err)
			}
			check(t, "TOTP().SetRecoveryCodes", ts.SetRecoveryCodes(ctx, user.ID(bad), "k", []byte{1}, nil), user.ErrNotFound)
			check(t, "Challenges().Delete", cs.Delete(ctx, bad), auth.ErrChallengeNotFound)
			_, err = cs.Fail(ctx, bad)
			check(t, "Challenges().Fail", err, auth.ErrChallengeNotFound)
			for i := 1; i <= 2; i++ {
				if n, err := tx.Throttle().AddFailure(ctx, "account:"+bad, t0); n != i || err != nil {
					t.Errorf("AddFailure(bad key) = %d, %v; want %d", n, err, i)
				}
			}
			// The transaction still works.
			return us.SetLastLogin(ctx, u.ID, t0)
		})
		must(t, "Atomic with bad keys", err)
		n, _, err := db.Throttle().Failures(ctx, "account:"+bad)
		if n != 2 || err != nil {
			t.Errorf("Failures(bad key) after commit = %d, %v; want 2", n, err)
		}
		must(t, "ResetFailures", db.Throttle().ResetFailures(ctx, "account:"+bad))
	}
}

func check(t *testing.T, what string, err, want error) {
	t.Helper()
	if want == nil && err != nil || want != nil && !errors.Is(err, want) {
		t.Errorf("%s: %v, want %v", what, err, want)
	}
}

// Times come back in UTC at microsecond precision; the zero time of an
// optional column is NULL and comes back zero.
func TestTimes(t *testing.T) {
	t.Parallel()
	db := newTestDB(t)
	ctx := context.Background()
	ist := time.FixedZone("IST", 5*3600+1800)
	u := testUser("t@example.com", group.UsersID)
	u.CreatedAt = time.Date(2024, 2, 29, 23, 59, 59, 999999000, ist)
	must(t, "create", db.Users().Create(ctx, u, ""))
	got, err := db.Users().Get(ctx, u.ID)
	must(t, "get", err)
	if !got.CreatedAt.Equal(u.CreatedAt) || got.CreatedAt.Location() != time.UTC || !got.LastLoginAt.IsZero() {
		t.Errorf("CreatedAt %v (%v), LastLoginAt %v; want %v in UTC and zero", got.CreatedAt, got.CreatedAt.Location(),
			got.LastLoginAt, u.CreatedAt)
	}
	var null bool
	must(t, "select", db.pool.QueryRow(ctx, `SELECT last_login_at IS NULL FROM users WHERE id = $1`, string(u.ID)).Scan(&null))
	if !null {
		t.Error("a zero LastLoginAt is not stored as NULL")
	}
}

// An audit event keeps what a client sent even when PostgreSQL cannot store
// it as is: U+FFFD stands in for invalid UTF-8 and NUL, in the columns and
// in the details, and nothing else changes.
func TestAuditUnstorableText(t *testing.T) {
	t.Parallel()
	db := newBareTestDB(t) // an empty trail
	ctx := t.Context()
	e := &audit.Event{
		Time: t0, Action: audit.AuthorizationDeny, Outcome: audit.Denied,
		Target:  audit.Target{Type: audit.TargetUser, ID: "a\xff\xfeb\x00c"},
		Reason:  "ok",
		Details: map[string]any{"nul": "x\x00y", "literal": `\u0000 and \\u0000`, "bad": "\xff"},
	}
	must(t, "Append", db.Audit().Append(ctx, e))
	q, _ := audit.Query{}.Normalize()
	p, err := db.Audit().Query(ctx, q)
	must(t, "Query", err)
	if len(p.Events) != 1 {
		t.Fatalf("%d events, want 1", len(p.Events))
	}
	got := p.Events[0]
	if got.Target.ID != "a\uFFFDb\uFFFDc" || got.Reason != "ok" {
		t.Errorf("Target.ID %q, Reason %q; want %q, %q", got.Target.ID, got.Reason, "a\uFFFDb\uFFFDc", "ok")
	}
	want := map[string]any{"nul": "x\uFFFDy", "literal": `\u0000 and \\u0000`, "bad": "\uFFFD"}
	if !reflect.DeepEqual(got.Details, want) {
		t.Errorf("Details %q, want %q", got.Details, want)
	}
}
