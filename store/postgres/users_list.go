package postgres

import (
	"context"
	"strconv"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/store/internal/paging"
	"github.com/usher-go/usher/user"
)

// listSelect is what a page of users reads: the user, its name_key (the
// name order's cursor key), the group's name, whether a TOTP second factor
// is enrolled, how many passkeys there are and whether there is an avatar.
const listSelect = `SELECT ` + userCols + `, u.name_key, g.name, ` + paging.TwoFactorSQL + `, ` + paging.PasskeysSQL + `, ` + paging.AvatarSQL + `,
		(SELECT string_agg(i.provider_id, ',') FROM oidc_identities i WHERE i.user_id = u.id)
		FROM users u JOIN groups g ON g.id = u.group_id`

// List pages with a keyset, never OFFSET (see store/internal/paging): the
// row comparison (key, id) > ($1, $2) is an index condition on the order's
// (key, id) index, which PostgreSQL walks in either direction, so a page is
// one index range scan at any depth.
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
	var (
		lastLogin pgtype.Timestamptz
		nameKey   string
		providers pgtype.Text
	)
	page, err := paging.ReadUsers(rows, q, func(s *user.Summary) error {
		err := rows.Scan((*string)(&s.ID), &s.Email, &s.Name, &s.GroupID, &s.Disabled, &s.CreatedAt, &s.UpdatedAt,
			&lastLogin, &s.Version, &s.MustChangePassword, &nameKey, &s.GroupName, &s.TwoFactor, &s.Passkeys, &s.HasAvatar, &providers)
		s.LastLoginAt = fromOpt(lastLogin)
		s.Providers = paging.SplitProviders(providers.String)
		return err
	}, func(last *user.Summary) string {
		switch q.Sort {
		case user.SortCreated:
			return strconv.FormatInt(last.CreatedAt.UnixMicro(), 10)
		case user.SortName:
			return nameKey
		case user.SortLastLogin:
			// The zero time for a user who never logged in: the column's
			// COALESCE value.
			return strconv.FormatInt(last.LastLoginAt.UnixMicro(), 10)
		}
		return last.Email
	})
	if err != nil {
		return user.Page{}, wrap("list users", err)
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
	return dialect.Users(listSelect, q)
}
