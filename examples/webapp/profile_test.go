package main

import (
	"bytes"
	"image"
	"image/color"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
)

func testPNG(t *testing.T) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	for i := range 16 {
		img.Set(i, i, color.RGBA{R: 200, A: 255})
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func TestAvatarUpload(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	adminID := find(t, admin.get("/users"), userLink, "admin@example.com")
	if p := admin.get("/avatar/" + adminID); p.status != http.StatusNotFound {
		t.Fatalf("avatar before upload: %d", p.status)
	}

	p := admin.upload("/profile/avatar", "avatar", "me.png", testPNG(t))
	want(t, "upload", p, http.StatusOK, "Avatar saved.", `<img class="avatar" src="/avatar/`+adminID+`"`)

	img := admin.get("/avatar/" + adminID)
	if img.status != http.StatusOK || img.header.Get("Content-Type") != "image/png" {
		t.Fatalf("avatar: %d %q", img.status, img.header.Get("Content-Type"))
	}
	if cfg, err := png.DecodeConfig(strings.NewReader(img.body)); err != nil || cfg.Width != 16 {
		t.Fatalf("avatar is not the PNG uploaded: %v %+v", err, cfg)
	}
	if img.header.Get("X-Content-Type-Options") != "nosniff" {
		t.Fatal("avatar without nosniff")
	}
	// Anonymous visitors are sent to log in.
	if p := a.browser().get("/avatar/" + adminID); p.url.Path != "/login" {
		t.Fatalf("anonymous avatar ended at %s", p.url)
	}

	want(t, "not an image", admin.upload("/profile/avatar", "avatar", "x.png", []byte("<svg onload=alert(1)>")),
		http.StatusBadRequest, "Upload a PNG, JPEG, GIF or WebP image.")
	big := append(testPNG(t), bytes.Repeat([]byte{0}, auth.MaxAvatarBytes)...)
	want(t, "too large", admin.upload("/profile/avatar", "avatar", "big.png", big),
		http.StatusBadRequest, "at most 1 MiB")

	want(t, "remove", admin.post("/profile/avatar/remove"), http.StatusOK, "Avatar removed.", "No avatar yet.")
	if p := admin.get("/avatar/" + adminID); p.status != http.StatusNotFound {
		t.Fatalf("avatar after removal: %d", p.status)
	}
}

func TestProfileNameEmailPassword(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	bob := a.login("bob@example.com", bobPassword)
	other := a.login("bob@example.com", bobPassword)

	want(t, "rename", bob.post("/profile", "name", "Robert", "email", "bob@example.com"), http.StatusOK, "Profile saved.", `value="Robert"`)
	want(t, "email without password", bob.post("/profile", "name", "Robert", "email", "robert@example.com"),
		http.StatusUnauthorized, "Enter your current password.", `value="robert@example.com"`)
	want(t, "email wrong password", bob.post("/profile", "name", "Robert", "email", "robert@example.com", "password", "not my password"),
		http.StatusUnauthorized, "Wrong password.")
	want(t, "email", bob.post("/profile", "name", "Robert", "email", "robert@example.com", "password", bobPassword),
		http.StatusOK, "Profile saved.", `value="robert@example.com"`)
	// Changing the email ends the other sessions.
	want(t, "other session", other.get("/"), http.StatusOK, "<h1>Log in</h1>")

	want(t, "passwords differ", bob.post("/profile/password", "current_password", bobPassword, "new_password", "one new password", "confirm_password", "another one"),
		http.StatusBadRequest, "The new passwords differ.")
	want(t, "wrong current", bob.post("/profile/password", "current_password", "nope nope nope", "new_password", "one new password", "confirm_password", "one new password"),
		http.StatusUnauthorized, "Wrong password.")
	want(t, "too short", bob.post("/profile/password", "current_password", bobPassword, "new_password", "short", "confirm_password", "short"),
		http.StatusBadRequest, "Use at least 8 characters.")
	want(t, "change", bob.post("/profile/password", "current_password", bobPassword, "new_password", "one new password", "confirm_password", "one new password"),
		http.StatusOK, "Password changed")
	a.login("robert@example.com", "one new password")
}

var revokeRE = regexp.MustCompile(`action="/profile/sessions/([^"]+)/revoke"`)

func TestSessionsListAndRevoke(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	bob := a.login("bob@example.com", bobPassword)
	laptop := a.login("bob@example.com", bobPassword)
	phone := a.login("bob@example.com", bobPassword)

	p := bob.get("/profile/security")
	want(t, "sessions", p, http.StatusOK, "This session", "Log out other sessions")
	revoke := revokeRE.FindAllStringSubmatch(p.body, -1)
	if len(revoke) != 2 {
		t.Fatalf("%d revoke buttons, want 2 (three sessions, one current)", len(revoke))
	}
	// Revoke one; exactly one of the others is logged out.
	want(t, "revoke one", bob.post("/profile/sessions/"+revoke[0][1]+"/revoke"), http.StatusOK, "Session ended.")
	out := 0
	for _, b := range []*browser{laptop, phone} {
		if b.get("/").has("<h1>Log in</h1>") {
			out++
		}
	}
	if out != 1 {
		t.Fatalf("%d sessions ended, want 1", out)
	}
	// Someone else's session is not bob's to end.
	adminSessions := revokeRE.FindAllStringSubmatch(a.login("admin@example.com", adminPassword).get("/profile/security").body, -1)
	if len(adminSessions) == 0 {
		t.Fatal("admin has no other session listed")
	}
	want(t, "revoke admin's", bob.post("/profile/sessions/"+adminSessions[0][1]+"/revoke"), http.StatusForbidden)
	want(t, "admin still in", admin.get("/"), http.StatusOK, "Hello Ada")

	want(t, "log out others", bob.post("/profile/sessions/revoke-others"), http.StatusOK, "Your other sessions have ended.")
	for _, b := range []*browser{laptop, phone} {
		want(t, "other device", b.get("/"), http.StatusOK, "<h1>Log in</h1>")
	}
	want(t, "bob still in", bob.get("/"), http.StatusOK, "Hello Bob")
}

// sessionCookie returns b's session cookie.
func sessionCookie(t *testing.T, b *browser) *http.Cookie {
	t.Helper()
	u, _ := url.Parse(b.a.srv.URL)
	for _, c := range b.c.Jar.Cookies(u) {
		if c.Name == auth.CookieName {
			return c
		}
	}
	t.Fatal("no session cookie")
	return nil
}

// thief is another browser holding a copy of cookie.
func thief(t *testing.T, a *app, cookie *http.Cookie) *browser {
	t.Helper()
	b := a.browser()
	u, _ := url.Parse(a.srv.URL)
	b.c.Jar.SetCookies(u, []*http.Cookie{{Name: cookie.Name, Value: cookie.Value, Path: "/", Secure: true, HttpOnly: true}})
	return b
}

// Changing the password or enrolling a second factor replaces the session
// (OWASP ASVS 5.0 V7.2.4): the user stays logged in under a new cookie,
// and a copy of the old one, taken before, no longer works.
func TestReauthReplacesSessionCookie(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	bob := a.login("bob@example.com", bobPassword)
	cases := []struct {
		name string
		b    *browser
		op   func(b *browser)
	}{
		{"password change", bob, func(b *browser) {
			want(t, "change", b.post("/profile/password", "current_password", bobPassword, "new_password", "one new password", "confirm_password", "one new password"),
				http.StatusOK, "Password changed")
		}},
		{"enrolment", admin, func(b *browser) { enrolTOTP(t, a, b) }},
	}
	for _, tc := range cases {
		old := sessionCookie(t, tc.b)
		stolen := thief(t, a, old)
		want(t, tc.name+": the copy works before", stolen.get("/"), http.StatusOK, "<h1>Dashboard</h1>")
		tc.op(tc.b)
		if sessionCookie(t, tc.b).Value == old.Value {
			t.Fatalf("%s: the session cookie did not change", tc.name)
		}
		want(t, tc.name+": the user stays logged in", tc.b.get("/"), http.StatusOK, "<h1>Dashboard</h1>")
		want(t, tc.name+": the old cookie is refused", stolen.get("/"), http.StatusOK, "<h1>Log in</h1>")
	}
}
