package postgres_test

import (
	"errors"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/oidctest"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

// The SSO flows of auth's SQLite tests (auth/sso_test.go), through
// auth.Manager on PostgreSQL against the in-process zitadel provider, and
// what only a shared database shows: a flow begun on one instance and
// finished on the other, and two finishes of one flow at once.

const ssoCallbackURL = "http://localhost:9999/sso/{id}/callback"

// ssoPair is a pair with single sign-on on, a real provider, the admin
// as each instance sees it, and the provider "idp".
type ssoPair struct {
	*pair
	op    *oidctest.Provider
	admin [2]*auth.Principal
}

func newSSOPair(t *testing.T, prov func(*oidc.Provider)) *ssoPair {
	t.Helper()
	op := oidctest.New(t, oidctest.GroupsInIDToken())
	op.AddClient("usher", "client-secret", strings.Replace(ssoCallbackURL, "{id}", "idp", 1))
	p := newPair(t, func(cfg *auth.Config) {
		cfg.SSO = auth.SSOConfig{CallbackURL: ssoCallbackURL}
		cfg.Throttle.PerIPPerMinute = -1
	})
	// ID tokens carry real times: the shared clock starts now.
	p.clk.mu.Lock()
	p.clk.t = time.Now().UTC()
	p.clk.mu.Unlock()
	s := &ssoPair{pair: p, op: op}
	s.admin, _ = p.admin(t)
	if prov != nil {
		s.provider(t, prov)
	}
	return s
}

// provider adds "idp" through instance 0, provisioning for example.com
// into users, with f applied.
func (s *ssoPair) provider(t *testing.T, f func(*oidc.Provider)) {
	t.Helper()
	pr := oidc.Provider{ID: "idp", Name: "The IdP", Issuer: s.op.Issuer(), ClientID: "usher", Enabled: true,
		Provisioning: true, AllowedDomains: []string{"example.com"}, DefaultGroup: group.UsersID}
	f(&pr)
	if _, err := s.m[0].CreateProvider(t.Context(), s.admin[0], pr, "client-secret"); err != nil {
		t.Fatalf("CreateProvider: %v", err)
	}
}

// begin starts a sign-on on instance i and logs subject in at the
// provider: the flow ID and the callback query.
func (s *ssoPair) begin(t *testing.T, i int, subject string) (string, url.Values) {
	t.Helper()
	f, err := s.m[i].BeginSSO(t.Context(), "idp", "/after", client)
	if err != nil {
		t.Fatalf("BeginSSO on instance %d: %v", i, err)
	}
	return f.ID, s.op.Login(t, f.URL, subject).Query()
}

// sso begins on instance i and finishes on instance j.
func (s *ssoPair) sso(t *testing.T, i, j int, subject string) (*auth.LoginResult, error) {
	t.Helper()
	id, q := s.begin(t, i, subject)
	return s.m[j].FinishSSO(t.Context(), id, "idp", q, client)
}

// session signs subject on (begun on i, finished on j) and returns the
// principal as instance 1-j authenticates it.
func (s *ssoPair) session(t *testing.T, i, j int, subject string) *auth.Principal {
	t.Helper()
	res, err := s.sso(t, i, j, subject)
	if err != nil {
		t.Fatalf("sign-on of %s (begun on %d, finished on %d): %v", subject, i, j, err)
	}
	if res.Session == nil || res.ReturnTo != "/after" {
		t.Fatalf("sign-on of %s: %+v", subject, res)
	}
	return s.authenticate(t, 1-j, res.Session.Token)
}

func (s *ssoPair) userCount(t *testing.T) int {
	t.Helper()
	page, err := s.m[1].ListUsers(t.Context(), s.admin[1], user.Query{Limit: user.MaxLimit})
	if err != nil {
		t.Fatal(err)
	}
	return len(page.Users)
}

func (s *ssoPair) identities(t *testing.T, id user.ID) []oidc.Identity {
	t.Helper()
	ids, err := s.db[1].Identities().List(t.Context(), id)
	if err != nil {
		t.Fatalf("Identities().List: %v", err)
	}
	return ids
}

func TestSSOProvisioning(t *testing.T) {
	t.Parallel()
	s := newSSOPair(t, func(*oidc.Provider) {})
	s.op.AddUser(oidctest.User{Subject: "alice-sub", Email: "alice@example.com", EmailVerified: true, Name: "Alice"})
	a := s.session(t, 0, 0, "alice-sub")
	if u := a.User(); u.Email != "alice@example.com" || u.Name != "Alice" || u.GroupID != string(group.UsersID) {
		t.Errorf("provisioned %+v", u)
	}
	if ev := s.lastEvent(t, audit.UserProvisioned); ev.Details[audit.DetailProvider] != "idp" {
		t.Errorf("provisioned event %+v", ev.Details)
	}
	if ev := s.lastEvent(t, audit.IdentityLinked); ev.Details[audit.DetailSubject] != "alice-sub" {
		t.Errorf("linked event %+v", ev.Details)
	}
	ids := s.identities(t, a.User().ID)
	if len(ids) != 1 || ids[0].Issuer != s.op.Issuer() || ids[0].Subject != "alice-sub" || ids[0].ProviderID != "idp" {
		t.Errorf("identities %+v", ids)
	}
	// The other instance finds the same account by (issuer, subject).
	if b := s.session(t, 1, 1, "alice-sub"); b.User().ID != a.User().ID {
		t.Errorf("second sign-on as %s, want %s", b.User().ID, a.User().ID)
	}
	if n := s.userCount(t); n != 2 {
		t.Errorf("%d users, want the admin and alice", n)
	}
	// Refusals leave nothing behind on PostgreSQL either.
	s.op.AddUser(oidctest.User{Subject: "mallory", Email: "mallory@evil.example", EmailVerified: true})
	s.op.AddUser(oidctest.User{Subject: "unverified", Email: "u@example.com"})
	for sub, reason := range map[string]string{"mallory": "domain not allowed", "unverified": "unverified email"} {
		_, err := s.sso(t, 0, 1, sub)
		if !errors.Is(err, auth.ErrSSONotLinked) {
			t.Errorf("%s: %v, want ErrSSONotLinked", sub, err)
		}
		if ev := s.lastEvent(t, audit.LoginFailed); ev.Reason != reason {
			t.Errorf("%s: recorded as %q, want %q", sub, ev.Reason, reason)
		}
	}
	if n := s.userCount(t); n != 2 {
		t.Errorf("%d users after the refusals, want 2", n)
	}
}

func TestSSOLinkByEmail(t *testing.T) {
	t.Parallel()
	s := newSSOPair(t, func(p *oidc.Provider) { p.LinkByEmail = true })
	ctx := t.Context()
	bob, err := s.m[0].CreateUser(ctx, s.admin[0], auth.NewUser{Email: "bob@example.com", Name: "Bob", Password: "bob's long password", GroupID: group.UsersID})
	if err != nil {
		t.Fatal(err)
	}
	// Unverified at the provider: refused, not linked.
	s.op.AddUser(oidctest.User{Subject: "bob-sub", Email: "bob@example.com", EmailVerified: false})
	_, err = s.sso(t, 0, 1, "bob-sub")
	if !errors.Is(err, auth.ErrSSONotLinked) {
		t.Fatalf("unverified email: %v, want ErrSSONotLinked", err)
	}
	if ids := s.identities(t, bob.ID); len(ids) != 0 {
		t.Fatalf("linked an unverified email: %+v", ids)
	}
	// Verified: linked to bob's account, no new one.
	s.op.SetUser(oidctest.User{Subject: "bob-sub", Email: "bob@example.com", EmailVerified: true})
	if b := s.session(t, 1, 0, "bob-sub"); b.User().ID != bob.ID {
		t.Fatalf("signed on as %s, want bob", b.User().ID)
	}
	if ids := s.identities(t, bob.ID); len(ids) != 1 || ids[0].Subject != "bob-sub" {
		t.Errorf("identities %+v", ids)
	}
	if ev := s.lastEvent(t, audit.IdentityLinked); ev.Target.ID != string(bob.ID) {
		t.Errorf("linked event %+v", ev)
	}
	if n := s.userCount(t); n != 2 {
		t.Errorf("%d users, want the admin and bob", n)
	}
	// Bob's password still works beside.
	s.login(t, 1, "bob@example.com", "bob's long password")
}

func TestSSOGroupMapping(t *testing.T) {
	t.Parallel()
	s := newSSOPair(t, nil)
	ops, err := s.m[0].CreateGroup(t.Context(), s.admin[0], group.Group{Name: "Operators",
		Permissions: []group.Permission{group.ProfileAll, "backups:run"}})
	if err != nil {
		t.Fatal(err)
	}
	s.provider(t, func(p *oidc.Provider) {
		p.GroupClaim = "groups"
		p.GroupMap = map[string]group.ID{"ops": ops.ID}
	})
	s.op.AddUser(oidctest.User{Subject: "c", Email: "carol@example.com", EmailVerified: true, Groups: []string{"staff", "ops"}})
	c := s.session(t, 0, 1, "c")
	if c.User().GroupID != string(ops.ID) || !c.Can("backups:run") {
		t.Fatalf("carol in %s, want Operators", c.User().GroupID)
	}
	if ev := s.lastEvent(t, audit.GroupMapped); ev.Details[audit.DetailAfter] != string(ops.ID) {
		t.Errorf("mapping event %+v", ev.Details)
	}
	// Out of the IdP group: demoted at the next sign-on, on the other
	// instance.
	s.op.SetUser(oidctest.User{Subject: "c", Email: "carol@example.com", EmailVerified: true, Groups: []string{"staff"}})
	c2 := s.session(t, 1, 0, "c")
	if c2.User().GroupID != string(group.UsersID) || c2.Can("backups:run") {
		t.Errorf("after leaving ops: carol in %s", c2.User().GroupID)
	}
	ev := s.lastEvent(t, audit.GroupMapped)
	if ev.Details[audit.DetailBefore] != string(ops.ID) || ev.Details[audit.DetailAfter] != string(group.UsersID) {
		t.Errorf("demotion event %+v", ev.Details)
	}
	if n := len(s.events(t, audit.GroupMapped)); n != 2 {
		t.Errorf("%d mapping events, want 2", n)
	}
	// The same groups again: no change, no event.
	s.session(t, 0, 0, "c")
	if n := len(s.events(t, audit.GroupMapped)); n != 2 {
		t.Errorf("%d mapping events after an unchanged sign-on, want 2", n)
	}
}

// A flow begun on one instance is finished on the other, both ways, and
// is used up for both.
func TestSSOFlowAcrossInstances(t *testing.T) {
	t.Parallel()
	s := newSSOPair(t, func(*oidc.Provider) {})
	s.op.AddUser(oidctest.User{Subject: "d", Email: "dan@example.com", EmailVerified: true})
	var first user.ID
	for _, on := range [][2]int{{0, 1}, {1, 0}} {
		id, q := s.begin(t, on[0], "d")
		res, err := s.m[on[1]].FinishSSO(t.Context(), id, "idp", q, client)
		if err != nil || res.Session == nil {
			t.Fatalf("begun on %d, finished on %d: %+v, %v", on[0], on[1], res, err)
		}
		u := s.authenticate(t, on[0], res.Session.Token).User().ID
		if first == "" {
			first = u
		} else if u != first {
			t.Errorf("signed on as %s, then %s", first, u)
		}
		for i := range 2 {
			if _, err := s.m[i].FinishSSO(t.Context(), id, "idp", q, client); !errors.Is(err, auth.ErrInvalidFlow) {
				t.Errorf("flow reused on instance %d: %v, want ErrInvalidFlow", i, err)
			}
		}
	}
	// Expired by the shared clock, whichever instance looks.
	id, q := s.begin(t, 0, "d")
	s.clk.Advance(oidc.FlowTimeout)
	if _, err := s.m[1].FinishSSO(t.Context(), id, "idp", q, client); !errors.Is(err, auth.ErrInvalidFlow) {
		t.Errorf("expired flow: %v, want ErrInvalidFlow", err)
	}
}

// Two finishes of one flow at once, on one instance and on two: exactly
// one session; the other ErrInvalidFlow.
func TestSSOConcurrentFinish(t *testing.T) {
	t.Parallel()
	s := newSSOPair(t, func(*oidc.Provider) {})
	s.op.AddUser(oidctest.User{Subject: "e", Email: "eve@example.com", EmailVerified: true})
	s.session(t, 0, 0, "e") // provisioned before the races
	for round, on := range [][2]int{{0, 1}, {1, 0}, {0, 0}, {1, 1}, {0, 1}, {1, 0}} {
		id, q := s.begin(t, on[0], "e")
		successes := len(s.events(t, audit.LoginSucceeded))
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			res   [2]*auth.LoginResult
			errs  [2]error
		)
		for i := range 2 {
			wg.Go(func() {
				<-start
				res[i], errs[i] = s.m[on[i]].FinishSSO(t.Context(), id, "idp", q, client)
			})
		}
		close(start)
		wg.Wait()
		won := 0
		for i := range 2 {
			switch {
			case errs[i] == nil && res[i] != nil && res[i].Session != nil:
				won++
			case errs[i] == nil:
				t.Errorf("round %d, instance %d: no error and no session (%+v)", round, on[i], res[i])
			case !errors.Is(errs[i], auth.ErrInvalidFlow):
				t.Errorf("round %d, instance %d: %v, want a session or ErrInvalidFlow", round, on[i], errs[i])
			}
		}
		if won != 1 {
			t.Errorf("round %d (instances %v): %d sessions from one flow, want exactly 1 (%v)", round, on, won, errs)
		}
		if n := len(s.events(t, audit.LoginSucceeded)); n != successes+1 {
			t.Errorf("round %d: %d login.succeeded events, want 1", round, n-successes)
		}
	}
	if n := s.userCount(t); n != 2 {
		t.Errorf("%d users, want the admin and eve", n)
	}
}

// Deleting a provider unlinks every identity linked through it; the
// accounts stay.
func TestSSOProviderDeleted(t *testing.T) {
	t.Parallel()
	s := newSSOPair(t, func(p *oidc.Provider) { p.LinkByEmail = true })
	ctx := t.Context()
	s.op.AddUser(oidctest.User{Subject: "f", Email: "fay@example.com", EmailVerified: true})
	s.op.AddUser(oidctest.User{Subject: "g", Email: "gus@example.com", EmailVerified: true})
	fay := s.session(t, 0, 1, "f").User().ID
	gus := s.session(t, 1, 0, "g").User().ID
	for _, id := range []user.ID{fay, gus} {
		if n := len(s.identities(t, id)); n != 1 {
			t.Fatalf("%s has %d identities before the delete", id, n)
		}
	}
	if err := s.m[1].DeleteProvider(ctx, s.admin[1], "idp"); err != nil {
		t.Fatalf("DeleteProvider: %v", err)
	}
	for _, id := range []user.ID{fay, gus} {
		if ids := s.identities(t, id); len(ids) != 0 {
			t.Errorf("%s keeps identities of a deleted provider: %+v", id, ids)
		}
		if _, err := s.db[0].Users().Get(ctx, id); err != nil {
			t.Errorf("account %s went with the provider: %v", id, err)
		}
	}
	for _, sub := range []string{"f", "g"} {
		if _, err := s.db[0].Identities().Get(ctx, s.op.Issuer(), sub); !errors.Is(err, oidc.ErrNotFound) {
			t.Errorf("Identities().Get(%s): %v, want ErrNotFound", sub, err)
		}
	}
	if _, err := s.m[0].BeginSSO(ctx, "idp", "", client); !errors.Is(err, oidc.ErrNotFound) {
		t.Errorf("BeginSSO after the delete: %v, want oidc.ErrNotFound", err)
	}
	if ev := s.lastEvent(t, audit.ProviderRemoved); ev.Target.ID != "idp" {
		t.Errorf("removed event %+v", ev)
	}
	// Added again, the same people link afresh, to the same accounts (by
	// their verified email), not new ones.
	s.provider(t, func(p *oidc.Provider) { p.LinkByEmail = true })
	if got := s.session(t, 0, 0, "f").User().ID; got != fay {
		t.Errorf("after re-adding the provider: %s, want fay %s", got, fay)
	}
	if n := s.userCount(t); n != 3 {
		t.Errorf("%d users, want 3", n)
	}
}
