package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// userCols are the columns scanUser reads, in its order.
const userCols = `u.id, u.email, u.name, u.group_id, u.disabled, u.created_at, u.updated_at, u.last_login_at, u.version, u.must_change_password`

func scanUser(sc scanner, u *user.User) error {
	var created, updated int64
	var lastLogin sql.NullInt64
	if err := sc.Scan(&u.ID, &u.Email, &u.Name, &u.GroupID, &u.Disabled, &created, &updated, &lastLogin, &u.Version, &u.MustChangePassword); err != nil {
		return err
	}
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromNanos(created), fromNanos(updated), fromNanos(lastLogin.Int64)
	return nil
}

// userWriteErr maps the constraint violations a user row can hit.
func userWriteErr(op string, err error) error {
	switch code(err) {
	case codeUnique: // the only UNIQUE column is email; the id is a PRIMARY KEY
		return wrap(op, user.ErrEmailTaken)
	case codeForeignKey: // the only reference out of users is group_id
		return wrap(op, group.ErrNotFound)
	}
	return wrap(op, err)
}

// affected turns "no row matched" into notFound.
func affected(op string, res sql.Result, err error, notFound error) error {
	if err != nil {
		return wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap(op, err)
	}
	if n == 0 {
		return wrap(op, notFound)
	}
	return nil
}

func (us userStore) Create(ctx context.Context, u *user.User, passwordHash string) error {
	const q = `INSERT INTO users
		(id, email, name, name_key, group_id, disabled, password_hash, created_at, updated_at, last_login_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)`
	_, err := us.s.w.ExecContext(ctx, q, u.ID, u.Email, u.Name, foldKey(u.Name), u.GroupID, u.Disabled,
		passwordHash, nanos(u.CreatedAt), nanos(u.UpdatedAt), nullNanos(u.LastLoginAt))
	if err != nil {
		return userWriteErr("create user", err)
	}
	u.Version = 1
	return nil
}

func (us userStore) Get(ctx context.Context, id user.ID) (*user.User, error) {
	return us.getBy(ctx, "get user", `SELECT `+userCols+` FROM users u WHERE u.id = ?`, string(id))
}

func (us userStore) GetByEmail(ctx context.Context, email string) (*user.User, error) {
	return us.getBy(ctx, "get user by email", `SELECT `+userCols+` FROM users u WHERE u.email = ?`, email)
}

// GetWithHash is Get and PasswordHash in one read ([auth.UserHashStore]).
// Inside a transaction it reads ahead the user's device generation and
// TOTP credential (readahead.Account).
func (us userStore) GetWithHash(ctx context.Context, id user.ID) (*user.User, string, error) {
	if us.s.txs != nil {
		return us.getWithHashAhead(ctx, id)
	}
	var h string
	u, err := us.getBy(ctx, "get user", `SELECT `+userCols+`, u.password_hash FROM users u WHERE u.id = ?`, string(id), &h)
	return u, h, err
}

// GetByEmailWithHash is GetByEmail and PasswordHash in one read
// ([auth.UserHashStore]).
func (us userStore) GetByEmailWithHash(ctx context.Context, email string) (*user.User, string, error) {
	var h string
	u, err := us.getBy(ctx, "get user by email", `SELECT `+userCols+`, u.password_hash FROM users u WHERE u.email = ?`, email, &h)
	return u, h, err
}

// extraScanner scans a row's leading columns into what its caller asks
// for, and the columns after them into extra.
type extraScanner struct {
	row   scanner
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

func (us userStore) getBy(ctx context.Context, op, q string, arg string, extra ...any) (*user.User, error) {
	u := new(user.User)
	var row scanner = us.s.r.QueryRowContext(ctx, q, arg)
	if len(extra) > 0 {
		row = extraScanner{row, extra}
	}
	err := scanUser(row, u)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap(op, user.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return u, nil
}

// Update writes only while the stored version is u.Version; when no row
// matched, a second look tells a stale version from an unknown user.
func (us userStore) Update(ctx context.Context, u *user.User) error {
	const q = `UPDATE users SET email = ?, name = ?, name_key = ?, group_id = ?, disabled = ?, updated_at = ?,
		version = version + 1 WHERE id = ? AND version = ?`
	res, err := us.s.w.ExecContext(ctx, q, u.Email, u.Name, foldKey(u.Name), u.GroupID, u.Disabled,
		nanos(u.UpdatedAt), u.ID, u.Version)
	if err != nil {
		return userWriteErr("update user", err)
	}
	if err := us.s.versioned(ctx, "update user", res, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, string(u.ID),
		user.ErrNotFound, user.ErrStale); err != nil {
		return err
	}
	u.Version++
	return nil
}

// Delete removes the user; the foreign keys cascade to sessions, avatar
// and second factors in the same statement.
func (us userStore) Delete(ctx context.Context, id user.ID) error {
	res, err := us.s.w.ExecContext(ctx, `DELETE FROM users WHERE id = ?`, id)
	return affected("delete user", res, err, user.ErrNotFound)
}

func (us userStore) Count(ctx context.Context) (int, error) {
	var n int
	if err := us.s.r.QueryRowContext(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("count users", err)
	}
	return n, nil
}

func (us userStore) CountInGroup(ctx context.Context, groupID string, enabledOnly bool) (int, error) {
	// Both forms are served by the users_group (group_id, disabled) index.
	q := `SELECT count(*) FROM users WHERE group_id = ?`
	if enabledOnly {
		q += ` AND disabled = 0`
	}
	var n int
	if err := us.s.r.QueryRowContext(ctx, q, groupID).Scan(&n); err != nil {
		return 0, wrap("count users in group", err)
	}
	return n, nil
}

func (us userStore) CountPasswordHashes(ctx context.Context, prefix string, except []string) (int, error) {
	// substr, not LIKE: a prefix is matched as it is, "%" and "_" included.
	var q strings.Builder
	q.WriteString(`SELECT count(*) FROM users WHERE substr(password_hash, 1, length(?1)) = ?1`)
	args := []any{prefix}
	for i, e := range except {
		fmt.Fprintf(&q, ` AND substr(password_hash, 1, length(?%d)) <> ?%d`, i+2, i+2)
		args = append(args, e)
	}
	var n int
	if err := us.s.r.QueryRowContext(ctx, q.String(), args...).Scan(&n); err != nil {
		return 0, wrap("count password hashes", err)
	}
	return n, nil
}

func (us userStore) PasswordHashes(ctx context.Context, prefixes []string, after user.ID, limit int) ([]user.StoredHash, error) {
	if len(prefixes) == 0 || limit <= 0 {
		return nil, nil
	}
	var q strings.Builder
	q.WriteString(`SELECT id, password_hash FROM users WHERE id > ?1 AND (`)
	args := []any{string(after), limit}
	for i, p := range prefixes {
		if i > 0 {
			q.WriteString(` OR `)
		}
		args = append(args, p)
		fmt.Fprintf(&q, `substr(password_hash, 1, length(?%d)) = ?%d`, len(args), len(args))
	}
	q.WriteString(`) ORDER BY id LIMIT ?2`)
	rows, err := us.s.r.QueryContext(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap("password hashes", err)
	}
	defer rows.Close()
	var out []user.StoredHash
	for rows.Next() {
		var h user.StoredHash
		if err := rows.Scan(&h.ID, &h.Hash); err != nil {
			return nil, wrap("password hashes", err)
		}
		out = append(out, h)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("password hashes", err)
	}
	return out, nil
}

func (us userStore) ReplacePasswordHash(ctx context.Context, id user.ID, old, hash string) (bool, error) {
	res, err := us.s.w.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ? AND password_hash = ?`, hash, id, old)
	if err != nil {
		return false, wrap("replace password hash", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return false, wrap("replace password hash", err)
	}
	return n == 1, nil
}

func (us userStore) PasswordHash(ctx context.Context, id user.ID) (string, error) {
	var h string
	err := us.s.r.QueryRowContext(ctx, `SELECT password_hash FROM users WHERE id = ?`, id).Scan(&h)
	if errors.Is(err, sql.ErrNoRows) {
		return "", wrap("password hash", user.ErrNotFound)
	}
	if err != nil {
		return "", wrap("password hash", err)
	}
	return h, nil
}

func (us userStore) SetPasswordHash(ctx context.Context, id user.ID, hash string) error {
	res, err := us.s.w.ExecContext(ctx, `UPDATE users SET password_hash = ? WHERE id = ?`, hash, id)
	return affected("set password hash", res, err, user.ErrNotFound)
}

func (us userStore) SetMustChangePassword(ctx context.Context, id user.ID, must bool) error {
	res, err := us.s.w.ExecContext(ctx, `UPDATE users SET must_change_password = ? WHERE id = ?`, must, id)
	return affected("set must change password", res, err, user.ErrNotFound)
}

func (us userStore) SetLastLogin(ctx context.Context, id user.ID, at time.Time) error {
	res, err := us.s.w.ExecContext(ctx, `UPDATE users SET last_login_at = ? WHERE id = ?`, nullNanos(at), id)
	return affected("set last login", res, err, user.ErrNotFound)
}

// SetAvatar replaces the avatar in one upsert; the foreign key turns an
// unknown user into user.ErrNotFound.
func (us userStore) SetAvatar(ctx context.Context, id user.ID, data []byte, contentType string) error {
	if data == nil {
		return us.deleteAvatar(ctx, id)
	}
	const q = `INSERT INTO avatars (user_id, content_type, data) VALUES (?, ?, ?)
		ON CONFLICT (user_id) DO UPDATE SET content_type = excluded.content_type, data = excluded.data`
	if _, err := us.s.w.ExecContext(ctx, q, id, contentType, data); err != nil {
		if code(err) == codeForeignKey {
			return wrap("set avatar", user.ErrNotFound)
		}
		return wrap("set avatar", err)
	}
	return nil
}

func (us userStore) deleteAvatar(ctx context.Context, id user.ID) error {
	res, err := us.s.w.ExecContext(ctx, `DELETE FROM avatars WHERE user_id = ?`, id)
	if err != nil {
		return wrap("delete avatar", err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return wrap("delete avatar", err)
	}
	if n > 0 {
		return nil
	}
	// Nothing removed: fine for a user without an avatar, not for an
	// unknown user.
	var exists bool
	if err := us.s.r.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM users WHERE id = ?)`, id).Scan(&exists); err != nil {
		return wrap("delete avatar", err)
	}
	if !exists {
		return wrap("delete avatar", user.ErrNotFound)
	}
	return nil
}

// Avatar tells an unknown user (no row) from a user without an avatar (a
// row of NULLs) in one query.
func (us userStore) Avatar(ctx context.Context, id user.ID) ([]byte, string, error) {
	const q = `SELECT a.content_type, a.data FROM users u LEFT JOIN avatars a ON a.user_id = u.id WHERE u.id = ?`
	var ct sql.NullString
	var data []byte
	err := us.s.r.QueryRowContext(ctx, q, id).Scan(&ct, &data)
	switch {
	case errors.Is(err, sql.ErrNoRows):
		return nil, "", wrap("avatar", user.ErrNotFound)
	case err != nil:
		return nil, "", wrap("avatar", err)
	case !ct.Valid:
		return nil, "", wrap("avatar", user.ErrNoAvatar)
	}
	return data, ct.String, nil
}
