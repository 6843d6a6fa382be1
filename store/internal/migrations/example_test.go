package migrations_test

import (
	"fmt"
	"testing/fstest"

	"github.com/usher-go/usher/store/internal/migrations"
)

// A store embeds its migrations directory (//go:embed migrations/*.sql) and
// loads it; here a map stands in for the embedded files. A gap in the
// numbering is refused before any SQL runs.
func ExampleLoad() {
	fsys := fstest.MapFS{
		"migrations/0001_users.sql":    {Data: []byte("CREATE TABLE users (id TEXT PRIMARY KEY);")},
		"migrations/0002_sessions.sql": {Data: []byte("CREATE TABLE sessions (id TEXT PRIMARY KEY);")},
	}
	steps, err := migrations.Load(fsys, "migrations")
	if err != nil {
		panic(err)
	}
	for _, s := range steps {
		fmt.Println(s.Version, s.Name)
	}

	fsys["migrations/0004_audit.sql"] = &fstest.MapFile{Data: []byte("CREATE TABLE audit (id INTEGER);")}
	_, err = migrations.Load(fsys, "migrations")
	fmt.Println(err)
	// Output:
	// 1 0001_users.sql
	// 2 0002_sessions.sql
	// migration "0004_audit.sql": want version 3
}
