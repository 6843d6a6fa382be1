package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/usher-go/usher/auth"
)

type keyCheckStore struct{ s *scope }

// KeyCheck returns the store of the secret key's check value.
func (s *scope) KeyCheck() auth.KeyCheckStore { return keyCheckStore{s} }

// KeyCheck returns the store of the secret key's check value.
func (db *DB) KeyCheck() auth.KeyCheckStore { return db.root.KeyCheck() }

func (ks keyCheckStore) Get(ctx context.Context) (*auth.KeyCheck, error) {
	var c auth.KeyCheck
	err := ks.s.r.QueryRowContext(ctx, `SELECT key_id, value FROM key_check WHERE id = 1`).Scan(&c.KeyID, &c.Value)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("get key check", auth.ErrKeyCheckNotFound)
	}
	if err != nil {
		return nil, wrap("get key check", err)
	}
	return &c, nil
}

func (ks keyCheckStore) Set(ctx context.Context, c auth.KeyCheck, ifKeyID string) (bool, error) {
	var res sql.Result
	var err error
	if ifKeyID == "" {
		res, err = ks.s.w.ExecContext(ctx, `INSERT INTO key_check (id, key_id, value) VALUES (1, ?, ?)
			ON CONFLICT (id) DO NOTHING`, c.KeyID, c.Value)
	} else {
		res, err = ks.s.w.ExecContext(ctx, `UPDATE key_check SET key_id = ?, value = ? WHERE id = 1 AND key_id = ?`,
			c.KeyID, c.Value, ifKeyID)
	}
	if err != nil {
		return false, wrap("set key check", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap("set key check", err)
	}
	return n == 1, nil
}
