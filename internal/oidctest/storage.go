package oidctest

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/subtle"
	"errors"
	"fmt"
	"maps"
	"net/url"
	"slices"
	"strings"
	"sync"
	"time"

	jose "github.com/go-jose/go-jose/v4"
	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// groupsScope is the scope a relying party asks for to receive the groups
// claim. zitadel's op drops every scope outside the standard ones that the
// client's IsScopeAllowed does not allow, silently.
const groupsScope = "groups"

// authCodeLifetime bounds how long an issued code can be redeemed.
const authCodeLifetime = 10 * time.Minute

// storage is the in-memory op.Storage of one Provider. Everything it hands
// to the op is a copy, so the op never reads what a later call changes.
type storage struct {
	cfg    *config
	prefix string // the issuer's path, without a trailing slash

	key   *rsa.PrivateKey
	keyID string

	mu       sync.Mutex
	clients  map[string]Client
	users    map[string]User
	requests map[string]*authRequest
	codes    map[string]string // code -> auth request ID
	tokens   map[string]accessToken
	failNext *oidc.Error
}

type accessToken struct {
	subject  string
	clientID string
	scopes   []string
	expires  time.Time
}

var (
	_ op.Storage                   = (*storage)(nil)
	_ op.CanSetUserinfoFromRequest = (*storage)(nil)
)

func newStorage(cfg *config, prefix string) (*storage, error) {
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("oidctest: signing key: %w", err)
	}
	return &storage{
		cfg:      cfg,
		prefix:   prefix,
		key:      key,
		keyID:    rand.Text(),
		clients:  map[string]Client{},
		users:    map[string]User{},
		requests: map[string]*authRequest{},
		codes:    map[string]string{},
		tokens:   map[string]accessToken{},
	}, nil
}

// authRequest is one authorization request. The op receives copies
// (values), never the stored pointer.
type authRequest struct {
	id            string
	created       time.Time
	clientID      string
	redirectURI   string
	state         string
	nonce         string
	responseType  oidc.ResponseType
	responseMode  oidc.ResponseMode
	scopes        []string
	codeChallenge *oidc.CodeChallenge

	// Set by the login.
	done     bool
	subject  string
	amr      []string
	acr      string
	authTime time.Time
}

var _ op.AuthRequest = authRequest{}

func (a authRequest) clone() authRequest {
	a.scopes = slices.Clone(a.scopes)
	a.amr = slices.Clone(a.amr)
	if a.codeChallenge != nil {
		c := *a.codeChallenge
		a.codeChallenge = &c
	}
	return a
}

func (a authRequest) GetID() string                         { return a.id }
func (a authRequest) GetACR() string                        { return a.acr }
func (a authRequest) GetAMR() []string                      { return slices.Clone(a.amr) }
func (a authRequest) GetAudience() []string                 { return []string{a.clientID} }
func (a authRequest) GetAuthTime() time.Time                { return a.authTime }
func (a authRequest) GetClientID() string                   { return a.clientID }
func (a authRequest) GetCodeChallenge() *oidc.CodeChallenge { return a.codeChallenge }
func (a authRequest) GetNonce() string                      { return a.nonce }
func (a authRequest) GetRedirectURI() string                { return a.redirectURI }
func (a authRequest) GetResponseType() oidc.ResponseType    { return a.responseType }
func (a authRequest) GetResponseMode() oidc.ResponseMode    { return a.responseMode }
func (a authRequest) GetScopes() []string                   { return slices.Clone(a.scopes) }
func (a authRequest) GetState() string                      { return a.state }
func (a authRequest) GetSubject() string                    { return a.subject }
func (a authRequest) Done() bool                            { return a.done }

// opClient is a registered Client as the op sees it.
type opClient struct {
	c        Client
	prefix   string
	lifetime time.Duration
}

var _ op.Client = opClient{}

func (c opClient) GetID() string                    { return c.c.ID }
func (c opClient) RedirectURIs() []string           { return slices.Clone(c.c.RedirectURIs) }
func (c opClient) PostLogoutRedirectURIs() []string { return nil }
func (c opClient) ApplicationType() op.ApplicationType {
	if c.c.AuthMethod == AuthNone {
		return op.ApplicationTypeNative
	}
	return op.ApplicationTypeWeb
}

func (c opClient) AuthMethod() oidc.AuthMethod {
	switch c.c.AuthMethod {
	case AuthNone:
		return oidc.AuthMethodNone
	case AuthPost:
		return oidc.AuthMethodPost
	default:
		// Basic or either: zitadel takes the secret from the header or
		// the form alike; the Provider's handler enforces a strict choice.
		return oidc.AuthMethodBasic
	}
}

func (c opClient) ResponseTypes() []oidc.ResponseType {
	return []oidc.ResponseType{oidc.ResponseTypeCode}
}

func (c opClient) GrantTypes() []oidc.GrantType {
	return []oidc.GrantType{oidc.GrantTypeCode}
}

func (c opClient) LoginURL(id string) string {
	return c.prefix + loginPath + "?" + url.Values{"authRequestID": {id}}.Encode()
}

func (c opClient) AccessTokenType() op.AccessTokenType { return op.AccessTokenTypeBearer }
func (c opClient) IDTokenLifetime() time.Duration      { return c.lifetime }
func (c opClient) DevMode() bool                       { return false }
func (c opClient) ClockSkew() time.Duration            { return 0 }

func (c opClient) RestrictAdditionalIdTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c opClient) RestrictAdditionalAccessTokenScopes() func([]string) []string {
	return func(s []string) []string { return s }
}

func (c opClient) IsScopeAllowed(scope string) bool { return scope == groupsScope }

// IDTokenUserinfoClaimsAssertion puts the profile and email claims in the
// ID token itself; without it zitadel serves them from userinfo only.
func (c opClient) IDTokenUserinfoClaimsAssertion() bool { return true }

// --- op.AuthStorage ---

func (s *storage) CreateAuthRequest(_ context.Context, req *oidc.AuthRequest, userID string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if e := s.failNext; e != nil {
		s.failNext = nil
		clone := *e
		return nil, &clone
	}
	// No session is kept at this provider, so a silent login always needs
	// interaction.
	if slices.Contains(req.Prompt, oidc.PromptNone) {
		return nil, oidc.ErrLoginRequired()
	}
	a := &authRequest{
		id:           rand.Text(),
		created:      time.Now(),
		clientID:     req.ClientID,
		redirectURI:  req.RedirectURI,
		state:        req.State,
		nonce:        req.Nonce,
		responseType: req.ResponseType,
		responseMode: req.ResponseMode,
		scopes:       slices.Clone(req.Scopes),
		subject:      userID,
	}
	if req.CodeChallenge != "" {
		a.codeChallenge = &oidc.CodeChallenge{
			Challenge: req.CodeChallenge,
			Method:    req.CodeChallengeMethod,
		}
	}
	s.requests[a.id] = a
	return a.clone(), nil
}

func (s *storage) AuthRequestByID(_ context.Context, id string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return nil, errors.New("auth request not found")
	}
	return a.clone(), nil
}

func (s *storage) AuthRequestByCode(_ context.Context, code string) (op.AuthRequest, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	id, ok := s.codes[code]
	if !ok {
		return nil, errors.New("code invalid or already used")
	}
	a, ok := s.requests[id]
	if !ok {
		return nil, errors.New("code invalid or already used")
	}
	if time.Since(a.authTime) > authCodeLifetime {
		return nil, errors.New("code expired")
	}
	return a.clone(), nil
}

func (s *storage) SaveAuthCode(_ context.Context, id, code string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if _, ok := s.requests[id]; !ok {
		return errors.New("auth request not found")
	}
	s.codes[code] = id
	return nil
}

func (s *storage) DeleteAuthRequest(_ context.Context, id string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.deleteAuthRequestLocked(id)
	return nil
}

func (s *storage) deleteAuthRequestLocked(id string) {
	delete(s.requests, id)
	maps.DeleteFunc(s.codes, func(_, reqID string) bool { return reqID == id })
}

func (s *storage) CreateAccessToken(_ context.Context, req op.TokenRequest) (string, time.Time, error) {
	var clientID string
	if a, ok := req.(authRequest); ok {
		clientID = a.clientID
	} else {
		return "", time.Time{}, errors.New("only the authorization code flow is supported")
	}
	id := rand.Text()
	exp := time.Now().Add(s.cfg.tokenLifetime)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.tokens[id] = accessToken{
		subject:  req.GetSubject(),
		clientID: clientID,
		scopes:   slices.Clone(req.GetScopes()),
		expires:  exp,
	}
	return id, exp, nil
}

func (s *storage) CreateAccessAndRefreshTokens(context.Context, op.TokenRequest, string) (string, string, time.Time, error) {
	return "", "", time.Time{}, errors.New("refresh tokens are not supported")
}

func (s *storage) TokenRequestByRefreshToken(context.Context, string) (op.RefreshTokenRequest, error) {
	return nil, errors.New("refresh tokens are not supported")
}

func (s *storage) TerminateSession(context.Context, string, string) error { return nil }

func (s *storage) RevokeToken(_ context.Context, tokenOrID, _, clientID string) *oidc.Error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t, ok := s.tokens[tokenOrID]; ok {
		if t.clientID != clientID {
			return oidc.ErrInvalidClient().WithDescription("token was not issued for this client")
		}
		delete(s.tokens, tokenOrID)
	}
	return nil
}

func (s *storage) GetRefreshTokenInfo(context.Context, string, string) (string, string, error) {
	return "", "", op.ErrInvalidRefreshToken
}

type signingKey struct {
	id  string
	key *rsa.PrivateKey
}

func (k signingKey) SignatureAlgorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k signingKey) Key() any                                    { return k.key }
func (k signingKey) ID() string                                  { return k.id }

type publicKey struct {
	id  string
	key *rsa.PublicKey
}

func (k publicKey) ID() string                         { return k.id }
func (k publicKey) Algorithm() jose.SignatureAlgorithm { return jose.RS256 }
func (k publicKey) Use() string                        { return "sig" }
func (k publicKey) Key() any                           { return k.key }

func (s *storage) SigningKey(context.Context) (op.SigningKey, error) {
	return signingKey{id: s.keyID, key: s.key}, nil
}

func (s *storage) SignatureAlgorithms(context.Context) ([]jose.SignatureAlgorithm, error) {
	return []jose.SignatureAlgorithm{jose.RS256}, nil
}

func (s *storage) KeySet(context.Context) ([]op.Key, error) {
	return []op.Key{publicKey{id: s.keyID, key: &s.key.PublicKey}}, nil
}

// --- op.OPStorage ---

func (s *storage) GetClientByClientID(_ context.Context, id string) (op.Client, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return nil, errors.New("client not found")
	}
	c.RedirectURIs = slices.Clone(c.RedirectURIs)
	return opClient{c: c, prefix: s.prefix, lifetime: s.cfg.tokenLifetime}, nil
}

func (s *storage) AuthorizeClientIDSecret(_ context.Context, id, secret string) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.clients[id]
	if !ok {
		return errors.New("client not found")
	}
	if c.AuthMethod == AuthNone || c.Secret == "" {
		return errors.New("client has no secret")
	}
	if subtle.ConstantTimeCompare([]byte(c.Secret), []byte(secret)) != 1 {
		return errors.New("invalid secret")
	}
	return nil
}

// SetUserinfoFromScopes is deprecated in the op; SetUserinfoFromRequest
// does the work.
func (s *storage) SetUserinfoFromScopes(context.Context, *oidc.UserInfo, string, string, []string) error {
	return nil
}

func (s *storage) SetUserinfoFromRequest(_ context.Context, info *oidc.UserInfo, req op.IDTokenRequest, scopes []string) error {
	return s.setUserinfo(info, req.GetSubject(), scopes)
}

func (s *storage) SetUserinfoFromToken(_ context.Context, info *oidc.UserInfo, tokenID, _, _ string) error {
	s.mu.Lock()
	t, ok := s.tokens[tokenID]
	s.mu.Unlock()
	if !ok {
		return errors.New("token invalid")
	}
	if time.Now().After(t.expires) {
		return errors.New("token expired")
	}
	return s.setUserinfo(info, t.subject, t.scopes)
}

func (s *storage) setUserinfo(info *oidc.UserInfo, subject string, scopes []string) error {
	s.mu.Lock()
	u, ok := s.users[subject]
	s.mu.Unlock()
	if !ok {
		return errors.New("user not found")
	}
	info.Subject = u.Subject
	for _, scope := range scopes {
		switch scope {
		case oidc.ScopeEmail:
			info.Email = u.Email
			switch {
			case u.OmitEmailVerified:
			case u.EmailVerified:
				info.EmailVerified = true
			default:
				// oidc.UserInfo drops a false email_verified (omitempty);
				// a real provider says false out loud.
				info.AppendClaims("email_verified", false)
			}
		case oidc.ScopeProfile:
			info.Name = u.Name
		}
	}
	if s.cfg.groupsAlways || slices.Contains(scopes, groupsScope) {
		groups := slices.Clone(u.Groups)
		if groups == nil {
			groups = []string{}
		}
		info.AppendClaims(s.cfg.groupsClaim, groups)
	}
	return nil
}

func (s *storage) SetIntrospectionFromToken(context.Context, *oidc.IntrospectionResponse, string, string, string) error {
	return errors.New("introspection is not supported")
}

func (s *storage) GetPrivateClaimsFromScopes(context.Context, string, string, []string) (map[string]any, error) {
	return nil, nil
}

func (s *storage) GetKeyByIDAndClientID(context.Context, string, string) (*jose.JSONWebKey, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) ValidateJWTProfileScopes(context.Context, string, []string) ([]string, error) {
	return nil, errors.New("JWT profile is not supported")
}

func (s *storage) Health(context.Context) error { return nil }

// --- the login step ---

// errLogin is what the login page shows for a wrong username or password.
var errLogin = errors.New("wrong username or password")

// checkLogin finds the user by subject or email and checks the password.
func (s *storage) checkLogin(username, password string) (User, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	u, ok := s.users[username]
	if !ok {
		for _, v := range s.users {
			if v.Email != "" && strings.EqualFold(v.Email, username) {
				u, ok = v, true
				break
			}
		}
	}
	if !ok || subtle.ConstantTimeCompare([]byte(u.Password), []byte(password)) != 1 {
		return User{}, errLogin
	}
	return u, nil
}

// completeLogin marks the auth request done for u.
func (s *storage) completeLogin(id string, u User) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return errors.New("auth request not found")
	}
	if a.done {
		return errors.New("auth request already completed")
	}
	a.done = true
	a.subject = u.Subject
	a.amr = slices.Clone(u.AMR)
	a.acr = u.ACR
	a.authTime = time.Now()
	return nil
}

// takeAuthRequest removes the auth request and returns it, for a denial.
func (s *storage) takeAuthRequest(id string) (authRequest, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	a, ok := s.requests[id]
	if !ok {
		return authRequest{}, false
	}
	s.deleteAuthRequestLocked(id)
	return a.clone(), true
}
