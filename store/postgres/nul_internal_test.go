package postgres

import (
	"context"
	"crypto/rand"
	"errors"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

// TestTextNULRefused: a text argument holding a NUL is refused with
// ErrTextNUL before anything is sent, in pgx's extended protocol and in
// its simple one, where it would end the protocol message early and cost
// the connection. Outside Atomic the pool's next statement runs; inside,
// the transaction goes on and commits; a held-back write with one fails
// the transaction, as the server's refusal of it would.
func TestTextNULRefused(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	simple, err := OpenWith(ctx, testDSN(t)+"&default_query_exec_mode=simple_protocol", Options{Schema: db.Schema()})
	if err != nil {
		t.Fatal(err)
	}
	defer simple.Close()
	flow := func(returnTo string) (*oidc.Flow, []byte) {
		now := time.Now()
		return &oidc.Flow{ID: rand.Text(), ProviderID: "p", State: "s", Nonce: "n", Verifier: rand.Text(),
			ReturnTo: returnTo, CreatedAt: now, ExpiresAt: now.Add(oidc.FlowTimeout)}, []byte(rand.Text())
	}
	for name, s := range map[string]*DB{"extended": db, "simple": simple} {
		odd, oddHash := flow("/\x00\xff")
		if err := s.Flows().Create(ctx, odd, oddHash); !errors.Is(err, ErrTextNUL) {
			t.Errorf("%s: Create with a NUL outside Atomic: %v, want ErrTextNUL", name, err)
		}
		if _, err := s.Users().Get(ctx, user.ID(rand.Text())); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("%s: the pool after the refusal: %v", name, err)
		}
		f, hash := flow("/fine")
		err := s.Atomic(ctx, func(tx auth.Store) error {
			odd, oddHash := flow("/a\x00b")
			if err := tx.Flows().Create(ctx, odd, oddHash); !errors.Is(err, ErrTextNUL) {
				t.Errorf("%s: Create with a NUL inside Atomic: %v, want ErrTextNUL", name, err)
			}
			q := tx.(*scope).q
			_, execErr := q.Exec(ctx, `SELECT $1::text`, "a\x00")
			rowErr := q.QueryRow(ctx, `SELECT $1::text`, "a\x00").Scan(new(string))
			_, queryErr := q.Query(ctx, `SELECT $1::text`, "a\x00")
			for i, err := range []error{execErr, rowErr, queryErr} {
				if !errors.Is(err, ErrTextNUL) {
					t.Errorf("%s: statement %d with a NUL inside Atomic: %v, want ErrTextNUL", name, i, err)
				}
			}
			return tx.Flows().Create(ctx, f, hash)
		})
		if err != nil {
			t.Fatalf("%s: Atomic after a refused statement: %v", name, err)
		}
		if got, err := s.Flows().Take(ctx, hash); err != nil || got.ReturnTo != "/fine" {
			t.Errorf("%s: the flow created after the refusal: %+v, %v", name, got, err)
		}
		// A held-back write (deferExec) with a NUL fails the transaction.
		err = s.Atomic(ctx, func(tx auth.Store) error {
			tx.(*scope).tx.deferExec(`UPDATE users SET name = $1 WHERE id = $2`, nil, "a\x00b", "nobody")
			return nil
		})
		if !errors.Is(err, ErrTextNUL) {
			t.Errorf("%s: a held write with a NUL: Atomic = %v, want ErrTextNUL", name, err)
		}
	}
}

// hasNUL looks into named string types and lists of text, not bytes.
func TestHasNUL(t *testing.T) {
	for _, c := range []struct {
		v    any
		want bool
	}{
		{"a\x00", true}, {"a", false}, {user.ID("u\x00"), true}, {user.ID("u"), false},
		{[]string{"a", "b\x00"}, true}, {[]string{"a"}, false}, {[]byte{0}, false},
		{int64(0), false}, {nil, false}, {time.Time{}, false},
	} {
		if got := hasNUL(c.v); got != c.want {
			t.Errorf("hasNUL(%#v) = %v, want %v", c.v, got, c.want)
		}
	}
}
