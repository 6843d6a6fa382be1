package auth_test

import (
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
)

// RequireLogin does not let a principal who owes two-factor enrolment
// through to ordinary pages: 403 with ErrEnrollmentRequired, through
// Config.HTTPError, and the refusal in the trail. Routes marked with
// RequireLoginToEnroll let it through; once enrolled, RequireLogin does.
func TestRequireLoginRefusesWhoMustEnroll(t *testing.T) {
	var gotErr error
	e := newEnv(t, func(c *auth.Config) {
		c.HTTPError = func(w http.ResponseWriter, _ *http.Request, status int, err error) {
			gotErr = err
			w.WriteHeader(status)
		}
	})
	admin := e.admin()
	ops, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Ops", RequireTwoFactor: true,
		Permissions: []group.Permission{"backups:read", group.ProfileAll}})
	if err != nil {
		t.Fatal(err)
	}
	_, op := e.user(admin, "op@example.com", ops.ID)
	ok := http.HandlerFunc(func(http.ResponseWriter, *http.Request) {})
	serve := func(h http.Handler, who *auth.Principal) int {
		gotErr = nil
		req := httptest.NewRequest("GET", "/dashboard", nil)
		req.Header.Set("Authorization", "Bearer "+tokenOf(who))
		rec := httptest.NewRecorder()
		e.m.Middleware(h).ServeHTTP(rec, req)
		return rec.Code
	}
	if code := serve(e.m.RequireLogin(ok), op); code != http.StatusForbidden || !errors.Is(gotErr, auth.ErrEnrollmentRequired) {
		t.Fatalf("RequireLogin for a member who must enrol: %d, %v; want 403, ErrEnrollmentRequired", code, gotErr)
	}
	if ev := e.lastEvent(audit.AuthorizationDeny); ev.Actor.Email != "op@example.com" || ev.Target.ID != "GET /dashboard" {
		t.Fatalf("denial %+v", ev)
	}
	if code := serve(e.m.RequireLoginToEnroll(ok), op); code != http.StatusOK {
		t.Fatalf("RequireLoginToEnroll for a member who must enrol: %d, want 200", code)
	}
	if code := serve(e.m.RequireLogin(ok), admin); code != http.StatusOK {
		t.Fatalf("RequireLogin for the admin: %d", code)
	}
	e.enrol(&op)
	if code := serve(e.m.RequireLogin(ok), op); code != http.StatusOK {
		t.Fatalf("RequireLogin after enrolment: %d, want 200", code)
	}
	// Anonymous: 401 on both.
	for _, h := range []http.Handler{e.m.RequireLogin(ok), e.m.RequireLoginToEnroll(ok)} {
		rec := httptest.NewRecorder()
		e.m.Middleware(h).ServeHTTP(rec, httptest.NewRequest("GET", "/", nil))
		if rec.Code != http.StatusUnauthorized {
			t.Fatalf("anonymous: %d, want 401", rec.Code)
		}
	}
}
