package main

import (
	"bytes"
	"encoding/binary"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
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
	if p := admin.get("/users/" + adminID + "/avatar"); p.status != http.StatusNotFound {
		t.Fatalf("avatar before upload: %d", p.status)
	}
	want(t, "hint", admin.get("/profile"), http.StatusOK, "at most 10 MiB, 8000 pixels on a side and 40 megapixels",
		"scaled down to 256×256 pixels", "metadata are removed")

	p := admin.upload("/profile/avatar", "avatar", "me.png", testPNG(t))
	want(t, "upload", p, http.StatusOK, "Avatar saved.", `<img class="avatar" src="/users/`+adminID+`/avatar" alt="Your avatar"`)

	// The older address serves it too, under the same rule.
	for _, path := range []string{"/users/" + adminID + "/avatar", "/avatar/" + adminID} {
		img := admin.get(path)
		if img.status != http.StatusOK || img.header.Get("Content-Type") != "image/png" {
			t.Fatalf("%s: %d %q", path, img.status, img.header.Get("Content-Type"))
		}
		if cfg, err := png.DecodeConfig(strings.NewReader(img.body)); err != nil || cfg.Width != 16 {
			t.Fatalf("%s is not the PNG uploaded: %v %+v", path, err, cfg)
		}
		if img.header.Get("X-Content-Type-Options") != "nosniff" {
			t.Fatalf("%s without nosniff", path)
		}
	}
	// Anonymous visitors are sent to log in.
	for _, path := range []string{"/users/" + adminID + "/avatar", "/avatar/" + adminID} {
		if p := a.browser().get(path); p.url.Path != "/login" {
			t.Fatalf("anonymous %s ended at %s", path, p.url)
		}
	}

	want(t, "not an image", admin.upload("/profile/avatar", "avatar", "x.png", []byte("<svg onload=alert(1)>")),
		http.StatusBadRequest, "Upload a PNG, JPEG, GIF or WebP image.")
	big := append(testPNG(t), bytes.Repeat([]byte{0}, auth.MaxAvatarBytes)...)
	want(t, "too large", admin.upload("/profile/avatar", "avatar", "big.png", big),
		http.StatusBadRequest, "The image must be at most 10 MiB, 8000 pixels on a side and 40 megapixels.")
	want(t, "too many pixels", admin.upload("/profile/avatar", "avatar", "wide.jpg", phoneJPEG(8001, 1, 0)),
		http.StatusBadRequest, "The image must be at most 10 MiB")

	// Exactly MaxAvatarBytes passes the request's body limit and usher's.
	exact := phoneJPEG(640, 480, auth.MaxAvatarBytes-128<<10)
	exact = append(exact, make([]byte, auth.MaxAvatarBytes-len(exact))...) // after EOI: ignored
	want(t, "exactly MaxAvatarBytes", admin.upload("/profile/avatar", "avatar", "exact.jpg", exact), http.StatusOK, "Avatar saved.")

	want(t, "remove", admin.post("/profile/avatar/remove"), http.StatusOK, "Avatar removed.", "No avatar yet.")
	if p := admin.get("/users/" + adminID + "/avatar"); p.status != http.StatusNotFound {
		t.Fatalf("avatar after removal: %d", p.status)
	}
}

// phoneJPEG is a w×h JPEG in the shape a phone saves one, if not in
// content: an EXIF segment first (orientation 6, "turn a quarter
// clockwise", and a GPS IFD), then padding bytes of other metadata (as
// previews and gain maps take) to make the file about size bytes, then
// uniform grey pixels, built by hand so that 12 MP cost nothing to make.
func phoneJPEG(w, h, size int) []byte {
	segment := func(marker byte, payload []byte) []byte {
		s := binary.BigEndian.AppendUint16([]byte{0xff, marker}, uint16(len(payload)+2))
		return append(s, payload...)
	}
	// TIFF, big-endian: IFD0 of two entries (Orientation 6, GPSInfo),
	// then a GPS IFD of one entry (GPSProcessingMethod, out of line).
	tiff := []byte("MM\x00\x2a\x00\x00\x00\x08" +
		"\x00\x02" + "\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00" + "\x88\x25\x00\x04\x00\x00\x00\x01\x00\x00\x00\x26" + "\x00\x00\x00\x00" +
		"\x00\x01" + "\x00\x1b\x00\x07\x00\x00\x00\x1b\x00\x00\x00\x38" + "\x00\x00\x00\x00" +
		"ASCII\x00\x00\x00GPS-SECRET-48.8584N")
	b := []byte{0xff, 0xd8}
	b = append(b, segment(0xe1, append([]byte("Exif\x00\x00"), tiff...))...)
	for len(b) < size-64<<10 {
		b = append(b, segment(0xe2, bytes.Repeat([]byte{'m'}, 65000))...)
	}
	b = append(b, 0xff, 0xdb, 0, 67, 0) // DQT 0, all ones
	b = append(b, bytes.Repeat([]byte{1}, 64)...)
	b = append(b, 0xff, 0xc0, 0, 11, 8, byte(h>>8), byte(h), byte(w>>8), byte(w), 1, 1, 0x11, 0) // SOF0, grey
	// DC and AC tables of one code "0" each.
	for _, class := range []byte{0x00, 0x10} {
		b = append(b, 0xff, 0xc4, 0, 20, class, 1)
		b = append(b, make([]byte, 16)...)
	}
	b = append(b, 0xff, 0xda, 0, 8, 1, 1, 0x00, 0, 63, 0) // SOS
	blocks := (w + 7) / 8 * ((h + 7) / 8)
	b = append(b, make([]byte, (2*blocks+7)/8)...) // two zero bits a block
	return append(b, 0xff, 0xd9)
}

// A photo from a phone (12 MP, 4 MiB, EXIF with GPS) is accepted, stored
// as a small square with no metadata, and shown in the header, which
// opens the profile, and in the users list; a user without an avatar
// shows initials in both.
func TestAvatarFromPhoneInHeaderAndList(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	adminID := find(t, admin.get("/users"), userLink, "admin@example.com")
	bobID := createUser(t, admin, "bob@example.com", "Bob Stone", bobPassword, "users")

	// Before: initials everywhere.
	want(t, "header without avatar", admin.get("/"), http.StatusOK,
		`<a class="me" href="/profile"`, `<span class="avatar initials" aria-hidden="true">A</span>`, `<span class="who">Ada</span>`)
	want(t, "list without avatars", admin.get("/users"), http.StatusOK,
		`<span class="avatar initials small" aria-hidden="true">BS</span> Bob Stone`)

	photo := phoneJPEG(4032, 3024, 4<<20)
	if len(photo) < 4<<20-64<<10 || len(photo) > auth.MaxAvatarBytes {
		t.Fatalf("test photo is %d bytes", len(photo))
	}
	want(t, "upload", admin.upload("/profile/avatar", "avatar", "IMG_0001.JPG", photo), http.StatusOK, "Avatar saved.")

	img := `<img class="avatar" src="/users/` + adminID + `/avatar" alt="" width="28" height="28">`
	p := admin.get("/")
	want(t, "header", p, http.StatusOK, `<a class="me" href="/profile" title="Your profile">`+img)
	if p.has(`<span class="avatar initials" aria-hidden="true">A</span>`) {
		t.Error("the header still shows initials")
	}
	want(t, "list", admin.get("/users"), http.StatusOK,
		`<img class="avatar small" src="/users/`+adminID+`/avatar" alt="" width="24" height="24"> Ada`,
		`<span class="avatar initials small" aria-hidden="true">BS</span> Bob Stone`)

	got := admin.get("/users/" + adminID + "/avatar")
	if got.status != http.StatusOK || got.header.Get("Content-Type") != "image/jpeg" {
		t.Fatalf("avatar: %d %q", got.status, got.header.Get("Content-Type"))
	}
	for h, v := range map[string]string{"Cache-Control": "private, no-cache", "X-Content-Type-Options": "nosniff"} {
		if got.header.Get(h) != v {
			t.Errorf("%s: %q, want %q", h, got.header.Get(h), v)
		}
	}
	cfg, err := jpeg.DecodeConfig(strings.NewReader(got.body))
	if err != nil || cfg.Width != auth.AvatarSize || cfg.Height != auth.AvatarSize {
		t.Fatalf("stored avatar: %+v, %v; want %d square", cfg, err, auth.AvatarSize)
	}
	for _, secret := range []string{"Exif", "GPS-SECRET", "mmmm"} {
		if strings.Contains(got.body, secret) {
			t.Errorf("the stored avatar still holds %q", secret)
		}
	}
	if len(got.body) > 64<<10 {
		t.Errorf("stored avatar is %d bytes", len(got.body))
	}

	// Revalidation: the same ETag answers 304 with no body.
	etag := got.header.Get("ETag")
	req, _ := http.NewRequest(http.MethodGet, a.srv.URL+"/users/"+adminID+"/avatar", nil)
	req.Header.Set("If-None-Match", etag)
	if p := admin.do(req); etag == "" || p.status != http.StatusNotModified || p.body != "" {
		t.Errorf("revalidation with ETag %q: %d, %d bytes", etag, p.status, len(p.body))
	}

	// Bob's header shows his initials, and after an upload his avatar.
	bob := a.login("bob@example.com", bobPassword)
	want(t, "bob's header", bob.get("/"), http.StatusOK, `<span class="avatar initials" aria-hidden="true">BS</span>`)
	want(t, "bob's upload", bob.upload("/profile/avatar", "avatar", "bob.png", testPNG(t)), http.StatusOK, "Avatar saved.",
		`<img class="avatar" src="/users/`+bobID+`/avatar" alt="" width="28" height="28">`)
}

// Another user's avatar is served only to someone who may see that user:
// users:read, or the user. Without it the answer is 403, for a user who
// exists as for one who does not, at both addresses.
func TestAvatarOfAnotherUser(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	adminID := find(t, admin.get("/users"), userLink, "admin@example.com")
	bobID := createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	want(t, "admin's upload", admin.upload("/profile/avatar", "avatar", "me.png", testPNG(t)), http.StatusOK, "Avatar saved.")
	bob := a.login("bob@example.com", bobPassword)
	want(t, "bob's upload", bob.upload("/profile/avatar", "avatar", "bob.png", testPNG(t)), http.StatusOK, "Avatar saved.")

	for _, path := range []string{"/users/" + adminID + "/avatar", "/avatar/" + adminID, "/users/no-such-user/avatar"} {
		p := bob.get(path)
		if p.status != http.StatusForbidden || strings.HasPrefix(p.header.Get("Content-Type"), "image/") {
			t.Errorf("bob, %s: %d %q, want 403 and no image", path, p.status, p.header.Get("Content-Type"))
		}
	}
	for name, b := range map[string]*browser{"bob, his own": bob, "admin (users:read)": admin} {
		if p := b.get("/users/" + bobID + "/avatar"); p.status != http.StatusOK || p.header.Get("Content-Type") != "image/png" {
			t.Errorf("%s: %d %q", name, p.status, p.header.Get("Content-Type"))
		}
	}
	if p := admin.get("/users/no-such-user/avatar"); p.status != http.StatusNotFound {
		t.Errorf("admin, unknown user: %d, want 404", p.status)
	}
}

// A user who owes a password change, or a second factor, still sees their
// own avatar in the header (usher shows one's own avatar to its owner in
// any state), and nobody else's.
func TestAvatarWhileOwing(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	adminID := find(t, admin.get("/users"), userLink, "admin@example.com")
	want(t, "admin's upload", admin.upload("/profile/avatar", "avatar", "me.png", testPNG(t)), http.StatusOK, "Avatar saved.")
	daveID := createUser(t, admin, "dave@example.com", "Dave", "dave long password", string(group.AdminID))
	dave := a.login("dave@example.com", "dave long password")
	want(t, "dave's upload", dave.upload("/profile/avatar", "avatar", "dave.png", testPNG(t)), http.StatusOK, "Avatar saved.")
	want(t, "reset and require", admin.post("/users/"+daveID+"/password", "new_password", "temporary password 1", "require_change", "1"),
		http.StatusOK, "must choose a new password")

	dave = a.browser()
	p := dave.post("/login", "email", "dave@example.com", "password", "temporary password 1")
	want(t, "sent to change", p, http.StatusOK, "An administrator reset your password",
		`<img class="avatar" src="/users/`+daveID+`/avatar" alt="" width="28" height="28">`)
	if p := dave.get("/users/" + daveID + "/avatar"); p.status != http.StatusOK || p.header.Get("Content-Type") != "image/png" {
		t.Errorf("own avatar while owing a password change: %d %q at %s", p.status, p.header.Get("Content-Type"), p.url)
	}
	if p := dave.get("/users/" + adminID + "/avatar"); p.status == http.StatusOK && strings.HasPrefix(p.header.Get("Content-Type"), "image/") {
		t.Error("a user who owes a password change saw another user's avatar")
	}

	gid := createGroup(t, admin, "Strict", true, "users:read", "profile:*")
	carolID := createUser(t, admin, "carol@example.com", "Carol", "carol long password", gid)
	carol := a.browser()
	want(t, "sent to enrol", carol.post("/login", "email", "carol@example.com", "password", "carol long password"),
		http.StatusOK, "Your group requires two-factor authentication", `<span class="avatar initials" aria-hidden="true">C</span>`)
	if p := carol.get("/users/" + carolID + "/avatar"); p.status != http.StatusNotFound {
		t.Errorf("own missing avatar while owing a second factor: %d at %s, want 404", p.status, p.url)
	}
	if p := carol.get("/users/" + adminID + "/avatar"); p.status == http.StatusOK && strings.HasPrefix(p.header.Get("Content-Type"), "image/") {
		t.Error("a user who owes a second factor saw another user's avatar")
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

func TestInitials(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct{ name, email, want string }{
		{"Ada Lovelace", "ada@example.com", "AL"},
		{"Ada", "ada@example.com", "A"},
		{"Mary Ann Smith", "", "MS"},
		{"  jean-luc   picard ", "", "JP"},
		{"(Bob) «Stone»", "", "BS"},
		{"élodie durand", "", "ÉD"},
		{"", "bob@example.com", "B"},
		{"", "9lives@example.com", "9"},
		{"!!!", "", "?"},
		{"", "", "?"},
	} {
		if got := initials(tt.name, tt.email); got != tt.want {
			t.Errorf("initials(%q, %q) = %q, want %q", tt.name, tt.email, got, tt.want)
		}
	}
}
