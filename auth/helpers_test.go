package auth_test

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/user"
)

// fakeClock is a settable clock: tests move time instead of sleeping.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *fakeClock {
	return &fakeClock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var testKey = []byte("0123456789abcdef0123456789abcdef")

type env struct {
	t    *testing.T
	ctx  context.Context
	m    *auth.Manager
	db   *sqlite.DB
	clk  *fakeClock
	path string
}

// newEnv opens a fresh SQLite file and a Manager on it. mod may adjust the
// config before New.
func newEnv(t *testing.T, mod ...func(*auth.Config)) *env {
	t.Helper()
	ctx := context.Background()
	path := filepath.Join(t.TempDir(), "usher.db")
	db, err := sqlite.Open(ctx, path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	e := &env{t: t, ctx: ctx, db: db, clk: newClock(), path: path}
	e.m = e.manager(db, mod...)
	return e
}

// manager returns another Manager over store with the env's clock.
func (e *env) manager(store auth.Store, mod ...func(*auth.Config)) *auth.Manager {
	e.t.Helper()
	m, err := auth.New(e.config(store, mod...))
	if err != nil {
		e.t.Fatal(err)
	}
	// Before the store closes (cleanups run last first), and failing the
	// test if what waited could not be written.
	e.t.Cleanup(func() {
		if err := m.Close(); err != nil {
			e.t.Errorf("Manager.Close: %v", err)
		}
	})
	return m
}

// operator returns a Manager over the env's store with an operator, as a
// command-line tool would make them.
func (e *env) operator(name string) (*auth.Manager, *auth.Principal) {
	e.t.Helper()
	m, op, err := auth.NewWithOperator(e.config(e.db), name)
	if err != nil {
		e.t.Fatal(err)
	}
	return m, op
}

// config is the env's Manager configuration over store.
func (e *env) config(store auth.Store, mod ...func(*auth.Config)) auth.Config {
	cfg := auth.Config{
		Store:                         store,
		Issuer:                        "usher test",
		SecretKey:                     testKey,
		BcryptCost:                    4,
		InsecureLowBcryptCostForTests: true,
		Now:                           e.clk.Now,
		Permissions:                   hostPermissions,
	}
	for _, f := range mod {
		f(&cfg)
	}
	return cfg
}

// hostPermissions are the test host's own permissions.
var hostPermissions = []group.Entry{
	{Permission: "backups:read", Label: "View backups", Category: "Backups"},
	{Permission: "backups:run", Label: "Run backups", Category: "Backups"},
}

var client = auth.Client{IP: "192.0.2.10", UserAgent: "test-agent/1.0"}

const adminEmail, adminPassword = "admin@example.com", "correct horse battery"

// admin signs up the first user and returns its principal.
func (e *env) admin() *auth.Principal {
	e.t.Helper()
	s, err := e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Name: "Ada Admin", Password: adminPassword,
		BootstrapToken: setupToken(e.t, e.m)}, client)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.auth(s.Token)
}

// on returns p as Manager m authenticates its token: a Principal acts only
// on the Manager that made it.
func (e *env) on(m *auth.Manager, p *auth.Principal) *auth.Principal {
	e.t.Helper()
	q, err := m.Authenticate(e.ctx, tokenOf(p))
	if err != nil {
		e.t.Fatalf("Authenticate on another Manager: %v", err)
	}
	tokens.Store(q, tokenOf(p))
	return q
}

// tokens maps each Principal a test made to the token it authenticated.
var tokens sync.Map // *auth.Principal → string

// tokenOf returns the session token p was authenticated with.
func tokenOf(p *auth.Principal) string {
	t, _ := tokens.Load(p)
	s, _ := t.(string)
	return s
}

func (e *env) auth(token string) *auth.Principal {
	e.t.Helper()
	p, err := e.m.Authenticate(e.ctx, token)
	if err != nil {
		e.t.Fatalf("Authenticate: %v", err)
	}
	// A Principal never carries the token; tests keep it beside to use later.
	tokens.Store(p, token)
	return p
}

// group creates a group as actor.
func (e *env) group(actor *auth.Principal, name string, perms ...group.Permission) *group.Group {
	e.t.Helper()
	g, err := e.m.CreateGroup(e.ctx, actor, group.Group{Name: name, Permissions: perms})
	if err != nil {
		e.t.Fatalf("CreateGroup %s: %v", name, err)
	}
	return g
}

// user creates a user as actor and logs it in.
func (e *env) user(actor *auth.Principal, email string, gid group.ID) (*user.User, *auth.Principal) {
	e.t.Helper()
	u, err := e.m.CreateUser(e.ctx, actor, auth.NewUser{Email: email, Name: email, Password: passwordOf(email), GroupID: gid})
	if err != nil {
		e.t.Fatalf("CreateUser %s: %v", email, err)
	}
	return u, e.login(email, passwordOf(email))
}

// passwordOf is the password env.user gives the account email: one that
// usher's strength check accepts, built from nothing of the account.
func passwordOf(email string) string {
	return fmt.Sprintf("orchard lantern %x", sha256.Sum256([]byte(email)))[:26]
}

func (e *env) login(email, password string) *auth.Principal {
	e.t.Helper()
	r, err := e.m.Login(e.ctx, email, password, client)
	if err != nil {
		e.t.Fatalf("Login %s: %v", email, err)
	}
	return e.auth(r.Session.Token)
}

// events returns every audit event, newest first.
func (e *env) events() []audit.Event {
	e.t.Helper()
	var all []audit.Event
	q := audit.Query{Limit: audit.MaxLimit}
	for {
		q2, _ := q.Normalize()
		p, err := e.db.Audit().Query(e.ctx, q2)
		if err != nil {
			e.t.Fatal(err)
		}
		all = append(all, p.Events...)
		if p.Next == "" {
			return all
		}
		q.Cursor = p.Next
	}
}

// lastEvent returns the newest event with the given action.
func (e *env) lastEvent(a audit.Action) audit.Event {
	e.t.Helper()
	for _, ev := range e.events() {
		if ev.Action == a {
			return ev
		}
	}
	e.t.Fatalf("no %s event", a)
	return audit.Event{}
}

// setupToken returns m's setup token, which the first sign-up presents.
func setupToken(tb testing.TB, m *auth.Manager) string {
	tb.Helper()
	tok, _, err := m.SetupToken(context.Background())
	if err != nil {
		tb.Fatal(err)
	}
	return tok
}

func wantErr(t *testing.T, err, target error) {
	t.Helper()
	if !errors.Is(err, target) {
		t.Fatalf("got error %v, want %v", err, target)
	}
}

var errorsIs = errors.Is

// second returns the error of a call that returns a value and an error.
func second[T any](_ T, err error) error { return err }

func listAll() user.Query { return user.Query{Limit: user.MaxLimit} }

// uv is the stored version of a user, as a form would have read it.
func (e *env) uv(id user.ID) int64 {
	e.t.Helper()
	u, err := e.db.Users().Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Users().Get(%s): %v", id, err)
	}
	return u.Version
}

// gv is the stored version of a group, as a form would have read it.
func (e *env) gv(id group.ID) int64 {
	e.t.Helper()
	g, err := e.db.Groups().Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Groups().Get(%s): %v", id, err)
	}
	return g.Version
}
