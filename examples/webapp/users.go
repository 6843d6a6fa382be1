package main

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

type option struct{ Value, Label string }

var userSorts = []option{
	{string(user.SortCreated), "Created"},
	{string(user.SortEmail), "Email"},
	{string(user.SortName), "Name"},
	{string(user.SortLastLogin), "Last login"},
}

type usersData struct {
	Users  []userRow
	Groups []group.Group // for the group filter; nil without groups:read
	Sorts  []option
	// PasskeysOn: the server has passkeys on, so the list shows how many
	// each user has and counts them as a second factor.
	PasskeysOn bool
	// The filter as submitted, to fill the form again.
	Search, Group, Status, TwoFactor, Sort string
	Desc                                   bool
	NextURL                                string // the next page, with the same filter
	FirstURL                               string // the first page, with the same filter
	Paged                                  bool   // this is not the first page
}

// userRow is one listed user and its second factors in words.
type userRow struct {
	user.Summary
	// Factors is "TOTP", "Passkey", "TOTP + passkey" or "Off".
	Factors string
}

// secondFactors names what a listed user can answer a second step with:
// a confirmed TOTP secret, and with passkeys on, a passkey (usher offers
// one at the second step and counts it for a group's RequireTwoFactor;
// with passkeys off, stored passkeys count for nothing).
func secondFactors(totp bool, passkeys int, passkeysOn bool) string {
	pk := passkeysOn && passkeys > 0
	switch {
	case totp && pk:
		return "TOTP + passkey"
	case totp:
		return "TOTP"
	case pk:
		return "Passkey"
	}
	return "Off"
}

// usersPage lists users with search, group, status and TOTP filters, a
// sort order and cursor paging (usher pages forward only: Next, and back
// to the first page). The TOTP filter is usher's Query.TwoFactor, which
// the stores evaluate as "has a confirmed TOTP secret": it cannot select
// users by passkey, so the page calls it TOTP, not 2FA.
func (s *server) usersPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := r.URL.Query()
	d := &usersData{
		Sorts: userSorts, Search: v.Get("q"), Group: v.Get("group"), Status: v.Get("status"),
		TwoFactor: v.Get("twofa"), Sort: v.Get("sort"), Desc: v.Get("dir") == "desc", Paged: v.Get("cursor") != "",
		PasskeysOn: s.passkeys,
	}
	q := user.Query{
		Search: d.Search, GroupID: d.Group, Sort: user.Sort(d.Sort), Descending: d.Desc,
		Limit: s.pageSize, Cursor: v.Get("cursor"),
	}
	if d.Status != "" {
		disabled := d.Status == "disabled"
		q.Disabled = &disabled
	}
	if d.TwoFactor != "" {
		on := d.TwoFactor == "on"
		q.TwoFactor = &on
	}
	groups, err := s.groupsIfAllowed(r.Context(), p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	d.Groups = groups
	page, err := s.m.ListUsers(r.Context(), p, q)
	if err != nil {
		s.formFailed(w, r, err, "users", nil, func() (*view, error) {
			return &view{Title: "Users", Data: d}, nil
		})
		return
	}
	for _, u := range page.Users {
		d.Users = append(d.Users, userRow{Summary: u, Factors: secondFactors(u.TwoFactor, u.Passkeys, s.passkeys)})
	}
	filter := url.Values{}
	for k, vs := range v {
		if k != "cursor" && k != "done" {
			filter[k] = vs
		}
	}
	d.FirstURL = "/users?" + filter.Encode()
	if page.Next != "" {
		filter.Set("cursor", page.Next)
		d.NextURL = "/users?" + filter.Encode()
	}
	s.render(w, r, http.StatusOK, "users", &view{Title: "Users", Data: d})
}

// groupsIfAllowed lists the groups for a picker, or nil when the actor may
// not read them. Asking first keeps a page view from writing an
// "authorization denied" event each time.
func (s *server) groupsIfAllowed(ctx context.Context, p *auth.Principal) ([]group.Group, error) {
	if !p.Can(group.GroupsRead) {
		return nil, nil
	}
	return s.m.ListGroups(ctx, p)
}

type newUserData struct {
	Groups               []group.Group
	Email, Name, GroupID string
}

func (s *server) newUserPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v, err := s.newUserView(r, p, &newUserData{GroupID: string(group.UsersID)})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "user_new", v)
}

func (s *server) newUserView(r *http.Request, p *auth.Principal, d *newUserData) (*view, error) {
	groups, err := s.m.AssignableGroups(r.Context(), p)
	d.Groups = groups
	return &view{Title: "Add user", Data: d}, err
}

func (s *server) createUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	in := auth.NewUser{
		Email: r.PostFormValue("email"), Name: r.PostFormValue("name"),
		Password: r.PostFormValue("password"), GroupID: group.ID(r.PostFormValue("group")),
	}
	u, err := s.m.CreateUser(r.Context(), p, in)
	if err != nil {
		s.formFailed(w, r, err, "user_new", nil, func() (*view, error) {
			return s.newUserView(r, p, &newUserData{Email: in.Email, Name: in.Name, GroupID: string(in.GroupID)})
		})
		return
	}
	redirect(w, r, "/users/"+url.PathEscape(string(u.ID))+"?done=user-created")
}

type userEditData struct {
	User      *user.User
	TOTP      bool // a confirmed TOTP secret, from the listing; usher's GetUser does not say
	GroupName string
	Groups    []group.Group // the groups the actor may assign; nil without users:write
	Self      bool          // nobody changes their own group
	// Editable: the actor may change this user (users:write, and the
	// user's group is one it may assign); otherwise the page is read-only.
	Editable bool
	Sessions []auth.Session
	// ShowSessions: the actor holds sessions:revoke over this user.
	ShowSessions bool
	// Passkeys are the user's passkeys (UserPasskeys, users:read), listed
	// whether or not the server has passkeys on; PasskeysOn says whether
	// they serve as a second factor.
	Passkeys   []passkey.Credential
	PasskeysOn bool
	// Form values.
	Name, Email, GroupID string
}

// userEdit loads the edit page of one user.
func (s *server) userEdit(ctx context.Context, p *auth.Principal, id user.ID) (*userEditData, error) {
	u, err := s.m.GetUser(ctx, p, id)
	if err != nil {
		return nil, err
	}
	d := &userEditData{User: u, Self: u.ID == p.User().ID, Name: u.Name, Email: u.Email, GroupID: u.GroupID, GroupName: u.GroupID}
	if p.Can(group.UsersWrite) {
		if d.Groups, err = s.m.AssignableGroups(ctx, p); err != nil {
			return nil, err
		}
	}
	for _, g := range d.Groups {
		if string(g.ID) == u.GroupID {
			d.GroupName, d.Editable = g.Name, true
		}
	}
	if sum, err := s.summary(ctx, p, u); err != nil {
		return nil, err
	} else if sum != nil {
		d.TOTP, d.GroupName = sum.TwoFactor, sum.GroupName
	}
	d.PasskeysOn = s.passkeys
	if d.Passkeys, err = s.m.UserPasskeys(ctx, p, u.ID); err != nil {
		return nil, err
	}
	if p.Can(group.SessionsRevoke) {
		d.Sessions, err = s.m.UserSessions(ctx, p, u.ID)
		switch {
		case errors.Is(err, auth.ErrForbidden):
			// The user's group grants more than the actor holds.
		case err != nil:
			return nil, err
		default:
			d.ShowSessions = true
		}
	}
	return d, nil
}

// TwoFactor is the facts' 2FA line: "TOTP, 2 passkeys", "TOTP",
// "1 passkey" or "Off". Passkeys count only with passkeys on, as usher
// counts them (secondFactors).
func (d *userEditData) TwoFactor() string {
	n := 0
	if d.PasskeysOn {
		n = len(d.Passkeys)
	}
	var parts []string
	if d.TOTP {
		parts = append(parts, "TOTP")
	}
	switch {
	case n == 1:
		parts = append(parts, "1 passkey")
	case n > 1:
		parts = append(parts, strconv.Itoa(n)+" passkeys")
	}
	if parts == nil {
		return "Off"
	}
	return strings.Join(parts, ", ")
}

// Resettable: "Reset 2FA" has something to remove. ResetTwoFactor deletes
// the TOTP secret, recovery codes and every passkey, so a passkey alone is
// enough, even with passkeys off.
func (d *userEditData) Resettable() bool {
	return d.TOTP || len(d.Passkeys) > 0
}

// summary finds the listing row of u, which carries its TOTP status and
// group name: usher's GetUser returns only the user.User.
func (s *server) summary(ctx context.Context, p *auth.Principal, u *user.User) (*user.Summary, error) {
	q := user.Query{Search: u.Email, Limit: user.MaxLimit}
	for {
		page, err := s.m.ListUsers(ctx, p, q)
		if err != nil {
			return nil, err
		}
		for i := range page.Users {
			if page.Users[i].ID == u.ID {
				return &page.Users[i], nil
			}
		}
		if page.Next == "" {
			return nil, nil
		}
		q.Cursor = page.Next
	}
}

func (s *server) editUserPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d, err := s.userEdit(r.Context(), p, user.ID(r.PathValue("id")))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "user_edit", &view{Title: "Edit user", Data: d})
}

// editFailed shows the edit page again with err next to the form, keeping
// what was typed.
func (s *server) editFailed(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error, keep func(*userEditData)) {
	s.formFailed(w, r, err, "user_edit", nil, func() (*view, error) {
		d, err := s.userEdit(r.Context(), p, user.ID(r.PathValue("id")))
		if err != nil {
			return nil, err
		}
		if keep != nil {
			keep(d)
		}
		return &view{Title: "Edit user", Data: d}, nil
	})
}

func userURL(id string, done string) string {
	return "/users/" + url.PathEscape(id) + "?done=" + done
}

func (s *server) updateUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	name, email := r.PostFormValue("name"), r.PostFormValue("email")
	up := auth.UserUpdate{Name: &name, Email: &email}
	// The version the form was read at: none or garbage is 0, which is
	// stale, so an older form never overwrites a newer change.
	up.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	if r.PostForm.Has("group") {
		g := group.ID(r.PostFormValue("group"))
		up.GroupID = &g
	}
	if _, err := s.m.UpdateUser(r.Context(), p, user.ID(id), up); err != nil {
		if errors.Is(err, auth.ErrStale) {
			s.editFailed(w, r, p, err, nil) // the user as it is now
			return
		}
		s.editFailed(w, r, p, err, func(d *userEditData) {
			d.Name, d.Email = name, email
			if up.GroupID != nil {
				d.GroupID = string(*up.GroupID)
			}
		})
		return
	}
	redirect(w, r, userURL(id, "user-saved"))
}

func (s *server) setDisabled(disabled bool) pageFunc {
	done := "user-enabled"
	if disabled {
		done = "user-disabled"
	}
	return func(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
		id := r.PathValue("id")
		if err := s.m.SetDisabled(r.Context(), p, user.ID(id), disabled); err != nil {
			s.editFailed(w, r, p, err, nil)
			return
		}
		redirect(w, r, userURL(id, done))
	}
}

type confirmData struct {
	Question string
	Warning  string
	Action   string // the form's POST target
	Button   string
	Cancel   string
}

func (s *server) deleteUserPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	u, err := s.m.GetUser(r.Context(), p, user.ID(r.PathValue("id")))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	id := url.PathEscape(string(u.ID))
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Delete user", Data: &confirmData{
		Question: "Delete " + u.Email + "?",
		Warning:  "Deletion is permanent: the account, its sessions, avatar and second factors go, and the user loses access immediately.",
		Action:   "/users/" + id + "/delete", Button: "Delete user", Cancel: "/users/" + id,
	}})
}

func (s *server) deleteUser(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := s.m.DeleteUser(r.Context(), p, user.ID(r.PathValue("id"))); err != nil {
		s.editFailed(w, r, p, err, nil)
		return
	}
	redirect(w, r, "/users?done=user-deleted")
}

func (s *server) resetPassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	if err := s.m.ResetPassword(r.Context(), p, user.ID(id), r.PostFormValue("new_password")); err != nil {
		s.editFailed(w, r, p, err, nil)
		return
	}
	if r.PostFormValue("require_change") == "" {
		redirect(w, r, userURL(id, "password-reset"))
		return
	}
	// A second call: the reset is done whatever happens here, and usher
	// reads the requirement afresh on every request, so the order is safe.
	if err := s.m.RequirePasswordChange(r.Context(), p, user.ID(id)); err != nil {
		s.editFailed(w, r, p, err, nil)
		return
	}
	redirect(w, r, userURL(id, "password-reset-change"))
}

func (s *server) resetTwoFactor(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	if err := s.m.ResetTwoFactor(r.Context(), p, user.ID(id)); err != nil {
		s.editFailed(w, r, p, err, nil)
		return
	}
	redirect(w, r, userURL(id, "2fa-reset"))
}

// deleteUserPasskey removes one passkey of another user, for someone who
// lost that authenticator. usher checks users:write and the user's group,
// refuses one's own passkeys (Profile → Security asks for the password),
// and ends the user's sessions and pending logins.
func (s *server) deleteUserPasskey(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	if err := s.m.DeleteUserPasskey(r.Context(), p, user.ID(id), r.PathValue("pk")); err != nil {
		s.editFailed(w, r, p, err, nil)
		return
	}
	redirect(w, r, userURL(id, "user-pk-deleted"))
}

func (s *server) unlockLogin(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	if err := s.m.UnlockLogin(r.Context(), p, user.ID(id)); err != nil {
		s.editFailed(w, r, p, err, nil)
		return
	}
	redirect(w, r, userURL(id, "unlocked"))
}

func (s *server) revokeUserSession(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	if err := s.m.RevokeSession(r.Context(), p, r.PathValue("sid")); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, userURL(id, "session-revoked"))
}
