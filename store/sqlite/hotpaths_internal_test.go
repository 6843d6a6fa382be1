package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"sync/atomic"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/user"
)

// TestHotPathsPrepared: once each hot path has run, running it again asks
// either statement cache for nothing it does not hold, and sends no
// statement as text to the reader pool past them, so none of its
// statements is parsed again (issue 12: statements prepared once, in a
// bounded set of shapes). A statement built anew on each call, or run
// past the caches, would count on every call.
func TestHotPathsPrepared(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	m, op, err := auth.NewWithOperator(auth.Config{Store: db, SecretKey: make([]byte, 32), BcryptCost: 4,
		InsecureLowBcryptCostForTests: true}, "op")
	if err != nil {
		t.Fatal(err)
	}
	const password = "Vq7#pLx2!mZr9k"
	c := auth.Client{IP: "192.0.2.7", UserAgent: "test"}
	n := 0
	var token string
	paths := []struct {
		name string
		run  func() error
	}{
		{"CreateUser", func() error {
			n++
			_, err := m.CreateUser(ctx, op, auth.NewUser{Email: fmt.Sprintf("hot%d@example.com", n), Name: "Hot",
				Password: password, GroupID: "users"})
			return err
		}},
		{"Login", func() error {
			res, err := m.Login(ctx, "hot1@example.com", password, c)
			if err == nil {
				token = res.Session.Token
			}
			return err
		}},
		{"Login, wrong password", func() error {
			if _, err := m.Login(ctx, "hot1@example.com", "not the password", c); !errors.Is(err, auth.ErrInvalidCredentials) {
				return fmt.Errorf("got %v, want ErrInvalidCredentials", err)
			}
			return nil
		}},
		{"Authenticate", func() error { _, err := m.Authenticate(ctx, token); return err }},
		{"ListUsers", func() error { _, err := m.ListUsers(ctx, op, user.Query{Limit: 50}); return err }},
		{"AuditLog", func() error { _, err := m.AuditLog(ctx, op, audit.Query{Limit: 50}); return err }},
		{"Logout", func() error { return m.Logout(ctx, token) }},
	}
	var text atomic.Int64
	db.root.r = textCounter{db.root.r, &text}
	misses := func() int64 { return db.reads.misses.Load() + db.writes.misses.Load() + text.Load() }
	for range 2 { // every statement seen, and prepared
		for _, p := range paths {
			if err := p.run(); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
		}
	}
	for _, p := range paths {
		before := misses()
		for range 3 {
			if err := p.run(); err != nil {
				t.Fatalf("%s: %v", p.name, err)
			}
		}
		if got := misses() - before; got != 0 {
			t.Errorf("%s ran %d statements unprepared: missed by the caches, or sent past them", p.name, got)
		}
	}
}

// textCounter counts the statements sent to q as text.
type textCounter struct {
	q querier
	n *atomic.Int64
}

func (c textCounter) ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error) {
	c.n.Add(1)
	return c.q.ExecContext(ctx, query, args...)
}

func (c textCounter) QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error) {
	c.n.Add(1)
	return c.q.QueryContext(ctx, query, args...)
}

func (c textCounter) QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row {
	c.n.Add(1)
	return c.q.QueryRowContext(ctx, query, args...)
}
