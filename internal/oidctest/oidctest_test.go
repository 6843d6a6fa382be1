package oidctest_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usher-go/usher/internal/oidctest"
)

const redirectURI = "http://127.0.0.1:1/auth/callback"

// rp is a relying party as usher's will be: go-oidc discovery and
// verification, x/oauth2 with PKCE S256, a nonce, and an explicit
// AuthStyle so a failed token call is not retried with the other style.
type rp struct {
	t        testing.TB
	p        *oidctest.Provider
	ctx      context.Context
	provider *oidc.Provider
	cfg      oauth2.Config
	verifier *oidc.IDTokenVerifier
}

func newRP(t testing.TB, p *oidctest.Provider, clientID, secret string, style oauth2.AuthStyle, scopes ...string) *rp {
	t.Helper()
	ctx := oidc.ClientContext(t.Context(), &http.Client{Timeout: 5 * time.Second})
	provider, err := oidc.NewProvider(ctx, p.Issuer())
	if err != nil {
		t.Fatalf("discovery: %v", err)
	}
	ep := provider.Endpoint()
	ep.AuthStyle = style
	return &rp{
		t:        t,
		p:        p,
		ctx:      ctx,
		provider: provider,
		cfg: oauth2.Config{
			ClientID:     clientID,
			ClientSecret: secret,
			Endpoint:     ep,
			RedirectURL:  redirectURI,
			Scopes:       append([]string{oidc.ScopeOpenID, "email", "profile"}, scopes...),
		},
		verifier: provider.Verifier(&oidc.Config{ClientID: clientID}),
	}
}

// flow is one authorization request of the relying party.
type flow struct {
	authURL, state, nonce, verifier string
}

func (r *rp) begin(opts ...oauth2.AuthCodeOption) flow {
	f := flow{state: rand.Text(), nonce: rand.Text(), verifier: oauth2.GenerateVerifier()}
	opts = append(opts, oidc.Nonce(f.nonce), oauth2.S256ChallengeOption(f.verifier))
	f.authURL = r.cfg.AuthCodeURL(f.state, opts...)
	return f
}

// code checks the callback URL and returns its code.
func (r *rp) code(f flow, cb *url.URL) string {
	r.t.Helper()
	if got := cb.Scheme + "://" + cb.Host + cb.Path; got != redirectURI {
		r.t.Fatalf("callback went to %s, want %s", got, redirectURI)
	}
	q := cb.Query()
	if q.Get("state") != f.state {
		r.t.Fatalf("callback state %q, want %q", q.Get("state"), f.state)
	}
	if e := q.Get("error"); e != "" {
		r.t.Fatalf("callback error %s: %s", e, q.Get("error_description"))
	}
	if q.Get("code") == "" {
		r.t.Fatalf("callback without code: %s", cb)
	}
	return q.Get("code")
}

// finish exchanges the code and verifies the ID token and its nonce.
func (r *rp) finish(f flow, code string) (*oauth2.Token, *oidc.IDToken, map[string]any) {
	r.t.Helper()
	tok, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(f.verifier))
	if err != nil {
		r.t.Fatalf("exchange: %v", err)
	}
	raw, ok := tok.Extra("id_token").(string)
	if !ok {
		r.t.Fatal("token response without id_token")
	}
	idt, err := r.verifier.Verify(r.ctx, raw)
	if err != nil {
		r.t.Fatalf("verify: %v", err)
	}
	if idt.Nonce != f.nonce {
		r.t.Fatalf("nonce %q, want %q", idt.Nonce, f.nonce)
	}
	var claims map[string]any
	if err := idt.Claims(&claims); err != nil {
		r.t.Fatal(err)
	}
	return tok, idt, claims
}

func (r *rp) login(subject string) (*oauth2.Token, *oidc.IDToken, map[string]any) {
	r.t.Helper()
	f := r.begin()
	return r.finish(f, r.code(f, r.p.Login(r.t, f.authURL, subject)))
}

func strs(t testing.TB, v any) []string {
	t.Helper()
	list, ok := v.([]any)
	if !ok {
		t.Fatalf("claim %v (%T) is not a list", v, v)
	}
	out := make([]string, len(list))
	for i, x := range list {
		out[i] = x.(string)
	}
	return out
}

func alice() oidctest.User {
	return oidctest.User{
		Subject:       "alice-sub",
		Email:         "alice@example.com",
		EmailVerified: true,
		Name:          "Alice Liddell",
		Groups:        []string{"admins", "staff"},
		AMR:           []string{"pwd", "mfa"},
		ACR:           "urn:example:mfa",
	}
}

func TestLogin(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddClient("usher", "s3cret", redirectURI)
	p.AddUser(alice())
	r := newRP(t, p, "usher", "s3cret", oauth2.AuthStyleInHeader, oidctest.GroupsScope)

	f := r.begin()
	code := r.code(f, p.Login(t, f.authURL, "alice-sub"))
	tok, idt, c := r.finish(f, code)

	if idt.Issuer != p.Issuer() || idt.Subject != "alice-sub" || !slices.Equal(idt.Audience, []string{"usher"}) {
		t.Errorf("iss %q sub %q aud %v", idt.Issuer, idt.Subject, idt.Audience)
	}
	if c["email"] != "alice@example.com" || c["email_verified"] != true || c["name"] != "Alice Liddell" {
		t.Errorf("claims %v", c)
	}
	if g := strs(t, c["groups"]); !slices.Equal(g, []string{"admins", "staff"}) {
		t.Errorf("groups %v", g)
	}
	if a := strs(t, c["amr"]); !slices.Equal(a, []string{"pwd", "mfa"}) {
		t.Errorf("amr %v", a)
	}
	if c["acr"] != "urn:example:mfa" {
		t.Errorf("acr %v", c["acr"])
	}
	if d := idt.Expiry.Sub(idt.IssuedAt); d != 10*time.Minute {
		t.Errorf("lifetime %v, want the default 10m", d)
	}
	if err := idt.VerifyAccessToken(tok.AccessToken); err != nil {
		t.Errorf("at_hash: %v", err)
	}

	// The userinfo endpoint answers the same claims for the access token.
	ui, err := r.provider.UserInfo(r.ctx, oauth2.StaticTokenSource(tok))
	if err != nil {
		t.Fatalf("userinfo: %v", err)
	}
	var uc struct {
		Groups []string `json:"groups"`
	}
	if err := ui.Claims(&uc); err != nil {
		t.Fatal(err)
	}
	if ui.Subject != "alice-sub" || ui.Email != "alice@example.com" || !ui.EmailVerified || !slices.Equal(uc.Groups, []string{"admins", "staff"}) {
		t.Errorf("userinfo %+v groups %v", ui, uc.Groups)
	}

	// A code is single use.
	if _, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(f.verifier)); err == nil {
		t.Error("a code was redeemed twice")
	}
	// One token call each: the explicit AuthStyle means no retry.
	if n := p.RequestCount(oidctest.TokenPath); n != 2 {
		t.Errorf("token endpoint hit %d times, want 2", n)
	}
}

func TestPKCEIsChecked(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddClient("usher", "s3cret", redirectURI)
	p.AddUser(alice())
	r := newRP(t, p, "usher", "s3cret", oauth2.AuthStyleInHeader)

	f := r.begin()
	code := r.code(f, p.Login(t, f.authURL, "alice-sub"))
	if _, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(oauth2.GenerateVerifier())); err == nil {
		t.Error("a wrong code_verifier was accepted")
	}
}

func TestClientAuthMethods(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddUser(alice())
	p.AddClient("either", "s1", redirectURI)
	p.RegisterClient(oidctest.Client{ID: "basic", Secret: "s2", RedirectURIs: []string{redirectURI}, AuthMethod: oidctest.AuthBasic})
	p.RegisterClient(oidctest.Client{ID: "post", Secret: "s3", RedirectURIs: []string{redirectURI}, AuthMethod: oidctest.AuthPost})

	for _, tc := range []struct {
		client, secret string
		style          oauth2.AuthStyle
		ok             bool
	}{
		{"either", "s1", oauth2.AuthStyleInHeader, true},
		{"either", "s1", oauth2.AuthStyleInParams, true},
		{"either", "wrong", oauth2.AuthStyleInHeader, false},
		{"either", "wrong", oauth2.AuthStyleInParams, false},
		{"basic", "s2", oauth2.AuthStyleInHeader, true},
		{"basic", "s2", oauth2.AuthStyleInParams, false},
		{"post", "s3", oauth2.AuthStyleInParams, true},
		{"post", "s3", oauth2.AuthStyleInHeader, false},
	} {
		r := newRP(t, p, tc.client, tc.secret, tc.style)
		f := r.begin()
		code := r.code(f, p.Login(t, f.authURL, "alice-sub"))
		_, err := r.cfg.Exchange(r.ctx, code, oauth2.VerifierOption(f.verifier))
		if (err == nil) != tc.ok {
			t.Errorf("client %s secret %s style %d: err %v, want ok=%v", tc.client, tc.secret, tc.style, err, tc.ok)
		}
	}
}

func TestPublicClient(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddPublicClient("spa", redirectURI)
	p.AddUser(alice())
	r := newRP(t, p, "spa", "", oauth2.AuthStyleInParams)

	_, idt, _ := r.login("alice-sub")
	if idt.Subject != "alice-sub" {
		t.Errorf("sub %q", idt.Subject)
	}

	// Without PKCE a public client gets no token.
	state := rand.Text()
	cb := p.Login(t, r.cfg.AuthCodeURL(state), "alice-sub")
	code := cb.Query().Get("code")
	if code == "" {
		t.Fatalf("no code: %s", cb)
	}
	if _, err := r.cfg.Exchange(r.ctx, code); err == nil {
		t.Error("public client redeemed a code without PKCE")
	}
}

func TestGroupsClaim(t *testing.T) {
	t.Parallel()
	t.Run("only with the groups scope", func(t *testing.T) {
		t.Parallel()
		p := oidctest.New(t)
		p.AddClient("usher", "s", redirectURI)
		p.AddUser(alice())
		_, _, c := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader).login("alice-sub")
		if _, ok := c["groups"]; ok {
			t.Errorf("groups sent without the scope: %v", c["groups"])
		}
		_, _, c = newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader, oidctest.GroupsScope).login("alice-sub")
		if g := strs(t, c["groups"]); !slices.Equal(g, []string{"admins", "staff"}) {
			t.Errorf("groups %v", g)
		}
	})
	t.Run("always", func(t *testing.T) {
		t.Parallel()
		p := oidctest.New(t, oidctest.GroupsInIDToken(), oidctest.WithGroupsClaim("roles"))
		p.AddClient("usher", "s", redirectURI)
		p.AddUser(alice())
		_, _, c := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader).login("alice-sub")
		if g := strs(t, c["roles"]); !slices.Equal(g, []string{"admins", "staff"}) {
			t.Errorf("roles %v", g)
		}
		if _, ok := c["groups"]; ok {
			t.Error("groups claim sent under its default name too")
		}
	})
}

func TestSetUser(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddClient("usher", "s", redirectURI)
	p.AddUser(alice())
	r := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader, oidctest.GroupsScope)

	u := alice()
	u.Groups = nil
	u.EmailVerified = false
	u.AMR = nil
	u.ACR = ""
	p.SetUser(u)
	_, _, c := r.login("alice-sub")
	if g := strs(t, c["groups"]); len(g) != 0 {
		t.Errorf("groups %v, want []", g)
	}
	if v, ok := c["email_verified"]; !ok || v != false {
		t.Errorf("email_verified %v (present %v), want an explicit false", v, ok)
	}
	for _, k := range []string{"amr", "acr"} {
		if _, ok := c[k]; ok {
			t.Errorf("%s sent though not set: %v", k, c[k])
		}
	}

	u.OmitEmailVerified = true
	u.Email = "alice@other.example"
	p.SetUser(u)
	_, _, c = r.login("alice-sub")
	if _, ok := c["email_verified"]; ok {
		t.Errorf("email_verified sent: %v", c["email_verified"])
	}
	if c["email"] != "alice@other.example" {
		t.Errorf("email %v", c["email"])
	}
}

func TestStopStart(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddClient("usher", "s", redirectURI)
	p.AddUser(alice())
	r := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader)
	tok, _, _ := r.login("alice-sub")
	addr, issuer := p.Addr(), p.Issuer()

	p.Stop()
	p.Stop() // idempotent
	if _, err := oidc.NewProvider(r.ctx, issuer); err == nil {
		t.Fatal("discovery succeeded while the provider was stopped")
	} else if !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("discovery error while stopped: %v, want connection refused", err)
	}

	p.Start()
	p.Start() // idempotent
	if p.Addr() != addr || p.Issuer() != issuer {
		t.Fatalf("address or issuer moved: %s %s", p.Addr(), p.Issuer())
	}
	r2 := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader)
	// The same keys: a token from before the stop still verifies.
	if _, err := r2.verifier.Verify(r2.ctx, tok.Extra("id_token").(string)); err != nil {
		t.Errorf("old token after restart: %v", err)
	}
	r2.login("alice-sub")
	// The first relying party's discovery result still works too.
	r.login("alice-sub")
}

func TestUnavailable(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.SetUnavailable(true)
	ctx := oidc.ClientContext(t.Context(), &http.Client{Timeout: 5 * time.Second})
	_, err := oidc.NewProvider(ctx, p.Issuer())
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Fatalf("discovery while unavailable: %v", err)
	}
	p.SetUnavailable(false)
	if _, err := oidc.NewProvider(ctx, p.Issuer()); err != nil {
		t.Fatalf("discovery after recovery: %v", err)
	}
	if n := p.RequestCount(oidctest.DiscoveryPath); n != 2 {
		t.Errorf("discovery hit %d times, want 2", n)
	}
}

func TestErrorResponses(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddClient("usher", "s", redirectURI)
	p.AddUser(alice())
	r := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader)

	check := func(name string, f flow, cb *url.URL, want string) {
		t.Helper()
		q := cb.Query()
		if got := cb.Scheme + "://" + cb.Host + cb.Path; got != redirectURI {
			t.Errorf("%s: sent to %s", name, got)
		}
		if q.Get("error") != want || q.Get("state") != f.state || q.Has("code") {
			t.Errorf("%s: callback %s, want error=%s with the state and no code", name, cb, want)
		}
	}

	f := r.begin()
	check("cancel", f, p.LoginError(t, f.authURL, ""), "access_denied")

	f = r.begin()
	check("custom", f, p.LoginError(t, f.authURL, "temporarily_unavailable"), "temporarily_unavailable")

	p.FailNextAuthorization("access_denied")
	f = r.begin()
	check("fail next", f, p.Login(t, f.authURL, "alice-sub"), "access_denied")
	r.login("alice-sub") // only the next one

	f = r.begin(oauth2.SetAuthURLParam("prompt", "none"))
	check("prompt=none", f, p.Login(t, f.authURL, "alice-sub"), "login_required")
}

func TestUnregisteredRedirectURIIsNotFollowed(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddClient("usher", "s", redirectURI)
	r := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader)
	r.cfg.RedirectURL = "http://127.0.0.1:1/elsewhere"
	c := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.Get(r.begin().authURL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest {
		t.Errorf("unregistered redirect_uri: %s, Location %q", resp.Status, resp.Header.Get("Location"))
	}
}

func TestLoginPage(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t)
	p.AddClient("usher", "s", redirectURI)
	u := alice()
	u.Password = "correct horse"
	p.AddUser(u)
	r := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader)
	f := r.begin()

	jar := &http.Client{CheckRedirect: func(req *http.Request, _ []*http.Request) error {
		if req.URL.Host != strings.TrimPrefix(p.Issuer(), "http://") {
			return http.ErrUseLastResponse
		}
		return nil
	}}
	resp, err := jar.Get(f.authURL)
	if err != nil {
		t.Fatal(err)
	}
	page := readAll(t, resp)
	if resp.StatusCode != http.StatusOK || !strings.HasPrefix(resp.Header.Get("Content-Type"), "text/html") {
		t.Fatalf("login page: %s %s", resp.Status, resp.Header.Get("Content-Type"))
	}
	for _, id := range []string{`id="username"`, `id="password"`, `id="submit"`, `type="password"`, `<form`} {
		if !strings.Contains(page, id) {
			t.Errorf("login page lacks %s", id)
		}
	}
	loginURL := resp.Request.URL
	form := url.Values{
		"authRequestID": {loginURL.Query().Get("authRequestID")},
		"username":      {"ALICE@example.com"},
		"password":      {"wrong"},
		"action":        {"login"},
	}
	resp, err = jar.PostForm(loginURL.Scheme+"://"+loginURL.Host+loginURL.Path, form)
	if err != nil {
		t.Fatal(err)
	}
	if page := readAll(t, resp); resp.StatusCode != http.StatusUnauthorized || !strings.Contains(page, `id="error"`) {
		t.Fatalf("wrong password: %s", resp.Status)
	}

	// The right password, with the email as username, as a browser
	// would submit the form.
	form.Set("password", "correct horse")
	resp, err = jar.PostForm(loginURL.Scheme+"://"+loginURL.Host+loginURL.Path, form)
	if err != nil {
		t.Fatal(err)
	}
	readAll(t, resp)
	cb, err := resp.Location()
	if err != nil {
		t.Fatalf("after login: %s: %v", resp.Status, err)
	}
	_, idt, _ := r.finish(f, r.code(f, cb))
	if idt.Subject != "alice-sub" {
		t.Errorf("sub %q", idt.Subject)
	}
}

func readAll(t testing.TB, resp *http.Response) string {
	t.Helper()
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestIssuerPath(t *testing.T) {
	t.Parallel()
	for _, path := range []string{"/realms/usher", "/auth/realms/usher", "/application/o/usher/"} {
		t.Run(path, func(t *testing.T) {
			t.Parallel()
			p := oidctest.New(t, oidctest.WithIssuerPath(path))
			if !strings.HasSuffix(p.Issuer(), path) {
				t.Fatalf("issuer %s", p.Issuer())
			}
			p.AddClient("usher", "s", redirectURI)
			p.AddUser(alice())
			r := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader)
			var disc struct {
				Issuer string `json:"issuer"`
				Token  string `json:"token_endpoint"`
			}
			if err := r.provider.Claims(&disc); err != nil {
				t.Fatal(err)
			}
			if disc.Issuer != p.Issuer() || !strings.HasPrefix(disc.Token, strings.TrimSuffix(p.Issuer(), "/")+"/") {
				t.Errorf("discovery %+v", disc)
			}
			_, idt, _ := r.login("alice-sub")
			if idt.Issuer != p.Issuer() {
				t.Errorf("iss %q", idt.Issuer)
			}
			if n := p.RequestCount(oidctest.DiscoveryPath); n != 1 {
				t.Errorf("discovery count %d", n)
			}
		})
	}
}

func TestTokenLifetime(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t, oidctest.WithTokenLifetime(90*time.Second))
	p.AddClient("usher", "s", redirectURI)
	p.AddUser(alice())
	tok, idt, _ := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader).login("alice-sub")
	if d := idt.Expiry.Sub(idt.IssuedAt); d != 90*time.Second {
		t.Errorf("ID token lifetime %v", d)
	}
	if d := time.Until(tok.Expiry); d > 90*time.Second || d < 60*time.Second {
		t.Errorf("access token expires in %v", d)
	}
}

// Two providers side by side share nothing: not clients, users, codes,
// keys nor the stopped state.
func TestProvidersAreIndependent(t *testing.T) {
	t.Parallel()
	p1, p2 := oidctest.New(t), oidctest.New(t)
	if p1.Issuer() == p2.Issuer() {
		t.Fatal("same issuer")
	}
	for i, p := range []*oidctest.Provider{p1, p2} {
		p.AddClient("usher", "s", redirectURI)
		u := alice()
		u.Email = []string{"one@example.com", "two@example.com"}[i]
		p.AddUser(u)
	}
	p2.AddUser(oidctest.User{Subject: "bob", Email: "bob@example.com"})
	if _, ok := p1.User("bob"); ok {
		t.Error("a user added to p2 is at p1")
	}
	r1 := newRP(t, p1, "usher", "s", oauth2.AuthStyleInHeader)
	r2 := newRP(t, p2, "usher", "s", oauth2.AuthStyleInHeader)

	t.Run("parallel logins", func(t *testing.T) {
		for i, r := range []*rp{r1, r2} {
			want := []string{"one@example.com", "two@example.com"}[i]
			t.Run(want, func(t *testing.T) {
				t.Parallel()
				r := *r
				r.t = t
				for range 3 {
					if _, _, c := r.login("alice-sub"); c["email"] != want {
						t.Errorf("email %v, want %s", c["email"], want)
					}
				}
			})
		}
	})

	// A code from p1 is nothing at p2.
	f := r1.begin()
	code := r1.code(f, p1.Login(t, f.authURL, "alice-sub"))
	if _, err := r2.cfg.Exchange(r2.ctx, code, oauth2.VerifierOption(f.verifier)); err == nil {
		t.Error("p2 redeemed p1's code")
	}
	// p1's ID token does not verify with p2's keys, even under p2's issuer check
	// switched off.
	tok, _, _ := r1.finish(f, code)
	keys := oidc.NewRemoteKeySet(r2.ctx, jwksURI(t, r2.provider))
	v := oidc.NewVerifier(p1.Issuer(), keys, &oidc.Config{ClientID: "usher"})
	if _, err := v.Verify(r2.ctx, tok.Extra("id_token").(string)); err == nil {
		t.Error("p1's token verified with p2's keys")
	}

	p1.Stop()
	if _, err := oidc.NewProvider(r2.ctx, p2.Issuer()); err != nil {
		t.Errorf("p2 down with p1: %v", err)
	}
}

func jwksURI(t testing.TB, p *oidc.Provider) string {
	t.Helper()
	var d struct {
		JWKS string `json:"jwks_uri"`
	}
	if err := p.Claims(&d); err != nil || d.JWKS == "" {
		t.Fatalf("jwks_uri: %v", err)
	}
	return d.JWKS
}

// The ID token's raw JSON keeps the claim types a relying party decodes.
func TestClaimTypes(t *testing.T) {
	t.Parallel()
	p := oidctest.New(t, oidctest.GroupsInIDToken())
	p.AddClient("usher", "s", redirectURI)
	p.AddUser(alice())
	_, idt, _ := newRP(t, p, "usher", "s", oauth2.AuthStyleInHeader).login("alice-sub")
	var c struct {
		Email         string   `json:"email"`
		EmailVerified *bool    `json:"email_verified"`
		Name          string   `json:"name"`
		Groups        []string `json:"groups"`
		AMR           []string `json:"amr"`
		Nonce         string   `json:"nonce"`
	}
	if err := idt.Claims(&c); err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(c)
	if c.EmailVerified == nil || !*c.EmailVerified || c.Nonce == "" || len(c.Groups) != 2 || len(c.AMR) != 2 || c.Name == "" {
		t.Errorf("claims %s", b)
	}
}
