package oidctest

import (
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/zitadel/oidc/v3/pkg/oidc"
	"github.com/zitadel/oidc/v3/pkg/op"
)

// loginPage is the provider's sign-in page. Its element IDs (username,
// password, submit, cancel, error) are stable for browser tests.
var loginPage = template.Must(template.New("login").Parse(`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Sign in — oidctest provider</title>
</head>
<body>
<main>
<h1>Sign in</h1>
<p>to continue to <strong id="client">{{.ClientID}}</strong></p>
{{if .Error}}<p id="error" role="alert">{{.Error}}</p>{{end}}
<form id="login" method="post" action="{{.Action}}">
<input type="hidden" name="authRequestID" value="{{.ID}}">
<p><label for="username">Username or email</label>
<input id="username" name="username" type="text" autocomplete="username" value="{{.Username}}" required autofocus></p>
<p><label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required></p>
<p><button id="submit" type="submit" name="action" value="login">Sign in</button>
<button id="cancel" type="submit" name="action" value="deny" formnovalidate>Cancel</button></p>
</form>
</main>
</body>
</html>
`))

type loginData struct {
	ID, ClientID, Action, Username, Error string
}

// serveLogin shows the login page (GET) and takes its form (POST): with
// action=login it checks username and password and sends the browser on
// to the op's callback, which answers the code to the client; with
// action=deny it answers the error code in the form's "error" field
// (default access_denied) to the client's redirect URI.
func (p *Provider) serveLogin(w http.ResponseWriter, r *http.Request) {
	w.Header().Set("Cache-Control", "no-store")
	switch r.Method {
	case http.MethodGet:
		id := r.URL.Query().Get("authRequestID")
		a, err := p.storage.AuthRequestByID(r.Context(), id)
		if err != nil {
			http.Error(w, "unknown or finished auth request", http.StatusBadRequest)
			return
		}
		p.renderLogin(w, http.StatusOK, loginData{ID: id, ClientID: a.GetClientID()})
	case http.MethodPost:
		if err := r.ParseForm(); err != nil {
			http.Error(w, "bad form", http.StatusBadRequest)
			return
		}
		id := r.PostForm.Get("authRequestID")
		ctx := op.ContextWithIssuer(r.Context(), p.issuer)
		r = r.WithContext(ctx)
		switch r.PostForm.Get("action") {
		case "deny":
			a, ok := p.storage.takeAuthRequest(id)
			if !ok {
				http.Error(w, "unknown or finished auth request", http.StatusBadRequest)
				return
			}
			code := r.PostForm.Get("error")
			if code == "" {
				code = string(oidc.AccessDenied)
			}
			e := &oidc.Error{Description: "The user denied the request."}
			setErrorType(&e.ErrorType, code)
			op.AuthRequestError(w, r, a, e, p.op)
		case "login", "":
			a, err := p.storage.AuthRequestByID(ctx, id)
			if err != nil {
				http.Error(w, "unknown or finished auth request", http.StatusBadRequest)
				return
			}
			username := strings.TrimSpace(r.PostForm.Get("username"))
			u, err := p.storage.checkLogin(username, r.PostForm.Get("password"))
			if err != nil {
				p.renderLogin(w, http.StatusUnauthorized, loginData{
					ID: id, ClientID: a.GetClientID(), Username: username, Error: "Wrong username or password.",
				})
				return
			}
			if err := p.storage.completeLogin(id, u); err != nil {
				http.Error(w, err.Error(), http.StatusBadRequest)
				return
			}
			http.Redirect(w, r, op.AuthCallbackURL(p.op)(ctx, id), http.StatusSeeOther)
		default:
			http.Error(w, "unknown action", http.StatusBadRequest)
		}
	default:
		w.Header().Set("Allow", "GET, POST")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
	}
}

func (p *Provider) renderLogin(w http.ResponseWriter, status int, d loginData) {
	d.Action = p.prefix + loginPath
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	loginPage.Execute(w, d)
}

// Login follows authURL (the relying party's authorization URL) as a
// browser would, signs in on the login page as the user with that subject
// (with the user's password), and returns the URL the browser is then sent
// to: the client's redirect URI with code and state. If the provider
// answers the redirect URI before any login page (FailNextAuthorization,
// prompt=none), Login returns that URL. It fails the test if the login
// page is not reached or refuses the user.
func (p *Provider) Login(t testing.TB, authURL, subject string) *url.URL {
	t.Helper()
	u, ok := p.User(subject)
	if !ok {
		t.Fatalf("oidctest: Login: no user %q", subject)
	}
	cb, err := p.authorize(authURL, url.Values{
		"action":   {"login"},
		"username": {u.Subject},
		"password": {u.Password},
	})
	if err != nil {
		t.Fatalf("oidctest: Login: %v", err)
	}
	return cb
}

// LoginError follows authURL to the login page and denies the request
// there, as a user who presses Cancel: the provider answers errCode (""
// means access_denied) with the state to the client's redirect URI, and
// LoginError returns that URL.
func (p *Provider) LoginError(t testing.TB, authURL, errCode string) *url.URL {
	t.Helper()
	if errCode == "" {
		errCode = string(oidc.AccessDenied)
	}
	cb, err := p.authorize(authURL, url.Values{
		"action": {"deny"},
		"error":  {errCode},
	})
	if err != nil {
		t.Fatalf("oidctest: LoginError: %v", err)
	}
	return cb
}

// authorize GETs authURL, following redirects inside the provider, posts
// form to the login page it lands on, and returns the first URL outside
// the provider that the browser is sent to.
func (p *Provider) authorize(authURL string, form url.Values) (*url.URL, error) {
	start, err := url.Parse(authURL)
	if err != nil {
		return nil, err
	}
	if start.Scheme+"://"+start.Host != p.origin {
		return nil, fmt.Errorf("authorization URL %s is not at this provider (%s)", authURL, p.origin)
	}
	c := &http.Client{
		Transport: p.transport,
		Timeout:   10 * time.Second,
		CheckRedirect: func(req *http.Request, via []*http.Request) error {
			if req.URL.Scheme+"://"+req.URL.Host != p.origin {
				return http.ErrUseLastResponse
			}
			if len(via) >= 10 {
				return errors.New("too many redirects")
			}
			return nil
		},
	}
	resp, err := c.Get(authURL)
	if err != nil {
		return nil, err
	}
	if cb, ok, err := leaving(resp); ok || err != nil {
		return cb, err
	}
	landed := resp.Request.URL
	if resp.StatusCode != http.StatusOK || landed.Path != p.prefix+loginPath {
		return nil, fmt.Errorf("expected the login page, got %s at %s: %s", resp.Status, landed, body(resp))
	}
	body(resp)
	form.Set("authRequestID", landed.Query().Get("authRequestID"))
	resp, err = c.PostForm(p.origin+p.prefix+loginPath, form)
	if err != nil {
		return nil, err
	}
	if cb, ok, err := leaving(resp); ok || err != nil {
		return cb, err
	}
	return nil, fmt.Errorf("login page answered %s at %s: %s", resp.Status, resp.Request.URL, body(resp))
}

// leaving reports whether resp is a redirect out of the provider, and
// where to.
func leaving(resp *http.Response) (*url.URL, bool, error) {
	if resp.StatusCode < 300 || resp.StatusCode > 399 {
		return nil, false, nil
	}
	body(resp)
	loc, err := resp.Location()
	if err != nil {
		return nil, true, fmt.Errorf("%s without Location: %w", resp.Status, err)
	}
	return loc, true, nil
}

// body reads and closes resp's body, returning up to 512 bytes of it.
func body(resp *http.Response) string {
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if len(b) > 512 {
		b = b[:512]
	}
	return strings.TrimSpace(string(b))
}
