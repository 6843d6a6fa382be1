package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

type identityStore struct{ s *scope }

// Identities returns the store of identities at OpenID providers linked
// to local users.
func (s *scope) Identities() oidc.IdentityStore { return identityStore{s} }

// Identities returns the store of identities at OpenID providers linked
// to local users.
func (db *DB) Identities() oidc.IdentityStore { return db.root.Identities() }

const identityCols = `issuer, subject, provider_id, user_id, email, created_at, last_login_at`

func scanIdentity(sc scanner, i *oidc.Identity) error {
	var (
		created   int64
		lastLogin sql.NullInt64
	)
	if err := sc.Scan(&i.Issuer, &i.Subject, &i.ProviderID, &i.UserID, &i.Email, &created, &lastLogin); err != nil {
		return err
	}
	i.CreatedAt, i.LastLoginAt = fromNanos(created), fromNanos(lastLogin.Int64)
	return nil
}

// Link is one INSERT ... SELECT that inserts nothing when the provider
// does not exist: no row is an unknown provider, and a foreign key
// violation, checked at the end of the same statement, can then only be
// the user's. The writer's lock keeps anything from changing in between.
func (is identityStore) Link(ctx context.Context, i *oidc.Identity) error {
	const q = `INSERT INTO oidc_identities (` + identityCols + `)
		SELECT ?1, ?2, ?3, ?4, ?5, ?6, ?7 WHERE EXISTS (SELECT 1 FROM oidc_providers WHERE id = ?3)`
	res, err := is.s.w.ExecContext(ctx, q, i.Issuer, i.Subject, i.ProviderID, string(i.UserID), i.Email,
		nanos(i.CreatedAt), nullNanos(i.LastLoginAt))
	switch code(err) {
	case codePrimaryKey, codeUnique:
		return wrap("link identity", oidc.ErrIdentityTaken)
	case codeForeignKey:
		return wrap("link identity", user.ErrNotFound)
	}
	return affected("link identity", res, err, oidc.ErrNotFound)
}

func (is identityStore) Get(ctx context.Context, issuer, subject string) (*oidc.Identity, error) {
	i := new(oidc.Identity)
	const q = `SELECT ` + identityCols + ` FROM oidc_identities WHERE issuer = ? AND subject = ?`
	err := scanIdentity(is.s.r.QueryRowContext(ctx, q, issuer, subject), i)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("get identity", oidc.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get identity", err)
	}
	return i, nil
}

func (is identityStore) List(ctx context.Context, id user.ID) ([]oidc.Identity, error) {
	const q = `SELECT ` + identityCols + ` FROM oidc_identities WHERE user_id = ? ORDER BY created_at, issuer, subject`
	rows, err := is.s.r.QueryContext(ctx, q, string(id))
	if err != nil {
		return nil, wrap("list identities", err)
	}
	defer rows.Close()
	var out []oidc.Identity
	for rows.Next() {
		var i oidc.Identity
		if err := scanIdentity(rows, &i); err != nil {
			return nil, wrap("list identities", err)
		}
		out = append(out, i)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list identities", err)
	}
	return out, nil
}

func (is identityStore) Unlink(ctx context.Context, userID user.ID, issuer, subject string) error {
	res, err := is.s.w.ExecContext(ctx, `DELETE FROM oidc_identities WHERE issuer = ? AND subject = ? AND user_id = ?`,
		issuer, subject, string(userID))
	return affected("unlink identity", res, err, oidc.ErrNotFound)
}

func (is identityStore) Seen(ctx context.Context, issuer, subject, email string, at time.Time) error {
	res, err := is.s.w.ExecContext(ctx, `UPDATE oidc_identities SET email = ?, last_login_at = ? WHERE issuer = ? AND subject = ?`,
		email, nullNanos(at), issuer, subject)
	return affected("record identity login", res, err, oidc.ErrNotFound)
}
