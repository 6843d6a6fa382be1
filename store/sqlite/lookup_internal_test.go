package sqlite

import (
	"context"
	"crypto/sha256"
	"reflect"
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
		if !unpackSession(good, &r.s, &r.u, &r.g) || r.g.ID != "users" || len(r.g.Permissions) != 1 || !r.g.RequireTwoFactor || !r.s.MultiFactor || !r.u.MustChangePassword ||
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
		if unpackSession(bad, &r.s, &r.u, &r.g) {
			t.Errorf("unpackSession(%q) accepted", bad)
		}
	}
}

func FuzzUnpackLookup(f *testing.F) {
	f.Add("1 2 3 0 4 5 0 1 6 7 2:s12:u10:2:ua3:a@b0:5:users5:Users0:9:profile:*")
	f.Add("0 0 0 0 0 0 0 0 0 0 0:0:0:0:0:0:0:0:0:0:")
	f.Fuzz(func(t *testing.T, s string) {
		var r lookupResult
		unpackSession(s, &r.s, &r.u, &r.g) // must not panic
	})
}
