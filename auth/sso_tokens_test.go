package auth_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	jose "github.com/go-jose/go-jose/v4"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
)

// The refusals the real provider (internal/oidctest) cannot be made to
// commit: a hand-written provider on httptest that signs whatever ID token
// a test asks for, and answers the token request as the test says.

// fakeOP is a hand-written OpenID provider: discovery, a JWKS with one RSA
// key, an authorization endpoint that sends the browser straight back with
// a code and the state it was given, and a token endpoint that checks the
// client, the code and the PKCE verifier and answers an ID token made by
// the test's functions.
type fakeOP struct {
	t   *testing.T
	srv *httptest.Server
	key *rsa.PrivateKey // the key the JWKS publishes
	kid string
	now func() time.Time

	mu sync.Mutex
	// docIssuer is the issuer the discovery document names; "" = the
	// server's URL.
	docIssuer string
	// endpoints is the origin the discovery document gives its endpoints
	// under; "" = the server's URL.
	endpoints string
	codes     map[string]fakeAuthz
	lastNonce string
	// claims edits the ID token's claims before signing.
	claims func(c map[string]any)
	// sign turns claims into a compact JWS; nil = RS256 with key and kid.
	sign func(c map[string]any) string
	// answer writes the token response; nil = 200 with the ID token.
	answer func(w http.ResponseWriter, idToken string)
	// subject, email, groups are the person the next login is.
	subject, email string
	groups         []string // nil = no groups claim at all
}

type fakeAuthz struct {
	nonce, challenge, redirect string
}

func newFakeOP(t *testing.T, tls bool, now func() time.Time) *fakeOP {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	op := &fakeOP{t: t, key: key, kid: "key-1", now: now, codes: map[string]fakeAuthz{}}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /.well-known/openid-configuration", op.discovery)
	mux.HandleFunc("GET /jwks", op.jwks)
	mux.HandleFunc("GET /authorize", op.authorize)
	mux.HandleFunc("POST /token", op.token)
	if tls {
		op.srv = httptest.NewTLSServer(mux)
	} else {
		op.srv = httptest.NewServer(mux)
	}
	t.Cleanup(op.srv.Close)
	return op
}

func (op *fakeOP) issuer() string { return op.srv.URL }

func (op *fakeOP) set(f func(op *fakeOP)) {
	op.mu.Lock()
	defer op.mu.Unlock()
	f(op)
}

func (op *fakeOP) discovery(w http.ResponseWriter, r *http.Request) {
	op.mu.Lock()
	iss, base := op.docIssuer, op.endpoints
	op.mu.Unlock()
	if iss == "" {
		iss = op.srv.URL
	}
	if base == "" {
		base = op.srv.URL
	}
	writeJSON(w, http.StatusOK, map[string]any{
		"issuer":                                iss,
		"authorization_endpoint":                base + "/authorize",
		"token_endpoint":                        base + "/token",
		"jwks_uri":                              base + "/jwks",
		"response_types_supported":              []string{"code"},
		"subject_types_supported":               []string{"public"},
		"code_challenge_methods_supported":      []string{"S256"},
		"id_token_signing_alg_values_supported": []string{"RS256", "HS256", "none"},
	})
}

func (op *fakeOP) jwks(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, jose.JSONWebKeySet{Keys: []jose.JSONWebKey{
		{Key: &op.key.PublicKey, KeyID: op.kid, Algorithm: string(jose.RS256), Use: "sig"}}})
}

func (op *fakeOP) authorize(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if q.Get("response_type") != "code" || q.Get("client_id") != "usher" || q.Get("code_challenge_method") != "S256" ||
		q.Get("redirect_uri") != strings.Replace(ssoCallback, "{id}", "idp", 1) {
		http.Error(w, "bad authorization request", http.StatusBadRequest)
		return
	}
	code := rand.Text()
	op.mu.Lock()
	op.codes[code] = fakeAuthz{nonce: q.Get("nonce"), challenge: q.Get("code_challenge"), redirect: q.Get("redirect_uri")}
	op.lastNonce = q.Get("nonce")
	op.mu.Unlock()
	back := url.Values{"code": {code}, "state": {q.Get("state")}}
	http.Redirect(w, r, q.Get("redirect_uri")+"?"+back.Encode(), http.StatusFound)
}

func (op *fakeOP) token(w http.ResponseWriter, r *http.Request) {
	id, secret, ok := r.BasicAuth()
	if !ok || id != "usher" || secret != "client-secret" {
		writeJSON(w, http.StatusUnauthorized, map[string]string{"error": "invalid_client"})
		return
	}
	if err := r.ParseForm(); err != nil {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_request"})
		return
	}
	op.mu.Lock()
	a, known := op.codes[r.PostForm.Get("code")]
	delete(op.codes, r.PostForm.Get("code"))
	op.mu.Unlock()
	sum := sha256.Sum256([]byte(r.PostForm.Get("code_verifier")))
	if !known || r.PostForm.Get("grant_type") != "authorization_code" || r.PostForm.Get("redirect_uri") != a.redirect ||
		base64.RawURLEncoding.EncodeToString(sum[:]) != a.challenge {
		writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant"})
		return
	}
	op.mu.Lock()
	now := op.now()
	c := map[string]any{
		"iss": op.srv.URL, "sub": op.subject, "aud": "usher", "iat": now.Unix(), "exp": now.Add(5 * time.Minute).Unix(),
		"nonce": a.nonce, "email": op.email, "email_verified": true, "name": "Fake " + op.subject,
	}
	if op.groups != nil {
		c["groups"] = op.groups
	}
	if op.claims != nil {
		op.claims(c)
	}
	sign, answer := op.sign, op.answer
	op.mu.Unlock()
	if sign == nil {
		sign = func(c map[string]any) string { return signJWT(op.t, jose.RS256, op.key, op.kid, c) }
	}
	raw := sign(c)
	if answer != nil {
		answer(w, raw)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"access_token": "at-" + rand.Text(), "token_type": "Bearer",
		"expires_in": 300, "id_token": raw})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// signJWT signs claims as a compact JWS with alg and key, naming kid.
func signJWT(t *testing.T, alg jose.SignatureAlgorithm, key any, kid string, claims map[string]any) string {
	t.Helper()
	opts := (&jose.SignerOptions{}).WithType("JWT")
	if kid != "" {
		opts = opts.WithHeader("kid", kid)
	}
	s, err := jose.NewSigner(jose.SigningKey{Algorithm: alg, Key: key}, opts)
	if err != nil {
		t.Fatalf("jose.NewSigner(%s): %v", alg, err)
	}
	payload, _ := json.Marshal(claims)
	jws, err := s.Sign(payload)
	if err != nil {
		t.Fatal(err)
	}
	out, err := jws.CompactSerialize()
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// unsignedJWT is an "alg":"none" token.
func unsignedJWT(claims map[string]any) string {
	h, _ := json.Marshal(map[string]string{"alg": "none", "typ": "JWT"})
	p, _ := json.Marshal(claims)
	return base64.RawURLEncoding.EncodeToString(h) + "." + base64.RawURLEncoding.EncodeToString(p) + "."
}

// fakeEnv is an env whose provider "idp" is a fakeOP.
type fakeEnv struct {
	*env
	op    *fakeOP
	admin *auth.Principal
	ops   *group.Group // the local group "ops" at the provider maps to
}

func newFakeEnv(t *testing.T, tls bool, mod ...func(*auth.Config)) *fakeEnv {
	t.Helper()
	clk := newClock()
	op := newFakeOP(t, tls, clk.Now)
	e := newEnv(t, append([]func(*auth.Config){func(cfg *auth.Config) {
		cfg.SSO = auth.SSOConfig{CallbackURL: ssoCallback, HTTPClient: op.srv.Client()}
		cfg.Now = clk.Now
	}}, mod...)...)
	e.clk = clk
	f := &fakeEnv{env: e, op: op, admin: e.admin()}
	f.ops = f.group(f.admin, "Operators", "backups:run")
	return f
}

// provider adds "idp" at the fake provider: provisioning into users for
// example.com, groups mapped ("ops" → Operators), f applied last.
func (f *fakeEnv) provider(mod func(*oidc.Provider)) {
	f.t.Helper()
	p := oidc.Provider{ID: "idp", Name: "Fake", Issuer: f.op.issuer(), ClientID: "usher", Enabled: true,
		Provisioning: true, AllowedDomains: []string{"example.com"}, DefaultGroup: group.UsersID,
		GroupClaim: "groups", GroupMap: map[string]group.ID{"ops": f.ops.ID}}
	if mod != nil {
		mod(&p)
	}
	if _, err := f.m.CreateProvider(f.ctx, f.admin, p, "client-secret"); err != nil {
		f.t.Fatalf("CreateProvider: %v", err)
	}
}

// sso begins a sign-on, follows the authorization endpoint's redirect as
// a browser would, and finishes with the callback's query.
func (f *fakeEnv) sso() (*auth.LoginResult, error) {
	f.t.Helper()
	fl, err := f.m.BeginSSO(f.ctx, "idp", "/after", client)
	if err != nil {
		f.t.Fatalf("BeginSSO: %v", err)
	}
	return f.m.FinishSSO(f.ctx, fl.ID, "idp", f.authorize(fl.URL), client)
}

// authorize GETs the authorization URL and returns the query of the
// redirect to the callback.
func (f *fakeEnv) authorize(authURL string) url.Values {
	f.t.Helper()
	c := *f.op.srv.Client()
	c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := c.Get(authURL)
	if err != nil {
		f.t.Fatal(err)
	}
	resp.Body.Close()
	loc, err := url.Parse(resp.Header.Get("Location"))
	if resp.StatusCode != http.StatusFound || err != nil {
		f.t.Fatalf("authorization: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
	return loc.Query()
}

// snapshot is every account as stored, its identities and its last login,
// and the number of sessions opened so far, to compare before and after a
// refusal.
func (f *fakeEnv) snapshot() string {
	f.t.Helper()
	page, err := f.m.ListUsers(f.ctx, f.admin, listAll())
	if err != nil {
		f.t.Fatal(err)
	}
	var b strings.Builder
	for _, s := range page.Users {
		u, err := f.db.Users().Get(f.ctx, s.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		ids, err := f.db.Identities().List(f.ctx, u.ID)
		if err != nil {
			f.t.Fatal(err)
		}
		fmt.Fprintf(&b, "%s %s group=%s v%d disabled=%v last=%v ids=%d", u.ID, u.Email, u.GroupID, u.Version,
			u.Disabled, u.LastLoginAt, len(ids))
		for _, id := range ids {
			fmt.Fprintf(&b, " [%s %s %s %v]", id.Issuer, id.Subject, id.Email, id.LastLoginAt)
		}
		b.WriteByte('\n')
	}
	fmt.Fprintf(&b, "logins=%d provisioned=%d linked=%d mapped=%d\n", f.count(audit.LoginSucceeded),
		f.count(audit.UserProvisioned), f.count(audit.IdentityLinked), f.count(audit.GroupMapped))
	return b.String()
}

func (f *fakeEnv) count(a audit.Action) int {
	n := 0
	for _, ev := range f.events() {
		if ev.Action == a {
			n++
		}
	}
	return n
}

// person sets who the next login at the provider is.
func (f *fakeEnv) person(subject, email string, groups []string) {
	f.op.set(func(op *fakeOP) { op.subject, op.email, op.groups = subject, email, groups })
}

// withBob is a fake env with the provider and bob, provisioned at a first
// sign-on and mapped into Operators.
func withBob(t *testing.T, tls bool) *fakeEnv {
	t.Helper()
	f := newFakeEnv(t, tls)
	f.provider(nil)
	f.person("bob-sub", "bob@example.com", []string{"ops"})
	res, err := f.sso()
	if err != nil || res.Session == nil {
		t.Fatalf("bob's first sign-on (the control): %+v, %v", res, err)
	}
	if g := f.auth(res.Session.Token).User().GroupID; g != string(f.ops.ID) {
		t.Fatalf("bob in %s, want Operators", g)
	}
	return f
}

func TestSSOTokenRefusals(t *testing.T) {
	t.Parallel()
	other, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	claims := func(f func(c map[string]any)) func(*fakeOP) { return func(op *fakeOP) { op.claims = f } }
	signer := func(f func(op *fakeOP, c map[string]any) string) func(*fakeOP) {
		return func(op *fakeOP) { op.sign = func(c map[string]any) string { return f(op, c) } }
	}
	cases := []struct {
		name   string
		set    func(*fakeOP)
		reason string
	}{
		{"nonce mismatch", claims(func(c map[string]any) { c["nonce"] = "not-the-nonce" }), "nonce mismatch"},
		{"nonce missing", claims(func(c map[string]any) { delete(c, "nonce") }), "nonce mismatch"},
		{"wrong audience", claims(func(c map[string]any) { c["aud"] = "someone-else" }), "ID token invalid"},
		{"audience missing", claims(func(c map[string]any) { delete(c, "aud") }), "ID token invalid"},
		{"wrong issuer", claims(func(c map[string]any) { c["iss"] = "https://evil.example" }), "ID token invalid"},
		{"issuer with a trailing slash", claims(func(c map[string]any) { c["iss"] = c["iss"].(string) + "/" }), "ID token invalid"},
		{"expired", claims(func(c map[string]any) {
			c["iat"] = c["iat"].(int64) - 3600
			c["exp"] = c["iat"].(int64) + 600 // 50 minutes ago by the Manager's clock
		}), "ID token invalid"},
		{"expired a second ago", claims(func(c map[string]any) { c["exp"] = c["iat"].(int64) - 1 }), "ID token invalid"},
		{"exp missing", claims(func(c map[string]any) { delete(c, "exp") }), "ID token invalid"},
		{"not yet valid (nbf in an hour)", claims(func(c map[string]any) { c["nbf"] = c["iat"].(int64) + 3600 }), "ID token invalid"},
		{"bad signature (another key, same kid)", signer(func(op *fakeOP, c map[string]any) string {
			return signJWT(t, jose.RS256, other, op.kid, c)
		}), "ID token invalid"},
		{"unknown kid", signer(func(op *fakeOP, c map[string]any) string {
			return signJWT(t, jose.RS256, other, "key-2", c)
		}), "ID token invalid"},
		{"payload altered after signing", signer(func(op *fakeOP, c map[string]any) string {
			good := signJWT(t, jose.RS256, op.key, op.kid, c)
			parts := strings.Split(good, ".")
			c["sub"] = "admin-sub"
			p, _ := json.Marshal(c)
			return parts[0] + "." + base64.RawURLEncoding.EncodeToString(p) + "." + parts[2]
		}), "ID token invalid"},
		{"alg none", signer(func(op *fakeOP, c map[string]any) string { return unsignedJWT(c) }), "ID token invalid"},
		{"HS256 keyed with the public key", signer(func(op *fakeOP, c map[string]any) string {
			der, _ := x509.MarshalPKIXPublicKey(&op.key.PublicKey)
			pemKey := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: der})
			return signJWT(t, jose.HS256, pemKey, op.kid, c)
		}), "ID token invalid"},
		{"not a JWT", signer(func(*fakeOP, map[string]any) string { return "not.a.jwt" }), "ID token invalid"},
		{"no id_token in the token response", func(op *fakeOP) {
			op.answer = func(w http.ResponseWriter, _ string) {
				writeJSON(w, http.StatusOK, map[string]any{"access_token": "at", "token_type": "Bearer", "expires_in": 300})
			}
		}, "no ID token"},
		{"token endpoint 400", func(op *fakeOP) {
			op.answer = func(w http.ResponseWriter, _ string) {
				writeJSON(w, http.StatusBadRequest, map[string]string{"error": "invalid_grant", "error_description": "code expired"})
			}
		}, "code exchange failed"},
		{"token endpoint 500", func(op *fakeOP) {
			op.answer = func(w http.ResponseWriter, _ string) { http.Error(w, "boom", http.StatusInternalServerError) }
		}, "code exchange failed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			f := withBob(t, false)
			f.op.set(tc.set)
			// Bob, already linked and in Operators, with a token that would
			// demote him; then a stranger whom a good token would provision.
			for _, who := range []struct{ sub, email string }{{"bob-sub", "bob@example.com"}, {"new-sub", "new@example.com"}} {
				f.person(who.sub, who.email, []string{})
				before := f.snapshot()
				failed := f.count(audit.LoginFailed)
				res, err := f.sso()
				if err == nil {
					t.Fatalf("%s: signed on (%+v)", who.sub, res)
				}
				wantErr(t, err, auth.ErrInvalidCredentials)
				if after := f.snapshot(); after != before {
					t.Errorf("%s: refused, but the store changed:\nbefore:\n%safter:\n%s", who.sub, before, after)
				}
				if n := f.count(audit.LoginFailed); n != failed+1 {
					t.Errorf("%s: %d login.failed events recorded, want 1", who.sub, n-failed)
				}
				if ev := f.lastEvent(audit.LoginFailed); ev.Reason != tc.reason || ev.Details[audit.DetailProvider] != "idp" {
					t.Errorf("%s: recorded as %q (%v), want %q", who.sub, ev.Reason, ev.Details, tc.reason)
				}
			}
			// The provider behaves again: bob signs on, and is demoted by
			// the empty groups claim, which shows the refusals above did
			// not fail for want of a working setup.
			f.op.set(func(op *fakeOP) { op.claims, op.sign, op.answer = nil, nil, nil })
			f.person("bob-sub", "bob@example.com", []string{})
			res, err := f.sso()
			if err != nil {
				t.Fatalf("control sign-on after the refusals: %v", err)
			}
			if g := f.auth(res.Session.Token).User().GroupID; g != string(group.UsersID) {
				t.Errorf("control: bob in %s, want users", g)
			}
		})
	}
}

// go-oidc does not look at iat: a token "issued" a year ahead, with a
// valid exp and no nbf, is accepted. OpenID Connect Core leaves the check
// to the relying party ("MAY"); recorded here so a change shows.
func TestSSOTokenIssuedInTheFuture(t *testing.T) {
	t.Parallel()
	f := withBob(t, false)
	f.op.set(func(op *fakeOP) {
		op.claims = func(c map[string]any) {
			c["iat"] = c["iat"].(int64) + 365*24*3600
		}
	})
	f.person("bob-sub", "bob@example.com", []string{"ops"})
	if _, err := f.sso(); err != nil {
		t.Logf("a token with iat a year ahead is refused: %v", err)
	} else {
		t.Log("a token with iat a year ahead is accepted (go-oidc checks exp and nbf, not iat)")
	}
}

// The Manager checks expiry with Config.Now, not the wall clock.
func TestSSOTokenExpiryUsesTheManagersClock(t *testing.T) {
	t.Parallel()
	f := withBob(t, false)
	// The env's clock is months before the wall clock: tokens minted by
	// it expired long ago in real time, and bob's first sign-on passed.
	if !f.clk.Now().Add(time.Hour).Before(time.Now()) {
		t.Skip("the fake clock is not behind the wall clock")
	}
	// A token minted by the wall clock is valid now, but was not yet
	// issued by the Manager's clock: nbf says so, and it is refused.
	f.op.set(func(op *fakeOP) {
		op.claims = func(c map[string]any) {
			now := time.Now()
			c["iat"], c["nbf"], c["exp"] = now.Unix(), now.Unix(), now.Add(5*time.Minute).Unix()
		}
	})
	f.person("bob-sub", "bob@example.com", []string{"ops"})
	_, err := f.sso()
	wantErr(t, err, auth.ErrInvalidCredentials)
	// A token minted two minutes ago by the Manager's clock with a minute
	// to live: expired by the Manager's clock, refused.
	f.op.set(func(op *fakeOP) {
		op.now = func() time.Time { return f.clk.Now().Add(-2 * time.Minute) }
		op.claims = func(c map[string]any) { c["exp"] = c["iat"].(int64) + 60 }
	})
	_, err = f.sso()
	wantErr(t, err, auth.ErrInvalidCredentials)
	if ev := f.lastEvent(audit.LoginFailed); ev.Reason != "ID token invalid" {
		t.Errorf("recorded as %q", ev.Reason)
	}
}

func TestSSODiscoveryRefusals(t *testing.T) {
	t.Parallel()
	t.Run("issuer differs from the configured one", func(t *testing.T) {
		t.Parallel()
		f := newFakeEnv(t, false)
		f.provider(nil)
		for _, iss := range []string{f.op.issuer() + "/", "https://evil.example", strings.Replace(f.op.issuer(), "127.0.0.1", "localhost", 1)} {
			f.op.set(func(op *fakeOP) { op.docIssuer = iss })
			before := f.snapshot()
			_, err := f.m.BeginSSO(f.ctx, "idp", "", client)
			wantErr(t, err, auth.ErrProviderUnavailable)
			_, err = f.m.TestProvider(f.ctx, f.admin, "idp")
			wantErr(t, err, auth.ErrProviderUnavailable)
			if after := f.snapshot(); after != before {
				t.Errorf("issuer %q: the store changed", iss)
			}
			f.clk.Advance(maxBackoff) // past the discovery back-off
		}
		f.op.set(func(op *fakeOP) { op.docIssuer = "" })
		f.person("x-sub", "x@example.com", nil)
		if _, err := f.sso(); err != nil {
			t.Fatalf("control: %v", err)
		}
	})
	t.Run("https issuer advertising http endpoints", func(t *testing.T) {
		t.Parallel()
		f := newFakeEnv(t, true)
		f.provider(nil)
		if !strings.HasPrefix(f.op.issuer(), "https://") {
			t.Fatalf("issuer %s", f.op.issuer())
		}
		f.op.set(func(op *fakeOP) { op.endpoints = strings.Replace(op.srv.URL, "https://", "http://", 1) })
		_, err := f.m.BeginSSO(f.ctx, "idp", "", client)
		wantErr(t, err, auth.ErrProviderUnavailable)
		if !strings.Contains(err.Error(), "http://") {
			t.Errorf("error does not name the endpoint: %v", err)
		}
		_, err = f.m.TestProvider(f.ctx, f.admin, "idp")
		wantErr(t, err, auth.ErrProviderUnavailable)
		// The same provider with https endpoints: a sign-on over TLS.
		f.op.set(func(op *fakeOP) { op.endpoints = "" })
		f.clk.Advance(maxBackoff)
		f.person("t-sub", "t@example.com", nil)
		res, err := f.sso()
		if err != nil || res.Session == nil {
			t.Fatalf("control over https: %+v, %v", res, err)
		}
	})
}

// maxBackoff is past any discovery back-off.
const maxBackoff = 6 * time.Minute

func TestSSOGroupClaimAbsentOrEmpty(t *testing.T) {
	t.Parallel()
	f := withBob(t, false)
	bob := func() string {
		t.Helper()
		u, err := f.db.Users().GetByEmail(f.ctx, "bob@example.com")
		if err != nil {
			t.Fatal(err)
		}
		return u.GroupID
	}
	mapped := f.count(audit.GroupMapped)
	// No groups claim at all (Entra past 200 groups): bob stays.
	f.person("bob-sub", "bob@example.com", nil)
	if _, err := f.sso(); err != nil {
		t.Fatal(err)
	}
	if g := bob(); g != string(f.ops.ID) {
		t.Errorf("groups claim absent: bob moved to %s", g)
	}
	if n := f.count(audit.GroupMapped); n != mapped {
		t.Errorf("groups claim absent: %d mapping events", n-mapped)
	}
	// A groups claim present but empty: bob is in no mapped IdP group, so
	// he goes to the provider's default group.
	f.person("bob-sub", "bob@example.com", []string{})
	if _, err := f.sso(); err != nil {
		t.Fatal(err)
	}
	if g := bob(); g != string(group.UsersID) {
		t.Errorf("groups claim empty: bob in %s, want users", g)
	}
	if ev := f.lastEvent(audit.GroupMapped); ev.Details[audit.DetailBefore] != string(f.ops.ID) || ev.Details[audit.DetailAfter] != string(group.UsersID) {
		t.Errorf("demotion event %+v", ev.Details)
	}
	// Back into ops; the group claim as one string rather than a list.
	f.op.set(func(op *fakeOP) { op.claims = func(c map[string]any) { c["groups"] = "ops" } })
	if _, err := f.sso(); err != nil {
		t.Fatal(err)
	}
	if g := bob(); g != string(f.ops.ID) {
		t.Errorf("groups claim a string: bob in %s, want Operators", g)
	}
}
