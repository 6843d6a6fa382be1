package main

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// fakeClock drives the Manager's time: TOTP steps, timeouts, throttling.
type fakeClock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *fakeClock) Add(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// app is the webapp over a real SQLite file, served over TLS: the session
// cookie is Secure, and Go's cookie jar keeps Secure cookies only for
// https URLs.
type app struct {
	t     *testing.T
	s     *server
	db    auth.Store
	srv   *httptest.Server
	clock *fakeClock
	// closers end an app started by startApp, in order.
	closers []func()
}

func newApp(t *testing.T, options ...func(*server)) *app {
	t.Helper()
	return newAppWith(t, nil, options...)
}

// newAppWith is newApp with configure applied to the Manager's Config
// after the tests' settings.
func newAppWith(t *testing.T, configure func(*auth.Config), options ...func(*server)) *app {
	t.Helper()
	ctx := context.Background()
	db, err := sqlite.Open(ctx, filepath.Join(t.TempDir(), "webapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	clock := &fakeClock{t: time.Now()}
	// The listener first: single sign-on's callback URL names its port.
	srv := httptest.NewUnstartedServer(nil)
	t.Cleanup(srv.Close)
	s, err := newServer(db, slog.New(slog.DiscardHandler), func(cfg *auth.Config) {
		cfg.SecretKey = bytes.Repeat([]byte{7}, 32)
		cfg.BcryptCost = 4
		cfg.InsecureLowBcryptCostForTests = true
		cfg.Now = clock.Now
		// As the app runs by default: passkeys on, at an origin the
		// software authenticator (internal/passkeytest) answers for.
		cfg.Passkeys = auth.PasskeyConfig{RPID: "localhost", Origins: []string{testOrigin}}
		// Single sign-on on, as the app runs by default.
		cfg.SSO = auth.SSOConfig{CallbackURL: "https://" + srv.Listener.Addr().String() + "/sso/{id}/callback"}
		if configure != nil {
			configure(cfg)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range options {
		o(s) // before the server starts, so no request races the change
	}
	srv.Config.Handler = s.handler()
	srv.StartTLS()
	return &app{t: t, s: s, db: db, srv: srv, clock: clock}
}

// testOrigin is where the software authenticator says the pages are: the
// client data it signs names it, and the Manager accepts only its origins.
const testOrigin = "https://localhost:8443"

// browser is one person's client with its own cookie jar.
type browser struct {
	a *app
	c *http.Client
}

func (a *app) browser() *browser {
	jar, err := cookiejar.New(nil)
	if err != nil {
		a.t.Fatal(err)
	}
	c := *a.srv.Client() // the server's TLS trust, a jar of our own
	c.Jar = jar
	return &browser{a: a, c: &c}
}

// page is a response after redirects were followed.
type page struct {
	status int
	body   string
	url    *url.URL // where the redirects ended
	header http.Header
}

func (p page) has(s string) bool { return strings.Contains(p.body, s) }

func (b *browser) do(req *http.Request) page {
	b.a.t.Helper()
	res, err := b.c.Do(req)
	if err != nil {
		b.a.t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		b.a.t.Fatal(err)
	}
	return page{status: res.StatusCode, body: string(body), url: res.Request.URL, header: res.Header}
}

func (b *browser) get(path string) page {
	b.a.t.Helper()
	req, err := http.NewRequest(http.MethodGet, b.a.srv.URL+path, nil)
	if err != nil {
		b.a.t.Fatal(err)
	}
	return b.do(req)
}

// post sends a form; kv alternates names and values (a name may repeat).
func (b *browser) post(path string, kv ...string) page {
	b.a.t.Helper()
	return b.postWith(path, nil, kv...)
}

func (b *browser) postWith(path string, header http.Header, kv ...string) page {
	b.a.t.Helper()
	form := url.Values{}
	for i := 0; i+1 < len(kv); i += 2 {
		form.Add(kv[i], kv[i+1])
	}
	req, err := http.NewRequest(http.MethodPost, b.a.srv.URL+path, strings.NewReader(form.Encode()))
	if err != nil {
		b.a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	for k, vs := range header {
		req.Header[k] = vs
	}
	return b.do(req)
}

func (b *browser) upload(path, field, filename string, data []byte) page {
	b.a.t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	fw, err := mw.CreateFormFile(field, filename)
	if err != nil {
		b.a.t.Fatal(err)
	}
	fw.Write(data)
	mw.Close()
	req, err := http.NewRequest(http.MethodPost, b.a.srv.URL+path, &buf)
	if err != nil {
		b.a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", mw.FormDataContentType())
	return b.do(req)
}

// want fails the test unless p has the status and contains every text.
func want(t *testing.T, what string, p page, status int, texts ...string) {
	t.Helper()
	if p.status != status {
		t.Fatalf("%s: status %d, want %d (at %s)\n%s", what, p.status, status, p.url, excerpt(p.body))
	}
	for _, s := range texts {
		if !p.has(s) {
			t.Fatalf("%s: page at %s lacks %q\n%s", what, p.url, s, excerpt(p.body))
		}
	}
}

// excerpt is the page's <main>, enough to see what went wrong.
func excerpt(body string) string {
	if i := strings.Index(body, "<main"); i >= 0 {
		body = body[i:]
	}
	if len(body) > 3000 {
		body = body[:3000]
	}
	return body
}

const adminPassword = "correct horse battery"

// signup creates the first account (the admin) and returns its browser.
func (a *app) signup() *browser {
	a.t.Helper()
	b := a.browser()
	p := b.post("/signup", "email", "admin@example.com", "name", "Ada", "password", adminPassword, "bootstrap_token", a.setupToken())
	want(a.t, "signup", p, http.StatusOK, "Welcome!", "Admins")
	return b
}

// setupToken is the first sign-up's token, which the app prints at start.
func (a *app) setupToken() string {
	a.t.Helper()
	tok, _, err := a.s.m.SetupToken(context.Background())
	if err != nil {
		a.t.Fatal(err)
	}
	return tok
}

// login logs a new browser in and checks it reached the dashboard.
func (a *app) login(email, password string) *browser {
	a.t.Helper()
	b := a.browser()
	p := b.post("/login", "email", email, "password", password)
	want(a.t, "login "+email, p, http.StatusOK, "<h1>Dashboard</h1>")
	return b
}

var (
	userLink  = `<a href="/users/([0-9a-zA-Z_-]+)">%s</a>`
	groupLink = `<a href="/groups/([0-9a-zA-Z_-]+)">%s</a>`
)

// find returns the first submatch of pattern (with %s replaced by the
// quoted text) in p's body.
func find(t *testing.T, p page, pattern, text string) string {
	t.Helper()
	re := regexp.MustCompile(strings.Replace(pattern, "%s", regexp.QuoteMeta(text), 1))
	m := re.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no %q in page at %s\n%s", re, p.url, excerpt(p.body))
	}
	return m[1]
}

// createGroup makes a group through the form and returns its ID.
func createGroup(t *testing.T, admin *browser, name string, require2FA bool, perms ...string) string {
	t.Helper()
	kv := []string{"name", name, "description", "made by a test"}
	for _, p := range perms {
		kv = append(kv, "perm", p)
	}
	if require2FA {
		kv = append(kv, "require_2fa", "on")
	}
	p := admin.post("/groups", kv...)
	want(t, "create group "+name, p, http.StatusOK, "Group created.")
	return find(t, p, groupLink, name)
}

// createUser adds a user through the form and returns its ID.
func createUser(t *testing.T, admin *browser, email, name, password, groupID string) string {
	t.Helper()
	p := admin.post("/users", "email", email, "name", name, "password", password, "group", groupID)
	want(t, "create user "+email, p, http.StatusOK, "User created.", email)
	id := strings.TrimPrefix(p.url.Path, "/users/")
	if id == p.url.Path || id == "" {
		t.Fatalf("create user ended at %s", p.url)
	}
	return id
}

// formVersion opens the edit page at path and returns the version its form
// was read at, as a browser would post it back.
func (b *browser) formVersion(t *testing.T, path string) string {
	t.Helper()
	return find(t, b.get(path), `name="version" value="(\d+)"%s`, "")
}
