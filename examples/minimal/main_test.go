package main

import (
	"encoding/base32"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/totp"
)

// newServer serves the example's routes over a fresh SQLite file, closed
// when the test ends.
func newServer(t *testing.T) (*auth.Manager, *httptest.Server) {
	t.Helper()
	db, err := sqlite.Open(t.Context(), filepath.Join(t.TempDir(), "minimal.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	m, err := auth.New(auth.Config{Store: db, SecretKey: make([]byte, 32), BcryptCost: 4, InsecureLowBcryptCostForTests: true})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(routes(m))
	t.Cleanup(srv.Close)
	return m, srv
}

// TestREADMEFlow drives the example the way the README's curl lines do.
func TestREADMEFlow(t *testing.T) {
	_, srv := newServer(t)

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

	code, body := call("POST", "/signup", "", form("email", "admin@example.com", "name", "Ada", "password", "correct horse battery"))
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
