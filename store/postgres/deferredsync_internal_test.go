package postgres

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"

	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usher-go/usher/auth"
)

// TestAtomicDeferSyncIsLocal (issue 12): AtomicDeferSync's transaction
// commits with synchronous_commit off, and only it: an Atomic transaction
// after it, on whatever pooled connection, commits synchronously, whether
// the deferred one committed or rolled back.
func TestAtomicDeferSyncIsLocal(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	setting := func(tx auth.Store) string {
		var v string
		if err := tx.(*scope).q.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&v); err != nil {
			t.Fatal(err)
		}
		return v
	}
	for _, end := range []error{nil, errors.New("roll back")} {
		var in, after string
		if err := db.AtomicDeferSync(ctx, func(tx auth.Store) error { in = setting(tx); return end }); !errors.Is(err, end) {
			t.Fatal(err)
		}
		if err := db.Atomic(ctx, func(tx auth.Store) error { after = setting(tx); return nil }); err != nil {
			t.Fatal(err)
		}
		if in != "off" || after != "on" {
			t.Fatalf("synchronous_commit inside AtomicDeferSync %q (want off), in Atomic after it %q (want on)", in, after)
		}
	}
}

// Usher's commits are synchronous whatever turned synchronous_commit off
// around it: a DSN that sets it off is refused (every spelling PostgreSQL
// takes for off), and a connection on which it is off otherwise (here the
// DSN's options, as a role's or the server's setting would leave it) has
// it on again as it connects, while AtomicDeferSync still turns it off
// for its own transaction. Another level stays as the host set it.
func TestSynchronousCommit(t *testing.T) {
	ctx := context.Background()
	dsn := testDSN(t)
	sep := "?"
	if strings.Contains(dsn, "?") {
		sep = "&"
	}
	// PostgreSQL takes the parameter's name in any case too.
	for _, kv := range [][2]string{
		{"synchronous_commit", "off"}, {"synchronous_commit", "OFF"},
		{"synchronous_commit", "false"}, {"synchronous_commit", "no"},
		{"synchronous_commit", "0"},
		{"SYNCHRONOUS_COMMIT", "off"}, {"Synchronous_Commit", "false"},
	} {
		db, err := Open(ctx, dsn+sep+kv[0]+"="+url.PathEscape(kv[1]))
		if !errors.Is(err, ErrDSNSetting) {
			if db != nil {
				db.Close()
			}
			t.Errorf("Open with %s=%q: %v, want ErrDSNSetting", kv[0], kv[1], err)
		}
	}
	for _, c := range []struct{ param, want string }{
		{"options=" + "-c%20synchronous_commit%3Doff", "on"},
		{"synchronous_commit=remote_apply", "remote_apply"},
		{"synchronous_commit=local", "local"},
	} {
		schema := newSchemaName()
		dropSchemaAtCleanup(t, schema)
		db, err := OpenWith(ctx, dsn+sep+c.param, Options{Schema: schema})
		if err != nil {
			t.Fatalf("%s: %v", c.param, err)
		}
		// Several connections at once, so that each is a pooled one.
		var conns []*pgxpool.Conn
		for range 3 {
			conn, err := db.pool.Acquire(ctx)
			if err != nil {
				t.Fatal(err)
			}
			conns = append(conns, conn)
			var got string
			if err := conn.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&got); err != nil {
				t.Fatal(err)
			}
			if got != c.want {
				t.Errorf("%s: a pooled connection's synchronous_commit is %q, want %q", c.param, got, c.want)
			}
		}
		for _, conn := range conns {
			conn.Release()
		}
		var in string
		err = db.AtomicDeferSync(ctx, func(tx auth.Store) error {
			return tx.(*scope).q.QueryRow(ctx, `SHOW synchronous_commit`).Scan(&in)
		})
		if err != nil || in != "off" {
			t.Errorf("%s: inside AtomicDeferSync %q (%v), want off", c.param, in, err)
		}
		db.Close()
	}
}
