package sqlite

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
	_, err := ss.s.w.ExecContext(ctx, `INSERT INTO setup_tokens (token_hash, expires_at) VALUES (?, ?)
		ON CONFLICT (token_hash) DO UPDATE SET expires_at = excluded.expires_at`, tokenHash, nanos(expires))
	if err != nil {
		return wrap("add setup token", err)
	}
	return nil
}

func (ss setupStore) Valid(ctx context.Context, tokenHash []byte, now time.Time) (bool, error) {
	var n int
	err := ss.s.r.QueryRowContext(ctx, `SELECT count(*) FROM setup_tokens WHERE token_hash = ? AND expires_at > ?`,
		tokenHash, nanos(now)).Scan(&n)
	if err != nil {
		return false, wrap("check setup token", err)
	}
	return n > 0, nil
}

// Spend is one DELETE whose rows affected decide the outcome.
func (ss setupStore) Spend(ctx context.Context, tokenHash []byte, now time.Time) (bool, error) {
	res, err := ss.s.w.ExecContext(ctx, `DELETE FROM setup_tokens
		WHERE EXISTS (SELECT 1 FROM setup_tokens WHERE token_hash = ? AND expires_at > ?)`, tokenHash, nanos(now))
	n, err := rowsAffected("spend setup token", res, err)
	return n > 0, err
}
