package auth_test

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

func TestSessionCookieAttributes(t *testing.T) {
	e := newEnv(t)
	r, err := e.m.SignUp(e.ctx, auth.SignUp{Email: adminEmail, Password: adminPassword, BootstrapToken: setupToken(t, e.m)}, client)
	if err != nil {
		t.Fatal(err)
	}
	rec := httptest.NewRecorder()
	e.m.SetSessionCookie(rec, r)
	cs := rec.Result().Cookies()
	if len(cs) != 1 {
		t.Fatalf("%d cookies", len(cs))
	}
	c := cs[0]
	if c.Name != "__Host-usher_session" || !c.Secure || !c.HttpOnly || c.SameSite != http.SameSiteLaxMode || c.Path != "/" || c.Domain != "" {
		t.Fatalf("cookie %+v", c)
	}
	if c.Value != r.Token {
		t.Fatal("cookie does not carry the token")
	}
	if c.MaxAge != 0 || !c.Expires.IsZero() {
		t.Fatalf("an ordinary session's cookie expires (%v, %d): the browser should forget it when it closes", c.Expires, c.MaxAge)
	}
	// A remembered session's cookie lasts as long as the session.
	remember := client
	remember.Remember = true
	lr, err := e.m.Login(e.ctx, adminEmail, adminPassword, remember)
	if err != nil {
		t.Fatal(err)
	}
	rec = httptest.NewRecorder()
	e.m.SetSessionCookie(rec, lr.Session)
	c = rec.Result().Cookies()[0]
	if c.MaxAge != int(auth.DefaultRememberAbsoluteTimeout.Seconds()) || !c.Expires.Equal(lr.Session.ExpiresAt.Truncate(time.Second)) {
		t.Fatalf("a remembered session's cookie: Expires %v, MaxAge %d; want the session's expiry", c.Expires, c.MaxAge)
	}
}

func TestMiddlewareAndRequirePermission(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	var seen *auth.Principal
	h := e.m.Middleware(e.m.RequirePermission("backups:run", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen, _ = auth.PrincipalFrom(r.Context())
	})))
	cases := []struct {
		name   string
		set    func(*http.Request)
		status int
		who    string
	}{
		{"anonymous", func(*http.Request) {}, 401, ""},
		{"garbage bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer nope") }, 401, ""},
		{"basic auth is not a session", func(r *http.Request) { r.Header.Set("Authorization", "Basic "+tokenOf(admin)) }, 401, ""},
		{"admin by bearer", func(r *http.Request) { r.Header.Set("Authorization", "Bearer "+tokenOf(admin)) }, 200, adminEmail},
		{"admin by cookie", func(r *http.Request) {
			r.AddCookie(&http.Cookie{Name: auth.CookieName, Value: tokenOf(admin)})
		}, 200, adminEmail},
		{"bob lacks the permission", func(r *http.Request) { r.Header.Set("Authorization", "bearer "+tokenOf(bob)) }, 403, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seen = nil
			req := httptest.NewRequest("POST", "/backups/run", nil)
			req.RemoteAddr = "198.51.100.7:4242"
			tc.set(req)
			rec := httptest.NewRecorder()
			h.ServeHTTP(rec, req)
			if rec.Code != tc.status {
				t.Fatalf("status %d, want %d", rec.Code, tc.status)
			}
			if tc.who != "" && (seen == nil || seen.User().Email != tc.who || seen.Client().IP != "198.51.100.7") {
				t.Fatalf("principal %+v", seen)
			}
		})
	}
	ev := e.lastEvent(audit.AuthorizationDeny)
	if ev.Outcome != audit.Denied || ev.Actor.Email != "bob@example.com" || ev.Target.ID != "POST /backups/run" || ev.IP != "198.51.100.7" {
		t.Fatalf("denial event %+v", ev)
	}
}
