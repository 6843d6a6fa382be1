package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

type flowStore struct{ s *scope }

// Flows returns the store of pending logins at OpenID providers.
func (s *scope) Flows() oidc.FlowStore { return flowStore{s} }

// Flows returns the store of pending logins at OpenID providers.
func (db *DB) Flows() oidc.FlowStore { return db.root.Flows() }

// Create goes through write: a taken key hash, an unknown LinkUser or text
// the server refuses leaves a transaction usable.
func (fs flowStore) Create(ctx context.Context, f *oidc.Flow, keyHash []byte) error {
	if !storable(string(f.LinkUser)) {
		return wrap("create flow", user.ErrNotFound)
	}
	const q = `INSERT INTO oidc_flows
		(id, key_hash, provider_id, state, nonce, verifier, return_to, link_user, created_at, expires_at, remember)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	_, err := fs.s.write(ctx, q, f.ID, bytesOrEmpty(keyHash), f.ProviderID, f.State, f.Nonce, f.Verifier,
		f.ReturnTo, nullUser(f.LinkUser), f.CreatedAt, f.ExpiresAt, f.Remember)
	if violates(err, codeForeignKey, "oidc_flows_link_user_fk") {
		return wrap("create flow", user.ErrNotFound)
	}
	if err != nil {
		return wrap("create flow", err)
	}
	return nil
}

// Take is one DELETE ... RETURNING: of concurrent calls, the first deletes
// the row and gets it; the others wait for its row lock and find nothing.
func (fs flowStore) Take(ctx context.Context, keyHash []byte) (*oidc.Flow, error) {
	f := new(oidc.Flow)
	const q = `DELETE FROM oidc_flows WHERE key_hash = $1
		RETURNING id, provider_id, state, nonce, verifier, return_to, COALESCE(link_user, ''), created_at, expires_at, remember`
	err := fs.s.q.QueryRow(ctx, q, bytesOrEmpty(keyHash)).Scan(&f.ID, &f.ProviderID, &f.State, &f.Nonce,
		&f.Verifier, &f.ReturnTo, (*string)(&f.LinkUser), &f.CreatedAt, &f.ExpiresAt, &f.Remember)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("take flow", oidc.ErrFlowNotFound)
	}
	if err != nil {
		return nil, wrap("take flow", err)
	}
	return f, nil
}

// DeleteExpired is served by the oidc_flows_expires index.
func (fs flowStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	tag, err := fs.s.q.Exec(ctx, `DELETE FROM oidc_flows WHERE expires_at < $1`, now)
	return rowsAffected("delete expired flows", tag, err)
}
