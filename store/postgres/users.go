package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// userCols are the columns scanUser reads, in its order.
const userCols = `u.id, u.email, u.name, u.group_id, u.disabled, u.created_at, u.updated_at, u.last_login_at, u.version, u.must_change_password`

func scanUser(row pgx.Row, u *user.User) error {
	var lastLogin pgtype.Timestamptz
	err := row.Scan((*string)(&u.ID), &u.Email, &u.Name, &u.GroupID, &u.Disabled, &u.CreatedAt, &u.UpdatedAt, &lastLogin, &u.Version, &u.MustChangePassword)
	if err != nil {
		return err
	}
	u.LastLoginAt = fromOpt(lastLogin)
	return nil
}

// userWriteErr maps the constraint violations a user row can hit.
func userWriteErr(op string, err error) error {
	switch {
	case violates(err, codeUnique, "users_email_unique"):
		return wrap(op, user.ErrEmailTaken)
	case violates(err, codeForeignKey, "users_group_fk"):
		return wrap(op, group.ErrNotFound)
	}
	return wrap(op, err)
}

// affected turns "no row matched" into notFound.
func affected(op string, tag pgconn.CommandTag, err error, notFound error) error {
	if err != nil {
		return wrap(op, err)
	}
	if tag.RowsAffected() == 0 {
		return wrap(op, notFound)
	}
	return nil
}

const createUserSQL = `INSERT INTO users
	(id, email, name, name_key, group_id, disabled, password_hash, created_at, updated_at, last_login_at, version)
	VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, 1)`

// createUserArgs are createUserSQL's arguments for u, or the error of a
// group ID no row can name.
func createUserArgs(u *user.User, passwordHash string) ([]any, error) {
	if !storable(u.GroupID) {
		return nil, wrap("create user", group.ErrNotFound)
	}
	return []any{string(u.ID), u.Email, u.Name, foldKey(u.Name), u.GroupID, u.Disabled,
		passwordHash, u.CreatedAt, u.UpdatedAt, optTime(u.LastLoginAt)}, nil
}

func (us userStore) Create(ctx context.Context, u *user.User, passwordHash string) error {
	args, err := createUserArgs(u, passwordHash)
	if err != nil {
		return err
	}
	if _, err := us.s.write(ctx, createUserSQL, args...); err != nil {
		return userWriteErr("create user", err)
	}
	u.Version = 1
	return nil
}

// CreateLate is [auth.LateUserCreateStore]'s: inside a transaction the
// insert is held back (execLate) and goes out with the next statement or
// COMMIT, without Create's savepoint; a taken email or an unknown group
// then fails the transaction, with Create's errors.
func (us userStore) CreateLate(ctx context.Context, u *user.User, passwordHash string) error {
	if us.s.tx == nil {
		return us.Create(ctx, u, passwordHash)
	}
	args, err := createUserArgs(u, passwordHash)
	if err != nil {
		return err
	}
	check := func(err error) error { return userWriteErr("create user", err) }
	if err := us.s.execLate(ctx, check, createUserSQL, args...); err != nil {
		return err
	}
	u.Version = 1
	return nil
}

func (us userStore) Get(ctx context.Context, id user.ID) (*user.User, error) {
	return us.getBy(ctx, "get user", `SELECT `+userCols+` FROM users u WHERE u.id = $1`, string(id))
}

func (us userStore) GetByEmail(ctx context.Context, email string) (*user.User, error) {
	return us.getBy(ctx, "get user by email", `SELECT `+userCols+` FROM users u WHERE u.email = $1`, email)
}

// GetWithHash is Get and PasswordHash in one read ([auth.UserHashStore]).
// Inside a transaction it reads ahead the user's device generation and
// TOTP credential (readahead.Account).
func (us userStore) GetWithHash(ctx context.Context, id user.ID) (*user.User, string, error) {
	if us.s.tx != nil {
		return us.getWithHashAhead(ctx, id)
	}
	var h string
	u, err := us.getBy(ctx, "get user", `SELECT `+userCols+`, u.password_hash FROM users u WHERE u.id = $1`, string(id), &h)
	return u, h, err
}

// GetByEmailWithHash is GetByEmail and PasswordHash in one read
// ([auth.UserHashStore]).
func (us userStore) GetByEmailWithHash(ctx context.Context, email string) (*user.User, string, error) {
	var h string
	u, err := us.getBy(ctx, "get user by email", userByEmailSQL, email, &h)
	return u, h, err
}

// userByEmailSQL reads an account and its stored hash by email.
const userByEmailSQL = `SELECT ` + userCols + `, u.password_hash FROM users u WHERE u.email = $1`

// GetByEmailWithHashLate is [auth.LateUserHashStore]'s: inside a
// transaction, GetByEmailWithHash held back (txConn.deferRow) to go out
// with the next statement or with COMMIT, which saves a password login's
// admission a round trip (issue 12); outside one, it reads at once.
//
// A failure of the read itself fails the transaction, as a held write's
// does: the statements after it, COMMIT included, do not run. So does a
// row that does not scan, which the server has already answered, COMMIT
// included; the transaction's error is then the scan's, and what it wrote
// may have committed. Columns of fixed types do not fail to scan.
func (us userStore) GetByEmailWithHashLate(ctx context.Context, email string) func() (*user.User, string, error) {
	if us.s.tx == nil || !storable(email) {
		u, h, err := us.GetByEmailWithHash(ctx, email)
		return func() (*user.User, string, error) { return u, h, err }
	}
	r := &lateUser{}
	us.s.tx.deferRow(userByEmailSQL, r.read, email)
	return r.get
}

// lateUser is a held-back GetByEmailWithHash and, once sent, its answer.
type lateUser struct {
	u    *user.User
	hash string
	err  error
	done bool // sent and answered
}

func (r *lateUser) read(row pgx.Row) error {
	u := new(user.User)
	err := scanUser(extraScanner{row, []any{&r.hash}}, u)
	r.done = true
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		r.err = wrap("get user by email", user.ErrNotFound)
	case err != nil:
		return wrap("get user by email", err)
	default:
		r.u = u
	}
	return nil
}

// errUnsent is the answer of a held-back read asked for before it was
// sent: the transaction that holds it has not ended.
var errUnsent = errors.New("read before its transaction ended")

func (r *lateUser) get() (*user.User, string, error) {
	if !r.done {
		return nil, "", wrap("get user by email", errUnsent)
	}
	return r.u, r.hash, r.err
}

// extraScanner scans a row's leading columns into what its caller asks
// for, and the columns after them into extra.
type extraScanner struct {
	row   pgx.Row
	extra []any
}

func (e extraScanner) Scan(dest ...any) error { return e.row.Scan(append(dest, e.extra...)...) }

func (us userStore) getBy(ctx context.Context, op, q string, arg string, extra ...any) (*user.User, error) {
	if !storable(arg) {
		return nil, wrap(op, user.ErrNotFound)
	}
	u := new(user.User)
	row := us.s.q.QueryRow(ctx, q, arg)
	if len(extra) > 0 {
		row = extraScanner{row, extra}
	}
	err := scanUser(row, u)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap(op, user.ErrNotFound)
	}
	if err != nil {
		return nil, wrap(op, err)
	}
	return u, nil
}

func (us userStore) Update(ctx context.Context, u *user.User) error {
	switch {
	case !storable(string(u.ID)):
		return wrap("update user", user.ErrNotFound)
	case !storable(u.GroupID):
		return wrap("update user", group.ErrNotFound)
	}
	const q = `UPDATE users SET email = $1, name = $2, name_key = $3, group_id = $4, disabled = $5, updated_at = $6,
		version = version + 1 WHERE id = $7 AND version = $8`
	tag, err := us.s.write(ctx, q, u.Email, u.Name, foldKey(u.Name), u.GroupID, u.Disabled, u.UpdatedAt, string(u.ID), u.Version)
	if err != nil {
		return userWriteErr("update user", err)
	}
	if err := us.s.versioned(ctx, "update user", tag, `SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`, string(u.ID),
		user.ErrNotFound, user.ErrStale); err != nil {
		return err
	}
	u.Version++
	return nil
}

// Delete removes the user; the foreign keys cascade to sessions, avatar
// and second factors in the same statement.
func (us userStore) Delete(ctx context.Context, id user.ID) error {
	if !storable(string(id)) {
		return wrap("delete user", user.ErrNotFound)
	}
	tag, err := us.s.q.Exec(ctx, `DELETE FROM users WHERE id = $1`, string(id))
	return affected("delete user", tag, err, user.ErrNotFound)
}

func (us userStore) Count(ctx context.Context) (int, error) {
	var n int
	if err := us.s.q.QueryRow(ctx, `SELECT count(*) FROM users`).Scan(&n); err != nil {
		return 0, wrap("count users", err)
	}
	return n, nil
}

func (us userStore) CountInGroup(ctx context.Context, groupID string, enabledOnly bool) (int, error) {
	if !storable(groupID) {
		return 0, nil
	}
	// Both forms are served by the users_group (group_id, disabled) index.
	q := `SELECT count(*) FROM users WHERE group_id = $1`
	if enabledOnly {
		q += ` AND NOT disabled`
	}
	var n int
	if err := us.s.q.QueryRow(ctx, q, groupID).Scan(&n); err != nil {
		return 0, wrap("count users in group", err)
	}
	return n, nil
}

func (us userStore) CountPasswordHashes(ctx context.Context, prefix string, except []string) (int, error) {
	if !storable(prefix) {
		return 0, nil // no stored hash holds it
	}
	// left(), not LIKE: a prefix is matched as it is, "%" and "_" included.
	var q strings.Builder
	q.WriteString(`SELECT count(*) FROM users WHERE left(password_hash, char_length($1::text)) = $1::text`)
	args := []any{prefix}
	for _, e := range except {
		if !storable(e) {
			continue // it excludes nothing
		}
		args = append(args, e)
		fmt.Fprintf(&q, ` AND left(password_hash, char_length($%d::text)) <> $%d::text`, len(args), len(args))
	}
	var n int
	if err := us.s.q.QueryRow(ctx, q.String(), args...).Scan(&n); err != nil {
		return 0, wrap("count password hashes", err)
	}
	return n, nil
}

func (us userStore) PasswordHashes(ctx context.Context, prefixes []string, after user.ID, limit int) ([]user.StoredHash, error) {
	if limit <= 0 || !storable(string(after)) {
		return nil, nil
	}
	var q strings.Builder
	q.WriteString(`SELECT id, password_hash FROM users WHERE id > $1 AND (false`)
	args := []any{string(after), limit}
	for _, p := range prefixes {
		if !storable(p) {
			continue // no stored hash holds it
		}
		args = append(args, p)
		fmt.Fprintf(&q, ` OR left(password_hash, char_length($%d::text)) = $%d::text`, len(args), len(args))
	}
	q.WriteString(`) ORDER BY id LIMIT $2`)
	rows, err := us.s.q.Query(ctx, q.String(), args...)
	if err != nil {
		return nil, wrap("password hashes", err)
	}
	defer rows.Close()
	var out []user.StoredHash
	for rows.Next() {
		var id, h string
		if err := rows.Scan(&id, &h); err != nil {
			return nil, wrap("password hashes", err)
		}
		out = append(out, user.StoredHash{ID: user.ID(id), Hash: h})
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("password hashes", err)
	}
	return out, nil
}

func (us userStore) ReplacePasswordHash(ctx context.Context, id user.ID, old, hash string) (bool, error) {
	if !storable(string(id)) || !storable(old) {
		return false, nil
	}
	tag, err := us.s.q.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2 AND password_hash = $3`, hash, string(id), old)
	if err != nil {
		return false, wrap("replace password hash", err)
	}
	return tag.RowsAffected() == 1, nil
}

func (us userStore) PasswordHash(ctx context.Context, id user.ID) (string, error) {
	if !storable(string(id)) {
		return "", wrap("password hash", user.ErrNotFound)
	}
	var h string
	err := us.s.q.QueryRow(ctx, `SELECT password_hash FROM users WHERE id = $1`, string(id)).Scan(&h)
	if errors.Is(err, pgx.ErrNoRows) {
		return "", wrap("password hash", user.ErrNotFound)
	}
	if err != nil {
		return "", wrap("password hash", err)
	}
	return h, nil
}

func (us userStore) SetPasswordHash(ctx context.Context, id user.ID, hash string) error {
	if !storable(string(id)) {
		return wrap("set password hash", user.ErrNotFound)
	}
	tag, err := us.s.q.Exec(ctx, `UPDATE users SET password_hash = $1 WHERE id = $2`, hash, string(id))
	return affected("set password hash", tag, err, user.ErrNotFound)
}

func (us userStore) SetMustChangePassword(ctx context.Context, id user.ID, must bool) error {
	if !storable(string(id)) {
		return wrap("set must change password", user.ErrNotFound)
	}
	tag, err := us.s.q.Exec(ctx, `UPDATE users SET must_change_password = $1 WHERE id = $2`, must, string(id))
	return affected("set must change password", tag, err, user.ErrNotFound)
}

func (us userStore) SetLastLogin(ctx context.Context, id user.ID, at time.Time) error {
	if !storable(string(id)) {
		return wrap("set last login", user.ErrNotFound)
	}
	return us.s.execLate(ctx, func(err error) error {
		if noRow(err) {
			err = user.ErrNotFound
		}
		return wrap("set last login", err)
	}, `WITH u AS (UPDATE users SET last_login_at = $1 WHERE id = $2 RETURNING 1)`+expectRowSQL+`u`, optTime(at), string(id))
}

// SetAvatar replaces the avatar in one upsert; the foreign key turns an
// unknown user into user.ErrNotFound.
func (us userStore) SetAvatar(ctx context.Context, id user.ID, data []byte, contentType string) error {
	if !storable(string(id)) {
		return wrap("set avatar", user.ErrNotFound)
	}
	if data == nil {
		return us.deleteAvatar(ctx, id)
	}
	const q = `INSERT INTO avatars (user_id, content_type, data) VALUES ($1, $2, $3)
		ON CONFLICT (user_id) DO UPDATE SET content_type = EXCLUDED.content_type, data = EXCLUDED.data`
	if _, err := us.s.write(ctx, q, string(id), contentType, data); err != nil {
		if violates(err, codeForeignKey, "avatars_user_fk") {
			return wrap("set avatar", user.ErrNotFound)
		}
		return wrap("set avatar", err)
	}
	return nil
}

// deleteAvatar removes the avatar and tells an unknown user (an error)
// from a user without one (not an error) in the same statement.
func (us userStore) deleteAvatar(ctx context.Context, id user.ID) error {
	const q = `WITH gone AS (DELETE FROM avatars WHERE user_id = $1 RETURNING 1)
		SELECT EXISTS (SELECT 1 FROM users WHERE id = $1)`
	var exists bool
	if err := us.s.q.QueryRow(ctx, q, string(id)).Scan(&exists); err != nil {
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
	if !storable(string(id)) {
		return nil, "", wrap("avatar", user.ErrNotFound)
	}
	const q = `SELECT a.content_type, a.data FROM users u LEFT JOIN avatars a ON a.user_id = u.id WHERE u.id = $1`
	var ct pgtype.Text
	var data []byte
	err := us.s.q.QueryRow(ctx, q, string(id)).Scan(&ct, &data)
	switch {
	case errors.Is(err, pgx.ErrNoRows):
		return nil, "", wrap("avatar", user.ErrNotFound)
	case err != nil:
		return nil, "", wrap("avatar", err)
	case !ct.Valid:
		return nil, "", wrap("avatar", user.ErrNoAvatar)
	}
	return data, ct.String, nil
}
