package auth_test

import (
	"golang.org/x/crypto/bcrypt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Invariant 5 and 9, counted rather than timed: every way a login can fail,
// and the disabled account after the right password, costs exactly the bcrypt
// work of a known email with the wrong password: one comparison against a
// hash of the configured cost. Timing tests are flaky and blind to a dummy
// hash made at a lower cost; counting is neither.
func TestLoginEqualWork(t *testing.T) {
	const cost = 5 // not bcrypt.MinCost, so a dummy made at the minimum shows
	e := newEnv(t, func(c *auth.Config) { c.BcryptCost = cost })
	admin := e.admin()
	const bob = "bob@example.com"
	bobPassword := passwordOf(bob)
	b, _ := e.user(admin, bob, group.UsersID)
	const carol = "carol@example.com"
	disabled, _ := e.user(admin, carol, group.UsersID)
	if err := e.m.SetDisabled(e.ctx, admin, disabled.ID, true); err != nil {
		t.Fatal(err)
	}
	// Accounts whose stored hash cannot be verified: none at all (an account
	// made for single sign-on), and one under a key ID the Manager lacks.
	const noHash, foreignKey = "nohash@example.com", "foreign@example.com"
	for _, email := range []string{noHash, foreignKey} {
		u := &user.User{ID: user.ID("equal-work-" + email), Email: email, Name: email, GroupID: string(group.UsersID),
			CreatedAt: e.clk.Now(), UpdatedAt: e.clk.Now()}
		if err := e.db.Users().Create(e.ctx, u, ""); err != nil {
			t.Fatal(err)
		}
	}
	fu, err := e.db.Users().GetByEmail(e.ctx, foreignKey)
	if err != nil {
		t.Fatal(err)
	}
	bobHash, err := e.db.Users().PasswordHash(e.ctx, b.ID)
	if err != nil {
		t.Fatal(err)
	}
	_, bcryptPart, _ := strings.Cut(strings.TrimPrefix(bobHash, "$usher2$"), "$")
	if err := e.db.Users().SetPasswordHash(e.ctx, fu.ID, "$usher2$retired$"+bcryptPart); err != nil {
		t.Fatal(err)
	}
	// Legacy hashes of bob's password written behind usher's back, after
	// New bound the stored ones to their accounts.
	const plainBehind, v1Behind = "plain@example.com", "v1@example.com"
	plain, _ := bcrypt.GenerateFromPassword([]byte(bobPassword), bcrypt.MinCost)
	for email, h := range map[string]string{plainBehind: string(plain), v1Behind: auth.HashV1(e.m, bobPassword)} {
		u, _ := e.user(admin, email, group.UsersID)
		if err := e.db.Users().SetPasswordHash(e.ctx, u.ID, h); err != nil {
			t.Fatal(err)
		}
	}

	var mu sync.Mutex
	var costs []int
	auth.ObserveBcrypt(e.m, func(c int) {
		mu.Lock()
		costs = append(costs, c)
		mu.Unlock()
	})
	work := func(email, password string) []int {
		t.Helper()
		mu.Lock()
		costs = nil
		mu.Unlock()
		e.clk.Advance(time.Hour) // stay clear of throttling, which skips bcrypt
		_, _ = e.m.Login(e.ctx, email, password, auth.Client{IP: "198.51.100.7"})
		mu.Lock()
		defer mu.Unlock()
		return slices.Clone(costs)
	}

	want := work(bob, "not bob's password")
	if !slices.Equal(want, []int{cost}) {
		t.Fatalf("known email, wrong password: bcrypt costs %v, want [%d]", want, cost)
	}
	long := strings.Repeat("x", auth.MaxPasswordBytes+1)
	longEmail := strings.Repeat("a", user.MaxEmailLength) + "@example.com"
	cases := []struct{ name, email, password string }{
		{"known email, right password", bob, bobPassword},
		{"unknown email", "nobody@example.com", bobPassword},
		{"unknown email, empty password", "nobody@example.com", ""},
		{"disabled account, wrong password", carol, "not carol's password"},
		{"disabled account, right password", carol, passwordOf(carol)},
		{"account without a password", noHash, bobPassword},
		{"hash under an unknown key", foreignKey, bobPassword},
		{"plain bcrypt written behind usher's back", plainBehind, bobPassword},
		{"first format written behind usher's back", v1Behind, bobPassword},
		{"empty email and password", "", ""},
		{"known email, empty password", bob, ""},
		{"malformed email", "not an email", bobPassword},
		{"email with CRLF", bob + "\r\nBcc: x@example.com", bobPassword},
		{"over-long email", longEmail, bobPassword},
		{"huge email", strings.Repeat("b", 1<<20), bobPassword},
		{"email not UTF-8", "b\xffb@example.com", bobPassword},
		{"known email, over-long password", bob, long},
		{"known email, huge password", bob, strings.Repeat("y", 1<<20)},
		{"unknown email, over-long password", "nobody@example.com", long},
		{"known email, password not UTF-8", bob, "\xff\xfe\xfd password"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := work(tc.email, tc.password); !slices.Equal(got, want) {
				t.Fatalf("bcrypt costs %v, want %v (as for a known email with the wrong password)", got, want)
			}
		})
	}
}
