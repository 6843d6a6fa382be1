package main

import (
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
)

// The dashboard charts the last 30 days of logins as inline SVG, one bar
// per day and series with a count, and lists the same numbers in a table;
// the days come from real logins under the fake clock.
func TestDashboardLoginChart(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "bob@example.com", "Bob", bobPassword, "users")
	day0 := a.clock.Now().UTC()
	a.login("admin@example.com", adminPassword)
	anon := a.browser()
	want(t, "a wrong password", anon.post("/login", "email", "admin@example.com", "password", "wrong password"), http.StatusUnauthorized)

	a.clock.Add(48 * time.Hour) // a day without logins, then today
	failed := 0
	for anon.post("/login", "email", "bob@example.com", "password", "wrong password").status != http.StatusTooManyRequests {
		if failed++; failed > 50 {
			t.Fatal("never throttled")
		}
	}
	want(t, "throttled again", anon.post("/login", "email", "bob@example.com", "password", "wrong password"), http.StatusTooManyRequests)
	p := a.login("admin@example.com", adminPassword).get("/")

	date := func(d int) string { return day0.AddDate(0, 0, d).Format("2006-01-02") }
	want(t, "dashboard", p, http.StatusOK,
		`<svg class="chart" role="img" aria-labelledby="login-chart-title"`,
		`<title id="login-chart-title">Logins over the last 30 days, `,
		fmt.Sprintf(": 2 succeeded, %d failed, 2 throttled.</title>", failed+1),
		"<title>"+date(0)+": 1 succeeded</title>",
		"<title>"+date(0)+": 1 failed</title>",
		"<title>"+date(2)+": 1 succeeded</title>",
		fmt.Sprintf("<title>%s: %d failed</title>", date(2), failed),
		"<title>"+date(2)+": 2 throttled</title>",
		`<th scope="row">`+date(1)+`</th><td>0</td><td>0</td><td>0</td>`,
		fmt.Sprintf(`<th scope="row">%s</th><td>1</td><td>%d</td><td>2</td>`, date(2), failed))
	if n := strings.Count(p.body, "<rect "); n != 5 {
		t.Errorf("%d bars, want 5 (the days and series with a count)", n)
	}
	if n := strings.Count(p.body, `<th scope="row">`); n != 30 {
		t.Errorf("%d days in the table, want 30", n)
	}
	// The tallest bar (the failures of today) fills the plot.
	tallest := regexp.MustCompile(`<rect class="failed" x="\d+" y="12" width="5" height="100"><title>` + date(2))
	if !tallest.MatchString(p.body) {
		t.Errorf("the largest count is not the full height:\n%s", excerpt(p.body))
	}

	a.clock.Add(time.Hour) // past bob's back-off
	bob := a.login("bob@example.com", bobPassword)
	if d := bob.get("/"); d.has("Login activity") || d.has("<svg") {
		t.Error("the dashboard shows login activity to a user without audit:read")
	}
}

// The dashboard lists the open security to-dos for a holder of
// access:review: the admin without a second factor, and an account idle
// for 90 days; someone else sees none of it.
func TestDashboardSecurityToDos(t *testing.T) {
	t.Parallel()
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "olga@example.com", "Olga", "olga's long password", "users")
	a.login("olga@example.com", "olga's long password")
	a.clock.Add(91 * 24 * time.Hour)
	admin = a.login("admin@example.com", adminPassword)
	p := admin.get("/")
	want(t, "dashboard", p, http.StatusOK, "<h2 id=\"todos-title\">Security to-dos</h2>",
		"1 account should have a second factor and has none:", ">admin@example.com</a>",
		"1 account not used for 90 days or more:", ">olga@example.com</a>", `href="/review"`)
	olga := a.login("olga@example.com", "olga's long password")
	if p := olga.get("/"); p.has("Security to-dos") {
		t.Fatal("a member without access:review sees the security to-dos")
	}
}
