package sqlite_test

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"log"
	"os"
	"path/filepath"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// Opening the store creates and migrates the file; the Manager runs on it.
func Example() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "usher-example")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)

	db, err := sqlite.Open(ctx, filepath.Join(dir, "users.db"))
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	// The key peppers every password hash and seals second factors: load
	// it from outside the database, the same on every start.
	key := make([]byte, 32)
	rand.Read(key)
	m, err := auth.New(auth.Config{Store: db, Issuer: "Example", SecretKey: key})
	if err != nil {
		log.Fatal(err)
	}
	open, err := m.SignupOpen(ctx)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("sign-up open for the first user:", open)
	// Output: sign-up open for the first user: true
}

// An in-memory database is refused: each SQLite connection to one is a
// separate, empty database, and a DB holds several.
func ExampleOpen_inMemory() {
	_, err := sqlite.Open(context.Background(), ":memory:")
	fmt.Println(errors.Is(err, sqlite.ErrInMemory))
	// Output: true
}
