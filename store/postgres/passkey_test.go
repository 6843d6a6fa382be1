package postgres_test

import (
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/passkeytest"
	"github.com/usher-go/usher/passkey"
)

// The passkey flows of auth's SQLite tests (auth/passkey_test.go), through
// auth.Manager on PostgreSQL, and what only a shared database shows: a
// ceremony begun on one instance and finished on the other, and two
// finishes of one ceremony at once.

const pkRPID, pkOrigin = "example.com", "https://admin.example.com"

// withPasskeys turns passkeys on for both instances of a pair.
func withPasskeys(cfg *auth.Config) {
	cfg.Passkeys = auth.PasskeyConfig{RPID: pkRPID, Origins: []string{pkOrigin}}
}

// newPasskeyPair is a pair with passkeys on and its admin.
func newPasskeyPair(t *testing.T) (*pair, [2]*auth.Principal) {
	t.Helper()
	p := newPair(t, withPasskeys)
	admin, _ := p.admin(t)
	return p, admin
}

// newDevice is a fresh software passkey at the pair's origin.
func newDevice(t *testing.T) *passkeytest.Device {
	t.Helper()
	d, err := passkeytest.New(pkRPID, pkOrigin)
	if err != nil {
		t.Fatal(err)
	}
	return d
}

// register adds d to the account of *pr (a principal of instance i, with a
// fresh session) through instance i, replaces *pr with the principal of the
// new session, and returns the passkey.
func (p *pair) register(t *testing.T, i int, pr **auth.Principal, d *passkeytest.Device, name string) *passkey.Credential {
	t.Helper()
	ctx := t.Context()
	c, err := p.m[i].BeginPasskeyRegistration(ctx, *pr, "")
	if err != nil {
		t.Fatalf("BeginPasskeyRegistration on instance %d: %v", i, err)
	}
	resp, err := d.Register(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	cred, s, err := p.m[i].FinishPasskeyRegistration(ctx, *pr, c.ID, resp, name)
	if err != nil {
		t.Fatalf("FinishPasskeyRegistration on instance %d: %v", i, err)
	}
	*pr = p.authenticate(t, i, s.Token)
	return cred
}

func (p *pair) authenticate(t *testing.T, i int, token string) *auth.Principal {
	t.Helper()
	pr, err := p.m[i].Authenticate(t.Context(), token)
	if err != nil {
		t.Fatalf("Authenticate on instance %d: %v", i, err)
	}
	return pr
}

// member creates a user in group gid through instance 0 and logs it in on
// instance i.
func (p *pair) member(t *testing.T, admin *auth.Principal, i int, email string, gid group.ID) *auth.Principal {
	t.Helper()
	if _, err := p.m[0].CreateUser(t.Context(), admin, auth.NewUser{Email: email, Name: email, Password: passwordOf(email), GroupID: gid}); err != nil {
		t.Fatalf("CreateUser %s: %v", email, err)
	}
	return p.authenticate(t, i, p.login(t, i, email, passwordOf(email)))
}

// passkeyLogin runs a passwordless login with d through instance i.
func (p *pair) passkeyLogin(t *testing.T, i int, d *passkeytest.Device) (*auth.LoginResult, error) {
	t.Helper()
	c, err := p.m[i].BeginPasskeyLogin(t.Context(), client)
	if err != nil {
		t.Fatalf("BeginPasskeyLogin on instance %d: %v", i, err)
	}
	resp, err := d.Assert(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	return p.m[i].FinishPasskeyLogin(t.Context(), c.ID, resp, client)
}

// stored reads a passkey straight from the store.
func (p *pair) stored(t *testing.T, id string) *passkey.Credential {
	t.Helper()
	c, err := p.db[0].Passkeys().Get(t.Context(), id)
	if err != nil {
		t.Fatalf("Passkeys().Get(%s): %v", id, err)
	}
	return c
}

// unchanged fails unless the stored passkey still equals before.
func (p *pair) unchanged(t *testing.T, before *passkey.Credential) {
	t.Helper()
	after := p.stored(t, before.ID)
	if after.SignCount != before.SignCount || !after.LastUsedAt.Equal(before.LastUsedAt) ||
		after.Name != before.Name || after.BackedUp != before.BackedUp {
		t.Errorf("passkey changed by a refused attempt: %+v, was %+v", after, before)
	}
}

// events returns the recorded events of one action, newest first.
func (p *pair) events(t *testing.T, a audit.Action) []audit.Event {
	t.Helper()
	q, err := audit.Query{Action: a, Limit: audit.MaxLimit}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	page, err := p.db[1].Audit().Query(t.Context(), q)
	if err != nil {
		t.Fatalf("Audit().Query(%s): %v", a, err)
	}
	return page.Events
}

// lastEvent returns the newest event of one action.
func (p *pair) lastEvent(t *testing.T, a audit.Action) audit.Event {
	t.Helper()
	evs := p.events(t, a)
	if len(evs) == 0 {
		t.Fatalf("no %s event", a)
	}
	return evs[0]
}

// isNumber reports whether a detail read back from the store is n: JSON
// gives float64.
func isNumber(v any, n int) bool {
	switch x := v.(type) {
	case float64:
		return x == float64(n)
	case int:
		return x == n
	case int64:
		return x == int64(n)
	}
	return false
}

func TestPasskeyRegisterAndPasswordlessLogin(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	d := newDevice(t)
	a := admin[0]
	cred := p.register(t, 0, &a, d, "")
	if cred.Name != "Passkey 1" || cred.UserID != a.User().ID || len(cred.PublicKey) == 0 || len(cred.CredentialID) == 0 {
		t.Errorf("registered %+v", cred)
	}
	if got := p.stored(t, cred.ID); got.Name != "Passkey 1" || string(got.CredentialID) != string(cred.CredentialID) ||
		string(got.PublicKey) != string(cred.PublicKey) || got.SignCount != 0 {
		t.Errorf("stored %+v, registered %+v", got, cred)
	}
	ev := p.lastEvent(t, audit.PasskeyRegistered)
	if ev.Details[audit.DetailPasskeyID] != cred.ID || ev.Details[audit.DetailName] != "Passkey 1" {
		t.Errorf("registered event %+v", ev.Details)
	}
	h, err := p.db[1].Passkeys().UserHandle(ctx, a.User().ID)
	if err != nil || len(h) != passkey.UserHandleLength {
		t.Errorf("user handle %x, %v", h, err)
	}

	// Usernameless: no email, a session at once, no second step; on the
	// other instance too.
	var last *auth.Principal
	for i := range 2 {
		res, err := p.passkeyLogin(t, i, d)
		if err != nil {
			t.Fatalf("FinishPasskeyLogin on instance %d: %v", i, err)
		}
		if res.Session == nil || res.Challenge != nil {
			t.Fatalf("passkey login on instance %d gave %+v: want a session and no challenge", i, res)
		}
		last = p.authenticate(t, 1-i, res.Session.Token)
		if last.User().ID != a.User().ID {
			t.Errorf("logged in as %s, want %s", last.User().ID, a.User().ID)
		}
	}
	ev = p.lastEvent(t, audit.LoginSucceeded)
	if ev.Details[audit.DetailMethod] != auth.MethodPasskey || ev.Details[audit.DetailPasskeyID] != cred.ID || ev.Actor.Email != adminEmail {
		t.Errorf("login event %+v", ev)
	}
	if got := p.stored(t, cred.ID); got.LastUsedAt.IsZero() {
		t.Error("LastUsedAt not set by the login")
	}
	list, err := p.m[0].Passkeys(ctx, last)
	if err != nil || len(list) != 1 || list[0].ID != cred.ID {
		t.Errorf("Passkeys on the other instance: %+v, %v", list, err)
	}
}

func TestPasskeySignCount(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	a := admin[0]
	d := newDevice(t)
	cred := p.register(t, 0, &a, d, "key")
	d.Cred.Counter = 5
	if _, err := p.passkeyLogin(t, 0, d); err != nil {
		t.Fatalf("login with counter 5: %v", err)
	}
	before := p.stored(t, cred.ID)
	if before.SignCount != 5 {
		t.Fatalf("stored count %d, want 5", before.SignCount)
	}
	for _, n := range []uint32{5, 3, 0} {
		warnings := len(p.events(t, audit.PasskeyCloneWarning))
		d.Cred.Counter = n
		_, err := p.passkeyLogin(t, 1, d)
		if !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("login with counter %d after 5: %v, want ErrInvalidCredentials", n, err)
		}
		p.unchanged(t, before)
		evs := p.events(t, audit.PasskeyCloneWarning)
		if len(evs) != warnings+1 {
			t.Fatalf("counter %d: %d clone warnings, want %d", n, len(evs), warnings+1)
		}
		if ev := evs[0]; ev.Details[audit.DetailPasskeyID] != cred.ID || !isNumber(ev.Details[audit.DetailStoredSignCount], 5) || ev.Outcome != audit.Failure {
			t.Errorf("clone warning %+v", ev)
		}
	}
	d.Cred.Counter = 6
	if _, err := p.passkeyLogin(t, 1, d); err != nil {
		t.Fatalf("login with counter 6: %v", err)
	}
	if got := p.stored(t, cred.ID).SignCount; got != 6 {
		t.Errorf("stored count %d, want 6", got)
	}

	// A synced passkey always reports 0, and keeps working.
	synced := newDevice(t)
	synced.Auth.Options.BackupEligible, synced.Auth.Options.BackupState = true, true
	sc := p.register(t, 0, &a, synced, "synced")
	if !sc.BackupEligible || !sc.BackedUp {
		t.Errorf("synced passkey stored as %+v", sc)
	}
	for i := range 3 {
		if _, err := p.passkeyLogin(t, i%2, synced); err != nil {
			t.Fatalf("synced login %d: %v", i, err)
		}
	}
}

func TestPasskeyAsSecondFactor(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	bob := p.member(t, admin[0], 0, memberEmail, group.UsersID)
	bobKey := newDevice(t)
	p.register(t, 0, &bob, bobKey, "bob's key")
	adminKey := newDevice(t)
	p.register(t, 1, &admin[1], adminKey, "admin's key")

	r, err := p.m[0].Login(ctx, memberEmail, passwordOf(memberEmail), client)
	if err != nil || r.Challenge == nil {
		t.Fatalf("password login of a user with a passkey: %+v, %v; want a challenge", r, err)
	}
	if strings.Join(r.Challenge.Methods, ",") != auth.MethodPasskey {
		t.Errorf("Methods = %v, want [passkey]", r.Challenge.Methods)
	}
	// The admin's passkey in bob's challenge is a wrong answer, even with
	// bob's user handle.
	c, err := p.m[1].BeginPasskeySecondFactor(ctx, r.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		PublicKey struct {
			AllowCredentials []json.RawMessage `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(c.Options, &opts); err != nil || len(opts.PublicKey.AllowCredentials) != 1 {
		t.Errorf("allowCredentials %s, %v: want bob's one passkey", c.Options, err)
	}
	adminKey.Auth.Options.UserHandle = bobKey.Auth.Options.UserHandle
	forged, err := passkeytest.ForceAssert(adminKey, c.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.m[0].VerifyPasskey(ctx, r.Challenge.Token, c.ID, forged, client); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Fatalf("another user's passkey: %v, want ErrInvalidCredentials", err)
	}
	if ev := p.lastEvent(t, audit.SecondFactorFailed); !isNumber(ev.Details[audit.DetailChallengeFailures], 1) {
		t.Errorf("failure event %+v", ev.Details)
	}

	// Bob's own passkey, ceremony begun on one instance and answered on
	// the other.
	c, err = p.m[0].BeginPasskeySecondFactor(ctx, r.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	resp, err := bobKey.Assert(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.m[1].VerifyPasskey(ctx, r.Challenge.Token, c.ID, resp, client)
	if err != nil {
		t.Fatalf("VerifyPasskey: %v", err)
	}
	if pr := p.authenticate(t, 0, s.Token); pr.User().Email != memberEmail {
		t.Errorf("session of %s", pr.User().Email)
	}
	ev := p.lastEvent(t, audit.LoginSucceeded)
	if ev.Details[audit.DetailMethod] != auth.MethodPasskey || ev.Actor.Email != memberEmail {
		t.Errorf("success event %+v", ev)
	}
	// The challenge is consumed.
	if _, err := p.m[0].BeginPasskeySecondFactor(ctx, r.Challenge.Token, client); !errors.Is(err, auth.ErrInvalidChallenge) {
		t.Errorf("BeginPasskeySecondFactor on a used challenge: %v, want ErrInvalidChallenge", err)
	}
}

func TestPasskeyRenameAndDelete(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	a := admin[0]
	bob := p.member(t, a, 0, memberEmail, group.UsersID)
	k := newDevice(t)
	mine := p.register(t, 0, &a, k, "first")
	bobs := p.register(t, 0, &bob, newDevice(t), "bob's")

	if err := p.m[0].RenamePasskey(ctx, a, mine.ID, "  Laptop "); err != nil {
		t.Fatal(err)
	}
	if got := p.stored(t, mine.ID).Name; got != "Laptop" {
		t.Errorf("renamed to %q", got)
	}
	ev := p.lastEvent(t, audit.PasskeyRenamed)
	if ev.Details[audit.DetailBefore] != "first" || ev.Details[audit.DetailAfter] != "Laptop" {
		t.Errorf("rename event %+v", ev.Details)
	}
	var fe *auth.FieldError
	if err := p.m[0].RenamePasskey(ctx, a, mine.ID, "bad\nname"); !errors.As(err, &fe) || fe.Field != auth.FieldName {
		t.Errorf("RenamePasskey with a newline: %v, want a FieldError", err)
	}
	// Another user's passkey is not found, for rename and delete alike.
	if err := p.m[0].RenamePasskey(ctx, a, bobs.ID, "mine now"); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("renaming bob's passkey: %v, want passkey.ErrNotFound", err)
	}
	if _, err := p.m[0].DeletePasskey(ctx, a, bobs.ID, ""); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("deleting bob's passkey: %v, want passkey.ErrNotFound", err)
	}
	p.unchanged(t, bobs)

	s, err := p.m[0].DeletePasskey(ctx, a, mine.ID, adminPass)
	if err != nil {
		t.Fatalf("DeletePasskey: %v", err)
	}
	p.authenticate(t, 1, s.Token)
	if _, err := p.db[1].Passkeys().Get(ctx, mine.ID); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("deleted passkey still stored: %v", err)
	}
	if ev := p.lastEvent(t, audit.PasskeyDeleted); ev.Details[audit.DetailPasskeyID] != mine.ID || ev.Details[audit.DetailName] != "Laptop" {
		t.Errorf("delete event %+v", ev.Details)
	}
	// The deleted passkey logs in no more, on either instance.
	for i := range 2 {
		if _, err := p.passkeyLogin(t, i, k); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("login with a deleted passkey on instance %d: %v, want ErrInvalidCredentials", i, err)
		}
	}
}

func TestPasskeySatisfiesGroupRequirement(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	g, err := p.m[0].CreateGroup(t.Context(), admin[0], group.Group{Name: "Operators", RequireTwoFactor: true,
		Permissions: []group.Permission{group.ProfileManagePasskeys, "backups:run"}})
	if err != nil {
		t.Fatalf("a group requiring 2FA with only passkeys to enrol: %v", err)
	}
	op := p.member(t, admin[0], 1, "op@example.com", g.ID)
	if !op.MustEnroll() || op.Can("backups:run") {
		t.Fatalf("before a passkey: MustEnroll %v, Can %v; want true, false", op.MustEnroll(), op.Can("backups:run"))
	}
	d := newDevice(t)
	p.register(t, 1, &op, d, "")
	if op.MustEnroll() || !op.Can("backups:run") {
		t.Errorf("after a passkey: MustEnroll %v, Can %v; want false, true", op.MustEnroll(), op.Can("backups:run"))
	}
	res, err := p.passkeyLogin(t, 0, d)
	if err != nil {
		t.Fatal(err)
	}
	if pr := p.authenticate(t, 0, res.Session.Token); pr.MustEnroll() || !pr.Can("backups:run") {
		t.Error("passwordless login did not satisfy the group's requirement")
	}
	// The password now leads to a passkey challenge, not an enrolment.
	r, err := p.m[1].Login(t.Context(), "op@example.com", passwordOf("op@example.com"), client)
	if err != nil || r.Challenge == nil || strings.Join(r.Challenge.Methods, ",") != auth.MethodPasskey {
		t.Errorf("password login of the member: %+v, %v; want a passkey challenge", r, err)
	}
}

func TestPasskeyResetTwoFactor(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	bob := p.member(t, admin[0], 0, memberEmail, group.UsersID)
	k1, k2 := newDevice(t), newDevice(t)
	p.register(t, 0, &bob, k1, "one")
	p.register(t, 0, &bob, k2, "two")

	if err := p.m[1].ResetTwoFactor(ctx, admin[1], bob.User().ID); err != nil {
		t.Fatalf("ResetTwoFactor: %v", err)
	}
	if n, err := p.db[0].Passkeys().Count(ctx, bob.User().ID); err != nil || n != 0 {
		t.Errorf("%d passkeys left after reset (%v)", n, err)
	}
	ev := p.lastEvent(t, audit.TwoFactorReset)
	if !isNumber(ev.Details[audit.DetailPasskeysRemoved], 2) {
		t.Errorf("reset event %+v, want %s 2", ev.Details, audit.DetailPasskeysRemoved)
	}
	for i, k := range []*passkeytest.Device{k1, k2} {
		if _, err := p.passkeyLogin(t, i, k); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("login with a removed passkey: %v, want ErrInvalidCredentials", err)
		}
	}
	// Without a second factor, the password alone logs in again.
	if r, err := p.m[0].Login(ctx, memberEmail, passwordOf(memberEmail), client); err != nil || r.Session == nil {
		t.Errorf("login after reset: %+v, %v; want a session", r, err)
	}
}

func TestPasskeyCeremonyReplay(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	a := admin[0]
	d := newDevice(t)

	// Registration: the same answer again, on either instance.
	c, err := p.m[0].BeginPasskeyRegistration(ctx, a, "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.Register(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	cred, s, err := p.m[0].FinishPasskeyRegistration(ctx, a, c.ID, resp, "")
	if err != nil {
		t.Fatal(err)
	}
	a = p.authenticate(t, 0, s.Token)
	if _, _, err := p.m[0].FinishPasskeyRegistration(ctx, a, c.ID, resp, ""); !errors.Is(err, auth.ErrInvalidCeremony) {
		t.Errorf("replayed registration: %v, want ErrInvalidCeremony", err)
	}
	a1 := p.authenticate(t, 1, s.Token)
	if _, _, err := p.m[1].FinishPasskeyRegistration(ctx, a1, c.ID, resp, ""); !errors.Is(err, auth.ErrInvalidCeremony) {
		t.Errorf("replayed registration on the other instance: %v, want ErrInvalidCeremony", err)
	}
	if n, _ := p.db[0].Passkeys().Count(ctx, a.User().ID); n != 1 {
		t.Errorf("%d passkeys after a replayed registration, want 1", n)
	}

	// Login: the same answer again, on either instance.
	lc, err := p.m[0].BeginPasskeyLogin(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	lresp, err := d.Assert(lc.Options)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := p.m[0].FinishPasskeyLogin(ctx, lc.ID, lresp, client); err != nil {
		t.Fatal(err)
	}
	before := p.stored(t, cred.ID)
	for i := range 2 {
		_, err := p.m[i].FinishPasskeyLogin(ctx, lc.ID, lresp, client)
		if !errors.Is(err, auth.ErrInvalidCeremony) || !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("replayed login on instance %d: %v, want ErrInvalidCeremony and ErrInvalidCredentials", i, err)
		}
	}
	p.unchanged(t, before)
}

// A ceremony lives in the database, not in the instance that began it: an
// instance behind a load balancer finishes what another began, once.
func TestPasskeyCeremonyAcrossInstances(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	d := newDevice(t)

	// Registration begun on 0, finished on 1.
	c, err := p.m[0].BeginPasskeyRegistration(ctx, admin[0], "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.Register(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	cred, s, err := p.m[1].FinishPasskeyRegistration(ctx, admin[1], c.ID, resp, "")
	if err != nil {
		t.Fatalf("FinishPasskeyRegistration on the other instance: %v", err)
	}
	if cred.Name != "Passkey 1" {
		t.Errorf("registered as %q", cred.Name)
	}
	a0 := p.authenticate(t, 0, s.Token)
	if _, _, err := p.m[0].FinishPasskeyRegistration(ctx, a0, c.ID, resp, ""); !errors.Is(err, auth.ErrInvalidCeremony) {
		t.Errorf("the same registration again on the first instance: %v, want ErrInvalidCeremony", err)
	}

	// Login begun on 0, finished on 1, then refused on both.
	lc, err := p.m[0].BeginPasskeyLogin(ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	lresp, err := d.Assert(lc.Options)
	if err != nil {
		t.Fatal(err)
	}
	res, err := p.m[1].FinishPasskeyLogin(ctx, lc.ID, lresp, client)
	if err != nil || res.Session == nil {
		t.Fatalf("FinishPasskeyLogin on the other instance: %+v, %v", res, err)
	}
	if pr := p.authenticate(t, 0, res.Session.Token); pr.User().Email != adminEmail {
		t.Errorf("session of %s", pr.User().Email)
	}
	for i := range 2 {
		if _, err := p.m[i].FinishPasskeyLogin(ctx, lc.ID, lresp, client); !errors.Is(err, auth.ErrInvalidCeremony) {
			t.Errorf("the same login again on instance %d: %v, want ErrInvalidCeremony", i, err)
		}
	}
}

// Two finishes of one login ceremony at the same moment, with the same
// answer, on one instance and on two: exactly one session.
func TestPasskeyConcurrentFinish(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	a := admin[0]
	d := newDevice(t) // counter 0 throughout: a count that stays 0 is accepted
	p.register(t, 0, &a, d, "")
	for round, on := range [][2]int{{0, 1}, {1, 0}, {0, 0}, {1, 1}, {0, 1}, {1, 0}} {
		c, err := p.m[on[0]].BeginPasskeyLogin(ctx, client)
		if err != nil {
			t.Fatal(err)
		}
		resp, err := d.Assert(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		successes := len(p.events(t, audit.LoginSucceeded))
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			res   [2]*auth.LoginResult
			errs  [2]error
		)
		for i := range 2 {
			wg.Go(func() {
				<-start
				res[i], errs[i] = p.m[on[i]].FinishPasskeyLogin(ctx, c.ID, resp, client)
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
			case !errors.Is(errs[i], auth.ErrInvalidCeremony):
				t.Errorf("round %d, instance %d: %v, want a session or ErrInvalidCeremony", round, on[i], errs[i])
			}
		}
		if won != 1 {
			t.Errorf("round %d (instances %v): %d sessions from one ceremony, want exactly 1 (%v)", round, on, won, errs)
		}
		if n := len(p.events(t, audit.LoginSucceeded)); n != successes+1 {
			t.Errorf("round %d: %d login.succeeded events recorded, want 1", round, n-successes)
		}
		p.clk.Advance(20 * time.Second) // keep under the per-IP budget of a minute
	}
}

// Two logins with one authenticator at once, each on its own ceremony and
// instance, carrying the same sign count (a cloned authenticator racing the
// original): exactly one opens a session, the other is a clone warning. A
// synced passkey (count 0 both times) logs in on both.
func TestPasskeyConcurrentSameCount(t *testing.T) {
	t.Parallel()
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	a := admin[0]
	d := newDevice(t)
	cred := p.register(t, 0, &a, d, "")
	synced := newDevice(t)
	synced.Auth.Options.BackupEligible, synced.Auth.Options.BackupState = true, true
	p.register(t, 0, &a, synced, "synced")

	race := func(dev *passkeytest.Device) [2]error {
		var resp [2][]byte
		var ids [2]string
		for i := range 2 {
			c, err := p.m[i].BeginPasskeyLogin(ctx, client)
			if err != nil {
				t.Fatal(err)
			}
			if resp[i], err = dev.Assert(c.Options); err != nil {
				t.Fatal(err)
			}
			ids[i] = c.ID
		}
		var (
			wg    sync.WaitGroup
			start = make(chan struct{})
			errs  [2]error
		)
		for i := range 2 {
			wg.Go(func() {
				<-start
				r, err := p.m[i].FinishPasskeyLogin(ctx, ids[i], resp[i], client)
				if err == nil && (r == nil || r.Session == nil) {
					err = errors.New("no session and no error")
				}
				errs[i] = err
			})
		}
		close(start)
		wg.Wait()
		return errs
	}
	for round := range 4 {
		warnings := len(p.events(t, audit.PasskeyCloneWarning))
		d.Cred.Counter = uint32(10 * (round + 1))
		errs := race(d)
		checkOneWinner(t, "one sign count on two ceremonies", errs)
		if got := p.stored(t, cred.ID).SignCount; got != d.Cred.Counter {
			t.Errorf("round %d: stored count %d, want %d", round, got, d.Cred.Counter)
		}
		if n := len(p.events(t, audit.PasskeyCloneWarning)); n != warnings+1 {
			t.Errorf("round %d: %d clone warnings, want 1", round, n-warnings)
		}
		if errs := race(synced); errs[0] != nil || errs[1] != nil {
			t.Errorf("round %d: a synced passkey on two ceremonies at once: %v, want two sessions", round, errs)
		}
		p.clk.Advance(30 * time.Second) // keep under the per-IP budget of a minute
	}
}

// passwordOf is the password a test gives the account email: one that
// usher's strength check accepts, built from nothing of the account.
func passwordOf(email string) string {
	return "orchard lantern kites " + strconv.Itoa(len(email))
}
