package auth

import (
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/usher-go/usher/oidc"
)

// SSOConfig sets up single sign-on with OpenID Connect providers. Admins
// with sso:manage add providers at runtime ([Manager.CreateProvider]); the
// host may also declare some here.
type SSOConfig struct {
	// CallbackURL is the host's callback page, where providers send people
	// back, with "{id}" standing for the provider's ID:
	// "https://admin.example.com/sso/{id}/callback". It is the redirect URI
	// to register at each provider ([Manager.ProviderCallbackURL]). Empty
	// leaves single sign-on off.
	CallbackURL string
	// Providers are the host's own: [New] writes each to the store
	// (creating or updating it), and admins cannot edit or remove them.
	Providers []DeclaredProvider
	// HTTPClient makes every request to the providers: discovery, keys,
	// the code exchange. nil means a client with [DefaultSSOTimeout]. Set
	// one for a proxy or a private CA.
	HTTPClient *http.Client
}

// DeclaredProvider is a provider the host declares in Config, with its
// client secret in clear (sealed when stored, as an admin's would be).
type DeclaredProvider struct {
	oidc.Provider
	ClientSecret string
}

// DefaultSSOTimeout bounds each request to a provider when
// SSOConfig.HTTPClient is nil.
const DefaultSSOTimeout = 10 * time.Second

// enabled reports whether single sign-on is set up.
func (sc *SSOConfig) enabled() bool { return sc.CallbackURL != "" }

// check refuses a callback URL that is not an absolute http(s) URL with
// one "{id}", and declared providers that break the provider rules.
func (sc *SSOConfig) check() error {
	if !sc.enabled() {
		if len(sc.Providers) > 0 {
			return errors.New("SSO: Providers are declared but CallbackURL is empty")
		}
		return nil
	}
	if strings.Count(sc.CallbackURL, "{id}") != 1 {
		return fmt.Errorf("SSO.CallbackURL %q must hold \"{id}\" once", sc.CallbackURL)
	}
	u, err := url.Parse(strings.Replace(sc.CallbackURL, "{id}", "x", 1))
	if err != nil || (u.Scheme != "https" && u.Scheme != "http") || u.Host == "" || u.Fragment != "" {
		return fmt.Errorf("SSO.CallbackURL %q is not an absolute http(s) URL", sc.CallbackURL)
	}
	seen := map[string]bool{}
	for i := range sc.Providers {
		p := &sc.Providers[i].Provider
		if err := oidc.NormalizeProvider(p); err != nil {
			return fmt.Errorf("SSO.Providers[%d]: %w", i, err)
		}
		if seen[p.ID] {
			return fmt.Errorf("SSO.Providers[%d]: the ID %q is declared twice", i, p.ID)
		}
		seen[p.ID] = true
	}
	return nil
}

// callbackURL is the redirect URI of provider id.
func (sc *SSOConfig) callbackURL(id string) string {
	return strings.Replace(sc.CallbackURL, "{id}", id, 1)
}

// declared reports whether the host declares provider id.
func (sc *SSOConfig) declared(id string) bool {
	for _, d := range sc.Providers {
		if d.ID == id {
			return true
		}
	}
	return false
}
