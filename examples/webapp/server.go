package main

import (
	"context"
	"embed"
	"html/template"
	"io/fs"
	"log/slog"
	"mime"
	"net/http"
	"net/url"
	"path"
	"strings"
	"time"
	"unicode"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

//go:embed static
var staticFS embed.FS

// maxFormBytes bounds every request body but the avatar upload's.
const maxFormBytes = 64 << 10

// contentSecurityPolicy allows nothing but this origin's stylesheet,
// images (data: for the enrollment QR code), and script: the one file
// static/passkey.js, which passkeys need (WebAuthn is a JavaScript API),
// and its calls back to this origin. No inline script, no inline handlers,
// no eval: an injected <script> or onclick= does not run.
const contentSecurityPolicy = "default-src 'none'; script-src 'self'; connect-src 'self'; style-src 'self'; img-src 'self' data:; " +
	"form-action 'self'; frame-ancestors 'none'; base-uri 'none'"

// server is the host application: its pages call the Manager with the
// acting principal and render what comes back.
type server struct {
	m        *auth.Manager
	log      *slog.Logger
	pages    map[string]*template.Template
	now      func() time.Time
	pageSize int // rows per page of the users list and the audit log
	// bootstrap: the first sign-up needs Config.BootstrapToken; setup:
	// it needs the setup token usher made, printed at start (main.go).
	bootstrap, setup bool
	// passkeys is on when Config.Passkeys sets a relying party, and
	// passwordless unless it also disables passkey-only login.
	passkeys, passwordless bool
	// sso is on when Config.SSO sets a callback URL; noPasswordLogin is
	// Config.DisablePasswordLogin.
	sso, noPasswordLogin bool
	// db is read for the enabled providers' issuers alone, which the
	// login and security pages' form-action allows (sso.go).
	db      auth.Store
	backups backupLog
}

// newServer builds the Manager over db with the webapp's settings; configure
// sets the rest (secret key, and in tests the clock and a low bcrypt cost).
func newServer(db auth.Store, logger *slog.Logger, configure func(*auth.Config)) (*server, error) {
	s := &server{log: logger, pageSize: 25, db: db}
	cfg := auth.Config{
		Store:             db,
		Issuer:            "usher webapp",
		Permissions:       hostPermissions,
		MinPasswordLength: minPasswordLength,
		HTTPError:         s.httpError,
		Logger:            logger,
	}
	if configure != nil {
		configure(&cfg)
	}
	s.now = cfg.Now
	s.bootstrap = cfg.BootstrapToken != ""
	s.setup = !s.bootstrap && !cfg.InsecureOpenFirstSignup
	s.passkeys = cfg.Passkeys.RPID != ""
	s.passwordless = s.passkeys && !cfg.Passkeys.DisablePasswordless
	s.sso = cfg.SSO.CallbackURL != ""
	s.noPasswordLogin = cfg.DisablePasswordLogin
	if s.now == nil {
		s.now = time.Now
	}
	m, err := auth.New(cfg)
	if err != nil {
		return nil, err
	}
	s.m = m
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	return s, nil
}

// handler is the whole application: security headers and body limits, then
// the cross-origin (CSRF) check, then usher's authentication, then routes.
func (s *server) handler() http.Handler {
	mux := http.NewServeMux()
	s.routes(mux)
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(s.crossOrigin))
	return s.secure(csrf.Handler(s.m.Middleware(mux)))
}

func (s *server) routes(mux *http.ServeMux) {
	static, _ := fs.Sub(staticFS, "static")
	mux.Handle("GET /static/", http.StripPrefix("/static/", http.FileServerFS(static)))

	// Anonymous: sign-up of the first user and the two steps of login.
	mux.HandleFunc("GET /signup", s.signupPage)
	mux.HandleFunc("POST /signup", s.signup)
	mux.HandleFunc("GET /login", s.loginPage)
	mux.HandleFunc("POST /login", s.login)
	mux.HandleFunc("GET /login/2fa", s.secondFactorPage)
	mux.HandleFunc("POST /login/2fa", s.secondFactor)
	// The passkey ceremonies' JSON calls (passkeys.go, static/passkey.js).
	mux.HandleFunc("POST /login/passkey/begin", s.beginPasskeyLogin)
	mux.HandleFunc("POST /login/passkey/finish", s.finishPasskeyLogin)
	mux.HandleFunc("POST /login/2fa/passkey/begin", s.beginPasskeySecondFactor)
	mux.HandleFunc("POST /login/2fa/passkey/finish", s.finishPasskeySecondFactor)
	mux.HandleFunc("POST /logout", s.logout)
	// Single sign-on (sso.go): the login button's form, and the page the
	// provider sends the browser back to, for logins and links alike.
	mux.HandleFunc("POST /sso/{id}/begin", s.beginSSO)
	mux.HandleFunc("GET /sso/{id}/callback", s.ssoCallback)

	mux.Handle("GET /{$}", s.user(s.dashboard))
	mux.Handle("GET /backups", s.perm(permBackupsRead, s.backupsPage))
	mux.Handle("POST /backups/run", s.perm(permBackupsRun, s.runBackup))

	// Admin pages. GET routes are guarded here so a page never renders
	// half-empty; POST routes go straight to the Manager, which checks the
	// actor itself (the host cannot forget) and whose ErrForbidden becomes
	// the 403 page.
	mux.Handle("GET /users", s.perm(group.UsersRead, s.usersPage))
	mux.Handle("GET /users/new", s.perm(group.UsersWrite, s.newUserPage))
	mux.Handle("POST /users", s.user(s.createUser))
	mux.Handle("GET /users/{id}", s.perm(group.UsersRead, s.editUserPage))
	mux.Handle("POST /users/{id}", s.user(s.updateUser))
	mux.Handle("POST /users/{id}/disable", s.user(s.setDisabled(true)))
	mux.Handle("POST /users/{id}/enable", s.user(s.setDisabled(false)))
	mux.Handle("GET /users/{id}/delete", s.perm(group.UsersWrite, s.deleteUserPage))
	mux.Handle("POST /users/{id}/delete", s.user(s.deleteUser))
	mux.Handle("POST /users/{id}/password", s.user(s.resetPassword))
	mux.Handle("POST /users/{id}/reset-2fa", s.user(s.resetTwoFactor))
	mux.Handle("POST /users/{id}/unlock", s.user(s.unlockLogin))
	mux.Handle("POST /users/{id}/passkeys/{pk}/delete", s.user(s.deleteUserPasskey))
	mux.Handle("POST /users/{id}/sessions/{sid}/revoke", s.user(s.revokeUserSession))
	// A user's avatar, for the header, the users list and the profile.
	// usher's check is the whole gate: one's own to anyone signed in, also
	// to who owes a password change or a second factor (their header shows
	// it), anyone else's with users:read, which such a session lacks.
	avatar := s.m.RequireLoginToEnroll(withPrincipal(s.avatar))
	mux.Handle("GET /users/{id}/avatar", avatar)

	mux.Handle("GET /groups", s.perm(group.GroupsRead, s.groupsPage))
	mux.Handle("GET /groups/new", s.perm(group.GroupsWrite, s.newGroupPage))
	mux.Handle("POST /groups", s.user(s.createGroup))
	mux.Handle("GET /groups/{id}", s.perm(group.GroupsRead, s.editGroupPage))
	mux.Handle("POST /groups/{id}", s.user(s.updateGroup))
	mux.Handle("GET /groups/{id}/delete", s.perm(group.GroupsWrite, s.deleteGroupPage))
	mux.Handle("POST /groups/{id}/delete", s.user(s.deleteGroup))

	mux.Handle("GET /audit", s.perm(group.AuditRead, s.auditPage))
	mux.Handle("GET /audit/export", s.perm(group.AuditRead, s.auditExport))
	// The access review (review.go).
	mux.Handle("GET /review", s.perm(group.AccessReview, s.reviewPage))
	mux.Handle("GET /review.csv", s.perm(group.AccessReview, s.reviewCSV))
	mux.Handle("POST /review/mark", s.user(s.markReviewed))

	// Settings → Single sign-on (sso_settings.go).
	mux.Handle("GET /settings/sso", s.perm(group.SSOManage, s.ssoSettingsPage))
	mux.Handle("GET /settings/sso/new", s.perm(group.SSOManage, s.newProviderPage))
	mux.Handle("POST /settings/sso", s.user(s.createProvider))
	mux.Handle("GET /settings/sso/{id}", s.perm(group.SSOManage, s.editProviderPage))
	mux.Handle("POST /settings/sso/{id}", s.user(s.updateProvider))
	mux.Handle("POST /settings/sso/{id}/test", s.user(s.testProvider))
	mux.Handle("GET /settings/sso/{id}/delete", s.perm(group.SSOManage, s.deleteProviderPage))
	mux.Handle("POST /settings/sso/{id}/delete", s.user(s.deleteProvider))

	// Self-service. The security page and enrollment stay open to a user
	// whose group requires a second factor not yet set up.
	// The profile page and its password form stay open to a user who owes
	// a password change after an administrator's reset.
	mux.Handle("GET /profile", s.changing(s.profilePage))
	mux.Handle("POST /profile", s.user(s.updateProfile))
	mux.Handle("POST /profile/password", s.changing(s.changePassword))
	mux.Handle("POST /profile/avatar", s.user(s.uploadAvatar))
	mux.Handle("POST /profile/avatar/remove", s.user(s.removeAvatar))
	mux.Handle("GET /profile/security", s.enrolling(s.securityPage))
	mux.Handle("POST /profile/2fa/begin", s.enrolling(s.beginTOTP))
	mux.Handle("POST /profile/2fa/confirm", s.enrolling(s.confirmTOTP))
	mux.Handle("POST /profile/2fa/recovery-codes", s.user(s.regenerateCodes))
	mux.Handle("POST /profile/2fa/disable", s.user(s.disableTOTP))
	mux.Handle("POST /profile/passkeys/register/begin", s.enrolling(s.beginRegistration))
	mux.Handle("POST /profile/passkeys/register/finish", s.enrolling(s.finishRegistration))
	mux.Handle("POST /profile/passkeys/{id}/rename", s.user(s.renamePasskey))
	mux.Handle("POST /profile/passkeys/{id}/delete", s.user(s.deletePasskey))
	mux.Handle("POST /profile/sso/{id}/link", s.user(s.beginSSOLink))
	mux.Handle("POST /profile/sso/unlink", s.user(s.unlinkSSO))
	mux.Handle("POST /profile/sessions/{id}/revoke", s.user(s.revokeSession))
	mux.Handle("POST /profile/sessions/revoke-others", s.user(s.revokeOtherSessions))
	mux.Handle("GET /avatar/{id}", avatar) // the older address of /users/{id}/avatar

	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such page.")
	})
}

// secure sets the headers every response carries and bounds request bodies.
func (s *server) secure(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := w.Header()
		h.Set("Content-Security-Policy", contentSecurityPolicy)
		h.Set("X-Frame-Options", "DENY")
		h.Set("Referrer-Policy", "same-origin")
		h.Set("X-Content-Type-Options", "nosniff")
		h.Set("Cross-Origin-Opener-Policy", "same-origin")
		if r.TLS != nil {
			// Browsers that have seen the site over HTTPS never try plain
			// HTTP again (behind a TLS-terminating proxy, have it add this).
			h.Set("Strict-Transport-Security", "max-age=63072000; includeSubDomains")
		}
		if strings.HasPrefix(r.URL.Path, "/static/") {
			h.Set("Cache-Control", "public, max-age=3600")
		} else {
			// Pages show personal data and one-time secrets.
			h.Set("Cache-Control", "no-store")
		}
		limit := int64(maxFormBytes)
		if r.URL.Path == "/profile/avatar" {
			limit += auth.MaxAvatarBytes
		}
		r.Body = http.MaxBytesReader(w, r.Body, limit)
		if r.Method == http.MethodPost {
			if ct, _, _ := mime.ParseMediaType(r.Header.Get("Content-Type")); ct != "multipart/form-data" {
				if err := r.ParseForm(); err != nil {
					s.errorPage(w, r, http.StatusRequestEntityTooLarge, "That form was too large or malformed.")
					return
				}
			}
		}
		next.ServeHTTP(w, r)
	})
}

// pageFunc is a handler for a logged-in user.
type pageFunc func(w http.ResponseWriter, r *http.Request, p *auth.Principal)

func withPrincipal(h pageFunc) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		h(w, r, p)
	})
}

// route says what a page is open to beyond an ordinary logged-in user.
type route int

const (
	routeUser     route = iota // neither who owes a password change nor a second factor
	routeEnrol                 // also who owes a second factor
	routePassword              // also who owes a password change
)

// user serves h to a logged-in user; a user who owes a password change is
// sent to change it, then one who owes a second factor to enrol. usher's
// RequireLogin would refuse both too.
func (s *server) user(h pageFunc) http.Handler {
	return s.gate(routeUser, s.m.RequireLogin(withPrincipal(h)))
}

// enrolling serves h to a logged-in user, also one who owes a second
// factor: an enrolment route, marked as such for usher.
func (s *server) enrolling(h pageFunc) http.Handler {
	return s.gate(routeEnrol, s.m.RequireLoginToEnroll(withPrincipal(h)))
}

// changing serves h to a logged-in user, also one who owes a password
// change: the change-password route, which usher's RequireLoginToEnroll
// lets through (usher's ChangePassword is all such a user may call).
func (s *server) changing(h pageFunc) http.Handler {
	return s.gate(routePassword, s.m.RequireLoginToEnroll(withPrincipal(h)))
}

// perm serves h to a logged-in user holding perm; usher's RequirePermission
// answers (and audits) the denial through s.httpError.
func (s *server) perm(perm group.Permission, h pageFunc) http.Handler {
	return s.gate(routeUser, s.m.RequirePermission(perm, withPrincipal(h)))
}

func (s *server) gate(open route, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, ok := auth.PrincipalFrom(r.Context())
		if !ok {
			s.toLogin(w, r)
			return
		}
		switch {
		case p.MustChangePassword() && open != routePassword:
			redirect(w, r, "/profile")
		case p.MustEnroll() && !p.MustChangePassword() && open != routeEnrol:
			redirect(w, r, "/profile/security")
		default:
			next.ServeHTTP(w, r)
		}
	})
}

// toLogin sends an anonymous request to the login page, remembering where
// it wanted to go.
func (s *server) toLogin(w http.ResponseWriter, r *http.Request) {
	if isJSON(r) {
		writeJSON(w, http.StatusUnauthorized, errorJSON{Error: "You are not logged in (or your session ended). Log in again.", Redirect: "/login"})
		return
	}
	if r.URL.Path == "/" {
		// A fresh installation starts at sign-up.
		if open, err := s.m.SignupOpen(r.Context()); err == nil && open {
			redirect(w, r, "/signup")
			return
		}
	}
	target := "/login"
	if r.Method == http.MethodGet && r.URL.Path != "/" {
		target += "?" + url.Values{"next": {r.URL.RequestURI()}}.Encode()
	}
	redirect(w, r, target)
}

// httpError is auth.Config.HTTPError: the pages for usher's net/http
// helpers' refusals.
func (s *server) httpError(w http.ResponseWriter, r *http.Request, status int, err error) {
	switch status {
	case http.StatusUnauthorized:
		s.toLogin(w, r)
	case http.StatusForbidden:
		s.forbidden(w, r, err)
	default:
		s.serverError(w, r, err)
	}
}

func (s *server) crossOrigin(w http.ResponseWriter, r *http.Request) {
	if isJSON(r) {
		s.errorPage(w, r, http.StatusForbidden, "This request was sent from another site, so it was refused. Reload the page and try again.")
		return
	}
	s.errorPage(w, r, http.StatusForbidden, "This form was sent from another site, so it was refused. Go back, reload the page and try again.")
}

// redirect answers a form with 303 See Other (the browser follows with GET).
func redirect(w http.ResponseWriter, r *http.Request, target string) {
	http.Redirect(w, r, target, http.StatusSeeOther)
}

// localPath keeps a post-login destination on this site: an absolute path,
// not "//host" or "/\\host", which browsers read as another origin. Its
// result is re-escaped, so feeding it back through localPath (the login
// form carries it in a hidden field) returns it unchanged: decoding one
// layer of %-encoding per pass must not turn "/%255Chost" into "/\\host".
func localPath(next string) string {
	if next == "" || next[0] != '/' || strings.HasPrefix(next, "//") || strings.HasPrefix(next, "/\\") {
		return "/"
	}
	u, err := url.Parse(next)
	if err != nil || u.Scheme != "" || u.Host != "" {
		return "/"
	}
	clean := path.Clean(u.Path)
	if strings.ContainsAny(clean, "\\") || strings.IndexFunc(clean, unicode.IsControl) >= 0 {
		return "/"
	}
	return (&url.URL{Path: clean, RawQuery: u.RawQuery}).RequestURI()
}

// prune deletes expired sessions and challenges now and then.
func (s *server) prune(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		if _, err := s.m.PruneSessions(ctx); err != nil {
			s.log.Warn("pruning sessions", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}
