package auth_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/user"
)

// The whole life of a deployment in a few calls: the first sign-up becomes
// the admin, the admin creates a user, and permissions decide what each may
// do, checked inside usher.
func Example() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "usher-example-")
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "users.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	m, err := auth.New(auth.Config{
		Store:     db,
		Issuer:    "Backup Manager",
		SecretKey: []byte("use 32+ random bytes from a file"),
		Permissions: []group.Entry{
			{Permission: "backups:run", Label: "Run a backup", Category: "Backups"},
		},
		// Only so the example runs fast; never in production.
		BcryptCost: 4, InsecureLowBcryptCostForTests: true,
	})
	if err != nil {
		log.Fatal(err)
	}

	// A fresh database has no account: the first sign-up needs the setup
	// token, which the host shows to whoever runs it (here: nobody).
	setup, _, _ := m.SetupToken(ctx)
	s, _ := m.SignUp(ctx, auth.SignUp{Email: "ada@example.com", Password: "correct horse battery", BootstrapToken: setup}, auth.Client{})
	admin, _ := m.Authenticate(ctx, s.Token)
	fmt.Println("admin runs backups:", admin.Can("backups:run"))

	_, err = m.SignUp(ctx, auth.SignUp{Email: "eve@example.com", Password: "correct horse battery"}, auth.Client{})
	fmt.Println("second sign-up:", errors.Is(err, auth.ErrSignupClosed))

	if _, err := m.CreateUser(ctx, admin, auth.NewUser{Email: "bob@example.com", Password: "bob's long password"}); err != nil {
		log.Fatal(err)
	}
	r, _ := m.Login(ctx, "bob@example.com", "bob's long password", auth.Client{IP: "192.0.2.1"})
	bob, _ := m.Authenticate(ctx, r.Session.Token)
	fmt.Println("bob runs backups:", bob.Can("backups:run"))

	_, err = m.CreateUser(ctx, bob, auth.NewUser{Email: "mallory@example.com", Password: "long enough pw"})
	fmt.Println("bob creates users:", err)

	_, err = m.Login(ctx, "bob@example.com", "wrong", auth.Client{})
	fmt.Println(err)
	// Output:
	// admin runs backups: true
	// second sign-up: true
	// bob runs backups: false
	// bob creates users: auth: forbidden: needs users:write
	// auth: invalid credentials
}

// Guarding routes: the middleware reads the session from the cookie or a
// bearer token; RequirePermission answers 401 or 403 itself.
func ExampleManager_RequirePermission() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "usher-example-")
	defer os.RemoveAll(dir)
	db, _ := sqlite.Open(ctx, filepath.Join(dir, "users.db"))
	defer db.Close()
	m, _ := auth.New(auth.Config{Store: db, SecretKey: []byte("use 32+ random bytes from a file"),
		Permissions: []group.Entry{{Permission: "backups:run", Label: "Run a backup"}},
		BcryptCost:  4, InsecureLowBcryptCostForTests: true})

	mux := http.NewServeMux()
	mux.Handle("POST /backups/run", m.RequirePermission("backups:run", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		fmt.Fprintf(w, "started by %s", p.User().Email)
	})))
	h := m.Middleware(mux)

	setup, _, _ := m.SetupToken(ctx)
	s, _ := m.SignUp(ctx, auth.SignUp{Email: "ada@example.com", Password: "correct horse battery", BootstrapToken: setup}, auth.Client{})
	for _, token := range []string{"", s.Token} {
		req := httptest.NewRequest("POST", "/backups/run", nil)
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		fmt.Println(rec.Code, rec.Body.String())
	}
	// Output:
	// 401 Unauthorized
	//
	// 200 started by ada@example.com
}

// A form puts each refused input next to its field: FieldError names the
// field, and errors.Is still matches the rule it broke.
func ExampleFieldError() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "usher-example-")
	defer os.RemoveAll(dir)
	db, _ := sqlite.Open(ctx, filepath.Join(dir, "users.db"))
	defer db.Close()
	m, _ := auth.New(auth.Config{Store: db, SecretKey: []byte("use 32+ random bytes from a file"),
		BcryptCost: 4, InsecureLowBcryptCostForTests: true})

	setup, _, _ := m.SetupToken(ctx)
	_, err := m.SignUp(ctx, auth.SignUp{Email: "ada@example.com", Password: "short", BootstrapToken: setup}, auth.Client{})
	var fe *auth.FieldError
	if errors.As(err, &fe) {
		fmt.Println("field:", fe.Field)
	}
	fmt.Println("too short:", errors.Is(err, auth.ErrPasswordTooShort))
	fmt.Println(err)
	// Output:
	// field: password
	// too short: true
	// auth: password: auth: password too short: at least 8 characters
}

// A refusal says why: errors.As finds the *DeniedError, whose Message is a
// sentence to show the person refused, naming the permission by its label.
func ExampleDeniedError() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "usher-example-")
	defer os.RemoveAll(dir)
	db, _ := sqlite.Open(ctx, filepath.Join(dir, "users.db"))
	defer db.Close()
	m, _ := auth.New(auth.Config{Store: db, SecretKey: []byte("use 32+ random bytes from a file"),
		BcryptCost: 4, InsecureLowBcryptCostForTests: true})
	setup, _, _ := m.SetupToken(ctx)
	s, _ := m.SignUp(ctx, auth.SignUp{Email: "ada@example.com", Password: "correct horse battery", BootstrapToken: setup}, auth.Client{})
	admin, _ := m.Authenticate(ctx, s.Token)
	m.CreateUser(ctx, admin, auth.NewUser{Email: "bob@example.com", Password: "bob's long password"})
	r, _ := m.Login(ctx, "bob@example.com", "bob's long password", auth.Client{})
	bob, _ := m.Authenticate(ctx, r.Session.Token)

	_, err := m.ListUsers(ctx, bob, user.Query{})
	var de *auth.DeniedError
	if errors.As(err, &de) {
		fmt.Println(errors.Is(err, auth.ErrForbidden), de.Reason == auth.DenyPermission, de.Permission)
		fmt.Println(de.Message())
	}
	// Output:
	// true true users:read
	// You need the permission “View users” (users:read), which your group does not grant.
}
