package main

import (
	"bytes"
	"embed"
	"errors"
	"html/template"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

//go:embed templates/*.html
var templateFS embed.FS

// view is what every template gets.
type view struct {
	Title  string
	P      *auth.Principal
	Flash  string
	Error  string
	Errors map[string]string // field name → message, shown next to the field
	Data   any
	SSO    bool   // single sign-on is on: the Settings link
	Path   string // the request's path, for the menu's current page
	Avatar bool   // the signed-in user has an avatar: the header shows it
}

// Can lets templates ask {{if .Can "users:write"}}.
func (v *view) Can(perm string) bool { return v.P != nil && v.P.Can(group.Permission(perm)) }

// Invalid marks an input whose field has an error: aria-invalid, and
// aria-describedby naming the error's element (ErrorID), so a screen
// reader reads the error with the input (WCAG 2.2, 1.3.1 and 3.3.1).
func (v *view) Invalid(field string) template.HTMLAttr {
	if _, ok := v.Errors[field]; !ok {
		return ""
	}
	// errorID's result is letters, digits, '-' and '_' only: safe to
	// write into the tag unescaped.
	return template.HTMLAttr(`aria-invalid="true" aria-describedby="` + errorID(field) + `"`)
}

// ErrorID is the id of the element that shows field's error.
func (v *view) ErrorID(field string) string { return errorID(field) }

// errorID makes an element id of a field name, which may be made of
// record IDs ("rename_<passkey ID>"): anything but letters, digits, '-'
// and '_' becomes '-'.
func errorID(field string) string {
	return "error-" + strings.Map(func(r rune) rune {
		if r < 128 && (unicode.IsLetter(r) || unicode.IsDigit(r) || r == '-' || r == '_') {
			return r
		}
		return '-'
	}, field)
}

// navLinks are the menu's pages; Current marks the one a page belongs to.
var navLinks = []string{"/", "/backups", "/users", "/groups", "/audit", "/settings/sso", "/profile", "/profile/security"}

// Current reports whether the menu link href is the page shown, or the
// section it belongs to (/users for /users/42): the longest link that is
// the path or a parent of it. The menu marks it aria-current="page".
func (v *view) Current(href string) bool {
	under := func(link string) bool {
		return v.Path == link || link != "/" && strings.HasPrefix(v.Path, link+"/")
	}
	if !under(href) {
		return false
	}
	for _, l := range navLinks {
		if len(l) > len(href) && under(l) {
			return false
		}
	}
	return true
}

// fieldError puts a problem next to its field, or above the form.
func (v *view) fieldError(p problem) {
	if p.field == "" {
		v.Error = p.msg
		return
	}
	if v.Errors == nil {
		v.Errors = map[string]string{}
	}
	v.Errors[p.field] = p.msg
}

// flashes are the messages a redirect can ask for with ?done=KEY; the page
// shows only these fixed texts, never anything from the URL.
var flashes = map[string]string{
	"welcome":               "Welcome! Your account is the administrator.",
	"logged-out":            "You are logged out.",
	"backup-started":        "Backup started.",
	"user-created":          "User created.",
	"user-saved":            "User saved.",
	"user-disabled":         "User disabled; their sessions have ended.",
	"user-enabled":          "User enabled.",
	"user-deleted":          "User deleted.",
	"password-reset":        "Password reset; the user's sessions have ended.",
	"password-reset-change": "Password reset; the user's sessions have ended, and the user must choose a new password at the next login.",
	"2fa-reset":             "Two-factor authentication reset; the user can enrol again.",
	"user-pk-deleted":       "Passkey deleted; the user's sessions have ended.",
	"unlocked":              "Login back-off cleared.",
	"session-revoked":       "Session ended.",
	"sessions-revoked":      "Your other sessions have ended.",
	"group-created":         "Group created.",
	"group-saved":           "Group saved. Members have the new permissions from their next request.",
	"group-deleted":         "Group deleted.",
	"profile-saved":         "Profile saved.",
	"password-changed":      "Password changed; your other sessions have ended.",
	"avatar-saved":          "Avatar saved.",
	"avatar-removed":        "Avatar removed.",
	"2fa-disabled":          "Two-factor authentication is off.",
	"2fa-enrolled":          "Two-factor authentication is already on.",
	"login-expired":         "Your login took too long; please start again.",
	"login-too-many-codes":  "Too many wrong codes; please start again.",
	"passkey-added":         "Passkey added.",
	"passkey-renamed":       "Passkey renamed.",
	"passkey-deleted":       "Passkey deleted.",
	"sso-linked":            "Account linked: you can sign in with it from now on.",
	"sso-unlinked":          "Account unlinked.",
	"provider-created":      "Provider added. Register its callback URL at the provider if you have not yet.",
	"provider-saved":        "Provider saved.",
	"provider-deleted":      "Provider deleted; the accounts linked through it are unlinked.",
}

// render executes a page into a buffer first, so a template error becomes a
// clean 500 rather than half a page.
func (s *server) render(w http.ResponseWriter, r *http.Request, status int, page string, v *view) {
	if v.P == nil {
		v.P, _ = auth.PrincipalFrom(r.Context())
	}
	if v.Flash == "" {
		v.Flash = flashes[r.URL.Query().Get("done")]
	}
	v.SSO = s.sso
	v.Path = r.URL.Path
	if v.P != nil {
		v.Avatar = s.hasAvatar(r, v.P)
	}
	if page == "login" || page == "security" {
		// Their forms lead to the providers (sso.go).
		w.Header().Set("Content-Security-Policy", s.formActionCSP(r.Context()))
	}
	t, ok := s.pages[page]
	if !ok {
		s.log.Error("no such template", "page", page)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	var buf bytes.Buffer
	if err := t.ExecuteTemplate(&buf, "layout", v); err != nil {
		s.log.Error("rendering", "page", page, "err", err)
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	w.WriteHeader(status)
	buf.WriteTo(w)
}

// hasAvatar says whether the signed-in user has an avatar, for the
// header: one read of the stored image per page, a few kilobytes since
// usher keeps it at 256 pixels square (usher has no cheaper "has one"
// for a single user). On an error the header shows initials and the log
// says why.
func (s *server) hasAvatar(r *http.Request, p *auth.Principal) bool {
	_, _, err := s.m.UserAvatar(r.Context(), p, p.User().ID)
	if err != nil && !errors.Is(err, user.ErrNoAvatar) {
		s.log.Warn("reading the avatar for the header", "err", err)
	}
	return err == nil
}

// avatarView is one user's avatar as the "avatar" template draws it: the
// image, or the initials when there is none.
type avatarView struct {
	ID       user.ID
	Has      bool
	Initials string
	Class    string // "small" in lists, "" in the header
}

// initials are the first letters of the first and last words of a name,
// or of the email without a name, upper-cased: "Ada Lovelace" is "AL".
func initials(name, email string) string {
	words := strings.Fields(name)
	if len(words) == 0 {
		local, _, _ := strings.Cut(email, "@")
		words = []string{local}
	}
	if len(words) > 2 {
		words = []string{words[0], words[len(words)-1]}
	}
	var b strings.Builder
	for _, w := range words {
		if i := strings.IndexFunc(w, func(r rune) bool { return unicode.IsLetter(r) || unicode.IsDigit(r) }); i >= 0 {
			r, _ := utf8.DecodeRuneInString(w[i:])
			b.WriteRune(unicode.ToUpper(r))
		}
	}
	if b.Len() == 0 {
		return "?"
	}
	return b.String()
}

var templateFuncs = template.FuncMap{
	// avatarOf describes a user's avatar for the "avatar" template.
	"avatarOf": func(id user.ID, name, email string, has bool, class string) avatarView {
		return avatarView{ID: id, Has: has, Initials: initials(name, email), Class: class}
	},
	// when formats a time for tables; the zero time is "never".
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "never"
		}
		return t.UTC().Format("2006-01-02 15:04 UTC")
	},
}

// parsePages makes one template set per page: the layout plus the page's
// "content".
func parsePages() (map[string]*template.Template, error) {
	names, err := fs.Glob(templateFS, "templates/*.html")
	if err != nil {
		return nil, err
	}
	pages := map[string]*template.Template{}
	for _, n := range names {
		base := path.Base(n)
		if base == "layout.html" {
			continue
		}
		t, err := template.New(base).Funcs(templateFuncs).ParseFS(templateFS, "templates/layout.html", n)
		if err != nil {
			return nil, err
		}
		pages[strings.TrimSuffix(base, ".html")] = t
	}
	return pages, nil
}
