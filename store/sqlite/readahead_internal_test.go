package sqlite

import (
	"context"
	"errors"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// Inside a transaction, DeviceGeneration and TOTP().Get right after
// GetWithHash answer what GetWithHash read ahead, as their own reads
// would; once the transaction has run another statement, they read again,
// and see its writes.
func TestReadAhead(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	newUser := func(email string) *user.User {
		return &user.User{ID: user.ID("u-" + email), Email: email, Name: "Test", GroupID: string(group.UsersID),
			CreatedAt: t0, UpdatedAt: t0}
	}
	with, without := newUser("totp@example.com"), newUser("plain@example.com")
	for _, u := range []*user.User{with, without} {
		if err := db.Users().Create(ctx, u, "hash"); err != nil {
			t.Fatal(err)
		}
	}
	cred := &totp.Credential{UserID: with.ID, KeyID: "k1", Sealed: []byte{1, 2, 3}, LastStep: 7, CreatedAt: t0, ConfirmedAt: t0}
	if err := db.TOTP().Put(ctx, cred); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Throttle().RevokeDevices(ctx, with.ID); err != nil {
		t.Fatal(err)
	}
	err := db.Atomic(ctx, func(tx auth.Store) error {
		getWithHash := func(id user.ID) {
			t.Helper()
			if _, h, err := tx.Users().(auth.UserHashStore).GetWithHash(ctx, id); err != nil || h != "hash" {
				t.Fatalf("GetWithHash(%s): %q, %v", id, h, err)
			}
			if a := tx.(*scope).ahead(id); a == nil {
				t.Fatalf("GetWithHash(%s) in a transaction read nothing ahead", id)
			}
		}
		getWithHash(with.ID)
		if g, err := tx.Throttle().DeviceGeneration(ctx, with.ID); err != nil || g != 1 {
			t.Errorf("device generation read ahead: %d, %v; want 1", g, err)
		}
		c, err := tx.TOTP().Get(ctx, with.ID)
		if err != nil || c.KeyID != "k1" || string(c.Sealed) != "\x01\x02\x03" || c.LastStep != 7 ||
			!c.CreatedAt.Equal(t0) || !c.ConfirmedAt.Equal(t0) || c.UserID != with.ID {
			t.Errorf("TOTP read ahead: %+v, %v; want %+v", c, err, cred)
		}
		c.Sealed[0] = 9 // a copy: the next answer is unchanged
		if c, err := tx.TOTP().Get(ctx, with.ID); err != nil || c.Sealed[0] != 1 {
			t.Errorf("TOTP read ahead again after the caller changed its copy: %+v, %v", c, err)
		}
		// A write in between: both read again.
		if _, err := tx.Throttle().RevokeDevices(ctx, with.ID); err != nil {
			return err
		}
		if g, err := tx.Throttle().DeviceGeneration(ctx, with.ID); err != nil || g != 2 {
			t.Errorf("device generation after a revoke in the transaction: %d, %v; want 2", g, err)
		}
		getWithHash(with.ID)
		if err := tx.TOTP().Delete(ctx, with.ID); err != nil {
			return err
		}
		if _, err := tx.TOTP().Get(ctx, with.ID); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Errorf("TOTP after its delete in the transaction: %v, want ErrNotEnrolled", err)
		}
		// Another user's, and none.
		getWithHash(without.ID)
		if _, err := tx.TOTP().Get(ctx, with.ID); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Errorf("TOTP of a user other than the one read ahead: %v, want ErrNotEnrolled", err)
		}
		getWithHash(without.ID)
		if _, err := tx.TOTP().Get(ctx, without.ID); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Errorf("TOTP of a user without one, read ahead: %v, want ErrNotEnrolled", err)
		}
		if g, err := tx.Throttle().DeviceGeneration(ctx, without.ID); err != nil || g != 0 {
			t.Errorf("device generation of a user never revoked, read ahead: %d, %v; want 0", g, err)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	// Outside a transaction nothing is read ahead.
	if _, _, err := db.Users().(auth.UserHashStore).GetWithHash(ctx, with.ID); err != nil {
		t.Fatal(err)
	}
	if g, err := db.Throttle().DeviceGeneration(ctx, with.ID); err != nil || g != 2 {
		t.Errorf("device generation after the transaction: %d, %v; want 2", g, err)
	}
}
