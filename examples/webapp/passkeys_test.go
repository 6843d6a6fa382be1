package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/internal/passkeytest"
	"github.com/usher-go/usher/passkey"
)

// answer is a JSON endpoint's response.
type answer struct {
	status int
	header http.Header
	body   string
	json   map[string]any
}

func (a answer) str(key string) string {
	s, _ := a.json[key].(string)
	return s
}

// postJSON sends body (raw JSON when a string) as the script does: POST,
// Content-Type application/json; header adds to or overrides that.
func (b *browser) postJSON(path string, body any, header http.Header) answer {
	b.a.t.Helper()
	raw, ok := body.(string)
	if !ok {
		out, err := json.Marshal(body)
		if err != nil {
			b.a.t.Fatal(err)
		}
		raw = string(out)
	}
	req, err := http.NewRequest(http.MethodPost, b.a.srv.URL+path, strings.NewReader(raw))
	if err != nil {
		b.a.t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	for k, vs := range header {
		req.Header[k] = vs
	}
	p := b.do(req)
	ans := answer{status: p.status, header: p.header, body: p.body}
	if err := json.Unmarshal([]byte(p.body), &ans.json); err != nil {
		b.a.t.Fatalf("POST %s: %d, not JSON (%v):\n%s", path, p.status, err, excerpt(p.body))
	}
	if ct := p.header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		b.a.t.Fatalf("POST %s: Content-Type %q", path, ct)
	}
	return ans
}

// wantJSON fails unless the answer has the status and its error (or, for
// a 200, its redirect) contains text.
func wantJSON(t *testing.T, what string, a answer, status int, text string) {
	t.Helper()
	if a.status != status {
		t.Fatalf("%s: status %d, want %d: %s", what, a.status, status, a.body)
	}
	got := a.str("error")
	if status == http.StatusOK {
		got = a.str("redirect")
	}
	if !strings.Contains(got, text) {
		t.Fatalf("%s: %s, want %q in it", what, a.body, text)
	}
}

// device is a software passkey for the tests' relying party.
func device(t *testing.T) *passkeytest.Device {
	t.Helper()
	d, err := passkeytest.New("localhost", testOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// begin runs a begin call and returns the ceremony and its options.
func begin(t *testing.T, b *browser, path string, body any) (string, []byte) {
	t.Helper()
	ans := b.postJSON(path, body, nil)
	if ans.status != http.StatusOK || ans.str("ceremony") == "" {
		t.Fatalf("POST %s: %d %s", path, ans.status, ans.body)
	}
	opts, err := json.Marshal(ans.json["options"])
	if err != nil {
		t.Fatal(err)
	}
	return ans.str("ceremony"), opts
}

// addPasskey registers d through the JSON endpoints, as "Add passkey" does.
func addPasskey(t *testing.T, b *browser, d *passkeytest.Device, name, password string) answer {
	t.Helper()
	ceremony, opts := begin(t, b, "/profile/passkeys/register/begin", map[string]string{"name": name, "password": password})
	cred, err := d.Register(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b.postJSON("/profile/passkeys/register/finish",
		map[string]any{"ceremony": ceremony, "credential": json.RawMessage(cred), "name": name}, nil)
}

// passkeyLogin logs b in with d alone, as "Sign in with a passkey" does.
func passkeyLogin(t *testing.T, b *browser, d *passkeytest.Device, next string) answer {
	t.Helper()
	ceremony, opts := begin(t, b, "/login/passkey/begin", struct{}{})
	cred, err := d.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	return b.postJSON("/login/passkey/finish", map[string]any{"ceremony": ceremony, "credential": json.RawMessage(cred), "next": next}, nil)
}

// storedPasskeys reads the admin's passkeys straight from the store.
func storedPasskeys(t *testing.T, a *app, email string) []passkey.Credential {
	t.Helper()
	ctx := context.Background()
	u, err := a.db.Users().GetByEmail(ctx, email)
	if err != nil {
		t.Fatal(err)
	}
	list, err := a.db.Passkeys().List(ctx, u.ID)
	if err != nil {
		t.Fatal(err)
	}
	return list
}

var (
	passkeyCountRE = regexp.MustCompile(`<strong class="passkey-count">(\d+)</strong>`)
	addForm        = regexp.MustCompile(`(?s)<form id="passkey-add".*?</form>`)
)

// passkeyRow is the security page's table row of passkey id.
func passkeyRow(t *testing.T, p page, id string) string {
	t.Helper()
	row := regexp.MustCompile(`(?s)<tr id="passkey-` + regexp.QuoteMeta(id) + `">.*?</tr>`).FindString(p.body)
	if row == "" {
		t.Fatalf("no row for passkey %s at %s\n%s", id, p.url, excerpt(p.body))
	}
	return row
}

func passkeyCount(t *testing.T, p page) string {
	t.Helper()
	m := passkeyCountRE.FindStringSubmatch(p.body)
	if m == nil {
		t.Fatalf("no passkey count on the page at %s\n%s", p.url, excerpt(p.body))
	}
	return m[1]
}

func TestPasskeyRegisterAndPasswordlessLogin(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	p := admin.get("/profile/security")
	want(t, "security page", p, http.StatusOK, `<h2>Passkeys</h2>`, `id="passkey-add"`, `<script src="/static/passkey.js" defer></script>`)
	if n := passkeyCount(t, p); n != "0" {
		t.Fatalf("passkey count %s, want 0", n)
	}
	if add := addForm.FindString(p.body); add == "" || strings.Contains(add, `name="password"`) {
		t.Fatalf("the add form of a fresh session asks for the password, or is missing:\n%s", add)
	}

	// A bad name is refused before the browser makes a passkey.
	wantJSON(t, "bad name", admin.postJSON("/profile/passkeys/register/begin", map[string]string{"name": "bad\x00name"}, nil),
		http.StatusBadRequest, "Give the passkey a name")
	if bad := admin.postJSON("/profile/passkeys/register/begin", map[string]string{"name": strings.Repeat("x", 65)}, nil); bad.str("field") != "passkey_name" {
		t.Fatalf("long name: field %q, want passkey_name", bad.str("field"))
	}

	old := sessionCookie(t, admin)
	d := device(t)
	wantJSON(t, "add passkey", addPasskey(t, admin, d, "Laptop", ""), http.StatusOK, "/profile/security?done=passkey-added")
	if sessionCookie(t, admin).Value == old.Value {
		t.Fatal("binding a passkey did not replace the session cookie")
	}
	p = admin.get("/profile/security?done=passkey-added")
	want(t, "listed", p, http.StatusOK, "Passkey added.", `<td class="name">Laptop</td>`, "device-bound", "<td>never</td>")
	if n := passkeyCount(t, p); n != "1" {
		t.Fatalf("passkey count %s, want 1", n)
	}
	stored := storedPasskeys(t, a, "admin@example.com")
	if len(stored) != 1 || stored[0].Name != "Laptop" || !stored[0].LastUsedAt.IsZero() {
		t.Fatalf("stored %+v", stored)
	}

	// The same authenticator again: the browser would refuse (it is
	// excluded); forced, the server refuses.
	ceremony, opts := begin(t, admin, "/profile/passkeys/register/begin", map[string]string{})
	if _, err := d.Register(opts); err == nil {
		t.Fatal("the registered passkey is not excluded")
	}
	again, err := passkeytest.ForceRegister(d, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "registered twice", admin.postJSON("/profile/passkeys/register/finish",
		map[string]any{"ceremony": ceremony, "credential": json.RawMessage(again)}, nil), http.StatusConflict, "registered already")

	// A synced passkey, named by default.
	synced := device(t)
	synced.Auth.Options.BackupEligible, synced.Auth.Options.BackupState = true, true
	wantJSON(t, "add synced", addPasskey(t, admin, synced, "", ""), http.StatusOK, "done=passkey-added")
	p = admin.get("/profile/security")
	want(t, "synced listed", p, http.StatusOK, `<td class="name">Passkey 2</td>`, ">synced<")

	// The login page offers the passkey, also as autofill.
	anon := a.browser()
	want(t, "login page", anon.get("/login"), http.StatusOK, `autocomplete="username webauthn"`, `id="passkey-login"`,
		"Sign in with a passkey", `<script src="/static/passkey.js" defer></script>`)
	wantJSON(t, "passkey login", passkeyLogin(t, anon, d, "/users?q=ada"), http.StatusOK, "/users?q=ada")
	want(t, "logged in", anon.get("/"), http.StatusOK, "<h1>Dashboard</h1>", "Hello Ada")
	for _, pk := range storedPasskeys(t, a, "admin@example.com") {
		if used := !pk.LastUsedAt.IsZero(); used != (pk.ID == stored[0].ID) {
			t.Fatalf("after logging in with %s: %s has LastUsedAt %v", stored[0].Name, pk.Name, pk.LastUsedAt)
		}
	}
	if row := passkeyRow(t, anon.get("/profile/security"), stored[0].ID); strings.Contains(row, "<td>never</td>") {
		t.Fatalf("last use not shown after the login:\n%s", row)
	}

	// next stays on this site.
	wantJSON(t, "next elsewhere", passkeyLogin(t, a.browser(), d, "//evil.example/"), http.StatusOK, "/")
	if ans := passkeyLogin(t, a.browser(), d, "https://evil.example/"); ans.str("redirect") != "/" {
		t.Fatalf("next elsewhere: %s", ans.body)
	}
}

// A passkey login in a browser ends the login that was there before, as
// the password form does.
func TestPasskeyLoginEndsThePreviousSession(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	d := device(t)
	addPasskey(t, admin, d, "", "")
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	b := a.login("bob@example.com", bobPassword)
	bobs := thief(t, a, sessionCookie(t, b))
	wantJSON(t, "passkey login", passkeyLogin(t, b, d, "/"), http.StatusOK, "/")
	want(t, "now the admin", b.get("/"), http.StatusOK, "Hello Ada")
	want(t, "Bob's session ended", bobs.get("/"), http.StatusOK, "<h1>Log in</h1>")
}

func TestPasskeyLoginRefusals(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	d := device(t)
	addPasskey(t, admin, d, "", "")
	b := a.browser()

	// A used ceremony, a wrong signature, an unknown passkey: one generic
	// 401, and no session.
	ceremony, opts := begin(t, b, "/login/passkey/begin", struct{}{})
	cred, _ := d.Assert(opts)
	finish := func(ceremony string, cred []byte) answer {
		return b.postJSON("/login/passkey/finish", map[string]any{"ceremony": ceremony, "credential": json.RawMessage(cred)}, nil)
	}
	tampered := passkeytest.Tamper(cred, func(v map[string]any) {
		v["response"].(map[string]any)["signature"] = "AAAA"
	})
	wantJSON(t, "bad signature", finish(ceremony, tampered), http.StatusUnauthorized, passkeyNotAccepted)
	wantJSON(t, "used ceremony", finish(ceremony, cred), http.StatusUnauthorized, passkeyNotAccepted)
	ceremony, opts = begin(t, b, "/login/passkey/begin", struct{}{})
	stranger, _ := device(t).Assert(opts)
	wantJSON(t, "unknown passkey", finish(ceremony, stranger), http.StatusUnauthorized, passkeyNotAccepted)
	wantJSON(t, "unknown ceremony", finish("no such ceremony", cred), http.StatusUnauthorized, passkeyNotAccepted)
	want(t, "still anonymous", b.get("/"), http.StatusOK, "<h1>Log in</h1>")

	// A disabled account is told so, after a valid passkey only.
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	bob := a.login("bob@example.com", bobPassword)
	bd := device(t)
	addPasskey(t, bob, bd, "", "")
	bobID := find(t, admin.get("/users"), userLink, "bob@example.com")
	want(t, "disable bob", admin.post("/users/"+bobID+"/disable"), http.StatusOK, "User disabled")
	wantJSON(t, "disabled", passkeyLogin(t, a.browser(), bd, "/"), http.StatusForbidden, "This account is disabled.")

	// Every begin spends the IP's budget: past it, 429 with Retry-After.
	var ans answer
	for range 2 * auth.DefaultPerIPPerMinute {
		if ans = b.postJSON("/login/passkey/begin", struct{}{}, nil); ans.status != http.StatusOK {
			break
		}
	}
	wantJSON(t, "throttled", ans, http.StatusTooManyRequests, "Too many attempts, try again in ")
	if ans.header.Get("Retry-After") == "" {
		t.Fatal("429 without Retry-After")
	}
}

func TestPasskeyAsSecondStep(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	d := device(t)
	addPasskey(t, admin, d, "", "")

	// The password is right; the passkey is the second factor, and the only
	// one offered.
	b := a.browser()
	p := b.post("/login", "email", "admin@example.com", "password", adminPassword, "next", "/users")
	want(t, "first step", p, http.StatusOK, "Your password was right.", `id="passkey-2fa"`, "Use a passkey", `<script src="/static/passkey.js" defer></script>`)
	if p.url.Path != "/login/2fa" || p.url.Query().Get("methods") != auth.MethodPasskey {
		t.Fatalf("first step ended at %s", p.url)
	}
	if p.has("Code from your authenticator app") || p.has("Use a recovery code") {
		t.Fatal("the second step offers codes to a user who has none")
	}

	// Another passkey is not an answer, and counts as a failure.
	ceremony, opts := begin(t, b, "/login/2fa/passkey/begin", struct{}{})
	if _, err := device(t).Assert(opts); err == nil {
		t.Fatal("a stranger's passkey was allowed")
	}
	stranger := device(t)
	forged, err := passkeytest.ForceAssert(stranger, opts)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "another passkey", b.postJSON("/login/2fa/passkey/finish",
		map[string]any{"ceremony": ceremony, "credential": json.RawMessage(forged)}, nil), http.StatusUnauthorized, passkeyNotAccepted)

	ceremony, opts = begin(t, b, "/login/2fa/passkey/begin", struct{}{})
	cred, err := d.Assert(opts)
	if err != nil {
		t.Fatal(err)
	}
	wantJSON(t, "second step", b.postJSON("/login/2fa/passkey/finish",
		map[string]any{"ceremony": ceremony, "credential": json.RawMessage(cred), "next": "/users"}, nil), http.StatusOK, "/users")
	want(t, "logged in", b.get("/users"), http.StatusOK, "<h1>Users</h1>")
	u, _ := url.Parse(a.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == challengeCookie {
			t.Fatal("challenge cookie kept after the second step")
		}
	}

	// Without a challenge (none, or used) the script is sent back to log in.
	for _, c := range []*browser{a.browser(), b} {
		ans := c.postJSON("/login/2fa/passkey/begin", struct{}{}, nil)
		wantJSON(t, "no challenge", ans, http.StatusUnauthorized, "Your login took too long")
		if ans.str("redirect") != "/login?done=login-expired" {
			t.Fatalf("no challenge: %s", ans.body)
		}
	}

	// With TOTP too, both are offered.
	enrolTOTP(t, a, admin)
	c := a.browser()
	p = c.post("/login", "email", "admin@example.com", "password", adminPassword)
	want(t, "both", p, http.StatusOK, "Code from your authenticator app", "Use a recovery code", "Use a passkey")
	if got := p.url.Query().Get("methods"); got != "totp,recovery_code,passkey" {
		t.Fatalf("methods %q", got)
	}
	// A wrong code keeps the passkey on offer: the form carries the methods.
	if !p.has(`name="methods" value="totp,recovery_code,passkey"`) {
		t.Fatal("the code form does not carry the methods")
	}
	want(t, "wrong code", c.post("/login/2fa", "method", "totp", "code", "000000", "methods", "totp,recovery_code,passkey"),
		http.StatusUnauthorized, "That code is not right", "Use a passkey")
}

func TestPasskeyRenameAndDelete(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	addPasskey(t, admin, device(t), "Laptop", "")
	id := storedPasskeys(t, a, "admin@example.com")[0].ID

	want(t, "rename", admin.post("/profile/passkeys/"+id+"/rename", "name", "  Work key "), http.StatusOK,
		"Passkey renamed.", `<td class="name">Work key</td>`)
	p := admin.post("/profile/passkeys/"+id+"/rename", "name", "bad\u202ename")
	want(t, "bad name", p, http.StatusBadRequest, "Give the passkey a name")
	if i, j := strings.Index(p.body, `action="/profile/passkeys/`+id+`/rename"`), strings.Index(p.body, "Give the passkey a name"); i < 0 || j < i || j > i+600 {
		t.Fatalf("the error is not next to the rename field\n%s", excerpt(p.body))
	}

	// Someone else's passkey is not found.
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	bob := a.login("bob@example.com", bobPassword)
	want(t, "bob renames the admin's", bob.post("/profile/passkeys/"+id+"/rename", "name", "mine"), http.StatusNotFound)
	want(t, "bob deletes the admin's", bob.post("/profile/passkeys/"+id+"/delete"), http.StatusNotFound)
	if got := storedPasskeys(t, a, "admin@example.com"); len(got) != 1 || got[0].Name != "Work key" {
		t.Fatalf("after bob: %+v", got)
	}

	// A session older than the re-authentication window must type the
	// password: the form asks for it.
	a.clock.Add(auth.DefaultReauthWindow + time.Minute)
	p = admin.get("/profile/security")
	if row := passkeyRow(t, p, id); !strings.Contains(row, `name="password" required`) {
		t.Fatalf("the delete form of a stale session asks no password:\n%s", row)
	}
	if add := addForm.FindString(p.body); !strings.Contains(add, `name="password" required`) {
		t.Fatalf("the add form of a stale session asks no password:\n%s", add)
	}
	want(t, "no password", admin.post("/profile/passkeys/"+id+"/delete"), http.StatusUnauthorized, "Enter your current password")
	want(t, "wrong password", admin.post("/profile/passkeys/"+id+"/delete", "password", "not my password"), http.StatusUnauthorized, "Wrong password.")
	old := sessionCookie(t, admin)
	p = admin.post("/profile/passkeys/"+id+"/delete", "password", adminPassword)
	want(t, "delete", p, http.StatusOK, "Passkey deleted.")
	if n := passkeyCount(t, p); n != "0" {
		t.Fatalf("count %s after delete", n)
	}
	if sessionCookie(t, admin).Value == old.Value {
		t.Fatal("the typed password did not replace the session")
	}
	if got := storedPasskeys(t, a, "admin@example.com"); len(got) != 0 {
		t.Fatalf("still stored: %+v", got)
	}

	// Adding one from a stale session needs the password too.
	a.clock.Add(auth.DefaultReauthWindow + time.Minute)
	ans := admin.postJSON("/profile/passkeys/register/begin", map[string]string{}, nil)
	wantJSON(t, "stale add", ans, http.StatusUnauthorized, "Enter your current password")
	if ans.str("field") != "passkey_password" {
		t.Fatalf("stale add: field %q", ans.str("field"))
	}
	wantJSON(t, "stale add, wrong password", admin.postJSON("/profile/passkeys/register/begin", map[string]string{"password": "nope nope"}, nil),
		http.StatusUnauthorized, "Wrong password.")
	wantJSON(t, "stale add with password", addPasskey(t, admin, device(t), "", adminPassword), http.StatusOK, "done=passkey-added")
}

// The JSON endpoints pass the forms' cross-origin check, take JSON only,
// and answer bad bodies with a 4xx, never a 500.
func TestPasskeyEndpointsRefuseBadRequests(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	d := device(t)
	addPasskey(t, admin, d, "", "")
	// Each endpoint with a browser it would serve: the admin's session for
	// registration, a password login half done for the second step.
	halfway := a.browser()
	halfway.post("/login", "email", "admin@example.com", "password", adminPassword)
	endpoints := map[string]*browser{
		"/profile/passkeys/register/begin": admin, "/profile/passkeys/register/finish": admin,
		"/login/passkey/begin": a.browser(), "/login/passkey/finish": a.browser(),
		"/login/2fa/passkey/begin": halfway, "/login/2fa/passkey/finish": halfway,
	}
	for path, b := range endpoints {
		for _, h := range []http.Header{
			{"Sec-Fetch-Site": {"cross-site"}},
			{"Origin": {"https://evil.example"}},
		} {
			wantJSON(t, "cross-origin "+path, b.postJSON(path, struct{}{}, h), http.StatusForbidden, "sent from another site")
		}
		for name, body := range map[string]string{
			"truncated": `{"ceremony": "x", "credential": {"id": "`,
			"not JSON":  `ceremony=x`,
			"trailing":  `{"ceremony": "x"} {}`,
			"array":     `[1, 2]`,
		} {
			wantJSON(t, name+" "+path, b.postJSON(path, body, nil), http.StatusBadRequest, "malformed")
		}
		big := `{"ceremony": "` + strings.Repeat("x", 1<<20) + `"}`
		wantJSON(t, "1 MB "+path, b.postJSON(path, big, nil), http.StatusRequestEntityTooLarge, "too large")
		wantJSON(t, "text/plain "+path, b.postJSON(path, `{}`, http.Header{"Content-Type": {"text/plain"}}), http.StatusUnsupportedMediaType, "application/json")
	}
	// The same origin goes through.
	same := http.Header{"Sec-Fetch-Site": {"same-origin"}, "Origin": {a.srv.URL}}
	if ans := halfway.postJSON("/login/2fa/passkey/begin", struct{}{}, same); ans.status != http.StatusOK {
		t.Fatalf("same-origin begin: %d %s", ans.status, ans.body)
	}
	// Well-formed JSON that is no credential is the person's problem, not
	// the server's.
	ceremony, _ := begin(t, admin, "/profile/passkeys/register/begin", struct{}{})
	for _, cred := range []string{`"just a string"`, `{}`, `{"id": "AAAA", "rawId": "AAAA", "type": "public-key", "response": {"clientDataJSON": "e30", "attestationObject": "oA"}}`} {
		ans := admin.postJSON("/profile/passkeys/register/finish", `{"ceremony": "`+ceremony+`", "credential": `+cred+`}`, nil)
		if ans.status < 400 || ans.status >= 500 {
			t.Fatalf("registration with credential %s: %d %s", cred, ans.status, ans.body)
		}
	}
	for _, cred := range []string{`"just a string"`, `{}`, `null`} {
		ceremony, _ := begin(t, a.browser(), "/login/passkey/begin", struct{}{})
		wantJSON(t, "login with "+cred, a.browser().postJSON("/login/passkey/finish", `{"ceremony": "`+ceremony+`", "credential": `+cred+`}`, nil),
			http.StatusUnauthorized, passkeyNotAccepted)
	}
	// Anonymous, registration is refused with a way back to log in.
	ans := a.browser().postJSON("/profile/passkeys/register/begin", struct{}{}, nil)
	if ans.status != http.StatusUnauthorized || ans.str("redirect") != "/login" {
		t.Fatalf("anonymous registration: %d %s", ans.status, ans.body)
	}
	// Nothing was added by any of it.
	if got := storedPasskeys(t, a, "admin@example.com"); len(got) != 1 {
		t.Fatalf("%d passkeys stored, want 1", len(got))
	}
	// The script itself is served, as JavaScript, from this origin.
	js := a.browser().get("/static/passkey.js")
	if js.status != http.StatusOK || !strings.HasPrefix(js.header.Get("Content-Type"), "text/javascript") || !js.has("navigator.credentials.create") {
		t.Fatalf("passkey.js: %d %q", js.status, js.header.Get("Content-Type"))
	}
}

// With -no-passwordless, passkeys are a second factor only; with -rp-id ""
// they are off, and the pages show none of them.
func TestPasskeysOffAndSecondFactorOnly(t *testing.T) {
	t.Parallel()
	a := newAppWith(t, func(cfg *auth.Config) { cfg.Passkeys.DisablePasswordless = true })
	admin := a.signup()
	d := device(t)
	wantJSON(t, "add", addPasskey(t, admin, d, "", ""), http.StatusOK, "done=passkey-added")
	login := a.browser().get("/login")
	if login.has("passkey") || login.has("webauthn") || login.has("<script") {
		t.Fatalf("the login page offers passwordless login:\n%s", excerpt(login.body))
	}
	wantJSON(t, "passwordless", a.browser().postJSON("/login/passkey/begin", struct{}{}, nil), http.StatusForbidden, "turned off")
	b := a.browser()
	want(t, "second step", b.post("/login", "email", "admin@example.com", "password", adminPassword), http.StatusOK, "Use a passkey")
	ceremony, opts := begin(t, b, "/login/2fa/passkey/begin", struct{}{})
	cred, _ := d.Assert(opts)
	wantJSON(t, "second factor", b.postJSON("/login/2fa/passkey/finish", map[string]any{"ceremony": ceremony, "credential": json.RawMessage(cred)}, nil),
		http.StatusOK, "/")

	off := newAppWith(t, func(cfg *auth.Config) { cfg.Passkeys = auth.PasskeyConfig{} })
	admin = off.signup()
	for _, path := range []string{"/login", "/profile/security"} {
		c := admin
		if path == "/login" {
			c = off.browser()
		}
		if p := c.get(path); p.has("asskey") || p.has("<script") || p.has("webauthn") {
			t.Fatalf("%s mentions passkeys with passkeys off:\n%s", path, excerpt(p.body))
		}
	}
	wantJSON(t, "off", admin.postJSON("/profile/passkeys/register/begin", struct{}{}, nil), http.StatusNotFound, "not enabled")
}

// A member of a group that requires a second factor, allowed passkeys
// only, enrols with one: the security page offers it, and the rest of the
// app opens once it is added.
func TestPasskeyEnrolment(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	gid := createGroup(t, admin, "Passkeys only", true, "users:read", "profile:manage_passkeys")
	createUser(t, admin, "carol@example.com", "Carol", "carol long password", gid)
	carol := a.browser()
	p := carol.post("/login", "email", "carol@example.com", "password", "carol long password")
	want(t, "sent to enrol", p, http.StatusOK, "Your group requires two-factor authentication", `id="passkey-add"`)
	if p.has(`action="/profile/2fa/begin"`) {
		t.Fatal("TOTP offered to a group without profile:manage_2fa")
	}
	if p := carol.get("/users"); p.url.Path != "/profile/security" {
		t.Fatalf("/users before enrolling ended at %s", p.url)
	}
	d := device(t)
	wantJSON(t, "enrol", addPasskey(t, carol, d, "", ""), http.StatusOK, "done=passkey-added")
	want(t, "after enrolling", carol.get("/users"), http.StatusOK, "<h1>Users</h1>")
	want(t, "security after enrolling", carol.get("/profile/security"), http.StatusOK,
		"Two-factor authentication is <strong>on</strong>: your passkey serves as the second factor.",
		"Your group does not let you set up an authenticator app; add a passkey below.")

	// A fresh session deletes without the password; the form asks none.
	id := storedPasskeys(t, a, "carol@example.com")[0].ID
	if row := passkeyRow(t, carol.get("/profile/security"), id); strings.Contains(row, `name="password"`) {
		t.Fatalf("a fresh session is asked for the password:\n%s", row)
	}
	want(t, "delete", carol.post("/profile/passkeys/"+id+"/delete"), http.StatusOK, "Passkey deleted.", "Your group requires two-factor authentication")
}
