package auth_test

import (
	"context"
	"database/sql"
	"testing"
	"time"

	"github.com/usher-go/usher/user"
)

// The floors of issue 12: what an operation stands on, the raw SQL run by
// database/sql on the same SQLite file in the same process, prepared once
// and scanned into plain values. A benchmark times its floor and usher
// alternately in one loop and reports usher ÷ floor (reportFloor).

// floorSessionSQL is Authenticate's floor: the session by its token hash,
// joined to its user and group, column by column.
const floorSessionSQL = `SELECT s.id, s.user_id, s.created_at, s.last_seen_at, s.expires_at, s.ip, s.user_agent,
		s.multi_factor, s.idle_timeout_ns, s.remembered,
		u.email, u.name, u.group_id, u.disabled, u.created_at, u.updated_at, u.last_login_at, u.must_change_password,
		g.name, g.description, g.permissions, g.require_two_factor, g.created_at, g.updated_at
	FROM sessions s
	JOIN users u ON u.id = s.user_id
	JOIN groups g ON g.id = u.group_id
	WHERE s.token_hash = ?`

// packedSessionSQL is the same join as store/sqlite sends it
// (sessionLookupSQL there): the row packed into one text value, so that
// database/sql allocates for one column instead of twenty-four. It is
// Authenticate's second floor: the very SQL it stands on, run raw.
const packedSessionSQL = `SELECT
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

// packedSession runs packedSessionSQL for one token hash.
func packedSession(b *testing.B, st *sql.Stmt, hash []byte) {
	var packed string
	if err := st.QueryRowContext(context.Background(), hash).Scan(&packed); err != nil {
		b.Fatal(err)
	}
}

// floorSession runs floorSessionSQL for one token hash.
func floorSession(b *testing.B, st *sql.Stmt, hash []byte) {
	var (
		sid, uid, ip, agent, email, name, gid, gname, gdesc, perms string
		sc, ss, se, idle, uc, uu, gc, gu                           int64
		mf, rem, disabled, mustChange, require2FA                  bool
		lastLogin                                                  sql.NullInt64
	)
	err := st.QueryRowContext(context.Background(), hash).Scan(&sid, &uid, &sc, &ss, &se, &ip, &agent, &mf, &idle, &rem,
		&email, &name, &gid, &disabled, &uc, &uu, &lastLogin, &mustChange,
		&gname, &gdesc, &perms, &require2FA, &gc, &gu)
	if err != nil {
		b.Fatal(err)
	}
}

// floorUserCols are the columns a page of users reads in store/sqlite
// (listSelect): the user, its name key, its group's name, whether TOTP is
// enrolled, its passkeys, whether it has an avatar, its SSO providers.
const floorUserCols = `SELECT u.id, u.email, u.name, u.group_id, u.disabled, u.created_at, u.updated_at, u.last_login_at,
		u.version, u.must_change_password, u.name_key,
		(SELECT g.name FROM groups g WHERE g.id = u.group_id),
		EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL),
		(SELECT count(*) FROM passkeys p WHERE p.user_id = u.id),
		EXISTS (SELECT 1 FROM avatars av WHERE av.user_id = u.id),
		(SELECT group_concat(i.provider_id) FROM oidc_identities i WHERE i.user_id = u.id)
	FROM users u`

// floorKeys are the sort keys of the user orders and whether each is
// unique (no id tie-break), as store/internal/paging writes them.
var floorKeys = map[user.Sort]struct {
	col    string
	unique bool
}{
	user.SortCreated:   {"u.created_at", false},
	user.SortEmail:     {"u.email", true},
	user.SortName:      {"u.name_key", false},
	user.SortLastLogin: {"u.last_login_key", false},
}

// floorUsersSQL is a page's floor: 51 rows in sort's ascending order, from
// the start or (after) strictly after a key and id.
func floorUsersSQL(sort user.Sort, after bool) string {
	k := floorKeys[sort]
	q := floorUserCols
	switch {
	case after && k.unique:
		q += ` WHERE ` + k.col + ` > ?`
	case after:
		q += ` WHERE (` + k.col + `, u.id) > (?, ?)`
	}
	q += ` ORDER BY ` + k.col
	if !k.unique {
		q += `, u.id`
	}
	return q + ` LIMIT 51`
}

// afterRow returns the floor's keyset arguments for the page after the
// row at offset in sort's ascending order.
func afterRow(b *testing.B, raw *sql.DB, sort user.Sort, offset int) []any {
	k := floorKeys[sort]
	var key any
	var id string
	if err := raw.QueryRow(`SELECT `+k.col+`, u.id FROM users u ORDER BY `+k.col+`, u.id LIMIT 1 OFFSET ?`,
		offset).Scan(&key, &id); err != nil {
		b.Fatal(err)
	}
	if k.unique {
		return []any{key}
	}
	return []any{key, id}
}

// floorUserPage reads a page of floorUserCols rows and counts them.
func floorUserPage(b *testing.B, st *sql.Stmt, args []any) int {
	rows, err := st.QueryContext(context.Background(), args...)
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	var (
		id, email, name, gid, nameKey, gname string
		providers                            sql.NullString
		disabled, mustChange, totp, avatar   bool
		created, updated, version, passkeys  int64
		lastLogin                            sql.NullInt64
		n                                    int
	)
	for rows.Next() {
		if err := rows.Scan(&id, &email, &name, &gid, &disabled, &created, &updated, &lastLogin, &version, &mustChange,
			&nameKey, &gname, &totp, &passkeys, &avatar, &providers); err != nil {
			b.Fatal(err)
		}
		n++
	}
	if err := rows.Err(); err != nil {
		b.Fatal(err)
	}
	return n
}

// timeBoth times floor and usher, floor first on even iterations n and
// usher first on odd ones, so that neither always follows the other.
func timeBoth(n int, floor, usher func()) (tFloor, tUsher time.Duration) {
	first, second := floor, usher
	if n%2 == 1 {
		first, second = usher, floor
	}
	t0 := time.Now()
	first()
	t1 := time.Now()
	second()
	t2 := time.Now()
	if n%2 == 1 {
		return t2.Sub(t1), t1.Sub(t0)
	}
	return t1.Sub(t0), t2.Sub(t1)
}

// loopBoth runs b's loop over floor and usher, timed by timeBoth, and
// returns each one's total time and the number of iterations.
func loopBoth(b *testing.B, floor, usher func()) (tFloor, tUsher time.Duration, n int) {
	for b.Loop() {
		tf, tu := timeBoth(n, floor, usher)
		tFloor += tf
		tUsher += tu
		n++
	}
	return tFloor, tUsher, n
}

// reportAllocs reports the allocations of one operation of usher and of
// the floor, and their ratio.
func reportAllocs(b *testing.B, usher, floor float64) {
	b.ReportMetric(usher, "usher-allocs/op")
	b.ReportMetric(floor, "floor-allocs/op")
	b.ReportMetric(usher/floor, "allocs-usher/floor")
}

// reportFloor reports usher ÷ floor and each one's time per operation.
func reportFloor(b *testing.B, usher, floor time.Duration, n int) {
	b.ReportMetric(float64(usher)/float64(floor), "usher/floor")
	b.ReportMetric(float64(usher.Nanoseconds())/float64(n), "usher-ns/op")
	b.ReportMetric(float64(floor.Nanoseconds())/float64(n), "floor-ns/op")
}
