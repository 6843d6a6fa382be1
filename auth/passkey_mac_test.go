package auth_test

import (
	"bytes"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/internal/passkeytest"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

// Invariant 4 for passkeys: someone who can write the database but lacks
// the key stores rows of their own making. These tests play that writer.

// exec runs a statement on the env's database file over a connection of
// its own, behind the store's back, as someone with write access would.
func (e *env) exec(query string, args ...any) {
	e.t.Helper()
	db, err := sql.Open("sqlite", "file:"+e.path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		e.t.Fatal(err)
	}
	defer db.Close()
	res, err := db.ExecContext(e.ctx, query, args...)
	if err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	if n, err := res.RowsAffected(); err != nil || n != 1 {
		e.t.Fatalf("%s changed %d rows (%v), want 1", query, n, err)
	}
}

// handleOf returns uid's WebAuthn user handle, giving one if it has none.
func (e *env) handleOf(uid user.ID) []byte {
	e.t.Helper()
	h := make([]byte, passkey.UserHandleLength)
	rand.Read(h)
	h, err := e.db.Passkeys().SetUserHandle(e.ctx, uid, h)
	if err != nil {
		e.t.Fatal(err)
	}
	return h
}

// forge stores a passkey for uid with d's public key, straight through the
// store as a database writer would, and points d at uid's user handle.
// keyID and mac are what the writer puts in the row.
func (e *env) forge(uid user.ID, d *passkeytest.Device, keyID string, mac []byte) *passkey.Credential {
	e.t.Helper()
	d.Auth.Options.UserHandle = e.handleOf(uid)
	id := make([]byte, 8)
	rand.Read(id)
	c := &passkey.Credential{ID: "forged-" + hex.EncodeToString(id), UserID: uid, Name: "x",
		CredentialID: d.Cred.ID, PublicKey: d.Cred.Key.AttestationData(), AAGUID: make([]byte, 16),
		CreatedAt: e.clk.Now(), KeyID: keyID, MAC: mac}
	if err := e.db.Passkeys().Create(e.ctx, c); err != nil {
		e.t.Fatal(err)
	}
	return c
}

// refusedAsUnknown fails unless a passwordless login with d is refused as
// an unknown passkey.
func (e *env) refusedAsUnknown(d *passkeytest.Device) {
	e.t.Helper()
	res, err := e.passkeyLogin(d)
	if !errors.Is(err, auth.ErrInvalidCredentials) {
		e.t.Fatalf("passkey login with a forged row: %+v, %v; want ErrInvalidCredentials", res, err)
	}
	if ev := e.lastEvent(audit.LoginFailed); ev.Reason != "unknown passkey" {
		e.t.Errorf("failure recorded as %q, want \"unknown passkey\"", ev.Reason)
	}
}

// A row inserted with the writer's own public key under the admin's ID,
// with a user handle for the admin, does not log in: with no MAC, with a
// MAC copied from a genuine passkey, or with a random one under the
// current key's ID.
func TestForgedPasskeyRefused(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	genuine := e.register(&bob, e.device(), "bob's")
	if genuine.KeyID == "" || len(genuine.MAC) != 32 {
		t.Fatalf("a registered passkey has KeyID %q and a %d-byte MAC", genuine.KeyID, len(genuine.MAC))
	}
	if got := e.stored(genuine.ID); got.KeyID != genuine.KeyID || !bytes.Equal(got.MAC, genuine.MAC) {
		t.Errorf("stored KeyID %q MAC %x, registration returned %q %x", got.KeyID, got.MAC, genuine.KeyID, genuine.MAC)
	}
	random := make([]byte, 32)
	rand.Read(random)
	rows := []struct {
		name  string
		keyID string
		mac   []byte
	}{
		{"no MAC", "", nil},
		{"a genuine row's MAC", genuine.KeyID, genuine.MAC},
		{"a random MAC under the current key ID", genuine.KeyID, random},
		{"a MAC under an unknown key", "0123456789ab", random},
	}
	for _, row := range rows {
		t.Log(row.name)
		evil := e.device()
		e.forge(admin.User().ID, evil, row.keyID, row.mac)
		e.refusedAsUnknown(evil)
	}
	// The admin's own list shows the forged rows (so they can be seen and
	// deleted), but none is a second factor.
	if list, err := e.m.Passkeys(e.ctx, admin); err != nil || len(list) != len(rows) {
		t.Errorf("the admin's passkeys: %d, %v; want the %d forged rows", len(list), err, len(rows))
	}
	if r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client); err != nil || r.Session == nil {
		t.Errorf("password login of an admin whose only passkeys are forged: %+v, %v; want a session", r, err)
	}
}

// A genuine passkey moved to another user (its user_id rewritten, the
// target given a handle) does not log in as that user.
func TestPasskeyMovedToAnotherUserRefused(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	_, mallory := e.user(admin, "mallory@example.com", group.UsersID)
	d := e.device()
	c := e.register(&mallory, d, "mallory's")
	d.Auth.Options.UserHandle = e.handleOf(admin.User().ID)
	e.exec(`UPDATE passkeys SET user_id = ? WHERE id = ?`, string(admin.User().ID), c.ID)
	e.refusedAsUnknown(d)
}

// A genuine passkey whose public key is replaced with the writer's does
// not log in, with the writer's key or the owner's.
func TestPasskeyPublicKeyChangedRefused(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	c := e.register(&admin, d, "admin's")
	evil := e.device()
	evil.Cred.ID = bytes.Clone(c.CredentialID)
	evil.Auth.Options.UserHandle = d.Auth.Options.UserHandle
	e.exec(`UPDATE passkeys SET public_key = ? WHERE id = ?`, evil.Cred.Key.AttestationData(), c.ID)
	e.refusedAsUnknown(evil)
	e.refusedAsUnknown(d)
}

// As a second factor, a forged row is neither offered nor accepted, and a
// user whose only passkey is forged owes no passkey: the password alone
// logs in, or TOTP is asked without a passkey.
func TestForgedPasskeyNoSecondFactor(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	bu, bob := e.user(admin, "bob@example.com", group.UsersID)
	bobKey := e.device()
	e.register(&bob, bobKey, "bob's")
	evil := e.device()
	e.forge(bu.ID, evil, "", nil)
	evil.Auth.Options.UserHandle = bobKey.Auth.Options.UserHandle

	r, err := e.m.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client)
	if err != nil || r.Challenge == nil {
		t.Fatalf("Login: %+v, %v", r, err)
	}
	c, err := e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	var opts struct {
		PublicKey struct {
			AllowCredentials []struct {
				ID string `json:"id"`
			} `json:"allowCredentials"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(c.Options, &opts); err != nil || len(opts.PublicKey.AllowCredentials) != 1 {
		t.Errorf("allowCredentials %s, %v: want bob's one genuine passkey", c.Options, err)
	}
	forged, err := passkeytest.ForceAssert(evil, c.Options)
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, forged, client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	if ev := e.lastEvent(audit.SecondFactorFailed); ev.Reason != "not a passkey of this user" {
		t.Errorf("second factor failure recorded as %q", ev.Reason)
	}

	// Carol has TOTP and a forged passkey: only TOTP is asked.
	cu, carol := e.user(admin, "carol@example.com", group.UsersID)
	e.enrol(&carol)
	e.forge(cu.ID, e.device(), "", nil)
	ch := e.challenge("carol@example.com", passwordOf("carol@example.com"))
	if got := strings.Join(ch.Methods, ","); got != "totp,recovery_code" {
		t.Errorf("Methods of a user with TOTP and a forged passkey = %s", got)
	}
	wantErr(t, second(e.m.BeginPasskeySecondFactor(e.ctx, ch.Token, client)), auth.ErrInvalidChallenge)

	// Dave's only passkey is forged: no second step, and his group, which
	// requires two factors, still finds him without one.
	g, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Operators", RequireTwoFactor: true,
		Permissions: []group.Permission{group.ProfileManagePasskeys, "backups:read"}})
	if err != nil {
		t.Fatal(err)
	}
	du, _ := e.user(admin, "dave@example.com", g.ID)
	e.forge(du.ID, e.device(), "", nil)
	r, err = e.m.Login(e.ctx, "dave@example.com", passwordOf("dave@example.com"), client)
	if err != nil || r.Session == nil {
		t.Fatalf("password login of a user whose only passkey is forged: %+v, %v; want a session", r, err)
	}
	if p := e.auth(r.Session.Token); !p.MustEnroll() || p.Can("backups:read") {
		t.Errorf("a forged passkey counted as a second factor: MustEnroll %v", p.MustEnroll())
	}
}

// A passkey registered under key A logs in after a rotation to B (A kept
// as a previous key), counts in OldKeyUsage until RotateSecrets re-MACs
// it, and then logs in with B alone. Until then, dropping A is refused at
// start.
func TestPasskeyKeyRotation(t *testing.T) {
	t.Parallel()
	newKey := []byte("a rotated secret key, 32 bytes!!")
	rotate := func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, [][]byte{testKey} }
	drop := func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, nil }
	e, admin := newPasskeyEnv(t)
	d := e.device()
	c := e.register(&admin, d, "")

	e.m = e.manager(e.db, withPasskeys, rotate)
	if _, err := e.passkeyLogin(d); err != nil {
		t.Fatalf("passkey login after the rotation, the old key kept: %v", err)
	}
	u, err := e.m.OldKeyUsage(e.ctx)
	if err != nil || u.Passkeys != 1 {
		t.Fatalf("OldKeyUsage before RotateSecrets = %+v, %v; want 1 passkey", u, err)
	}
	// The password moves to B at this login; the passkey does not.
	if r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client); err != nil || r.Challenge == nil {
		t.Fatalf("Login: %+v, %v", r, err)
	}
	_, err = auth.New(e.config(e.db, withPasskeys, drop))
	wantErr(t, err, auth.ErrWrongSecretKey)
	if !strings.Contains(err.Error(), "passkeys") {
		t.Errorf("refusal does not name the passkeys: %v", err)
	}

	if n, err := e.m.RotateSecrets(e.ctx); n != 1 || err != nil {
		t.Fatalf("RotateSecrets = %d, %v; want 1, nil", n, err)
	}
	ev := e.lastEvent(audit.SecretsRotated)
	if n, _ := ev.Details[audit.DetailRemaced].(float64); n != 1 {
		t.Errorf("rotation event %+v", ev.Details)
	}
	if got := e.stored(c.ID); got.KeyID == c.KeyID || bytes.Equal(got.MAC, c.MAC) {
		t.Errorf("passkey still under key %q after RotateSecrets", got.KeyID)
	}
	if u, err := e.m.OldKeyUsage(e.ctx); err != nil || u.Passkeys != 0 {
		t.Fatalf("OldKeyUsage after RotateSecrets = %+v, %v; want no passkey", u, err)
	}
	if n, err := e.m.RotateSecrets(e.ctx); n != 0 || err != nil {
		t.Errorf("RotateSecrets again = %d, %v; want 0, nil", n, err)
	}

	e.m = e.manager(e.db, withPasskeys, drop)
	if _, err := e.passkeyLogin(d); err != nil {
		t.Fatalf("passkey login with the new key alone: %v", err)
	}
}

// RotateSecrets re-MACs only what verifies: a forged row that names the
// previous key is left under it (re-MACing it would make it genuine) and
// reported with ErrUnknownKey, like a row under a key the Manager lacks or
// under none; none of them logs in afterwards. A Manager without previous
// keys starts although rows under no key remain.
func TestRotateSecretsLeavesForgedPasskeys(t *testing.T) {
	t.Parallel()
	newKey := []byte("a rotated secret key, 32 bytes!!")
	e, admin := newPasskeyEnv(t)
	bu, _ := e.user(admin, "bob@example.com", group.UsersID)
	d := e.device()
	c := e.register(&admin, d, "")
	random := make([]byte, 32)
	rand.Read(random)
	underA, unknown, none := e.device(), e.device(), e.device()
	fa := e.forge(bu.ID, underA, c.KeyID, random)
	fu := e.forge(bu.ID, unknown, "0123456789ab", random)
	fn := e.forge(bu.ID, none, "", nil)

	e.m = e.manager(e.db, withPasskeys, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, [][]byte{testKey} })
	if u, err := e.m.OldKeyUsage(e.ctx); err != nil || u.Passkeys != 4 {
		t.Fatalf("OldKeyUsage = %+v, %v; want 4 passkeys", u, err)
	}
	n, err := e.m.RotateSecrets(e.ctx)
	if n != 1 || !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("RotateSecrets = %d, %v; want 1 and ErrUnknownKey for the 3 others", n, err)
	}
	for _, f := range []*passkey.Credential{fa, fu, fn} {
		if got := e.stored(f.ID); got.KeyID != f.KeyID || !bytes.Equal(got.MAC, f.MAC) {
			t.Errorf("forged passkey under %q moved to %q", f.KeyID, got.KeyID)
		}
	}
	if u, err := e.m.OldKeyUsage(e.ctx); err != nil || u.Passkeys != 3 {
		t.Errorf("OldKeyUsage after RotateSecrets = %+v, %v; want the 3 left", u, err)
	}
	for _, f := range []*passkeytest.Device{underA, unknown, none} {
		e.refusedAsUnknown(f)
	}
	if _, err := e.passkeyLogin(d); err != nil {
		t.Fatalf("the genuine passkey after RotateSecrets: %v", err)
	}

	// Rows under a key ID that no Manager holds stop a start without
	// previous keys (as for TOTP secrets); a row under none does not.
	bob, err := e.m.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client)
	if err != nil || bob.Session == nil {
		t.Fatalf("bob's login: %+v, %v", bob, err)
	}
	if _, err := e.m.Login(e.ctx, adminEmail, adminPassword, client); err != nil {
		t.Fatal(err)
	}
	drop := func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = newKey, nil }
	_, err = auth.New(e.config(e.db, withPasskeys, drop))
	if !errors.Is(err, auth.ErrWrongSecretKey) || !strings.Contains(err.Error(), "passkeys") {
		t.Fatalf("New without previous keys while forged rows name key IDs: %v; want ErrWrongSecretKey for the passkeys", err)
	}
	for _, f := range []*passkey.Credential{fa, fu} {
		if err := e.db.Passkeys().Delete(e.ctx, f.ID, bu.ID); err != nil {
			t.Fatal(err)
		}
	}
	e.m = e.manager(e.db, withPasskeys, drop)
	e.refusedAsUnknown(none)
	if _, err := e.passkeyLogin(d); err != nil {
		t.Fatalf("the genuine passkey with the new key alone: %v", err)
	}
}
