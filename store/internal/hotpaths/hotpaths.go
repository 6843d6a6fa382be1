// Package hotpaths is the Manager's hot paths as the stores' own tests run
// them (TestHotPathsPrepared in store/sqlite and store/postgres).
package hotpaths

import (
	"context"
	"errors"
	"fmt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/user"
)

// Path is one of the Manager's hot paths, as a store's own tests run it
// again and again (a store's check that each runs on prepared statements
// once warm, say).
type Path struct {
	Name string
	Run  func() error
}

// Of returns the hot paths of a Manager whose store has the built-in
// groups, op an operator: CreateUser (a new account in group "users"
// each run, the first of them the one the logins use), a login, a wrong
// password, Authenticate and Logout of the last login's session, and
// pages of users and of the audit trail. The paths share state: run them
// in order, all of them each round, one at a time.
func Of(m *auth.Manager, op *auth.Principal) []Path {
	ctx := context.Background()
	const password = "Vq7#pLx2!mZr9k"
	c := auth.Client{IP: "192.0.2.7", UserAgent: "test"}
	n := 0
	var token string
	return []Path{
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
}
