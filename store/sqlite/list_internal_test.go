package sqlite

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/internal/paging"
	"github.com/usher-go/usher/user"
)

var t0 = time.Date(2025, 3, 1, 12, 0, 0, 0, time.UTC)

func newTestDB(t testing.TB) *DB {
	t.Helper()
	db, err := Open(context.Background(), filepath.Join(t.TempDir(), "usher.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	withBuiltinGroups(t, db)
	return db
}

// withBuiltinGroups creates the built-in groups in s as a host's auth.New
// does: the schema creates no group.
func withBuiltinGroups(tb testing.TB, s auth.Store) {
	tb.Helper()
	_, err := auth.New(auth.Config{Store: s, SecretKey: make([]byte, 32), BcryptCost: 4, InsecureLowBcryptCostForTests: true})
	if err != nil {
		tb.Fatalf("auth.New: %v", err)
	}
}

var allSorts = []user.Sort{user.SortCreated, user.SortEmail, user.SortName, user.SortLastLogin}

// seedListUsers creates n users whose sort keys tie a lot: creation times
// repeat every 7, names differ only in case, most never logged in. IDs are
// not in creation order.
func seedListUsers(t *testing.T, db *DB, n int) []user.User {
	t.Helper()
	ctx := context.Background()
	names := []string{"alice", "Alice", "ALICE", "bob", "Bob", "Émile", "émile", "zoë", "", "100% _real_ \\ back"}
	var out []user.User
	for i := range n {
		u := user.User{
			ID:        user.ID(fmt.Sprintf("u%02d", (i*17)%n)), // a permutation when gcd(17, n) = 1
			Email:     fmt.Sprintf("user%02d@example.com", (i*7)%n),
			Name:      names[i%len(names)],
			GroupID:   string(group.UsersID),
			Disabled:  i%4 == 1,
			CreatedAt: t0.Add(time.Duration(i%7) * time.Second),
			UpdatedAt: t0,
		}
		if i%3 != 0 {
			u.LastLoginAt = t0.Add(time.Duration(i%4) * time.Hour)
		}
		if i%5 == 0 {
			u.GroupID = string(group.AdminID)
		}
		if err := db.Users().Create(ctx, &u, ""); err != nil {
			t.Fatal(err)
		}
		out = append(out, u)
	}
	return out
}

// sortKey is the Go model of each order's key.
func sortKey(s user.Sort, u user.User) string {
	switch s {
	case user.SortEmail:
		return u.Email
	case user.SortName:
		return strings.ToLower(u.Name)
	case user.SortLastLogin:
		if u.LastLoginAt.IsZero() {
			return "00000000000000000000"
		}
		return fmt.Sprintf("%020d", u.LastLoginAt.UnixNano())
	}
	return fmt.Sprintf("%020d", u.CreatedAt.UnixNano())
}

func expectedOrder(users []user.User, s user.Sort, desc bool) []user.ID {
	sorted := slices.Clone(users)
	slices.SortFunc(sorted, func(a, b user.User) int {
		return cmp.Or(cmp.Compare(sortKey(s, a), sortKey(s, b)), cmp.Compare(a.ID, b.ID))
	})
	if desc {
		slices.Reverse(sorted)
	}
	var ids []user.ID
	for _, u := range sorted {
		ids = append(ids, u.ID)
	}
	return ids
}

func walkUsers(t *testing.T, db *DB, q user.Query) []user.Summary {
	t.Helper()
	var got []user.Summary
	for pages := 0; ; pages++ {
		if pages > 1000 {
			t.Fatal("paging does not end")
		}
		p, err := db.Users().List(context.Background(), q)
		if err != nil {
			t.Fatalf("List(%+v): %v", q, err)
		}
		if len(p.Users) > q.Limit || (p.Next != "" && len(p.Users) != q.Limit) {
			t.Fatalf("page of %d with Next %q at limit %d", len(p.Users), p.Next, q.Limit)
		}
		got = append(got, p.Users...)
		if p.Next == "" {
			return got
		}
		q.Cursor = p.Next
	}
}

func TestListWalksEveryRowOnce(t *testing.T) {
	db := newTestDB(t)
	users := seedListUsers(t, db, 41)
	for _, s := range allSorts {
		for _, desc := range []bool{false, true} {
			for _, limit := range []int{1, 3, 41, 200} {
				t.Run(fmt.Sprintf("%s/desc=%v/limit=%d", s, desc, limit), func(t *testing.T) {
					got := walkUsers(t, db, user.Query{Sort: s, Descending: desc, Limit: limit})
					var ids []user.ID
					for _, u := range got {
						ids = append(ids, u.ID)
					}
					if want := expectedOrder(users, s, desc); !slices.Equal(ids, want) {
						t.Errorf("order\n got %v\nwant %v", ids, want)
					}
				})
			}
		}
	}
}

func TestListFilters(t *testing.T) {
	db := newTestDB(t)
	users := seedListUsers(t, db, 41)
	ctx := context.Background()
	// u01 has a confirmed TOTP secret, u02 one still being enrolled.
	for _, row := range []struct {
		id        string
		confirmed any
	}{{"u01", t0.UnixNano()}, {"u02", nil}} {
		if _, err := db.w.ExecContext(ctx, `INSERT INTO totp_credentials (user_id, key_id, sealed, confirmed_at)
			VALUES (?, 'k', x'00', ?)`, row.id, row.confirmed); err != nil {
			t.Fatal(err)
		}
	}
	yes, no := true, false
	tests := []struct {
		name string
		q    user.Query
		keep func(u user.User) bool
	}{
		{"search name any case", user.Query{Search: "ALI"}, func(u user.User) bool { return strings.Contains(strings.ToLower(u.Name), "ali") }},
		{"search non-ASCII case", user.Query{Search: "ÉMI"}, func(u user.User) bool { return strings.Contains(strings.ToLower(u.Name), "émi") }},
		{"search email", user.Query{Search: "user1"}, func(u user.User) bool { return strings.Contains(u.Email, "user1") }},
		{"search percent is literal", user.Query{Search: "%"}, func(u user.User) bool { return strings.Contains(u.Name, "%") }},
		{"search underscore is literal", user.Query{Search: "_r"}, func(u user.User) bool { return strings.Contains(u.Name, "_r") }},
		{"search backslash is literal", user.Query{Search: `\ b`}, func(u user.User) bool { return strings.Contains(u.Name, `\ b`) }},
		{"search no match", user.Query{Search: "a%c"}, func(user.User) bool { return false }},
		{"group", user.Query{GroupID: "admin"}, func(u user.User) bool { return u.GroupID == "admin" }},
		{"unknown group", user.Query{GroupID: "nope"}, func(user.User) bool { return false }},
		{"disabled", user.Query{Disabled: &yes}, func(u user.User) bool { return u.Disabled }},
		{"enabled", user.Query{Disabled: &no}, func(u user.User) bool { return !u.Disabled }},
		{"two factor", user.Query{TwoFactor: &yes}, func(u user.User) bool { return u.ID == "u01" }},
		{"no two factor", user.Query{TwoFactor: &no}, func(u user.User) bool { return u.ID != "u01" }},
		{"combined", user.Query{GroupID: "users", Disabled: &no, Search: "b"}, func(u user.User) bool {
			return u.GroupID == "users" && !u.Disabled && (strings.Contains(strings.ToLower(u.Name), "b") || strings.Contains(u.Email, "b"))
		}},
	}
	for _, tt := range tests {
		for _, s := range allSorts {
			t.Run(tt.name+"/"+string(s), func(t *testing.T) {
				q := tt.q
				q.Sort, q.Limit = s, 4
				var want []user.User
				for _, u := range users {
					if tt.keep(u) {
						want = append(want, u)
					}
				}
				var ids []user.ID
				for _, u := range walkUsers(t, db, q) {
					ids = append(ids, u.ID)
				}
				if exp := expectedOrder(want, s, false); !slices.Equal(ids, exp) {
					t.Errorf("got %v\nwant %v", ids, exp)
				}
			})
		}
	}

	// The summary columns.
	p, err := db.Users().List(ctx, user.Query{Search: "user", Limit: 200})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range p.Users {
		wantGroup := map[string]string{"admin": "Admins", "users": "Users"}[s.GroupID]
		if s.GroupName != wantGroup || s.TwoFactor != (s.ID == "u01") || s.Passkeys != 0 {
			t.Errorf("summary %s: group %q 2fa %v passkeys %d", s.ID, s.GroupName, s.TwoFactor, s.Passkeys)
		}
	}
}

func TestListRefusesForeignCursor(t *testing.T) {
	db := newTestDB(t)
	seedListUsers(t, db, 10)
	ctx := context.Background()
	p, err := db.Users().List(ctx, user.Query{Sort: user.SortName, Limit: 2})
	if err != nil || p.Next == "" {
		t.Fatalf("first page: %v %q", err, p.Next)
	}
	for _, q := range []user.Query{
		{Sort: user.SortEmail, Cursor: p.Next},
		{Sort: user.SortCreated, Cursor: p.Next},
		{Sort: user.SortName, Descending: true, Cursor: p.Next},
		{Sort: user.SortName, Cursor: "not base64!"},
		{Sort: user.SortCreated, Cursor: paging.EncodeUserCursor(paging.UserCursor{Sort: user.SortCreated, Key: "abc", ID: "u1"})},
	} {
		if _, err := db.Users().List(ctx, q); !errors.Is(err, user.ErrInvalidCursor) {
			t.Errorf("List(%+v) = %v, want ErrInvalidCursor", q, err)
		}
	}
	if _, err := db.Users().List(ctx, user.Query{Sort: "age"}); !errors.Is(err, user.ErrInvalidQuery) {
		t.Errorf("unknown sort: %v", err)
	}
}

// Every listing, with or without filters and cursor, must be driven by its
// order's index: a "USE TEMP B-TREE FOR ORDER BY" would sort every matching
// row on every page.
func TestListPlansUseOrderIndex(t *testing.T) {
	db := newTestDB(t)
	indexOf := map[user.Sort]string{
		user.SortCreated:   "users_created",
		user.SortEmail:     "sqlite_autoindex_users_2", // the UNIQUE(email) index
		user.SortName:      "users_name",
		user.SortLastLogin: "users_last_login",
	}
	yes := true
	filters := map[string]user.Query{
		"none":   {},
		"search": {Search: "ab"},
		"group":  {GroupID: "users"},
		"flags":  {Disabled: &yes, TwoFactor: &yes},
	}
	for _, s := range allSorts {
		for _, desc := range []bool{false, true} {
			for fname, f := range filters {
				for _, withCursor := range []bool{false, true} {
					q := f
					q.Sort, q.Descending, q.Limit = s, desc, 50
					if withCursor {
						key := "5"
						if s == user.SortEmail || s == user.SortName {
							key = "m"
						}
						q.Cursor = paging.EncodeUserCursor(paging.UserCursor{Sort: s, Desc: desc, Key: key, ID: "x"})
					}
					query, args, err := listQuery(q)
					if err != nil {
						t.Fatal(err)
					}
					plan := explain(t, db, query, args...)
					if strings.Contains(plan, "TEMP B-TREE") || !strings.Contains(plan, "INDEX "+indexOf[s]) {
						t.Errorf("%s desc=%v filter=%s cursor=%v:\n%s", s, desc, fname, withCursor, plan)
					}
					if withCursor && !strings.Contains(plan, "SEARCH u ") {
						t.Errorf("%s desc=%v filter=%s: the cursor does not seek:\n%s", s, desc, fname, plan)
					}
				}
			}
		}
	}
}

func explain(t *testing.T, db *DB, query string, args ...any) string {
	t.Helper()
	rows, err := db.r.Query("EXPLAIN QUERY PLAN "+query, args...)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var b strings.Builder
	for rows.Next() {
		var id, parent, unused int
		var detail string
		if err := rows.Scan(&id, &parent, &unused, &detail); err != nil {
			t.Fatal(err)
		}
		b.WriteString(detail + "\n")
	}
	return b.String()
}
