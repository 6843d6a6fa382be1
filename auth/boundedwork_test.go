package auth_test

import (
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// allocated returns how many bytes f allocates: a proxy for the work it
// does on its input that, unlike timing, does not flake.
func allocated(f func()) uint64 {
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	f()
	runtime.ReadMemStats(&after)
	return after.TotalAlloc - before.TotalAlloc
}

// Invariant 9: an oversized input is cut or refused before anything
// normalizes, hashes or queries it, whether the account exists or not. A
// 1 MiB input that reached NFKC, HMAC, lower-casing or a query would
// allocate at least its own size again; a bounded path allocates a small,
// fixed amount.
func TestBoundedWorkOnHugeInput(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	const bob = "bob@example.com"
	_, bp := e.user(admin, bob, group.UsersID)
	huge := strings.Repeat("é", 1<<19) // 1 MiB, and NFKC-sensitive
	hugeEmail := huge + "@example.com"
	const limit = 256 << 10
	cases := []struct {
		name string
		f    func()
	}{
		{"login, unknown email, huge password", func() { _, _ = e.m.Login(e.ctx, "nobody@example.com", huge, client) }},
		{"login, known email, huge password", func() { _, _ = e.m.Login(e.ctx, bob, huge, client) }},
		{"login, huge email", func() { _, _ = e.m.Login(e.ctx, hugeEmail, "password", client) }},
		{"login, huge user agent and IP", func() {
			_, _ = e.m.Login(e.ctx, bob, "password", auth.Client{IP: huge, UserAgent: huge})
		}},
		{"change password, huge current", func() { _, _ = e.m.ChangePassword(e.ctx, bp, huge, "a new password") }},
		{"begin TOTP, huge password", func() { _, _ = e.m.BeginTOTP(e.ctx, bp, huge) }},
		{"create user, huge name", func() {
			_, _ = e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "x@example.com", Name: huge, Password: "long enough", GroupID: group.UsersID})
		}},
		{"create user, huge email", func() {
			_, _ = e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: huge, Name: "x", Password: "long enough", GroupID: group.UsersID})
		}},
		{"create user, huge password", func() {
			_, _ = e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "x@example.com", Name: "x", Password: huge, GroupID: group.UsersID})
		}},
		{"get user, huge ID", func() { _, _ = e.m.GetUser(e.ctx, admin, user.ID(huge)) }},
		{"unlock login, huge ID", func() { _ = e.m.UnlockLogin(e.ctx, admin, user.ID(huge)) }},
		{"verify TOTP, huge challenge", func() { _, _ = e.m.VerifyTOTP(e.ctx, huge, "123456", client) }},
		{"verify TOTP, huge code", func() { _, _ = e.m.VerifyTOTP(e.ctx, huge, huge, client) }},
		{"recovery code, huge code", func() { _, _ = e.m.VerifyRecoveryCode(e.ctx, huge, huge, client) }},
		{"authenticate, huge token", func() { _, _ = e.m.Authenticate(e.ctx, huge) }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e.clk.Advance(time.Hour) // clear of the back-off
			if got := allocated(tc.f); got > limit {
				t.Errorf("allocated %d KiB on a 1 MiB input, want at most %d KiB", got>>10, limit>>10)
			}
		})
	}
}

// Invariant 5 for dormant accounts: a stored hash cheaper than the
// configured cost (made before the cost was raised, or imported) still
// costs a failed login what the configured cost costs, counted in bcrypt
// work units (2^cost), so its age cannot be read from the time.
func TestLoginEqualWorkCheapHash(t *testing.T) {
	const cost = 8
	e := newEnv(t, func(c *auth.Config) { c.BcryptCost = cost })
	admin := e.admin()
	const bob = "bob@example.com"
	b, _ := e.user(admin, bob, group.UsersID)
	// bob's hash made at cost 5, as if the cost was raised since.
	low := e.manager(e.db, func(c *auth.Config) { c.BcryptCost = 5 })
	if err := low.ResetPassword(e.ctx, e.on(low, admin), b.ID, passwordOf(bob)); err != nil {
		t.Fatal(err)
	}
	const imported = "imported@example.com"
	plain := "$2a$04$" + strings.Repeat("a", 53) // bcrypt cost 4, matches nothing
	u := &user.User{ID: "imported-user", Email: imported, Name: imported, GroupID: string(group.UsersID),
		CreatedAt: e.clk.Now(), UpdatedAt: e.clk.Now()}
	if err := e.db.Users().Create(e.ctx, u, plain); err != nil {
		t.Fatal(err)
	}
	e.m = e.manager(e.db, func(c *auth.Config) { c.BcryptCost = cost }) // binds the imported hash to its account

	var mu sync.Mutex
	var costs []int
	auth.ObserveBcrypt(e.m, func(c int) {
		mu.Lock()
		costs = append(costs, c)
		mu.Unlock()
	})
	work := func(email, password string) int {
		t.Helper()
		mu.Lock()
		costs = nil
		mu.Unlock()
		e.clk.Advance(time.Hour)
		_, _ = e.m.Login(e.ctx, email, password, auth.Client{IP: "198.51.100.7"})
		mu.Lock()
		defer mu.Unlock()
		units := 0
		for _, c := range slices.Clone(costs) {
			units += 1 << c
		}
		return units
	}
	want := work("nobody@example.com", "wrong")
	if want != 1<<cost {
		t.Fatalf("unknown email: %d work units, want %d", want, 1<<cost)
	}
	for _, tc := range []struct{ name, email string }{
		{"hash below the configured cost", bob},
		{"imported plain bcrypt hash of cost 4", imported},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := work(tc.email, "not the password"); got != want {
				t.Errorf("wrong password: %d bcrypt work units, want %d (as for an unknown email)", got, want)
			}
		})
	}
}
