package main

import (
	"bytes"
	"context"
	"encoding/base32"
	"fmt"
	"image/png"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/totp"
)

// TestBrowserEndToEnd walks the webapp in headless Chromium, as a person
// would: sign-up of the admin, adding a user, that user refused the admin
// pages, then the admin enrolling TOTP and logging in with two steps.
// Where the HTTP tests check the HTML, this checks that a real browser keeps
// the __Host- cookies, sends forms that pass the cross-origin check, and
// follows the redirects.
//
// Without a Chromium binary the test is skipped, except under CI=true,
// where .ci/run installs one and its absence is a failure.
func TestBrowserEndToEnd(t *testing.T) {
	b, clock, _ := startBrowserApp(t)

	const (
		adminEmail = "admin@example.com"
		bobEmail   = "bob@example.com"
		bobPass    = "bob's long password"
	)

	// A fresh installation sends the first visitor to sign-up, which asks
	// for the setup token and says where it comes from.
	b.want(b.open("/"), http.StatusOK, "/signup", "Sign up", "Nobody has an account yet", "setup address")
	b.fill(`form[action="/signup"] input[name=bootstrap_token]`, b.setupToken)
	b.fill(`form[action="/signup"] input[name=email]`, adminEmail)
	b.fill(`form[action="/signup"] input[name=name]`, "Ada")
	b.fill(`form[action="/signup"] input[name=password]`, adminPassword)
	b.want(b.click(`form[action="/signup"] button[type=submit]`), http.StatusOK, "/", "Dashboard",
		"Welcome! Your account is the administrator.", "Hello Ada. You are in the group Admins.")
	b.wantText("header .who", "Ada")
	b.wantText("nav", "Users", "Groups", "Audit log")
	b.screenshot(filepath.Join(t.TempDir(), "dashboard.png"))

	// Users → Add user, in the group Users.
	b.want(b.click(`nav a[href="/users"]`), http.StatusOK, "/users", "Users", adminEmail)
	b.want(b.click(`a[href="/users/new"]`), http.StatusOK, "/users/new", "Add user")
	b.fill(`form[action="/users"] input[name=email]`, bobEmail)
	b.fill(`form[action="/users"] input[name=name]`, "Bob")
	b.fill(`form[action="/users"] input[name=password]`, bobPass)
	b.choose(`form[action="/users"] select[name=group]`, "Users")
	p := b.click(`form[action="/users"] button[type=submit]`)
	b.want(p, http.StatusOK, "", "Edit user", "User created.")
	if !strings.HasPrefix(p.path, "/users/") || p.path == "/users/new" {
		t.Fatalf("creating a user ended at %s, want /users/{id}", p.path)
	}
	b.wantText("dl.facts", "Users", "Active")
	if got := b.value(`main input[name=email]`); got != bobEmail {
		t.Fatalf("edit page shows email %q, want %q", got, bobEmail)
	}
	b.want(b.click(`a[href="/users"]`), http.StatusOK, "/users", "Users", bobEmail)
	b.wantText("table.users", "Bob\tUsers") // name and group side by side in Bob's row

	// Bob logs in: no Users in his menu, and the page refuses him.
	b.logout()
	b.login(bobEmail, bobPass)
	b.wantText("main", "Hello Bob. You are in the group Users.")
	if nav := b.text("nav"); strings.Contains(nav, "Users") || strings.Contains(nav, "Audit") {
		t.Fatalf("Bob's menu offers admin pages: %q", nav)
	}
	b.want(b.open("/users"), http.StatusForbidden, "/users", "Forbidden", "You do not have permission for this.")
	b.want(b.click(`nav a[href="/profile"]`), http.StatusOK, "/profile", "Profile")
	if got := b.value(`form[action="/profile"] input[name=email]`); got != bobEmail {
		t.Fatalf("Bob's profile shows email %q, want %q", got, bobEmail)
	}

	// The admin enrols TOTP with the secret shown on the page.
	b.logout()
	b.login(adminEmail, adminPassword)
	b.want(b.click(`nav a[href="/profile/security"]`), http.StatusOK, "/profile/security", "Security",
		"Two-factor authentication is off.")
	b.want(b.click(`form[action="/profile/2fa/begin"] button[type=submit]`), http.StatusOK, "/profile/2fa/begin",
		"Set up two-factor authentication", "Scan this QR code")
	shown := b.text("code.secret")
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(strings.ReplaceAll(shown, " ", ""))
	if err != nil {
		t.Fatalf("secret %q on the page: %v", shown, err)
	}
	code, err := totp.Code(secret, clock.Now(), totp.Digits)
	if err != nil {
		t.Fatal(err)
	}
	b.fill(`form[action="/profile/2fa/confirm"] input[name=code]`, code)
	b.want(b.click(`form[action="/profile/2fa/confirm"] button[type=submit]`), http.StatusOK, "/profile/2fa/confirm",
		"Recovery codes", "Two-factor authentication is on.", "Save these recovery codes now.")
	if n := len(recoveryCodeRE.FindAllString(b.text("ul.codes"), -1)); n != totp.RecoveryCodes {
		t.Fatalf("%d recovery codes shown, want %d", n, totp.RecoveryCodes)
	}

	// The next login owes a second step; the code is for the next TOTP step
	// (the enrollment code's is spent), reached on the fake clock.
	b.logout()
	b.fillLogin(adminEmail, adminPassword)
	b.want(b.click(`form[action="/login"] button[type=submit]`), http.StatusOK, "/login/2fa",
		"Two-factor authentication", "Your password was right.")
	clock.Add(totp.Period)
	code, err = totp.Code(secret, clock.Now(), totp.Digits)
	if err != nil {
		t.Fatal(err)
	}
	b.fill(`input[name=code]`, code)
	b.want(b.click(`form:has(input[name=code]) button[type=submit]`), http.StatusOK, "/", "Dashboard", "Hello Ada.")
	b.want(b.click(`nav a[href="/profile/security"]`), http.StatusOK, "/profile/security", "Security",
		fmt.Sprintf("Two-factor authentication is on. %d recovery codes left.", totp.RecoveryCodes))
}

var recoveryCodeRE = regexp.MustCompile(`[0-9A-Z]{5}-[0-9A-Z]{5}-[0-9A-Z]{4}`)

// startBrowserApp serves the webapp (passkeys on, for http://localhost at
// its port) on a real SQLite file with a fake clock, and opens a tab of
// headless Chromium on it. Without a Chromium binary the test is skipped,
// except under CI=true, where .ci/run installs one and its absence is a
// failure.
func startBrowserApp(t *testing.T) (*tab, *fakeClock, auth.Store) {
	t.Helper()
	exe := findChromium()
	if exe == "" {
		if os.Getenv("CI") == "true" {
			t.Fatal("no Chromium found (CI=true): .ci/run should have installed the chromium package")
		}
		t.Skip("no Chromium found (looked for /usr/lib/chromium/chromium, /usr/bin/chromium, chromium on PATH); apt-get install chromium to run this test")
	}

	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "webapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// The server starts before the Manager knows its port: listen first.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	_, port, err := net.SplitHostPort(srv.Listener.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	// http://localhost is a secure context, so Chromium keeps the Secure
	// __Host- cookies over plain HTTP (http://127.0.0.1 might not), and it
	// is the passkeys' origin: RP ID localhost, as the app runs by default.
	base := "http://localhost:" + port
	clock := &fakeClock{t: time.Now()}
	s, err := newServer(db, slog.New(slog.DiscardHandler), func(cfg *auth.Config) {
		cfg.SecretKey = bytes.Repeat([]byte{7}, 32)
		cfg.BcryptCost = 4
		cfg.InsecureLowBcryptCostForTests = true
		cfg.Now = clock.Now
		cfg.Passkeys = auth.PasskeyConfig{RPID: "localhost", Origins: []string{base}}
		cfg.SSO = auth.SSOConfig{CallbackURL: base + "/sso/{id}/callback"}
	})
	if err != nil {
		t.Fatal(err)
	}
	posts := &postLog{}
	handler := s.handler()
	srv.Config.Handler = http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method == http.MethodPost {
			posts.add(r.URL.Path)
		}
		handler.ServeHTTP(w, r)
	})
	srv.Start()

	opts := append(chromedp.DefaultExecAllocatorOptions[:],
		chromedp.ExecPath(exe),
		chromedp.NoSandbox, // tests and CI run as root
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1200, 900),
	)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	t.Cleanup(cancelAlloc) // before the TempDir cleanups: the profile is in use until then
	ctx, cancelTab := chromedp.NewContext(allocCtx)
	t.Cleanup(cancelTab)
	// Start the browser, then bound the test: a timeout on the context of
	// the first Run would be the browser's lifetime. A hung start is ended
	// by the watchdog instead.
	start := time.Now()
	watchdog := time.AfterFunc(30*time.Second, cancelAlloc)
	err = chromedp.Do(ctx)
	if !watchdog.Stop() {
		t.Fatalf("%s did not start within 30 s: %v", exe, err)
	}
	if err != nil {
		t.Fatalf("starting %s: %v", exe, err)
	}
	t.Logf("%s started in %v", exe, time.Since(start).Round(time.Millisecond))
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	t.Cleanup(cancel)
	setup, _, err := s.m.SetupToken(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return &tab{t: t, ctx: ctx, base: base, posts: posts, setupToken: setup}, clock, db
}

// postLog is the paths the browser POSTed to, forms and script alike.
type postLog struct {
	mu    sync.Mutex
	paths []string
}

func (l *postLog) add(path string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.paths = append(l.paths, path)
}

// count is how many POSTs went to path.
func (l *postLog) count(path string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	n := 0
	for _, p := range l.paths {
		if p == path {
			n++
		}
	}
	return n
}

// findChromium returns Debian's Chromium, or "". The real binary comes
// first: it skips the noisy wrapper script /usr/bin/chromium.
func findChromium() string {
	for _, p := range []string{"/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p
		}
	}
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return ""
}

// tab is the browser tab the person uses.
type tab struct {
	t     *testing.T
	ctx   context.Context
	base  string // http://localhost:PORT
	posts *postLog
	// setupToken is the first sign-up's, which the app prints at start.
	setupToken string
}

// landing is where a navigation ended: the last response's status and path.
type landing struct {
	status int64
	path   string
}

// open types a path in the address bar.
func (b *tab) open(path string) landing {
	b.t.Helper()
	res, err := chromedp.Run(b.ctx, chromedp.NavigateResponse(b.base+path))
	if err != nil {
		b.t.Fatalf("open %s: %v", path, err)
	}
	return b.landed(res.Status)
}

// click clicks a link or a submit button and waits for the page it leads
// to, after the redirects.
func (b *tab) click(sel string) landing {
	b.t.Helper()
	res, err := chromedp.RunResponse(b.ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("click %s: %v\n%s", sel, err, b.mainText())
	}
	if res == nil {
		b.t.Fatalf("click %s loaded no page", sel)
	}
	return b.landed(res.Status)
}

func (b *tab) landed(status int64) landing {
	b.t.Helper()
	loc, err := chromedp.Run(b.ctx, chromedp.Location())
	if err != nil {
		b.t.Fatal(err)
	}
	u, err := url.Parse(loc)
	if err != nil {
		b.t.Fatal(err)
	}
	return landing{status: status, path: u.Path}
}

// want checks the status, the path (unless ""), the <h1> and that <main>
// shows every text.
func (b *tab) want(l landing, status int64, path, h1 string, texts ...string) {
	b.t.Helper()
	if l.status != status {
		b.t.Fatalf("status %d at %s, want %d\n%s", l.status, l.path, status, b.mainText())
	}
	if path != "" && l.path != path {
		b.t.Fatalf("at %s, want %s\n%s", l.path, path, b.mainText())
	}
	if got := b.text("main h1"); got != h1 {
		b.t.Fatalf("heading %q at %s, want %q\n%s", got, l.path, h1, b.mainText())
	}
	b.wantText("main", texts...)
}

// wantText checks that the element's visible text contains every text.
func (b *tab) wantText(sel string, texts ...string) {
	b.t.Helper()
	got := b.text(sel)
	for _, s := range texts {
		if !strings.Contains(got, s) {
			b.t.Fatalf("%s lacks %q; it reads:\n%s", sel, s, got)
		}
	}
}

// text is the element's visible text (innerText).
func (b *tab) text(sel string) string {
	b.t.Helper()
	s, err := chromedp.Run(b.ctx, chromedp.Text(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("text of %s: %v", sel, err)
	}
	return strings.TrimSpace(s)
}

// mainText is <main>'s text for failure messages; it never fails.
func (b *tab) mainText() string {
	ctx, cancel := context.WithTimeout(b.ctx, 2*time.Second)
	defer cancel()
	s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS("main")))
	if err != nil {
		return "(no <main>: " + err.Error() + ")"
	}
	return s
}

func (b *tab) value(sel string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Value(chromedp.CSS(sel)))
	if err != nil {
		b.t.Fatalf("value of %s: %v", sel, err)
	}
	return v
}

// fill types into an empty field.
func (b *tab) fill(sel, text string) {
	b.t.Helper()
	if err := chromedp.Do(b.ctx, chromedp.Clear(chromedp.CSS(sel)), chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		b.t.Fatalf("type into %s: %v", sel, err)
	}
}

// choose picks the option whose label is label in a <select>.
func (b *tab) choose(sel, label string) {
	b.t.Helper()
	labels := map[string]string{}
	opts, err := chromedp.Run(b.ctx, chromedp.Nodes(chromedp.CSSAll(sel+" option")))
	if err != nil {
		b.t.Fatalf("options of %s: %v", sel, err)
	}
	value := ""
	for _, o := range opts {
		text, err := chromedp.Run(b.ctx, chromedp.TextContent(chromedp.NodeIDs{o.NodeID}))
		if err != nil {
			b.t.Fatal(err)
		}
		labels[strings.TrimSpace(text)] = o.AttributeValue("value")
		if strings.TrimSpace(text) == label {
			value = o.AttributeValue("value")
		}
	}
	if value == "" {
		b.t.Fatalf("%s has no option %q: %v", sel, label, labels)
	}
	if err := chromedp.Do(b.ctx, chromedp.SetValue(chromedp.CSS(sel), value)); err != nil {
		b.t.Fatalf("choose %q in %s: %v", label, sel, err)
	}
	if got := b.value(sel); got != value {
		b.t.Fatalf("%s has value %q after choosing %q (%s)", sel, got, label, value)
	}
}

func (b *tab) fillLogin(email, password string) {
	b.t.Helper()
	b.want(b.open("/login"), http.StatusOK, "/login", "Log in")
	b.fill(`form[action="/login"] input[name=email]`, email)
	b.fill(`form[action="/login"] input[name=password]`, password)
}

// login logs in with a password alone and checks the dashboard.
func (b *tab) login(email, password string) {
	b.t.Helper()
	b.fillLogin(email, password)
	b.want(b.click(`form[action="/login"] button[type=submit]`), http.StatusOK, "/", "Dashboard")
}

func (b *tab) logout() {
	b.t.Helper()
	b.want(b.click(`form.logout button[type=submit]`), http.StatusOK, "/login", "Log in", "You are logged out.")
}

// screenshot saves the whole page as a PNG and checks that it is one.
func (b *tab) screenshot(file string) {
	b.t.Helper()
	buf, err := chromedp.Run(b.ctx, chromedp.FullScreenshot(100))
	if err != nil {
		b.t.Fatalf("screenshot: %v", err)
	}
	cfg, err := png.DecodeConfig(bytes.NewReader(buf))
	if err != nil {
		b.t.Fatalf("screenshot is no PNG (%d bytes): %v", len(buf), err)
	}
	if cfg.Width == 0 || cfg.Height == 0 {
		b.t.Fatalf("screenshot is %dx%d", cfg.Width, cfg.Height)
	}
	if _, err := png.Decode(bytes.NewReader(buf)); err != nil {
		b.t.Fatalf("screenshot does not decode: %v", err)
	}
	if err := os.WriteFile(file, buf, 0o600); err != nil {
		b.t.Fatal(err)
	}
	b.t.Logf("dashboard screenshot: %s (%dx%d, %d bytes)", file, cfg.Width, cfg.Height, len(buf))
}
