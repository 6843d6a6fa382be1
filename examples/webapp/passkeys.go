package main

import (
	"encoding/json"
	"errors"
	"io"
	"math"
	"mime"
	"net/http"
	"strconv"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/passkey"
)

// Passkeys need a script: the browser's WebAuthn API is JavaScript only.
// static/passkey.js runs each ceremony as two JSON calls around
// navigator.credentials: "begin" answers {ceremony, options}, the script
// hands options to the browser, and "finish" sends {ceremony, credential}
// back. The ceremony ID travels in the JSON; usher keeps the ceremony's
// state server-side, single use.
//
// The JSON endpoints are POSTs under the same protection as the forms:
// http.CrossOriginProtection refuses a cross-site request (Sec-Fetch-Site
// or Origin), secure caps the body, and they accept only
// Content-Type: application/json, which a cross-site form cannot send.
// Their errors are JSON too ({error, field, redirect}); see isJSON.

// beganJSON is a begun ceremony for the script.
type beganJSON struct {
	Ceremony string          `json:"ceremony"`
	Options  json.RawMessage `json:"options"`
}

// finishJSON is the script's answer to a ceremony. Name is the optional
// name of a new passkey, Next where a login goes on to.
type finishJSON struct {
	Ceremony   string          `json:"ceremony"`
	Credential json.RawMessage `json:"credential"`
	Name       string          `json:"name"`
	Next       string          `json:"next"`
	// Remember is the login page's "Keep me signed in" (passwordless login).
	Remember bool `json:"remember"`
}

// doneJSON tells the script where to go after a ceremony.
type doneJSON struct {
	Redirect string `json:"redirect"`
}

// errorJSON is every JSON error: the words to show, the input they belong
// next to ("" for the top of the box), and where to go instead when the
// flow cannot go on here (a login that expired).
type errorJSON struct {
	Error    string `json:"error"`
	Field    string `json:"field,omitempty"`
	Redirect string `json:"redirect,omitempty"`
}

// isJSON reports whether r is one of the script's calls: those send JSON
// and get JSON back, errors included.
func isJSON(r *http.Request) bool {
	ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	return ct == "application/json"
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// readJSON decodes r's body, JSON only and bounded by secure's limit,
// into v; it answers the error itself and reports false.
func readJSON(w http.ResponseWriter, r *http.Request, v any) bool {
	if !isJSON(r) {
		writeJSON(w, http.StatusUnsupportedMediaType, errorJSON{Error: "Send this request as application/json."})
		return false
	}
	dec := json.NewDecoder(r.Body)
	err := dec.Decode(v)
	if err == nil && dec.Decode(&struct{}{}) != io.EOF {
		err = errors.New("data after the JSON value")
	}
	var tooBig *http.MaxBytesError
	switch {
	case errors.As(err, &tooBig):
		writeJSON(w, http.StatusRequestEntityTooLarge, errorJSON{Error: "That request was too large."})
		return false
	case err != nil:
		writeJSON(w, http.StatusBadRequest, errorJSON{Error: "That request was malformed. Reload the page and try again."})
		return false
	}
	return true
}

// jsonFailed answers a script's call that usher refused, as formFailed
// does a form: known errors in the host's words with their status and
// field, the rest through fail (whose pages answer JSON to JSON).
func (s *server) jsonFailed(w http.ResponseWriter, r *http.Request, err error, override func(problem) problem) {
	prob, ok := describe(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	if override != nil {
		prob = override(prob)
	}
	if errors.Is(err, auth.ErrPasskeyRejected) {
		// What the browser sent was wrong in a way only logs should detail.
		s.log.Info("passkey response rejected", "path", r.URL.Path, "err", err)
	}
	var te *auth.ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(te.RetryAfter.Seconds()))))
	}
	writeJSON(w, prob.status, errorJSON{Error: prob.msg, Field: prob.field})
}

// passkeyNotAccepted is what a failed passkey login says: no more than a
// wrong password would.
const passkeyNotAccepted = "That passkey was not accepted. Try again, or use another way to log in."

// notAccepted words ErrInvalidCredentials from a passkey login.
func notAccepted(err error) func(problem) problem {
	return func(p problem) problem {
		if errors.Is(err, auth.ErrInvalidCredentials) {
			return problem{http.StatusUnauthorized, "", passkeyNotAccepted}
		}
		return p
	}
}

// Registration, from Profile → Security.

type registerBeginJSON struct {
	Password string `json:"password"`
	Name     string `json:"name"`
}

// registerFailed names the inputs of the "Add passkey" form.
func registerFailed(err error) func(problem) problem {
	return func(p problem) problem {
		if errors.Is(err, auth.ErrReauthRequired) {
			p = problem{http.StatusUnauthorized, "password", "Enter your current password (or log in again) to continue."}
		}
		p = wrongPassword(err, "password")(p)
		if p.field != "" {
			p.field = "passkey_" + p.field
		}
		return p
	}
}

// beginRegistration checks the password (or a fresh session) and the
// name, then hands out the options for navigator.credentials.create. The
// name is checked here too, so that a bad one is refused before the
// person has made a passkey the server would not keep.
func (s *server) beginRegistration(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in registerBeginJSON
	if !readJSON(w, r, &in) {
		return
	}
	var err error
	if in.Name != "" {
		if _, nerr := passkey.NormalizeName(in.Name); nerr != nil {
			err = &auth.FieldError{Field: auth.FieldName, Err: nerr}
		}
	}
	var c *auth.PasskeyCeremony
	if err == nil {
		c, err = s.m.BeginPasskeyRegistration(r.Context(), p, in.Password)
	}
	if err != nil {
		s.jsonFailed(w, r, err, registerFailed(err))
		return
	}
	writeJSON(w, http.StatusOK, beganJSON{Ceremony: c.ID, Options: c.Options})
}

// finishRegistration stores the new passkey. Binding a factor replaces the
// session, so the new cookie goes with the answer.
func (s *server) finishRegistration(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var in finishJSON
	if !readJSON(w, r, &in) {
		return
	}
	_, session, err := s.m.FinishPasskeyRegistration(r.Context(), p, in.Ceremony, in.Credential, in.Name)
	if err != nil {
		s.jsonFailed(w, r, err, registerFailed(err))
		return
	}
	s.keepSession(w, session)
	writeJSON(w, http.StatusOK, doneJSON{Redirect: "/profile/security?done=passkey-added"})
}

// Passwordless login, from the login page: the button and autofill.

func (s *server) beginPasskeyLogin(w http.ResponseWriter, r *http.Request) {
	var in struct{}
	if !readJSON(w, r, &in) {
		return
	}
	c, err := s.m.BeginPasskeyLogin(r.Context(), auth.ClientFrom(r))
	if err != nil {
		s.jsonFailed(w, r, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, beganJSON{Ceremony: c.ID, Options: c.Options})
}

// finishPasskeyLogin logs in as the password form does: it ends whatever
// login this browser had, and sets the session cookie (and a device
// cookie, should usher issue one).
func (s *server) finishPasskeyLogin(w http.ResponseWriter, r *http.Request) {
	var in finishJSON
	if !readJSON(w, r, &in) {
		return
	}
	c := auth.ClientFrom(r)
	c.Remember = in.Remember
	res, err := s.m.FinishPasskeyLogin(r.Context(), in.Ceremony, in.Credential, c)
	if err == nil && res.Session == nil {
		err = errors.New("webapp: a passkey login gave no session")
	}
	if err != nil {
		s.jsonFailed(w, r, err, notAccepted(err))
		return
	}
	if res.DeviceToken != "" {
		s.m.SetDeviceCookie(w, res.DeviceToken)
	}
	if err := s.m.Logout(r.Context(), auth.TokenFrom(r)); err != nil {
		s.fail(w, r, err)
		return
	}
	clearChallenge(w)
	s.m.SetSessionCookie(w, res.Session)
	writeJSON(w, http.StatusOK, doneJSON{Redirect: localPath(in.Next)})
}

// The second step of a login, from /login/2fa; the challenge is in its
// cookie.

// loginExpired answers a second step whose challenge is gone: expired,
// or (err from usher) dead after too many wrong answers.
func loginExpired(w http.ResponseWriter, err error) {
	clearChallenge(w)
	done := challengeOver(err)
	writeJSON(w, http.StatusUnauthorized, errorJSON{Error: flashes[done], Redirect: "/login?done=" + done})
}

func (s *server) beginPasskeySecondFactor(w http.ResponseWriter, r *http.Request) {
	var in struct{}
	if !readJSON(w, r, &in) {
		return
	}
	ch, err := r.Cookie(challengeCookie)
	if err != nil || ch.Value == "" {
		loginExpired(w, nil)
		return
	}
	c, err := s.m.BeginPasskeySecondFactor(r.Context(), ch.Value, auth.ClientFrom(r))
	if errors.Is(err, auth.ErrInvalidChallenge) {
		loginExpired(w, err)
		return
	}
	if err != nil {
		s.jsonFailed(w, r, err, nil)
		return
	}
	writeJSON(w, http.StatusOK, beganJSON{Ceremony: c.ID, Options: c.Options})
}

func (s *server) finishPasskeySecondFactor(w http.ResponseWriter, r *http.Request) {
	var in finishJSON
	if !readJSON(w, r, &in) {
		return
	}
	ch, err := r.Cookie(challengeCookie)
	if err != nil || ch.Value == "" {
		loginExpired(w, nil)
		return
	}
	session, err := s.m.VerifyPasskey(r.Context(), ch.Value, in.Ceremony, in.Credential, auth.ClientFrom(r))
	if errors.Is(err, auth.ErrInvalidChallenge) {
		loginExpired(w, err)
		return
	}
	if err != nil {
		s.jsonFailed(w, r, err, notAccepted(err))
		return
	}
	clearChallenge(w)
	s.m.SetSessionCookie(w, session)
	writeJSON(w, http.StatusOK, doneJSON{Redirect: localPath(in.Next)})
}

// Rename and delete are plain forms on Profile → Security.

func (s *server) renamePasskey(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	if err := s.m.RenamePasskey(r.Context(), p, id, r.PostFormValue("name")); err != nil {
		// Another user's passkey, or a deleted one, is not found (fail).
		s.formFailed(w, r, err, "security", func(prob problem) problem {
			prob.field = "rename_" + id
			return prob
		}, func() (*view, error) { return s.securityView(r, p) })
		return
	}
	redirect(w, r, "/profile/security?done=passkey-renamed")
}

// deletePasskey removes a passkey with the password, which the form asks
// for unless the session is fresh; a typed password replaces the session.
func (s *server) deletePasskey(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	session, err := s.m.DeletePasskey(r.Context(), p, id, r.PostFormValue("password"))
	if err != nil {
		s.securityFailed(w, r, p, err, "delete_"+id)
		return
	}
	s.keepSession(w, session)
	redirect(w, r, "/profile/security?done=passkey-deleted")
}
