package main

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
)

// focusable finds the elements a keyboard reaches, in page order.
var focusable = regexp.MustCompile(`<(a|button|input|select|textarea)\b[^>]*>`)

// Every page starts with a skip link to its main content, and the menu
// marks the page shown (or its section) with aria-current, once.
func TestSkipLinkAndCurrentPage(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	pages := []struct {
		b       *browser
		path    string
		current string // the menu link marked current; "" for none
	}{
		{a.browser(), "/login", ""},
		{admin, "/", "/"},
		{admin, "/users", "/users"},
		{admin, "/users/" + bobID, "/users"},
		{admin, "/users/new", "/users"},
		{admin, "/groups", "/groups"},
		{admin, "/groups/users", "/groups"},
		{admin, "/audit", "/audit"},
		{admin, "/profile", "/profile"},
		{admin, "/profile/security", "/profile/security"},
		{admin, "/backups", "/backups"},
		{admin, "/settings/sso", "/settings/sso"},
		{admin, "/no-such-page", ""},
	}
	for _, pg := range pages {
		p := pg.b.get(pg.path)
		body := p.body[strings.Index(p.body, "<body>"):]
		if first := focusable.FindString(body); first != `<a class="skip" href="#main">` {
			t.Errorf("%s: first focusable element %s", pg.path, first)
		}
		if !p.has(`<main id="main"`) {
			t.Errorf("%s: the skip link leads nowhere", pg.path)
		}
		marked := regexp.MustCompile(`<a href="([^"]*)" aria-current="page">`).FindAllStringSubmatch(p.body, -1)
		switch {
		case pg.current == "" && len(marked) != 0:
			t.Errorf("%s: marks %v current", pg.path, marked)
		case pg.current != "" && (len(marked) != 1 || marked[0][1] != pg.current):
			t.Errorf("%s: marks %v current, want only %s", pg.path, marked, pg.current)
		}
	}
}

// A refused input is marked invalid and described by its error's element,
// which exists with that id.
func TestFieldErrorTiedToInput(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	p := admin.post("/users", "email", "x@example.com", "password", "short", "group", "users")
	want(t, "short password", p, http.StatusBadRequest,
		`name="password" required autocomplete="new-password" aria-invalid="true" aria-describedby="error-password">`,
		`<p class="field-error" id="error-password">Use at least 8`)
	if strings.Count(p.body, "aria-invalid") != 1 {
		t.Errorf("inputs without an error are marked invalid:\n%s", excerpt(p.body))
	}
	if got := errorID("unlink:https://idp.example.com/ 42"); got != "error-unlink-https---idp-example-com--42" {
		t.Errorf("errorID = %q", got)
	}
}

// Buttons that act on a record say which, for a screen reader going from
// button to button.
func TestButtonsNameTheirRecord(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	bob := a.login("bob@example.com", bobPassword)
	wantJSON(t, "bob adds a passkey", addPasskey(t, bob, device(t), "YubiKey", ""), http.StatusOK, "done=passkey-added")
	want(t, "bob's security page", bob.get("/profile/security"), http.StatusOK,
		`aria-label="Rename passkey ‘YubiKey’">Rename</button>`, `aria-label="Delete passkey ‘YubiKey’">Delete</button>`)
	want(t, "bob's page", admin.get("/users/"+bobID), http.StatusOK,
		`aria-label="Disable bob@example.com">Disable</button>`,
		`aria-label="Reset the password of bob@example.com">Reset password</button>`,
		`aria-label="Clear login back-off of bob@example.com">`,
		`aria-label="Delete bob@example.com…">Delete…</a>`,
		`aria-label="Delete passkey ‘YubiKey’">Delete</button>`,
		`aria-label="Revoke the session from 127.0.0.1 started `)
	want(t, "a group page", admin.get("/groups/"+createGroup(t, admin, "Ops", false, "profile:*")), http.StatusOK,
		`aria-label="Delete the group Ops…">Delete…</a>`)
}
