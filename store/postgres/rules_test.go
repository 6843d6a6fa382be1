package postgres_test

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Issue 8's rules on PostgreSQL, through the Manager: what SQLite shows in
// auth's tests holds here too.

// A group name or description PostgreSQL cannot hold is bad input in its
// field, never a raw store error.
func TestRulesGroupTextChecked(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	admin, _ := p.admin(t)
	for _, g := range []group.Group{
		{Name: "Ops\xff", Permissions: []group.Permission{"backups:run"}},
		{Name: "Ops", Description: "a\xc3", Permissions: []group.Permission{"backups:run"}},
	} {
		_, err := p.m[0].CreateGroup(t.Context(), admin[0], g)
		var fe *auth.FieldError
		if !errors.As(err, &fe) || !(errors.Is(err, group.ErrInvalidName) || errors.Is(err, group.ErrInvalidDescription)) {
			t.Errorf("CreateGroup(%q, %q): %v, want a FieldError", g.Name, g.Description, err)
		}
	}
}

// An 8 KiB target ID in a refused request still leaves its denial in the
// trail, cut to auth.MaxTargetIDLength.
func TestRulesAuditTargetIDBounded(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	admin, _ := p.admin(t)
	if _, err := p.m[0].CreateUser(ctx, admin[0], auth.NewUser{Email: memberEmail, Password: memberPass}); err != nil {
		t.Fatal(err)
	}
	member, err := p.m[0].Authenticate(ctx, p.login(t, 0, memberEmail, memberPass))
	if err != nil {
		t.Fatal(err)
	}
	// Random text does not compress: the row's index entry is 8 KiB.
	long := user.ID(hex.EncodeToString(randomBytes(t, 4096)))
	if _, err := p.m[0].GetUser(ctx, member, long); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("GetUser: %v, want ErrForbidden", err)
	}
	page, err := p.m[1].AuditLog(ctx, admin[1], audit.Query{Action: audit.AuthorizationDeny})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 {
		t.Fatalf("%d denials recorded, want 1", len(page.Events))
	}
	if id := page.Events[0].Target.ID; len(id) > auth.MaxTargetIDLength || !strings.HasPrefix(string(long), id) {
		t.Fatalf("denial target ID of %d bytes, want a prefix of at most %d", len(id), auth.MaxTargetIDLength)
	}
}

func randomBytes(t *testing.T, n int) []byte {
	t.Helper()
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	return b
}

// Two admins on two instances edit one group from the same read: the
// second save is refused with ErrStale and re-grants nothing.
func TestRulesStaleGroupAcrossInstances(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	admin, _ := p.admin(t)
	ops, err := p.m[0].CreateGroup(ctx, admin[0], group.Group{Name: "Ops", Permissions: []group.Permission{"backups:run", group.ProfileAll}})
	if err != nil {
		t.Fatal(err)
	}
	formA, formB := *ops, *ops
	formA.Permissions = []group.Permission{group.ProfileAll}
	if _, err := p.m[0].UpdateGroup(ctx, admin[0], formA); err != nil {
		t.Fatal(err)
	}
	formB.Description = "older form"
	if _, err := p.m[1].UpdateGroup(ctx, admin[1], formB); !errors.Is(err, auth.ErrStale) || !errors.Is(err, group.ErrStale) {
		t.Fatalf("stale UpdateGroup on the other instance: %v, want ErrStale", err)
	}
	g, err := p.m[1].GetGroup(ctx, admin[1], ops.ID)
	if err != nil {
		t.Fatal(err)
	}
	if len(g.Permissions) != 1 || g.Description != "" || g.Version != 2 {
		t.Fatalf("group after a stale save: %+v", g)
	}
	u, err := p.m[0].CreateUser(ctx, admin[0], auth.NewUser{Email: memberEmail, Password: memberPass})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.m[0].UpdateUser(ctx, admin[0], u.ID, auth.UserUpdate{Name: ptrTo("A"), Version: u.Version}); err != nil {
		t.Fatal(err)
	}
	_, err = p.m[1].UpdateUser(ctx, admin[1], u.ID, auth.UserUpdate{Name: ptrTo("B"), Version: u.Version})
	if !errors.Is(err, auth.ErrStale) || !errors.Is(err, user.ErrStale) {
		t.Fatalf("stale UpdateUser on the other instance: %v, want ErrStale", err)
	}
}

func ptrTo[T any](v T) *T { return &v }

// A loop of identical denials spread over two instances is one event with
// a count: the folding lives in the store, not in a process.
func TestRulesRepeatedDenialsAcrossInstances(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	admin, _ := p.admin(t)
	if _, err := p.m[0].CreateUser(ctx, admin[0], auth.NewUser{Email: memberEmail, Password: memberPass}); err != nil {
		t.Fatal(err)
	}
	tok := p.login(t, 0, memberEmail, memberPass)
	for i := range 20 {
		member, err := p.m[i%2].Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		member.SetClient(client)
		if _, err := p.m[i%2].ListUsers(ctx, member, user.Query{}); !errors.Is(err, auth.ErrForbidden) {
			t.Fatalf("ListUsers: %v, want ErrForbidden", err)
		}
	}
	page, err := p.m[1].AuditLog(ctx, admin[1], audit.Query{Action: audit.AuthorizationDeny})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != 1 || page.Events[0].Details[audit.DetailRepeated] != float64(20) {
		t.Fatalf("%d denial events (first details %v), want 1 counting 20", len(page.Events), page.Events)
	}
}
