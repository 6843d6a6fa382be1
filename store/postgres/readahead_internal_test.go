package postgres

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
// would; once the transaction has sent another statement, they read
// again, and see its writes.
func TestReadAhead(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	with, without := testUser("totp@example.com", group.UsersID), testUser("plain@example.com", group.UsersID)
	for _, u := range []*user.User{with, without} {
		must(t, "create user", db.Users().Create(ctx, u, "hash"))
	}
	cred := &totp.Credential{UserID: with.ID, KeyID: "k1", Sealed: []byte{1, 2, 3}, LastStep: 7, CreatedAt: t0, ConfirmedAt: t0}
	must(t, "put totp", db.TOTP().Put(ctx, cred))
	if _, err := db.Throttle().RevokeDevices(ctx, with.ID); err != nil {
		t.Fatal(err)
	}
	err := db.Atomic(ctx, func(tx auth.Store) error {
		if _, _, err := tx.Users().(auth.UserHashStore).GetWithHash(ctx, with.ID); err != nil {
			return err
		}
		if g, err := tx.Throttle().DeviceGeneration(ctx, with.ID); err != nil || g != 1 {
			t.Errorf("device generation read ahead: %d, %v; want 1", g, err)
		}
		c, err := tx.TOTP().Get(ctx, with.ID)
		if err != nil || c.KeyID != "k1" || string(c.Sealed) != "\x01\x02\x03" || c.LastStep != 7 ||
			!c.CreatedAt.Equal(t0) || !c.ConfirmedAt.Equal(t0) || c.UserID != with.ID {
			t.Errorf("TOTP read ahead: %+v, %v; want %+v", c, err, cred)
		}
		// A write in between: both read again.
		if _, err := tx.Throttle().RevokeDevices(ctx, with.ID); err != nil {
			return err
		}
		if g, err := tx.Throttle().DeviceGeneration(ctx, with.ID); err != nil || g != 2 {
			t.Errorf("device generation after a revoke in the transaction: %d, %v; want 2", g, err)
		}
		if _, _, err := tx.Users().(auth.UserHashStore).GetWithHash(ctx, with.ID); err != nil {
			return err
		}
		if err := tx.TOTP().Delete(ctx, with.ID); err != nil {
			return err
		}
		if _, err := tx.TOTP().Get(ctx, with.ID); !errors.Is(err, totp.ErrNotEnrolled) {
			t.Errorf("TOTP after its delete in the transaction: %v, want ErrNotEnrolled", err)
		}
		// Another user's, and none.
		if _, _, err := tx.Users().(auth.UserHashStore).GetWithHash(ctx, without.ID); err != nil {
			return err
		}
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
}
