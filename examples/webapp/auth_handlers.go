package main

import (
	"errors"
	"net/http"
	"net/url"
	"strings"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/totp"
)

// challengeCookie carries the login challenge between the two steps. Like
// the session cookie it is __Host- (Secure, Path=/, no Domain) and HttpOnly;
// SameSite=Strict because only this site's own form posts it back. It is not
// a session: usher refuses it anywhere but VerifyTOTP/VerifyRecoveryCode.
const challengeCookie = "__Host-usher_challenge"

type signupData struct {
	Open      bool
	Bootstrap bool // a bootstrap token is asked for (-bootstrap-token)
	Setup     bool // the setup token is asked for, from the address printed at start
	// Token is the setup token the setup address carried, sent on in a
	// hidden field; empty, the form asks for it.
	Token string
	Email string
	Name  string
}

// signupPage is the first screen of a fresh installation. The setup
// address the server prints at start (main.go) leads here with the setup
// token in ?token=.
func (s *server) signupPage(w http.ResponseWriter, r *http.Request) {
	open, err := s.m.SignupOpen(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d := &signupData{Open: open, Bootstrap: s.bootstrap, Setup: s.setup}
	if s.setup {
		d.Token = r.URL.Query().Get("token")
	}
	s.render(w, r, http.StatusOK, "signup", &view{Title: "Sign up", Data: d})
}

func (s *server) signup(w http.ResponseWriter, r *http.Request) {
	in := auth.SignUp{
		Email:          r.PostFormValue("email"),
		Name:           r.PostFormValue("name"),
		Password:       r.PostFormValue("password"),
		BootstrapToken: r.PostFormValue("bootstrap_token"),
	}
	sess, err := s.m.SignUp(r.Context(), in, auth.ClientFrom(r))
	if errors.Is(err, auth.ErrSignupClosed) {
		s.render(w, r, http.StatusForbidden, "signup", &view{Title: "Sign up", Data: &signupData{}})
		return
	}
	if err != nil {
		s.formFailed(w, r, err, "signup", func(p problem) problem {
			if errors.Is(err, auth.ErrBootstrapToken) && s.setup {
				return problem{http.StatusForbidden, "bootstrap_token",
					"This setup token is wrong, used or expired. Use the setup address from the server's latest start."}
			}
			if errors.Is(err, auth.ErrBootstrapToken) {
				return problem{http.StatusForbidden, "bootstrap_token", "Wrong bootstrap token."}
			}
			return p
		}, func() (*view, error) {
			d := &signupData{Open: true, Bootstrap: s.bootstrap, Setup: s.setup, Email: in.Email, Name: in.Name}
			if s.setup && !errors.Is(err, auth.ErrBootstrapToken) {
				d.Token = in.BootstrapToken // still good: keep it in the form
			}
			return &view{Title: "Sign up", Data: d}, nil
		})
		return
	}
	s.m.SetSessionCookie(w, sess)
	redirect(w, r, "/?done=welcome")
}

type loginData struct {
	Email      string
	Next       string
	Remember   bool // "Keep me signed in" was ticked
	SignupOpen bool
	Passkeys   bool // passwordless login: the button and autofill
	// Providers are the single sign-on buttons; PasswordForm is false when
	// password login is off (sso.go).
	Providers    []auth.LoginProvider
	PasswordForm bool
}

func (s *server) loginPage(w http.ResponseWriter, r *http.Request) {
	if _, ok := auth.PrincipalFrom(r.Context()); ok {
		redirect(w, r, "/")
		return
	}
	open, err := s.m.SignupOpen(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	v, err := s.loginView(r.Context(), &loginData{Next: localPath(r.URL.Query().Get("next")), SignupOpen: open})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "login", v)
}

func (s *server) login(w http.ResponseWriter, r *http.Request) {
	email, next := r.PostFormValue("email"), localPath(r.PostFormValue("next"))
	c := auth.ClientFrom(r)
	c.Remember = r.PostFormValue("remember") != "" // a second step keeps it (usher's challenge)
	res, err := s.m.Login(r.Context(), email, r.PostFormValue("password"), c)
	if err != nil {
		s.formFailed(w, r, err, "login", nil, func() (*view, error) {
			return s.loginView(r.Context(), &loginData{Email: email, Next: next, Remember: c.Remember})
		})
		return
	}
	// This browser knew the password: its next logins have a throttling
	// budget of their own, whatever others guess.
	s.m.SetDeviceCookie(w, res.DeviceToken)
	// A login in this browser ends whatever login was here before: an
	// earlier session, or someone's unfinished two-step login.
	if err := s.m.Logout(r.Context(), auth.TokenFrom(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	if ch := res.Challenge; ch != nil {
		http.SetCookie(w, &http.Cookie{
			Name: challengeCookie, Value: ch.Token, Path: "/",
			MaxAge: max(int(ch.ExpiresAt.Sub(s.now()).Seconds()), 1), Expires: ch.ExpiresAt,
			Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
		})
		redirect(w, r, "/login/2fa?"+url.Values{"next": {next}, "methods": {strings.Join(ch.Methods, ",")}}.Encode())
		return
	}
	clearChallenge(w)
	s.m.SetSessionCookie(w, res.Session)
	redirect(w, r, next)
}

func clearChallenge(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{Name: challengeCookie, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

type secondFactorData struct {
	Next     string
	Recovery bool // the recovery-code form was the one sent
	secondFactorMethods
}

// secondFactorMethods are the forms the second step offers: the
// challenge's Methods, which the login carries to the page in the URL
// (and the page's forms in a hidden field). They only choose what to show:
// usher checks each answer against the challenge itself.
type secondFactorMethods struct {
	Methods                      string // as carried: "totp,recovery_code,passkey"
	TOTP, RecoveryCodes, Passkey bool
}

// methodsFrom reads the carried methods; none known means the page as it
// was before passkeys, code and recovery code.
func methodsFrom(v string) secondFactorMethods {
	m := secondFactorMethods{}
	var known []string
	for _, name := range strings.Split(v, ",") {
		switch name {
		case auth.MethodTOTP:
			m.TOTP = true
		case auth.MethodRecoveryCode:
			m.RecoveryCodes = true
		case auth.MethodPasskey:
			m.Passkey = true
		default:
			continue
		}
		known = append(known, name)
	}
	if len(known) == 0 {
		return secondFactorMethods{Methods: auth.MethodTOTP + "," + auth.MethodRecoveryCode, TOTP: true, RecoveryCodes: true}
	}
	m.Methods = strings.Join(known, ",")
	return m
}

func (s *server) secondFactorPage(w http.ResponseWriter, r *http.Request) {
	if c, err := r.Cookie(challengeCookie); err != nil || c.Value == "" {
		redirect(w, r, "/login")
		return
	}
	q := r.URL.Query()
	s.render(w, r, http.StatusOK, "login_2fa", &view{Title: "Two-factor authentication",
		Data: &secondFactorData{Next: localPath(q.Get("next")), secondFactorMethods: methodsFrom(q.Get("methods"))}})
}

// secondFactor finishes the login with a code from the app or a recovery
// code, whichever form was sent.
func (s *server) secondFactor(w http.ResponseWriter, r *http.Request) {
	c, err := r.Cookie(challengeCookie)
	if err != nil || c.Value == "" {
		redirect(w, r, "/login?done=login-expired")
		return
	}
	next := localPath(r.PostFormValue("next"))
	verify, code := s.m.VerifyTOTP, r.PostFormValue("code")
	recovery := r.PostFormValue("method") == auth.MethodRecoveryCode
	if recovery {
		verify, code = s.m.VerifyRecoveryCode, r.PostFormValue("recovery_code")
	}
	sess, err := verify(r.Context(), c.Value, code, auth.ClientFrom(r))
	if errors.Is(err, auth.ErrInvalidChallenge) {
		clearChallenge(w)
		redirect(w, r, "/login?done="+challengeOver(err))
		return
	}
	if err != nil {
		s.formFailed(w, r, err, "login_2fa", func(p problem) problem {
			switch {
			case errors.Is(err, auth.ErrInvalidCredentials) && recovery:
				return problem{http.StatusUnauthorized, "code", "That recovery code is not right, or it was used already: each recovery code works once."}
			case errors.Is(err, auth.ErrInvalidCredentials):
				return problem{http.StatusUnauthorized, "code", "That code is not right. Codes work once; wait for the next one."}
			case errors.Is(err, totp.ErrMalformedCode) && recovery:
				return problem{http.StatusBadRequest, "code", "That is not a recovery code; they look like XXXXX-XXXXX-XXXX."}
			case errors.Is(err, totp.ErrMalformedCode):
				return problem{http.StatusBadRequest, "code", "Enter the 6-digit code from your authenticator app."}
			}
			return p
		}, func() (*view, error) {
			return &view{Title: "Two-factor authentication", Data: &secondFactorData{Next: next, Recovery: recovery,
				secondFactorMethods: methodsFrom(r.PostFormValue("methods"))}}, nil
		})
		return
	}
	clearChallenge(w)
	s.m.SetSessionCookie(w, sess)
	redirect(w, r, next)
}

// challengeOver is the flash for a second step whose challenge is gone:
// "login-too-many-codes" when this answer was the last wrong code the
// challenge took (usher returns ErrInvalidCredentials wrapping
// ErrInvalidChallenge), "login-expired" when it had expired or was used.
func challengeOver(err error) string {
	if errors.Is(err, auth.ErrInvalidCredentials) && errors.Is(err, auth.ErrInvalidChallenge) {
		return "login-too-many-codes"
	}
	return "login-expired"
}

func (s *server) logout(w http.ResponseWriter, r *http.Request) {
	if err := s.m.Logout(r.Context(), auth.TokenFrom(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	s.m.ClearSessionCookie(w)
	clearChallenge(w)
	redirect(w, r, "/login?done=logged-out")
}
