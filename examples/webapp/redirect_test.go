package main

import (
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
)

// These tests came from a security review of the web application: each
// failed before its fix.

var nextFieldRE = regexp.MustCompile(`name="next" value="([^"]*)"`)

// The login form carries next in a hidden field, so localPath sees it twice;
// a doubly encoded backslash or tab must not come out as "/\host" (which
// browsers read as "//host") after the password.
func TestLoginNextSurvivesTheRoundTrip(t *testing.T) {
	for _, next := range []string{"/%255Cevil.example/phish", "/%2509/evil.example", "/%25255Cevil.example"} {
		t.Run(next, func(t *testing.T) {
			a := newApp(t)
			a.signup()
			b := a.browser()
			p := b.get("/login?next=" + url.QueryEscape(next))
			m := nextFieldRE.FindStringSubmatch(p.body)
			if m == nil {
				t.Fatalf("no next field\n%s", excerpt(p.body))
			}
			b.c.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
			form := url.Values{"email": {"admin@example.com"}, "password": {adminPassword}, "next": {html.UnescapeString(m[1])}}
			req, _ := http.NewRequest("POST", a.srv.URL+"/login", strings.NewReader(form.Encode()))
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Sec-Fetch-Site", "same-origin")
			res, err := b.c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			res.Body.Close()
			loc := res.Header.Get("Location")
			if res.StatusCode != http.StatusSeeOther || !strings.HasPrefix(loc, "/") || strings.HasPrefix(loc, "//") || strings.ContainsAny(loc, "\\\t\n") {
				t.Fatalf("Location %q after next=%q", loc, next)
			}
		})
	}
}

func TestLocalPathIsIdempotent(t *testing.T) {
	for _, in := range []string{"/%5Cevil", "/%09/evil", "/%2F%2Fevil", "/users?q=ada", "/users/a%2Fb", "/%255Cx", "/a/../b"} {
		once := localPath(in)
		if twice := localPath(once); once != twice || strings.HasPrefix(once, "//") || strings.ContainsAny(once, "\\\t\n") {
			t.Errorf("localPath(%q) = %q, then %q", in, once, twice)
		}
	}
}
