package auth

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// The access review answers what a periodic review of accounts asks (NIST
// SP 800-53 AC-2 (j): review accounts; AC-2 (3): disable inactive ones):
// who is in which group, what each group may do, who holds "*", who
// should have a second factor and has none, which accounts are disabled,
// were never used or lie idle. It reads; [Manager.MarkAccessReviewed]
// records that someone went through it.

// Limits of an access review.
const (
	// DefaultIdleDays is ReviewOptions.IdleDays when it is 0.
	DefaultIdleDays = 90
	// MaxIdleDays bounds ReviewOptions.IdleDays: about a hundred years.
	MaxIdleDays = 36500
	// MaxReviewNoteBytes bounds the note of [Manager.MarkAccessReviewed].
	MaxReviewNoteBytes = 1000
)

// The inputs of an access review a [FieldError] can name, beside those of
// errors.go.
const (
	// FieldIdleDays: ReviewOptions.IdleDays is out of range
	// ([ErrInvalidIdleDays]).
	FieldIdleDays = "idle_days"
	// FieldNote: the note of [Manager.MarkAccessReviewed] is longer than
	// [MaxReviewNoteBytes] ([ErrNoteTooLong]).
	FieldNote = "note"
)

// Errors of an access review's input.
var (
	ErrInvalidIdleDays = errors.New("auth: idle days out of range")
	ErrNoteTooLong     = errors.New("auth: note too long")
)

// ReviewOptions tune an access review.
type ReviewOptions struct {
	// IdleDays: an enabled account whose last login is this many days ago
	// or more is a finding ([FindingIdle]). 0 means [DefaultIdleDays]; at
	// most [MaxIdleDays].
	IdleDays int
}

// normalize fills the default and checks the range.
func (o ReviewOptions) normalize() (ReviewOptions, error) {
	switch {
	case o.IdleDays == 0:
		o.IdleDays = DefaultIdleDays
	case o.IdleDays < 0 || o.IdleDays > MaxIdleDays:
		return o, inField(FieldIdleDays, fmt.Errorf("%w: %d is not 1 to %d", ErrInvalidIdleDays, o.IdleDays, MaxIdleDays))
	}
	return o, nil
}

// AccessReview is the report of [Manager.AccessReview]: every group and
// every account as they were at Generated, and what deserves a look.
type AccessReview struct {
	Generated time.Time
	IdleDays  int // the ReviewOptions.IdleDays the findings used
	// Findings, by kind (in the order of the FindingKind constants), then
	// by email.
	Findings []Finding
	// Groups, by name, each with its members.
	Groups []ReviewGroup
	// Wildcard lists the members, enabled or not, of the groups that hold
	// "*" (every permission, present and future), by email.
	Wildcard []ReviewMember
	// Users, by email.
	Users []ReviewUser
	// LastReview is the latest [Manager.MarkAccessReviewed] still in the
	// audit trail, or nil.
	LastReview *ReviewMark
}

// ReviewGroup is one group of an [AccessReview].
type ReviewGroup struct {
	ID          group.ID
	Name        string
	Description string
	// Permissions are the group's, each with the catalog's label and
	// category; "*" and "resource:*" get labels of their own, and a
	// permission the catalog no longer lists is labelled with itself in
	// the category "Not in the catalog".
	Permissions      []group.Entry
	RequireTwoFactor bool
	Members          []ReviewMember // by email
}

// ReviewMember names an account in a group listing or a finding.
type ReviewMember struct {
	ID       user.ID
	Email    string
	Name     string
	Disabled bool
}

// ReviewUser is one account of an [AccessReview] with the ways it can
// log in.
type ReviewUser struct {
	ReviewMember
	GroupID            group.ID
	GroupName          string
	MustChangePassword bool
	CreatedAt          time.Time
	LastLoginAt        time.Time // zero: never
	// Password: the account has a password that can log in.
	Password bool
	// TOTP: a confirmed TOTP second factor.
	TOTP bool
	// Passkeys counts the passkeys whose MAC verifies (those that can log
	// in).
	Passkeys int
	// SSO names the sign-on providers the account is linked through (a
	// provider's name, or its ID when it has none any more), sorted.
	SSO []string
	// Findings are the kinds of the account's findings.
	Findings []FindingKind
}

// SecondFactor reports whether the account has a second factor of its
// own: TOTP or a passkey.
func (u *ReviewUser) SecondFactor() bool { return u.TOTP || u.Passkeys > 0 }

// FindingKind names what an access review found about an account.
type FindingKind string

// The kinds of finding, in the order a report lists them.
const (
	// FindingNoSecondFactor: an enabled account without a second factor
	// (TOTP or a passkey) that should have one: its group requires one,
	// or it is an admin, a group that can change who has access (it holds
	// users:write, groups:write or sso:manage, "*" included). OWASP ASVS
	// 5.0 V6.3.3 asks for multi-factor authentication; NIST SP 800-63B
	// requires AAL2 (two factors) for such accounts. A provider's own
	// second factor at sign-on is not seen here.
	FindingNoSecondFactor FindingKind = "no_second_factor"
	// FindingNeverLoggedIn: an enabled account that never logged in.
	FindingNeverLoggedIn FindingKind = "never_logged_in"
	// FindingIdle: an enabled account whose last login is at least
	// IdleDays old.
	FindingIdle FindingKind = "idle"
	// FindingDisabled: a disabled account (it can do nothing, but still
	// holds its group: delete it when it is no longer needed).
	FindingDisabled FindingKind = "disabled"
)

// findingOrder is the FindingKind constants' order.
var findingOrder = []FindingKind{FindingNoSecondFactor, FindingNeverLoggedIn, FindingIdle, FindingDisabled}

// Finding is one thing an access review found about one account.
type Finding struct {
	Kind FindingKind
	User ReviewMember
	// Detail says why, in words a report can show: "holds *", "the group
	// Ops requires a second factor", "last login 2025-01-31, 120 days ago".
	Detail string
}

// ReviewMark is a recorded review ([Manager.MarkAccessReviewed]).
type ReviewMark struct {
	At   time.Time
	By   audit.Actor
	Note string
}

// reviewTarget is the target of the review's events.
var reviewTarget = audit.Target{Type: audit.TargetAccessReview}

// AccessReview returns the access review: every group with its
// permissions and members, who holds "*", every account with its group,
// its ways to log in (password, TOTP, passkeys, sign-on providers) and
// its last login, the findings, and the last recorded review. It needs
// access:review ([group.AccessReview]); a refusal is audited.
//
// It reads every user and group, a page at a time: a report to run now
// and then, not on each request.
func (m *Manager) AccessReview(ctx context.Context, actor *Principal, opts ReviewOptions) (*AccessReview, error) {
	if err := m.deniedUnless(ctx, actor, group.AccessReview, reviewTarget); err != nil {
		return nil, err
	}
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	return m.accessReview(ctx, opts)
}

// MarkAccessReviewed records, in the audit trail ([audit.AccessReviewed]),
// that actor went through the access review, with an optional note (at
// most [MaxReviewNoteBytes] bytes; control characters are dropped) and
// the count of each kind of finding of the review as opts makes it now.
// It returns that review, its LastReview being this mark. It needs
// access:review; a refusal is audited.
func (m *Manager) MarkAccessReviewed(ctx context.Context, actor *Principal, opts ReviewOptions, note string) (*AccessReview, error) {
	// Bounded before any other work (invariant 9).
	if len(note) > MaxReviewNoteBytes {
		return nil, inField(FieldNote, fmt.Errorf("%w: more than %d bytes", ErrNoteTooLong, MaxReviewNoteBytes))
	}
	note = cleanField(note, MaxReviewNoteBytes)
	if !actor.Can(group.AccessReview) {
		return nil, m.refuse(ctx, actor, group.AccessReview, audit.AccessReviewed, reviewTarget)
	}
	opts, err := opts.normalize()
	if err != nil {
		return nil, err
	}
	r, err := m.accessReview(ctx, opts)
	if err != nil {
		return nil, err
	}
	counts := map[string]int{}
	for _, f := range r.Findings {
		counts[string(f.Kind)]++
	}
	var mark *audit.Event
	err = m.change(ctx, actor, group.AccessReview, audit.AccessReviewed, reviewTarget, func(_ Store, _ *Principal, e *audit.Event) error {
		e.Details = map[string]any{audit.DetailNote: note, audit.DetailFindings: counts, audit.DetailUsers: len(r.Users)}
		mark = e
		return nil
	})
	if err != nil {
		return nil, err
	}
	r.LastReview = &ReviewMark{At: mark.Time, By: mark.Actor, Note: note}
	return r, nil
}

// accessReview builds the report; the caller checked the actor.
func (m *Manager) accessReview(ctx context.Context, opts ReviewOptions) (*AccessReview, error) {
	r := &AccessReview{Generated: m.clock(), IdleDays: opts.IdleDays}
	groups, err := m.store.Groups().List(ctx)
	if err != nil {
		return nil, err
	}
	users, err := m.reviewUsers(ctx)
	if err != nil {
		return nil, err
	}
	byID := make(map[group.ID]*group.Group, len(groups))
	for i := range groups {
		byID[groups[i].ID] = &groups[i]
	}
	members := map[group.ID][]ReviewMember{}
	for i := range users {
		u := &users[i]
		g := byID[u.GroupID]
		r.Findings = append(r.Findings, findings(u, g, r.Generated, opts.IdleDays)...)
		members[u.GroupID] = append(members[u.GroupID], u.ReviewMember)
		if g != nil && group.NewSet(g.Permissions).Has(group.All) {
			r.Wildcard = append(r.Wildcard, u.ReviewMember)
		}
	}
	slices.SortStableFunc(r.Findings, func(a, b Finding) int {
		return cmp.Compare(slices.Index(findingOrder, a.Kind), slices.Index(findingOrder, b.Kind))
	})
	for _, g := range groups {
		r.Groups = append(r.Groups, ReviewGroup{
			ID: g.ID, Name: g.Name, Description: g.Description, RequireTwoFactor: g.RequireTwoFactor,
			Permissions: m.labelled(g.Permissions), Members: members[g.ID],
		})
	}
	r.Users = users
	if r.LastReview, err = m.lastReview(ctx); err != nil {
		return nil, err
	}
	return r, nil
}

// reviewUsers reads every account, by email, with its factors.
func (m *Manager) reviewUsers(ctx context.Context) ([]ReviewUser, error) {
	withPassword, err := m.usersWithPassword(ctx)
	if err != nil {
		return nil, err
	}
	providers, err := m.providerNames(ctx)
	if err != nil {
		return nil, err
	}
	var users []ReviewUser
	q := user.Query{Sort: user.SortEmail, Limit: user.MaxLimit}
	for {
		page, err := m.store.Users().List(ctx, q)
		if err != nil {
			return nil, err
		}
		for _, s := range page.Users {
			u := ReviewUser{
				ReviewMember: ReviewMember{ID: s.ID, Email: s.Email, Name: s.Name, Disabled: s.Disabled},
				GroupID:      group.ID(s.GroupID), GroupName: s.GroupName, MustChangePassword: s.MustChangePassword,
				CreatedAt: s.CreatedAt, LastLoginAt: s.LastLoginAt,
				Password: withPassword[s.ID], TOTP: s.TwoFactor,
			}
			// The store counts rows; only those whose MAC verifies are
			// passkeys (as in ListUsers).
			if s.Passkeys > 0 {
				if u.Passkeys, err = m.countGenuinePasskeys(ctx, m.store, s.ID); err != nil {
					return nil, err
				}
			}
			for _, id := range s.Providers {
				u.SSO = append(u.SSO, cmp.Or(providers[id], id))
			}
			slices.Sort(u.SSO)
			users = append(users, u)
		}
		if page.Next == "" {
			return users, nil
		}
		q.Cursor = page.Next
	}
}

// usersWithPassword returns the users whose stored hash can verify a
// password: usher's format or a wrapped legacy hash. [New] wraps every
// other legacy hash, and an unwrapped one does not verify (invariant 4).
func (m *Manager) usersWithPassword(ctx context.Context) (map[user.ID]bool, error) {
	const batch = 500
	set := map[user.ID]bool{}
	var after user.ID
	for {
		page, err := m.store.Users().PasswordHashes(ctx, []string{hashPrefix, hashPrefixWrapped}, after, batch)
		if err != nil {
			return nil, fmt.Errorf("auth: reading which users have a password: %w", err)
		}
		for _, h := range page {
			set[h.ID] = true
		}
		if len(page) < batch {
			return set, nil
		}
		after = page[len(page)-1].ID
	}
}

// providerNames maps each stored sign-on provider's ID to its name.
func (m *Manager) providerNames(ctx context.Context) (map[string]string, error) {
	ps, err := m.store.Providers().List(ctx)
	if err != nil {
		return nil, err
	}
	names := make(map[string]string, len(ps))
	for _, p := range ps {
		names[p.ID] = p.Name
	}
	return names, nil
}

// findings returns what the review finds about u, whose group is g (nil
// if it is missing), at now; it fills u.Findings.
func findings(u *ReviewUser, g *group.Group, now time.Time, idleDays int) []Finding {
	var out []Finding
	add := func(k FindingKind, detail string) {
		out = append(out, Finding{Kind: k, User: u.ReviewMember, Detail: detail})
		u.Findings = append(u.Findings, k)
	}
	if u.Disabled {
		add(FindingDisabled, "disabled; still in the group "+u.GroupName)
		return out
	}
	if why := secondFactorOwed(g); why != "" && !u.SecondFactor() {
		add(FindingNoSecondFactor, why)
	}
	switch days := int(now.Sub(u.LastLoginAt) / (24 * time.Hour)); {
	case u.LastLoginAt.IsZero():
		add(FindingNeverLoggedIn, "never logged in; created "+u.CreatedAt.Format(time.DateOnly))
	case days >= idleDays:
		add(FindingIdle, fmt.Sprintf("last login %s, %d days ago", u.LastLoginAt.Format(time.DateOnly), days))
	}
	return out
}

// secondFactorOwed says why a member of g should have a second factor, or
// "" when nothing asks for one.
func secondFactorOwed(g *group.Group) string {
	if g == nil {
		return ""
	}
	set := group.NewSet(g.Permissions)
	switch {
	case g.RequireTwoFactor:
		return "the group " + g.Name + " requires a second factor"
	case set.Has(group.All):
		return "holds * (every permission) without a second factor"
	}
	for _, p := range []group.Permission{group.UsersWrite, group.GroupsWrite, group.SSOManage} {
		if set.Has(p) {
			return "can change who has access (" + string(p) + ") without a second factor"
		}
	}
	return ""
}

// labelled returns perms with the catalog's labels and categories.
func (m *Manager) labelled(perms []group.Permission) []group.Entry {
	entries := m.catalog.Entries()
	out := make([]group.Entry, 0, len(perms))
	for _, p := range perms {
		e := group.Entry{Permission: p, Label: string(p), Category: "Not in the catalog"}
		switch {
		case p == group.All:
			e.Label, e.Category = "Every permission, present and future", "Everything"
		case p.Wildcard():
			e.Label = "Every " + p.Resource() + " permission"
			if i := slices.IndexFunc(entries, func(c group.Entry) bool { return c.Permission.Resource() == p.Resource() }); i >= 0 {
				e.Category = entries[i].Category
			}
		default:
			if i := slices.IndexFunc(entries, func(c group.Entry) bool { return c.Permission == p }); i >= 0 {
				e = entries[i]
			}
		}
		out = append(out, e)
	}
	return out
}

// lastReview reads the latest recorded review from the audit trail.
func (m *Manager) lastReview(ctx context.Context) (*ReviewMark, error) {
	q, err := audit.Query{Action: audit.AccessReviewed, Outcome: audit.Success, Limit: 1}.Normalize()
	if err != nil {
		return nil, err
	}
	page, err := m.store.Audit().Query(ctx, q)
	if err != nil || len(page.Events) == 0 {
		return nil, err
	}
	e := page.Events[0]
	note, _ := e.Details[audit.DetailNote].(string)
	return &ReviewMark{At: e.Time, By: e.Actor, Note: note}, nil
}
