package auth

import (
	"context"
	"errors"
	"net"
	"net/http"
	"strings"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// routeTarget names a denied route in the audit trail.
func routeTarget(r *http.Request) audit.Target {
	return audit.Target{Type: audit.TargetRoute, ID: cleanField(r.Method+" "+r.URL.Path, 256)}
}

// CookieName is the session cookie. The __Host- prefix makes browsers
// insist on Secure, Path=/ and no Domain, so a sibling subdomain cannot
// plant or read it (OWASP ASVS 5.0 V3.3.1).
const CookieName = "__Host-usher_session"

// DeviceCookieName is the cookie that keeps a [LoginResult.DeviceToken]:
// long-lived, __Host- prefixed, HttpOnly. [ClientFrom] reads it back into
// [Client.DeviceToken].
const DeviceCookieName = "__Host-usher_device"

type ctxKey struct{}

// WithPrincipal returns ctx carrying p; [Manager.Middleware] does this.
func WithPrincipal(ctx context.Context, p *Principal) context.Context {
	return context.WithValue(ctx, ctxKey{}, p)
}

// PrincipalFrom returns the principal the middleware found, if any.
func PrincipalFrom(ctx context.Context) (*Principal, bool) {
	p, ok := ctx.Value(ctxKey{}).(*Principal)
	return p, ok && p != nil
}

// ClientFrom returns the client IP (from RemoteAddr; put a proxy-aware
// middleware in front if you sit behind one), user agent and device token
// (the [DeviceCookieName] cookie) of r.
func ClientFrom(r *http.Request) Client {
	ip := r.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	c := Client{IP: ip, UserAgent: r.UserAgent()}
	if dc, err := r.Cookie(DeviceCookieName); err == nil {
		c.DeviceToken = dc.Value
	}
	return c.clean()
}

// SetDeviceCookie keeps a login's device token ([LoginResult.DeviceToken])
// in the browser for Config.Throttle.DeviceTrust, so the next login from it has its
// own throttling budget. An empty token writes nothing. The cookie is
// HttpOnly and SameSite=Strict: only the login form needs it.
func (m *Manager) SetDeviceCookie(w http.ResponseWriter, token string) {
	if token == "" {
		return
	}
	http.SetCookie(w, &http.Cookie{
		Name: DeviceCookieName, Value: token, Path: "/",
		MaxAge: int(m.cfg.Throttle.DeviceTrust.Seconds()), Expires: m.now().Add(m.cfg.Throttle.DeviceTrust),
		Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode,
	})
}

// SetSessionCookie writes the session token to the client: __Host- prefix,
// Secure, HttpOnly, SameSite=Lax. A remembered session's cookie expires
// with the session's absolute timeout; an ordinary session's cookie has no
// expiry, so the browser forgets it when it closes ("keep me signed in" is
// what keeps a login across restarts). Browsers accept Secure cookies from
// http://localhost, so this works in development too.
func (m *Manager) SetSessionCookie(w http.ResponseWriter, s *Session) {
	c := &http.Cookie{
		Name: CookieName, Value: s.Token, Path: "/",
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	}
	if s.Remembered {
		c.Expires, c.MaxAge = s.ExpiresAt, int(s.ExpiresAt.Sub(m.now()).Seconds())
	}
	http.SetCookie(w, c)
}

// ClearSessionCookie removes the session cookie.
func (m *Manager) ClearSessionCookie(w http.ResponseWriter) {
	http.SetCookie(w, &http.Cookie{
		Name: CookieName, Value: "", Path: "/", MaxAge: -1,
		Secure: true, HttpOnly: true, SameSite: http.SameSiteLaxMode,
	})
}

// TokenFrom returns the session token of r: the Authorization: Bearer
// header if present, else the session cookie.
func TokenFrom(r *http.Request) string {
	if h := r.Header.Get("Authorization"); h != "" {
		if scheme, tok, ok := strings.Cut(h, " "); ok && strings.EqualFold(scheme, "Bearer") {
			return strings.TrimSpace(tok)
		}
		return ""
	}
	if c, err := r.Cookie(CookieName); err == nil {
		return c.Value
	}
	return ""
}

// Middleware authenticates each request from its bearer token or session
// cookie and puts the [Principal] in the request context (see
// [PrincipalFrom]). A request without a valid session goes on anonymous:
// guard routes with [Manager.RequirePermission] or [Manager.RequireLogin].
// A store failure is answered 500 through Config.HTTPError.
func (m *Manager) Middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		tok := TokenFrom(r)
		if tok == "" {
			next.ServeHTTP(w, r)
			return
		}
		p, err := m.Authenticate(r.Context(), tok)
		switch {
		case errors.Is(err, ErrUnauthenticated):
			next.ServeHTTP(w, r)
		case err != nil:
			m.httpError(w, r, http.StatusInternalServerError, err)
		default:
			p.SetClient(ClientFrom(r))
			next.ServeHTTP(w, r.WithContext(WithPrincipal(r.Context(), p)))
		}
	})
}

// RequireLogin answers 401 unless the request carries a principal, and
// 403 with [ErrEnrollmentRequired] (recording the denial in the audit
// trail) when the principal's group requires a second factor it has not
// enrolled yet ([Principal.MustEnroll]), or with [ErrPasswordChangeRequired]
// when the user owes a password change ([Principal.MustChangePassword]).
// Guard the routes where such a user enrols or changes the password with
// [Manager.RequireLoginToEnroll] instead.
func (m *Manager) RequireLogin(next http.Handler) http.Handler {
	return m.requireLogin(false, next)
}

// RequireLoginToEnroll marks an enrolment route: it answers 401 without a
// principal and lets every logged-in principal through, one who owes a
// second factor included, so that it can enrol (the pages that call
// [Manager.BeginTOTP], [Manager.ConfirmTOTP] and [Manager.TwoFactorStatus],
// and logout). The same goes for a principal that owes a password change
// ([Principal.MustChangePassword]): guard the change-password page with it.
// Usher's own methods still refuse such a principal anything but enrolling,
// or changing its password.
func (m *Manager) RequireLoginToEnroll(next http.Handler) http.Handler {
	return m.requireLogin(true, next)
}

func (m *Manager) requireLogin(enrolling bool, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			m.httpError(w, r, http.StatusUnauthorized, ErrUnauthenticated)
			return
		}
		if err := p.owed(""); err != nil && !enrolling {
			m.recordDenial(r.Context(), p, audit.AuthorizationDeny, routeTarget(r), err)
			m.httpError(w, r, http.StatusForbidden, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

// RequirePermission answers 401 without a principal and 403 (recording the
// denial in the audit trail) when the principal lacks perm.
func (m *Manager) RequirePermission(perm group.Permission, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := PrincipalFrom(r.Context())
		if !ok {
			m.httpError(w, r, http.StatusUnauthorized, ErrUnauthenticated)
			return
		}
		if err := m.deniedUnless(r.Context(), p, perm, routeTarget(r)); err != nil {
			m.httpError(w, r, http.StatusForbidden, err)
			return
		}
		next.ServeHTTP(w, r)
	})
}

func (m *Manager) httpError(w http.ResponseWriter, r *http.Request, status int, err error) {
	if m.cfg.HTTPError != nil {
		m.cfg.HTTPError(w, r, status, err)
		return
	}
	http.Error(w, http.StatusText(status), status)
}
