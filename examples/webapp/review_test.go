package main

import (
	"encoding/csv"
	"net/http"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
)

// The review page shows the findings first, then the groups with their
// labelled permissions and members, then the accounts with their factors;
// the menu offers it to the admin.
func TestReviewPage(t *testing.T) {
	a := newApp(t)
	admin := a.signup()
	ops := createGroup(t, admin, "Ops", true, "profile:manage_2fa", "backups:read")
	createUser(t, admin, "oscar@example.com", "Oscar", "oscar's long password", ops)

	p := admin.get("/review")
	want(t, "review", p, http.StatusOK, `<a href="/review" aria-current="page">Access review</a>`, "<h1>Access review</h1>",
		"No second factor", "holds * (every permission) without a second factor",
		"the group Ops requires a second factor", "Never logged in", "oscar@example.com",
		"Every permission, present and future", "View backups", "<code>backups:read</code>", "Requires 2FA",
		"No review has been recorded yet.", `href="/review.csv"`)
	findings, groups, accounts := strings.Index(p.body, `id="findings"`), strings.Index(p.body, "<h2>Groups</h2>"), strings.Index(p.body, `id="accounts"`)
	if findings < 0 || !(findings < groups && groups < accounts) {
		t.Fatalf("sections at %d (findings), %d (groups), %d (accounts): want findings, groups, accounts", findings, groups, accounts)
	}
	// Oscar's row: his group, a password, no second factor, two findings.
	row := find(t, p, `(?s)<td>%s</td>(.*?)</tr>`, "oscar@example.com")
	for _, s := range []string{"<td>Ops</td>", "<td>Yes</td>\n    <td>No</td>\n    <td>0</td>", "No second factor, Never logged in"} {
		if !strings.Contains(row, s) {
			t.Fatalf("Oscar's row lacks %q:\n%s", s, row)
		}
	}

	p = admin.get("/review?idle_days=abc")
	want(t, "idle days not a number", p, http.StatusBadRequest, "Idle days must be a whole number", `value="abc"`)
	p = admin.get("/review?idle_days=0")
	want(t, "idle days 0", p, http.StatusOK, `value="90"`)
	p = admin.get("/review?idle_days=40000")
	want(t, "idle days out of range", p, http.StatusBadRequest, "Idle days must be a whole number")
	p = admin.get("/review?idle_days=30")
	want(t, "30 idle days", p, http.StatusOK, `value="30"`, `href="/review.csv?idle_days=30"`, `name="idle_days" value="30"`)
}

// The CSV download is an attachment, one row a user, with the cells a
// spreadsheet would run as formulas defused.
func TestReviewCSV(t *testing.T) {
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "mal@example.com", "=cmd|' /C calc'!A0", "mal's long password", "users")

	p := admin.get("/review.csv")
	want(t, "review.csv", p, http.StatusOK)
	if ct := p.header.Get("Content-Type"); ct != "text/csv; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	day := a.clock.Now().UTC().Format("2006-01-02")
	if cd := p.header.Get("Content-Disposition"); cd != `attachment; filename="access-review-`+day+`.csv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if cc := p.header.Get("Cache-Control"); cc != "no-store" {
		t.Errorf("Cache-Control %q", cc)
	}
	rows, err := csv.NewReader(strings.NewReader(p.body)).ReadAll()
	if err != nil {
		t.Fatalf("CSV: %v\n%s", err, p.body)
	}
	if len(rows) != 3 || strings.Join(rows[0], ",") != strings.Join(auth.ReviewCSVHeader(), ",") {
		t.Fatalf("rows %q", rows)
	}
	if rows[2][0] != "mal@example.com" || rows[2][1] != "'=cmd|' /C calc'!A0" || rows[2][14] != "never_logged_in" {
		t.Fatalf("Mal's row %q", rows[2])
	}
}

// Marking the review records it in the audit trail, and the page shows
// it as the last review; a note too long is refused beside the form.
func TestReviewMark(t *testing.T) {
	a := newApp(t)
	admin := a.signup()
	p := admin.post("/review/mark", "note", "Quarterly review, all fine")
	want(t, "mark", p, http.StatusOK, "Review recorded in the audit log.",
		"by admin@example.com: “Quarterly review, all fine”")
	if p.url.Path != "/review" {
		t.Fatalf("mark ended at %s", p.url)
	}
	p = admin.get("/audit?action=" + string(audit.AccessReviewed))
	want(t, "audit", p, http.StatusOK, "<code>access.reviewed</code>", "Quarterly review, all fine")

	// Another site's form cannot mark a review in the admin's name.
	p = admin.postWith("/review/mark", http.Header{"Sec-Fetch-Site": {"cross-site"}}, "note", "forged")
	want(t, "cross-site mark", p, http.StatusForbidden)
	if p = admin.get("/review"); p.has("forged") {
		t.Fatal("a cross-site form marked the review")
	}

	p = admin.post("/review/mark", "note", strings.Repeat("x", auth.MaxReviewNoteBytes+1))
	want(t, "long note", p, http.StatusBadRequest, "The note is at most 1000 bytes.", "Quarterly review, all fine")
	p = admin.post("/review/mark", "idle_days", "30", "note", "thirty")
	want(t, "mark with idle days", p, http.StatusOK, "Review recorded", `value="30"`, "“thirty”")
}

// Without access:review the page, the CSV and the mark are refused (and
// audited), and the menu does not offer the page; a group may hold the
// permission alone.
func TestReviewRefused(t *testing.T) {
	a := newApp(t)
	admin := a.signup()
	createUser(t, admin, "bob@example.com", "Bob", "bob's long password", "users")
	reviewers := createGroup(t, admin, "Reviewers", false, "access:review")
	createUser(t, admin, "rita@example.com", "Rita", "rita's long password", reviewers)

	bob := a.login("bob@example.com", "bob's long password")
	if p := bob.get("/"); p.has(`href="/review"`) {
		t.Fatal("Bob's menu offers the access review")
	}
	want(t, "Bob's review", bob.get("/review"), http.StatusForbidden)
	want(t, "Bob's CSV", bob.get("/review.csv"), http.StatusForbidden)
	want(t, "Bob's mark", bob.post("/review/mark", "note", "sneaky"), http.StatusForbidden)

	rita := a.login("rita@example.com", "rita's long password")
	p := rita.get("/review")
	want(t, "Rita's review", p, http.StatusOK, `<a href="/review" aria-current="page">Access review</a>`, "bob@example.com")
	if p.has(`<a href="/users`) {
		t.Fatal("the page links to the users pages, which Rita may not open")
	}
	p = admin.get("/audit?outcome=denied")
	want(t, "denials", p, http.StatusOK, "<code>access.reviewed</code>", "needs access:review")
}
