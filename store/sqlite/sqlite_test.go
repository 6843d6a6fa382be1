package sqlite_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/user"
)

// t0 is a fixed instant the tests count from.
var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func openDB(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db := openBareDB(t, path)
	withBuiltinGroups(t, db)
	return db
}

// openBareDB opens path as the schema leaves it: no group, no event.
func openBareDB(t testing.TB, path string) *sqlite.DB {
	t.Helper()
	db, err := sqlite.Open(context.Background(), path)
	if err != nil {
		t.Fatalf("Open(%q): %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// withBuiltinGroups creates the built-in groups in s as a host's auth.New
// does: the schema creates no group.
func withBuiltinGroups(tb testing.TB, s auth.Store) {
	tb.Helper()
	_, err := auth.New(auth.Config{Store: s, SecretKey: make([]byte, 32), BcryptCost: 4, InsecureLowBcryptCostForTests: true})
	if err != nil {
		tb.Fatalf("auth.New: %v", err)
	}
}

func newDB(t testing.TB) *sqlite.DB {
	t.Helper()
	return openDB(t, filepath.Join(t.TempDir(), "usher.db"))
}

func newUser(id, email string) *user.User {
	return &user.User{ID: user.ID(id), Email: email, Name: "User " + id, GroupID: string(group.UsersID),
		CreatedAt: t0, UpdatedAt: t0}
}

func mustCreateUser(t testing.TB, s auth.Store, u *user.User) {
	t.Helper()
	if err := s.Users().Create(context.Background(), u, "hash-"+string(u.ID)); err != nil {
		t.Fatalf("create user %s: %v", u.ID, err)
	}
}

// Open creates no group: the schema holds none until auth.New creates the
// built-in ones.
func TestNewSeedsDefaultGroups(t *testing.T) {
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "usher.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if gs, err := db.Groups().List(ctx); err != nil || len(gs) != 0 {
		t.Fatalf("groups after Open: %d, %v; want none", len(gs), err)
	}
	withBuiltinGroups(t, db)
	for _, want := range []struct {
		id    group.ID
		name  string
		perms []group.Permission
	}{
		{group.AdminID, "Admins", []group.Permission{group.All}},
		{group.UsersID, "Users", []group.Permission{group.ProfileAll}},
	} {
		g, err := db.Groups().Get(ctx, want.id)
		if err != nil {
			t.Fatalf("Get(%s): %v", want.id, err)
		}
		if g.Name != want.name || fmt.Sprint(g.Permissions) != fmt.Sprint(want.perms) || g.CreatedAt.IsZero() {
			t.Errorf("group %s = %+v", want.id, g)
		}
	}
}

func TestOpenRefusesInMemory(t *testing.T) {
	for _, dsn := range []string{
		":memory:",
		"file::memory:",
		"file::memory:?cache=shared",
		"file:x.db?mode=memory",
		"file:/x.db?vfs=memdb",
		"",
	} {
		t.Run(dsn, func(t *testing.T) {
			db, err := sqlite.Open(context.Background(), dsn)
			if !errors.Is(err, sqlite.ErrInMemory) {
				if db != nil {
					db.Close()
				}
				t.Fatalf("Open(%q) = %v, want ErrInMemory", dsn, err)
			}
		})
	}
}

// A DSN that sets what usher sets is refused before any file is created:
// modernc.org/sqlite would apply the host's value after usher's (the
// shorthand keys, and _pragma values that sort later, such as
// synchronous(NORMAL) after synchronous(FULL)), or usher's after the
// host's, and one of the two would be lost without a word.
func TestOpenRefusesOwnedSettings(t *testing.T) {
	for _, q := range []string{
		"_txlock=deferred",
		"_query_only=0",
		"_sync=NORMAL",
		"_synchronous=OFF",
		"_journal=DELETE",
		"_journal_mode=MEMORY",
		"_fk=0",
		"_foreign_keys=false",
		"_busy_timeout=0",
		"_timeout=0",
		"_pragma=synchronous(NORMAL)",
		"_pragma=SYNCHRONOUS%3DOFF",
		"_pragma=main.synchronous(0)",
		"_pragma=%22main%22.%22synchronous%22(0)",
		"_pragma=%20synchronous%20(1)",
		"_pragma=foreign_keys(0)",
		"_pragma=journal_mode(DELETE)",
		"_pragma=busy_timeout(0)",
		"_pragma=mmap_size(0)",
		"_pragma=wal_autocheckpoint(1)",
		"_pragma=query_only(0)",
		"_pragma=locking_mode(EXCLUSIVE)",
		"_pragma=cache_size(-2000)&_pragma=synchronous(NORMAL)",
		// Not set by usher, but each loosens a check its writes rely on.
		"_pragma=defer_foreign_keys(1)",
		"_pragma=IGNORE_CHECK_CONSTRAINTS(1)",
		"_pragma=writable_schema%3D1",
		// SQLite reads a comment as a space, and the driver runs every
		// statement of a _pragma: each of these set synchronous or
		// foreign_keys to 0 on the writer, after usher's.
		"_pragma=synchronous/**/(0)",
		"_pragma=synchronous--x%0A(0)",
		"_pragma=synchronous%0C(0)",
		"_pragma=temp_store(2)%3Bpragma%20synchronous%3D0",
		"_pragma=temp_store(2)%3B%20PRAGMA%20foreign_keys%3D0",
		"_pragma=user_version%3Bpragma%20query_only%3D0",
		// A shared cache locks tables between the writer and the readers,
		// which then wait for every write transaction.
		"cache=shared",
		"cache=private&cache=shared",
	} {
		path, refused := openRefused(t, q)
		if _, err := os.Stat(path); refused && !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Open(?%s) refused, but the file is there (%v)", q, err)
		}
	}
}

// openRefused opens a file under t.TempDir() with the DSN query q and
// reports whether Open refused it with ErrDSNSetting, failing t if not.
func openRefused(t *testing.T, q string) (path string, refused bool) {
	t.Helper()
	path = filepath.Join(t.TempDir(), "x.db")
	db, err := sqlite.Open(context.Background(), "file:"+path+"?"+q)
	if !errors.Is(err, sqlite.ErrDSNSetting) {
		if db != nil {
			db.Close()
		}
		t.Errorf("Open(?%s) = %v; want ErrDSNSetting", q, err)
		return path, false
	}
	return path, true
}

// A DSN under which the writer does not end up as usher sets it is refused
// too, whatever set it: SQLite's nolock and a VFS without shared memory
// leave journal_mode(WAL) at DELETE without an error, and with nolock
// the writer and the readers, separate connections, no longer lock
// against each other.
func TestOpenRefusesUnappliedSettings(t *testing.T) {
	for _, q := range []string{"nolock=1", "vfs=unix-none", "vfs=unix-dotfile"} {
		openRefused(t, q)
	}
}

// Pragmas usher does not set stay the host's to choose.
func TestOpenKeepsOtherPragmas(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := openDB(t, "file:"+path+"?_pragma=cache_size(-4000)&_pragma=temp_store(2)")
	mustCreateUser(t, db, newUser("u1", "a@example.com"))
}

func TestOpenFileURIWithQuery(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := openDB(t, "file:"+path+"?cache=private")
	mustCreateUser(t, db, newUser("u1", "a@example.com"))
	db.Close()
	// The same file through a plain path sees the row.
	db2 := openDB(t, path)
	if n, err := db2.Users().Count(context.Background()); err != nil || n != 1 {
		t.Fatalf("Count = %d, %v; want 1", n, err)
	}
}

func TestReopenIsIdempotent(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	db := openDB(t, path)
	mustCreateUser(t, db, newUser("u1", "a@example.com"))
	if err := db.Close(); err != nil {
		t.Fatal(err)
	}
	for range 3 {
		db := openDB(t, path)
		n, err := db.Users().Count(context.Background())
		if err != nil || n != 1 {
			t.Fatalf("after reopen Count = %d, %v; want 1", n, err)
		}
		gs, err := db.Groups().List(context.Background())
		if err != nil || len(gs) != 2 {
			t.Fatalf("after reopen %d groups, %v; want the 2 seeded once", len(gs), err)
		}
		db.Close()
	}
}

func TestSchemaTooNewRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	openDB(t, path).Close()
	raw, err := sql.Open("sqlite", path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := raw.Exec(`INSERT INTO schema_version (version, applied_at) VALUES (9999, 0)`); err != nil {
		t.Fatal(err)
	}
	raw.Close()
	db, err := sqlite.Open(context.Background(), path)
	if !errors.Is(err, sqlite.ErrSchemaTooNew) {
		if db != nil {
			db.Close()
		}
		t.Fatalf("Open = %v, want ErrSchemaTooNew", err)
	}
	// Refused, not downgraded: the version row is still there.
	raw, _ = sql.Open("sqlite", path)
	defer raw.Close()
	var v int
	if err := raw.QueryRow(`SELECT max(version) FROM schema_version`).Scan(&v); err != nil || v != 9999 {
		t.Fatalf("version after refused open = %d, %v", v, err)
	}
}

// Two DB handles on one file, each with its own writer, stand in for two
// processes: busy_timeout and BEGIN IMMEDIATE must make them wait for each
// other, never fail with SQLITE_BUSY.
func TestConcurrentWritersTwoHandles(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.db")
	dbs := []*sqlite.DB{openDB(t, path), openDB(t, path)}
	ctx := context.Background()
	const goroutines, writes = 8, 50
	var wg sync.WaitGroup
	errs := make(chan error, goroutines*writes)
	for g := range goroutines {
		wg.Go(func() {
			db := dbs[g%2]
			for i := range writes {
				var err error
				if i%2 == 0 {
					// A read-then-write transaction: the pattern that
					// fails without BEGIN IMMEDIATE.
					err = db.Atomic(ctx, func(s auth.Store) error {
						n, _, err := s.Throttle().Failures(ctx, "shared")
						if err != nil {
							return err
						}
						if _, err := s.Throttle().AddFailure(ctx, "shared", t0); err != nil {
							return err
						}
						return s.Audit().Append(ctx, &audit.Event{Time: t0, Action: audit.LoginFailed,
							Outcome: audit.Failure, Reason: fmt.Sprint(n)})
					})
				} else {
					_, err = db.Throttle().AddFailure(ctx, "shared", t0)
				}
				if err != nil {
					errs <- err
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	n, _, err := dbs[0].Throttle().Failures(ctx, "shared")
	if err != nil || n != goroutines*writes {
		t.Fatalf("failures = %d, %v; want %d (a lost update?)", n, err, goroutines*writes)
	}
}

func TestAtomicRollsBackOnError(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := db.Atomic(ctx, func(s auth.Store) error {
		mustCreateUser(t, s, newUser("u1", "a@example.com"))
		if err := s.Audit().Append(ctx, &audit.Event{Time: t0, Action: audit.UserCreated, Outcome: audit.Success}); err != nil {
			return err
		}
		// Reads inside fn see fn's writes.
		if _, err := s.Users().Get(ctx, "u1"); err != nil {
			return fmt.Errorf("read own write: %w", err)
		}
		return boom
	})
	if err != boom {
		t.Fatalf("Atomic = %v, want fn's error unchanged", err)
	}
	assertEmpty(t, db)
}

func TestAtomicRollsBackOnPanic(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	err := db.Atomic(ctx, func(s auth.Store) error {
		mustCreateUser(t, s, newUser("u1", "a@example.com"))
		panic("boom")
	})
	var pe *auth.PanicError
	if !errors.As(err, &pe) || pe.Value != "boom" {
		t.Fatalf("Atomic = %v, want *PanicError", err)
	}
	assertEmpty(t, db)
	// The writer is free again.
	mustCreateUser(t, db, newUser("u2", "b@example.com"))
}

func TestAtomicNestedSharesTransaction(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	boom := errors.New("boom")
	err := db.Atomic(ctx, func(s auth.Store) error {
		if err := s.Atomic(ctx, func(inner auth.Store) error {
			mustCreateUser(t, inner, newUser("u1", "a@example.com"))
			return nil
		}); err != nil {
			return err
		}
		return boom // rolls back the inner call's write too
	})
	if err != boom {
		t.Fatalf("Atomic = %v", err)
	}
	assertEmpty(t, db)

	if err := db.Atomic(ctx, func(s auth.Store) error {
		return s.Atomic(ctx, func(inner auth.Store) error {
			mustCreateUser(t, inner, newUser("u1", "a@example.com"))
			return nil
		})
	}); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Users().Get(ctx, "u1"); err != nil {
		t.Fatalf("nested commit lost: %v", err)
	}
}

func assertEmpty(t *testing.T, db *sqlite.DB) {
	t.Helper()
	ctx := context.Background()
	if n, err := db.Users().Count(ctx); err != nil || n != 0 {
		t.Errorf("users after rollback = %d, %v", n, err)
	}
	p, err := db.Audit().Query(ctx, audit.Query{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range p.Events {
		if e.Action != audit.GroupCreated { // the built-in groups' own
			t.Errorf("audit event %s after rollback", e.Action)
		}
	}
}

func TestConstraintErrors(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	mustCreateUser(t, db, newUser("u1", "a@example.com"))
	mustCreateUser(t, db, newUser("u2", "b@example.com"))
	orphan := newUser("u3", "c@example.com")
	orphan.GroupID = "nope"
	u2 := newUser("u2", "a@example.com")
	u2.Version = 1 // as read: Update is conditional on it
	missing := newUser("ghost", "g@example.com")

	tests := []struct {
		name string
		err  error
		want error
	}{
		{"duplicate email on create", db.Users().Create(ctx, newUser("u9", "a@example.com"), ""), user.ErrEmailTaken},
		{"duplicate email on update", db.Users().Update(ctx, u2), user.ErrEmailTaken},
		{"unknown group on create", db.Users().Create(ctx, orphan, ""), group.ErrNotFound},
		{"update unknown user", db.Users().Update(ctx, missing), user.ErrNotFound},
		{"delete unknown user", db.Users().Delete(ctx, "ghost"), user.ErrNotFound},
		{"get unknown user", errOf2(db.Users().Get(ctx, "ghost")), user.ErrNotFound},
		{"get unknown email", errOf2(db.Users().GetByEmail(ctx, "x@example.com")), user.ErrNotFound},
		{"password of unknown user", errOf2(db.Users().PasswordHash(ctx, "ghost")), user.ErrNotFound},
		{"set password of unknown user", db.Users().SetPasswordHash(ctx, "ghost", "h"), user.ErrNotFound},
		{"last login of unknown user", db.Users().SetLastLogin(ctx, "ghost", t0), user.ErrNotFound},
		{"avatar of unknown user", db.Users().SetAvatar(ctx, "ghost", []byte("x"), "image/png"), user.ErrNotFound},
		{"remove avatar of unknown user", db.Users().SetAvatar(ctx, "ghost", nil, ""), user.ErrNotFound},
		{"no avatar", errOf3(db.Users().Avatar(ctx, "u1")), user.ErrNoAvatar},
		{"avatar unknown user", errOf3(db.Users().Avatar(ctx, "ghost")), user.ErrNotFound},
		{"duplicate group name, other case", db.Groups().Create(ctx, &group.Group{ID: "g1", Name: "aDMINS"}), group.ErrNameTaken},
		{"duplicate group name, non-ASCII case", createTwoGroups(ctx, db, "Équipe", "équipe"), group.ErrNameTaken},
		{"rename group onto another", db.Groups().Update(ctx, &group.Group{ID: group.UsersID, Name: "ADMINS", Version: 1}), group.ErrNameTaken},
		{"update unknown group", db.Groups().Update(ctx, &group.Group{ID: "nope", Name: "Nope"}), group.ErrNotFound},
		{"get unknown group", errOf2(db.Groups().Get(ctx, "nope")), group.ErrNotFound},
		{"delete group with members", db.Groups().Delete(ctx, group.UsersID), group.ErrInUse},
		{"delete unknown group", db.Groups().Delete(ctx, "nope"), group.ErrNotFound},
		{"session for unknown user", db.Sessions().Create(ctx, &auth.Session{ID: "s1", UserID: "ghost"}, hash("t")), user.ErrNotFound},
		{"get unknown session", errOf2(db.Sessions().Get(ctx, "nope")), auth.ErrSessionNotFound},
		{"delete unknown session", db.Sessions().Delete(ctx, "nope"), auth.ErrSessionNotFound},
		{"lookup unknown token", errOf4(db.Sessions().Lookup(ctx, hash("nope"))), auth.ErrSessionNotFound},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if !errors.Is(tt.err, tt.want) {
				t.Errorf("got %v, want %v", tt.err, tt.want)
			}
		})
	}
	// An empty group can go.
	if err := db.Groups().Create(ctx, &group.Group{ID: "empty", Name: "Empty"}); err != nil {
		t.Fatal(err)
	}
	if err := db.Groups().Delete(ctx, "empty"); err != nil {
		t.Fatalf("delete empty group: %v", err)
	}
}

func createTwoGroups(ctx context.Context, db *sqlite.DB, a, b string) error {
	if err := db.Groups().Create(ctx, &group.Group{ID: group.ID("x-" + a), Name: a}); err != nil {
		return fmt.Errorf("first: %v", err) // not %w: the first must succeed
	}
	return db.Groups().Create(ctx, &group.Group{ID: group.ID("x-" + b), Name: b})
}

func errOf2[A any](_ A, err error) error                 { return err }
func errOf3[A, B any](_ A, _ B, err error) error         { return err }
func errOf4[A, B, C any](_ A, _ B, _ C, err error) error { return err }

func hash(token string) []byte {
	h := sha256.Sum256([]byte(token))
	return h[:]
}

func TestUserRoundTripAndCascade(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	u := newUser("u1", "a@example.com")
	mustCreateUser(t, db, u)
	got, err := db.Users().Get(ctx, "u1")
	if err != nil {
		t.Fatal(err)
	}
	if *got != *u {
		t.Errorf("Get = %+v, want %+v", got, u)
	}
	if got.LastLoginAt != (time.Time{}) {
		t.Errorf("LastLoginAt = %v, want zero for never", got.LastLoginAt)
	}
	login := t0.Add(time.Hour + 123*time.Nanosecond)
	if err := db.Users().SetLastLogin(ctx, "u1", login); err != nil {
		t.Fatal(err)
	}
	if got, _ := db.Users().GetByEmail(ctx, "a@example.com"); !got.LastLoginAt.Equal(login) || got.LastLoginAt.Location() != time.UTC {
		t.Errorf("LastLoginAt = %v, want %v in UTC", got.LastLoginAt, login)
	}
	if err := db.Users().SetAvatar(ctx, "u1", []byte{1, 2, 3}, "image/png"); err != nil {
		t.Fatal(err)
	}
	if err := db.Users().SetAvatar(ctx, "u1", []byte{4}, "image/gif"); err != nil {
		t.Fatal(err)
	}
	if data, ct, err := db.Users().Avatar(ctx, "u1"); err != nil || ct != "image/gif" || string(data) != "\x04" {
		t.Errorf("Avatar = %v %q %v", data, ct, err)
	}
	if err := db.Sessions().Create(ctx, &auth.Session{ID: "s1", UserID: "u1", ExpiresAt: t0}, hash("t")); err != nil {
		t.Fatal(err)
	}
	if err := db.Users().Delete(ctx, "u1"); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Sessions().Get(ctx, "s1"); !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("session after user delete: %v, want it cascaded away", err)
	}
}

func TestSessions(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	mustCreateUser(t, db, newUser("u1", "a@example.com"))
	if err := db.Groups().Update(ctx, &group.Group{ID: group.UsersID, Name: "Users",
		Permissions: []group.Permission{"profile:*", "backups:run"}, RequireTwoFactor: true, UpdatedAt: t0, Version: 1}); err != nil {
		t.Fatal(err)
	}
	for i, id := range []string{"s1", "s2", "s3"} {
		s := &auth.Session{ID: id, UserID: "u1", CreatedAt: t0.Add(time.Duration(i) * time.Minute),
			LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour), IdleTimeout: 30 * time.Minute, IP: "10.0.0.1", UserAgent: "ua:" + id}
		if err := db.Sessions().Create(ctx, s, hash(id)); err != nil {
			t.Fatal(err)
		}
	}
	s, u, g, err := db.Sessions().Lookup(ctx, hash("s2"))
	if err != nil {
		t.Fatal(err)
	}
	if s.ID != "s2" || s.UserAgent != "ua:s2" || !s.ExpiresAt.Equal(t0.Add(time.Hour)) || u.Email != "a@example.com" ||
		g.ID != group.UsersID || !g.RequireTwoFactor || fmt.Sprint(g.Permissions) != "[profile:* backups:run]" {
		t.Errorf("Lookup = %+v %+v %+v", s, u, g)
	}

	// Touch writes only when the stored value is older than notAfter.
	if err := db.Sessions().Touch(ctx, "s2", t0.Add(time.Minute), t0); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.Sessions().Get(ctx, "s2"); !s.LastSeenAt.Equal(t0) {
		t.Errorf("Touch with notAfter = stored value wrote %v", s.LastSeenAt)
	}
	if err := db.Sessions().Touch(ctx, "s2", t0.Add(time.Minute), t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if s, _ := db.Sessions().Get(ctx, "s2"); !s.LastSeenAt.Equal(t0.Add(time.Minute)) {
		t.Errorf("Touch did not write: %v", s.LastSeenAt)
	}
	if err := db.Sessions().Touch(ctx, "nope", t0, t0); err != nil {
		t.Errorf("Touch of unknown session = %v, want nil", err)
	}

	list, err := db.Sessions().List(ctx, "u1")
	if err != nil || len(list) != 3 || list[0].ID != "s3" || list[2].ID != "s1" {
		t.Fatalf("List = %+v, %v; want newest first", list, err)
	}
	if n, err := db.Sessions().DeleteUser(ctx, "u1", "s1"); err != nil || n != 2 {
		t.Fatalf("DeleteUser = %d, %v; want 2", n, err)
	}
	if n, err := db.Sessions().DeleteExpired(ctx, t0.Add(30*time.Minute-time.Nanosecond)); err != nil || n != 0 {
		t.Fatalf("DeleteExpired just before the idle timeout = %d, %v; want 0", n, err)
	}
	// At the idle deadline itself the session is over, as Authenticate
	// decides.
	if n, err := db.Sessions().DeleteExpired(ctx, t0.Add(30*time.Minute)); err != nil || n != 1 {
		t.Fatalf("DeleteExpired at the idle timeout = %d, %v; want 1", n, err)
	}
}

func TestLookupInsideAtomic(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	err := db.Atomic(ctx, func(s auth.Store) error {
		mustCreateUser(t, s, newUser("u1", "a@example.com"))
		if err := s.Sessions().Create(ctx, &auth.Session{ID: "s1", UserID: "u1", ExpiresAt: t0}, hash("t")); err != nil {
			return err
		}
		sess, u, g, err := s.Sessions().Lookup(ctx, hash("t"))
		if err != nil {
			return err
		}
		if sess.ID != "s1" || u.ID != "u1" || g.ID != group.UsersID {
			t.Errorf("Lookup in tx = %+v %+v %+v", sess, u, g)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func TestThrottle(t *testing.T) {
	db := newDB(t)
	ctx := context.Background()
	th := db.Throttle()
	if n, at, err := th.Failures(ctx, "k"); err != nil || n != 0 || !at.IsZero() {
		t.Fatalf("Failures of unknown key = %d %v %v", n, at, err)
	}
	for i := 1; i <= 3; i++ {
		if n, err := th.AddFailure(ctx, "k", t0.Add(time.Duration(i)*time.Second)); err != nil || n != i {
			t.Fatalf("AddFailure #%d = %d, %v", i, n, err)
		}
	}
	if n, at, _ := th.Failures(ctx, "k"); n != 3 || !at.Equal(t0.Add(3*time.Second)) {
		t.Errorf("Failures = %d %v", n, at)
	}
	if err := th.ResetFailures(ctx, "k"); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := th.Failures(ctx, "k"); n != 0 {
		t.Errorf("after reset %d", n)
	}

	w1, w2 := t0, t0.Add(time.Minute)
	for _, step := range []struct {
		window time.Time
		want   int
	}{{w1, 1}, {w1, 2}, {w1, 3}, {w2, 1}, {w1, 2} /* late hit counts in the newer window */, {w2, 3}} {
		if n, err := th.Hit(ctx, "h", step.window); err != nil || n != step.want {
			t.Fatalf("Hit(%v) = %d, %v; want %d", step.window, n, err, step.want)
		}
	}
	if _, err := th.AddFailure(ctx, "old", t0); err != nil {
		t.Fatal(err)
	}
	if err := th.Prune(ctx, t0.Add(time.Second)); err != nil {
		t.Fatal(err)
	}
	if n, _, _ := th.Failures(ctx, "old"); n != 0 {
		t.Errorf("Prune kept old failures")
	}
	if n, _ := th.Hit(ctx, "h", w2); n != 4 {
		t.Errorf("Prune dropped a current window: count %d", n)
	}
}

func TestAuditQuery(t *testing.T) {
	db := openBareDB(t, filepath.Join(t.TempDir(), "usher.db")) // an empty trail
	ctx := context.Background()
	// 30 events, in pairs sharing a timestamp so the id breaks ties.
	for i := range 30 {
		e := &audit.Event{
			Time: t0.Add(time.Duration(i/2) * time.Second), Action: audit.LoginFailed, Outcome: audit.Failure,
			Actor: audit.Actor{ID: "u" + fmt.Sprint(i%3), Email: "x@example.com"}, Target: audit.Target{Type: audit.TargetUser, ID: "t"},
			Details: map[string]any{"n": i, "s": "x"},
		}
		if i%5 == 0 {
			e.Action, e.Outcome = audit.UserCreated, audit.Success
		}
		if err := db.Audit().Append(ctx, e); err != nil {
			t.Fatal(err)
		}
		if e.ID != fmt.Sprint(i+1) {
			t.Fatalf("ID = %q, want %d", e.ID, i+1)
		}
	}
	walk := func(q audit.Query) []string {
		t.Helper()
		var ids []string
		for {
			p, err := db.Audit().Query(ctx, q)
			if err != nil {
				t.Fatal(err)
			}
			for _, e := range p.Events {
				ids = append(ids, e.ID)
			}
			if p.Next == "" {
				return ids
			}
			q.Cursor = p.Next
		}
	}
	if ids := walk(audit.Query{Limit: 4}); strings.Join(ids, ",") != descending(30, func(int) bool { return true }) {
		t.Errorf("walk = %v", ids)
	}
	if ids := walk(audit.Query{Limit: 3, Action: audit.UserCreated}); strings.Join(ids, ",") != descending(30, func(i int) bool { return i%5 == 0 }) {
		t.Errorf("action filter = %v", ids)
	}
	if ids := walk(audit.Query{Limit: 2, ActorID: "u1", Outcome: audit.Failure}); strings.Join(ids, ",") != descending(30, func(i int) bool { return i%3 == 1 && i%5 != 0 }) {
		t.Errorf("actor+outcome filter = %v", ids)
	}
	// Since inclusive, Until exclusive: seconds 2..4 are events 4..9.
	if ids := walk(audit.Query{Since: t0.Add(2 * time.Second), Until: t0.Add(5 * time.Second)}); strings.Join(ids, ",") != "10,9,8,7,6,5" {
		t.Errorf("time range = %v", ids)
	}
	p, err := db.Audit().Query(ctx, audit.Query{Limit: 1})
	if err != nil || len(p.Events) != 1 {
		t.Fatal(err)
	}
	e := p.Events[0]
	if e.Details["n"] != float64(29) || e.Details["s"] != "x" || e.Target.ID != "t" || !e.Time.Equal(t0.Add(14*time.Second)) {
		t.Errorf("event = %+v", e)
	}
	if _, err := db.Audit().Query(ctx, audit.Query{Cursor: "garbage!"}); !errors.Is(err, audit.ErrInvalidCursor) {
		t.Errorf("bad cursor: %v", err)
	}
	n, err := db.Audit().PruneChained(ctx, t0.Add(5*time.Second), func(audit.Link) (audit.Mark, error) {
		t.Error("no chained event, yet an anchor")
		return audit.Mark{}, nil
	})
	if err != nil || n != 10 {
		t.Fatalf("Prune = %d, %v; want 10", n, err)
	}
	if err := db.Audit().Append(ctx, &audit.Event{Time: t0, Action: audit.Logout, Outcome: audit.Success}); err != nil {
		t.Fatal(err)
	}
	if p, _ := db.Audit().Query(ctx, audit.Query{Action: audit.Logout}); p.Events[0].ID != "31" || p.Events[0].Details != nil {
		t.Errorf("after prune: %+v (IDs must not be reused)", p.Events[0])
	}
}

// descending lists the 1-based IDs of events 0..n-1 that keep, newest first.
func descending(n int, keep func(int) bool) string {
	var ids []string
	for i := n - 1; i >= 0; i-- {
		if keep(i) {
			ids = append(ids, fmt.Sprint(i+1))
		}
	}
	return strings.Join(ids, ",")
}
