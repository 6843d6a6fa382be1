package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

type flowStore struct{ s *scope }

// Flows returns the store of pending logins at OpenID providers.
func (s *scope) Flows() oidc.FlowStore { return flowStore{s} }

// Flows returns the store of pending logins at OpenID providers.
func (db *DB) Flows() oidc.FlowStore { return db.root.Flows() }

func (fs flowStore) Create(ctx context.Context, f *oidc.Flow, keyHash []byte) error {
	const q = `INSERT INTO oidc_flows
		(id, key_hash, provider_id, state, nonce, verifier, return_to, link_user, created_at, expires_at, remember)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := fs.s.w.ExecContext(ctx, q, f.ID, bytesOrEmpty(keyHash), f.ProviderID, f.State, f.Nonce, f.Verifier,
		f.ReturnTo, nullUser(f.LinkUser), nanos(f.CreatedAt), nanos(f.ExpiresAt), f.Remember)
	if code(err) == codeForeignKey { // link_user is the only reference
		return wrap("create flow", user.ErrNotFound)
	}
	if err != nil {
		return wrap("create flow", err)
	}
	return nil
}

// Take is one DELETE ... RETURNING: of concurrent calls, the first deletes
// the row and gets it, the others find nothing.
func (fs flowStore) Take(ctx context.Context, keyHash []byte) (*oidc.Flow, error) {
	f := new(oidc.Flow)
	var created, expires int64
	const q = `DELETE FROM oidc_flows WHERE key_hash = ?
		RETURNING id, provider_id, state, nonce, verifier, return_to, COALESCE(link_user, ''), created_at, expires_at, remember`
	err := fs.s.w.QueryRowContext(ctx, q, bytesOrEmpty(keyHash)).Scan(&f.ID, &f.ProviderID, &f.State, &f.Nonce,
		&f.Verifier, &f.ReturnTo, (*string)(&f.LinkUser), &created, &expires, &f.Remember)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("take flow", oidc.ErrFlowNotFound)
	}
	if err != nil {
		return nil, wrap("take flow", err)
	}
	f.CreatedAt, f.ExpiresAt = fromNanos(created), fromNanos(expires)
	return f, nil
}

func (fs flowStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := fs.s.w.ExecContext(ctx, `DELETE FROM oidc_flows WHERE expires_at < ?`, nanos(now))
	return rowsAffected("delete expired flows", res, err)
}
