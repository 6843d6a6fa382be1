package auth_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// An access review: what deserves a look, then a record that someone
// looked. A host would show the report on a page or offer its CSV
// (AccessReview.WriteCSV).
func ExampleManager_AccessReview() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "usher-example-")
	defer os.RemoveAll(dir)
	db, err := sqlite.Open(ctx, filepath.Join(dir, "users.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()
	m, err := auth.New(auth.Config{Store: db, SecretKey: []byte("use 32+ random bytes from a file"),
		BcryptCost: 4, InsecureLowBcryptCostForTests: true}) // fast for the example only
	if err != nil {
		log.Fatal(err)
	}
	setup, _, _ := m.SetupToken(ctx) // printed for whoever installs the host
	s, err := m.SignUp(ctx, auth.SignUp{Email: "ada@example.com", Password: "correct horse battery", BootstrapToken: setup}, auth.Client{})
	if err != nil {
		log.Fatal(err)
	}
	admin, _ := m.Authenticate(ctx, s.Token)
	if _, err := m.CreateUser(ctx, admin, auth.NewUser{Email: "bob@example.com", Password: "bob's long password"}); err != nil {
		log.Fatal(err)
	}

	r, err := m.AccessReview(ctx, admin, auth.ReviewOptions{IdleDays: 30})
	if err != nil {
		log.Fatal(err)
	}
	for _, f := range r.Findings {
		fmt.Printf("%s: %s\n", f.User.Email, f.Kind)
	}
	for _, g := range r.Groups {
		fmt.Printf("%s: %d members, %s\n", g.Name, len(g.Members), g.Permissions[0].Label)
	}

	r, err = m.MarkAccessReviewed(ctx, admin, auth.ReviewOptions{IdleDays: 30}, "monthly review")
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("reviewed by %s: %s\n", r.LastReview.By.Email, r.LastReview.Note)
	// Output:
	// ada@example.com: no_second_factor
	// bob@example.com: never_logged_in
	// Admins: 1 members, Every permission, present and future
	// Users: 1 members, Every profile permission
	// reviewed by ada@example.com: monthly review
}
