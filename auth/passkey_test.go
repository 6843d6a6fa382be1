package auth_test

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/passkeytest"
	"github.com/usher-go/usher/passkey"
)

const rpID, rpOrigin = "example.com", "https://admin.example.com"

// withPasskeys turns passkeys on for the env.
func withPasskeys(cfg *auth.Config) {
	cfg.Passkeys = auth.PasskeyConfig{RPID: rpID, Origins: []string{rpOrigin}}
}

// newPasskeyEnv is an env with passkeys on and its admin.
func newPasskeyEnv(t *testing.T, mod ...func(*auth.Config)) (*env, *auth.Principal) {
	t.Helper()
	e := newEnv(t, append([]func(*auth.Config){withPasskeys}, mod...)...)
	return e, e.admin()
}

// device is a fresh software passkey at the env's origin.
func (e *env) device() *passkeytest.Device {
	e.t.Helper()
	d, err := passkeytest.New(rpID, rpOrigin)
	if err != nil {
		e.t.Fatal(err)
	}
	return d
}

// register adds d to *p's account (fresh session, no password), replaces
// *p with the principal of the new session, and returns the passkey.
func (e *env) register(p **auth.Principal, d *passkeytest.Device, name string) *passkey.Credential {
	e.t.Helper()
	c, err := e.m.BeginPasskeyRegistration(e.ctx, *p, "")
	if err != nil {
		e.t.Fatalf("BeginPasskeyRegistration: %v", err)
	}
	resp, err := d.Register(c.Options)
	if err != nil {
		e.t.Fatal(err)
	}
	cred, s, err := e.m.FinishPasskeyRegistration(e.ctx, *p, c.ID, resp, name)
	if err != nil {
		e.t.Fatalf("FinishPasskeyRegistration: %v", err)
	}
	*p = e.auth(s.Token)
	return cred
}

// passkeyLogin runs a passwordless login with d.
func (e *env) passkeyLogin(d *passkeytest.Device) (*auth.LoginResult, error) {
	e.t.Helper()
	c, err := e.m.BeginPasskeyLogin(e.ctx, client)
	if err != nil {
		e.t.Fatalf("BeginPasskeyLogin: %v", err)
	}
	resp, err := d.Assert(c.Options)
	if err != nil {
		e.t.Fatal(err)
	}
	return e.m.FinishPasskeyLogin(e.ctx, c.ID, resp, client)
}

// stored reads a passkey straight from the store.
func (e *env) stored(id string) *passkey.Credential {
	e.t.Helper()
	c, err := e.db.Passkeys().Get(e.ctx, id)
	if err != nil {
		e.t.Fatalf("Passkeys().Get: %v", err)
	}
	return c
}

// unchanged fails unless the stored passkey still equals before.
func (e *env) unchanged(before *passkey.Credential) {
	e.t.Helper()
	after := e.stored(before.ID)
	if after.SignCount != before.SignCount || !after.LastUsedAt.Equal(before.LastUsedAt) || after.Name != before.Name {
		e.t.Errorf("passkey changed by a refused attempt: %+v, was %+v", after, before)
	}
}

func TestPasskeyRegisterAndPasswordlessLogin(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	cred := e.register(&admin, d, "")
	if cred.Name != "Passkey 1" || cred.UserID != admin.User().ID || len(cred.PublicKey) == 0 {
		t.Errorf("registered %+v", cred)
	}
	ev := e.lastEvent(audit.PasskeyRegistered)
	if ev.Details[audit.DetailPasskeyID] != cred.ID || ev.Details[audit.DetailName] != "Passkey 1" || ev.Details[audit.DetailAAGUID] != passkey.FormatAAGUID(d.Auth.Aaguid[:]) {
		t.Errorf("registered event %+v", ev.Details)
	}
	// The user handle is random, 64 bytes, and neither the ID nor the email.
	h, err := e.db.Passkeys().UserHandle(e.ctx, admin.User().ID)
	if err != nil || len(h) != passkey.UserHandleLength || bytes.Contains(h, []byte(admin.User().ID)) || bytes.Contains(h, []byte(adminEmail)) {
		t.Errorf("user handle %x, %v", h, err)
	}

	res, err := e.passkeyLogin(d)
	if err != nil {
		t.Fatalf("FinishPasskeyLogin: %v", err)
	}
	if res.Session == nil || res.Challenge != nil {
		t.Fatalf("passkey login gave %+v: want a session and no second step", res)
	}
	p := e.auth(res.Session.Token)
	if p.User().ID != admin.User().ID {
		t.Errorf("logged in as %s", p.User().ID)
	}
	ev = e.lastEvent(audit.LoginSucceeded)
	if ev.Details[audit.DetailMethod] != auth.MethodPasskey || ev.Details[audit.DetailPasskeyID] != cred.ID {
		t.Errorf("login event %+v", ev.Details)
	}
	if got := e.stored(cred.ID); got.LastUsedAt.IsZero() {
		t.Error("LastUsedAt not set by the login")
	}
	// Admins see the count.
	page, err := e.m.ListUsers(e.ctx, admin, listAll())
	if err != nil || len(page.Users) != 1 || page.Users[0].Passkeys != 1 {
		t.Errorf("ListUsers: %+v, %v", page, err)
	}
	if st, err := e.m.TwoFactorStatus(e.ctx, p); err != nil || st.Passkeys != 1 {
		t.Errorf("TwoFactorStatus: %+v, %v", st, err)
	}
}

func TestPasskeyDefaultNames(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	icloud := e.device()
	copy(icloud.Auth.Aaguid[:], []byte{0xfb, 0xfc, 0x30, 0x07, 0x15, 0x4e, 0x4e, 0xcc, 0x8c, 0x0b, 0x6e, 0x02, 0x05, 0x57, 0xd7, 0xbd})
	if c := e.register(&admin, icloud, ""); c.Name != "iCloud Keychain" {
		t.Errorf("known AAGUID named %q", c.Name)
	}
	if c := e.register(&admin, e.device(), ""); c.Name != "Passkey 2" {
		t.Errorf("second unknown named %q", c.Name)
	}
	if c := e.register(&admin, e.device(), "  My YubiKey "); c.Name != "My YubiKey" {
		t.Errorf("given name stored as %q", c.Name)
	}
}

func TestPasskeySignCount(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	cred := e.register(&admin, d, "key")
	d.Cred.Counter = 5
	if _, err := e.passkeyLogin(d); err != nil {
		t.Fatalf("login with counter 5: %v", err)
	}
	before := e.stored(cred.ID)
	if before.SignCount != 5 {
		t.Fatalf("stored count %d, want 5", before.SignCount)
	}
	for _, n := range []uint32{5, 3, 0} {
		d.Cred.Counter = n
		_, err := e.passkeyLogin(d)
		wantErr(t, err, auth.ErrInvalidCredentials)
		e.unchanged(before)
		ev := e.lastEvent(audit.PasskeyCloneWarning)
		if ev.Details[audit.DetailPasskeyID] != cred.ID {
			t.Errorf("clone warning %+v", ev)
		}
	}
	d.Cred.Counter = 6
	if _, err := e.passkeyLogin(d); err != nil {
		t.Fatalf("login with counter 6: %v", err)
	}

	// A synced passkey always reports 0, and keeps working.
	synced := e.device()
	synced.Auth.Options.BackupEligible, synced.Auth.Options.BackupState = true, true
	sc := e.register(&admin, synced, "synced")
	if !sc.BackupEligible || !sc.BackedUp {
		t.Errorf("synced passkey stored as %+v", sc)
	}
	for range 3 {
		if _, err := e.passkeyLogin(synced); err != nil {
			t.Fatalf("synced login: %v", err)
		}
	}
}

func TestPasskeyAsSecondFactor(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	bobKey := e.device()
	e.register(&bob, bobKey, "bob's key")
	adminKey := e.device()
	e.register(&admin, adminKey, "admin's key")

	r, err := e.m.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client)
	if err != nil || r.Challenge == nil {
		t.Fatalf("password login of a user with a passkey: %+v, %v; want a challenge", r, err)
	}
	if strings.Join(r.Challenge.Methods, ",") != auth.MethodPasskey {
		t.Errorf("Methods = %v", r.Challenge.Methods)
	}
	// The admin's passkey in bob's challenge is a wrong answer.
	c, err := e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
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
	if _, err := adminKey.Assert(c.Options); err == nil {
		t.Error("the admin's passkey was offered in bob's challenge")
	}
	adminKey.Auth.Options.UserHandle = bobKey.Auth.Options.UserHandle
	forged, err := passkeytest.ForceAssert(adminKey, c.Options)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, forged, client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	if ev := e.lastEvent(audit.SecondFactorFailed); ev.Details[audit.DetailChallengeFailures] != float64(1) && ev.Details[audit.DetailChallengeFailures] != 1 {
		t.Errorf("failure event %+v", ev.Details)
	}
	// The ceremony is used up, even by a wrong answer.
	resp, err := bobKey.Assert(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, resp, client)
	wantErr(t, err, auth.ErrInvalidCredentials)

	c, err = e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	if resp, err = bobKey.Assert(c.Options); err != nil {
		t.Fatal(err)
	}
	s, err := e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, resp, client)
	if err != nil {
		t.Fatalf("VerifyPasskey: %v", err)
	}
	if p := e.auth(s.Token); p.User().Email != "bob@example.com" {
		t.Errorf("session of %s", p.User().Email)
	}
	ev := e.lastEvent(audit.LoginSucceeded)
	if ev.Details[audit.DetailMethod] != auth.MethodPasskey || ev.Actor.Email != "bob@example.com" {
		t.Errorf("success event %+v", ev)
	}
	// The challenge is consumed.
	_, err = e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
	wantErr(t, err, auth.ErrInvalidChallenge)
}

// A user with TOTP and a passkey is offered both; an unverified passkey
// still serves as a second factor, where presence is enough.
func TestPasskeyBesideTOTP(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	e.enrol(&admin)
	d := e.device()
	d.Auth.Options.UserNotVerified = true
	e.register(&admin, d, "no PIN")
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil || r.Challenge == nil {
		t.Fatalf("Login: %+v, %v", r, err)
	}
	if got := strings.Join(r.Challenge.Methods, ","); got != "totp,recovery_code,passkey" {
		t.Errorf("Methods = %s", got)
	}
	c, err := e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := d.Assert(c.Options)
	if _, err := e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, resp, client); err != nil {
		t.Fatalf("unverified passkey as second factor: %v", err)
	}
	// It cannot log in alone: passwordless needs user verification.
	_, err = e.passkeyLogin(d)
	wantErr(t, err, auth.ErrInvalidCredentials)
}

func TestPasskeySatisfiesGroupRequirement(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	g, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Operators", RequireTwoFactor: true,
		Permissions: []group.Permission{group.ProfileManagePasskeys, "backups:read"}})
	if err != nil {
		t.Fatalf("a group requiring 2FA with only passkeys to enrol: %v", err)
	}
	_, op := e.user(admin, "op@example.com", g.ID)
	if !op.MustEnroll() {
		t.Fatal("a member without a second factor must enrol")
	}
	if op.Can("backups:read") || !op.Can(group.ProfileManagePasskeys) {
		t.Errorf("a member who owes enrollment: Can(backups:read) %v, Can(manage_passkeys) %v; want false, true",
			op.Can("backups:read"), op.Can(group.ProfileManagePasskeys))
	}
	d := e.device()
	e.register(&op, d, "")
	if op.MustEnroll() || !op.Can("backups:read") {
		t.Errorf("after a passkey: MustEnroll %v, Can %v", op.MustEnroll(), op.Can("backups:read"))
	}
	res, err := e.passkeyLogin(d)
	if err != nil {
		t.Fatal(err)
	}
	if p := e.auth(res.Session.Token); p.MustEnroll() || !p.Can("backups:read") {
		t.Error("passwordless login did not satisfy the group's requirement")
	}
	// Without passkeys on, the same group cannot be made: nobody could enrol.
	e2 := newEnv(t)
	_, err = e2.m.CreateGroup(e2.ctx, e2.admin(), group.Group{Name: "Operators", RequireTwoFactor: true,
		Permissions: []group.Permission{group.ProfileManagePasskeys}})
	wantErr(t, err, group.ErrTwoFactorWithoutEnrollment)
}

func TestPasskeyManageOwn(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	a := e.register(&admin, e.device(), "first")
	b := e.register(&bob, e.device(), "bob's")

	if err := e.m.RenamePasskey(e.ctx, admin, a.ID, "Laptop"); err != nil {
		t.Fatal(err)
	}
	if got := e.stored(a.ID).Name; got != "Laptop" {
		t.Errorf("renamed to %q", got)
	}
	ev := e.lastEvent(audit.PasskeyRenamed)
	if ev.Details[audit.DetailBefore] != "first" || ev.Details[audit.DetailAfter] != "Laptop" {
		t.Errorf("rename event %+v", ev.Details)
	}
	for _, name := range []string{"", "   ", strings.Repeat("a", 65), "a\x00b", "bad\nname", "x\u202ey"} {
		err := e.m.RenamePasskey(e.ctx, admin, a.ID, name)
		var fe *auth.FieldError
		if !errors.As(err, &fe) || fe.Field != auth.FieldName || !errors.Is(err, passkey.ErrInvalidName) {
			t.Errorf("RenamePasskey(%q): %v", name, err)
		}
	}
	// Another user's passkey is not found, for rename and delete alike.
	wantErr(t, e.m.RenamePasskey(e.ctx, admin, b.ID, "mine now"), passkey.ErrNotFound)
	wantErr(t, second(e.m.DeletePasskey(e.ctx, admin, b.ID, "")), passkey.ErrNotFound)
	e.unchanged(b)

	list, err := e.m.Passkeys(e.ctx, bob)
	if err != nil || len(list) != 1 || list[0].ID != b.ID {
		t.Errorf("bob's passkeys: %+v, %v", list, err)
	}
	// Deleting needs a fresh session or the password.
	e.clk.Advance(auth.DefaultReauthWindow + time.Minute)
	wantErr(t, second(e.m.DeletePasskey(e.ctx, admin, a.ID, "")), auth.ErrReauthRequired)
	wantErr(t, second(e.m.DeletePasskey(e.ctx, admin, a.ID, "wrong password")), auth.ErrInvalidCredentials)
	s, err := e.m.DeletePasskey(e.ctx, admin, a.ID, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Authenticate(e.ctx, tokenOf(admin)); err == nil {
		t.Error("the old session still works after the password was typed")
	}
	admin = e.auth(s.Token)
	if _, err := e.db.Passkeys().Get(e.ctx, a.ID); !errors.Is(err, passkey.ErrNotFound) {
		t.Errorf("deleted passkey still stored: %v", err)
	}
	if ev := e.lastEvent(audit.PasskeyDeleted); ev.Details[audit.DetailPasskeyID] != a.ID {
		t.Errorf("delete event %+v", ev)
	}
}

func TestPasskeyAdmin(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	bu, bob := e.user(admin, "bob@example.com", group.UsersID)
	k1, k2 := e.device(), e.device()
	c1 := e.register(&bob, k1, "one")
	e.register(&bob, k2, "two")

	list, err := e.m.UserPasskeys(e.ctx, admin, bu.ID)
	if err != nil || len(list) != 2 {
		t.Fatalf("UserPasskeys: %+v, %v", list, err)
	}
	wantErr(t, second(e.m.UserPasskeys(e.ctx, bob, bu.ID)), auth.ErrForbidden)
	wantErr(t, e.m.DeleteUserPasskey(e.ctx, bob, bu.ID, c1.ID), auth.ErrForbidden)
	if err := e.m.DeleteUserPasskey(e.ctx, admin, bu.ID, c1.ID); err != nil {
		t.Fatal(err)
	}
	// Any session may have been opened with the lost passkey: all end.
	if _, err := e.m.Authenticate(e.ctx, tokenOf(bob)); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("bob's session after an admin deleted his passkey: %v", err)
	}
	if ev := e.lastEvent(audit.PasskeyDeleted); ev.Actor.Email != adminEmail || ev.Target.ID != string(bu.ID) ||
		ev.Details[audit.DetailPasskeyID] != c1.ID || ev.Details[audit.DetailSessionsRevoked] != float64(1) && ev.Details[audit.DetailSessionsRevoked] != 1 {
		t.Errorf("admin delete event %+v", ev)
	}
	_, err = e.passkeyLogin(k1)
	wantErr(t, err, auth.ErrInvalidCredentials) // a deleted passkey
	if ev := e.lastEvent(audit.LoginFailed); ev.Reason != "unknown passkey" {
		t.Errorf("failure recorded as %q", ev.Reason)
	}

	// Reset removes every passkey, ends the sessions, and counts.
	if err := e.m.ResetTwoFactor(e.ctx, admin, bu.ID); err != nil {
		t.Fatal(err)
	}
	if n, _ := e.db.Passkeys().Count(e.ctx, bu.ID); n != 0 {
		t.Errorf("%d passkeys left after reset", n)
	}
	ev := e.lastEvent(audit.TwoFactorReset)
	if ev.Details[audit.DetailPasskeysRemoved] != float64(1) && ev.Details[audit.DetailPasskeysRemoved] != 1 {
		t.Errorf("reset event %+v", ev.Details)
	}
	_, err = e.passkeyLogin(k2)
	wantErr(t, err, auth.ErrInvalidCredentials)
	// Without a second factor, the password alone logs in again.
	if r, err := e.m.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client); err != nil || r.Session == nil {
		t.Errorf("login after reset: %+v, %v", r, err)
	}
}

func TestPasskeyCeremonyRefusals(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	d := e.device()

	t.Run("replayed registration", func(t *testing.T) {
		c, _ := e.m.BeginPasskeyRegistration(e.ctx, admin, "")
		resp, _ := d.Register(c.Options)
		_, s, err := e.m.FinishPasskeyRegistration(e.ctx, admin, c.ID, resp, "")
		if err != nil {
			t.Fatal(err)
		}
		admin = e.auth(s.Token)
		_, _, err = e.m.FinishPasskeyRegistration(e.ctx, admin, c.ID, resp, "")
		wantErr(t, err, auth.ErrInvalidCeremony)
	})
	cred, err := e.m.Passkeys(e.ctx, admin)
	if err != nil || len(cred) != 1 {
		t.Fatalf("admin's passkeys: %v, %v", cred, err)
	}
	before := &cred[0]

	t.Run("another user's registration ceremony", func(t *testing.T) {
		c, _ := e.m.BeginPasskeyRegistration(e.ctx, admin, "")
		resp, _ := e.device().Register(c.Options)
		_, _, err := e.m.FinishPasskeyRegistration(e.ctx, bob, c.ID, resp, "")
		wantErr(t, err, auth.ErrInvalidCeremony)
		if n, _ := e.db.Passkeys().Count(e.ctx, bob.User().ID); n != 0 {
			t.Errorf("bob has %d passkeys", n)
		}
	})
	t.Run("already registered", func(t *testing.T) {
		c, _ := e.m.BeginPasskeyRegistration(e.ctx, admin, "")
		if _, err := d.Register(c.Options); err == nil {
			t.Error("the registered authenticator was not excluded")
		}
		resp, err := passkeytest.ForceRegister(d, c.Options)
		if err != nil {
			t.Fatal(err)
		}
		_, _, err = e.m.FinishPasskeyRegistration(e.ctx, admin, c.ID, resp, "")
		wantErr(t, err, passkey.ErrCredentialTaken)
	})
	t.Run("replayed login", func(t *testing.T) {
		c, _ := e.m.BeginPasskeyLogin(e.ctx, client)
		resp, _ := d.Assert(c.Options)
		if _, err := e.m.FinishPasskeyLogin(e.ctx, c.ID, resp, client); err != nil {
			t.Fatal(err)
		}
		before = e.stored(before.ID)
		_, err := e.m.FinishPasskeyLogin(e.ctx, c.ID, resp, client)
		wantErr(t, err, auth.ErrInvalidCredentials)
		wantErr(t, err, auth.ErrInvalidCeremony)
		e.unchanged(before)
	})
	t.Run("expired login", func(t *testing.T) {
		c, _ := e.m.BeginPasskeyLogin(e.ctx, client)
		resp, _ := d.Assert(c.Options)
		e.clk.Advance(passkey.CeremonyTimeout)
		_, err := e.m.FinishPasskeyLogin(e.ctx, c.ID, resp, client)
		wantErr(t, err, auth.ErrInvalidCeremony)
		e.unchanged(before)
	})
	t.Run("expired registration", func(t *testing.T) {
		c, _ := e.m.BeginPasskeyRegistration(e.ctx, bob, "")
		resp, _ := e.device().Register(c.Options)
		e.clk.Advance(passkey.CeremonyTimeout + time.Second)
		_, _, err := e.m.FinishPasskeyRegistration(e.ctx, bob, c.ID, resp, "")
		wantErr(t, err, auth.ErrInvalidCeremony)
	})
	refusedLogin := func(t *testing.T, d *passkeytest.Device, tamper func(map[string]any)) {
		t.Helper()
		c, _ := e.m.BeginPasskeyLogin(e.ctx, client)
		resp, err := d.Assert(c.Options)
		if err != nil {
			t.Fatal(err)
		}
		if tamper != nil {
			resp = passkeytest.Tamper(resp, tamper)
		}
		_, err = e.m.FinishPasskeyLogin(e.ctx, c.ID, resp, client)
		wantErr(t, err, auth.ErrInvalidCredentials)
		e.unchanged(before)
	}
	t.Run("wrong origin", func(t *testing.T) {
		evil := *d
		evil.RP.Origin = "https://admin.example.com.evil.test"
		refusedLogin(t, &evil, nil)
		if ev := e.lastEvent(audit.LoginFailed); ev.Actor.Email != adminEmail || !strings.Contains(ev.Reason, "rigin") {
			t.Errorf("failure event %+v", ev)
		}
	})
	t.Run("wrong RP ID hash", func(t *testing.T) {
		evil := *d
		evil.RP.ID = "evil.test"
		refusedLogin(t, &evil, nil)
	})
	t.Run("no user verification", func(t *testing.T) {
		lazy := *d
		lazy.Auth.Options.UserNotVerified = true
		refusedLogin(t, &lazy, nil)
	})
	t.Run("bad signature", func(t *testing.T) {
		refusedLogin(t, d, func(v map[string]any) {
			r := v["response"].(map[string]any)
			r["signature"] = "MEUCIQDzb3J0IG9mIGEgc2lnbmF0dXJlIGJ1dCBub3QgcmVhbGx5AiBub3QgYSBzaWduYXR1cmUgZWl0aGVyIG5vIG5vIG5v"
		})
	})
	t.Run("disabled user", func(t *testing.T) {
		bob = e.login("bob@example.com", passwordOf("bob@example.com")) // fresh again
		bobKey := e.device()
		bobCred := e.register(&bob, bobKey, "")
		if err := e.m.SetDisabled(e.ctx, admin, bob.User().ID, true); err != nil {
			t.Fatal(err)
		}
		_, err := e.passkeyLogin(bobKey)
		wantErr(t, err, auth.ErrAccountDisabled)
		e.unchanged(bobCred)
	})
}

func TestPasskeyBadInput(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	e.register(&admin, d, "")
	c, _ := e.m.BeginPasskeyLogin(e.ctx, client)
	good, _ := d.Assert(c.Options)
	junk := make([]byte, 512)
	rand.Read(junk)
	bodies := map[string][]byte{
		"empty":           nil,
		"truncated":       good[:len(good)/2],
		"random bytes":    junk,
		"random JSON":     []byte(`{"id": 7, "response": [1,2,3]}`),
		"null":            []byte(`null`),
		"1 MB":            bytes.Repeat([]byte("a"), 1<<20),
		"invalid base64":  passkeytest.Tamper(good, func(v map[string]any) { v["rawId"] = "!!not base64url!!" }),
		"bad client data": passkeytest.Tamper(good, func(v map[string]any) { v["response"].(map[string]any)["clientDataJSON"] = "e30" }),
	}
	for name, body := range bodies {
		t.Run(name, func(t *testing.T) {
			c, err := e.m.BeginPasskeyLogin(e.ctx, client)
			if err != nil {
				t.Fatal(err)
			}
			_, err = e.m.FinishPasskeyLogin(e.ctx, c.ID, body, client)
			wantErr(t, err, auth.ErrInvalidCredentials)

			r, err := e.m.BeginPasskeyRegistration(e.ctx, admin, "")
			if err != nil {
				t.Fatal(err)
			}
			_, _, err = e.m.FinishPasskeyRegistration(e.ctx, admin, r.ID, body, "")
			wantErr(t, err, auth.ErrPasskeyRejected)
		})
	}
	for _, id := range []string{"", "x", strings.Repeat("A", 10000), "not-base64!"} {
		_, err := e.m.FinishPasskeyLogin(e.ctx, id, good, client)
		wantErr(t, err, auth.ErrInvalidCeremony)
	}
	for _, name := range []string{"   ", strings.Repeat("é", 65), "a\x07b"} {
		r, _ := e.m.BeginPasskeyRegistration(e.ctx, admin, "")
		resp, _ := e.device().Register(r.Options)
		_, _, err := e.m.FinishPasskeyRegistration(e.ctx, admin, r.ID, resp, name)
		var fe *auth.FieldError
		if !errors.As(err, &fe) || fe.Field != auth.FieldName {
			t.Errorf("name %q: %v", name, err)
		}
	}
}

func TestPasskeyRegistrationNeedsProof(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	e.clk.Advance(auth.DefaultReauthWindow + time.Minute)
	wantErr(t, second(e.m.BeginPasskeyRegistration(e.ctx, admin, "")), auth.ErrReauthRequired)
	wantErr(t, second(e.m.BeginPasskeyRegistration(e.ctx, admin, "wrong")), auth.ErrInvalidCredentials)
	if _, err := e.m.BeginPasskeyRegistration(e.ctx, admin, adminPassword); err != nil {
		t.Errorf("with the password: %v", err)
	}
	// A group without the permission cannot register.
	g := e.group(admin, "Viewers", "backups:read")
	_, v := e.user(admin, "v@example.com", g.ID)
	wantErr(t, second(e.m.BeginPasskeyRegistration(e.ctx, v, "")), auth.ErrForbidden)
}

func TestPasswordlessDisabled(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t, func(cfg *auth.Config) { cfg.Passkeys.DisablePasswordless = true })
	d := e.device()
	e.register(&admin, d, "")
	wantErr(t, second(e.m.BeginPasskeyLogin(e.ctx, client)), auth.ErrPasswordlessDisabled)
	wantErr(t, second(e.m.FinishPasskeyLogin(e.ctx, "x", []byte("{}"), client)), auth.ErrPasswordlessDisabled)
	// A ceremony begun while it was on does not get through either.
	on := e.manager(e.db, withPasskeys)
	c, err := on.BeginPasskeyLogin(e.ctx, client)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := d.Assert(c.Options)
	wantErr(t, second(e.m.FinishPasskeyLogin(e.ctx, c.ID, resp, client)), auth.ErrPasswordlessDisabled)
	// As a second factor it still works.
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil || r.Challenge == nil {
		t.Fatalf("Login: %+v, %v", r, err)
	}
	c, err = e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ = d.Assert(c.Options)
	if _, err := e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, resp, client); err != nil {
		t.Errorf("VerifyPasskey: %v", err)
	}
}

func TestPasskeysOff(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	e.register(&admin, e.device(), "")
	off := e.manager(e.db)
	p := e.on(off, admin)
	wantErr(t, second(off.BeginPasskeyRegistration(e.ctx, p, "")), auth.ErrPasskeysDisabled)
	wantErr(t, second(off.BeginPasskeyLogin(e.ctx, client)), auth.ErrPasskeysDisabled)
	// A stored passkey is no second factor while they are off.
	r, err := off.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil || r.Session == nil {
		t.Errorf("Login with passkeys off: %+v, %v", r, err)
	}
}

func TestPasskeyConfigChecked(t *testing.T) {
	t.Parallel()
	bad := []auth.PasskeyConfig{
		{RPID: "example.com", Origins: []string{"https://evil.test"}},
		{RPID: "example.com", Origins: []string{"https://notexample.com"}},
		{RPID: "example.com", Origins: []string{"http://example.com"}},
		{RPID: "example.com", Origins: []string{"https://example.com/login"}},
		{RPID: "example.com", Origins: []string{"https://user@example.com"}},
		{RPID: "example.com", Origins: []string{"example.com"}},
		{RPID: "https://example.com"},
		{RPID: "example.com:443"},
		{RPID: "Example.com"},
		{RPID: "192.0.2.1"},
		{Origins: []string{"https://example.com"}},
	}
	e := newEnv(t)
	for _, pc := range bad {
		_, err := auth.New(e.config(e.db, func(cfg *auth.Config) { cfg.Passkeys = pc }))
		if !errors.Is(err, auth.ErrInvalidConfig) {
			t.Errorf("New with %+v: %v, want ErrInvalidConfig", pc, err)
		}
	}
	good := []auth.PasskeyConfig{
		{RPID: "example.com"},
		{RPID: "example.com", Origins: []string{"https://example.com", "https://admin.example.com:8443/"}},
		{RPID: "localhost", Origins: []string{"http://localhost:8080"}},
	}
	for _, pc := range good {
		if _, err := auth.New(e.config(e.db, func(cfg *auth.Config) { cfg.Passkeys = pc })); err != nil {
			t.Errorf("New with %+v: %v", pc, err)
		}
	}
}
