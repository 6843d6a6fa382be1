package sqlite

import (
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"time"

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

func scanPasskey(sc scanner, c *passkey.Credential) error {
	var (
		transports string
		created    int64
		lastUsed   sql.NullInt64
	)
	if err := sc.Scan(&c.ID, &c.UserID, &c.Name, &c.CredentialID, &c.PublicKey, &c.AAGUID, &transports,
		&c.BackupEligible, &c.BackedUp, &c.SignCount, &created, &lastUsed, &c.KeyID, &c.MAC); err != nil {
		return err
	}
	c.CreatedAt, c.LastUsedAt = fromNanos(created), fromNanos(lastUsed.Int64)
	return json.Unmarshal([]byte(transports), &c.Transports)
}

// bytesOrEmpty stores a nil slice as an empty BLOB, not NULL.
func bytesOrEmpty(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}

func (ps passkeyStore) Create(ctx context.Context, c *passkey.Credential) error {
	transports, err := json.Marshal(c.Transports)
	if err != nil {
		return wrap("create passkey", err)
	}
	if c.Transports == nil {
		transports = []byte("[]")
	}
	const q = `INSERT INTO passkeys (` + passkeyCols + `) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err = ps.s.w.ExecContext(ctx, q, c.ID, c.UserID, c.Name, bytesOrEmpty(c.CredentialID), bytesOrEmpty(c.PublicKey),
		bytesOrEmpty(c.AAGUID), string(transports), c.BackupEligible, c.BackedUp, int64(c.SignCount),
		nanos(c.CreatedAt), nullNanos(c.LastUsedAt), c.KeyID, bytesOrEmpty(c.MAC))
	switch code(err) {
	case codeForeignKey:
		return wrap("create passkey", user.ErrNotFound)
	case codeUnique:
		return wrap("create passkey", passkey.ErrCredentialTaken)
	}
	if err != nil {
		return wrap("create passkey", err)
	}
	return nil
}

func (ps passkeyStore) getOne(ctx context.Context, op, where string, arg any) (*passkey.Credential, error) {
	c := new(passkey.Credential)
	err := scanPasskey(ps.s.r.QueryRowContext(ctx, `SELECT `+passkeyCols+` FROM passkeys WHERE `+where, arg), c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(op, passkey.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return c, nil
}

func (ps passkeyStore) Get(ctx context.Context, id string) (*passkey.Credential, error) {
	return ps.getOne(ctx, "get passkey", `id = ?`, id)
}

func (ps passkeyStore) GetByCredentialID(ctx context.Context, credID []byte) (*passkey.Credential, error) {
	return ps.getOne(ctx, "get passkey", `credential_id = ?`, bytesOrEmpty(credID))
}

func (ps passkeyStore) List(ctx context.Context, userID user.ID) ([]passkey.Credential, error) {
	return ps.list(ctx, "list passkeys", `WHERE user_id = ? ORDER BY created_at, id`, userID)
}

// UnderOtherKey pages by the primary key; only an operator's rotation and
// a check at start ask.
func (ps passkeyStore) UnderOtherKey(ctx context.Context, keyID string, after string, limit int) ([]passkey.Credential, error) {
	return ps.list(ctx, "list passkeys under another key", `WHERE key_id <> ? AND id > ? ORDER BY id LIMIT ?`, keyID, after, limit)
}

// list reads the passkeys the clause (WHERE and ORDER BY) selects.
func (ps passkeyStore) list(ctx context.Context, op, clause string, args ...any) ([]passkey.Credential, error) {
	rows, err := ps.s.r.QueryContext(ctx, `SELECT `+passkeyCols+` FROM passkeys `+clause, args...)
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
	res, err := ps.s.w.ExecContext(ctx, `UPDATE passkeys SET key_id = ?, mac = ? WHERE id = ? AND key_id = ?`,
		newKeyID, bytesOrEmpty(mac), id, oldKeyID)
	n, err := rowsAffected("remac passkey", res, err)
	return n == 1, err
}

func (ps passkeyStore) Count(ctx context.Context, userID user.ID) (int, error) {
	var n int
	if err := ps.s.r.QueryRowContext(ctx, `SELECT count(*) FROM passkeys WHERE user_id = ?`, userID).Scan(&n); err != nil {
		return 0, wrap("count passkeys", err)
	}
	return n, nil
}

func (ps passkeyStore) Rename(ctx context.Context, id string, userID user.ID, name string) error {
	res, err := ps.s.w.ExecContext(ctx, `UPDATE passkeys SET name = ? WHERE id = ? AND user_id = ?`, name, id, userID)
	return affected("rename passkey", res, err, passkey.ErrNotFound)
}

func (ps passkeyStore) Delete(ctx context.Context, id string, userID user.ID) error {
	res, err := ps.s.w.ExecContext(ctx, `DELETE FROM passkeys WHERE id = ? AND user_id = ?`, id, userID)
	return affected("delete passkey", res, err, passkey.ErrNotFound)
}

func (ps passkeyStore) DeleteUser(ctx context.Context, userID user.ID) (int, error) {
	res, err := ps.s.w.ExecContext(ctx, `DELETE FROM passkeys WHERE user_id = ?`, userID)
	return rowsAffected("delete user passkeys", res, err)
}

// UpdateUse is the clone check: one conditional UPDATE, so of two logins
// carrying the same count (on this instance or another) exactly one moves
// sign_count forward. Only a refusal pays a second query, to tell a count
// that did not grow from a passkey deleted meanwhile.
func (ps passkeyStore) UpdateUse(ctx context.Context, id string, signCount uint32, backedUp bool, at time.Time) (bool, error) {
	const q = `UPDATE passkeys SET sign_count = ?1, backed_up = ?2, last_used_at = ?3
		WHERE id = ?4 AND (sign_count < ?1 OR (sign_count = 0 AND ?1 = 0))`
	res, err := ps.s.w.ExecContext(ctx, q, int64(signCount), backedUp, nanos(at), id)
	n, err := rowsAffected("update passkey use", res, err)
	if err != nil || n == 1 {
		return n == 1, err
	}
	var found bool
	if err := ps.s.w.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM passkeys WHERE id = ?)`, id).Scan(&found); err != nil {
		return false, wrap("update passkey use", err)
	}
	if !found {
		return false, wrap("update passkey use", passkey.ErrNotFound)
	}
	return false, nil
}

func (ps passkeyStore) UserHandle(ctx context.Context, userID user.ID) ([]byte, error) {
	var h []byte
	err := ps.s.r.QueryRowContext(ctx, `SELECT handle FROM passkey_users WHERE user_id = ?`, userID).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil
	}
	if err != nil {
		return nil, wrap("user handle", err)
	}
	return h, nil
}

// SetUserHandle is one upsert that keeps the stored handle and returns it:
// of concurrent first registrations, the first insert wins and the others
// read its handle.
func (ps passkeyStore) SetUserHandle(ctx context.Context, userID user.ID, handle []byte) ([]byte, error) {
	const q = `INSERT INTO passkey_users (user_id, handle) VALUES (?, ?)
		ON CONFLICT (user_id) DO UPDATE SET handle = passkey_users.handle RETURNING handle`
	var h []byte
	err := ps.s.w.QueryRowContext(ctx, q, userID, bytesOrEmpty(handle)).Scan(&h)
	switch code(err) {
	case codeForeignKey:
		return nil, wrap("set user handle", user.ErrNotFound)
	case codeUnique:
		return nil, wrap("set user handle", passkey.ErrHandleTaken)
	}
	if err != nil {
		return nil, wrap("set user handle", err)
	}
	return h, nil
}

func (ps passkeyStore) UserByHandle(ctx context.Context, handle []byte) (user.ID, error) {
	var id user.ID
	err := ps.s.r.QueryRowContext(ctx, `SELECT user_id FROM passkey_users WHERE handle = ?`, bytesOrEmpty(handle)).Scan(&id)
	if errors.Is(err, sql.ErrNoRows) {
		return "", wrap("user by handle", passkey.ErrNotFound)
	}
	if err != nil {
		return "", wrap("user by handle", err)
	}
	return id, nil
}
