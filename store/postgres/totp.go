package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

type totpStore struct{ s *scope }

// TOTP returns the store of TOTP credentials and recovery codes.
func (s *scope) TOTP() totp.Store { return totpStore{s} }

// TOTP returns the store of TOTP credentials and recovery codes.
func (db *DB) TOTP() totp.Store { return db.root.TOTP() }

const totpCols = `user_id, key_id, sealed, last_step, created_at, confirmed_at`

func scanTOTP(row pgx.Row, c *totp.Credential) error {
	var confirmed pgtype.Timestamptz
	if err := row.Scan((*string)(&c.UserID), &c.KeyID, &c.Sealed, &c.LastStep, &c.CreatedAt, &confirmed); err != nil {
		return err
	}
	c.ConfirmedAt = fromOpt(confirmed)
	return nil
}

func (ts totpStore) Get(ctx context.Context, id user.ID) (*totp.Credential, error) {
	if !storable(string(id)) {
		return nil, wrap("get totp", totp.ErrNotEnrolled)
	}
	if c, ok := ts.s.totpAhead(id); ok {
		if c == nil {
			return nil, wrap("get totp", totp.ErrNotEnrolled)
		}
		return c, nil
	}
	c := new(totp.Credential)
	err := scanTOTP(ts.s.q.QueryRow(ctx, `SELECT `+totpCols+` FROM totp_credentials WHERE user_id = $1`, string(id)), c)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("get totp", totp.ErrNotEnrolled)
	}
	if err != nil {
		return nil, wrap("get totp", err)
	}
	return c, nil
}

func (ts totpStore) Put(ctx context.Context, c *totp.Credential) error {
	if !storable(string(c.UserID)) {
		return wrap("put totp", user.ErrNotFound)
	}
	const q = `INSERT INTO totp_credentials (` + totpCols + `) VALUES ($1, $2, $3, $4, $5, $6)
		ON CONFLICT (user_id) DO UPDATE SET key_id = EXCLUDED.key_id, sealed = EXCLUDED.sealed,
			last_step = EXCLUDED.last_step, created_at = EXCLUDED.created_at, confirmed_at = EXCLUDED.confirmed_at`
	_, err := ts.s.write(ctx, q, string(c.UserID), c.KeyID, c.Sealed, c.LastStep, c.CreatedAt, optTime(c.ConfirmedAt))
	if violates(err, codeForeignKey, "totp_credentials_user_fk") {
		return wrap("put totp", user.ErrNotFound)
	}
	if err != nil {
		return wrap("put totp", err)
	}
	return nil
}

func (ts totpStore) Confirm(ctx context.Context, id user.ID, at time.Time) error {
	if !storable(string(id)) {
		return wrap("confirm totp", totp.ErrNotEnrolled)
	}
	tag, err := ts.s.q.Exec(ctx, `UPDATE totp_credentials SET confirmed_at = $1 WHERE user_id = $2`, at, string(id))
	return affected("confirm totp", tag, err, totp.ErrNotEnrolled)
}

// Delete removes the credential and the recovery codes in one statement.
func (ts totpStore) Delete(ctx context.Context, id user.ID) error {
	if !storable(string(id)) {
		return nil
	}
	const q = `WITH t AS (DELETE FROM totp_credentials WHERE user_id = $1)
		DELETE FROM recovery_sets WHERE user_id = $1`
	if _, err := ts.s.q.Exec(ctx, q, string(id)); err != nil {
		return wrap("delete totp", err)
	}
	return nil
}

// UseStep is the replay guard: one conditional UPDATE. Of two requests
// carrying the same code, on this instance or another, the second waits
// for the first's row lock, re-checks last_step < step against the row
// the first left, and updates nothing.
func (ts totpStore) UseStep(ctx context.Context, id user.ID, step int64) (bool, error) {
	if !storable(string(id)) {
		return false, nil
	}
	tag, err := ts.s.q.Exec(ctx, `UPDATE totp_credentials SET last_step = $1 WHERE user_id = $2 AND last_step < $1`,
		step, string(id))
	n, err := rowsAffected("use totp step", tag, err)
	return n == 1, err
}

func (ts totpStore) Sealed(ctx context.Context, notKeyID string, after user.ID, limit int) ([]totp.Credential, error) {
	if !storable(string(after)) {
		return nil, nil // no stored user ID is like it; callers only pass back IDs they were given
	}
	q, args := `SELECT `+totpCols+` FROM totp_credentials WHERE key_id <> $1 AND user_id > $2 ORDER BY user_id LIMIT $3`,
		[]any{notKeyID, string(after), limit}
	if !storable(notKeyID) {
		// No stored key ID equals it.
		q, args = `SELECT `+totpCols+` FROM totp_credentials WHERE user_id > $1 ORDER BY user_id LIMIT $2`, []any{string(after), limit}
	}
	rows, err := ts.s.q.Query(ctx, q, args...)
	if err != nil {
		return nil, wrap("list sealed totp", err)
	}
	defer rows.Close()
	var out []totp.Credential
	for rows.Next() {
		var c totp.Credential
		if err := scanTOTP(rows, &c); err != nil {
			return nil, wrap("list sealed totp", err)
		}
		out = append(out, c)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list sealed totp", err)
	}
	return out, nil
}

func (ts totpStore) Reseal(ctx context.Context, id user.ID, oldKeyID, newKeyID string, sealed []byte) (bool, error) {
	if !storable(string(id)) || !storable(oldKeyID) {
		return false, nil
	}
	tag, err := ts.s.q.Exec(ctx, `UPDATE totp_credentials SET key_id = $1, sealed = $2 WHERE user_id = $3 AND key_id = $4`,
		newKeyID, sealed, string(id), oldKeyID)
	n, err := rowsAffected("reseal totp", tag, err)
	return n == 1, err
}

// SetRecoveryCodes replaces the set in one unit (see writeAll), so that
// even outside Atomic no reader ever sees a mix of old and new codes: the
// set row is upserted (the foreign key turns an unknown user into
// user.ErrNotFound), the old codes deleted and the new ones inserted from
// one array.
func (ts totpStore) SetRecoveryCodes(ctx context.Context, id user.ID, keyID string, salt []byte, hashes [][]byte) error {
	if !storable(string(id)) {
		return wrap("set recovery codes", user.ErrNotFound)
	}
	if hashes == nil {
		hashes = [][]byte{} // an empty array, not NULL
	}
	_, err := ts.s.writeAll(ctx,
		stmt{`INSERT INTO recovery_sets (user_id, key_id, salt) VALUES ($1, $2, $3)
			ON CONFLICT (user_id) DO UPDATE SET key_id = EXCLUDED.key_id, salt = EXCLUDED.salt`,
			[]any{string(id), keyID, salt}},
		stmt{`DELETE FROM recovery_codes WHERE user_id = $1`, []any{string(id)}},
		stmt{`INSERT INTO recovery_codes (user_id, code_hash) SELECT $1, h FROM unnest($2::bytea[]) AS h
			ON CONFLICT DO NOTHING`, []any{string(id), hashes}},
	)
	if violates(err, codeForeignKey, "recovery_sets_user_fk") {
		return wrap("set recovery codes", user.ErrNotFound)
	}
	if err != nil {
		return wrap("set recovery codes", err)
	}
	return nil
}

func (ts totpStore) RecoverySet(ctx context.Context, id user.ID) ([]byte, string, error) {
	if !storable(string(id)) {
		return nil, "", nil
	}
	var salt []byte
	var keyID string
	err := ts.s.q.QueryRow(ctx, `SELECT salt, key_id FROM recovery_sets WHERE user_id = $1`, string(id)).Scan(&salt, &keyID)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", wrap("recovery set", err)
	}
	return salt, keyID, nil
}

// UseRecoveryCode is one DELETE whose rows affected decide: a code works
// once, however many requests on however many instances race for it. The
// losers wait for the winner's row lock and then find the row gone.
func (ts totpStore) UseRecoveryCode(ctx context.Context, id user.ID, hash []byte) (bool, error) {
	if !storable(string(id)) {
		return false, nil
	}
	tag, err := ts.s.q.Exec(ctx, `DELETE FROM recovery_codes WHERE user_id = $1 AND code_hash = $2`, string(id), hash)
	n, err := rowsAffected("use recovery code", tag, err)
	return n == 1, err
}

func (ts totpStore) CountRecoverySets(ctx context.Context, notKeyID string) (int, error) {
	q, args := `SELECT count(*) FROM recovery_sets WHERE key_id <> $1`, []any{notKeyID}
	if !storable(notKeyID) {
		q, args = `SELECT count(*) FROM recovery_sets`, nil
	}
	var n int
	if err := ts.s.q.QueryRow(ctx, q, args...).Scan(&n); err != nil {
		return 0, wrap("count recovery sets", err)
	}
	return n, nil
}

func (ts totpStore) RecoveryCodesLeft(ctx context.Context, id user.ID) (int, error) {
	if !storable(string(id)) {
		return 0, nil
	}
	var n int
	if err := ts.s.q.QueryRow(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = $1`, string(id)).Scan(&n); err != nil {
		return 0, wrap("count recovery codes", err)
	}
	return n, nil
}

// DeleteRecoveryCodes removes the set; its codes go with it (ON DELETE
// CASCADE).
func (ts totpStore) DeleteRecoveryCodes(ctx context.Context, id user.ID) error {
	if !storable(string(id)) {
		return nil
	}
	if _, err := ts.s.q.Exec(ctx, `DELETE FROM recovery_sets WHERE user_id = $1`, string(id)); err != nil {
		return wrap("delete recovery codes", err)
	}
	return nil
}
