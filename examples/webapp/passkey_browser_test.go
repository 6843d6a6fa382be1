package main

import (
	"bytes"
	"context"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/cdp"
	cdplog "github.com/chromedp/cdproto/log"
	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/cdproto/webauthn"
	"github.com/chromedp/chromedp"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

// TestBrowserPasskeys runs static/passkey.js in headless Chromium against
// the real endpoints, with the DevTools virtual authenticator standing in
// for a platform authenticator (a phone or a laptop's fingerprint
// reader): the admin signs up and adds a passkey on the Security page,
// logs out, logs in with the passkey button alone (no email typed), then
// logs in with the password and uses the passkey as the second step, and
// deletes it, typing the password as the page asks once the session is no
// longer fresh. At each step it checks what the page shows and what the
// store holds; throughout, that the script threw nothing and the
// Content-Security-Policy refused nothing. Last, a browser without WebAuthn
// gets a message rather than a dead button.
//
// It skips without Chromium, as startBrowserApp says.
func TestBrowserPasskeys(t *testing.T) {
	b, clock, db := startBrowserApp(t)
	problems := b.watchConsole()
	authenticator := b.virtualAuthenticator()
	ctx := context.Background()
	const adminEmail = "admin@example.com"

	// Sign-up.
	b.want(b.open("/signup?token="+b.setupToken), http.StatusOK, "/signup", "Sign up")
	b.fill(`form[action="/signup"] input[name=email]`, adminEmail)
	b.fill(`form[action="/signup"] input[name=name]`, "Ada")
	b.fill(`form[action="/signup"] input[name=password]`, adminPassword)
	b.want(b.click(`form[action="/signup"] button[type=submit]`), http.StatusOK, "/", "Dashboard", "Hello Ada.")
	admin, err := db.Users().GetByEmail(ctx, adminEmail)
	if err != nil {
		t.Fatal(err)
	}

	// Security → Add passkey. The session is fresh: no password asked.
	b.want(b.click(`nav a[href="/profile/security"]`), http.StatusOK, "/profile/security", "Security",
		"You have 0 passkeys.")
	b.waitVisible("#passkey-add") // the script shows the form
	if b.exists(`#passkey-add input[name=password]`) {
		t.Fatal("a fresh session is asked for the password to add a passkey")
	}
	b.fill(`#passkey-add input[name=name]`, "Virtual key")
	b.want(b.clickThrough(`#passkey-add button[type=submit]`), http.StatusOK, "/profile/security", "Security",
		"Passkey added.", "You have 1 passkey.")
	b.wantText("table.passkeys", "Virtual key", "device-bound", "never")
	stored := b.storedPasskeys(db, admin.ID, 1)
	if stored[0].Name != "Virtual key" || !stored[0].LastUsedAt.IsZero() || stored[0].BackupEligible {
		t.Fatalf("stored %+v", stored[0])
	}
	held := b.heldCredentials(authenticator)
	if len(held) != 1 || !held[0].IsResidentCredential || held[0].RpID != "localhost" || !bytes.Equal(held[0].CredentialID, stored[0].CredentialID) {
		t.Fatalf("the authenticator holds %+v; the store %x", held, stored[0].CredentialID)
	}

	// Log out, and in with the passkey button alone: no email typed. The
	// login page starts an autofill request (conditional mediation) on
	// load; the virtual authenticator would answer it at once, as if the
	// person had picked the passkey in the email field's dropdown. With
	// presence simulation off it waits, as for a person who has not
	// chosen yet, and the button must end it before its own request.
	b.presence(authenticator, false)
	b.logout()
	b.waitVisible("#passkey-login")
	if got := b.attr(`form[action="/login"] input[name=email]`, "autocomplete"); got != "username webauthn" {
		t.Fatalf("email autocomplete %q", got)
	}
	if got := b.eval(`PublicKeyCredential.isConditionalMediationAvailable()`); got != "true" {
		t.Fatalf("isConditionalMediationAvailable() = %s; this test needs autofill", got)
	}
	// The virtual authenticator decides when the request reaches it: turn
	// presence back on only once the script is waiting on it (and the
	// request has had a moment to get there).
	b.waitFor(func() bool { return b.try(`document.getElementById("passkey-login").dataset.autofill`) == "waiting" }, "the autofill request")
	time.Sleep(500 * time.Millisecond)
	b.presence(authenticator, true)
	time.Sleep(500 * time.Millisecond)
	if n := b.posts.count("/login/passkey/begin"); n != 1 {
		t.Fatalf("%d passkey login begins, want 1 (the autofill request's)", n)
	}
	if got := b.try("location.pathname"); got != "/login" {
		t.Fatalf("the waiting autofill request went on by itself, to %s", got)
	}
	if got := b.value(`form[action="/login"] input[name=email]`); got != "" {
		t.Fatalf("the email input holds %q", got)
	}
	b.want(b.clickThrough("#passkey-login-button"), http.StatusOK, "/", "Dashboard", "Hello Ada.")
	if begins, finishes := b.posts.count("/login/passkey/begin"), b.posts.count("/login/passkey/finish"); begins != 2 || finishes != 1 {
		t.Fatalf("%d begins and %d finishes of passkey login, want 2 (autofill, button) and 1", begins, finishes)
	}
	stored = b.storedPasskeys(db, admin.ID, 1)
	if stored[0].LastUsedAt.IsZero() {
		t.Fatal("LastUsedAt not set by the passkey login")
	}
	b.want(b.click(`nav a[href="/profile/security"]`), http.StatusOK, "/profile/security", "Security", "You have 1 passkey.")
	if row := b.text("table.passkeys tbody tr"); strings.Contains(row, "never") {
		t.Fatalf("last use not shown: %q", row)
	}

	// Autofill: the login page's own request, answered (presence
	// simulation on), logs in with no click at all. The login page is
	// left at once, so it is not read: the POSTs show the way.
	logouts := b.posts.count("/logout")
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS(`form.logout button[type=submit]`))); err != nil {
		t.Fatal(err)
	}
	b.waitFor(func() bool {
		return b.try(`location.pathname === "/" && document.readyState === "complete" && document.querySelector("main h1").textContent === "Dashboard"`) == "true"
	}, "the autofill login")
	if begins, finishes := b.posts.count("/login/passkey/begin"), b.posts.count("/login/passkey/finish"); begins != 3 || finishes != 2 || b.posts.count("/logout") != logouts+1 {
		t.Fatalf("%d begins and %d finishes of passkey login, want 3 and 2, after a logout", begins, finishes)
	}

	// The password alone is not enough any more: the passkey is the second
	// step, the only one offered.
	b.presence(authenticator, false) // no autofill login this time
	b.logout()
	b.fillLogin(adminEmail, adminPassword)
	b.want(b.click(`form[action="/login"] button[type=submit]`), http.StatusOK, "/login/2fa",
		"Two-factor authentication", "Your password was right.")
	b.waitVisible("#passkey-2fa")
	if b.exists(`input[name=code]`) {
		t.Fatal("the second step asks for a code the user does not have")
	}
	b.presence(authenticator, true)
	b.want(b.clickThrough("#passkey-2fa-button"), http.StatusOK, "/", "Dashboard", "Hello Ada.")
	if n := b.posts.count("/login/2fa/passkey/finish"); n != 1 {
		t.Fatalf("%d second-step finishes, want 1", n)
	}

	// Delete it once the session is no longer fresh: the page asks for the
	// password, and a wrong one is refused next to the field.
	clock.Add(auth.DefaultReauthWindow + time.Minute)
	b.want(b.click(`nav a[href="/profile/security"]`), http.StatusOK, "/profile/security", "Security", "You have 1 passkey.")
	del := `table.passkeys form.delete`
	b.fill(del+` input[name=password]`, "not my password")
	b.want(b.click(del+` button[type=submit]`), http.StatusUnauthorized, "/profile/passkeys/"+stored[0].ID+"/delete", "Security", "Wrong password.")
	b.storedPasskeys(db, admin.ID, 1)
	b.fill(del+` input[name=password]`, adminPassword)
	b.want(b.click(del+` button[type=submit]`), http.StatusOK, "/profile/security", "Security",
		"Passkey deleted.", "You have 0 passkeys.")
	if b.exists("table.passkeys") {
		t.Fatal("the passkey table is still shown")
	}
	b.storedPasskeys(db, admin.ID, 0)

	// The authenticator still holds it; the server refuses it, and the
	// page says so.
	b.presence(authenticator, false)
	b.logout()
	b.waitFor(func() bool { return b.try(`document.getElementById("passkey-login").dataset.autofill`) == "waiting" }, "the autofill request")
	time.Sleep(500 * time.Millisecond)
	b.presence(authenticator, true)
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#passkey-login-button"))); err != nil {
		t.Fatal(err)
	}
	b.waitFor(func() bool { return strings.Contains(b.text("#passkey-login"), passkeyNotAccepted) }, "the refusal")
	b.wantText("main h1", "Log in")
	b.login(adminEmail, adminPassword) // one step again

	if p := problems(); p != "" {
		t.Fatalf("the page logged problems:\n%s", p)
	}
	// The policy holds in the browser: an injected inline handler does
	// not run (and the watch sees the refusal).
	b.eval(`document.querySelector("main").insertAdjacentHTML("beforeend", '<img src="/no-such-image" onerror="window.injected = 1">'), true`)
	b.waitFor(func() bool { return strings.Contains(problems(), "inline event handler") }, "the CSP refusal")
	if got := b.eval(`typeof window.injected`); got != "undefined" {
		t.Fatalf("an inline handler ran: window.injected is %s", got)
	}

	// A browser without WebAuthn says so.
	b.logout()
	old := b.ctx
	tabCtx, cancel := chromedp.NewContext(b.ctx)
	defer cancel()
	b.ctx = tabCtx
	defer func() { b.ctx = old }()
	if _, err := chromedp.Call(b.ctx, cdppage.AddScriptToEvaluateOnNewDocument,
		cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: "delete window.PublicKeyCredential;"}); err != nil {
		t.Fatal(err)
	}
	b.want(b.open("/login"), http.StatusOK, "/login", "Log in")
	b.waitVisible("#passkey-login")
	if err := chromedp.Do(b.ctx, chromedp.Click(chromedp.CSS("#passkey-login-button"))); err != nil {
		t.Fatal(err)
	}
	const unsupported = "This browser does not support passkeys."
	b.waitFor(func() bool { return strings.Contains(b.text("#passkey-login"), unsupported) }, "the unsupported-browser message")
}

// virtualAuthenticator adds a DevTools virtual authenticator to the tab: a
// built-in (platform) CTAP2 authenticator with resident keys and user
// verification, which answers at once (AutomaticPresenceSimulation, which
// must be set: left out, it goes as false and every ceremony hangs).
func (b *tab) virtualAuthenticator() webauthn.AuthenticatorID {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.Enable, webauthn.EnableParams{}); err != nil {
		b.t.Fatalf("WebAuthn.enable: %v", err)
	}
	res, err := chromedp.Call(b.ctx, webauthn.AddVirtualAuthenticator, webauthn.AddVirtualAuthenticatorParams{
		Options: &webauthn.VirtualAuthenticatorOptions{
			Protocol:                    webauthn.AuthenticatorProtocolCtap2,
			Transport:                   webauthn.AuthenticatorTransportInternal,
			HasResidentKey:              true,
			HasUserVerification:         true,
			IsUserVerified:              true,
			AutomaticPresenceSimulation: true,
		},
	})
	if err != nil {
		b.t.Fatalf("WebAuthn.addVirtualAuthenticator: %v", err)
	}
	return res.AuthenticatorID
}

// presence turns the virtual authenticator's automatic answers on or off.
func (b *tab) presence(id webauthn.AuthenticatorID, on bool) {
	b.t.Helper()
	if _, err := chromedp.Call(b.ctx, webauthn.SetAutomaticPresenceSimulation,
		webauthn.SetAutomaticPresenceSimulationParams{AuthenticatorID: id, Enabled: on}); err != nil {
		b.t.Fatalf("WebAuthn.setAutomaticPresenceSimulation: %v", err)
	}
}

// heldCredentials lists the passkeys the virtual authenticator holds.
func (b *tab) heldCredentials(id webauthn.AuthenticatorID) []*webauthn.Credential {
	b.t.Helper()
	res, err := chromedp.Call(b.ctx, webauthn.GetCredentials, webauthn.GetCredentialsParams{AuthenticatorID: id})
	if err != nil {
		b.t.Fatalf("WebAuthn.getCredentials: %v", err)
	}
	return res.Credentials
}

// storedPasskeys reads the user's passkeys from the store and checks that
// there are n.
func (b *tab) storedPasskeys(db auth.Store, uid user.ID, n int) []passkey.Credential {
	b.t.Helper()
	list, err := db.Passkeys().List(context.Background(), uid)
	if err != nil {
		b.t.Fatalf("Passkeys().List: %v", err)
	}
	if len(list) != n {
		b.t.Fatalf("the store holds %d passkeys, want %d: %+v", len(list), n, list)
	}
	return list
}

// watchConsole collects, from now on, what the tab's pages throw and what
// the Content-Security-Policy refuses; the func returns it, "" for nothing.
func (b *tab) watchConsole() func() string {
	b.t.Helper()
	var (
		mu    sync.Mutex
		lines []string
	)
	err := chromedp.Listen(b.ctx, func(ev any) {
		var line string
		switch ev := ev.(type) {
		case *runtime.EventExceptionThrown:
			d := ev.ExceptionDetails
			line = fmt.Sprintf("exception at %s:%d: %s", d.URL, d.LineNumber, d.Text)
			if d.Exception != nil {
				line += " " + d.Exception.Description
			}
		case *cdplog.EventEntryAdded:
			if strings.Contains(ev.Entry.Text, "Content Security Policy") {
				line = "CSP: " + ev.Entry.Text
			}
		}
		if line != "" {
			mu.Lock()
			lines = append(lines, line)
			mu.Unlock()
		}
	})
	if err != nil {
		b.t.Fatal(err)
	}
	if _, err := chromedp.Call(b.ctx, cdplog.Enable, cdp.Empty{}); err != nil {
		b.t.Fatalf("Log.enable: %v", err)
	}
	return func() string {
		mu.Lock()
		defer mu.Unlock()
		return strings.Join(lines, "\n")
	}
}

// clickThrough clicks a button whose script leads to another page, and
// waits for that page; should the script fail instead, the message it
// shows is in the failure.
func (b *tab) clickThrough(sel string) landing {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 20*time.Second)
	defer cancel()
	res, err := chromedp.RunResponse(ctx, chromedp.Click(chromedp.CSS(sel)))
	if err != nil || res == nil {
		b.t.Fatalf("click %s led nowhere: %v\n%s", sel, err, b.mainText())
	}
	return b.landed(res.Status)
}

// waitVisible waits until the element is shown.
func (b *tab) waitVisible(sel string) {
	b.t.Helper()
	ctx, cancel := context.WithTimeout(b.ctx, 10*time.Second)
	defer cancel()
	if err := chromedp.Do(ctx, chromedp.WaitVisible(chromedp.CSS(sel))); err != nil {
		b.t.Fatalf("%s not shown: %v\n%s", sel, err, b.mainText())
	}
}

// waitFor polls cond for up to 10 s.
func (b *tab) waitFor(cond func() bool, what string) {
	b.t.Helper()
	for deadline := time.Now().Add(10 * time.Second); !cond(); {
		if time.Now().After(deadline) {
			b.t.Fatalf("waited 10 s for %s\n%s", what, b.mainText())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// try evaluates a JavaScript expression as eval does, but a failure (the
// page is between two documents) is "".
func (b *tab) try(expr string) string {
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](expr, chromedp.EvalAsValue))
	if err != nil {
		return ""
	}
	return fmt.Sprint(v)
}

// exists reports whether the page has an element matching sel.
func (b *tab) exists(sel string) bool {
	b.t.Helper()
	return b.eval(fmt.Sprintf("document.querySelector(%q) !== null", sel)) == "true"
}

// attr is an attribute of the element.
func (b *tab) attr(sel, name string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.AttributeValue(chromedp.CSS(sel), name))
	if err != nil {
		b.t.Fatalf("%s's %s: %v", sel, name, err)
	}
	return v.Value
}

// eval evaluates a JavaScript expression (awaiting a promise) and returns
// its value as JSON.
func (b *tab) eval(expr string) string {
	b.t.Helper()
	v, err := chromedp.Run(b.ctx, chromedp.Evaluate[any](expr, chromedp.EvalAsValue, chromedp.EvalAwaitPromise))
	if err != nil {
		b.t.Fatalf("evaluate %s: %v", expr, err)
	}
	return fmt.Sprint(v)
}
