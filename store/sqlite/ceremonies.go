package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

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
	const q = `INSERT INTO passkey_ceremonies (id, key_hash, kind, user_id, challenge_id, data, created_at, expires_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := cs.s.w.ExecContext(ctx, q, c.ID, keyHash, c.Kind, nullUser(c.UserID), c.ChallengeID,
		bytesOrEmpty(c.Data), nanos(c.CreatedAt), nanos(c.ExpiresAt))
	if code(err) == codeForeignKey {
		return wrap("create ceremony", user.ErrNotFound)
	}
	if err != nil {
		return wrap("create ceremony", err)
	}
	return nil
}

// Take is one DELETE ... RETURNING: of concurrent calls, the first deletes
// the row and gets it, the others find nothing.
func (cs ceremonyStore) Take(ctx context.Context, keyHash []byte) (*passkey.Ceremony, error) {
	c := new(passkey.Ceremony)
	var created, expires int64
	err := cs.s.w.QueryRowContext(ctx, `DELETE FROM passkey_ceremonies WHERE key_hash = ?
		RETURNING id, kind, COALESCE(user_id, ''), challenge_id, data, created_at, expires_at`, bytesOrEmpty(keyHash)).Scan(
		&c.ID, &c.Kind, (*string)(&c.UserID), &c.ChallengeID, &c.Data, &created, &expires)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("take ceremony", passkey.ErrCeremonyNotFound)
	}
	if err != nil {
		return nil, wrap("take ceremony", err)
	}
	c.CreatedAt, c.ExpiresAt = fromNanos(created), fromNanos(expires)
	return c, nil
}

func (cs ceremonyStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := cs.s.w.ExecContext(ctx, `DELETE FROM passkey_ceremonies WHERE expires_at < ?`, nanos(now))
	return rowsAffected("delete expired ceremonies", res, err)
}
