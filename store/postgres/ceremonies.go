package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

type ceremonyStore struct{ s *scope }

// Ceremonies returns the store of pending WebAuthn ceremonies.
func (s *scope) Ceremonies() passkey.CeremonyStore { return ceremonyStore{s} }

// Ceremonies returns the store of pending WebAuthn ceremonies.
func (db *DB) Ceremonies() passkey.CeremonyStore { return db.root.Ceremonies() }

// nullUser stores a ceremony without a user as NULL, which the foreign key
// lets through.
func nullUser(id user.ID) any {
	if id == "" {
		return nil
	}
	return string(id)
}

func (cs ceremonyStore) Create(ctx context.Context, c *passkey.Ceremony, keyHash []byte) error {
	if !storable(string(c.UserID)) {
		return wrap("create ceremony", user.ErrNotFound)
	}
	const q = `INSERT INTO passkey_ceremonies (id, key_hash, kind, user_id, challenge_id, data, created_at, expires_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`
	_, err := cs.s.write(ctx, q, c.ID, keyHash, c.Kind, nullUser(c.UserID), c.ChallengeID,
		bytesOrEmpty(c.Data), c.CreatedAt, c.ExpiresAt)
	if violates(err, codeForeignKey, "passkey_ceremonies_user_fk") {
		return wrap("create ceremony", user.ErrNotFound)
	}
	if err != nil {
		return wrap("create ceremony", err)
	}
	return nil
}

// Take is one DELETE ... RETURNING: of concurrent calls, the first deletes
// the row and gets it; the others wait for its row lock and find nothing.
func (cs ceremonyStore) Take(ctx context.Context, keyHash []byte) (*passkey.Ceremony, error) {
	c := new(passkey.Ceremony)
	err := cs.s.q.QueryRow(ctx, `DELETE FROM passkey_ceremonies WHERE key_hash = $1
		RETURNING id, kind, COALESCE(user_id, ''), challenge_id, data, created_at, expires_at`, bytesOrEmpty(keyHash)).Scan(
		&c.ID, &c.Kind, (*string)(&c.UserID), &c.ChallengeID, &c.Data, &c.CreatedAt, &c.ExpiresAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("take ceremony", passkey.ErrCeremonyNotFound)
	}
	if err != nil {
		return nil, wrap("take ceremony", err)
	}
	return c, nil
}

// DeleteExpired is served by the passkey_ceremonies_expires index.
func (cs ceremonyStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	tag, err := cs.s.q.Exec(ctx, `DELETE FROM passkey_ceremonies WHERE expires_at < $1`, now)
	return rowsAffected("delete expired ceremonies", tag, err)
}
