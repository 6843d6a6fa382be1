package oidc

import (
	"errors"
	"time"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Provider is one OpenID provider people may log in with.
type Provider struct {
	// ID names the provider in URLs and events: 1 to [MaxIDLength]
	// lowercase letters, digits, '-' and '_' ([CheckID]). It never changes.
	ID string
	// Name is what the login button says.
	Name string
	// Preset is how the issuer was built ([Preset]); "" or "generic" for an
	// issuer entered as is.
	Preset string
	// Issuer is the provider's issuer URL, exactly as its discovery
	// document states it.
	Issuer   string
	ClientID string
	// KeyID and SealedSecret are the client secret, sealed by the Manager
	// under the host's key KeyID. Empty for a public client.
	KeyID        string
	SealedSecret []byte
	// Scopes are asked for besides "openid email profile", which always
	// are.
	Scopes []string
	// Enabled providers are offered at login.
	Enabled bool

	// LinkByEmail lets a first login link an existing local account with
	// the same email, when the ID token says email_verified is true. Only
	// for providers that verify the emails they vouch for.
	LinkByEmail bool
	// Provisioning creates a local account at the first login of someone
	// who has none, in DefaultGroup, if the email's domain is in
	// AllowedDomains (empty: none is allowed).
	Provisioning   bool
	AllowedDomains []string
	DefaultGroup   group.ID

	// GroupClaim names the ID token claim holding the IdP's groups (e.g.
	// "groups"); empty for no mapping. GroupMap maps an IdP group to a
	// local group, applied at every login.
	GroupClaim string
	GroupMap   map[string]group.ID

	// RequireSecondFactor asks for the local second factor after the
	// provider's login, as after a password.
	RequireSecondFactor bool
	// SatisfiesTwoFactor is the admin's word that the provider enforces
	// multi-factor authentication: its logins satisfy a group's
	// RequireTwoFactor.
	SatisfiesTwoFactor bool

	// Version counts the record's writes, as for users and groups: an
	// update names the Version it read.
	Version   int64
	CreatedAt time.Time
	UpdatedAt time.Time
}

// Identity links an account at a provider to a local user.
type Identity struct {
	// Issuer and Subject identify the account at the provider: together
	// they are unique.
	Issuer  string
	Subject string
	// ProviderID is the provider the identity was linked through.
	ProviderID string
	UserID     user.ID
	// Email is the address the provider gave at the last login.
	Email       string
	CreatedAt   time.Time
	LastLoginAt time.Time // zero until the first login after linking
}

// Flow is the server-side state of one login begun at a provider: the
// client holds only a random key to it, in a short-lived cookie. A flow is
// used once: taking it deletes it.
type Flow struct {
	ID         string
	ProviderID string
	// State and Nonce are the values sent to the provider; Verifier is the
	// PKCE S256 code verifier.
	State    string
	Nonce    string
	Verifier string
	// ReturnTo is the local path to go to after the login.
	ReturnTo string
	// LinkUser is set when a signed-in user links the provider to their
	// account, rather than logging in.
	LinkUser user.ID
	// Remember is the login page's "keep me signed in", asked when the
	// login began: the callback comes back from the provider without it.
	Remember  bool
	CreatedAt time.Time
	ExpiresAt time.Time
}

// FlowTimeout is how long a begun login waits for the provider's callback.
const FlowTimeout = 10 * time.Minute

// Errors returned by this package and by every [Store].
var (
	// ErrNotFound: no such provider or identity.
	ErrNotFound = errors.New("oidc: not found")
	// ErrFlowNotFound: no pending flow under that key (never begun,
	// already used, or pruned).
	ErrFlowNotFound = errors.New("oidc: flow not found")
	// ErrProviderExists: a provider with that ID exists already.
	ErrProviderExists = errors.New("oidc: provider already exists")
	// ErrIdentityTaken: the (issuer, subject) is linked to a user already.
	ErrIdentityTaken = errors.New("oidc: identity already linked")
	// ErrStale: the provider changed since its Version was read.
	ErrStale = errors.New("oidc: provider changed since it was read")
	// ErrInvalidProvider: a provider field breaks its rule; the message
	// names the field.
	ErrInvalidProvider = errors.New("oidc: invalid provider")
)
