package postgres

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/user"
)

// listOrder is how one user.Sort is written in SQL.
type listOrder struct {
	// key is the sort key column; each has an index (see 0001_init.sql).
	key string
	// temporal keys travel in the cursor as decimal Unix microseconds.
	temporal bool
	// unique keys need no id tie-break in the keyset condition.
	unique bool
}

var listOrders = map[user.Sort]listOrder{
	user.SortCreated:   {key: "u.created_at", temporal: true},
	user.SortEmail:     {key: "u.email", unique: true},
	user.SortName:      {key: "u.name_key"},
	user.SortLastLogin: {key: "u.last_login_key", temporal: true},
}

// List pages with a keyset, never OFFSET: the cursor holds the last row's
// (sort key, id) and the next page starts strictly after it, which is one
// index range scan at any depth and neither skips nor repeats a row when
// users are added or removed between pages. The row comparison
// (key, id) > ($1, $2) is an index condition on the order's (key, id)
// index, which PostgreSQL walks in either direction.
func (us userStore) List(ctx context.Context, q user.Query) (user.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return user.Page{}, err
	}
	query, args, ok, err := listQuery(q)
	if err != nil {
		return user.Page{}, err
	}
	if !ok {
		return user.Page{Users: []user.Summary{}}, nil
	}
	rows, err := us.s.q.Query(ctx, query, args...)
	if err != nil {
		return user.Page{}, wrap("list users", err)
	}
	defer rows.Close()
	page := user.Page{Users: make([]user.Summary, 0, q.Limit)}
	var lastKey string
	for rows.Next() {
		if len(page.Users) == q.Limit {
			page.Next = user.EncodeCursor(user.Cursor{
				Sort: q.Sort, Desc: q.Descending, Key: lastKey,
				ID: page.Users[len(page.Users)-1].ID,
			})
			break
		}
		var (
			s         user.Summary
			lastLogin pgtype.Timestamptz
			nameKey   string
		)
		err := rows.Scan((*string)(&s.ID), &s.Email, &s.Name, &s.GroupID, &s.Disabled, &s.CreatedAt, &s.UpdatedAt,
			&lastLogin, &nameKey, &s.GroupName, &s.TwoFactor)
		if err != nil {
			return user.Page{}, wrap("list users", err)
		}
		s.LastLoginAt = fromOpt(lastLogin)
		switch q.Sort {
		case user.SortCreated:
			lastKey = strconv.FormatInt(s.CreatedAt.UnixMicro(), 10)
		case user.SortEmail:
			lastKey = s.Email
		case user.SortName:
			lastKey = nameKey
		case user.SortLastLogin:
			// The zero time for a user who never logged in: the column's
			// COALESCE value.
			lastKey = strconv.FormatInt(s.LastLoginAt.UnixMicro(), 10)
		}
		page.Users = append(page.Users, s)
	}
	// Leaving early (a full page) closes the rows first; Err then reports
	// only real failures.
	rows.Close()
	if err := rows.Err(); err != nil {
		return user.Page{}, wrap("list users", err)
	}
	return page, nil
}

// listQuery writes the SQL of one page for a normalized q. ok is false
// when q cannot match anything because a filter holds a string PostgreSQL
// cannot store (invalid UTF-8 or NUL).
func listQuery(q user.Query) (sql string, args []any, ok bool, err error) {
	order := listOrders[q.Sort]
	var where []string
	arg := func(v any) string {
		args = append(args, v)
		return "$" + strconv.Itoa(len(args))
	}
	if q.Search != "" {
		if !storable(q.Search) {
			return "", nil, false, nil
		}
		p := arg("%" + likeEscaper.Replace(foldKey(q.Search)) + "%")
		where = append(where, fmt.Sprintf(`(u.email LIKE %s ESCAPE E'\\' OR u.name_key LIKE %s ESCAPE E'\\')`, p, p))
	}
	if q.GroupID != "" {
		if !storable(q.GroupID) {
			return "", nil, false, nil
		}
		where = append(where, `u.group_id = `+arg(q.GroupID))
	}
	if q.Disabled != nil {
		where = append(where, `u.disabled = `+arg(*q.Disabled))
	}
	if q.TwoFactor != nil {
		cond := twoFactorSQL
		if !*q.TwoFactor {
			cond = "NOT " + cond
		}
		where = append(where, cond)
	}
	cmp, dir := ">", "ASC"
	if q.Descending {
		cmp, dir = "<", "DESC"
	}
	if q.Cursor != "" {
		c, err := user.DecodeCursor(q)
		if err != nil {
			return "", nil, false, err
		}
		if !storable(string(c.ID)) || !storable(c.Key) {
			return "", nil, false, fmt.Errorf("%w: bad key", user.ErrInvalidCursor)
		}
		var key any = c.Key
		if order.temporal {
			n, err := strconv.ParseInt(c.Key, 10, 64)
			if err != nil {
				return "", nil, false, fmt.Errorf("%w: bad key", user.ErrInvalidCursor)
			}
			key = time.UnixMicro(n).UTC()
		}
		if order.unique {
			where = append(where, fmt.Sprintf("%s %s %s", order.key, cmp, arg(key)))
		} else {
			where = append(where, fmt.Sprintf("(%s, u.id) %s (%s, %s)", order.key, cmp, arg(key), arg(string(c.ID))))
		}
	}

	var b strings.Builder
	b.WriteString(`SELECT ` + userCols + `, u.name_key, g.name, ` + twoFactorSQL + `
		FROM users u JOIN groups g ON g.id = u.group_id`)
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	// One row more than the page tells whether there is a next page
	// without a count.
	if order.unique {
		// Not ", u.id": the planner does not know that a unique key
		// needs no tie-break, and would sort instead of reading the
		// UNIQUE index in order.
		fmt.Fprintf(&b, " ORDER BY %s %s LIMIT %s", order.key, dir, arg(q.Limit+1))
	} else {
		fmt.Fprintf(&b, " ORDER BY %s %s, u.id %s LIMIT %s", order.key, dir, dir, arg(q.Limit+1))
	}
	return b.String(), args, true, nil
}

// twoFactorSQL is true for a user with a confirmed TOTP secret.
const twoFactorSQL = `EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)`

// likeEscaper makes a search string match itself literally inside
// LIKE ... ESCAPE E'\\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
