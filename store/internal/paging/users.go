package paging

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"github.com/usher-go/usher/user"
)

// userOrder is how one user.Sort is written in SQL. The columns are the
// same in both stores' schemas; each order has an index (key, id), or the
// UNIQUE index of its key (see each store's 0001_init.sql).
type userOrder struct {
	key string
	// time keys travel in the cursor as a decimal integer (Dialect.TimeKey).
	time bool
	// unique keys need no id tie-break, neither in the keyset condition
	// nor in ORDER BY: their index, the UNIQUE constraint's, holds no id,
	// and a planner told to order by id too would sort instead of reading
	// it in order.
	unique bool
}

var userOrders = map[user.Sort]userOrder{
	user.SortCreated:   {key: "u.created_at", time: true},
	user.SortEmail:     {key: "u.email", unique: true},
	user.SortName:      {key: "u.name_key"},
	user.SortLastLogin: {key: "u.last_login_key", time: true},
}

// TwoFactorSQL is true for a user (u) with a confirmed TOTP secret.
const TwoFactorSQL = `EXISTS (SELECT 1 FROM totp_credentials t WHERE t.user_id = u.id AND t.confirmed_at IS NOT NULL)`

// AvatarSQL is true for a user (u) with an avatar: user.Summary.HasAvatar,
// one seek of the avatars primary key per listed user.
const AvatarSQL = `EXISTS (SELECT 1 FROM avatars av WHERE av.user_id = u.id)`

// PasskeysSQL counts a user's (u) passkeys: user.Summary.Passkeys, one
// seek of the passkeys_user index per listed user.
const PasskeysSQL = `(SELECT count(*) FROM passkeys p WHERE p.user_id = u.id)`

// SplitProviders reads the comma-joined provider IDs (which hold no comma)
// a page of users carries for user.Summary.Providers, sorted and each once
// (the aggregate neither sorts nor dedupes: that would cost a temporary
// b-tree per listed user); "" is none.
func SplitProviders(s string) []string {
	if s == "" {
		return nil
	}
	return slices.Compact(slices.Sorted(strings.SplitSeq(s, ",")))
}

// Users writes the statement of one page of users for a normalized q: sel
// (SELECT ... FROM users u, with whatever columns and joins the store
// scans), the filters, the keyset condition after q.Cursor, the order, and
// a LIMIT one row more than the page. ok is false when q cannot match
// anything (a filter holds a string the database cannot store). A cursor
// this package did not make for q's order fails with
// [user.ErrInvalidCursor].
//
// Filters are written so that they cannot take over the index choice
// (Dialect.Unindexed): the order's index drives the scan and the LIMIT
// stops it early. A very selective filter therefore walks more of the index
// than an index on the filter would, which for a user table is a few
// milliseconds at worst; a sort of every match would cost that on every
// page.
func (d *Dialect) Users(sel string, q user.Query) (query string, args []any, ok bool, err error) {
	order := userOrders[q.Sort]
	var w builder
	w.start(d, sel)
	if q.Search != "" {
		if !d.storable(q.Search) {
			return "", nil, false, nil
		}
		w.where()
		w.sql("(u.email LIKE ")
		w.arg("%" + likeEscaper.Replace(FoldKey(q.Search)) + "%")
		w.sql(" ESCAPE ", d.LikeEscape, " OR u.name_key LIKE ")
		w.again()
		w.sql(" ESCAPE ", d.LikeEscape, ")")
	}
	if q.GroupID != "" {
		if !d.storable(q.GroupID) {
			return "", nil, false, nil
		}
		w.where()
		w.sql(d.Unindexed, "u.group_id = ")
		w.arg(q.GroupID)
	}
	if q.Disabled != nil {
		w.where()
		w.sql(d.Unindexed, "u.disabled = ")
		w.arg(*q.Disabled)
	}
	if q.TwoFactor != nil {
		w.where()
		if !*q.TwoFactor {
			w.sql("NOT ")
		}
		w.sql(TwoFactorSQL)
	}
	cmp, dir := " > ", " ASC"
	if q.Descending {
		cmp, dir = " < ", " DESC"
	}
	if q.Cursor != "" {
		if err := d.userKeyset(&w, q, order, cmp); err != nil {
			return "", nil, false, err
		}
	}
	w.sql(" ORDER BY ", order.key, dir)
	if !order.unique {
		w.sql(", u.id", dir)
	}
	// One row more than the page tells whether there is a next page
	// without a count. The limit is written, not bound: SQLite plans
	// with a bound LIMIT's value and re-prepares a statement each time
	// one is bound, which would undo the stores' prepared statements;
	// written, it is one more part of a statement's shape, and
	// user.MaxLimit bounds the shapes.
	w.sql(" LIMIT ", strconv.Itoa(q.Limit+1))
	return w.b.String(), w.args, true, nil
}

// userKeyset writes the condition that starts the page strictly after
// q.Cursor.
func (d *Dialect) userKeyset(w *builder, q user.Query, order userOrder, cmp string) error {
	c, err := DecodeUserCursor(q)
	if err != nil {
		return err
	}
	if !d.storable(string(c.ID)) || !d.storable(c.Key) {
		return fmt.Errorf("%w: bad key", user.ErrInvalidCursor)
	}
	var key any = c.Key
	if order.time {
		n, err := strconv.ParseInt(c.Key, 10, 64)
		if err != nil {
			return fmt.Errorf("%w: bad key", user.ErrInvalidCursor)
		}
		key = d.TimeKey(n)
	}
	w.where()
	if order.unique {
		w.sql(order.key, cmp)
		w.arg(key)
		return nil
	}
	w.sql("(", order.key, ", u.id)", cmp, "(")
	w.arg(key)
	w.sql(", ")
	w.arg(string(c.ID))
	w.sql(")")
	return nil
}

// ReadUsers reads the rows of a [Dialect.Users] statement: up to q.Limit
// summaries, each filled by scan. A row beyond them only tells that a next
// page exists; Page.Next then points after the last summary kept, whose
// sort key, as the store's column holds it, key returns (called once, with
// the last summary, before any later row is scanned). An error from scan is
// returned as it is; the caller checks rows' own error.
func ReadUsers(rows Rows, q user.Query, scan func(*user.Summary) error, key func(last *user.Summary) string) (user.Page, error) {
	page := user.Page{Users: make([]user.Summary, 0, q.Limit)}
	for rows.Next() {
		if n := len(page.Users); n == q.Limit {
			last := &page.Users[n-1]
			page.Next = EncodeUserCursor(UserCursor{Sort: q.Sort, Desc: q.Descending, Key: key(last), ID: last.ID})
			break
		}
		page.Users = append(page.Users, user.Summary{})
		if err := scan(&page.Users[len(page.Users)-1]); err != nil {
			return user.Page{}, err
		}
	}
	return page, nil
}
