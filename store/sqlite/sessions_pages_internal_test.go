package sqlite

import (
	"context"
	"crypto/sha256"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// sessionUser makes the group and user a test's sessions belong to.
func sessionUser(t *testing.T, db *DB) *user.User {
	t.Helper()
	ctx := context.Background()
	if err := db.Groups().Create(ctx, &group.Group{ID: "g", Name: "G", CreatedAt: t0, UpdatedAt: t0}); err != nil {
		t.Fatal(err)
	}
	u := &user.User{ID: "u", Email: "u@example.com", GroupID: "g", CreatedAt: t0, UpdatedAt: t0}
	if err := db.Users().Create(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	return u
}

// TestOpeningASessionWritesThreePages (issue 12, migration 0020): a
// session is one b-tree keyed by its token's hash, the unique index on its
// ID and sessions_user: three pages written, and synced, per login that
// opens one, where the rowid table and its two unique indexes made four.
func TestOpeningASessionWritesThreePages(t *testing.T) {
	db, path := walDB(t)
	ctx := context.Background()
	u := sessionUser(t, db)
	n := 0
	open := func() {
		n++
		id := fmt.Sprintf("s%d", n)
		hash := sha256.Sum256([]byte(id))
		s := &auth.Session{ID: id, UserID: u.ID, CreatedAt: t0.Add(time.Duration(n)), LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.Sessions().Create(ctx, s, hash[:]); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // warm: every b-tree has a leaf with room
		open()
	}
	if got := framesOf(t, db, path, open); got != 3 {
		t.Errorf("opening a session wrote %d pages, want 3", got)
	}
}

// TestSessionPlans (migration 0020): Authenticate's lookup is one probe of
// the sessions b-tree by the token's hash; a session by ID is one probe of
// the ID's index; a user's sessions are read in their order, unsorted.
func TestSessionPlans(t *testing.T) {
	db := newTestDB(t)
	for _, c := range []struct{ q, want string }{
		{sessionLookupSQL, "SEARCH s USING PRIMARY KEY (token_hash=?)"},
		{`SELECT ` + sessionCols + ` FROM sessions s WHERE s.id = ?`, "SEARCH s USING INDEX sqlite_autoindex_sessions_2 (id=?)"},
		{`SELECT ` + sessionCols + ` FROM sessions s WHERE s.user_id = ? ORDER BY s.created_at DESC, s.id DESC`,
			"SEARCH s USING INDEX sessions_user (user_id=?)"},
	} {
		plan := queryPlan(t, db, c.q)
		if !strings.Contains(plan, c.want) || strings.Contains(plan, "TEMP B-TREE") {
			t.Errorf("plan of %.60q…:\n%s\nwant %s, and no sort", c.q, plan, c.want)
		}
	}
}

// TestUpgradeSessionsByToken: migration 0020 moves every session into the
// table keyed by its token's hash with all its columns, and each is found
// again by its token, its ID and its user.
func TestUpgradeSessionsByToken(t *testing.T) {
	ms, err := embedded()
	if err != nil {
		t.Fatal(err)
	}
	if ms[19].Version != 20 {
		t.Fatalf("migration 20 is at %d", ms[19].Version)
	}
	ctx := context.Background()
	path, w := migratedTo(t, ms[:19])
	for _, q := range []string{
		`INSERT INTO groups (id, name, name_key, permissions, created_at, updated_at) VALUES ('g', 'G', 'g', '', 1, 1)`,
		`INSERT INTO users (id, email, name, name_key, group_id, created_at, updated_at) VALUES ('u1', 'a@example.com', 'A', 'a', 'g', 1, 1)`,
		`INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent, multi_factor, idle_timeout_ns, remembered)
			VALUES ('s1', x'01', 'u1', 10, 11, 99, '192.0.2.1', 'ua one', 1, 3600000000000, 1),
			       ('s2', x'02', 'u1', 20, 21, 98, '', '', 0, 60000000000, 0)`,
	} {
		if _, err := w.Exec(q); err != nil {
			t.Fatal(err)
		}
	}
	w.Close()
	db, err := Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	want := map[string]auth.Session{
		"s1": {ID: "s1", UserID: "u1", CreatedAt: fromNanos(10), LastSeenAt: fromNanos(11), ExpiresAt: fromNanos(99),
			IP: "192.0.2.1", UserAgent: "ua one", MultiFactor: true, IdleTimeout: time.Hour, Remembered: true},
		"s2": {ID: "s2", UserID: "u1", CreatedAt: fromNanos(20), LastSeenAt: fromNanos(21), ExpiresAt: fromNanos(98),
			IdleTimeout: time.Minute},
	}
	same := func(how string, got *auth.Session) {
		t.Helper()
		if w := want[got.ID]; fmt.Sprint(*got) != fmt.Sprint(w) {
			t.Errorf("%s: %+v, want %+v", how, *got, w)
		}
	}
	for id, token := range map[string][]byte{"s1": {1}, "s2": {2}} {
		s, _, _, err := db.Sessions().Lookup(ctx, token)
		if err != nil {
			t.Fatalf("Lookup(%s): %v", id, err)
		}
		same("by token", s)
		if s, err = db.Sessions().Get(ctx, id); err != nil {
			t.Fatalf("Get(%s): %v", id, err)
		}
		same("by ID", s)
	}
	list, err := db.Sessions().List(ctx, "u1")
	if err != nil || len(list) != 2 || list[0].ID != "s2" {
		t.Fatalf("List: %+v, %v; want s2 then s1", list, err)
	}
	var schema string
	if err := db.r.QueryRow(`SELECT sql FROM sqlite_schema WHERE name = 'sessions'`).Scan(&schema); err != nil {
		t.Fatal(err)
	}
	if !strings.HasSuffix(schema, "WITHOUT ROWID") {
		t.Errorf("sessions after the upgrade: %s", schema)
	}
}

// TestSuccessfulLoginSkipsActionIndex (issue 12, migration 0021): a
// successful login's event writes one page fewer than another event of
// the same outcome: audit_action leaves login.succeeded out.
func TestSuccessfulLoginSkipsActionIndex(t *testing.T) {
	db, path := walDB(t)
	ctx := context.Background()
	at := t0
	appendOne := func(a audit.Action) {
		at = at.Add(time.Second)
		e := &audit.Event{Time: at, Action: a, Outcome: audit.Success,
			Actor: audit.Actor{ID: "u1"}, Target: audit.Target{Type: audit.TargetUser, ID: "u1"}}
		if err := db.Audit().Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	for range 3 { // warm, as in TestSuccessSkipsOutcomeIndex
		appendOne(audit.LoginSucceeded)
		appendOne(audit.LoginChallenged)
	}
	succeeded := framesOf(t, db, path, func() { appendOne(audit.LoginSucceeded) })
	challenged := framesOf(t, db, path, func() { appendOne(audit.LoginChallenged) })
	if succeeded != challenged-1 {
		t.Errorf("a successful login's event wrote %d pages and a challenge's %d; want one fewer", succeeded, challenged)
	}
}
