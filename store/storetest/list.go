package storetest

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

var listTests = []test{
	{"Paging", testListPaging},
	{"Search", testListSearch},
	{"InvalidCursor", testListInvalidCursor},
	{"Empty", testListEmpty},
	{"PasskeyCount", testListPasskeyCount},
	{"HasAvatar", testListHasAvatar},
}

var sorts = []user.Sort{user.SortCreated, user.SortEmail, user.SortName, user.SortLastLogin}

// listFixture fills s with 37 users whose sort keys collide: six names,
// thirteen creation times, seven login times, and a quarter who never
// logged in. Names and emails are letters and digits only, capitalized the
// same way, so byte order, case-insensitive order and a locale's order agree.
func listFixture(t *testing.T, s auth.Store) (users []*user.User, groupName map[string]string) {
	t.Helper()
	staff := createGroup(t, s, "Staff")
	groupName = map[string]string{
		string(group.AdminID): "Admins",
		string(group.UsersID): "Users",
		string(staff.ID):      "Staff",
	}
	groups := []string{string(group.AdminID), string(group.UsersID), string(staff.ID)}
	names := []string{"Alice", "Bob", "Carol", "Dave", "Eve", "Zed"}
	words := []string{"kilo", "lima", "mike", "oscar", "papa", "romeo", "tango"}
	for i := range 37 {
		u := &user.User{
			ID:        user.ID(newID()),
			Email:     fmt.Sprintf("%s%02d@example.com", words[(i*3)%len(words)], 37-i),
			Name:      names[(i*5)%len(names)],
			GroupID:   groups[i%3],
			Disabled:  i%5 == 0,
			CreatedAt: at(time.Duration((i*11)%13) * time.Minute),
			UpdatedAt: at(time.Duration(i) * time.Second),
		}
		if i%4 != 0 {
			u.LastLoginAt = at(time.Duration((i*5)%7)*time.Hour + 3*time.Microsecond)
		}
		mustCreateUser(t, s, u, "")
		users = append(users, u)
	}
	return users, groupName
}

// compareUsers is the order a listing must have: the sort key, then the ID.
func compareUsers(sort user.Sort) func(a, b *user.User) int {
	key := func(a, b *user.User) int {
		switch sort {
		case user.SortEmail:
			return strings.Compare(a.Email, b.Email)
		case user.SortName:
			return strings.Compare(a.Name, b.Name)
		case user.SortLastLogin:
			return a.LastLoginAt.Compare(b.LastLoginAt) // zero (never) first
		default:
			return a.CreatedAt.Compare(b.CreatedAt)
		}
	}
	return func(a, b *user.User) int {
		return cmp.Or(key(a, b), strings.Compare(string(a.ID), string(b.ID)))
	}
}

// walk lists every page of q, checking the paging rules on the way.
func walk(t *testing.T, s auth.Store, q user.Query) []user.Summary {
	t.Helper()
	q, err := q.Normalize()
	must(t, "Query.Normalize", err)
	var all []user.Summary
	for pages := 1; ; pages++ {
		if pages > 100 {
			t.Fatalf("List: still a Next after 100 pages")
		}
		p, err := s.Users().List(ctx(t), q)
		if err != nil {
			t.Fatalf("List page %d: %v", pages, err)
		}
		if len(p.Users) > q.Limit {
			t.Fatalf("List page %d: %d rows, more than Limit %d", pages, len(p.Users), q.Limit)
		}
		if p.Next != "" && len(p.Users) < q.Limit {
			t.Fatalf("List page %d: %d rows with Limit %d, yet Next is set (Next must be empty on the last page)",
				pages, len(p.Users), q.Limit)
		}
		if len(p.Users) == 0 && q.Cursor != "" {
			t.Fatalf("List page %d is empty: the previous page, the last with rows, should have had no Next", pages)
		}
		all = append(all, p.Users...)
		if p.Next == "" {
			return all
		}
		q.Cursor = p.Next
	}
}

func testListPaging(t *testing.T, s auth.Store) {
	users, groupName := listFixture(t, s)
	byID := map[user.ID]*user.User{}
	for _, u := range users {
		byID[u.ID] = u
	}
	yes, no := true, false
	filters := []struct {
		name string
		q    user.Query
		keep func(u *user.User) bool
	}{
		{"All", user.Query{}, func(*user.User) bool { return true }},
		{"GroupUsers", user.Query{GroupID: string(group.UsersID)},
			func(u *user.User) bool { return u.GroupID == string(group.UsersID) }},
		{"GroupUnknown", user.Query{GroupID: newID()}, func(*user.User) bool { return false }},
		{"Disabled", user.Query{Disabled: &yes}, func(u *user.User) bool { return u.Disabled }},
		{"Enabled", user.Query{Disabled: &no}, func(u *user.User) bool { return !u.Disabled }},
		{"WithoutTwoFactor", user.Query{TwoFactor: &no}, func(*user.User) bool { return true }},
		{"WithTwoFactor", user.Query{TwoFactor: &yes}, func(*user.User) bool { return false }},
		{"SearchName", user.Query{Search: "aLiC"},
			func(u *user.User) bool { return u.Name == "Alice" }},
		{"SearchEmail", user.Query{Search: "  MIKE "},
			func(u *user.User) bool { return strings.HasPrefix(u.Email, "mike") }},
		{"SearchBoth", user.Query{Search: "o"}, // bOb, carOl; oscar, romeo, tango, kilo, example.com
			func(u *user.User) bool { return true }},
		{"SearchGroupEnabled", user.Query{Search: "e", GroupID: string(group.AdminID), Disabled: &no},
			func(u *user.User) bool {
				return u.GroupID == string(group.AdminID) && !u.Disabled
			}},
		{"SearchNameOnly", user.Query{Search: "ve"}, // daVE, eVE; no email holds "ve"
			func(u *user.User) bool { return u.Name == "Dave" || u.Name == "Eve" }},
	}
	for _, f := range filters {
		var want []*user.User
		for _, u := range users {
			if f.keep(u) {
				want = append(want, u)
			}
		}
		for _, sort := range sorts {
			for _, desc := range []bool{false, true} {
				dir := "Asc"
				if desc {
					dir = "Desc"
				}
				t.Run(f.name+"/"+string(sort)+"/"+dir, func(t *testing.T) {
					exp := slices.Clone(want)
					slices.SortFunc(exp, compareUsers(sort))
					if desc {
						slices.Reverse(exp)
					}
					q := f.q
					q.Sort, q.Descending, q.Limit = sort, desc, 5
					got := walk(t, s, q)
					checkListing(t, got, exp, byID, groupName)
				})
			}
		}
	}
}

// checkListing compares a walked listing with the expected users, in order.
func checkListing(t *testing.T, got []user.Summary, want []*user.User, byID map[user.ID]*user.User, groupName map[string]string) {
	t.Helper()
	gotIDs := make([]user.ID, len(got))
	for i, r := range got {
		gotIDs[i] = r.ID
	}
	wantIDs := make([]user.ID, len(want))
	for i, u := range want {
		wantIDs[i] = u.ID
	}
	if !slices.Equal(gotIDs, wantIDs) {
		t.Errorf("listing has %d rows, want %d, in this order:\n%s", len(got), len(want), describeOrder(gotIDs, wantIDs, byID))
	}
	seen := map[user.ID]bool{}
	for _, r := range got {
		if seen[r.ID] {
			t.Errorf("user %s listed twice", r.ID)
		}
		seen[r.ID] = true
		u, ok := byID[r.ID]
		if !ok {
			t.Errorf("listing has unknown user %s", r.ID)
			continue
		}
		checkUser(t, "listed user "+u.Email, &r.User, u)
		if r.GroupName != groupName[u.GroupID] {
			t.Errorf("listed user %s: GroupName = %q, want %q", u.Email, r.GroupName, groupName[u.GroupID])
		}
		if r.TwoFactor || r.Passkeys != 0 {
			t.Errorf("listed user %s: TwoFactor=%v Passkeys=%d, want false and 0", u.Email, r.TwoFactor, r.Passkeys)
		}
	}
}

func describeOrder(got, want []user.ID, byID map[user.ID]*user.User) string {
	row := func(ids []user.ID, i int) string {
		if i >= len(ids) {
			return "-"
		}
		u := byID[ids[i]]
		if u == nil {
			return string(ids[i])
		}
		ll := "never"
		if !u.LastLoginAt.IsZero() {
			ll = u.LastLoginAt.UTC().Format("15:04")
		}
		return fmt.Sprintf("%s %s %s %s %s", u.ID[:6], u.Email, u.Name, u.CreatedAt.UTC().Format("15:04"), ll)
	}
	var b strings.Builder
	fmt.Fprintf(&b, "   %-50s | %s\n", "got", "want")
	for i := range max(len(got), len(want)) {
		mark := " "
		if i >= len(got) || i >= len(want) || got[i] != want[i] {
			mark = "*"
		}
		fmt.Fprintf(&b, "%s%2d %-50s | %s\n", mark, i, row(got, i), row(want, i))
	}
	return b.String()
}

// Search is a case-insensitive substring of the email or the name, with
// no wildcard: '%', '_' and '\' match themselves.
func testListSearch(t *testing.T, s auth.Store) {
	mk := func(name, email string) user.ID {
		u := newUser(group.UsersID)
		u.Name, u.Email = name, email
		mustCreateUser(t, s, u, "")
		return u.ID
	}
	joe := mk("Joe Cole", "joe@example.com")
	snake := mk("snake_case", "snake@example.com")
	hundred := mk("100% real", "hundred@example.com")
	ann := mk("Ann", "zed.ann@example.org")
	zed := mk("Zedekiah", "zk@example.com")
	slash := mk(`back\slash`, "bs@example.com")
	percy := mk("Percy", "p10@example.com")
	all := []user.ID{joe, snake, hundred, ann, zed, slash, percy}

	cases := []struct {
		search string
		want   []user.ID
	}{
		{"ZED", []user.ID{ann, zed}},
		{"EXAMPLE.ORG", []user.ID{ann}},
		{"joe cole", []user.ID{joe}},
		{"%", []user.ID{hundred}},
		{"0%", []user.ID{hundred}},
		{"_", []user.ID{snake}},
		{"e_c", []user.ID{snake}},
		{`\`, []user.ID{slash}},
		{`k\s`, []user.ID{slash}},
		{"nobody", nil},
		{"", all},
	}
	for _, c := range cases {
		got := walk(t, s, user.Query{Search: c.search, Limit: 3})
		var ids []user.ID
		for _, r := range got {
			ids = append(ids, r.ID)
		}
		slices.Sort(ids)
		want := slices.Clone(c.want)
		slices.Sort(want)
		if !slices.Equal(ids, want) {
			t.Errorf("Search %q matched %d users %v, want %d %v", c.search, len(ids), ids, len(want), want)
		}
	}
}

func testListInvalidCursor(t *testing.T, s auth.Store) {
	for range 7 {
		createUser(t, s, group.UsersID)
	}
	first, err := user.Query{Sort: user.SortEmail, Limit: 3}.Normalize()
	must(t, "Normalize", err)
	p, err := s.Users().List(ctx(t), first)
	must(t, "List", err)
	if p.Next == "" {
		t.Fatal("List of 7 users with Limit 3: Next is empty")
	}
	cases := []struct {
		name string
		q    user.Query
	}{
		{"OtherSort", user.Query{Sort: user.SortName, Limit: 3, Cursor: p.Next}},
		{"DefaultSort", user.Query{Limit: 3, Cursor: p.Next}},
		{"OtherDirection", user.Query{Sort: user.SortEmail, Descending: true, Limit: 3, Cursor: p.Next}},
		{"Garbage", user.Query{Sort: user.SortEmail, Limit: 3, Cursor: "not a cursor!"}},
		{"NotJSON", user.Query{Sort: user.SortEmail, Limit: 3, Cursor: "bm90IGpzb24"}},
		// A cursor no store made: well-formed in the encoding usher's own
		// stores use, base64url of {"s":"email","k":"a@example.com","i":""},
		// but without the row ID a keyset needs.
		{"NoID", user.Query{Sort: user.SortEmail, Limit: 3, Cursor: "eyJzIjoiZW1haWwiLCJrIjoiYUBleGFtcGxlLmNvbSIsImkiOiIifQ"}},
	}
	for _, c := range cases {
		q, err := c.q.Normalize()
		must(t, "Normalize", err)
		_, err = s.Users().List(ctx(t), q)
		if !errors.Is(err, user.ErrInvalidCursor) {
			t.Errorf("List with cursor case %s: error %v, want %v", c.name, err, user.ErrInvalidCursor)
		}
	}
	// The right query still takes the cursor.
	next := first
	next.Cursor = p.Next
	p2, err := s.Users().List(ctx(t), next)
	must(t, "List with its own cursor", err)
	if len(p2.Users) != 3 {
		t.Errorf("second page: %d rows, want 3", len(p2.Users))
	}
}

func testListEmpty(t *testing.T, s auth.Store) {
	for _, sort := range sorts {
		q, err := user.Query{Sort: sort}.Normalize()
		must(t, "Normalize", err)
		p, err := s.Users().List(ctx(t), q)
		must(t, "List of an empty store", err)
		if len(p.Users) != 0 || p.Next != "" {
			t.Errorf("List(%s) of an empty store = %d rows, Next %q; want none and empty", sort, len(p.Users), p.Next)
		}
	}
	// Exactly a page: Next is empty on it, no trailing empty page.
	for range 4 {
		createUser(t, s, group.UsersID)
	}
	q, err := user.Query{Limit: 4}.Normalize()
	must(t, "Normalize", err)
	p, err := s.Users().List(ctx(t), q)
	must(t, "List", err)
	if len(p.Users) != 4 || p.Next != "" {
		t.Errorf("List of 4 users with Limit 4 = %d rows, Next %q; want 4 rows and an empty Next", len(p.Users), p.Next)
	}
}

// testListPasskeyCount checks user.Summary.Passkeys: each listed user's
// own count, whatever the others have.
func testListPasskeyCount(t *testing.T, s auth.Store) {
	want := map[user.ID]int{}
	for i, n := range []int{0, 1, 3, 0, 2} {
		u := createUser(t, s, group.UsersID)
		for j := range n {
			createPasskey(t, s, u.ID, at(time.Duration(i*10+j)*time.Minute))
		}
		want[u.ID] = n
	}
	check := func(what string) {
		t.Helper()
		page, err := s.Users().List(ctx(t), user.Query{Limit: 100})
		must(t, what+": Users().List", err)
		if len(page.Users) != len(want) {
			t.Fatalf("%s: listed %d users, want %d", what, len(page.Users), len(want))
		}
		for _, r := range page.Users {
			if r.Passkeys != want[r.ID] {
				t.Errorf("%s: user %s: Passkeys = %d, want %d", what, r.Email, r.Passkeys, want[r.ID])
			}
		}
	}
	check("after registrations")
	for id, n := range want {
		if n == 3 {
			_, err := s.Passkeys().DeleteUser(ctx(t), id)
			must(t, "Passkeys().DeleteUser", err)
			want[id] = 0
		}
	}
	check("after one user's passkeys went")
}

// testListHasAvatar checks user.Summary.HasAvatar: set for each user with
// an avatar stored, cleared when it is removed.
func testListHasAvatar(t *testing.T, s auth.Store) {
	want := map[user.ID]bool{}
	for _, has := range []bool{false, true, true, false} {
		u := createUser(t, s, group.UsersID)
		if has {
			must(t, "SetAvatar", s.Users().SetAvatar(ctx(t), u.ID, []byte("\x89PNG\r\n\x1a\n"), "image/png"))
		}
		want[u.ID] = has
	}
	check := func(what string) {
		t.Helper()
		q, err := user.Query{Limit: 100}.Normalize()
		must(t, "Normalize", err)
		page, err := s.Users().List(ctx(t), q)
		must(t, what+": Users().List", err)
		if len(page.Users) != len(want) {
			t.Fatalf("%s: listed %d users, want %d", what, len(page.Users), len(want))
		}
		for _, r := range page.Users {
			if r.HasAvatar != want[r.ID] {
				t.Errorf("%s: user %s: HasAvatar = %v, want %v", what, r.Email, r.HasAvatar, want[r.ID])
			}
		}
	}
	check("after uploads")
	for id, has := range want {
		if has {
			must(t, "SetAvatar nil", s.Users().SetAvatar(ctx(t), id, nil, ""))
			want[id] = false
			break
		}
	}
	check("after one avatar went")
}
