package sqlite

import (
	"context"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"slices"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

const sessionCols = `s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent, s.multi_factor,
	s.idle_timeout_ns, s.remembered`

func scanSession(sc scanner, s *auth.Session) error {
	var created, seen, expires int64
	if err := sc.Scan(&s.ID, &s.UserID, &created, &seen, &expires, &s.IP, &s.UserAgent, &s.MultiFactor,
		(*int64)(&s.IdleTimeout), &s.Remembered); err != nil {
		return err
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromNanos(created), fromNanos(seen), fromNanos(expires)
	return nil
}

func (ss sessionStore) Create(ctx context.Context, s *auth.Session, tokenHash []byte) error {
	const q = `INSERT INTO sessions (id, token_hash, user_id, created_at, last_seen_at, expires_at, ip, user_agent, multi_factor,
		idle_timeout_ns, remembered)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := ss.s.w.ExecContext(ctx, q, s.ID, tokenHash, s.UserID, nanos(s.CreatedAt), nanos(s.LastSeenAt),
		nanos(s.ExpiresAt), s.IP, s.UserAgent, s.MultiFactor, int64(s.IdleTimeout), s.Remembered)
	if code(err) == codeForeignKey { // user_id is the only reference
		return wrap("create session", user.ErrNotFound)
	}
	if err != nil {
		return wrap("create session", err)
	}
	return nil
}

// sessionLookupSQL is the Authenticate hot path: one indexed probe of
// token_hash and two primary-key joins, so the permissions read are the
// group's as of this request.
//
// It returns the whole row packed into one text value (sessionLookupPlainSQL
// is the same query column by column). That is not style but budget:
// database/sql and the driver allocate per column and per value, so twenty
// columns cost 95 allocations a lookup against 22 for one, and
// Authenticate must stay within 40. The integers come first, each followed
// by a space; then each string as "<byte length>:<bytes>", which needs no
// escaping whatever the string holds. unpackSession takes the strings as
// substrings of the one value, without copying.
const sessionLookupSQL = `SELECT
		s.created_at || ' ' || s.last_seen_at || ' ' || s.expires_at || ' '
		|| u.disabled || ' ' || u.created_at || ' ' || u.updated_at || ' ' || COALESCE(u.last_login_at, 0) || ' '
		|| g.require_two_factor || ' ' || g.created_at || ' ' || g.updated_at || ' ' || s.multi_factor || ' ' || u.must_change_password || ' '
		|| s.idle_timeout_ns || ' ' || s.remembered || ' '
		|| octet_length(s.id) || ':' || s.id
		|| octet_length(s.user_id) || ':' || s.user_id
		|| octet_length(s.ip) || ':' || s.ip
		|| octet_length(s.user_agent) || ':' || s.user_agent
		|| octet_length(u.email) || ':' || u.email
		|| octet_length(u.name) || ':' || u.name
		|| octet_length(u.group_id) || ':' || u.group_id
		|| octet_length(g.name) || ':' || g.name
		|| octet_length(g.description) || ':' || g.description
		|| octet_length(g.permissions) || ':' || g.permissions
	FROM sessions s
	JOIN users u ON u.id = s.user_id
	JOIN groups g ON g.id = u.group_id
	WHERE s.token_hash = ?`

// sessionLookupPlainSQL is sessionLookupSQL unpacked: the fallback should a
// row ever not unpack, and the reference the tests compare against.
const sessionLookupPlainSQL = `SELECT ` + sessionCols + `,
		u.email, u.name, u.group_id, u.disabled, u.created_at, u.updated_at, u.last_login_at, u.must_change_password,
		g.name, g.description, g.permissions, g.require_two_factor, g.created_at, g.updated_at
	FROM sessions s
	JOIN users u ON u.id = s.user_id
	JOIN groups g ON g.id = u.group_id
	WHERE s.token_hash = ?`

// lookupResult holds Lookup's three results in one allocation.
type lookupResult struct {
	s auth.Session
	u user.User
	g group.Group
}

func (ss sessionStore) Lookup(ctx context.Context, tokenHash []byte) (*auth.Session, *user.User, *group.Group, error) {
	r := new(lookupResult)
	if err := ss.LookupInto(ctx, tokenHash, &r.s, &r.u, &r.g); err != nil {
		return nil, nil, nil, err
	}
	r.g.Permissions = slices.Clone(r.g.Permissions) // the caller's own, unlike LookupInto's
	return &r.s, &r.u, &r.g, nil
}

// LookupInto is auth.SessionLookupInto: Lookup into the caller's values,
// which Authenticate allocates once, as the Principal it returns. The
// group's Permissions are shared with every lookup of the same list
// (permListCache), as auth.SessionLookupInto allows: read only.
func (ss sessionStore) LookupInto(ctx context.Context, tokenHash []byte, s *auth.Session, u *user.User, g *group.Group) error {
	// Outside a transaction, on a connection of the lookup's own past
	// database/sql (lookupconns.go), or the statement prepared at Open;
	// inside one, the transaction's querier.
	var packed sql.NullString
	var err error
	if ss.s.tx == nil {
		err = ss.s.db.lookupPacked(ctx, tokenHash, &packed)
	} else {
		err = ss.s.r.QueryRowContext(ctx, sessionLookupSQL, tokenHash).Scan(&packed)
	}
	if errors.Is(err, sql.ErrNoRows) {
		return wrap("lookup session", auth.ErrSessionNotFound)
	}
	if err != nil {
		return wrap("lookup session", err)
	}
	if !packed.Valid || !unpackSession(packed.String, s, u, g, &ss.s.db.perms) {
		// Cannot happen with rows this package wrote; stay correct
		// rather than fast if it does.
		ps, pu, pg, err := ss.lookupPlain(ctx, tokenHash)
		if err != nil {
			return err
		}
		*s, *u, *g = *ps, *pu, *pg
	}
	return nil
}

// unpackSession parses one sessionLookupSQL value into s, u and g,
// reporting whether it was well formed. The strings are substrings of p;
// the permissions are perms's shared list for their text, which the caller
// must not change.
//
// It is Authenticate's own share of the hot path, so it reads the
// integers and lengths by hand (cutInt) rather than through strconv, and
// takes the permissions from a cache rather than splitting them again; a
// value it refuses sends LookupInto to the plain query.
func unpackSession(p string, s *auth.Session, u *user.User, g *group.Group, perms *permListCache) bool {
	var n [14]int64
	for i := range n {
		v, rest, ok := cutInt(p, ' ')
		if !ok {
			return false
		}
		n[i], p = v, rest
	}
	var text string
	for _, d := range [...]*string{
		&s.ID, (*string)(&s.UserID), &s.IP, &s.UserAgent,
		&u.Email, &u.Name, &u.GroupID,
		&g.Name, &g.Description, &text,
	} {
		l, rest, ok := cutInt(p, ':')
		if !ok || l < 0 || l > int64(len(rest)) {
			return false
		}
		*d, p = rest[:l], rest[l:]
	}
	if p != "" {
		return false
	}
	s.CreatedAt, s.LastSeenAt, s.ExpiresAt = fromNanos(n[0]), fromNanos(n[1]), fromNanos(n[2])
	u.ID, u.Disabled = s.UserID, n[3] != 0
	u.CreatedAt, u.UpdatedAt, u.LastLoginAt = fromNanos(n[4]), fromNanos(n[5]), fromNanos(n[6])
	g.ID, g.RequireTwoFactor = group.ID(u.GroupID), n[7] != 0
	g.CreatedAt, g.UpdatedAt = fromNanos(n[8]), fromNanos(n[9])
	s.MultiFactor, u.MustChangePassword = n[10] != 0, n[11] != 0
	s.IdleTimeout, s.Remembered = time.Duration(n[12]), n[13] != 0
	g.Permissions = perms.split(text)
	return true
}

// cutInt parses the decimal integer at the front of p, which ends at the
// first byte end, and returns it and what follows that byte. It reads
// what strconv.ParseInt(s, 10, 64) reads but a leading plus sign, which
// SQLite does not write: an optional minus sign and digits, within int64.
func cutInt(p string, end byte) (int64, string, bool) {
	i := 0
	if len(p) > 0 && p[0] == '-' {
		i = 1
	}
	start := i
	var v uint64
	for ; i < len(p) && p[i] != end; i++ {
		c := p[i] - '0'
		if c > 9 || v > (1<<63)/10 { // past that, v*10 is out of range
			return 0, p, false
		}
		v = v*10 + uint64(c) // at most 2⁶³+9: no overflow
	}
	if i == start || i == len(p) {
		return 0, p, false // no digits, or no end
	}
	if start == 1 {
		if v > 1<<63 {
			return 0, p, false
		}
		return -int64(v), p[i+1:], true // -(1<<63) too: int64(1<<63) negates to itself
	}
	if v > 1<<63-1 {
		return 0, p, false
	}
	return int64(v), p[i+1:], true
}

// lookupPlain is Lookup column by column.
func (ss sessionStore) lookupPlain(ctx context.Context, tokenHash []byte) (*auth.Session, *user.User, *group.Group, error) {
	var (
		r                           lookupResult
		lastLogin                   sql.NullInt64
		perms                       string
		sc, ss2, se, uc, uu, gc, gu int64
	)
	err := ss.s.r.QueryRowContext(ctx, sessionLookupPlainSQL, tokenHash).Scan(
		&r.s.ID, &r.s.UserID, &sc, &ss2, &se, &r.s.IP, &r.s.UserAgent, &r.s.MultiFactor, (*int64)(&r.s.IdleTimeout), &r.s.Remembered,
		&r.u.Email, &r.u.Name, &r.u.GroupID, &r.u.Disabled, &uc, &uu, &lastLogin, &r.u.MustChangePassword,
		&r.g.Name, &r.g.Description, &perms, &r.g.RequireTwoFactor, &gc, &gu)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, nil, nil, wrap("lookup session", auth.ErrSessionNotFound)
	}
	if err != nil {
		return nil, nil, nil, wrap("lookup session", err)
	}
	r.s.CreatedAt, r.s.LastSeenAt, r.s.ExpiresAt = fromNanos(sc), fromNanos(ss2), fromNanos(se)
	r.u.ID = r.s.UserID
	r.u.CreatedAt, r.u.UpdatedAt, r.u.LastLoginAt = fromNanos(uc), fromNanos(uu), fromNanos(lastLogin.Int64)
	r.g.ID = group.ID(r.u.GroupID)
	r.g.Permissions = splitPermissions(perms)
	r.g.CreatedAt, r.g.UpdatedAt = fromNanos(gc), fromNanos(gu)
	return &r.s, &r.u, &r.g, nil
}

func (ss sessionStore) Get(ctx context.Context, id string) (*auth.Session, error) {
	s := new(auth.Session)
	err := scanSession(ss.s.r.QueryRowContext(ctx, `SELECT `+sessionCols+` FROM sessions s WHERE s.id = ?`, id), s)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("get session", auth.ErrSessionNotFound)
	}
	if err != nil {
		return nil, wrap("get session", err)
	}
	return s, nil
}

// Touch is one conditional UPDATE: most requests find last_seen_at recent
// enough and write nothing, so the writer is not taken per request.
func (ss sessionStore) Touch(ctx context.Context, id string, at, notAfter time.Time) error {
	_, err := ss.s.w.ExecContext(ctx, `UPDATE sessions SET last_seen_at = ? WHERE id = ? AND last_seen_at < ?`,
		nanos(at), id, nanos(notAfter))
	if err != nil {
		return wrap("touch session", err)
	}
	return nil
}

// touchBatchSQL writes a batch of last uses in one statement: the batch
// arrives as one JSON array of [id, nanoseconds] pairs, read by json_each,
// so the SQL is the same whatever the batch's size and no batch runs into
// SQLite's limit on parameters. Each ID travels hex-encoded and is turned
// back into the very bytes stored (CAST of a blob to text keeps them):
// JSON holds only valid UTF-8, and encoding/json would replace the bytes
// of any other ID, which would then match nothing. It probes sessions by
// primary key per pair; an ID not stored matches nothing (an UPDATE never
// inserts), and GROUP BY keeps one row per ID, the latest, which an
// UPDATE ... FROM needs (with two it would take either).
const touchBatchSQL = `UPDATE sessions SET last_seen_at = t.at
	FROM (SELECT CAST(unhex(value ->> 0) AS TEXT) AS id, max(value ->> 1) AS at FROM json_each(?) GROUP BY 1) AS t
	WHERE sessions.id = t.id AND sessions.last_seen_at < t.at`

// TouchBatch is auth.SessionBatchToucher: one UPDATE, atomic by itself,
// on the writer.
func (ss sessionStore) TouchBatch(ctx context.Context, touches []auth.SessionTouch) error {
	if len(touches) == 0 {
		return nil
	}
	pairs := make([][2]any, len(touches))
	for i, t := range touches {
		pairs[i] = [2]any{hex.EncodeToString([]byte(t.ID)), nanos(t.At)}
	}
	batch, err := json.Marshal(pairs)
	if err != nil {
		return wrap("touch sessions", err)
	}
	if _, err := ss.s.w.ExecContext(ctx, touchBatchSQL, string(batch)); err != nil {
		return wrap("touch sessions", err)
	}
	return nil
}

func (ss sessionStore) List(ctx context.Context, userID user.ID) ([]auth.Session, error) {
	rows, err := ss.s.r.QueryContext(ctx, `SELECT `+sessionCols+` FROM sessions s WHERE s.user_id = ?
		ORDER BY s.created_at DESC, s.id DESC`, userID)
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
	res, err := ss.s.w.ExecContext(ctx, `DELETE FROM sessions WHERE id = ?`, id)
	return affected("delete session", res, err, auth.ErrSessionNotFound)
}

func (ss sessionStore) DeleteUser(ctx context.Context, userID user.ID, except string) (int, error) {
	res, err := ss.s.w.ExecContext(ctx, `DELETE FROM sessions WHERE user_id = ? AND id <> ?`, userID, except)
	return rowsAffected("delete user sessions", res, err)
}

// DeleteExpired compares each session's last use with its own idle
// timeout, which no index serves: it reads the table, which a host does
// hourly at most (Manager.PruneSessions). A session is over at the very
// instant of its expiry or idle deadline (<=), as Authenticate decides
// (OWASP ASVS 5.0 V7.3.1, V7.3.2).
func (ss sessionStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := ss.s.w.ExecContext(ctx, `DELETE FROM sessions WHERE expires_at <= ?1 OR last_seen_at + idle_timeout_ns <= ?1`,
		nanos(now))
	return rowsAffected("delete expired sessions", res, err)
}

func rowsAffected(op string, res sql.Result, err error) (int, error) {
	if err != nil {
		return 0, wrap(op, err)
	}
	n, err := res.RowsAffected()
	if err != nil {
		return 0, wrap(op, err)
	}
	return int(n), nil
}
