package postgres

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5"
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

// TestAuditIndexes (issue 12, migration 0018): the audit indexes by
// outcome, action and actor leave out what most events are (a success, a
// successful login, a user's event on their own account), and
// throttle_failures has no index but its key, so that a count's move of
// last_at is a heap-only update (TestFailureCountsHOT). Every entry left
// out is one fewer written per login; the pages that read these indexes
// repeat their conditions (TestAuditPagePlans).
func TestAuditIndexes(t *testing.T) {
	db := newTestDB(t)
	rows, err := db.pool.Query(context.Background(), `SELECT regexp_replace(indexdef, ' ON \S+ USING btree', '')
		FROM pg_indexes WHERE schemaname = $1 AND tablename IN ('audit_events', 'throttle_failures') ORDER BY indexname`, db.schema)
	if err != nil {
		t.Fatal(err)
	}
	have, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	want := []string{
		`CREATE INDEX audit_action (action, "time", id) WHERE (action <> 'login.succeeded'::text)`,
		`CREATE INDEX audit_actor (actor_id, "time", id) WHERE ((actor_id <> ''::text) AND ((target_type <> 'user'::text) OR (target_id <> actor_id)))`,
		`CREATE UNIQUE INDEX audit_events_pkey (id)`,
		`CREATE UNIQUE INDEX audit_events_repeat (repeat_key) WHERE (repeat_key IS NOT NULL)`,
		`CREATE INDEX audit_outcome (outcome, "time", id) WHERE (outcome <> 'success'::text)`,
		`CREATE UNIQUE INDEX audit_seq (seq) WHERE (seq IS NOT NULL)`,
		`CREATE INDEX audit_target (target_type, target_id, "time", id)`,
		`CREATE INDEX audit_time ("time", id)`,
		`CREATE UNIQUE INDEX throttle_failures_pkey (key)`,
	}
	if !slices.Equal(have, want) {
		t.Errorf("indexes:\n%s\nwant\n%s", strings.Join(have, "\n"), strings.Join(want, "\n"))
	}
}
