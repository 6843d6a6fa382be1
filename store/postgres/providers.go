package postgres

import (
	"context"
	"errors"
	"fmt"

	"github.com/jackc/pgx/v5"

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

func scanProvider(row pgx.Row, p *oidc.Provider) error {
	var f oidcjson.Fields
	if err := row.Scan(&p.ID, &p.Name, &p.Preset, &p.Issuer, &p.ClientID, &p.KeyID, &p.SealedSecret, &f.Scopes,
		&p.Enabled, &p.LinkByEmail, &p.Provisioning, &f.AllowedDomains, (*string)(&p.DefaultGroup), &p.GroupClaim,
		&f.GroupMap, &p.RequireSecondFactor, &p.SatisfiesTwoFactor, &p.Version, &p.CreatedAt, &p.UpdatedAt); err != nil {
		return err
	}
	return oidcjson.Decode(f, p)
}

// providerText refuses a provider holding text PostgreSQL cannot store
// (NUL or invalid UTF-8), naming the field, before the server would fail
// the statement; and returns its list and map fields as JSON text.
func providerText(p *oidc.Provider) (oidcjson.Fields, error) {
	for _, f := range []struct{ name, value string }{
		{"ID", p.ID}, {"Name", p.Name}, {"Preset", p.Preset}, {"Issuer", p.Issuer}, {"ClientID", p.ClientID},
		{"KeyID", p.KeyID}, {"DefaultGroup", string(p.DefaultGroup)}, {"GroupClaim", p.GroupClaim},
	} {
		if !storable(f.value) {
			return oidcjson.Fields{}, unstorable(f.name)
		}
	}
	return oidcjson.Encode(p) // JSON escapes NUL; it refuses invalid UTF-8
}

func unstorable(field string) error {
	return fmt.Errorf("%w: %s holds NUL or invalid UTF-8", oidc.ErrInvalidProvider, field)
}

func (ps providerStore) Create(ctx context.Context, p *oidc.Provider) error {
	f, err := providerText(p)
	if err != nil {
		return wrap("create provider", err)
	}
	const q = `INSERT INTO oidc_providers (` + providerCols + `)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, 1, $18, $19)`
	_, err = ps.s.write(ctx, q, p.ID, p.Name, p.Preset, p.Issuer, p.ClientID, p.KeyID, bytesOrEmpty(p.SealedSecret),
		f.Scopes, p.Enabled, p.LinkByEmail, p.Provisioning, f.AllowedDomains, string(p.DefaultGroup), p.GroupClaim,
		f.GroupMap, p.RequireSecondFactor, p.SatisfiesTwoFactor, p.CreatedAt, p.UpdatedAt)
	if violates(err, codeUnique, "oidc_providers_pkey") {
		return wrap("create provider", oidc.ErrProviderExists)
	}
	if err != nil {
		return wrap("create provider", err)
	}
	p.Version = 1
	return nil
}

func (ps providerStore) Get(ctx context.Context, id string) (*oidc.Provider, error) {
	if !storable(id) {
		return nil, wrap("get provider", oidc.ErrNotFound)
	}
	p := new(oidc.Provider)
	err := scanProvider(ps.s.q.QueryRow(ctx, `SELECT `+providerCols+` FROM oidc_providers WHERE id = $1`, id), p)
	if errors.Is(err, pgx.ErrNoRows) {
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
	const op = "list providers under another key"
	if !storable(after) {
		return nil, nil // no stored ID is like it; callers only pass back IDs they were given
	}
	if !storable(keyID) { // no stored key ID equals it
		return ps.list(ctx, op, `WHERE octet_length(sealed_secret) > 0 AND id > $1 ORDER BY id LIMIT $2`, after, limit)
	}
	return ps.list(ctx, op, `WHERE key_id <> $1 AND octet_length(sealed_secret) > 0 AND id > $2 ORDER BY id LIMIT $3`,
		keyID, after, limit)
}

// list reads the providers the clause (WHERE and ORDER BY) selects.
func (ps providerStore) list(ctx context.Context, op, clause string, args ...any) ([]oidc.Provider, error) {
	rows, err := ps.s.q.Query(ctx, `SELECT `+providerCols+` FROM oidc_providers `+clause, args...)
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
// the same version, on this instance or another, the second waits for the
// first's row lock, finds the version moved and gets oidc.ErrStale.
func (ps providerStore) Update(ctx context.Context, p *oidc.Provider) error {
	if !storable(p.ID) {
		return wrap("update provider", oidc.ErrNotFound)
	}
	f, err := providerText(p)
	if err != nil {
		return wrap("update provider", err)
	}
	const q = `UPDATE oidc_providers SET name = $1, preset = $2, issuer = $3, client_id = $4, scopes = $5, enabled = $6,
		link_by_email = $7, provisioning = $8, allowed_domains = $9, default_group = $10, group_claim = $11, group_map = $12,
		require_second_factor = $13, satisfies_two_factor = $14, updated_at = $15, version = version + 1
		WHERE id = $16 AND version = $17`
	tag, err := ps.s.write(ctx, q, p.Name, p.Preset, p.Issuer, p.ClientID, f.Scopes, p.Enabled,
		p.LinkByEmail, p.Provisioning, f.AllowedDomains, string(p.DefaultGroup), p.GroupClaim, f.GroupMap,
		p.RequireSecondFactor, p.SatisfiesTwoFactor, p.UpdatedAt, p.ID, p.Version)
	if err != nil {
		return wrap("update provider", err)
	}
	if err := ps.s.versioned(ctx, "update provider", tag, `SELECT EXISTS (SELECT 1 FROM oidc_providers WHERE id = $1)`,
		p.ID, oidc.ErrNotFound, oidc.ErrStale); err != nil {
		return err
	}
	p.Version++
	return nil
}

func (ps providerStore) SetSecret(ctx context.Context, id, keyID string, sealed []byte) error {
	if !storable(id) {
		return wrap("set provider secret", oidc.ErrNotFound)
	}
	if !storable(keyID) {
		return wrap("set provider secret", unstorable("KeyID"))
	}
	tag, err := ps.s.q.Exec(ctx, `UPDATE oidc_providers SET key_id = $1, sealed_secret = $2 WHERE id = $3`,
		keyID, bytesOrEmpty(sealed), id)
	return affected("set provider secret", tag, err, oidc.ErrNotFound)
}

// Delete removes the provider; the foreign key cascades to the identities
// linked through it in the same statement.
func (ps providerStore) Delete(ctx context.Context, id string) error {
	if !storable(id) {
		return wrap("delete provider", oidc.ErrNotFound)
	}
	tag, err := ps.s.q.Exec(ctx, `DELETE FROM oidc_providers WHERE id = $1`, id)
	return affected("delete provider", tag, err, oidc.ErrNotFound)
}

// Reseal is one conditional UPDATE: a concurrent change of the secret (a
// SetSecret, another rotation) wins, and a provider whose secret was
// cleared meanwhile gets none back.
func (ps providerStore) Reseal(ctx context.Context, id, oldKeyID, newKeyID string, sealed []byte) (bool, error) {
	if !storable(id) || !storable(oldKeyID) {
		return false, nil
	}
	if !storable(newKeyID) {
		return false, wrap("reseal provider", unstorable("KeyID"))
	}
	const q = `UPDATE oidc_providers SET key_id = $1, sealed_secret = $2
		WHERE id = $3 AND key_id = $4 AND octet_length(sealed_secret) > 0`
	tag, err := ps.s.q.Exec(ctx, q, newKeyID, bytesOrEmpty(sealed), id, oldKeyID)
	n, err := rowsAffected("reseal provider", tag, err)
	return n == 1, err
}
