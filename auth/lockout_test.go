package auth_test

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// Invariant 8: nobody can lock someone else out. Each case failed before
// issue 8, when the back-off was keyed by the email alone.

// guess makes one wrong login on adminEmail from ip.
func (e *env) guess(m *auth.Manager, ip string) error {
	_, err := m.Login(e.ctx, adminEmail, "wrong guess", auth.Client{IP: ip})
	return err
}

// A guesser in its back-off does not hold the owner, on another network.
func TestBackoffPerNetwork(t *testing.T) {
	e := newEnv(t)
	e.admin()
	for range 8 {
		_ = e.guess(e.m, "203.0.113.9")
	}
	wantErr(t, e.guess(e.m, "203.0.113.9"), auth.ErrThrottled)
	// Another address in the guesser's IPv6 /64 is the same network.
	for range 8 {
		_ = e.guess(e.m, "2001:db8:5:6::1")
	}
	wantErr(t, e.guess(e.m, "2001:db8:5:6::2"), auth.ErrThrottled)
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "198.51.100.20"}); err != nil {
		t.Fatalf("owner from their own network: %v", err)
	}
}

// Untrusted attempts share one budget a day across every network; a
// trusted device, UnlockLogin and the next day get through.
func TestAccountDayBudget(t *testing.T) {
	const budget = 12
	e := newEnv(t, func(c *auth.Config) { c.Throttle.AccountFailuresPerDay = budget })
	admin := e.admin()
	// The owner's own device: a token from a successful login.
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	if r.DeviceToken == "" {
		t.Fatal("no device token after a successful login")
	}
	admitted := 2                                           // the sign-up's login does not count; the two logins above and below do
	_, _ = e.m.Login(e.ctx, "bob@example.com", "x", client) // another account's budget
	for i := range 3 * budget {
		if err := e.guess(e.m, fmt.Sprintf("203.0.%d.%d", i/200, i%200)); errors.Is(err, auth.ErrInvalidCredentials) {
			admitted++
		}
	}
	if admitted > budget+1 {
		t.Errorf("%d untrusted attempts admitted in a day, want at most %d", admitted, budget)
	}
	_, err = e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "198.51.100.77"})
	var te *auth.ThrottledError
	if !errors.As(err, &te) || te.RetryAfter <= 0 || te.RetryAfter > 24*time.Hour {
		t.Fatalf("right password, no device, budget spent: %v, want a ThrottledError within the day", err)
	}
	trusted := auth.Client{IP: "198.51.100.77", DeviceToken: r.DeviceToken}
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, trusted); err != nil {
		t.Fatalf("owner's trusted device: %v", err)
	}
	// A trusted device for another account does not count for this one.
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	_ = bob
	rb, err := e.m.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.Login(e.ctx, adminEmail, "wrong", auth.Client{IP: "198.51.100.78", DeviceToken: rb.DeviceToken})
	wantErr(t, err, auth.ErrThrottled)
	// UnlockLogin clears the day's budget too.
	if err := e.m.UnlockLogin(e.ctx, admin, admin.User().ID); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "198.51.100.79"}); err != nil {
		t.Fatalf("after UnlockLogin: %v", err)
	}
}

// A device's own failures slow that device only; others' never do.
func TestDeviceBudgetIsOwn(t *testing.T) {
	e := newEnv(t)
	e.admin()
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		_ = e.guess(e.m, client.IP) // the owner's own network, no token
	}
	wantErr(t, e.guess(e.m, client.IP), auth.ErrThrottled)
	dev := client
	dev.DeviceToken = r.DeviceToken
	r2, err := e.m.Login(e.ctx, adminEmail, adminPassword, dev)
	if err != nil {
		t.Fatalf("trusted device on a throttled network: %v", err)
	}
	dev.DeviceToken = r2.DeviceToken // renewed
	for range 5 {
		_, err = e.m.Login(e.ctx, adminEmail, "typo", dev)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	_, err = e.m.Login(e.ctx, adminEmail, "typo", dev)
	wantErr(t, err, auth.ErrThrottled)
}

// Tokens that are forged, altered, expired or revoked are no tokens.
func TestDeviceTokenRejected(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.AccountFailuresPerDay = 3 })
	admin := e.admin()
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	// A Manager with another key cannot even start on this database, so
	// it cannot sign a token the account would trust.
	if _, err := auth.New(e.config(e.db, func(c *auth.Config) { c.SecretKey = []byte(strings.Repeat("k", 32)) })); !errors.Is(err, auth.ErrWrongSecretKey) {
		t.Fatalf("New with another key: %v", err)
	}
	tok := r.DeviceToken
	altered := tok[:len(tok)-2] + map[bool]string{true: "AA", false: "BB"}[!strings.HasSuffix(tok, "AA")]
	for range 5 {
		_ = e.guess(e.m, "203.0.113.50") // spend the day's budget
	}
	cases := []struct{ name, token string }{
		{"altered", altered},
		{"garbage", "d1.!!!"},
		{"huge", "d1." + strings.Repeat("A", 1<<20)},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "198.51.100.2", DeviceToken: tc.token})
			wantErr(t, err, auth.ErrThrottled)
		})
	}
	t.Run("revoked", func(t *testing.T) {
		if err := e.m.RevokeDevices(e.ctx, admin, admin.User().ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "198.51.100.2", DeviceToken: tok})
		wantErr(t, err, auth.ErrThrottled)
	})
	t.Run("expired", func(t *testing.T) {
		if err := e.m.UnlockLogin(e.ctx, admin, admin.User().ID); err != nil {
			t.Fatal(err)
		}
		r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
		if err != nil {
			t.Fatal(err)
		}
		e.clk.Advance(auth.DefaultDeviceTrust + time.Hour)
		for range 5 {
			_ = e.guess(e.m, "203.0.113.51")
		}
		_, err = e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "198.51.100.2", DeviceToken: r.DeviceToken})
		wantErr(t, err, auth.ErrThrottled)
	})
}

// Spraying many accounts from one IPv6 /48, a fresh /64 for each attempt,
// is bounded like spraying from one /64.
func TestIPv6SiteBudget(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.PerIPPerMinute = 5; c.Throttle.PerIPv6SitePerMinute = 10 })
	e.admin()
	admitted := 0
	for i := range 100 {
		_, err := e.m.Login(e.ctx, fmt.Sprintf("user%d@example.com", i), "guess", auth.Client{IP: fmt.Sprintf("2001:db8:77:%x::1", i)})
		if !errors.Is(err, auth.ErrThrottled) {
			admitted++
		}
	}
	if admitted > 10 {
		t.Errorf("%d attempts from one /48 in a minute, want at most 10", admitted)
	}
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "2001:db8:78::1"}); err != nil {
		t.Fatalf("another /48: %v", err)
	}
}

// UnlockLogin clears every key of the account: each network's back-off and
// each device's.
func TestUnlockLoginClearsEveryKey(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	dev := auth.Client{IP: "198.51.100.3", DeviceToken: r.DeviceToken}
	ips := []string{"203.0.113.1", "203.0.113.2", "2001:db8:9::1"}
	for range 8 {
		for _, ip := range ips {
			_ = e.guess(e.m, ip)
		}
		_, _ = e.m.Login(e.ctx, adminEmail, "wrong", dev)
	}
	if err := e.m.UnlockLogin(e.ctx, admin, admin.User().ID); err != nil {
		t.Fatal(err)
	}
	for _, ip := range ips {
		wantErr(t, e.guess(e.m, ip), auth.ErrInvalidCredentials)
	}
	_, err = e.m.Login(e.ctx, adminEmail, "wrong", dev)
	wantErr(t, err, auth.ErrInvalidCredentials)
}

// The scenario: 40 networks guess one account at once through 3
// Managers on one store. The admitted guesses stay within the day's budget
// and the owner's trusted device still logs in.
func TestDistributedGuessing(t *testing.T) {
	e := newEnv(t)
	e.admin()
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	ms := []*auth.Manager{e.m, e.manager(e.db), e.manager(e.db)}
	var admitted atomic.Int32
	var wg sync.WaitGroup
	for n := range 40 {
		wg.Go(func() {
			for i := range 10 {
				err := e.guess(ms[(n+i)%3], fmt.Sprintf("2001:db8:%x::%x", n, i))
				if errors.Is(err, auth.ErrInvalidCredentials) {
					admitted.Add(1)
				}
				e.clk.Advance(2 * time.Second) // out of the short back-offs
			}
		})
	}
	wg.Wait()
	if got, limit := admitted.Load(), int32(auth.DefaultAccountFailuresPerDay-1); got > limit {
		t.Errorf("%d guesses admitted, want at most %d (the day's budget less the owner's login)", got, limit)
	}
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "2001:db8:ffff::1"}); !errors.Is(err, auth.ErrThrottled) {
		t.Errorf("untrusted login after the budget was spent: %v, want ErrThrottled", err)
	}
	for _, m := range ms {
		if _, err := m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: client.IP, DeviceToken: r.DeviceToken}); err != nil {
			t.Fatalf("owner's trusted device: %v", err)
		}
	}
}

// A device token issued before the owner's credentials were reset stops
// counting as trusted: a stolen device cookie must not keep its own budget
// once the password or second factor it went with is gone.
func TestCredentialResetRevokesDevices(t *testing.T) {
	const email = "bob@example.com"
	pw := passwordOf(email)
	cases := []struct {
		name   string
		action audit.Action
		reset  func(e *env, admin, bob *auth.Principal) string // returns the password now
	}{
		{"ResetPassword", audit.PasswordReset, func(e *env, admin, bob *auth.Principal) string {
			if err := e.m.ResetPassword(e.ctx, admin, bob.User().ID, "an admin-set password"); err != nil {
				e.t.Fatal(err)
			}
			return "an admin-set password"
		}},
		{"ChangePassword", audit.PasswordChanged, func(e *env, admin, bob *auth.Principal) string {
			if _, err := e.m.ChangePassword(e.ctx, bob, pw, "bob's own new password"); err != nil {
				e.t.Fatal(err)
			}
			return "bob's own new password"
		}},
		{"ResetTwoFactor", audit.TwoFactorReset, func(e *env, admin, bob *auth.Principal) string {
			e.enrol(&bob)
			if err := e.m.ResetTwoFactor(e.ctx, admin, bob.User().ID); err != nil {
				e.t.Fatal(err)
			}
			return pw
		}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, func(c *auth.Config) { c.Throttle.AccountFailuresPerDay = 3 })
			admin := e.admin()
			_, bob := e.user(admin, email, group.UsersID)
			r, err := e.m.Login(e.ctx, email, pw, client)
			if err != nil {
				t.Fatal(err)
			}
			dev := auth.Client{IP: "198.51.100.2", DeviceToken: r.DeviceToken}
			for i := range 5 { // spend the account's day from many networks
				_, _ = e.m.Login(e.ctx, email, "wrong guess", auth.Client{IP: fmt.Sprintf("203.0.113.%d", 60+i)})
			}
			if _, err := e.m.Login(e.ctx, email, pw, dev); err != nil {
				t.Fatalf("trusted device before the reset: %v", err)
			}
			now := tc.reset(e, admin, bob)
			_, err = e.m.Login(e.ctx, email, now, dev)
			wantErr(t, err, auth.ErrThrottled)
			if ev := e.lastEvent(tc.action); ev.Details[audit.DetailDevicesRevoked] != true {
				t.Fatalf("event %+v does not record the devices' revocation", ev)
			}
		})
	}
}

// RevokeDevices has an action of its own, not a login unlock's.
func TestRevokeDevicesAudited(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	u, _ := e.user(admin, "bob@example.com", group.UsersID)
	if err := e.m.RevokeDevices(e.ctx, admin, u.ID); err != nil {
		t.Fatal(err)
	}
	ev := e.lastEvent(audit.DevicesRevoked)
	if ev.Target.ID != string(u.ID) || ev.Details[audit.DetailDevicesRevoked] != true {
		t.Fatalf("event %+v", ev)
	}
	if !slices.Contains(audit.Actions(), audit.DevicesRevoked) {
		t.Fatal("audit.Actions() lacks DevicesRevoked")
	}
	for _, ev := range e.events() {
		if ev.Action == audit.LoginUnlocked {
			t.Fatalf("RevokeDevices recorded as %s", ev.Action)
		}
	}
}

// A device token handed out after RevokeDevices carries the new device
// generation, so the device is trusted at its next login: the login's
// outcome reads the generation (on SQLite, ahead, with the account), and
// that value must be the current one.
func TestDeviceTokenAfterRevokeTrusted(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.AccountFailuresPerDay = 3 })
	admin := e.admin()
	if err := e.m.RevokeDevices(e.ctx, admin, admin.User().ID); err != nil {
		t.Fatal(err)
	}
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		_ = e.guess(e.m, "203.0.113.60") // spend the day's budget
	}
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, auth.Client{IP: "198.51.100.2", DeviceToken: r.DeviceToken}); err != nil {
		t.Fatalf("device token issued after a revocation is not trusted: %v", err)
	}
}
