package main

import (
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"github.com/usher-go/usher/auth"
)

// TestBrowserAvatar uploads a phone-size photo through the profile form in
// Chromium and checks that the browser shows it, loaded under the page's
// Content-Security-Policy, in the header (which opens the profile) and in
// the users list, beside another user's initials. Skipped like
// TestBrowserEndToEnd without a Chromium.
func TestBrowserAvatar(t *testing.T) {
	b, _, _ := startBrowserApp(t)
	b.signUpAdmin("Ada Lovelace")
	b.wantText("header a.me .initials", "AL")

	// The profile opens from the avatar.
	b.want(b.click(`header a.me`), http.StatusOK, "/profile", "Profile", "No avatar yet.", "at most 10 MiB")
	photo := filepath.Join(t.TempDir(), "IMG_0001.JPG")
	if err := os.WriteFile(photo, phoneJPEG(4032, 3024, 3<<20), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := chromedp.Do(b.ctx, chromedp.SetUploadFiles(chromedp.CSS(`input[name=avatar]`), []string{photo})); err != nil {
		t.Fatal(err)
	}
	b.want(b.click(`form[action="/profile/avatar"] button[type=submit]`), http.StatusOK, "/profile", "Profile", "Avatar saved.")
	wantLoaded(t, b, "main img.avatar", auth.AvatarSize)
	wantLoaded(t, b, "header a.me img.avatar", auth.AvatarSize)

	b.want(b.open("/users/new"), http.StatusOK, "/users/new", "Add user")
	b.fill(`form[action="/users"] input[name=email]`, "bob@example.com")
	b.fill(`form[action="/users"] input[name=name]`, "Bob")
	b.fill(`form[action="/users"] input[name=password]`, bobPassword)
	b.choose(`form[action="/users"] select[name=group]`, "Users")
	b.want(b.click(`form[action="/users"] button[type=submit]`), http.StatusOK, "", "Edit user", "User created.")
	b.want(b.open("/users"), http.StatusOK, "/users", "Users")
	wantLoaded(t, b, "table.users img.avatar.small", auth.AvatarSize)
	b.wantText("table.users", "B Bob") // Bob has none: his initials
	b.screenshot(filepath.Join(t.TempDir(), "users.png"))
}

// wantLoaded checks that the first image sel matches has loaded and is
// size pixels wide.
func wantLoaded(t *testing.T, b *tab, sel string, size int) {
	t.Helper()
	js := `(() => { const i = document.querySelector(` + strings.ReplaceAll(`"`+sel+`"`, "\n", "") + `);
		return i ? [i.complete, i.naturalWidth] : null })()`
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[[]any](js, chromedp.EvalAsValue))
	if err != nil {
		t.Fatalf("%s: %v", sel, err)
	}
	if len(v) != 2 || v[0] != true || v[1] != float64(size) {
		t.Fatalf("%s: [complete, naturalWidth] = %v, want loaded and %d wide", sel, v, size)
	}
}
