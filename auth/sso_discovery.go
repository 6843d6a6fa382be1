package auth

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sync"
	"time"

	gooidc "github.com/coreos/go-oidc/v3/oidc"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
)

// Discovery retries: a provider that was down is asked again after
// minDiscoveryRetry, doubling with each failure up to maxDiscoveryRetry,
// so a host starts and serves whatever the state of its providers, and
// one that is down is not hammered.
const (
	minDiscoveryRetry = time.Second
	maxDiscoveryRetry = 5 * time.Minute
)

// discoveries caches each provider's discovery document and keys, by
// provider ID and issuer.
type discoveries struct {
	mu       sync.Mutex
	byID     map[string]*discovered
	inflight map[string]chan struct{} // closed when the discovery under way ends
}

type discovered struct {
	issuer   string
	provider *gooidc.Provider
	err      error
	fails    int
	retry    time.Time // no new attempt before, after a failure
}

// forget drops what was discovered of provider id (its settings changed).
func (m *Manager) forget(id string) {
	m.disc.mu.Lock()
	delete(m.disc.byID, id)
	m.disc.mu.Unlock()
}

// maxProviderResponse bounds what usher reads of any answer from a
// provider (discovery, keys, tokens): go-oidc and x/oauth2 read whole
// bodies, and a provider (or whatever an issuer URL points at) must not
// make a host read without end.
const maxProviderResponse = 1 << 20

// httpClient is the client every request to a provider goes through: the
// host's (or one with [DefaultSSOTimeout]), each answer cut at
// maxProviderResponse.
func (m *Manager) httpClient() *http.Client {
	c := &http.Client{Timeout: DefaultSSOTimeout}
	if h := m.cfg.SSO.HTTPClient; h != nil {
		cc := *h
		c = &cc
	}
	next := c.Transport
	if next == nil {
		next = http.DefaultTransport
	}
	c.Transport = limitedTransport{next}
	return c
}

// limitedTransport cuts every response body at maxProviderResponse.
type limitedTransport struct{ next http.RoundTripper }

func (t limitedTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	res, err := t.next.RoundTrip(r)
	if err == nil && res.Body != nil {
		res.Body = limitedBody{io.LimitReader(res.Body, maxProviderResponse), res.Body}
	}
	return res, err
}

type limitedBody struct {
	io.Reader
	io.Closer
}

// discover returns p's discovered provider, from the cache when it has
// one, and otherwise asks the provider, unless the last attempt failed
// less than its back-off ago: then the last error, an
// [ErrProviderUnavailable], comes back at once.
func (m *Manager) discover(p *oidc.Provider) (*gooidc.Provider, error) {
	for {
		m.disc.mu.Lock()
		d := m.disc.byID[p.ID]
		if d != nil && d.issuer == p.Issuer && (d.provider != nil || m.clock().Before(d.retry)) {
			m.disc.mu.Unlock()
			return d.provider, d.err
		}
		if wait, busy := m.disc.inflight[p.ID]; busy {
			// Another request is asking the provider: wait for its answer
			// rather than ask again (a provider that is slow or down
			// would otherwise get one request per login attempt).
			m.disc.mu.Unlock()
			<-wait
			continue
		}
		done := make(chan struct{})
		if m.disc.inflight == nil {
			m.disc.inflight = map[string]chan struct{}{}
		}
		m.disc.inflight[p.ID] = done
		m.disc.mu.Unlock()
		gp, err := m.fetchDiscovery(p.Issuer)
		m.disc.mu.Lock()
		delete(m.disc.inflight, p.ID)
		close(done)
		m.remember(p, gp, err)
		m.disc.mu.Unlock()
		return gp, err
	}
}

// remember stores the outcome of a discovery of p; the caller holds
// m.disc.mu.
func (m *Manager) remember(p *oidc.Provider, gp *gooidc.Provider, err error) {
	d := m.disc.byID[p.ID]
	if d == nil || d.issuer != p.Issuer {
		d = &discovered{issuer: p.Issuer}
		if m.disc.byID == nil {
			m.disc.byID = map[string]*discovered{}
		}
		m.disc.byID[p.ID] = d
	}
	if err != nil {
		d.fails++
		wait := min(maxDiscoveryRetry, minDiscoveryRetry<<min(d.fails-1, 20))
		d.provider, d.err, d.retry = nil, err, m.clock().Add(wait)
		m.log.Warn("usher: OIDC discovery failed", "provider", p.ID, "retry_in", wait, "err", err)
		return
	}
	d.provider, d.err, d.fails = gp, nil, 0
}

// fetchDiscovery asks the issuer for its discovery document, through
// go-oidc, which checks that the document names exactly this issuer. An
// https issuer whose endpoints are plain http is refused: the code
// exchange and the keys would travel in clear.
func (m *Manager) fetchDiscovery(issuer string) (*gooidc.Provider, error) {
	// The key set go-oidc keeps fetches later with the client of this
	// context: it must outlive the request that happened to discover.
	ctx := gooidc.ClientContext(context.Background(), m.httpClient())
	gp, err := gooidc.NewProvider(ctx, issuer)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
	}
	var doc struct {
		JWKS     string `json:"jwks_uri"`
		UserInfo string `json:"userinfo_endpoint"`
	}
	if err := gp.Claims(&doc); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrProviderUnavailable, err)
	}
	if u, _ := url.Parse(issuer); u != nil && u.Scheme == "https" {
		for _, ep := range []string{gp.Endpoint().AuthURL, gp.Endpoint().TokenURL, doc.JWKS, doc.UserInfo} {
			if e, err := url.Parse(ep); ep != "" && (err != nil || e.Scheme != "https") {
				return nil, fmt.Errorf("%w: the https issuer advertises the endpoint %q", ErrProviderUnavailable, ep)
			}
		}
	}
	return gp, nil
}

// DiscoveryReport is what [Manager.TestProvider] found at a provider.
type DiscoveryReport struct {
	Issuer          string
	AuthURL         string
	TokenURL        string
	JWKSURL         string
	UserInfoURL     string
	ScopesSupported []string
	ClaimsSupported []string
}

// TestProvider asks provider id for its discovery document now, whatever
// the cache holds, and reports what it found, or why it failed
// ([ErrProviderUnavailable]). It needs sso:manage.
func (m *Manager) TestProvider(ctx context.Context, actor *Principal, id string) (*DiscoveryReport, error) {
	if err := m.ssoOn(); err != nil {
		return nil, err
	}
	if err := m.deniedUnless(ctx, actor, group.SSOManage, providerTarget(id)); err != nil {
		return nil, err
	}
	p, err := m.store.Providers().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	m.forget(id)
	gp, err := m.discover(p)
	if err != nil {
		return nil, err
	}
	var doc struct {
		JWKS     string   `json:"jwks_uri"`
		UserInfo string   `json:"userinfo_endpoint"`
		Scopes   []string `json:"scopes_supported"`
		Claims   []string `json:"claims_supported"`
	}
	if err := gp.Claims(&doc); err != nil {
		return nil, err
	}
	return &DiscoveryReport{Issuer: p.Issuer, AuthURL: gp.Endpoint().AuthURL, TokenURL: gp.Endpoint().TokenURL,
		JWKSURL: doc.JWKS, UserInfoURL: doc.UserInfo, ScopesSupported: doc.Scopes, ClaimsSupported: doc.Claims}, nil
}
