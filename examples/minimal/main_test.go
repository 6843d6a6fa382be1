package main

import (
	"bytes"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/passkeytest"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/totp"
)

// newServer serves the example's routes over a fresh SQLite file, closed
// when the test ends; mod changes the Manager's config.
func newServer(t *testing.T, mod ...func(*auth.Config)) (*auth.Manager, *httptest.Server) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "minimal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	// The tests are about what comes after the first sign-up, except
	// TestREADMEFlow, which turns the setup token back on.
	cfg := auth.Config{Store: db, SecretKey: make([]byte, 32), BcryptCost: 4, InsecureLowBcryptCostForTests: true,
		InsecureOpenFirstSignup: true}
	for _, f := range mod {
		f(&cfg)
	}
	m, err := auth.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(routes(m))
	t.Cleanup(srv.Close)
	return m, srv
}

// TestREADMEFlow drives the example the way the README's curl lines do.
func TestREADMEFlow(t *testing.T) {
	m, srv := newServer(t, func(c *auth.Config) { c.InsecureOpenFirstSignup = false })
	setup, _, err := m.SetupToken(t.Context())
	if err != nil || setup == "" {
		t.Fatalf("SetupToken: %q, %v", setup, err)
	}

	call := func(method, path, token string, form url.Values) (int, map[string]any) {
		t.Helper()
		req, _ := http.NewRequest(method, srv.URL+path, strings.NewReader(form.Encode()))
		req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
		if token != "" {
			req.Header.Set("Authorization", "Bearer "+token)
		}
		res, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer res.Body.Close()
		var body map[string]any
		json.NewDecoder(res.Body).Decode(&body)
		return res.StatusCode, body
	}
	form := func(kv ...string) url.Values {
		v := url.Values{}
		for i := 0; i < len(kv); i += 2 {
			v.Set(kv[i], kv[i+1])
		}
		return v
	}

	if code, _ := call("POST", "/signup", "", form("email", "admin@example.com", "name", "Ada", "password", "correct horse battery")); code != 403 {
		t.Fatalf("signup without the setup token: %d, want 403", code)
	}
	code, body := call("POST", "/signup", "", form("email", "admin@example.com", "name", "Ada", "password", "correct horse battery", "token", setup))
	if code != 200 {
		t.Fatalf("signup: %d %v", code, body)
	}
	admin := body["token"].(string)
	if code, _ := call("POST", "/signup", "", form("email", "eve@example.com", "password", "correct horse battery")); code != 403 {
		t.Fatalf("second signup: %d, want 403", code)
	}
	if code, body := call("GET", "/me", admin, nil); code != 200 || body["group"] != "Admins" {
		t.Fatalf("/me: %d %v", code, body)
	}
	if code, _ := call("GET", "/me", "", nil); code != 401 {
		t.Fatalf("/me anonymous: %d, want 401", code)
	}
	if code, _ := call("POST", "/backups/run", admin, nil); code != 200 {
		t.Fatalf("admin backup run: %d", code)
	}
	if code, body := call("POST", "/users", admin, form("email", "bob@example.com", "name", "Bob", "password", "bob's long password")); code != 200 {
		t.Fatalf("create user: %d %v", code, body)
	}
	for _, tc := range []struct{ email, password, field string }{
		{"not an address", "bob's long password", "email"},
		{"carol@example.com", "short", "password"},
		{"bob@example.com", "bob's long password", "email"}, // taken: 409, still named
	} {
		code, body := call("POST", "/users", admin, form("email", tc.email, "password", tc.password))
		if code/100 != 4 || body["field"] != tc.field {
			t.Fatalf("create user %q: %d %v, want 4xx naming %q", tc.email, code, body, tc.field)
		}
	}
	if code, body := call("POST", "/users", admin, form("email", "dan@example.com", "password", "dan's long password", "group", "no-such-group")); code != 400 || body["field"] != "group_id" {
		t.Fatalf("create user in a missing group: %d %v, want 400 naming group_id", code, body)
	}
	code, body = call("POST", "/login", "", form("email", "bob@example.com", "password", "bob's long password"))
	if code != 200 {
		t.Fatalf("login: %d %v", code, body)
	}
	bob := body["token"].(string)
	if code, _ := call("POST", "/backups/run", bob, nil); code != 403 {
		t.Fatalf("bob backup run: %d, want 403", code)
	}
	if code, _ := call("POST", "/users", bob, form("email", "x@example.com", "password", "long enough pw")); code != 403 {
		t.Fatalf("bob creates user: %d, want 403", code)
	}
	if code, _ := call("POST", "/login", "", form("email", "bob@example.com", "password", "wrong")); code != 401 {
		t.Fatalf("wrong password: %d, want 401", code)
	}
	// Bob enrols in TOTP (fresh login: no password needed), then logs in
	// in two steps.
	code, body = call("POST", "/2fa/begin", bob, nil)
	if code != 200 {
		t.Fatalf("2fa begin: %d %v", code, body)
	}
	secret, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(body["secret"].(string))
	now, _ := totp.Code(secret, time.Now(), totp.Digits)
	code, body = call("POST", "/2fa/confirm", bob, form("code", now))
	if code != 200 || len(body["recovery_codes"].([]any)) != 10 {
		t.Fatalf("2fa confirm: %d %v", code, body)
	}
	recovery := body["recovery_codes"].([]any)[0].(string)
	// Binding the factor replaced bob's session: the old token is refused,
	// the one the reply carries works.
	if code, _ := call("GET", "/me", bob, nil); code != 401 {
		t.Fatalf("/me with the token from before enrolling: %d, want 401", code)
	}
	bob, _ = body["token"].(string)
	if code, _ := call("GET", "/me", bob, nil); code != 200 {
		t.Fatalf("/me with the new token: %d, want 200", code)
	}
	code, body = call("POST", "/login", "", form("email", "bob@example.com", "password", "bob's long password"))
	if code != 200 || body["challenge"] == nil {
		t.Fatalf("login with 2FA: %d %v", code, body)
	}
	// The code just used cannot be replayed; a recovery code works.
	if code, _ := call("POST", "/login/totp", "", form("challenge", body["challenge"].(string), "code", now)); code != 401 {
		t.Fatalf("replayed code: %d, want 401", code)
	}
	code, body = call("POST", "/login/totp", "", form("challenge", body["challenge"].(string), "recovery_code", recovery))
	if code != 200 {
		t.Fatalf("recovery code: %d %v", code, body)
	}
	if code, _ := call("POST", "/logout", bob, nil); code != 200 {
		t.Fatalf("logout: %d", code)
	}
	if code, _ := call("GET", "/me", bob, nil); code != 401 {
		t.Fatalf("/me after logout: %d, want 401", code)
	}
}

// Every body is bounded before it is parsed: a sign-up whose form is larger
// than maxBody is not read, so its fields are empty (the email is the first
// refused), rather than read whole and refused for its oversized name.
func TestBodyLimit(t *testing.T) {
	m, srv := newServer(t)
	form := url.Values{"email": {"a@example.com"}, "password": {"long enough password"}, "name": {strings.Repeat("n", maxBody)}}
	res, err := http.PostForm(srv.URL+"/signup", form)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var body map[string]string
	json.NewDecoder(res.Body).Decode(&body)
	if res.StatusCode != http.StatusBadRequest || body["field"] != "email" {
		t.Fatalf("oversized sign-up: %d %v, want 400 naming email (the body was not parsed)", res.StatusCode, body)
	}
	if open, _ := m.SignupOpen(t.Context()); !open {
		t.Fatal("the oversized sign-up created an account")
	}
}

// The passkey tests run the server as `go run ./examples/minimal` does by
// default: RP ID localhost, listening on 127.0.0.1:8080, so the browser's
// page is at http://localhost:8080.
const defaultAddr, pageOrigin = "127.0.0.1:8080", "http://localhost:8080"

// withPasskeys configures passkeys from the default flags.
func withPasskeys(cfg *auth.Config) { cfg.Passkeys = passkeyConfig("localhost", "", defaultAddr) }

// client calls the example's endpoints over HTTP.
type client struct {
	t   *testing.T
	srv *httptest.Server
}

// do sends body as the request body: a url.Values as a form, a []byte as
// it is, anything else as JSON; nil sends none. It returns the status, the
// decoded JSON answer and the headers.
func (c client) do(method, path, token string, body any) (int, map[string]any, http.Header) {
	c.t.Helper()
	var (
		r     io.Reader
		ctype string
	)
	switch b := body.(type) {
	case nil:
	case url.Values:
		r, ctype = strings.NewReader(b.Encode()), "application/x-www-form-urlencoded"
	case []byte:
		r, ctype = bytes.NewReader(b), "application/json"
	default:
		j, err := json.Marshal(b)
		if err != nil {
			c.t.Fatal(err)
		}
		r, ctype = bytes.NewReader(j), "application/json"
	}
	req, err := http.NewRequest(method, c.srv.URL+path, r)
	if err != nil {
		c.t.Fatal(err)
	}
	if ctype != "" {
		req.Header.Set("Content-Type", ctype)
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		c.t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		c.t.Fatal(err)
	}
	var out map[string]any
	if err := json.Unmarshal(b, &out); err != nil {
		// Only usher's middleware answers in plain text (a 401 or 403
		// before any handler runs).
		if res.StatusCode == http.StatusOK || res.Header.Get("Content-Type") == "application/json" {
			c.t.Fatalf("%s %s: %d with a body that is not JSON: %v", method, path, res.StatusCode, err)
		}
		out = map[string]any{"error": string(b)}
	}
	return res.StatusCode, out, res.Header
}

// ok is do that fails the test unless the answer is 200.
func (c client) ok(method, path, token string, body any) map[string]any {
	c.t.Helper()
	code, out, _ := c.do(method, path, token, body)
	if code != http.StatusOK {
		c.t.Fatalf("%s %s: %d %v", method, path, code, out)
	}
	return out
}

// want is do that fails the test unless the answer has status want.
func (c client) want(want int, method, path, token string, body any) map[string]any {
	c.t.Helper()
	code, out, _ := c.do(method, path, token, body)
	if code != want {
		c.t.Fatalf("%s %s: %d %v, want %d", method, path, code, out, want)
	}
	return out
}

// login logs in with a password and returns the answer (a token or a
// challenge).
func (c client) login(email, password string) map[string]any {
	c.t.Helper()
	return c.ok("POST", "/login", "", url.Values{"email": {email}, "password": {password}})
}

// options is a begin endpoint's "options", as the JS hands it to the
// browser and passkeytest takes it.
func options(t *testing.T, begun map[string]any) []byte {
	t.Helper()
	if begun["ceremony"] == "" || begun["options"] == nil || begun["expires"] == nil {
		t.Fatalf("begin answered %v", begun)
	}
	b, err := json.Marshal(begun["options"])
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// device is a software passkey answering as a page at pageOrigin.
func device(t *testing.T) *passkeytest.Device {
	t.Helper()
	d, err := passkeytest.New("localhost", pageOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// register adds d to the account of token through both registration
// endpoints and returns the new token and the passkey's JSON.
func (c client) register(token string, d *passkeytest.Device, name string) (string, map[string]any) {
	c.t.Helper()
	begun := c.ok("POST", "/passkeys/register/begin", token, nil)
	resp, err := d.Register(options(c.t, begun))
	if err != nil {
		c.t.Fatal(err)
	}
	out := c.ok("POST", "/passkeys/register/finish", token, map[string]any{
		"ceremony": begun["ceremony"], "credential": json.RawMessage(resp), "name": name})
	pk, _ := out["passkey"].(map[string]any)
	if out["token"] == nil || out["token"] == token || pk == nil {
		c.t.Fatalf("register finish answered %v: want the passkey and a new token", out)
	}
	return out["token"].(string), pk
}

// passwordless logs in with d alone and returns the status and answer.
func (c client) passwordless(d *passkeytest.Device) (int, map[string]any) {
	c.t.Helper()
	begun := c.ok("POST", "/login/passkey/begin", "", nil)
	resp, err := d.Assert(options(c.t, begun))
	if err != nil {
		c.t.Fatal(err)
	}
	code, out, _ := c.do("POST", "/login/passkey/finish", "", map[string]any{
		"ceremony": begun["ceremony"], "credential": json.RawMessage(resp)})
	return code, out
}

// passkeys lists the own passkeys of token.
func (c client) passkeys(token string) []any {
	c.t.Helper()
	list, ok := c.ok("GET", "/passkeys", token, nil)["passkeys"].([]any)
	if !ok {
		c.t.Fatal("GET /passkeys: no list")
	}
	return list
}

// me is the email of the session token, or "" when /me refuses it.
func (c client) me(token string) string {
	c.t.Helper()
	code, out, _ := c.do("GET", "/me", token, nil)
	if code != http.StatusOK {
		return ""
	}
	return out["email"].(string)
}

// TestPasskeyEndpoints drives every passkey endpoint end to end with a
// software authenticator, as a page's JavaScript would with the browser's.
func TestPasskeyEndpoints(t *testing.T) {
	m, srv := newServer(t, withPasskeys)
	c := client{t, srv}
	admin := c.ok("POST", "/signup", "", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})["token"].(string)
	c.ok("POST", "/users", admin, url.Values{"email": {"bob@example.com"}, "password": {"bob's long password"}})
	bob := c.login("bob@example.com", "bob's long password")["token"].(string)
	if got := c.passkeys(bob); len(got) != 0 {
		t.Fatalf("passkeys before any: %v", got)
	}

	// Registration: fresh from the login, so no password is needed. The
	// answer carries the passkey and the session that replaced bob's.
	d := device(t)
	begun := c.ok("POST", "/passkeys/register/begin", bob, nil)
	resp, err := d.Register(options(t, begun))
	if err != nil {
		t.Fatal(err)
	}
	code, out, hdr := c.do("POST", "/passkeys/register/finish", bob, map[string]any{
		"ceremony": begun["ceremony"], "credential": json.RawMessage(resp), "name": "Laptop"})
	if code != http.StatusOK {
		t.Fatalf("register finish: %d %v", code, out)
	}
	pk := out["passkey"].(map[string]any)
	if pk["name"] != "Laptop" || pk["id"] == "" || pk["synced"] != false || pk["last_used"] != nil || pk["created"] == nil {
		t.Errorf("registered passkey %v", pk)
	}
	for _, k := range []string{"public_key", "PublicKey", "credential_id", "CredentialID"} {
		if _, ok := pk[k]; ok {
			t.Errorf("the passkey's answer shows %s", k)
		}
	}
	if !strings.Contains(hdr.Get("Set-Cookie"), auth.CookieName+"="+out["token"].(string)) {
		t.Errorf("register finish set no session cookie for the new token: %q", hdr.Get("Set-Cookie"))
	}
	if c.me(bob) != "" {
		t.Error("the token from before registering still works")
	}
	bob = out["token"].(string)
	if c.me(bob) != "bob@example.com" {
		t.Fatal("the new token does not work")
	}
	// The ceremony was used up.
	c.want(http.StatusUnauthorized, "POST", "/passkeys/register/finish", bob, map[string]any{
		"ceremony": begun["ceremony"], "credential": json.RawMessage(resp)})
	id := pk["id"].(string)

	// List and rename.
	if got := c.passkeys(bob); len(got) != 1 || got[0].(map[string]any)["id"] != id {
		t.Fatalf("passkeys: %v", got)
	}
	c.ok("POST", "/passkeys/"+id+"/rename", bob, map[string]any{"name": "Work laptop"})
	if got := c.passkeys(bob)[0].(map[string]any)["name"]; got != "Work laptop" {
		t.Errorf("renamed to %v", got)
	}
	if out := c.want(http.StatusBadRequest, "POST", "/passkeys/"+id+"/rename", bob, map[string]any{"name": "  "}); out["field"] != "name" {
		t.Errorf("blank name: %v, want the field named", out)
	}
	c.want(http.StatusNotFound, "POST", "/passkeys/no-such-id/rename", bob, map[string]any{"name": "x"})
	c.want(http.StatusNotFound, "POST", "/passkeys/"+id+"/rename", admin, map[string]any{"name": "mine now"}) // bob's, not the admin's
	c.want(http.StatusUnauthorized, "GET", "/passkeys", "", nil)

	// The same authenticator again: the browser is told to exclude it,
	// and one that answers anyway is refused.
	begun = c.ok("POST", "/passkeys/register/begin", bob, nil)
	if _, err := d.Register(options(t, begun)); err == nil {
		t.Error("the registered passkey was not excluded")
	}
	resp, err = passkeytest.ForceRegister(d, options(t, begun))
	if err != nil {
		t.Fatal(err)
	}
	c.want(http.StatusConflict, "POST", "/passkeys/register/finish", bob, map[string]any{
		"ceremony": begun["ceremony"], "credential": json.RawMessage(resp)})
	// Another origin's answer is rejected.
	begun = c.ok("POST", "/passkeys/register/begin", bob, nil)
	evil := device(t)
	evil.RP.Origin = "http://localhost:9999"
	resp, _ = evil.Register(options(t, begun))
	c.want(http.StatusBadRequest, "POST", "/passkeys/register/finish", bob, map[string]any{
		"ceremony": begun["ceremony"], "credential": json.RawMessage(resp)})

	// Passwordless login: no email, the passkey alone.
	code, out = c.passwordless(d)
	if code != http.StatusOK || c.me(out["token"].(string)) != "bob@example.com" {
		t.Fatalf("passwordless login: %d %v", code, out)
	}
	if got := c.passkeys(bob)[0].(map[string]any)["last_used"]; got == nil {
		t.Error("last_used not set by the login")
	}
	// An answer is good once.
	begun = c.ok("POST", "/login/passkey/begin", "", nil)
	resp, _ = d.Assert(options(t, begun))
	finish := map[string]any{"ceremony": begun["ceremony"], "credential": json.RawMessage(resp)}
	c.ok("POST", "/login/passkey/finish", "", finish)
	c.want(http.StatusUnauthorized, "POST", "/login/passkey/finish", "", finish)
	// A passkey nobody registered.
	if code, _ := c.passwordless(device(t)); code != http.StatusUnauthorized {
		t.Errorf("unknown passkey: %d, want 401", code)
	}

	// The second step: the password login now asks for a passkey.
	ch := c.login("bob@example.com", "bob's long password")
	if ch["challenge"] == nil || !strings.Contains(fmt.Sprint(ch["methods"]), auth.MethodPasskey) {
		t.Fatalf("password login of a user with a passkey: %v", ch)
	}
	c.want(http.StatusUnauthorized, "POST", "/login/challenge/passkey/begin", "", map[string]any{"challenge": "not-a-challenge"})
	begun = c.ok("POST", "/login/challenge/passkey/begin", "", map[string]any{"challenge": ch["challenge"]})
	resp, err = d.Assert(options(t, begun))
	if err != nil {
		t.Fatal(err)
	}
	// A passwordless ceremony is not this login's.
	other := c.ok("POST", "/login/passkey/begin", "", nil)
	c.want(http.StatusUnauthorized, "POST", "/login/challenge/passkey/finish", "", map[string]any{
		"challenge": ch["challenge"], "ceremony": other["ceremony"], "credential": json.RawMessage(resp)})
	out = c.ok("POST", "/login/challenge/passkey/finish", "", map[string]any{
		"challenge": ch["challenge"], "ceremony": begun["ceremony"], "credential": json.RawMessage(resp)})
	if c.me(out["token"].(string)) != "bob@example.com" {
		t.Fatalf("second step gave %v", out)
	}
	// The challenge is spent.
	c.want(http.StatusUnauthorized, "POST", "/login/challenge/passkey/begin", "", map[string]any{"challenge": ch["challenge"]})

	// Deleting: another user's passkey is not found; the wrong password is
	// refused; the right one deletes and replaces the session.
	c.want(http.StatusNotFound, "POST", "/passkeys/"+id+"/delete", admin, map[string]any{"password": "correct horse battery"})
	c.want(http.StatusUnauthorized, "POST", "/passkeys/"+id+"/delete", bob, map[string]any{"password": "wrong"})
	c.want(http.StatusNotFound, "POST", "/passkeys/no-such-id/delete", bob, map[string]any{"password": "bob's long password"})
	out = c.ok("POST", "/passkeys/"+id+"/delete", bob, map[string]any{"password": "bob's long password"})
	if c.me(bob) != "" || c.me(out["token"].(string)) != "bob@example.com" {
		t.Error("deleting did not replace the session")
	}
	bob = out["token"].(string)
	if got := c.passkeys(bob); len(got) != 0 {
		t.Errorf("passkeys after delete: %v", got)
	}
	if code, _ := c.passwordless(d); code != http.StatusUnauthorized {
		t.Errorf("login with a deleted passkey: %d, want 401", code)
	}
	if ch := c.login("bob@example.com", "bob's long password"); ch["token"] == nil {
		t.Errorf("password login without a passkey left: %v", ch)
	}

	// A wrong password at begin is 401; a group without
	// profile:manage_passkeys is 403.
	c.want(http.StatusUnauthorized, "POST", "/passkeys/register/begin", bob, map[string]any{"password": "wrong"})
	p, err := m.Authenticate(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.CreateGroup(t.Context(), p, group.Group{Name: "Viewers", Permissions: []group.Permission{"profile:update_name"}})
	if err != nil {
		t.Fatal(err)
	}
	c.ok("POST", "/users", admin, url.Values{"email": {"vic@example.com"}, "password": {"vic's long password"}, "group": {string(g.ID)}})
	vic := c.login("vic@example.com", "vic's long password")["token"].(string)
	c.want(http.StatusForbidden, "POST", "/passkeys/register/begin", vic, nil)
}

// A group that requires a second factor, with passkeys as the only way to
// enrol: a new member can register one (the routes let a principal who
// owes enrollment through), then logs in with it alone.
func TestPasskeyEnrollment(t *testing.T) {
	m, srv := newServer(t, withPasskeys)
	c := client{t, srv}
	admin := c.ok("POST", "/signup", "", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})["token"].(string)
	p, err := m.Authenticate(t.Context(), admin)
	if err != nil {
		t.Fatal(err)
	}
	g, err := m.CreateGroup(t.Context(), p, group.Group{Name: "Operators", RequireTwoFactor: true,
		Permissions: []group.Permission{group.ProfileManagePasskeys, group.ProfileUpdateName}})
	if err != nil {
		t.Fatal(err)
	}
	c.ok("POST", "/users", admin, url.Values{"email": {"op@example.com"}, "password": {"op's long password"}, "group": {string(g.ID)}})
	op := c.login("op@example.com", "op's long password")["token"].(string)
	c.want(http.StatusForbidden, "GET", "/me", op, nil) // enrol first
	d := device(t)
	op, _ = c.register(op, d, "")
	if c.me(op) != "op@example.com" {
		t.Fatal("/me refused after enrolling a passkey")
	}
	if code, out := c.passwordless(d); code != http.StatusOK || c.me(out["token"].(string)) != "op@example.com" {
		t.Fatalf("passwordless login: %d %v", code, out)
	}
}

// The server answers 429 with Retry-After once a client IP spends its
// budget on passkey logins, as on password logins.
func TestPasskeyThrottled(t *testing.T) {
	_, srv := newServer(t, withPasskeys, func(cfg *auth.Config) { cfg.Throttle.PerIPPerMinute = 2 })
	c := client{t, srv}
	c.ok("POST", "/login/passkey/begin", "", nil)
	c.ok("POST", "/login/passkey/begin", "", nil)
	code, out, hdr := c.do("POST", "/login/passkey/begin", "", nil)
	if code != http.StatusTooManyRequests {
		t.Fatalf("third begin in a minute: %d %v, want 429", code, out)
	}
	if s, err := strconv.Atoi(hdr.Get("Retry-After")); err != nil || s < 1 || s > 61 {
		t.Errorf("Retry-After %q", hdr.Get("Retry-After"))
	}
	c.want(http.StatusTooManyRequests, "POST", "/login/passkey/finish", "", map[string]any{"ceremony": "x", "credential": map[string]any{}})
}

// Started with -rp-id "", the passkey endpoints answer 404 and password
// login is as before.
func TestPasskeysOff(t *testing.T) {
	_, srv := newServer(t)
	c := client{t, srv}
	admin := c.ok("POST", "/signup", "", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})["token"].(string)
	c.want(http.StatusNotFound, "POST", "/login/passkey/begin", "", nil)
	c.want(http.StatusNotFound, "POST", "/passkeys/register/begin", admin, nil)
	if got := c.passkeys(admin); len(got) != 0 {
		t.Errorf("passkeys: %v", got)
	}
}

// Bad bodies at every passkey endpoint are 4xx, never a 500: bodies that
// are not JSON, cut short, too large or of the wrong shape, and well-formed
// ones whose credential is junk, against live ceremonies and challenges.
func TestPasskeyBadBodies(t *testing.T) {
	// Budgets off: the wrong answers here would otherwise back the
	// account's password login off.
	_, srv := newServer(t, withPasskeys, func(cfg *auth.Config) {
		cfg.Throttle.PerIPPerMinute, cfg.Throttle.FreeFailures = -1, 1000
	})
	c := client{t, srv}
	admin := c.ok("POST", "/signup", "", url.Values{"email": {"admin@example.com"}, "password": {"correct horse battery"}})["token"].(string)
	d := device(t)
	admin, pk := c.register(admin, d, "key")
	id := pk["id"].(string)

	// A good answer to cut short and to tamper with.
	begun := c.ok("POST", "/login/passkey/begin", "", nil)
	good, err := d.Assert(options(t, begun))
	if err != nil {
		t.Fatal(err)
	}
	goodBody, _ := json.Marshal(map[string]any{"ceremony": begun["ceremony"], "credential": json.RawMessage(good)})
	junk := make([]byte, 4096)
	rand.Read(junk)
	raw := map[string][]byte{
		"truncated JSON":   goodBody[:len(goodBody)/2],
		"1 MB":             bytes.Repeat([]byte(`{"name":"`+strings.Repeat("a", 1<<20)), 1),
		"1 MB of JSON":     append(append([]byte(`{"credential":`), bytes.Repeat([]byte("["), 1<<20)...), '}'),
		"random bytes":     junk,
		"array":            []byte(`[1, 2, 3]`),
		"string":           []byte(`"credential"`),
		"wrong types":      []byte(`{"ceremony": 7, "credential": {}, "name": ["a"]}`),
		"unknown field":    []byte(`{"ceremony_id": "x"}`),
		"two values":       []byte(`{} {}`),
		"trailing garbage": []byte(`{"name": "x"} garbage`),
	}
	// Well-formed bodies whose credential is junk, each sent with a
	// ceremony (and challenge) that is live at the time.
	credentials := map[string]any{
		"no credential":    nil,
		"null":             json.RawMessage(`null`),
		"number":           7,
		"JSON in a string": string(good),
		"empty object":     map[string]any{},
		"truncated answer": string(good[:len(good)/2]),
		"invalid base64":   json.RawMessage(passkeytest.Tamper(good, func(v map[string]any) { v["rawId"] = "!!not base64url!!" })),
		"bad client data":  json.RawMessage(passkeytest.Tamper(good, func(v map[string]any) { v["response"].(map[string]any)["clientDataJSON"] = "e30" })),
		"60 KB answer":     json.RawMessage(passkeytest.Tamper(good, func(v map[string]any) { v["pad"] = strings.Repeat("a", 60<<10) })),
		"past usher's bound": json.RawMessage(passkeytest.Tamper(good, func(v map[string]any) {
			v["pad"] = strings.Repeat("a", auth.MaxPasskeyResponseBytes)
		})),
		"deep nesting":      json.RawMessage(strings.Repeat("[", 5000) + strings.Repeat("]", 5000)),
		"huge number":       json.RawMessage(`1e999999`),
		"id of other shape": map[string]any{"id": map[string]any{"x": 1}, "type": "public-key", "response": []any{1, 2}},
	}

	type endpoint struct {
		path, token string
		live        func() map[string]any // the fields that make a body current: ceremony, challenge
	}
	challenge := func() string {
		ch := c.login("admin@example.com", "correct horse battery")
		if ch["challenge"] == nil {
			t.Fatalf("login: %v, want a challenge", ch)
		}
		return ch["challenge"].(string)
	}
	endpoints := []endpoint{
		{"/passkeys/register/begin", admin, func() map[string]any { return map[string]any{} }},
		{"/passkeys/register/finish", admin, func() map[string]any {
			return map[string]any{"ceremony": c.ok("POST", "/passkeys/register/begin", admin, nil)["ceremony"]}
		}},
		{"/passkeys/" + id + "/rename", admin, func() map[string]any { return map[string]any{"name": "key"} }},
		{"/passkeys/no-such-id/delete", admin, func() map[string]any { return map[string]any{} }},
		{"/login/passkey/begin", "", func() map[string]any { return map[string]any{} }},
		{"/login/passkey/finish", "", func() map[string]any {
			return map[string]any{"ceremony": c.ok("POST", "/login/passkey/begin", "", nil)["ceremony"]}
		}},
		{"/login/challenge/passkey/begin", "", func() map[string]any { return map[string]any{"challenge": challenge()} }},
		{"/login/challenge/passkey/finish", "", func() map[string]any {
			ch := challenge()
			return map[string]any{"challenge": ch, "ceremony": c.ok("POST", "/login/challenge/passkey/begin", "", map[string]any{"challenge": ch})["ceremony"]}
		}},
	}
	check := func(path, what string, code int, out map[string]any) {
		t.Helper()
		if code < 400 || code > 499 {
			t.Errorf("POST %s with %s: %d %v, want 4xx", path, what, code, out)
		}
		if what == "wrong types" && out["field"] != "ceremony" {
			t.Errorf("POST %s with %s: %v, want the field named", path, what, out)
		}
	}
	for _, e := range endpoints {
		for name, body := range raw {
			code, out, _ := c.do("POST", e.path, e.token, body)
			check(e.path, name, code, out)
		}
		if !strings.HasSuffix(e.path, "finish") {
			continue
		}
		for name, cred := range credentials {
			body := e.live()
			if cred != nil {
				body["credential"] = cred
			}
			code, out, _ := c.do("POST", e.path, e.token, body)
			check(e.path, name, code, out)
		}
	}
	// After all that, the passkey still works.
	if code, out := c.passwordless(d); code != http.StatusOK {
		t.Errorf("passwordless login after the bad bodies: %d %v", code, out)
	}
}

func TestPasskeyConfig(t *testing.T) {
	for _, tc := range []struct {
		rpID, origins, addr string
		want                []string
	}{
		{"localhost", "", "127.0.0.1:8080", []string{"http://localhost:8080"}},
		{"localhost", "", ":80", []string{"http://localhost"}},
		{"localhost", "", "localhost:8081", []string{"http://localhost:8081"}},
		{"localhost", " http://localhost:3000, http://localhost:3001 ", "127.0.0.1:8080", []string{"http://localhost:3000", "http://localhost:3001"}},
		{"example.com", "", "127.0.0.1:8080", nil}, // usher's default: https://example.com
		{"example.com", "https://admin.example.com", "", []string{"https://admin.example.com"}},
	} {
		pc := passkeyConfig(tc.rpID, tc.origins, tc.addr)
		if pc.RPID != tc.rpID || fmt.Sprint(pc.Origins) != fmt.Sprint(tc.want) {
			t.Errorf("passkeyConfig(%q, %q, %q) = %+v, want origins %v", tc.rpID, tc.origins, tc.addr, pc, tc.want)
		}
	}
	// What the flags make is what auth.New takes, or refuses at start.
	newWith := func(pc auth.PasskeyConfig) error {
		db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "minimal.db"))
		if err != nil {
			t.Fatal(err)
		}
		defer db.Close()
		_, err = auth.New(auth.Config{Store: db, SecretKey: make([]byte, 32), Passkeys: pc})
		return err
	}
	if err := newWith(passkeyConfig("localhost", "", defaultAddr)); err != nil {
		t.Errorf("the default flags: %v", err)
	}
	if err := newWith(passkeyConfig("", "", defaultAddr)); err != nil {
		t.Errorf("-rp-id '': %v", err)
	}
	if err := newWith(passkeyConfig("example.com", "http://evil.test", defaultAddr)); !errors.Is(err, auth.ErrInvalidConfig) {
		t.Errorf("an origin outside the RP ID: %v, want ErrInvalidConfig", err)
	}
}
