package main

import (
	"net/http"
	"strings"
	"testing"
)

// fieldError returns the message shown right after the element that marker
// starts (up to its close tag), or "" when none is; or a note when no
// input is described by it (aria-invalid, aria-describedby).
func fieldError(p page, marker, close string) string {
	i := strings.Index(p.body, marker)
	if i < 0 {
		return ""
	}
	rest := p.body[i:]
	j := strings.Index(rest, close)
	if j < 0 {
		return ""
	}
	rest = strings.TrimSpace(rest[j+len(close):])
	attrs, ok := strings.CutPrefix(rest, `<p class="field-error" id="`)
	if !ok {
		return ""
	}
	// The message is tied to its input: the input is marked invalid and
	// described by the message's element.
	id, msg, _ := strings.Cut(attrs, `">`)
	if !strings.Contains(p.body, `aria-invalid="true" aria-describedby="`+id+`"`) {
		return "(no input described by #" + id + ")"
	}
	msg, _, _ = strings.Cut(msg, "</p>")
	return msg
}

// Each refused input's message stands next to that input: the page takes
// the field from usher's FieldError instead of knowing usher's rules.
func TestFieldErrorsPlaced(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	anon := a.browser()
	long := strings.Repeat("d", 1001)
	type step struct {
		name          string
		do            func() page
		status        int
		marker, close string // where the message must stand
		text          string
	}
	run := func(steps []step) {
		t.Helper()
		for _, s := range steps {
			p := s.do()
			if p.status != s.status {
				t.Errorf("%s: status %d, want %d\n%s", s.name, p.status, s.status, excerpt(p.body))
				continue
			}
			if got := fieldError(p, s.marker, s.close); !strings.Contains(got, s.text) {
				t.Errorf("%s: next to %s: %q, want %q\n%s", s.name, s.marker, got, s.text, excerpt(p.body))
			}
		}
	}
	post := func(b *browser, path string, kv ...string) func() page {
		return func() page { return b.post(path, kv...) }
	}
	// at is where an input's message stands: after the label around it.
	at := func(name string) [2]string { return [2]string{`name="` + name + `"`, "</label>"} }
	mk := func(name string, do func() page, status int, where [2]string, text string) step {
		return step{name, do, status, where[0], where[1], text}
	}

	setup := a.setupToken()
	run([]step{
		mk("signup: bad email", post(anon, "/signup", "email", "ada", "password", adminPassword, "bootstrap_token", setup), http.StatusBadRequest, at("email"), "single valid email"),
		mk("signup: bad name", post(anon, "/signup", "email", "ada@example.com", "name", "A\x1bda", "password", adminPassword, "bootstrap_token", setup), http.StatusBadRequest, at("name"), "Names are at most"),
		mk("signup: short password", post(anon, "/signup", "email", "ada@example.com", "password", "short", "bootstrap_token", setup), http.StatusBadRequest, at("password"), "Use at least 8"),
	})
	admin := a.signup()
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	legend := [2]string{"<legend>Permissions</legend>", "</legend>"}
	run([]step{
		mk("new user: short password", post(admin, "/users", "email", "x@example.com", "password", "short", "group", "users"), http.StatusBadRequest, at("password"), "Use at least 8"),
		mk("new user: common password", post(admin, "/users", "email", "x@example.com", "password", "password1", "group", "users"), http.StatusBadRequest, at("password"), "too easy to guess: it is one of the most common passwords"),
		mk("new user: built on the account's email", post(admin, "/users", "email", "xavier@example.com", "password", "xavier@example.com!", "group", "users"), http.StatusBadRequest, at("password"), "it contains the account&#39;s email address"),
		mk("new user: taken email", post(admin, "/users", "email", "BOB@example.com", "password", bobPassword, "group", "users"), http.StatusConflict, at("email"), "already in use"),
		mk("new user: group gone", post(admin, "/users", "email", "x@example.com", "password", bobPassword, "group", "gone"), http.StatusConflict, [2]string{`name="group"`, "</select></label>"}, "no longer exists"),
		mk("edit user: bad name", post(admin, "/users/"+bobID, "name", "B\x00ob", "email", "bob@example.com"), http.StatusBadRequest, at("name"), "Names are at most"),
		mk("reset: short password", post(admin, "/users/"+bobID+"/password", "new_password", "short"), http.StatusBadRequest, at("new_password"), "Use at least 8"),
		mk("profile: short new password", post(admin, "/profile/password", "current_password", adminPassword, "new_password", "short", "confirm_password", "short"), http.StatusBadRequest, at("new_password"), "Use at least 8"),
		mk("profile: bad name", post(admin, "/profile", "name", "A\x1bda"), http.StatusBadRequest, at("name"), "Names are at most"),
		mk("avatar: not an image", func() page { return admin.upload("/profile/avatar", "avatar", "x.png", []byte("GIF87a")) }, http.StatusBadRequest, at("avatar"), "Upload a PNG"),
		mk("group: no name", post(admin, "/groups", "name", " ", "perm", "backups:read"), http.StatusBadRequest, at("name"), "Give the group a name of 1 to 100 bytes"),
		mk("group: long description", post(admin, "/groups", "name", "G", "description", long), http.StatusBadRequest, at("description"), "Descriptions are at most 1000 bytes"),
		mk("group: two-factor without enrolling", post(admin, "/groups", "name", "G", "perm", "backups:read", "require_2fa", "on"), http.StatusBadRequest, legend, "must grant"),
		mk("group: unknown permission", post(admin, "/groups", "name", "G", "perm", "rockets:launch"), http.StatusBadRequest, legend, "not known to this application"),
	})
}
