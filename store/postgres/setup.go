package postgres

import (
	"context"
	"time"

	"github.com/usher-go/usher/auth"
)

type setupStore struct{ s *scope }

// Setup returns the store of the setup tokens that guard the first sign-up.
func (s *scope) Setup() auth.SetupStore { return setupStore{s} }

// Setup returns the store of the setup tokens that guard the first sign-up.
func (db *DB) Setup() auth.SetupStore { return db.root.Setup() }

func (ss setupStore) Add(ctx context.Context, tokenHash []byte, expires time.Time) error {
	_, err := ss.s.write(ctx, `INSERT INTO setup_tokens (token_hash, expires_at) VALUES ($1, $2)
		ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at`, tokenHash, expires)
	if err != nil {
		return wrap("add setup token", err)
	}
	return nil
}

func (ss setupStore) Valid(ctx context.Context, tokenHash []byte, now time.Time) (bool, error) {
	var ok bool
	err := ss.s.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2)`,
		tokenHash, now).Scan(&ok)
	if err != nil {
		return false, wrap("check setup token", err)
	}
	return ok, nil
}

// Spend is one DELETE whose rows affected decide the outcome.
func (ss setupStore) Spend(ctx context.Context, tokenHash []byte, now time.Time) (bool, error) {
	tag, err := ss.s.write(ctx, `DELETE FROM setup_tokens
		WHERE EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = $1 AND expires_at > $2)`, tokenHash, now)
	if err != nil {
		return false, wrap("spend setup token", err)
	}
	return tag.RowsAffected() > 0, nil
}
