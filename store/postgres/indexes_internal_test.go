package postgres

import (
	"context"
	"slices"
	"testing"
)

// TestSessionIndexes (issue 12, migration 0017): sessions carries the
// indexes some statement reads and no others. Every index is one more
// entry written per login, and an index on last_seen_at makes every write
// of a session's last use a non-HOT update, which writes every index
// again.
func TestSessionIndexes(t *testing.T) {
	db := newTestDB(t)
	rows, err := db.pool.Query(context.Background(),
		`SELECT indexname FROM pg_indexes WHERE schemaname = $1 AND tablename = 'sessions' ORDER BY indexname`, db.schema)
	if err != nil {
		t.Fatal(err)
	}
	var have []string
	for rows.Next() {
		var name string
		if err := rows.Scan(&name); err != nil {
			t.Fatal(err)
		}
		have = append(have, name)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	// The primary key (Get, Touch, TouchBatch, Delete), the token hash
	// (Lookup) and the user's sessions (ListForUser, DeleteForUser, the
	// cascade of a user's deletion).
	want := []string{"sessions_pkey", "sessions_token_hash_unique", "sessions_user"}
	if !slices.Equal(have, want) {
		t.Errorf("indexes on sessions: %v, want %v", have, want)
	}
}
