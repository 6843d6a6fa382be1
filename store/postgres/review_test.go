package postgres_test

import (
	"reflect"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// The access review on PostgreSQL: the findings of a small organisation
// (idle, never logged in, disabled, a second factor missing where the
// group requires one, the admin with TOTP and so without finding), the
// factors read through this store's listing and password-hash queries,
// and a review marked on one instance that the other reports as the last.
func TestAccessReviewAcrossInstances(t *testing.T) {
	p := newPair(t)
	admin, _ := p.admin(t)
	ctx := t.Context()
	create := func(email string, g group.ID) user.ID {
		u, err := p.m[0].CreateUser(ctx, admin[0], auth.NewUser{Email: email, Name: email, Password: memberPass, GroupID: g})
		if err != nil {
			t.Fatalf("CreateUser %s: %v", email, err)
		}
		return u.ID
	}
	create("ivan@example.com", group.UsersID)
	p.login(t, 0, "ivan@example.com", memberPass)
	secret, _ := p.enrol(t, admin) // which ends the session
	p.clk.Advance(100 * 24 * time.Hour)
	// The admin's session timed out meanwhile: two steps to a new one.
	s, err := p.m[0].VerifyTOTP(ctx, p.challenge(t, 0), p.code(t, secret), client)
	if err != nil {
		t.Fatal(err)
	}
	for i := range admin {
		if admin[i], err = p.m[i].Authenticate(ctx, s.Token); err != nil {
			t.Fatal(err)
		}
	}
	ops, err := p.m[0].CreateGroup(ctx, admin[0], group.Group{Name: "Ops", RequireTwoFactor: true,
		Permissions: []group.Permission{group.ProfileManage2FA, "backups:run"}})
	if err != nil {
		t.Fatal(err)
	}
	create("oscar@example.com", ops.ID)
	p.login(t, 1, "oscar@example.com", memberPass)
	create("nora@example.com", group.UsersID)
	dora := create("dora@example.com", group.UsersID)
	if err := p.m[0].SetDisabled(ctx, admin[0], dora, true); err != nil {
		t.Fatal(err)
	}

	r, err := p.m[1].AccessReview(ctx, admin[1], auth.ReviewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, f := range r.Findings {
		got = append(got, string(f.Kind)+" "+f.User.Email)
	}
	want := []string{"no_second_factor oscar@example.com", "never_logged_in nora@example.com",
		"idle ivan@example.com", "disabled dora@example.com"}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("findings %q, want %q", got, want)
	}
	if u := r.Users[0]; u.Email != adminEmail || !u.Password || !u.TOTP || u.Passkeys != 0 || len(r.Users) != 5 {
		t.Fatalf("users %+v", r.Users)
	}
	if len(r.Wildcard) != 1 || r.Wildcard[0].Email != adminEmail {
		t.Fatalf("holders of *: %+v", r.Wildcard)
	}

	if _, err := p.m[0].MarkAccessReviewed(ctx, admin[0], auth.ReviewOptions{}, "quarterly"); err != nil {
		t.Fatal(err)
	}
	r, err = p.m[1].AccessReview(ctx, admin[1], auth.ReviewOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if lr := r.LastReview; lr == nil || lr.Note != "quarterly" || lr.By.Email != adminEmail {
		t.Fatalf("LastReview on the other instance: %+v", r.LastReview)
	}
}
