package main

import (
	"encoding/base32"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/totp"
)

func TestSignupThenClosed(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	anon := a.browser()
	// A fresh installation sends the dashboard to sign-up, which asks for
	// the setup token and says where it comes from.
	first := anon.get("/")
	want(t, "first visit", first, http.StatusOK, "Nobody has an account yet", `action="/signup"`,
		"setup address", "<code>setup:</code>", `<input type="password" name="bootstrap_token"`)
	// The setup address fills it in.
	setup := a.setupToken()
	want(t, "setup address", anon.get("/signup?token="+setup), http.StatusOK,
		`<input type="hidden" name="bootstrap_token" value="`+setup+`">`)
	// Without it, or with a wrong one, nobody becomes the admin.
	for _, tok := range []string{"", "a guess", setup + "x"} {
		p := anon.post("/signup", "email", "eve@example.com", "name", "Eve", "password", "whatever whatever", "bootstrap_token", tok)
		want(t, "sign-up with token "+tok, p, http.StatusForbidden, "This setup token is wrong, used or expired")
		if p.has(`type="hidden" name="bootstrap_token"`) {
			t.Fatal("a refused token is sent again")
		}
	}

	admin := a.signup()
	want(t, "admin dashboard", admin.get("/"), http.StatusOK, "Hello Ada", "<code>*</code>")

	// Afterwards the page says so, and the library refuses a sign-up that
	// skips the page, even with the token.
	closed := anon.get("/signup")
	want(t, "signup page after", closed, http.StatusOK, "Sign-up is closed")
	if closed.has(`action="/signup"`) {
		t.Fatal("closed sign-up page still offers the form")
	}
	p := anon.post("/signup", "email", "eve@example.com", "name", "Eve", "password", "whatever whatever", "bootstrap_token", setup)
	want(t, "second signup", p, http.StatusForbidden, "Sign-up is closed")
	if l := anon.get("/login"); l.has("create the first one") {
		t.Fatal("login page offers sign-up after the first account")
	}
	want(t, "eve cannot log in", anon.post("/login", "email", "eve@example.com", "password", "whatever whatever"),
		http.StatusUnauthorized, "Wrong email or password")
}

func TestSignupValidation(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	b := a.browser()
	setup := a.setupToken()
	p := b.post("/signup", "email", "not an email", "name", "Ada", "password", "short", "bootstrap_token", setup)
	want(t, "bad email", p, http.StatusBadRequest, "Enter a single valid email address.", `value="Ada"`,
		`<input type="hidden" name="bootstrap_token" value="`+setup+`">`)
	p = b.post("/signup", "email", "ada@example.com", "name", "Ada", "password", "short", "bootstrap_token", setup)
	want(t, "short password", p, http.StatusBadRequest, "Use at least 8 characters.", `value="ada@example.com"`)
	if p.has("short\"") {
		t.Fatal("the password was echoed back")
	}
	// Nothing was created: sign-up is still open.
	want(t, "still open", b.get("/signup"), http.StatusOK, "Nobody has an account yet")
}

func TestLoginErrors(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.signup()
	b := a.browser()

	p := b.post("/login", "email", "admin@example.com", "password", "wrong password")
	want(t, "wrong password", p, http.StatusUnauthorized, "Wrong email or password.", `value="admin@example.com"`)
	if p.has("wrong password\"") {
		t.Fatal("the password was echoed back")
	}
	want(t, "unknown email", b.post("/login", "email", "nobody@example.com", "password", "wrong password"),
		http.StatusUnauthorized, "Wrong email or password.")
	want(t, "still anonymous", b.get("/"), http.StatusOK, "<h1>Log in</h1>")

	// After the free failures the account backs off, and the page says for
	// how long.
	var p2 page
	for range 10 {
		if p2 = b.post("/login", "email", "admin@example.com", "password", "wrong password"); p2.status == http.StatusTooManyRequests {
			break
		}
	}
	want(t, "throttled", p2, http.StatusTooManyRequests, "Too many attempts, try again in ")
	if p2.header.Get("Retry-After") == "" {
		t.Fatal("throttled answer without Retry-After")
	}
	// Once the back-off has passed, the right password works.
	a.clock.Add(time.Hour)
	a.login("admin@example.com", adminPassword)
}

func TestLoginNextStaysOnSite(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.signup()
	b := a.browser()
	// An anonymous visit remembers where it was going...
	p := b.get("/users?q=ada")
	want(t, "redirected to login", p, http.StatusOK, "<h1>Log in</h1>", `name="next" value="/users?q=ada"`)
	p = b.post("/login", "email", "admin@example.com", "password", adminPassword, "next", "/users?q=ada")
	want(t, "back to users", p, http.StatusOK, "<h1>Users</h1>")
	// ...but never leaves the site.
	for _, next := range []string{"//evil.example/", "https://evil.example/", "/\\evil.example"} {
		c := a.browser()
		p := c.post("/login", "email", "admin@example.com", "password", adminPassword, "next", next)
		if p.url.Host != strings.TrimPrefix(a.srv.URL, "https://") || p.url.Path != "/" {
			t.Fatalf("next=%q ended at %s", next, p.url)
		}
	}
}

var (
	secretRE   = regexp.MustCompile(`<code class="secret">([A-Z2-7 ]+)</code>`)
	recoveryRE = regexp.MustCompile(`<li><code>([0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{4})</code></li>`)
)

// enrolTOTP runs enrollment through the pages and returns the secret and
// the recovery codes shown.
func enrolTOTP(t *testing.T, a *app, b *browser) (secret []byte, codes []string) {
	t.Helper()
	p := b.post("/profile/2fa/begin")
	want(t, "begin 2FA", p, http.StatusOK, `src="data:image/png;base64,`, "Enter the code the app shows")
	shown := secretRE.FindStringSubmatch(p.body)
	if shown == nil {
		t.Fatalf("no secret on the enrollment page\n%s", excerpt(p.body))
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(shown[1], " ", ""))
	if err != nil {
		t.Fatal(err)
	}
	// A wrong code is refused next to the field; nothing is enabled.
	want(t, "wrong confirm code", b.post("/profile/2fa/confirm", "code", wrongCode(t, secret, a.clock.Now())),
		http.StatusUnauthorized, "That code is not right", "Finish setting up")

	code, err := totp.Code(secret, a.clock.Now(), totp.Digits)
	if err != nil {
		t.Fatal(err)
	}
	p = b.post("/profile/2fa/confirm", "code", code)
	want(t, "confirm 2FA", p, http.StatusOK, "Two-factor authentication is on.", "Save these recovery codes now")
	for _, m := range recoveryRE.FindAllStringSubmatch(p.body, -1) {
		codes = append(codes, m[1])
	}
	if len(codes) != totp.RecoveryCodes {
		t.Fatalf("%d recovery codes shown, want %d", len(codes), totp.RecoveryCodes)
	}
	// The secret and the codes are shown once: the security page has neither.
	s := b.get("/profile/security")
	want(t, "security page", s, http.StatusOK, "is <strong>on</strong>", "10 recovery codes left")
	if s.has(shown[1]) || s.has(codes[0]) {
		t.Fatal("the security page shows the secret or a recovery code again")
	}
	return secret, codes
}

// wrongCode is a well-formed code that is not valid around now.
func wrongCode(t *testing.T, secret []byte, now time.Time) string {
	t.Helper()
	valid := map[string]bool{}
	for _, d := range []time.Duration{-totp.Period, 0, totp.Period} {
		c, _ := totp.Code(secret, now.Add(d), totp.Digits)
		valid[c] = true
	}
	for _, c := range []string{"000000", "111111", "222222", "333333"} {
		if !valid[c] {
			return c
		}
	}
	t.Fatal("no wrong code found")
	return ""
}

func TestTOTPEnrollmentAndTwoStepLogin(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	secret, codes := enrolTOTP(t, a, admin)
	want(t, "listing shows 2FA", admin.get("/users"), http.StatusOK, `<span class="badge on">TOTP</span>`)

	// Log in again: the password is right, a second step is owed.
	b := a.browser()
	p := b.post("/login", "email", "admin@example.com", "password", adminPassword)
	want(t, "first step", p, http.StatusOK, "Code from your authenticator app")
	if p.url.Path != "/login/2fa" {
		t.Fatalf("first step ended at %s", p.url)
	}
	want(t, "not logged in between the steps", b.get("/users"), http.StatusOK, "<h1>Log in</h1>")

	want(t, "wrong code", b.post("/login/2fa", "method", "totp", "code", wrongCode(t, secret, a.clock.Now())),
		http.StatusUnauthorized, "That code is not right")
	want(t, "malformed code", b.post("/login/2fa", "method", "totp", "code", "12ab"),
		http.StatusBadRequest, "Enter the 6-digit code")

	a.clock.Add(totp.Period) // the enrollment code's step is spent
	code, _ := totp.Code(secret, a.clock.Now(), totp.Digits)
	p = b.post("/login/2fa", "method", "totp", "code", code)
	want(t, "second step", p, http.StatusOK, "<h1>Dashboard</h1>", "Hello Ada")

	// A recovery code works once instead.
	c := a.browser()
	c.post("/login", "email", "admin@example.com", "password", adminPassword)
	p = c.post("/login/2fa", "method", "recovery_code", "recovery_code", strings.ToLower(codes[0]))
	want(t, "recovery code", p, http.StatusOK, "<h1>Dashboard</h1>")
	want(t, "nine left", c.get("/profile/security"), http.StatusOK, "9 recovery codes left")

	d := a.browser()
	d.post("/login", "email", "admin@example.com", "password", adminPassword)
	p = d.post("/login/2fa", "method", "recovery_code", "recovery_code", codes[0])
	want(t, "used recovery code", p, http.StatusUnauthorized, "That recovery code is not right, or it was used already")
	if p.has("wait for the next one") {
		t.Fatalf("a used recovery code is answered with TOTP timing\n%s", excerpt(p.body))
	}

	// Without the challenge cookie there is no second step.
	e := a.browser()
	p = e.post("/login/2fa", "method", "totp", "code", code)
	want(t, "no challenge", p, http.StatusOK, "Your login took too long")
}

// The challenge dies after auth.MaxChallengeFailures wrong codes: the
// login page says so, not that the login took too long.
func TestTooManyWrongCodes(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	secret, _ := enrolTOTP(t, a, admin)

	b := a.browser()
	b.post("/login", "email", "admin@example.com", "password", adminPassword)
	wrong := wrongCode(t, secret, a.clock.Now())
	for range auth.MaxChallengeFailures - 1 {
		want(t, "wrong code", b.post("/login/2fa", "method", "totp", "code", wrong), http.StatusUnauthorized, "That code is not right")
	}
	p := b.post("/login/2fa", "method", "totp", "code", wrong)
	want(t, "last wrong code", p, http.StatusOK, "<h1>Log in</h1>", "Too many wrong codes; please start again.")
	if p.has("took too long") {
		t.Fatalf("too many wrong codes reported as a timeout\n%s", excerpt(p.body))
	}

	// An expired challenge still says it took too long.
	c := a.browser()
	c.post("/login", "email", "admin@example.com", "password", adminPassword)
	a.clock.Add(time.Hour)
	code, _ := totp.Code(secret, a.clock.Now(), totp.Digits)
	want(t, "expired", c.post("/login/2fa", "method", "totp", "code", code), http.StatusOK, "Your login took too long")
}

func TestRecoveryCodesRegenerateAndDisable(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	_, codes := enrolTOTP(t, a, admin)

	want(t, "regenerate, wrong password", admin.post("/profile/2fa/recovery-codes", "password", "nope nope nope"),
		http.StatusUnauthorized, "Wrong password.")
	p := admin.post("/profile/2fa/recovery-codes", "password", adminPassword)
	want(t, "regenerate", p, http.StatusOK, "Save these recovery codes now")
	fresh := recoveryRE.FindAllStringSubmatch(p.body, -1)
	if len(fresh) != totp.RecoveryCodes || fresh[0][1] == codes[0] {
		t.Fatalf("regenerated codes: %v", fresh)
	}
	// Use eight of the new codes: the pages warn when few are left.
	for i := range 8 {
		b := a.browser()
		b.post("/login", "email", "admin@example.com", "password", adminPassword)
		want(t, "use a code", b.post("/login/2fa", "method", "recovery_code", "recovery_code", fresh[i][1]), http.StatusOK, "<h1>Dashboard</h1>")
	}
	want(t, "dashboard warns", admin.get("/"), http.StatusOK, "Only 2 recovery codes left.")
	want(t, "security warns", admin.get("/profile/security"), http.StatusOK, "running out of recovery codes")

	want(t, "disable, no password", admin.post("/profile/2fa/disable", "password", ""), http.StatusUnauthorized)
	p = admin.post("/profile/2fa/disable", "password", adminPassword)
	want(t, "disable", p, http.StatusOK, "Two-factor authentication is off.")
	a.login("admin@example.com", adminPassword) // one step again
}

func TestMustEnrollRedirectsEveryPage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	want(t, "group needs manage_2fa", admin.post("/groups", "name", "Strict", "perm", "users:read", "require_2fa", "on"),
		http.StatusBadRequest, "must grant")
	gid := createGroup(t, admin, "Strict", true, "users:read", "profile:*")
	createUser(t, admin, "carol@example.com", "Carol", "carol long password", gid)

	carol := a.browser()
	p := carol.post("/login", "email", "carol@example.com", "password", "carol long password")
	want(t, "sent to enrol", p, http.StatusOK, "Your group requires two-factor authentication")
	for _, path := range []string{"/", "/users", "/profile", "/backups"} {
		if p := carol.get(path); p.url.Path != "/profile/security" {
			t.Fatalf("%s ended at %s, want the enrollment page", path, p.url)
		}
	}
	// Fresh login: enrolling needs no password.
	enrolTOTP(t, a, carol)
	want(t, "after enrolling", carol.get("/users"), http.StatusOK, "<h1>Users</h1>", "carol@example.com")
}

func TestCrossOriginPostRefused(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	for _, h := range []http.Header{
		{"Sec-Fetch-Site": {"cross-site"}},
		{"Origin": {"https://evil.example"}},
	} {
		p := admin.postWith("/users", h, "email", "mallory@example.com", "password", "mallory's password")
		want(t, "cross-origin create user", p, http.StatusForbidden, "sent from another site")
		p = admin.postWith("/backups/run", h)
		want(t, "cross-origin backup", p, http.StatusForbidden, "sent from another site")
		p = admin.postWith("/logout", h)
		want(t, "cross-origin logout", p, http.StatusForbidden)
	}
	// Nothing happened: no user, no backup, still logged in.
	if p := admin.get("/users"); p.has("mallory@example.com") {
		t.Fatal("a cross-origin POST created a user")
	}
	want(t, "no backups", admin.get("/backups"), http.StatusOK, "No backups yet.")
	// The same form from the same origin goes through.
	p := admin.postWith("/backups/run", http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {a.srv.URL}})
	want(t, "same-origin backup", p, http.StatusOK, "Backup started.", "admin@example.com")
}

func TestSecurityHeaders(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	p := a.browser().get("/login")
	for k, v := range map[string]string{
		"X-Frame-Options":         "DENY",
		"Referrer-Policy":         "same-origin",
		"X-Content-Type-Options":  "nosniff",
		"Content-Security-Policy": "default-src 'none'",
		"Cache-Control":           "no-store",
	} {
		if got := p.header.Get(k); !strings.Contains(got, v) {
			t.Errorf("%s: %q, want %q", k, got, v)
		}
	}
	// Script from this origin only (static/passkey.js, for passkeys), and
	// nothing inline.
	const csp = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; " +
		"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
	if got := p.header.Get("Content-Security-Policy"); got != csp || strings.Contains(got, "unsafe-inline") || strings.Contains(got, "unsafe-eval") {
		t.Errorf("CSP %q, want %q", got, csp)
	}
}

func TestLogout(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	p := admin.post("/logout")
	want(t, "logout", p, http.StatusOK, "You are logged out.", "<h1>Log in</h1>")
	want(t, "after logout", admin.get("/users"), http.StatusOK, "<h1>Log in</h1>")
}

// A two-step login left unfinished in a browser ends with the next login
// or logout there.
func TestChallengeCookieEndsWithLogout(t *testing.T) {
	a := newApp(t)
	admin := a.signup()
	enrolTOTP(t, a, admin)
	createUser(t, admin, "bob@example.com", "Bob", "bob password 1", "users")
	b := a.browser()
	b.post("/login", "email", "admin@example.com", "password", adminPassword) // walks away at step 2
	want(t, "bob logs in", b.post("/login", "email", "bob@example.com", "password", "bob password 1"), http.StatusOK, "<h1>Dashboard</h1>")
	want(t, "bob logs out", b.post("/logout"), http.StatusOK, "You are logged out.")
	u, _ := url.Parse(a.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == challengeCookie {
			t.Fatal("challenge cookie still present after logout")
		}
	}
	if p := b.get("/login/2fa"); p.has("Code from your authenticator app") {
		t.Fatal("the admin's second step is still offered after Bob's logout")
	}
}

// A browser that logged in before keeps a device cookie, and with it a
// login budget of its own: someone guessing the password from the same
// network does not lock the owner out (issue 8, OWASP device cookies).
func TestDeviceCookieKeepsTheOwnerIn(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.signup()
	owner := a.login("admin@example.com", adminPassword)
	u, _ := url.Parse(a.srv.URL)
	if !slices.ContainsFunc(owner.c.Jar.Cookies(u), func(c *http.Cookie) bool { return c.Name == auth.DeviceCookieName }) {
		t.Fatal("no device cookie after login")
	}
	owner.post("/logout")

	guesser := a.browser()
	var p page
	for range 10 {
		if p = guesser.post("/login", "email", "admin@example.com", "password", "wrong password"); p.status == http.StatusTooManyRequests {
			break
		}
	}
	want(t, "the guesser is throttled", p, http.StatusTooManyRequests, "Too many attempts")
	want(t, "a new browser on the same network waits too", a.browser().post("/login", "email", "admin@example.com", "password", adminPassword),
		http.StatusTooManyRequests, "Too many attempts")
	want(t, "the owner's browser gets in", owner.post("/login", "email", "admin@example.com", "password", adminPassword),
		http.StatusOK, "<h1>Dashboard</h1>")
}
