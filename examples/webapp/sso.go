package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/oidc"
)

// The cookies that carry a begun sign-on's flow ID (a bearer key to the
// flow's server-side state, used once) from the login button to the
// provider's callback. __Host- (Secure, Path=/, no Domain) and HttpOnly
// like the app's other cookies, but SameSite=Lax: the callback is a
// top-level GET that the provider's page starts, another site, and a
// Strict cookie would not come back with it. A link, begun by a signed-in
// user on the Security page, has a cookie of its own, so the callback
// knows which of FinishSSO and FinishSSOLink the flow is for.
const (
	ssoCookie     = "__Host-usher_sso"
	ssoLinkCookie = "__Host-usher_sso_link"
)

func setFlowCookie(w http.ResponseWriter, name string, f *auth.SSOFlow, now func() int) {
	http.SetCookie(w, &http.Cookie{
		Name: name, Value: f.ID, Path: "/", Expires: f.ExpiresAt,
		MaxAge: max(int(f.ExpiresAt.Unix())-now(), 1),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

func clearFlowCookie(w http.ResponseWriter, name string) {
	http.SetCookie(w, &http.Cookie{Name: name, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode})
}

func (s *server) unix() int { return int(s.now().Unix()) }

// providerName is what the pages call provider id: its login button's
// name when it is enabled, else its ID.
func (s *server) providerName(ctx context.Context, id string) string {
	ps, _ := s.m.LoginProviders(ctx)
	for _, p := range ps {
		if p.ID == id {
			return p.Name
		}
	}
	return id
}

// formActionCSP is the Content-Security-Policy of a page whose forms lead
// to a provider: the login page's buttons and the Security page's Link
// buttons post here, and the answer redirects to the provider's
// authorization endpoint, which browsers check against form-action too.
// It allows the origins of the enabled providers' issuers, where their
// authorization endpoints are (a provider whose endpoint is on another
// host would need that host here).
func (s *server) formActionCSP(ctx context.Context) string {
	if !s.sso {
		return contentSecurityPolicy
	}
	ps, err := s.m.LoginProviders(ctx)
	if err != nil {
		s.log.Warn("listing providers for the CSP", "err", err)
		return contentSecurityPolicy
	}
	var origins []string
	for _, p := range ps {
		u, err := url.Parse(p.Issuer)
		if err != nil || u.Host == "" {
			continue
		}
		if o := u.Scheme + "://" + u.Host; !slices.Contains(origins, o) {
			origins = append(origins, o)
		}
	}
	if len(origins) == 0 {
		return contentSecurityPolicy
	}
	return strings.Replace(contentSecurityPolicy, "form-action 'self'", "form-action 'self' "+strings.Join(origins, " "), 1)
}

// passwordForm reports whether the login page shows the password form:
// unless password login is off and a provider is enabled (usher's rule
// for ErrPasswordLoginDisabled).
func (s *server) passwordForm(providers []auth.LoginProvider) bool {
	return !s.noPasswordLogin || len(providers) == 0
}

// loginView is the login page with the providers' buttons.
func (s *server) loginView(ctx context.Context, d *loginData) (*view, error) {
	var err error
	if d.Providers, err = s.m.LoginProviders(ctx); err != nil {
		return nil, err
	}
	d.PasswordForm = s.passwordForm(d.Providers)
	d.Passkeys = s.passwordless
	return &view{Title: "Log in", Data: d}, nil
}

// beginSSO is a login button: it begins the sign-on and sends the browser
// to the provider.
func (s *server) beginSSO(w http.ResponseWriter, r *http.Request) {
	id, next := r.PathValue("id"), localPath(r.PostFormValue("next"))
	c := auth.ClientFrom(r)
	c.Remember = r.PostFormValue("remember") != "" // usher keeps it for the callback
	f, err := s.m.BeginSSO(r.Context(), id, next, c)
	if err != nil {
		s.ssoLoginFailed(w, r, id, next, err)
		return
	}
	clearFlowCookie(w, ssoLinkCookie)
	setFlowCookie(w, ssoCookie, f, s.unix)
	redirect(w, r, f.URL)
}

// ssoCallback is where the provider sends the browser back: a login's
// callback, or a link's when the link cookie is here and someone is
// signed in.
func (s *server) ssoCallback(w http.ResponseWriter, r *http.Request) {
	p, signedIn := auth.PrincipalFrom(r.Context())
	if c, err := r.Cookie(ssoLinkCookie); err == nil && c.Value != "" && signedIn {
		clearFlowCookie(w, ssoLinkCookie)
		s.finishSSOLink(w, r, p, c.Value)
		return
	}
	id := r.PathValue("id")
	flowID := ""
	if c, err := r.Cookie(ssoCookie); err == nil {
		flowID = c.Value
	}
	clearFlowCookie(w, ssoCookie)
	// No cookie is an invalid flow too: usher says so, and audits it.
	res, err := s.m.FinishSSO(r.Context(), flowID, id, r.URL.Query(), auth.ClientFrom(r))
	if err != nil {
		s.ssoLoginFailed(w, r, id, "/", err)
		return
	}
	// A login in this browser ends whatever login was here before.
	if err := s.m.Logout(r.Context(), auth.TokenFrom(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	next := "/"
	if res.ReturnTo != "" {
		next = localPath(res.ReturnTo)
	}
	if ch := res.Challenge; ch != nil {
		// Lax, not Strict as after a password: this response ends a
		// redirect chain that the provider's site began, and the 2FA page
		// it redirects to must see the cookie.
		http.SetCookie(w, &http.Cookie{
			Name: challengeCookie, Value: ch.Token, Path: "/",
			MaxAge: max(int(ch.ExpiresAt.Sub(s.now()).Seconds()), 1), Expires: ch.ExpiresAt,
			Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
		})
		redirect(w, r, "/login/2fa?"+url.Values{"next": {next}, "methods": {strings.Join(ch.Methods, ",")}}.Encode())
		return
	}
	clearChallenge(w)
	s.m.SetSessionCookie(w, res.Session)
	redirect(w, r, next)
}

// ssoLoginFailed shows the login page with what went wrong at provider id.
func (s *server) ssoLoginFailed(w http.ResponseWriter, r *http.Request, id, next string, err error) {
	prob, ok := ssoWords(err, s.providerName(r.Context(), id))
	if !ok {
		if prob, ok = words(err); !ok {
			s.fail(w, r, err)
			return
		}
	}
	v, verr := s.loginView(r.Context(), &loginData{Next: next})
	if verr != nil {
		s.fail(w, r, verr)
		return
	}
	v.Error = prob.msg
	if errors.Is(err, auth.ErrThrottled) {
		var te *auth.ThrottledError
		if errors.As(err, &te) {
			w.Header().Set("Retry-After", fmt.Sprint(max(int(te.RetryAfter.Seconds()), 1)))
		}
	}
	s.render(w, r, prob.status, "login", v)
}

// ssoWords says what went wrong with a sign-on at the provider named name.
// Several of these errors are also ErrInvalidCredentials, so they are
// matched before words' cases.
func ssoWords(err error, name string) (problem, bool) {
	var se *auth.SSOError
	switch {
	case errors.As(err, &se) && se.Code == "access_denied":
		return problem{http.StatusUnauthorized, "", "You cancelled the sign-in at " + name + "."}, true
	case errors.As(err, &se):
		msg := name + " could not sign you in (" + se.Code + ")"
		if se.Description != "" {
			msg += ": " + se.Description
		}
		return problem{http.StatusUnauthorized, "", msg + "."}, true
	case errors.Is(err, auth.ErrSSONotLinked):
		return problem{http.StatusForbidden, "", "Your " + name + " account cannot sign in here: " + notLinkedReason(err) + "."}, true
	case errors.Is(err, auth.ErrInvalidFlow):
		return problem{http.StatusBadRequest, "", "This sign-in expired, was already used, or was begun in another browser. Start again."}, true
	case errors.Is(err, auth.ErrProviderUnavailable):
		return problem{http.StatusServiceUnavailable, "", name + " cannot be reached right now. Try again in a moment, or log in another way."}, true
	case errors.Is(err, auth.ErrProviderDisabled), errors.Is(err, oidc.ErrNotFound), errors.Is(err, auth.ErrSSODisabled):
		return problem{http.StatusNotFound, "", "Signing in with " + name + " is not offered here."}, true
	case errors.Is(err, oidc.ErrIdentityTaken):
		return problem{http.StatusConflict, "", "That " + name + " account is linked to another account here already."}, true
	case errors.Is(err, auth.ErrInvalidCredentials) && !errors.Is(err, auth.ErrThrottled):
		return problem{http.StatusUnauthorized, "", name + "'s answer could not be verified, so you were not signed in. Try again."}, true
	}
	return problem{}, false
}

// notLinkedReason is the why of an ErrSSONotLinked.
func notLinkedReason(err error) string {
	if nl, ok := errors.AsType[*auth.NotLinkedError](err); ok {
		return nl.Reason
	}
	return "no account here is linked to it"
}

// ssoProfileWords says what went wrong with linking or unlinking, on the
// Security page.
func ssoProfileWords(err error) (problem, bool) {
	switch {
	case errors.Is(err, auth.ErrLastLoginMethod):
		return problem{http.StatusConflict, "", "This is your last way to log in besides your password. Enter your password to unlink it: that proves the password still works."}, true
	case errors.Is(err, oidc.ErrNotFound):
		return problem{http.StatusNotFound, "", "That linked account is gone already."}, true
	}
	return problem{}, false
}

// linkedIdentity is a linked account as the Security page shows it.
type linkedIdentity struct {
	oidc.Identity
	Name string // the provider's
	Ask  bool   // the last unlink attempt needs the password
}

// ssoState is what the Security page shows of single sign-on.
type ssoState struct {
	On     bool
	Fresh  bool // linking needs no password
	Linked []linkedIdentity
	// Offer are the enabled providers not linked yet.
	Offer []auth.LoginProvider
}

func (s *server) ssoSecurity(ctx context.Context, p *auth.Principal) (ssoState, error) {
	st := ssoState{On: s.sso, Fresh: s.m.Fresh(p)}
	if !s.sso {
		return st, nil
	}
	ids, err := s.m.LinkedIdentities(ctx, p)
	if err != nil {
		return st, err
	}
	enabled, err := s.m.LoginProviders(ctx)
	if err != nil {
		return st, err
	}
	linked := map[string]bool{}
	for _, id := range ids {
		li := linkedIdentity{Identity: id, Name: id.ProviderID}
		for _, e := range enabled {
			if e.ID == id.ProviderID {
				li.Name = e.Name
			}
		}
		st.Linked = append(st.Linked, li)
		linked[id.ProviderID] = true
	}
	for _, e := range enabled {
		if !linked[e.ID] {
			st.Offer = append(st.Offer, e)
		}
	}
	return st, nil
}

// beginSSOLink is a Security page's Link button.
func (s *server) beginSSOLink(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	f, err := s.m.BeginSSOLink(r.Context(), p, id, r.PostFormValue("password"), "/profile/security")
	if err != nil {
		s.ssoSecurityFailed(w, r, p, err, "link_"+id)
		return
	}
	clearFlowCookie(w, ssoCookie)
	setFlowCookie(w, ssoLinkCookie, f, s.unix)
	redirect(w, r, f.URL)
}

// finishSSOLink is a link's callback.
func (s *server) finishSSOLink(w http.ResponseWriter, r *http.Request, p *auth.Principal, flowID string) {
	if _, err := s.m.FinishSSOLink(r.Context(), p, flowID, r.PathValue("id"), r.URL.Query()); err != nil {
		s.ssoSecurityFailed(w, r, p, err, "")
		return
	}
	redirect(w, r, "/profile/security?done=sso-linked")
}

func (s *server) unlinkSSO(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	issuer, subject := r.PostFormValue("issuer"), r.PostFormValue("subject")
	err := s.m.UnlinkSSO(r.Context(), p, issuer, subject, r.PostFormValue("password"))
	if err != nil {
		s.ssoSecurityFailed(w, r, p, err, "unlink:"+issuer+" "+subject)
		return
	}
	redirect(w, r, "/profile/security?done=sso-unlinked")
}

// ssoSecurityFailed shows the Security page with err next to the form of
// key: "link_ID" or "unlink:ISSUER SUBJECT".
func (s *server) ssoSecurityFailed(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error, key string) {
	name := s.providerName(r.Context(), r.PathValue("id"))
	prob, ok := ssoProfileWords(err)
	if !ok {
		prob, ok = ssoWords(err, name)
	}
	if !ok {
		if prob, ok = words(err); !ok {
			s.fail(w, r, err)
			return
		}
	}
	// Beginning a link and unlinking ask for the password; neither meets
	// the provider, so a wrong answer is the password.
	switch {
	case key == "":
	case errors.Is(err, auth.ErrReauthRequired):
		prob.msg = "Enter your current password (or log in again) to continue."
	case errors.Is(err, auth.ErrInvalidCredentials) && !errors.Is(err, auth.ErrThrottled):
		prob.msg = "Wrong password."
	}
	v, verr := s.securityView(r, p)
	if verr != nil {
		s.fail(w, r, verr)
		return
	}
	d := v.Data.(*securityData)
	for i := range d.SSO.Linked {
		li := &d.SSO.Linked[i]
		if key == "unlink:"+li.Issuer+" "+li.Subject && (errors.Is(err, auth.ErrLastLoginMethod) || errors.Is(err, auth.ErrInvalidCredentials)) {
			li.Ask = true
		}
	}
	if key == "" {
		v.Error = prob.msg
	} else {
		v.fieldError(problem{prob.status, key, prob.msg})
	}
	s.render(w, r, prob.status, "security", v)
}
