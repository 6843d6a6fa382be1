package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/auth"
)

type keyCheckStore struct{ s *scope }

// KeyCheck returns the store of the secret key's check value.
func (s *scope) KeyCheck() auth.KeyCheckStore { return keyCheckStore{s} }

// KeyCheck returns the store of the secret key's check value.
func (db *DB) KeyCheck() auth.KeyCheckStore { return db.root.KeyCheck() }

func (ks keyCheckStore) Get(ctx context.Context) (*auth.KeyCheck, error) {
	var c auth.KeyCheck
	err := ks.s.q.QueryRow(ctx, `SELECT key_id, value FROM key_check WHERE id = 1`).Scan(&c.KeyID, &c.Value)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("get key check", auth.ErrKeyCheckNotFound)
	}
	if err != nil {
		return nil, wrap("get key check", err)
	}
	return &c, nil
}

// Set is one statement: instances starting at once on an empty schema
// insert once (ON CONFLICT DO NOTHING), and a move to a new key is an
// UPDATE ... WHERE on the old key ID.
func (ks keyCheckStore) Set(ctx context.Context, c auth.KeyCheck, ifKeyID string) (bool, error) {
	if !storable(c.KeyID) || !storable(ifKeyID) {
		return false, nil
	}
	q, args := `INSERT INTO key_check (id, key_id, value) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING`, []any{c.KeyID, c.Value}
	if ifKeyID != "" {
		q = `UPDATE key_check SET key_id = $1, value = $2 WHERE id = 1 AND key_id = $3`
		args = append(args, ifKeyID)
	}
	tag, err := ks.s.write(ctx, q, args...)
	if err != nil {
		return false, wrap("set key check", err)
	}
	return tag.RowsAffected() == 1, nil
}
