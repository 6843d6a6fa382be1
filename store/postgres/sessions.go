package postgres

import (
	"context"
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

const sessionCols = `s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, s.multi_factor,
	s.idle_timeout_ns, s.remembered`

func scanSession(row pgx.Row, s *auth.Session) error {
	return row.Scan(&s.ID, (*string)(&s.UserID), &s.CreatedAt, &s.LastSeenAt, &s.ExpiresAt, &s.IP, &s.UserAgent, &s.MultiFactor,
		(*int64)(&s.IdleTimeout), &s.Remembered)
}

func (ss sessionStore) Create(ctx context.Context, s *auth.Session, tokenHash []byte) error {
	if !storable(string(s.UserID)) {
		return wrap("create session", user.ErrNotFound)
	}
	const q = `INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent, multi_factor,
		idle_timeout_ns, remembered)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)`
	args := []any{s.ID, tokenHash, string(s.UserID), s.CreatedAt, s.LastSeenAt, s.ExpiresAt,
		s.IP, s.UserAgent, s.MultiFactor, int64(s.IdleTimeout), s.Remembered}
	if ss.s.holdsUser(s.UserID) {
		// A login's session, its user just read (issue 12): nothing in
		// the transaction reads it back, and the user's foreign key
		// holds, so it goes out with the commit (execLate). Its ID and
		// token hash are fresh random values: the unique keys cannot
		// fail either, short of a broken random source, which then
		// fails the transaction.
		return ss.s.execLate(ctx, createSessionErr, q, args...)
	}
	_, err := ss.s.write(ctx, q, args...)
	if err != nil {
		return createSessionErr(err)
	}
	return nil
}

// createSessionErr is the store's error for a failed session insert.
func createSessionErr(err error) error {
	if violates(err, codeForeignKey, "sessions_user_fk") {
		err = user.ErrNotFound
	}
	return wrap("create session", err)
}

// sessionLookupSQL is the Authenticate hot path: one probe of the
// token_hash unique index and two primary-key joins, so the permissions
// read are the group's as of this request.
//
// Times and flags come as columns (pgx decodes them from binary without
// allocating); every string comes packed into one text value, because pgx
// allocates each text column it scans into a string. Each string is
// "<byte length>:<bytes>", which needs no escaping whatever it holds, and
// unpackLookup takes them as substrings of the one value. The user's and
// the group's IDs are not sent: the joins make them s.user_id and
// u.group_id. Permissions come joined by spaces, which no stored
// permission holds (checkPermissions). sessionLookupPlainSQL is the same
// query column by column.
const sessionLookupSQL = `SELECT
		s.created_at, s.last_seen_at, s.expires_at, s.multi_factor, s.idle_timeout_ns, s.remembered,
		u.disabled, u.created_at, u.updated_at, u.last_login_at, u.must_change_password,
		g.require_two_factor, g.created_at, g.updated_at,
		octet_length(s.id) || ':' || s.id
		|| octet_length(s.user_id) || ':' || s.user_id
		|| octet_length(s.ip) || ':' || s.ip
		|| octet_length(s.user_agent) || ':' || s.user_agent
		|| octet_length(u.email) || ':' || u.email
		|| octet_length(u.name) || ':' || u.name
		|| octet_length(u.group_id) || ':' || u.group_id
		|| octet_length(g.name) || ':' || g.name
		|| octet_length(g.description) || ':' || g.description
		|| octet_length(p.perms) || ':' || p.perms
	FROM sessions s
	JOIN users u ON u.id = s.user_id
	JOIN groups g ON g.id = u.group_id
	CROSS JOIN LATERAL (SELECT array_to_string(g.permissions, ' ') AS perms) p
	WHERE s.token_hash = $1`

// sessionLookupPlainSQL is sessionLookupSQL unpacked: the fallback should a
// row ever not unpack, and the reference the tests compare against.
const sessionLookupPlainSQL = `SELECT ` + sessionCols + `,
		u.email, u.name, u.group_id, u.disabled, u.created_at, u.updated_at, u.last_login_at, u.must_change_password,
		g.name, g.description, g.permissions, g.require_two_factor, g.created_at, g.updated_at
	FROM sessions s
	JOIN users u ON u.id = s.user_id
	JOIN groups g ON g.id = u.group_id
	WHERE s.token_hash = $1`

// lookupResult holds Lookup's three results, and what it scans into, in
// one allocation.
type lookupResult struct {
	s         auth.Session
	u         user.User
	g         group.Group
	lastLogin pgtype.Timestamptz
	packed    string
}

func (ss sessionStore) Lookup(ctx context.Context, tokenHash []byte) (*auth.Session, *user.User, *group.Group, error) {
	r := new(lookupResult)
	err := ss.s.q.QueryRow(ctx, sessionLookupSQL, tokenHash).Scan(
		&r.s.CreatedAt, &r.s.LastSeenAt, &r.s.ExpiresAt, &r.s.MultiFactor, (*int64)(&r.s.IdleTimeout), &r.s.Remembered,
		&r.u.Disabled, &r.u.CreatedAt, &r.u.UpdatedAt, &r.lastLogin, &r.u.MustChangePassword,
		&r.g.RequireTwoFactor, &r.g.CreatedAt, &r.g.UpdatedAt,
		&r.packed)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil, wrap("lookup session", auth.ErrSessionNotFound)
	}
	if err != nil {
		return nil, nil, nil, wrap("lookup session", err)
	}
	if !unpackLookup(r.packed, r) {
		// Cannot happen with rows this package wrote; stay correct
		// rather than fast if it does.
		return ss.lookupPlain(ctx, tokenHash)
	}
	r.u.LastLoginAt = fromOpt(r.lastLogin)
	return &r.s, &r.u, &r.g, nil
}

// unpackLookup parses the packed strings of one sessionLookupSQL row into
// r, reporting whether they were well formed.
func unpackLookup(p string, r *lookupResult) bool {
	var perms string
	for _, dst := range [...]*string{
		&r.s.ID, (*string)(&r.s.UserID), &r.s.IP, &r.s.UserAgent,
		&r.u.Email, &r.u.Name, &r.u.GroupID,
		&r.g.Name, &r.g.Description, &perms,
	} {
		j := strings.IndexByte(p, ':')
		if j < 0 {
			return false
		}
		l, err := strconv.Atoi(p[:j])
		if err != nil || l < 0 || l > len(p)-j-1 {
			return false
		}
		*dst, p = p[j+1:j+1+l], p[j+1+l:]
	}
	if p != "" {
		return false
	}
	r.u.ID = r.s.UserID
	r.g.ID = group.ID(r.u.GroupID)
	r.g.Permissions = splitPermissions(perms)
	return true
}

func splitPermissions(s string) []group.Permission {
	if s == "" {
		return nil
	}
	out := make([]group.Permission, 0, strings.Count(s, " ")+1)
	for p := range strings.SplitSeq(s, " ") {
		out = append(out, group.Permission(p))
	}
	return out
}

// lookupPlain is Lookup column by column.
func (ss sessionStore) lookupPlain(ctx context.Context, tokenHash []byte) (*auth.Session, *user.User, *group.Group, error) {
	var (
		r         lookupResult
		lastLogin pgtype.Timestamptz
		perms     []string
	)
	err := ss.s.q.QueryRow(ctx, sessionLookupPlainSQL, tokenHash).Scan(
		&r.s.ID, (*string)(&r.s.UserID), &r.s.CreatedAt, &r.s.LastSeenAt, &r.s.ExpiresAt, &r.s.IP, &r.s.UserAgent, &r.s.MultiFactor,
		(*int64)(&r.s.IdleTimeout), &r.s.Remembered,
		&r.u.Email, &r.u.Name, &r.u.GroupID, &r.u.Disabled, &r.u.CreatedAt, &r.u.UpdatedAt, &lastLogin, &r.u.MustChangePassword,
		&r.g.Name, &r.g.Description, &perms, &r.g.RequireTwoFactor, &r.g.CreatedAt, &r.g.UpdatedAt)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, nil, nil, wrap("lookup session", auth.ErrSessionNotFound)
	}
	if err != nil {
		return nil, nil, nil, wrap("lookup session", err)
	}
	r.u.ID = r.s.UserID
	r.u.LastLoginAt = fromOpt(lastLogin)
	r.g.ID = group.ID(r.u.GroupID)
	r.g.Permissions = toPermissions(perms)
	return &r.s, &r.u, &r.g, nil
}

func (ss sessionStore) Get(ctx context.Context, id string) (*auth.Session, error) {
	if !storable(id) {
		return nil, wrap("get session", auth.ErrSessionNotFound)
	}
	s := new(auth.Session)
	err := scanSession(ss.s.q.QueryRow(ctx, `SELECT `+sessionCols+` FROM sessions s WHERE s.id = $1`, id), s)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("get session", auth.ErrSessionNotFound)
	}
	if err != nil {
		return nil, wrap("get session", err)
	}
	return s, nil
}

// Touch is one conditional UPDATE: most requests find last_seen_at recent
// enough and write nothing, so a row is not rewritten per request.
func (ss sessionStore) Touch(ctx context.Context, id string, at, notAfter time.Time) error {
	if !storable(id) {
		return nil
	}
	_, err := ss.s.q.Exec(ctx, `UPDATE sessions SET last_seen_at = $1 WHERE id = $2 AND last_seen_at < $3`,
		at, id, notAfter)
	if err != nil {
		return wrap("touch session", err)
	}
	return nil
}

// touchBatchSQL writes a batch of last uses in one statement, the batch
// as two arrays, so the SQL (and the statement pgx prepares for it) is the
// same whatever the batch's size. It probes sessions by primary key per
// ID; an ID not stored matches nothing (an UPDATE never inserts), and
// GROUP BY keeps one row per ID, the latest, which an UPDATE ... FROM
// needs (with two it would take either).
const touchBatchSQL = `UPDATE sessions s SET last_seen_at = t.at
	FROM (SELECT id, max(at) AS at FROM unnest($1::text[], $2::timestamptz[]) AS u(id, at) GROUP BY id) AS t
	WHERE s.id = t.id AND s.last_seen_at < t.at`

// TouchBatch is auth.SessionBatchToucher: one UPDATE, atomic by itself.
func (ss sessionStore) TouchBatch(ctx context.Context, touches []auth.SessionTouch) error {
	ids := make([]string, 0, len(touches))
	ats := make([]time.Time, 0, len(touches))
	for _, t := range touches {
		if storable(t.ID) { // no other ID can be stored
			ids, ats = append(ids, t.ID), append(ats, t.At)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	if _, err := ss.s.q.Exec(ctx, touchBatchSQL, ids, ats); err != nil {
		return wrap("touch sessions", err)
	}
	return nil
}

func (ss sessionStore) List(ctx context.Context, userID user.ID) ([]auth.Session, error) {
	if !storable(string(userID)) {
		return nil, nil
	}
	rows, err := ss.s.q.Query(ctx, `SELECT `+sessionCols+` FROM sessions s WHERE s.user_id = $1
		ORDER BY s.created_at DESC, s.id DESC`, string(userID))
	if err != nil {
		return nil, wrap("list sessions", err)
	}
	defer rows.Close()
	var out []auth.Session
	for rows.Next() {
		var s auth.Session
		if err := scanSession(rows, &s); err != nil {
			return nil, wrap("list sessions", err)
		}
		out = append(out, s)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list sessions", err)
	}
	return out, nil
}

func (ss sessionStore) Delete(ctx context.Context, id string) error {
	if !storable(id) {
		return wrap("delete session", auth.ErrSessionNotFound)
	}
	tag, err := ss.s.q.Exec(ctx, `DELETE FROM sessions WHERE id = $1`, id)
	return affected("delete session", tag, err, auth.ErrSessionNotFound)
}

func (ss sessionStore) DeleteUser(ctx context.Context, userID user.ID, except string) (int, error) {
	if !storable(string(userID)) {
		return 0, nil
	}
	if !storable(except) {
		except = "" // names no session, so excepts none
	}
	tag, err := ss.s.q.Exec(ctx, `DELETE FROM sessions WHERE user_id = $1 AND id <> $2`, string(userID), except)
	return rowsAffected("delete user sessions", tag, err)
}

// DeleteExpired compares each session's last use with its own idle
// timeout, which no index serves: it reads the table, which a host does
// hourly at most (Manager.PruneSessions). A session is over at the very
// instant of its expiry or idle deadline (<=), as Authenticate decides
// (OWASP ASVS 5.0 V7.3.1, V7.3.2).
func (ss sessionStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	tag, err := ss.s.q.Exec(ctx, `DELETE FROM sessions
		WHERE expires_at <= $1 OR last_seen_at + (idle_timeout_ns / 1000) * interval '1 microsecond' <= $1`, now)
	return rowsAffected("delete expired sessions", tag, err)
}

func rowsAffected(op string, tag pgconn.CommandTag, err error) (int, error) {
	if err != nil {
		return 0, wrap(op, err)
	}
	return int(tag.RowsAffected()), nil
}
