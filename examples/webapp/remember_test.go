package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"
)

// "Keep me signed in": a login that ticks it keeps its session through an
// afternoon unused and a week less a minute between visits, and the
// sessions list says so; one that does not is gone after an hour unused.
func TestKeepMeSignedIn(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	a.signup()
	want(t, "login page", a.browser().get("/login"), http.StatusOK, `<input type="checkbox" name="remember" value="1"`, "Keep me signed in")

	kept := a.browser()
	want(t, "kept login", kept.post("/login", "email", "admin@example.com", "password", adminPassword, "remember", "1"),
		http.StatusOK, "<h1>Dashboard</h1>")
	plain := a.login("admin@example.com", adminPassword)

	sec := kept.get("/profile/security")
	want(t, "security page", sec, http.StatusOK, "(kept signed in)")
	if n := strings.Count(sec.body, "(kept signed in)"); n != 1 {
		t.Fatalf("%d sessions marked kept signed in, want 1 of 3", n)
	}

	a.clock.Add(61 * time.Minute)
	want(t, "plain after an hour unused", plain.get("/"), http.StatusOK, "<h1>Log in</h1>")
	want(t, "kept after an hour unused", kept.get("/"), http.StatusOK, "<h1>Dashboard</h1>")
	a.clock.Add(7*24*time.Hour - time.Minute)
	want(t, "kept after a week less a minute unused", kept.get("/"), http.StatusOK, "<h1>Dashboard</h1>")
	a.clock.Add(7 * 24 * time.Hour)
	want(t, "kept after a week unused", kept.get("/"), http.StatusOK, "<h1>Log in</h1>")
}

// A passwordless login carries the login page's "Keep me signed in" too.
func TestKeepMeSignedInWithPasskey(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	d := device(t)
	wantJSON(t, "add passkey", addPasskey(t, admin, d, "Laptop", ""), http.StatusOK, "/profile/security")
	for _, remember := range []bool{true, false} {
		b := a.browser()
		ceremony, opts := begin(t, b, "/login/passkey/begin", struct{}{})
		cred, err := d.Assert(opts)
		if err != nil {
			t.Fatal(err)
		}
		wantJSON(t, "passkey login", b.postJSON("/login/passkey/finish",
			map[string]any{"ceremony": ceremony, "credential": json.RawMessage(cred), "remember": remember}, nil), http.StatusOK, "/")
		a.clock.Add(61 * time.Minute)
		page := "<h1>Log in</h1>"
		if remember {
			page = "<h1>Dashboard</h1>"
		}
		want(t, "an hour later", b.get("/"), http.StatusOK, page)
	}
}
