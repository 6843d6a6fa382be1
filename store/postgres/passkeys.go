package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

type passkeyStore struct{ s *scope }

// Passkeys returns the store of passkeys and WebAuthn user handles.
func (s *scope) Passkeys() passkey.Store { return passkeyStore{s} }

// Passkeys returns the store of passkeys and WebAuthn user handles.
func (db *DB) Passkeys() passkey.Store { return db.root.Passkeys() }

const passkeyCols = `id, user_id, name, credential_id, public_key, aaguid, transports,
	backup_eligible, backed_up, sign_count, created_at, last_used_at, key_id, mac`

func scanPasskey(row pgx.Row, c *passkey.Credential) error {
	var (
		signCount int64
		lastUsed  pgtype.Timestamptz
	)
	if err := row.Scan(&c.ID, (*string)(&c.UserID), &c.Name, &c.CredentialID, &c.PublicKey, &c.AAGUID, &c.Transports,
		&c.BackupEligible, &c.BackedUp, &signCount, &c.CreatedAt, &lastUsed, &c.KeyID, &c.MAC); err != nil {
		return err
	}
	c.SignCount, c.LastUsedAt = uint32(signCount), fromOpt(lastUsed)
	return nil
}

// bytesOrEmpty passes a nil slice as an empty bytea, not NULL.
func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (ps passkeyStore) Create(ctx context.Context, c *passkey.Credential) error {
	if !storable(string(c.UserID)) {
		return wrap("create passkey", user.ErrNotFound)
	}
	transports := c.Transports
	if transports == nil {
		transports = []string{} // an empty array, not NULL
	}
	const q = `INSERT INTO passkeys (` + passkeyCols + `) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)`
	_, err := ps.s.write(ctx, q, c.ID, string(c.UserID), c.Name, bytesOrEmpty(c.CredentialID), bytesOrEmpty(c.PublicKey),
		bytesOrEmpty(c.AAGUID), transports, c.BackupEligible, c.BackedUp, int64(c.SignCount), c.CreatedAt, optTime(c.LastUsedAt),
		c.KeyID, bytesOrEmpty(c.MAC))
	switch {
	case violates(err, codeForeignKey, "passkeys_user_fk"):
		return wrap("create passkey", user.ErrNotFound)
	case violates(err, codeUnique, "passkeys_credential_id_unique"):
		return wrap("create passkey", passkey.ErrCredentialTaken)
	case err != nil:
		return wrap("create passkey", err)
	}
	return nil
}

func (ps passkeyStore) getOne(ctx context.Context, op, where string, arg any) (*passkey.Credential, error) {
	c := new(passkey.Credential)
	err := scanPasskey(ps.s.q.QueryRow(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE `+where, arg), c)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap(op, passkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return c, nil
}

func (ps passkeyStore) Get(ctx context.Context, id string) (*passkey.Credential, error) {
	if !storable(id) {
		return nil, wrap("get passkey", passkey.ErrNotFound)
	}
	return ps.getOne(ctx, "get passkey", `id = $1`, id)
}

func (ps passkeyStore) GetByCredentialID(ctx context.Context, credID []byte) (*passkey.Credential, error) {
	return ps.getOne(ctx, "get passkey", `credential_id = $1`, bytesOrEmpty(credID))
}

func (ps passkeyStore) List(ctx context.Context, userID user.ID) ([]passkey.Credential, error) {
	if !storable(string(userID)) {
		return nil, nil
	}
	return ps.list(ctx, "list passkeys", `WHERE user_id = $1 ORDER BY created_at, id`, string(userID))
}

// UnderOtherKey pages by the primary key; only an operator's rotation and
// a check at start ask.
func (ps passkeyStore) UnderOtherKey(ctx context.Context, keyID string, after string, limit int) ([]passkey.Credential, error) {
	const op = "list passkeys under another key"
	if !storable(after) {
		return nil, nil // no stored ID is like it; callers only pass back IDs they were given
	}
	if !storable(keyID) { // no stored key ID equals it
		return ps.list(ctx, op, `WHERE id > $1 ORDER BY id LIMIT $2`, after, limit)
	}
	return ps.list(ctx, op, `WHERE key_id <> $1 AND id > $2 ORDER BY id LIMIT $3`, keyID, after, limit)
}

// list reads the passkeys the clause (WHERE and ORDER BY) selects.
func (ps passkeyStore) list(ctx context.Context, op, clause string, args ...any) ([]passkey.Credential, error) {
	rows, err := ps.s.q.Query(ctx, `SELECT `+passkeyCols+` FROM passkeys `+clause, args...)
	if err != nil {
		return nil, wrap(op, err)
	}
	defer rows.Close()
	var out []passkey.Credential
	for rows.Next() {
		var c passkey.Credential
		if err := scanPasskey(rows, &c); err != nil {
			return nil, wrap(op, err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap(op, err)
	}
	return out, nil
}

func (ps passkeyStore) Remac(ctx context.Context, id, oldKeyID, newKeyID string, mac []byte) (bool, error) {
	if !storable(id) || !storable(oldKeyID) {
		return false, nil
	}
	tag, err := ps.s.q.Exec(ctx, `UPDATE passkeys SET key_id = $1, mac = $2 WHERE id = $3 AND key_id = $4`,
		newKeyID, bytesOrEmpty(mac), id, oldKeyID)
	n, err := rowsAffected("remac passkey", tag, err)
	return n == 1, err
}

func (ps passkeyStore) Count(ctx context.Context, userID user.ID) (int, error) {
	if !storable(string(userID)) {
		return 0, nil
	}
	var n int
	if err := ps.s.q.QueryRow(ctx, `SELECT count(*) FROM passkeys WHERE user_id = $1`, string(userID)).Scan(&n); err != nil {
		return 0, wrap("count passkeys", err)
	}
	return n, nil
}

func (ps passkeyStore) Rename(ctx context.Context, id string, userID user.ID, name string) error {
	if !storable(id) || !storable(string(userID)) {
		return wrap("rename passkey", passkey.ErrNotFound)
	}
	if !storable(name) {
		return wrap("rename passkey", passkey.ErrInvalidName)
	}
	tag, err := ps.s.q.Exec(ctx, `UPDATE passkeys SET name = $1 WHERE id = $2 AND user_id = $3`, name, id, string(userID))
	return affected("rename passkey", tag, err, passkey.ErrNotFound)
}

func (ps passkeyStore) Delete(ctx context.Context, id string, userID user.ID) error {
	if !storable(id) || !storable(string(userID)) {
		return wrap("delete passkey", passkey.ErrNotFound)
	}
	tag, err := ps.s.q.Exec(ctx, `DELETE FROM passkeys WHERE id = $1 AND user_id = $2`, id, string(userID))
	return affected("delete passkey", tag, err, passkey.ErrNotFound)
}

func (ps passkeyStore) DeleteUser(ctx context.Context, userID user.ID) (int, error) {
	if !storable(string(userID)) {
		return 0, nil
	}
	tag, err := ps.s.q.Exec(ctx, `DELETE FROM passkeys WHERE user_id = $1`, string(userID))
	return rowsAffected("delete user passkeys", tag, err)
}

// UpdateUse is the clone check: one conditional UPDATE. Of two logins
// carrying the same count, on this instance or another, the second waits
// for the first's row lock, re-checks the condition against the row the
// first left, and updates nothing. Only a refusal pays a second query, to
// tell a count that did not grow from a passkey deleted meanwhile.
func (ps passkeyStore) UpdateUse(ctx context.Context, id string, signCount uint32, backedUp bool, at time.Time) (bool, error) {
	if !storable(id) {
		return false, wrap("update passkey use", passkey.ErrNotFound)
	}
	const q = `UPDATE passkeys SET sign_count = $1, backed_up = $2, last_used_at = $3
		WHERE id = $4 AND (sign_count < $1 OR (sign_count = 0 AND $1 = 0))`
	tag, err := ps.s.q.Exec(ctx, q, int64(signCount), backedUp, at, id)
	n, err := rowsAffected("update passkey use", tag, err)
	if err != nil || n == 1 {
		return n == 1, err
	}
	var found bool
	if err := ps.s.q.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = $1)`, id).Scan(&found); err != nil {
		return false, wrap("update passkey use", err)
	}
	if !found {
		return false, wrap("update passkey use", passkey.ErrNotFound)
	}
	return false, nil
}

func (ps passkeyStore) UserHandle(ctx context.Context, userID user.ID) ([]byte, error) {
	if !storable(string(userID)) {
		return nil, nil
	}
	var h []byte
	err := ps.s.q.QueryRow(ctx, `SELECT handle FROM passkey_users WHERE user_id = $1`, string(userID)).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("user handle", err)
	}
	return h, nil
}

// SetUserHandle inserts the handle unless the user has one, then reads
// the one stored: of concurrent first registrations, one insert wins, the
// others wait for its row lock, insert nothing and read its handle. The
// insert goes through write, so a taken handle inside Atomic leaves the
// transaction usable.
func (ps passkeyStore) SetUserHandle(ctx context.Context, userID user.ID, handle []byte) ([]byte, error) {
	if !storable(string(userID)) {
		return nil, wrap("set user handle", user.ErrNotFound)
	}
	_, err := ps.s.write(ctx, `INSERT INTO passkey_users (user_id, handle) VALUES ($1, $2) ON CONFLICT (user_id) DO NOTHING`,
		string(userID), bytesOrEmpty(handle))
	switch {
	case violates(err, codeForeignKey, "passkey_users_user_fk"):
		return nil, wrap("set user handle", user.ErrNotFound)
	case violates(err, codeUnique, "passkey_users_handle_unique"):
		return nil, wrap("set user handle", passkey.ErrHandleTaken)
	case err != nil:
		return nil, wrap("set user handle", err)
	}
	var h []byte
	err = ps.s.q.QueryRow(ctx, `SELECT handle FROM passkey_users WHERE user_id = $1`, string(userID)).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) { // the user went meanwhile
		return nil, wrap("set user handle", user.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("set user handle", err)
	}
	return h, nil
}

func (ps passkeyStore) UserByHandle(ctx context.Context, handle []byte) (user.ID, error) {
	var id string
	err := ps.s.q.QueryRow(ctx, `SELECT user_id FROM passkey_users WHERE handle = $1`, bytesOrEmpty(handle)).Scan(&id)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", wrap("user by handle", passkey.ErrNotFound)
	}
	if err != nil {
		return "", wrap("user by handle", err)
	}
	return user.ID(id), nil
}
