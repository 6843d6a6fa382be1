package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

type totpStore struct{ s *scope }

// TOTP returns the store of TOTP credentials and recovery codes.
func (s *scope) TOTP() totp.Store { return totpStore{s} }

// TOTP returns the store of TOTP credentials and recovery codes.
func (db *DB) TOTP() totp.Store { return db.root.TOTP() }

const totpCols = `user_id, key_id, sealed, last_step, created_at, confirmed_at`

func scanTOTP(sc scanner, c *totp.Credential) error {
	var created int64
	var confirmed sql.NullInt64
	if err := sc.Scan(&c.UserID, &c.KeyID, &c.Sealed, &c.LastStep, &created, &confirmed); err != nil {
		return err
	}
	c.CreatedAt, c.ConfirmedAt = fromNanos(created), fromNanos(confirmed.Int64)
	return nil
}

func (ts totpStore) Get(ctx context.Context, id user.ID) (*totp.Credential, error) {
	if c, ok := ts.s.totpAhead(id); ok {
		if c == nil {
			return nil, wrap("get totp", totp.ErrNotEnrolled)
		}
		return c, nil
	}
	c := new(totp.Credential)
	err := scanTOTP(ts.s.r.QueryRowContext(ctx, `SELECT `+totpCols+` FROM totp_credentials WHERE user_id = ?`, id), c)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("get totp", totp.ErrNotEnrolled)
	}
	if err != nil {
		return nil, wrap("get totp", err)
	}
	return c, nil
}

func (ts totpStore) Put(ctx context.Context, c *totp.Credential) error {
	const q = `INSERT INTO totp_credentials (` + totpCols + `) VALUES (?, ?, ?, ?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET key_id = excluded.key_id, sealed = excluded.sealed,
			last_step = excluded.last_step, created_at = excluded.created_at, confirmed_at = excluded.confirmed_at`
	_, err := ts.s.w.ExecContext(ctx, q, c.UserID, c.KeyID, c.Sealed, c.LastStep, nanos(c.CreatedAt), nullNanos(c.ConfirmedAt))
	if code(err) == codeForeignKey {
		return wrap("put totp", user.ErrNotFound)
	}
	if err != nil {
		return wrap("put totp", err)
	}
	return nil
}

func (ts totpStore) Confirm(ctx context.Context, id user.ID, at time.Time) error {
	res, err := ts.s.w.ExecContext(ctx, `UPDATE totp_credentials SET confirmed_at = ? WHERE user_id = ?`, nanos(at), id)
	return affected("confirm totp", res, err, totp.ErrNotEnrolled)
}

func (ts totpStore) Delete(ctx context.Context, id user.ID) error {
	if _, err := ts.s.w.ExecContext(ctx, `DELETE FROM totp_credentials WHERE user_id = ?`, id); err != nil {
		return wrap("delete totp", err)
	}
	return ts.DeleteRecoveryCodes(ctx, id)
}

// UseStep is the replay guard: one conditional UPDATE, so of two requests
// carrying the same code (on this instance or another) exactly one moves
// last_step forward.
func (ts totpStore) UseStep(ctx context.Context, id user.ID, step int64) (bool, error) {
	res, err := ts.s.w.ExecContext(ctx, `UPDATE totp_credentials SET last_step = ? WHERE user_id = ? AND last_step < ?`, step, id, step)
	n, err := rowsAffected("use totp step", res, err)
	return n == 1, err
}

func (ts totpStore) Sealed(ctx context.Context, notKeyID string, after user.ID, limit int) ([]totp.Credential, error) {
	rows, err := ts.s.r.QueryContext(ctx, `SELECT `+totpCols+` FROM totp_credentials
		WHERE key_id <> ? AND user_id > ? ORDER BY user_id LIMIT ?`, notKeyID, after, limit)
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
	res, err := ts.s.w.ExecContext(ctx, `UPDATE totp_credentials SET key_id = ?, sealed = ? WHERE user_id = ? AND key_id = ?`,
		newKeyID, sealed, id, oldKeyID)
	n, err := rowsAffected("reseal totp", res, err)
	return n == 1, err
}

func (ts totpStore) SetRecoveryCodes(ctx context.Context, id user.ID, keyID string, salt []byte, hashes [][]byte) error {
	// Three statements; the caller runs them inside Atomic, and outside it
	// the worst a crash leaves is a user with no codes, never a mix.
	if err := ts.DeleteRecoveryCodes(ctx, id); err != nil {
		return err
	}
	_, err := ts.s.w.ExecContext(ctx, `INSERT INTO recovery_sets (user_id, key_id, salt) VALUES (?, ?, ?)`, id, keyID, salt)
	if code(err) == codeForeignKey {
		return wrap("set recovery codes", user.ErrNotFound)
	}
	if err != nil {
		return wrap("set recovery codes", err)
	}
	for _, h := range hashes {
		if _, err := ts.s.w.ExecContext(ctx, `INSERT INTO recovery_codes (user_id, code_hash) VALUES (?, ?)`, id, h); err != nil {
			return wrap("set recovery codes", err)
		}
	}
	return nil
}

func (ts totpStore) RecoverySet(ctx context.Context, id user.ID) ([]byte, string, error) {
	var salt []byte
	var keyID string
	err := ts.s.r.QueryRowContext(ctx, `SELECT salt, key_id FROM recovery_sets WHERE user_id = ?`, id).Scan(&salt, &keyID)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, "", nil
	}
	if err != nil {
		return nil, "", wrap("recovery set", err)
	}
	return salt, keyID, nil
}

// UseRecoveryCode is one DELETE whose rows affected decide: a code works
// once, however many requests race for it.
func (ts totpStore) UseRecoveryCode(ctx context.Context, id user.ID, hash []byte) (bool, error) {
	res, err := ts.s.w.ExecContext(ctx, `DELETE FROM recovery_codes WHERE user_id = ? AND code_hash = ?`, id, hash)
	n, err := rowsAffected("use recovery code", res, err)
	return n == 1, err
}

func (ts totpStore) RecoveryCodesLeft(ctx context.Context, id user.ID) (int, error) {
	var n int
	if err := ts.s.r.QueryRowContext(ctx, `SELECT count(*) FROM recovery_codes WHERE user_id = ?`, id).Scan(&n); err != nil {
		return 0, wrap("count recovery codes", err)
	}
	return n, nil
}

func (ts totpStore) CountRecoverySets(ctx context.Context, notKeyID string) (int, error) {
	var n int
	if err := ts.s.r.QueryRowContext(ctx, `SELECT count(*) FROM recovery_sets WHERE key_id <> ?`, notKeyID).Scan(&n); err != nil {
		return 0, wrap("count recovery sets", err)
	}
	return n, nil
}

func (ts totpStore) DeleteRecoveryCodes(ctx context.Context, id user.ID) error {
	if _, err := ts.s.w.ExecContext(ctx, `DELETE FROM recovery_sets WHERE user_id = ?`, id); err != nil {
		return wrap("delete recovery codes", err)
	}
	return nil
}
