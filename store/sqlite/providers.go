package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/store/internal/oidcjson"
)

type providerStore struct{ s *scope }

// Providers returns the store of OpenID providers.
func (s *scope) Providers() oidc.ProviderStore { return providerStore{s} }

// Providers returns the store of OpenID providers.
func (db *DB) Providers() oidc.ProviderStore { return db.root.Providers() }

const providerCols = `id, name, preset, issuer, client_id, key_id, sealed_secret, scopes, enabled,
	link_by_email, provisioning, allowed_domains, default_group, group_claim, group_map,
	require_second_factor, satisfies_two_factor, version, created_at, updated_at`

func scanProvider(sc scanner, p *oidc.Provider) error {
	var (
		f                oidcjson.Fields
		created, updated int64
	)
	if err := sc.Scan(&p.ID, &p.Name, &p.Preset, &p.Issuer, &p.ClientID, &p.KeyID, &p.SealedSecret, &f.Scopes,
		&p.Enabled, &p.LinkByEmail, &p.Provisioning, &f.AllowedDomains, &p.DefaultGroup, &p.GroupClaim, &f.GroupMap,
		&p.RequireSecondFactor, &p.SatisfiesTwoFactor, &p.Version, &created, &updated); err != nil {
		return err
	}
	p.CreatedAt, p.UpdatedAt = fromNanos(created), fromNanos(updated)
	return oidcjson.Decode(f, p)
}

func (ps providerStore) Create(ctx context.Context, p *oidc.Provider) error {
	f, err := oidcjson.Encode(p)
	if err != nil {
		return wrap("create provider", err)
	}
	const q = `INSERT INTO oidc_providers (` + providerCols + `)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)`
	_, err = ps.s.w.ExecContext(ctx, q, p.ID, p.Name, p.Preset, p.Issuer, p.ClientID, p.KeyID, bytesOrEmpty(p.SealedSecret),
		f.Scopes, p.Enabled, p.LinkByEmail, p.Provisioning, f.AllowedDomains, string(p.DefaultGroup), p.GroupClaim,
		f.GroupMap, p.RequireSecondFactor, p.SatisfiesTwoFactor, nanos(p.CreatedAt), nanos(p.UpdatedAt))
	if c := code(err); c == codePrimaryKey || c == codeUnique {
		return wrap("create provider", oidc.ErrProviderExists)
	}
	if err != nil {
		return wrap("create provider", err)
	}
	p.Version = 1
	return nil
}

func (ps providerStore) Get(ctx context.Context, id string) (*oidc.Provider, error) {
	p := new(oidc.Provider)
	err := scanProvider(ps.s.r.QueryRowContext(ctx, `SELECT `+providerCols+` FROM oidc_providers WHERE id = ?`, id), p)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("get provider", oidc.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get provider", err)
	}
	return p, nil
}

func (ps providerStore) List(ctx context.Context) ([]oidc.Provider, error) {
	return ps.list(ctx, "list providers", `ORDER BY id`)
}

// UnderOtherKey pages by the primary key; only an operator's rotation and
// a check at start ask. A provider without a secret has nothing to reseal.
func (ps providerStore) UnderOtherKey(ctx context.Context, keyID, after string, limit int) ([]oidc.Provider, error) {
	return ps.list(ctx, "list providers under another key",
		`WHERE key_id <> ? AND length(sealed_secret) > 0 AND id > ? ORDER BY id LIMIT ?`, keyID, after, limit)
}

// list reads the providers the clause (WHERE and ORDER BY) selects.
func (ps providerStore) list(ctx context.Context, op, clause string, args ...any) ([]oidc.Provider, error) {
	rows, err := ps.s.r.QueryContext(ctx, `SELECT `+providerCols+` FROM oidc_providers `+clause, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []oidc.Provider
	for rows.Next() {
		var p oidc.Provider
		if err := scanProvider(rows, &p); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, p)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

// Update is one UPDATE conditional on the version: of two admins saving
// the same version, the first wins and the second gets oidc.ErrStale.
func (ps providerStore) Update(ctx context.Context, p *oidc.Provider) error {
	f, err := oidcjson.Encode(p)
	if err != nil {
		return wrap("update provider", err)
	}
	const q = `UPDATE oidc_providers SET name = ?, preset = ?, issuer = ?, client_id = ?, scopes = ?, enabled = ?,
		link_by_email = ?, provisioning = ?, allowed_domains = ?, default_group = ?, group_claim = ?, group_map = ?,
		require_second_factor = ?, satisfies_two_factor = ?, updated_at = ?, version = version + 1
		WHERE id = ? AND version = ?`
	res, err := ps.s.w.ExecContext(ctx, q, p.Name, p.Preset, p.Issuer, p.ClientID, f.Scopes, p.Enabled,
		p.LinkByEmail, p.Provisioning, f.AllowedDomains, string(p.DefaultGroup), p.GroupClaim, f.GroupMap,
		p.RequireSecondFactor, p.SatisfiesTwoFactor, nanos(p.UpdatedAt), p.ID, p.Version)
	if err != nil {
		return wrap("update provider", err)
	}
	if err := ps.s.versioned(ctx, "update provider", res, `SELECT EXISTS (SELECT 1 FROM oidc_providers WHERE id = ?)`,
		p.ID, oidc.ErrNotFound, oidc.ErrStale); err != nil {
		return err
	}
	p.Version++
	return nil
}

func (ps providerStore) SetSecret(ctx context.Context, id, keyID string, sealed []byte) error {
	res, err := ps.s.w.ExecContext(ctx, `UPDATE oidc_providers SET key_id = ?, sealed_secret = ? WHERE id = ?`,
		keyID, bytesOrEmpty(sealed), id)
	return affected("set provider secret", res, err, oidc.ErrNotFound)
}

// Delete removes the provider; the foreign key cascades to the identities
// linked through it in the same statement.
func (ps providerStore) Delete(ctx context.Context, id string) error {
	res, err := ps.s.w.ExecContext(ctx, `DELETE FROM oidc_providers WHERE id = ?`, id)
	return affected("delete provider", res, err, oidc.ErrNotFound)
}

// Reseal is one conditional UPDATE: a concurrent change of the secret (a
// SetSecret, another rotation) wins, and a provider whose secret was
// cleared meanwhile gets none back.
func (ps providerStore) Reseal(ctx context.Context, id, oldKeyID, newKeyID string, sealed []byte) (bool, error) {
	const q = `UPDATE oidc_providers SET key_id = ?, sealed_secret = ?
		WHERE id = ? AND key_id = ? AND length(sealed_secret) > 0`
	res, err := ps.s.w.ExecContext(ctx, q, newKeyID, bytesOrEmpty(sealed), id, oldKeyID)
	n, err := rowsAffected("reseal provider", res, err)
	return n == 1, err
}
