package sqlite

import (
	"context"
	"database/sql"
	"strconv"

	"github.com/usher-go/usher/store/internal/paging"
	"github.com/usher-go/usher/user"
)

// listSelect is what a page of users reads: the user, its name_key (the
// name order's cursor key), the group's name, whether a TOTP second factor
// is enrolled, how many passkeys there are and whether there is an avatar.
const listSelect = `SELECT ` + userCols + `, u.name_key,
		(SELECT g.name FROM groups g WHERE g.id = u.group_id),
		` + paging.TwoFactorSQL + `, ` + paging.PasskeysSQL + `, ` + paging.AvatarSQL + `,
		(SELECT group_concat(i.provider_id) FROM oidc_identities i WHERE i.user_id = u.id)
		FROM users u`

// List pages with a keyset, never OFFSET (see store/internal/paging): one
// index seek at any depth, driven by the order's index whatever the
// filters.
func (us userStore) List(ctx context.Context, q user.Query) (user.Page, error) {
	q, err := q.Normalize()
	if err != nil {
		return user.Page{}, err
	}
	query, args, err := listQuery(q)
	if err != nil {
		return user.Page{}, err
	}
	rows, err := us.s.queryCached(ctx, query, args...)
	if err != nil {
		return user.Page{}, wrap("list users", err)
	}
	defer rows.Close()
	var (
		created, updated int64
		lastLogin        sql.NullInt64
		nameKey          string
		providers        sql.NullString
	)
	page, err := paging.ReadUsers(rows, q, func(s *user.Summary) error {
		err := rows.Scan(&s.ID, &s.Email, &s.Name, &s.GroupID, &s.Disabled, &created, &updated, &lastLogin,
			&s.Version, &s.MustChangePassword, &nameKey, &s.GroupName, &s.TwoFactor, &s.Passkeys, &s.HasAvatar, &providers)
		s.Providers = paging.SplitProviders(providers.String)
		s.CreatedAt, s.UpdatedAt, s.LastLoginAt = fromNanos(created), fromNanos(updated), fromNanos(lastLogin.Int64)
		return err
	}, func(last *user.Summary) string {
		switch q.Sort {
		case user.SortCreated:
			return strconv.FormatInt(created, 10)
		case user.SortName:
			return nameKey
		case user.SortLastLogin:
			return strconv.FormatInt(lastLogin.Int64, 10) // 0, the column's key, for never
		}
		return last.Email
	})
	if err != nil {
		return user.Page{}, wrap("list users", err)
	}
	if err := rows.Err(); err != nil {
		return user.Page{}, wrap("list users", err)
	}
	return page, nil
}

// listQuery writes the SQL of one page for a normalized q.
func listQuery(q user.Query) (string, []any, error) {
	query, args, _, err := dialect.Users(listSelect, q) // SQLite stores any string
	return query, args, err
}
