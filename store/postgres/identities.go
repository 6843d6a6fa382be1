package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

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

func scanIdentity(row pgx.Row, i *oidc.Identity) error {
	var lastLogin pgtype.Timestamptz
	if err := row.Scan(&i.Issuer, &i.Subject, &i.ProviderID, (*string)(&i.UserID), &i.Email, &i.CreatedAt, &lastLogin); err != nil {
		return err
	}
	i.LastLoginAt = fromOpt(lastLogin)
	return nil
}

// errUnstorableIdentity refuses an issuer or subject PostgreSQL cannot
// store. It is no sentinel: no provider gives one, and the Manager refuses
// such a token first.
var errUnstorableIdentity = errors.New("issuer or subject holds NUL or invalid UTF-8")

// Link is one INSERT ... SELECT that inserts nothing when the provider
// does not exist: no row is an unknown provider, as in store/sqlite. A
// provider deleted between that check and the foreign key's (which sees
// the latest committed row, waiting for a delete in progress) fails the
// provider's constraint, and each constraint maps by its name.
func (is identityStore) Link(ctx context.Context, i *oidc.Identity) error {
	switch {
	case !storable(i.ProviderID):
		return wrap("link identity", oidc.ErrNotFound)
	case !storable(string(i.UserID)):
		return wrap("link identity", user.ErrNotFound)
	case !storable(i.Issuer) || !storable(i.Subject):
		return wrap("link identity", errUnstorableIdentity)
	}
	const q = `INSERT INTO oidc_identities (` + identityCols + `)
		SELECT $1::text, $2::text, $3::text, $4::text, $5::text, $6::timestamptz, $7::timestamptz
		WHERE EXISTS (SELECT 1 FROM oidc_providers WHERE id = $3)`
	tag, err := is.s.write(ctx, q, i.Issuer, i.Subject, i.ProviderID, string(i.UserID), i.Email,
		i.CreatedAt, optTime(i.LastLoginAt))
	switch {
	case violates(err, codeUnique, "oidc_identities_pkey"):
		return wrap("link identity", oidc.ErrIdentityTaken)
	case violates(err, codeForeignKey, "oidc_identities_user_fk"):
		return wrap("link identity", user.ErrNotFound)
	case violates(err, codeForeignKey, "oidc_identities_provider_fk"):
		return wrap("link identity", oidc.ErrNotFound)
	}
	return affected("link identity", tag, err, oidc.ErrNotFound)
}

func (is identityStore) Get(ctx context.Context, issuer, subject string) (*oidc.Identity, error) {
	if !storable(issuer) || !storable(subject) {
		return nil, wrap("get identity", oidc.ErrNotFound)
	}
	i := new(oidc.Identity)
	const q = `SELECT ` + identityCols + ` FROM oidc_identities WHERE issuer = $1 AND subject = $2`
	err := scanIdentity(is.s.q.QueryRow(ctx, q, issuer, subject), i)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("get identity", oidc.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get identity", err)
	}
	return i, nil
}

func (is identityStore) List(ctx context.Context, id user.ID) ([]oidc.Identity, error) {
	if !storable(string(id)) {
		return nil, nil
	}
	const q = `SELECT ` + identityCols + ` FROM oidc_identities WHERE user_id = $1 ORDER BY created_at, issuer, subject`
	rows, err := is.s.q.Query(ctx, q, string(id))
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
	if !storable(string(userID)) || !storable(issuer) || !storable(subject) {
		return wrap("unlink identity", oidc.ErrNotFound)
	}
	tag, err := is.s.q.Exec(ctx, `DELETE FROM oidc_identities WHERE issuer = $1 AND subject = $2 AND user_id = $3`,
		issuer, subject, string(userID))
	return affected("unlink identity", tag, err, oidc.ErrNotFound)
}

// Seen goes through write: an email the server refuses (NUL, invalid
// UTF-8) leaves a transaction usable.
func (is identityStore) Seen(ctx context.Context, issuer, subject, email string, at time.Time) error {
	if !storable(issuer) || !storable(subject) {
		return wrap("record identity login", oidc.ErrNotFound)
	}
	tag, err := is.s.write(ctx, `UPDATE oidc_identities SET email = $1, last_login_at = $2 WHERE issuer = $3 AND subject = $4`,
		email, optTime(at), issuer, subject)
	return affected("record identity login", tag, err, oidc.ErrNotFound)
}
