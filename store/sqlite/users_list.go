package sqlite

import (
	"context"
	"database/sql"
	"fmt"
	"strconv"
	"strings"

	"github.com/usher-go/usher/user"
)

// listOrder is how one user.Sort is written in SQL.
type listOrder struct {
	// key is the sort key column; each has an index (see 0001_init.sql).
	key string
	// numeric keys travel in the cursor as decimal integers.
	numeric bool
	// unique keys need no id tie-break in the keyset condition, and their
	// index, the UNIQUE constraint's, does not have id in it.
	unique bool
}

var listOrders = map[user.Sort]listOrder{
	user.SortCreated:   {key: "u.created_at", numeric: true},
	user.SortEmail:     {key: "u.email", unique: true},
	user.SortName:      {key: "u.name_key"},
	user.SortLastLogin: {key: "u.last_login_key", numeric: true},
}

// List pages with a keyset, never OFFSET: the cursor holds the last row's
// (sort key, id) and the next page starts strictly after it, which is one
// index seek at any depth and neither skips nor repeats a row when users are
// added or removed between pages.
//
// Filters are written so that they cannot take over the index choice (the
// unary + hides a column from the planner): the order's index always drives
// the scan and the LIMIT stops it early. A very selective filter therefore
// walks more of the index than an index on the filter would, which for a
// user table is a few milliseconds at worst; a sort of every match would
// cost that on every page.
func (us userStore) List(ctx context.Context, q user.Query) (user.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return user.Page{}, err
	}
	query, args, err := listQuery(q)
	if err != nil {
		return user.Page{}, err
	}

	rows, err := us.s.r.QueryContext(ctx, query, args...)
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
			created   int64
			updated   int64
			lastLogin sql.NullInt64
			nameKey   string
		)
		err := rows.Scan(&s.ID, &s.Email, &s.Name, &s.GroupID, &s.Disabled, &created, &updated, &lastLogin,
			&nameKey, &s.GroupName, &s.TwoFactor)
		if err != nil {
			return user.Page{}, wrap("list users", err)
		}
		s.CreatedAt, s.UpdatedAt, s.LastLoginAt = fromNanos(created), fromNanos(updated), fromNanos(lastLogin.Int64)
		switch q.Sort {
		case user.SortCreated:
			lastKey = strconv.FormatInt(created, 10)
		case user.SortEmail:
			lastKey = s.Email
		case user.SortName:
			lastKey = nameKey
		case user.SortLastLogin:
			lastKey = strconv.FormatInt(lastLogin.Int64, 10)
		}
		page.Users = append(page.Users, s)
	}
	if err := rows.Err(); err != nil {
		return user.Page{}, wrap("list users", err)
	}
	return page, nil
}

// listQuery writes the SQL of one page for a normalized q.
func listQuery(q user.Query) (string, []any, error) {
	order := listOrders[q.Sort]
	var (
		where []string
		args  []any
	)
	if q.Search != "" {
		pattern := "%" + likeEscaper.Replace(foldKey(q.Search)) + "%"
		where = append(where, `(u.email LIKE ? ESCAPE '\' OR u.name_key LIKE ? ESCAPE '\')`)
		args = append(args, pattern, pattern)
	}
	if q.GroupID != "" {
		where = append(where, `+u.group_id = ?`)
		args = append(args, q.GroupID)
	}
	if q.Disabled != nil {
		where = append(where, `+u.disabled = ?`)
		args = append(args, boolInt(*q.Disabled))
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
			return "", nil, err
		}
		var key any = c.Key
		if order.numeric {
			if key, err = strconv.ParseInt(c.Key, 10, 64); err != nil {
				return "", nil, fmt.Errorf("%w: bad key", user.ErrInvalidCursor)
			}
		}
		if order.unique {
			where = append(where, fmt.Sprintf("%s %s ?", order.key, cmp))
			args = append(args, key)
		} else {
			where = append(where, fmt.Sprintf("(%s, u.id) %s (?, ?)", order.key, cmp))
			args = append(args, key, c.ID)
		}
	}

	var b strings.Builder
	b.WriteString(`SELECT ` + userCols + `, u.name_key,
		(SELECT g.name FROM groups g WHERE g.id = u.group_id),
		` + twoFactorSQL + `
		FROM users u`)
	if len(where) > 0 {
		b.WriteString(" WHERE ")
		b.WriteString(strings.Join(where, " AND "))
	}
	fmt.Fprintf(&b, " ORDER BY %s %s, u.id %s LIMIT ?", order.key, dir, dir)
	// One row more than the page tells whether there is a next page
	// without a count.
	args = append(args, q.Limit+1)
	return b.String(), args, nil
}

// twoFactorSQL is true for a user with a confirmed TOTP secret.
const twoFactorSQL = `EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)`

// likeEscaper makes a search string match itself literally inside
// LIKE ... ESCAPE '\'.
var likeEscaper = strings.NewReplacer(`\`, `\\`, `%`, `\%`, `_`, `\_`)
