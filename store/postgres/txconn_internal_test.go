package postgres

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// A write held back inside Atomic (execLate) that fails aborts the whole
// transaction, and Atomic returns its error, whether it fails at the next
// statement (whose own error fn may drop) or in the pipeline of the
// commit: nothing of the transaction is written.
func TestHeldWriteFailure(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	for _, c := range []struct {
		name string
		fn   func(tx auth.Store) error
	}{
		{"at the next statement, its error dropped", func(tx auth.Store) error {
			if err := tx.Users().SetLastLogin(ctx, "ghost", time.Now()); err != nil {
				t.Fatalf("held back, SetLastLogin failed at once: %v", err)
			}
			if _, err := tx.Throttle().AddFailure(ctx, "k", time.Now()); !errors.Is(err, user.ErrNotFound) {
				t.Errorf("the statement after the failed write: got %v, want user.ErrNotFound", err)
			}
			_, _ = tx.Throttle().AddFailure(ctx, "k", time.Now())
			return nil
		}},
		{"at commit", func(tx auth.Store) error {
			if _, err := tx.Throttle().AddFailure(ctx, "k", time.Now()); err != nil {
				return err
			}
			return tx.Users().SetLastLogin(ctx, "ghost", time.Now())
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			if err := db.Atomic(ctx, c.fn); !errors.Is(err, user.ErrNotFound) {
				t.Fatalf("Atomic: got %v, want user.ErrNotFound", err)
			}
			if n, _, err := db.Throttle().Failures(ctx, "k"); err != nil || n != 0 {
				t.Fatalf("after the rollback, the transaction's count is %d (%v), want 0", n, err)
			}
			// The connection went back to the pool usable.
			if err := db.Atomic(ctx, func(tx auth.Store) error {
				_, _, err := tx.Throttle().Failures(ctx, "k")
				return err
			}); err != nil {
				t.Fatal(err)
			}
		})
	}
}

// An Atomic transaction that sends no statement costs no round trip: it
// is never begun.
func TestAtomicEmpty(t *testing.T) {
	db, tc := newTracedDB(t)
	tc.take()
	if err := db.Atomic(context.Background(), func(auth.Store) error { return nil }); err != nil {
		t.Fatal(err)
	}
	if n, log := tc.take(); n != 0 {
		t.Fatalf("%d round trips, want 0:\n\t%s", n, log)
	}
}

// AddFailures (auth.FailureBatchStore) counts each key once and reports
// what it held; RestoreFailures, in the same transaction, puts back
// exactly that: the key that held failures with its count and time, the
// key that held none gone.
func TestAddFailuresRestore(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	t1 := time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC)
	t2 := t1.Add(time.Minute)
	for range 2 {
		if _, err := db.Throttle().AddFailure(ctx, "a", t1); err != nil {
			t.Fatal(err)
		}
	}
	keys := []string{"a", "b"}
	want := []auth.FailureCount{{Prev: 2, PrevLast: t1, Got: 3}, {Got: 1}}
	for _, restore := range []bool{true, false} {
		err := db.Atomic(ctx, func(tx auth.Store) error {
			fb := tx.Throttle().(auth.FailureBatchStore)
			c, err := fb.AddFailures(ctx, keys, t2)
			if err != nil {
				return err
			}
			for i := range want {
				if c[i].Prev != want[i].Prev || !c[i].PrevLast.Equal(want[i].PrevLast) || c[i].Got != want[i].Got {
					t.Errorf("key %s: got %+v, want %+v", keys[i], c[i], want[i])
				}
			}
			if restore {
				return fb.RestoreFailures(ctx, keys, c)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		var rows int
		if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM throttle_failures WHERE key = 'b'`).Scan(&rows); err != nil {
			t.Fatal(err)
		}
		if restore && rows != 0 {
			t.Errorf("b, which held no failure, still has a row after the restore")
		}
	}
	// Restored, then counted once more, at t2.
	for _, k := range []struct {
		key string
		n   int
	}{{"a", 3}, {"b", 1}} {
		if n, last, err := db.Throttle().Failures(ctx, k.key); err != nil || n != k.n || !last.Equal(t2) {
			t.Errorf("%s: %d at %v (%v); want %d at %v", k.key, n, last, err, k.n, t2)
		}
	}
}

func chainSeal(head audit.Mark, e *audit.Event) (audit.Link, audit.Mark, error) {
	link := audit.Link{Seq: head.Seq + 1, KeyID: "k1", MAC: []byte(e.Action)}
	return link, audit.Mark{Seq: link.Seq, LinkMAC: link.MAC, KeyID: "k2", MAC: []byte("mark")}, nil
}

func chainFold(link audit.Link, n int64) []byte { return []byte(link.KeyID) }

// The first chained append of an Atomic transaction takes the head it read
// as it began; a writer outside Atomic that moved the head since makes the
// append fail, and with it the transaction, rather than fork the chain. A
// second append in the transaction reads the head its first one moved.
func TestChainHeadAhead(t *testing.T) {
	db := newBareTestDB(t)
	ctx := context.Background()
	seqOf := func() int64 {
		var n int64
		if err := db.pool.QueryRow(ctx, `SELECT head_seq FROM audit_chain WHERE id = 1`).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n
	}
	err := db.Atomic(ctx, func(tx auth.Store) error {
		for _, a := range []audit.Action{"first", "second"} {
			if _, err := tx.Audit().AppendChained(ctx, &audit.Event{Action: a, Time: t0}, "", chainSeal, chainFold); err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil || seqOf() != 2 {
		t.Fatalf("two appends in one transaction: %v, head at %d, want 2", err, seqOf())
	}
	err = db.Atomic(ctx, func(tx auth.Store) error {
		if _, _, err := tx.Throttle().Failures(ctx, "k"); err != nil { // begins, reading the head
			return err
		}
		if _, err := db.pool.Exec(ctx, `UPDATE audit_chain SET head_seq = head_seq + 1 WHERE id = 1`); err != nil {
			return err
		}
		_, err := tx.Audit().AppendChained(ctx, &audit.Event{Action: "third", Time: t0}, "", chainSeal, chainFold)
		return err
	})
	if err == nil {
		t.Fatal("an append after the head moved outside Atomic succeeded")
	}
	var n int
	if err := db.pool.QueryRow(ctx, `SELECT count(*) FROM audit_events WHERE action = 'third'`).Scan(&n); err != nil || n != 0 {
		t.Fatalf("%d events of the failed append stored (%v)", n, err)
	}
	if got := seqOf(); got != 3 {
		t.Fatalf("head at %d, want 3 (the outside writer's)", got)
	}
}

// A transaction whose only statements are held-back writes still commits
// them: it sent nothing before its commit, but it has something to send.
func TestHeldWritesAloneCommit(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	key := "held-alone"
	if _, err := db.Throttle().AddFailure(ctx, key, time.Now()); err != nil {
		t.Fatal(err)
	}
	for _, deferSync := range []bool{false, true} {
		if _, err := db.Throttle().AddFailure(ctx, key, time.Now()); err != nil {
			t.Fatal(err)
		}
		atomic := db.Atomic
		if deferSync {
			atomic = db.AtomicDeferSync
		}
		if err := atomic(ctx, func(tx auth.Store) error { return tx.Throttle().ResetFailures(ctx, key) }); err != nil {
			t.Fatal(err)
		}
		if n, _, err := db.Throttle().Failures(ctx, key); err != nil || n != 0 {
			t.Errorf("deferSync %v: after a transaction of one held reset, %d failures (%v), want 0", deferSync, n, err)
		}
	}
}

// A session inserted right after its user was read in the transaction
// (a login's) is held back to the commit (holdsUser): it costs no round
// trip of its own, and, should the user be deleted from outside Atomic
// in between, the commit fails with user.ErrNotFound and writes nothing.
func TestHeldSession(t *testing.T) {
	db, tc := newTracedDB(t)
	ctx := context.Background()
	for _, gone := range []bool{false, true} {
		u := testUser(fmt.Sprintf("held%t@example.com", gone), group.UsersID)
		must(t, "create user", db.Users().Create(ctx, u, "h"))
		s, h := testSession("held-"+string(u.ID), u.ID)
		tc.take()
		err := db.Atomic(ctx, func(tx auth.Store) error {
			if _, _, err := tx.Users().(auth.UserHashStore).GetWithHash(ctx, u.ID); err != nil {
				return err
			}
			if _, err := tx.Throttle().AddFailure(ctx, "held", t0); err != nil {
				return err
			}
			if _, _, err := tx.Users().(auth.UserHashStore).GetWithHash(ctx, u.ID); err != nil {
				return err
			}
			if gone {
				must(t, "delete user outside Atomic", db.Users().Delete(ctx, u.ID))
			}
			if err := tx.Sessions().Create(ctx, s, h); err != nil {
				t.Fatalf("held back, Create failed at once: %v", err)
			}
			return nil
		})
		n, log := tc.take()
		_, getErr := db.Sessions().Get(ctx, s.ID)
		fails, _, ferr := db.Throttle().Failures(ctx, "held")
		must(t, "failures", ferr)
		if !gone {
			must(t, "Atomic", err)
			must(t, "session after commit", getErr)
			if n != 4 {
				t.Errorf("%d round trips, want 4 (the read, the count, the read, the insert with the commit):\n\t%s", n, log)
			}
			continue
		}
		if !errors.Is(err, user.ErrNotFound) {
			t.Fatalf("user deleted before the commit: Atomic returned %v, want user.ErrNotFound", err)
		}
		if !errors.Is(getErr, auth.ErrSessionNotFound) || fails != 1 {
			t.Errorf("after the failed commit: session %v, failures %d, want not found and 1 (the first, committed, transaction's)", getErr, fails)
		}
	}
}

// A statement sent after the user's read ends what it vouches for: a
// session of a user the transaction deleted fails at once, as outside
// the read, and the transaction carries on and commits.
func TestHeldSessionAfterDelete(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	u := testUser("deleted@example.com", group.UsersID)
	must(t, "create user", db.Users().Create(ctx, u, "h"))
	s, h := testSession("s-deleted", u.ID)
	err := db.Atomic(ctx, func(tx auth.Store) error {
		if _, _, err := tx.Users().(auth.UserHashStore).GetWithHash(ctx, u.ID); err != nil {
			return err
		}
		must(t, "delete user", tx.Users().Delete(ctx, u.ID))
		if err := tx.Sessions().Create(ctx, s, h); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("session of the user deleted: %v, want user.ErrNotFound at once", err)
		}
		_, err := tx.Throttle().AddFailure(ctx, "after", t0)
		return err
	})
	must(t, "Atomic", err)
	if n, _, err := db.Throttle().Failures(ctx, "after"); err != nil || n != 1 {
		t.Errorf("the count after the refused session: %d (%v), want 1, committed", n, err)
	}
}

// GetByEmailWithHashLate (auth.LateUserHashStore) inside Atomic holds its
// read back to the commit: no round trip of its own, the answer there
// once Atomic has returned, an unknown email user.ErrNotFound without
// failing the transaction, and nothing to read before it has ended.
func TestLateUserRead(t *testing.T) {
	db, tc := newTracedDB(t)
	ctx := context.Background()
	u := testUser("late@example.com", group.UsersID)
	must(t, "create user", db.Users().Create(ctx, u, "the hash"))
	for _, email := range []string{u.Email, "nobody@example.com"} {
		var get func() (*user.User, string, error)
		tc.take()
		err := db.Atomic(ctx, func(tx auth.Store) error {
			if _, err := tx.Throttle().AddFailure(ctx, "late "+email, t0); err != nil {
				return err
			}
			get = tx.Users().(auth.LateUserHashStore).GetByEmailWithHashLate(ctx, email)
			if _, _, err := get(); !errors.Is(err, errUnsent) {
				t.Errorf("answer asked for inside the transaction: %v, want errUnsent", err)
			}
			return nil
		})
		must(t, "Atomic", err)
		if n, log := tc.take(); n != 2 {
			t.Errorf("%d round trips, want 2 (the count, the read with the commit):\n\t%s", n, log)
		}
		got, hash, err := get()
		if email != u.Email {
			if !errors.Is(err, user.ErrNotFound) {
				t.Errorf("unknown email: %v, want user.ErrNotFound", err)
			}
		} else if err != nil || got.ID != u.ID || hash != "the hash" {
			t.Errorf("got %v, %q, %v; want the user and its hash", got, hash, err)
		}
		if n, _, err := db.Throttle().Failures(ctx, "late "+email); err != nil || n != 1 {
			t.Errorf("the transaction's count: %d (%v), want 1, committed", n, err)
		}
	}
}

// A held-back read that fails fails its transaction, as a held write's
// does, whether it goes out with the next statement (whose own error fn
// may drop) or with the commit: Atomic returns its error and nothing the
// transaction wrote commits.
func TestHeldReadFailure(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	failing := func(tx auth.Store) {
		tx.(*scope).tx.deferRow(`SELECT 1 / 0`, func(row pgx.Row) error {
			var n int
			return row.Scan(&n)
		})
	}
	for _, c := range []struct {
		name string
		fn   func(tx auth.Store) error
	}{
		{"at the next statement, its error dropped", func(tx auth.Store) error {
			failing(tx)
			_, _ = tx.Throttle().AddFailure(ctx, "k", t0)
			_, _ = tx.Throttle().AddFailure(ctx, "k", t0)
			return nil
		}},
		{"at commit", func(tx auth.Store) error {
			if _, err := tx.Throttle().AddFailure(ctx, "k", t0); err != nil {
				return err
			}
			failing(tx)
			return nil
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			err := db.Atomic(ctx, c.fn)
			var pe *pgconn.PgError
			if !errors.As(err, &pe) || pe.Code != "22012" {
				t.Fatalf("Atomic: %v, want division_by_zero", err)
			}
			if n, _, err := db.Throttle().Failures(ctx, "k"); err != nil || n != 0 {
				t.Fatalf("after the failed read, the transaction's count is %d (%v), want 0", n, err)
			}
		})
	}
}

// CreateLate (auth.LateUserCreateStore) inside Atomic holds the insert
// back to the commit: no round trip of its own, and the user there to
// read once the insert has gone out. A taken email or an unknown group
// fails the whole transaction, with Create's errors, and nothing it wrote
// commits; outside a transaction CreateLate is Create.
func TestCreateLate(t *testing.T) {
	db, tc := newTracedDB(t)
	ctx := context.Background()
	taken := testUser("taken@example.com", group.UsersID)
	must(t, "create user", db.Users().(auth.LateUserCreateStore).CreateLate(ctx, taken, "h"))
	if got, err := db.Users().GetByEmail(ctx, taken.Email); err != nil || got.ID != taken.ID || taken.Version != 1 {
		t.Fatalf("CreateLate outside a transaction: %v, %v (version %d); want the user, version 1", got, err, taken.Version)
	}

	fresh := testUser("fresh@example.com", group.UsersID)
	tc.take()
	err := db.Atomic(ctx, func(tx auth.Store) error {
		if _, err := tx.Throttle().AddFailure(ctx, "create late", t0); err != nil {
			return err
		}
		return tx.Users().(auth.LateUserCreateStore).CreateLate(ctx, fresh, "h")
	})
	must(t, "Atomic", err)
	if n, log := tc.take(); n != 2 {
		t.Errorf("%d round trips, want 2 (the count, the insert with the commit):\n\t%s", n, log)
	}
	if got, err := db.Users().Get(ctx, fresh.ID); err != nil || got.Email != fresh.Email || got.Version != 1 || fresh.Version != 1 {
		t.Errorf("after the commit: %v, %v; want the user at version 1", got, err)
	}

	// The insert goes out ahead of the transaction's next read, which
	// sees the row.
	seen := testUser("seen@example.com", group.UsersID)
	err = db.Atomic(ctx, func(tx auth.Store) error {
		if err := tx.Users().(auth.LateUserCreateStore).CreateLate(ctx, seen, "h"); err != nil {
			return err
		}
		got, err := tx.Users().Get(ctx, seen.ID)
		if err == nil && got.Email != seen.Email {
			err = errors.New("another row")
		}
		return err
	})
	must(t, "read after CreateLate", err)

	dup := testUser(taken.Email, group.UsersID)
	dup.ID = "u-dup-late"
	for _, c := range []struct {
		name string
		u    *user.User
		want error
	}{
		{"taken email", dup, user.ErrEmailTaken},
		{"unknown group", testUser("nogroup@example.com", "nope"), group.ErrNotFound},
	} {
		key := "late " + c.name
		err := db.Atomic(ctx, func(tx auth.Store) error {
			if _, err := tx.Throttle().AddFailure(ctx, key, t0); err != nil {
				return err
			}
			if err := tx.Users().(auth.LateUserCreateStore).CreateLate(ctx, c.u, "h"); err != nil {
				return err
			}
			_, err := tx.Throttle().AddFailure(ctx, key+" after", t0)
			return err
		})
		if !errors.Is(err, c.want) {
			t.Errorf("%s: Atomic returned %v, want %v", c.name, err, c.want)
		}
		for _, k := range []string{key, key + " after"} {
			if n, _, err := db.Throttle().Failures(ctx, k); err != nil || n != 0 {
				t.Errorf("%s: count %q is %d (%v) after the failed transaction, want 0", c.name, k, n, err)
			}
		}
		if _, err := db.Users().Get(ctx, c.u.ID); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s: the user: %v, want user.ErrNotFound", c.name, err)
		}
	}
}
