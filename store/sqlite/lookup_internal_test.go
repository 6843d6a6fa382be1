package sqlite

import (
	"context"
	"crypto/sha256"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// The packed hot-path query must read exactly what the plain one reads,
// whatever the strings hold.
func TestLookupPackedMatchesPlain(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	awkward := []string{"", "12:34", "a b c ", ":", "0:", "naïve ☃", "nul\x00inside", strings.Repeat("x", 5000)}
	for i, s := range awkward {
		gid := group.ID("g" + string(rune('a'+i)))
		g := &group.Group{ID: gid, Name: "Group " + s + string(rune('a'+i)), Description: s,
			Permissions: []group.Permission{"a:b", "c:*"}, RequireTwoFactor: i%2 == 0, CreatedAt: t0, UpdatedAt: t0.Add(time.Second)}
		if i == 0 {
			g.Permissions = nil
		}
		if err := db.Groups().Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		u := &user.User{ID: user.ID("u" + s), Email: string(rune('a'+i)) + "@example.com", Name: s, GroupID: string(gid),
			Disabled: i%3 == 0, CreatedAt: t0, UpdatedAt: t0.Add(time.Minute)}
		if i%2 == 1 {
			u.LastLoginAt = t0.Add(time.Hour + 7)
		}
		if err := db.Users().Create(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		tok := sha256.Sum256([]byte(s))
		sess := &auth.Session{ID: "s" + s, UserID: u.ID, CreatedAt: t0, LastSeenAt: t0.Add(2), ExpiresAt: t0.Add(time.Hour),
			IP: s, UserAgent: s + "/ua"}
		if err := db.Sessions().Create(ctx, sess, tok[:]); err != nil {
			t.Fatal(err)
		}
		ss := sessionStore{db.root}
		ps, pu, pg, err := ss.Lookup(ctx, tok[:])
		if err != nil {
			t.Fatalf("%q: %v", s, err)
		}
		qs, qu, qg, err := ss.lookupPlain(ctx, tok[:])
		if err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(ps, qs) || !reflect.DeepEqual(pu, qu) || !reflect.DeepEqual(pg, qg) {
			t.Errorf("%q: packed\n%+v %+v %+v\nplain\n%+v %+v %+v", s, ps, pu, pg, qs, qu, qg)
		}
		want := *u
		want.Version = 0 // a session lookup need not read it (user.User.Version)
		if *pu != want || ps.UserAgent != s+"/ua" || pg.Description != s {
			t.Errorf("%q: read back %+v, wrote %+v", s, pu, &want)
		}
	}
}

func TestUnpackLookupRejectsMalformed(t *testing.T) {
	var good string
	{
		// A well-formed value, as the query would build it.
		good = "1 2 3 0 4 5 0 1 6 7 1 1 3600000000000 1 " + "2:s1" + "2:u1" + "0:" + "2:ua" + "3:a@b" + "0:" + "5:users" + "5:Users" + "0:" + "9:profile:*"
		var r lookupResult
		if !unpackSession(good, &r.s, &r.u, &r.g, new(permListCache)) || r.g.ID != "users" || len(r.g.Permissions) != 1 || !r.g.RequireTwoFactor || !r.s.MultiFactor || !r.u.MustChangePassword ||
			r.s.IdleTimeout != time.Hour || !r.s.Remembered {
			t.Fatalf("good value rejected or misread: %+v", r)
		}
	}
	for _, bad := range []string{
		"",
		"1 2 3",
		good[:len(good)-1],
		good + "x",
		strings.Replace(good, "2:s1", "9:s1", 1),
		strings.Replace(good, "2:s1", "-1:s1", 1),
		strings.Replace(good, "1 2 3", "1 x 3", 1),
		strings.Replace(good, "2:s1", "2s1", 1),
	} {
		var r lookupResult
		if unpackSession(bad, &r.s, &r.u, &r.g, new(permListCache)) {
			t.Errorf("unpackSession(%q) accepted", bad)
		}
	}
}

func FuzzUnpackLookup(f *testing.F) {
	f.Add("1 2 3 0 4 5 0 1 6 7 2:s12:u10:2:ua3:a@b0:5:users5:Users0:9:profile:*")
	f.Add("0 0 0 0 0 0 0 0 0 0 0:0:0:0:0:0:0:0:0:0:")
	f.Fuzz(func(t *testing.T, s string) {
		var r lookupResult
		unpackSession(s, &r.s, &r.u, &r.g, new(permListCache)) // must not panic
	})
}

// cutInt reads what strconv.ParseInt reads, for the integers SQLite
// writes as text (no plus sign), and refuses the rest.
func TestCutIntMatchesParseInt(t *testing.T) {
	for _, s := range []string{"0", "7", "-0", "-7", "007", "1772366400000000000", "9223372036854775807",
		"9223372036854775808", "-9223372036854775808", "-9223372036854775809", "99999999999999999999",
		"18446744073709551616", "00000000000000000000", "-0009223372036854775808", "", "-", "+1", "1x", " 1", "1 ", "--1", "1-", "٣"} {
		checkCutInt(t, s)
	}
}

func FuzzCutInt(f *testing.F) {
	f.Add("1772366400000000000")
	f.Add("-9223372036854775808")
	f.Fuzz(checkCutInt)
}

func checkCutInt(t *testing.T, s string) {
	if strings.Contains(s, " ") {
		return
	}
	want, err := strconv.ParseInt(s, 10, 64)
	ok := err == nil && !strings.HasPrefix(s, "+")
	got, rest, gotOK := cutInt(s+" tail", ' ')
	if gotOK != ok || ok && (got != want || rest != "tail") {
		t.Errorf("cutInt(%q) = %d, %q, %v; ParseInt: %d, %v", s, got, rest, gotOK, want, err)
	}
	if _, _, ok := cutInt(s, ' '); ok {
		t.Errorf("cutInt(%q) without its end accepted", s)
	}
}

// The session lookup's permission lists are cached by their exact text:
// a list changed in the database, even behind the store's back (no new
// version, no new updated_at), reads as changed on the very next lookup.
func TestLookupPermissionsFresh(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	g := &group.Group{ID: "ops", Name: "Ops", Permissions: []group.Permission{"a:b", "c:*"}, CreatedAt: t0, UpdatedAt: t0}
	if err := db.Groups().Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	var toks [2][32]byte
	for i := range toks {
		u := &user.User{ID: user.ID("u" + strconv.Itoa(i)), Email: strconv.Itoa(i) + "@example.com", GroupID: "ops", CreatedAt: t0, UpdatedAt: t0}
		if err := db.Users().Create(ctx, u, ""); err != nil {
			t.Fatal(err)
		}
		toks[i] = sha256.Sum256([]byte(u.ID))
		s := &auth.Session{ID: "s" + strconv.Itoa(i), UserID: u.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.Sessions().Create(ctx, s, toks[i][:]); err != nil {
			t.Fatal(err)
		}
	}
	ss := sessionStore{db.root}
	perms := func(i int) []group.Permission {
		t.Helper()
		var r lookupResult
		if err := ss.LookupInto(ctx, toks[i][:], &r.s, &r.u, &r.g); err != nil {
			t.Fatal(err)
		}
		return r.g.Permissions
	}
	first, second := perms(0), perms(1)
	if !slices.Equal(first, g.Permissions) || &first[0] != &second[0] || cap(first) != len(first) {
		t.Fatalf("lookups read %v and %v (cap %d): want %v, one shared list, capacity its length", first, second, cap(first), g.Permissions)
	}
	// Lookup's list is the caller's own: changing it changes no lookup.
	_, _, own, err := ss.Lookup(ctx, toks[0][:])
	if err != nil {
		t.Fatal(err)
	}
	own.Permissions[0] = "*"
	if got := perms(1); !slices.Equal(got, g.Permissions) {
		t.Fatalf("a change to Lookup's list reached the next lookup: %v", got)
	}
	for _, text := range []string{"a:b", "a:b c:* d:e", ""} {
		if _, err := db.w.ExecContext(ctx, `UPDATE groups SET permissions = ? WHERE id = 'ops'`, text); err != nil {
			t.Fatal(err)
		}
		want := splitPermissions(text)
		for i := range toks {
			if got := perms(i); !slices.Equal(got, want) {
				t.Fatalf("after setting %q, lookup %d read %v", text, i, got)
			}
		}
	}
	if !slices.Equal(first, []group.Permission{"a:b", "c:*"}) {
		t.Fatalf("a list handed out changed to %v", first)
	}
}

// The cache of permission lists stays bounded however many lists it sees,
// and still answers right past its bound.
func TestPermListCacheBounded(t *testing.T) {
	var c permListCache
	for i := range 3 * maxPermLists {
		text := "p:" + strconv.Itoa(i) + " q:*"
		if got := c.split(text); !slices.Equal(got, []group.Permission{group.Permission("p:" + strconv.Itoa(i)), "q:*"}) {
			t.Fatalf("%q read as %v", text, got)
		}
	}
	stored := 0
	c.m.Range(func(_, _ any) bool { stored++; return true })
	if c.n > maxPermLists || stored != c.n {
		t.Fatalf("%d lists cached (counted %d), bound %d", stored, c.n, maxPermLists)
	}
}
