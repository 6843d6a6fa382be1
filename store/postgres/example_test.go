package postgres_test

import (
	"context"
	"log"
	"os"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/postgres"
)

// Opening the store connects and migrates the schema; every instance of
// the application opens the same database and schema. It needs a server, so
// go test compiles this example without running it.
func Example() {
	// A deadline: a server that accepts the connection and never answers
	// would otherwise be waited for indefinitely.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	db, err := postgres.OpenWith(ctx, os.Getenv("DATABASE_URL"), postgres.Options{Schema: "usher"})
	if err != nil {
		log.Fatal(err)
	}
	defer db.Close()

	m, err := auth.New(auth.Config{
		Store:     db,
		Issuer:    "Example",
		SecretKey: []byte(os.Getenv("USHER_SECRET_KEY")), // 32 bytes or more, the same on every instance
	})
	if err != nil {
		log.Fatal(err)
	}
	_ = m // serve requests with m.Middleware
}
