// Package oidctest serves a real OpenID provider in-process for tests: the
// op package of github.com/zitadel/oidc/v3 (OpenID Certified) over plain
// HTTP on a loopback port, with in-memory clients and users of its own.
//
// Each Provider is independent (its own listener, RSA-2048 signing key,
// clients, users and auth requests), so tests may run many in parallel.
// It speaks the authorization code flow with PKCE (S256) and a nonce,
// signs ID tokens with RS256 and puts email, email_verified, name, groups,
// amr and acr in them. It has a real HTML login page, and helpers that log
// in without a browser and return the callback URL the browser would be
// sent to.
//
// A typical test:
//
//	p := oidctest.New(t)
//	p.AddClient("usher", "secret", "http://127.0.0.1:8080/callback")
//	p.AddUser(oidctest.User{Subject: "alice", Email: "alice@example.com", EmailVerified: true})
//	authURL := ... // built by the relying party from p.Issuer()
//	callback := p.Login(t, authURL, "alice")
//	// hand callback.Query() to the relying party
package oidctest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// Paths relative to the issuer, for RequestCount.
const (
	DiscoveryPath     = "/.well-known/openid-configuration"
	AuthorizationPath = "/authorize"
	TokenPath         = "/oauth/token"
	UserinfoPath      = "/userinfo"
	KeysPath          = "/keys"
	loginPath         = "/login"
)

// GroupsScope is the scope that asks for the groups claim.
const GroupsScope = groupsScope

// AuthMethod is how a client authenticates at the token endpoint.
type AuthMethod string

const (
	// AuthBasicOrPost accepts client_secret_basic and client_secret_post.
	AuthBasicOrPost AuthMethod = ""
	// AuthBasic accepts only client_secret_basic (HTTP Basic).
	AuthBasic AuthMethod = "client_secret_basic"
	// AuthPost accepts only client_secret_post (secret in the form).
	AuthPost AuthMethod = "client_secret_post"
	// AuthNone is a public client: no secret, PKCE required.
	AuthNone AuthMethod = "none"
)

// Client is a relying party registered at the provider. Redirect URIs must
// match exactly.
type Client struct {
	ID           string
	Secret       string
	RedirectURIs []string
	AuthMethod   AuthMethod
}

// User is an account at the provider.
type User struct {
	Subject       string // the sub claim; also a login name
	Email         string // also a login name (case-insensitive)
	EmailVerified bool
	// OmitEmailVerified leaves email_verified out of the tokens; otherwise
	// it is sent as true or false.
	OmitEmailVerified bool
	Name              string
	Groups            []string // sent as a JSON array, [] when empty
	// Password for the login page. AddUser and SetUser fill an empty one
	// with a random password, which Login knows.
	Password string
	AMR      []string // the amr claim, left out when empty
	ACR      string   // the acr claim, left out when empty
}

type config struct {
	tokenLifetime time.Duration
	groupsAlways  bool
	groupsClaim   string
	issuerPath    string
}

// Option configures a Provider.
type Option func(*config)

// GroupsInIDToken sends the groups claim in every ID token and userinfo
// answer; by default it is sent only when the client asks for the
// "groups" scope.
func GroupsInIDToken() Option {
	return func(c *config) { c.groupsAlways = true }
}

// WithGroupsClaim names the claim that carries the groups (default
// "groups"). The scope that asks for it stays "groups".
func WithGroupsClaim(name string) Option {
	return func(c *config) { c.groupsClaim = name }
}

// WithTokenLifetime sets how long ID and access tokens are valid (default
// 10 minutes).
func WithTokenLifetime(d time.Duration) Option {
	return func(c *config) { c.tokenLifetime = d }
}

// WithIssuerPath serves the provider under a path, as Keycloak
// ("/realms/NAME") or Authentik ("/application/o/SLUG/", with its
// trailing slash) do; the issuer is the server's origin plus the path,
// exactly.
func WithIssuerPath(path string) Option {
	return func(c *config) { c.issuerPath = path }
}

// Provider is a running OpenID provider.
type Provider struct {
	issuer string
	origin string // scheme://host:port
	prefix string // issuer path without trailing slash
	addr   string

	storage   *storage
	op        *op.Provider
	handler   http.Handler
	transport *http.Transport

	unavailable atomic.Bool

	mu      sync.Mutex // guards the server across Stop and Start
	srv     *http.Server
	served  chan struct{}
	stopped bool

	countsMu sync.Mutex
	counts   map[string]int
}

// New starts a provider on a random loopback port and stops it when the
// test ends.
func New(t testing.TB, opts ...Option) *Provider {
	t.Helper()
	p, err := start(opts...)
	if err != nil {
		t.Fatalf("oidctest: %v", err)
	}
	t.Cleanup(p.close)
	return p
}

func start(opts ...Option) (*Provider, error) {
	cfg := &config{tokenLifetime: 10 * time.Minute, groupsClaim: "groups"}
	for _, o := range opts {
		o(cfg)
	}
	if cfg.issuerPath != "" && !strings.HasPrefix(cfg.issuerPath, "/") {
		return nil, fmt.Errorf("issuer path %q must start with /", cfg.issuerPath)
	}
	if cfg.tokenLifetime <= 0 {
		return nil, errors.New("token lifetime must be positive")
	}

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, err
	}
	p := &Provider{
		addr:   ln.Addr().String(),
		origin: "http://" + ln.Addr().String(),
		prefix: strings.TrimSuffix(cfg.issuerPath, "/"),
		counts: map[string]int{},
	}
	p.issuer = p.origin + cfg.issuerPath

	p.storage, err = newStorage(cfg, p.prefix)
	if err != nil {
		ln.Close()
		return nil, err
	}
	var cryptoKey [32]byte
	rand.Read(cryptoKey[:])
	opCfg := &op.Config{
		CryptoKey:      cryptoKey,
		CodeMethodS256: true,
		AuthMethodPost: true,
		SupportedScopes: []string{
			oidc.ScopeOpenID, oidc.ScopeProfile, oidc.ScopeEmail, groupsScope,
		},
		SupportedClaims: append(slices.Clone(op.DefaultSupportedClaims),
			"email", "email_verified", "name", cfg.groupsClaim),
	}
	p.op, err = op.NewProvider(opCfg, p.storage, op.StaticIssuer(p.issuer), op.WithAllowInsecure())
	if err != nil {
		ln.Close()
		return nil, err
	}

	mux := http.NewServeMux()
	mux.HandleFunc(loginPath, p.serveLogin)
	mux.Handle(TokenPath, p.checkClientAuth(p.op))
	mux.Handle("/", p.op)
	var h http.Handler = mux
	if p.prefix != "" {
		h = http.StripPrefix(p.prefix, mux)
	}
	p.handler = h

	p.transport = http.DefaultTransport.(*http.Transport).Clone()
	p.serve(ln)
	return p, nil
}

// serveHTTP counts the request and answers it, or answers 503 while the
// provider is unavailable.
func (p *Provider) serveHTTP(w http.ResponseWriter, r *http.Request) {
	path := strings.TrimPrefix(r.URL.Path, p.prefix)
	p.countsMu.Lock()
	p.counts[path]++
	p.countsMu.Unlock()
	if p.unavailable.Load() {
		http.Error(w, "provider unavailable", http.StatusServiceUnavailable)
		return
	}
	p.handler.ServeHTTP(w, r)
}

func (p *Provider) serve(ln net.Listener) {
	srv := &http.Server{Handler: http.HandlerFunc(p.serveHTTP), ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	p.srv, p.served = srv, done
	go func() {
		defer close(done)
		srv.Serve(ln)
	}()
}

// Issuer is the issuer URL, exactly as the provider writes it in
// discovery and tokens.
func (p *Provider) Issuer() string { return p.issuer }

// Addr is the host:port the provider listens on, the same across Stop and
// Start.
func (p *Provider) Addr() string { return p.addr }

// Stop closes the listener and every connection: the relying party sees
// connection refused until Start. Stop is idempotent.
func (p *Provider) Stop() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.stopped {
		return
	}
	p.stopped = true
	p.srv.Close()
	<-p.served
	p.transport.CloseIdleConnections()
}

// Start listens again on the same address with the same issuer, keys,
// clients, users and pending auth requests. It panics if the port cannot
// be had back within a few seconds. Start on a running provider does
// nothing.
func (p *Provider) Start() {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.stopped {
		return
	}
	var ln net.Listener
	var err error
	for deadline := time.Now().Add(5 * time.Second); ; {
		ln, err = net.Listen("tcp", p.addr)
		if err == nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if err != nil {
		panic(fmt.Sprintf("oidctest: listen again on %s: %v", p.addr, err))
	}
	p.stopped = false
	p.serve(ln)
}

// SetUnavailable makes every request (discovery included) answer 503
// Service Unavailable while on, as a provider behind a proxy whose backend
// is down; the port stays open.
func (p *Provider) SetUnavailable(on bool) { p.unavailable.Store(on) }

// RequestCount is how many requests reached path (relative to the issuer,
// e.g. DiscoveryPath or TokenPath), 503 answers included.
func (p *Provider) RequestCount(path string) int {
	p.countsMu.Lock()
	defer p.countsMu.Unlock()
	return p.counts[path]
}

func (p *Provider) close() {
	p.Stop()
	p.transport.CloseIdleConnections()
}

// AddClient registers a confidential client that authenticates with
// client_secret_basic or client_secret_post.
func (p *Provider) AddClient(id, secret string, redirectURIs ...string) {
	p.RegisterClient(Client{ID: id, Secret: secret, RedirectURIs: redirectURIs})
}

// AddPublicClient registers a public client: no secret, PKCE required.
func (p *Provider) AddPublicClient(id string, redirectURIs ...string) {
	p.RegisterClient(Client{ID: id, RedirectURIs: redirectURIs, AuthMethod: AuthNone})
}

// RegisterClient registers c, replacing a client with the same ID. It
// panics on a client without ID or redirect URI, or a confidential client
// without secret.
func (p *Provider) RegisterClient(c Client) {
	switch {
	case c.ID == "":
		panic("oidctest: client without ID")
	case len(c.RedirectURIs) == 0:
		panic("oidctest: client " + c.ID + " without redirect URI")
	case c.AuthMethod != AuthNone && c.Secret == "":
		panic("oidctest: confidential client " + c.ID + " without secret")
	}
	switch c.AuthMethod {
	case AuthBasicOrPost, AuthBasic, AuthPost, AuthNone:
	default:
		panic("oidctest: unknown auth method " + string(c.AuthMethod))
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.clients[c.ID] = c
}

// AddUser adds an account. It panics if the subject is empty or taken.
func (p *Provider) AddUser(u User) {
	p.putUser(u, false)
}

// SetUser replaces the account with u's subject, e.g. to change its groups
// or email; tokens issued from then on carry the new claims. It panics if
// there is no such account.
func (p *Provider) SetUser(u User) {
	p.putUser(u, true)
}

func (p *Provider) putUser(u User, replace bool) {
	if u.Subject == "" {
		panic("oidctest: user without subject")
	}
	u.Groups = slices.Clone(u.Groups)
	u.AMR = slices.Clone(u.AMR)
	if u.Password == "" {
		u.Password = rand.Text()
	}
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	_, exists := p.storage.users[u.Subject]
	switch {
	case replace && !exists:
		panic("oidctest: SetUser: no user " + u.Subject)
	case !replace && exists:
		panic("oidctest: AddUser: user " + u.Subject + " exists")
	}
	p.storage.users[u.Subject] = u
}

// User returns the account with that subject, its password included.
func (p *Provider) User(subject string) (User, bool) {
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	u, ok := p.storage.users[subject]
	u.Groups = slices.Clone(u.Groups)
	u.AMR = slices.Clone(u.AMR)
	return u, ok
}

// FailNextAuthorization makes the next authorization request answer the
// error code (e.g. "access_denied", "temporarily_unavailable") to the
// client's redirect URI at once, with the request's state, as a provider
// that refuses before any login page.
func (p *Provider) FailNextAuthorization(errCode string) {
	e := &oidc.Error{Description: "oidctest: refused on purpose"}
	setErrorType(&e.ErrorType, errCode)
	p.storage.mu.Lock()
	defer p.storage.mu.Unlock()
	p.storage.failNext = e
}

// setErrorType sets an oidc.Error's code: its type is unexported, so it
// is named here by inference.
func setErrorType[T ~string](dst *T, code string) { *dst = T(code) }

// checkClientAuth enforces a client's strict choice between
// client_secret_basic and client_secret_post; zitadel takes either.
func (p *Provider) checkClientAuth(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.ParseForm() != nil {
			next.ServeHTTP(w, r)
			return
		}
		id, _, basic := r.BasicAuth()
		if basic {
			id, _ = url.QueryUnescape(id)
		} else {
			id = r.PostForm.Get("client_id")
		}
		p.storage.mu.Lock()
		c, ok := p.storage.clients[id]
		p.storage.mu.Unlock()
		var wrong string
		switch {
		case !ok:
		case c.AuthMethod == AuthBasic && !basic:
			wrong = "client must authenticate with client_secret_basic"
		case c.AuthMethod == AuthPost && basic:
			wrong = "client must authenticate with client_secret_post"
		}
		if wrong == "" {
			next.ServeHTTP(w, r)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		w.Header().Set("Cache-Control", "no-store")
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, `{"error":"invalid_client","error_description":%q}`, wrong)
	})
}
