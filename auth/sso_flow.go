package auth

import (
	"context"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"net/url"
	"strings"
	"time"
	"unicode/utf8"

	gooidc "github.com/coreos/go-oidc/v3/oidc"
	"golang.org/x/oauth2"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

// MethodSSO is the login method an SSO login records.
const MethodSSO = "sso"

// SSOFlow is a begun sign-on: send the browser to URL, and keep ID in a
// short-lived cookie (it is a bearer key to the flow's server-side state,
// used once, good for [oidc.FlowTimeout]) to pass back with the callback.
type SSOFlow struct {
	ID        string
	URL       string
	ExpiresAt time.Time
}

// maxSubjectLength is the longest subject usher links (OpenID Connect
// Core 1.0, 2: "MUST NOT exceed 255 ASCII characters").
const maxSubjectLength = 255

// maxCallbackValue bounds each callback parameter: a code, a state or an
// error description longer than this is no provider's.
const maxCallbackValue = 4096

// BeginSSO starts a login at provider id and returns where to send the
// browser. returnTo is the local path to go to afterwards
// ([LoginResult.ReturnTo]); anything but a path on this host is dropped.
// The state, nonce and PKCE S256 verifier stay server-side. A provider
// that is down answers [ErrProviderUnavailable]; each call spends the
// client IP's budget, as a password attempt does. c.Remember, the login
// page's "keep me signed in", is kept with the flow: the session
// [Manager.FinishSSO] opens is remembered when it was asked for here (or
// there).
func (m *Manager) BeginSSO(ctx context.Context, id, returnTo string, c Client) (*SSOFlow, error) {
	if err := m.ssoOn(); err != nil {
		return nil, err
	}
	c = c.clean()
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	return m.beginSSO(ctx, id, returnTo, "", c.Remember)
}

// beginSSO stores a flow for provider id (for linkUser, when set; with
// the login's remember choice) and builds the authorization URL.
func (m *Manager) beginSSO(ctx context.Context, id, returnTo string, linkUser user.ID, remember bool) (*SSOFlow, error) {
	p, err := m.enabledProvider(ctx, id)
	if err != nil {
		return nil, err
	}
	gp, err := m.discover(p)
	if err != nil {
		return nil, err
	}
	state, err := m.randomToken()
	if err != nil {
		return nil, err
	}
	nonce, err := m.randomToken()
	if err != nil {
		return nil, err
	}
	token, hash, fid, err := m.newBearer()
	if err != nil {
		return nil, err
	}
	now := m.clock()
	f := &oidc.Flow{ID: fid, ProviderID: p.ID, State: state, Nonce: nonce, Verifier: oauth2.GenerateVerifier(),
		ReturnTo: localPath(returnTo), LinkUser: linkUser, Remember: remember, CreatedAt: now, ExpiresAt: now.Add(oidc.FlowTimeout)}
	if err := m.store.Flows().Create(ctx, f, hash); err != nil {
		return nil, fmt.Errorf("auth: storing sign-on flow: %w", err)
	}
	conf := m.oauthConfig(p, gp, nil)
	u := conf.AuthCodeURL(state, gooidc.Nonce(nonce), oauth2.S256ChallengeOption(f.Verifier))
	return &SSOFlow{ID: token, URL: u, ExpiresAt: f.ExpiresAt}, nil
}

// randomToken is 32 random bytes in base64url.
func (m *Manager) randomToken() (string, error) {
	b, err := m.randomBytes(tokenBytes)
	if err != nil {
		return "", err
	}
	return base64.RawURLEncoding.EncodeToString(b), nil
}

// localPath keeps a return path only when it is a path on this host:
// "/x", not "//evil.example" nor "/\evil.example" nor a URL.
func localPath(p string) string {
	if len(p) > 2048 || !strings.HasPrefix(p, "/") || strings.HasPrefix(p, "//") || strings.HasPrefix(p, "/\\") {
		return ""
	}
	u, err := url.Parse(p)
	if err != nil || u.Scheme != "" || u.Host != "" || strings.ContainsAny(p, "\x00\r\n\t\\") {
		return ""
	}
	return p
}

// enabledProvider reads provider id and refuses it unless it is enabled.
func (m *Manager) enabledProvider(ctx context.Context, id string) (*oidc.Provider, error) {
	p, err := m.store.Providers().Get(ctx, id)
	if err != nil {
		return nil, err
	}
	if !p.Enabled {
		return nil, ErrProviderDisabled
	}
	return p, nil
}

// oauthConfig is p's OAuth 2.0 client. The auth style is set, not
// guessed: x/oauth2 would otherwise try the other style after a failure.
func (m *Manager) oauthConfig(p *oidc.Provider, gp *gooidc.Provider, secret []byte) *oauth2.Config {
	ep := gp.Endpoint()
	ep.AuthStyle = oauth2.AuthStyleInHeader
	return &oauth2.Config{
		ClientID: p.ClientID, ClientSecret: string(secret), Endpoint: ep,
		RedirectURL: m.ProviderCallbackURL(p.ID),
		Scopes:      append([]string{gooidc.ScopeOpenID, "email", "profile"}, p.Scopes...),
	}
}

// ssoClaims are what usher reads from an ID token.
type ssoClaims struct {
	Subject       string
	Email         string
	EmailVerified bool
	Name          string
	Groups        []string
	// HasGroups: the token holds the group claim at all. A provider may
	// leave it out (Entra does past 200 groups): then the mapping does
	// not apply, rather than demote.
	HasGroups bool
	AMR       []string
}

// ssoAnswer is a verified callback: the provider and who it vouches for.
type ssoAnswer struct {
	flow   *oidc.Flow
	p      *oidc.Provider
	issuer string
	claims ssoClaims
}

// FinishSSO completes a login with the provider's callback: flowID from
// the cookie, id the provider the callback URL names, query the callback's
// query. It returns what [Manager.Login] returns: a session, or a
// challenge when the provider requires the local second factor (or the
// user's group requires two-factor and the provider is not marked as
// satisfying it).
//
// It checks the state against the flow and the flow against the
// provider, exchanges the code with the PKCE verifier, verifies the ID
// token (signature, issuer, audience, expiry) and its nonce. The account
// is found by the (issuer, subject) it was linked with, never by email.
// A first login links an account with the same email only when the
// provider links by email and the token says email_verified; it creates
// one only when the provider provisions and the email, verified, is of an
// allowed domain. Otherwise [ErrSSONotLinked]. The provider's group
// mapping applies at every login.
//
// Errors: [ErrInvalidFlow] (also [ErrInvalidCredentials]) for a flow that
// is unknown, used, expired or another provider's, or a state that does
// not match; [*SSOError] for the provider's error response;
// [ErrInvalidCredentials] for a token that does not verify;
// [ErrSSONotLinked]; [ErrProviderUnavailable]; [ErrAccountDisabled]. Each
// is recorded in the audit trail with its reason; nothing is created or
// changed.
func (m *Manager) FinishSSO(ctx context.Context, flowID, id string, query url.Values, c Client) (*LoginResult, error) {
	if err := m.ssoOn(); err != nil {
		return nil, err
	}
	c = c.clean()
	if err := m.hitIP(ctx, c, ""); err != nil {
		return nil, err
	}
	ans, reason, err := m.verifyCallback(ctx, flowID, id, query, false)
	if err != nil {
		return nil, m.ssoFailed(ctx, nil, id, c, reason, err)
	}
	c.Remember = c.Remember || ans.flow.Remember
	return m.ssoLogin(ctx, ans, c)
}

// verifyCallback checks a callback against its flow and the provider, and
// returns the verified answer, or why it failed (for the audit trail) and
// the error to return.
func (m *Manager) verifyCallback(ctx context.Context, flowID, id string, q url.Values, link bool) (*ssoAnswer, string, error) {
	f, err := m.takeFlow(ctx, flowID)
	if err != nil {
		return nil, "unknown, used or expired flow", err
	}
	if f.ProviderID != id || (f.LinkUser != "") != link {
		return nil, "flow of another provider or purpose", fmt.Errorf("%w (%w)", ErrInvalidCredentials, ErrInvalidFlow)
	}
	state, code, perr, reason := callbackParams(q)
	switch {
	case reason != "":
		return nil, reason, fmt.Errorf("%w: %s", ErrInvalidCredentials, reason)
	case subtle.ConstantTimeCompare([]byte(state), []byte(f.State)) != 1:
		return nil, "state mismatch", fmt.Errorf("%w (%w)", ErrInvalidCredentials, ErrInvalidFlow)
	case perr != nil:
		return nil, "provider answered " + perr.Code, perr
	}
	p, err := m.enabledProvider(ctx, id)
	if err != nil {
		return nil, "provider not enabled", err
	}
	gp, err := m.discover(p)
	if err != nil {
		return nil, "provider down", err
	}
	ans := &ssoAnswer{flow: f, p: p, issuer: p.Issuer}
	if reason, err := m.exchange(ctx, p, gp, f, code, &ans.claims); err != nil {
		return nil, reason, err
	}
	return ans, "", nil
}

// takeFlow uses up the flow flowID names; unknown, used and expired are
// all ErrInvalidFlow.
func (m *Manager) takeFlow(ctx context.Context, flowID string) (*oidc.Flow, error) {
	hash := m.challengeHash(flowID)
	invalid := fmt.Errorf("%w (%w)", ErrInvalidCredentials, ErrInvalidFlow)
	if hash == nil {
		return nil, invalid
	}
	f, err := m.store.Flows().Take(ctx, hash)
	if errors.Is(err, oidc.ErrFlowNotFound) {
		return nil, invalid
	} else if err != nil {
		return nil, err
	}
	if !m.clock().Before(f.ExpiresAt) {
		return nil, invalid
	}
	return f, nil
}

// callbackParams reads the callback query: exactly one of each parameter,
// none too long. It returns the provider's error response as an
// *SSOError, or why the query is malformed.
func callbackParams(q url.Values) (state, code string, perr *SSOError, reason string) {
	one := func(k string) (string, bool) {
		v := q[k]
		if len(v) > 1 || len(v) == 1 && len(v[0]) > maxCallbackValue {
			reason = "malformed callback: " + k
			return "", false
		}
		if len(v) == 0 {
			return "", true
		}
		return v[0], true
	}
	state, _ = one("state")
	code, _ = one("code")
	e, _ := one("error")
	desc, _ := one("error_description")
	switch {
	case reason != "":
	case e != "":
		perr = &SSOError{Code: cleanField(e, 64), Description: cleanField(desc, 512)}
	case code == "" || state == "":
		reason = "malformed callback: no code or state"
	}
	return state, code, perr, reason
}

// exchange trades the code for tokens and verifies the ID token into c.
func (m *Manager) exchange(ctx context.Context, p *oidc.Provider, gp *gooidc.Provider, f *oidc.Flow, code string, c *ssoClaims) (string, error) {
	secret, err := m.providerSecret(p)
	if err != nil {
		return "client secret does not open", err
	}
	hctx := gooidc.ClientContext(ctx, m.httpClient())
	tok, err := m.oauthConfig(p, gp, secret).Exchange(hctx, code, oauth2.VerifierOption(f.Verifier))
	if err != nil {
		return "code exchange failed", fmt.Errorf("%w: code exchange: %v", ErrInvalidCredentials, err)
	}
	raw, _ := tok.Extra("id_token").(string)
	if raw == "" {
		return "no ID token", fmt.Errorf("%w: no ID token", ErrInvalidCredentials)
	}
	// Verifier, not VerifierContext: it uses the key set go-oidc caches
	// for the provider, fetched once and again only for an unknown key ID.
	idt, err := gp.Verifier(&gooidc.Config{ClientID: p.ClientID, Now: m.now}).Verify(hctx, raw)
	if err != nil {
		return "ID token invalid", fmt.Errorf("%w: ID token: %v", ErrInvalidCredentials, err)
	}
	if subtle.ConstantTimeCompare([]byte(idt.Nonce), []byte(f.Nonce)) != 1 {
		return "nonce mismatch", fmt.Errorf("%w: nonce mismatch", ErrInvalidCredentials)
	}
	return readClaims(idt, p.GroupClaim, c)
}

// readClaims reads the claims usher uses. email_verified missing counts
// as false; the group claim may be a list or one string.
func readClaims(idt *gooidc.IDToken, groupClaim string, c *ssoClaims) (string, error) {
	var std struct {
		Email         string   `json:"email"`
		EmailVerified any      `json:"email_verified"`
		Name          string   `json:"name"`
		AMR           []string `json:"amr"`
	}
	if err := idt.Claims(&std); err != nil {
		return "ID token claims unreadable", fmt.Errorf("%w: claims: %v", ErrInvalidCredentials, err)
	}
	if sub := idt.Subject; sub == "" || len(sub) > maxSubjectLength || !utf8.ValidString(sub) || strings.ContainsRune(sub, 0) {
		// OpenID Connect Core 1.0, 2: at most 255 ASCII characters; an
		// empty one would make every such token one identity.
		return "ID token subject unusable", fmt.Errorf("%w: the ID token's subject is empty, too long or not text", ErrInvalidCredentials)
	}
	c.Subject, c.Email, c.Name, c.AMR = idt.Subject, cut(std.Email, maxEmailInput), cut(std.Name, 1024), std.AMR
	if len(c.AMR) > 16 {
		c.AMR = c.AMR[:16]
	}
	c.EmailVerified = std.EmailVerified == true || std.EmailVerified == "true"
	if groupClaim != "" {
		var all map[string]any
		if err := idt.Claims(&all); err == nil {
			var v any
			v, c.HasGroups = all[groupClaim]
			c.Groups = stringsOf(v)
		}
	}
	return "", nil
}

// stringsOf reads a claim that is a string or a list of strings.
func stringsOf(v any) []string {
	switch v := v.(type) {
	case string:
		return []string{v}
	case []any:
		var out []string
		for _, x := range v {
			if s, ok := x.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}

// ssoFailed records a failed sign-on and returns err.
func (m *Manager) ssoFailed(ctx context.Context, u *user.User, provider string, c Client, reason string, err error) error {
	e := &audit.Event{
		Action: audit.LoginFailed, Outcome: audit.Failure, IP: c.IP, UserAgent: c.UserAgent, Reason: reason,
		Details: map[string]any{audit.DetailMethod: MethodSSO, audit.DetailProvider: cleanField(provider, 64)},
	}
	if u != nil {
		e.Actor = audit.Actor{ID: string(u.ID), Email: u.Email}
		e.Target = audit.Target{Type: audit.TargetUser, ID: string(u.ID)}
	}
	if rerr := m.atomic(ctx, func(_ Store, rec func(*audit.Event) error) error { return rec(e) }); rerr != nil {
		return fmt.Errorf("auth: recording failed login: %w", rerr)
	}
	return err
}
