package auth_test

// Attacks on passkeys found in review, each kept as a test that fails
// without its fix: hand-made authenticator answers (a "none" attestation
// with any COSE key, an assertion with any signature), races, and
// throttling.

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	mbig "math/big"
	"sync"
	"testing"

	"github.com/go-webauthn/webauthn/protocol/webauthncbor"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/store/sqlite"
)

var b64 = base64.RawURLEncoding

// optionsOf pulls the challenge out of PasskeyCeremony.Options.
func optionsOf(t *testing.T, opts []byte) []byte {
	t.Helper()
	var o struct {
		PublicKey struct {
			Challenge string `json:"challenge"`
		} `json:"publicKey"`
	}
	if err := json.Unmarshal(opts, &o); err != nil {
		t.Fatal(err)
	}
	c, err := b64.DecodeString(o.PublicKey.Challenge)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

type coseRSA struct {
	Kty int64  `cbor:"1,keyasint"`
	Alg int64  `cbor:"3,keyasint"`
	N   []byte `cbor:"-1,keyasint"`
	E   []byte `cbor:"-2,keyasint"`
}

type coseEC2 struct {
	Kty int64  `cbor:"1,keyasint"`
	Alg int64  `cbor:"3,keyasint"`
	Crv int64  `cbor:"-1,keyasint"`
	X   []byte `cbor:"-2,keyasint"`
	Y   []byte `cbor:"-3,keyasint"`
}

func mustCBOR(t *testing.T, v any) []byte {
	t.Helper()
	b, err := webauthncbor.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// noneAttestation answers registration options carrying challenge with a
// "none" attestation of a fresh credential ID and the COSE key cose, as a
// hand-made authenticator would.
func noneAttestation(t *testing.T, challenge, cose []byte) []byte {
	t.Helper()
	credID := make([]byte, 32)
	rand.Read(credID)
	cd, _ := json.Marshal(map[string]string{"type": "webauthn.create", "challenge": b64.EncodeToString(challenge), "origin": rpOrigin})
	rp := sha256.Sum256([]byte(rpID))
	ad := append([]byte{}, rp[:]...)
	ad = append(ad, 0x01|0x04|0x40, 0, 0, 0, 0) // UP, UV, AT; counter 0
	ad = append(ad, make([]byte, 16)...)        // AAGUID
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(credID)))
	ad = append(ad, credID...)
	ad = append(ad, cose...)
	ao := mustCBOR(t, map[string]any{"fmt": "none", "attStmt": map[string]any{}, "authData": ad})
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(credID), "rawId": b64.EncodeToString(credID), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(ao)},
	})
	return out
}

// registerKey registers the COSE key cose for *p by a hand-made answer.
func (e *env) registerKey(p **auth.Principal, cose []byte) (*passkey.Credential, error) {
	e.t.Helper()
	c, err := e.m.BeginPasskeyRegistration(e.ctx, *p, "")
	if err != nil {
		e.t.Fatal(err)
	}
	cred, s, err := e.m.FinishPasskeyRegistration(e.ctx, *p, c.ID, noneAttestation(e.t, optionsOf(e.t, c.Options), cose), "")
	if err == nil {
		*p = e.auth(s.Token)
	}
	return cred, err
}

// Only ES256, EdDSA and RS256 with a sane modulus: an RSA key of 30,000
// bytes and exponent 2^31-1 cost seconds per verification, which anyone
// could trigger on every login attempt naming the credential.
func TestPasskeyKeyAlgorithmsBounded(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	huge := make([]byte, 30000)
	rand.Read(huge)
	huge[0] |= 0x80
	_, err := e.registerKey(&admin, mustCBOR(t, coseRSA{Kty: 3, Alg: -257, N: huge, E: []byte{0x7f, 0xff, 0xff, 0xff}}))
	wantErr(t, err, auth.ErrPasskeyRejected)
	k1024, _ := rsa.GenerateKey(rand.Reader, 1024)
	_, err = e.registerKey(&admin, mustCBOR(t, coseRSA{Kty: 3, Alg: -257, N: k1024.N.Bytes(), E: mbig.NewInt(65537).Bytes()}))
	wantErr(t, err, auth.ErrPasskeyRejected)
	k2048, _ := rsa.GenerateKey(rand.Reader, 2048)
	_, err = e.registerKey(&admin, mustCBOR(t, coseRSA{Kty: 3, Alg: -257, N: k2048.N.Bytes(), E: mbig.NewInt(3).Bytes()}))
	wantErr(t, err, auth.ErrPasskeyRejected)
	if _, err := e.registerKey(&admin, mustCBOR(t, coseRSA{Kty: 3, Alg: -257, N: k2048.N.Bytes(), E: mbig.NewInt(65537).Bytes()})); err != nil {
		t.Errorf("RSA-2048 (Windows Hello): %v", err)
	}
	p384, _ := ecdsa.GenerateKey(elliptic.P384(), rand.Reader)
	pub, _ := p384.PublicKey.Bytes()
	_, err = e.registerKey(&admin, mustCBOR(t, coseEC2{Kty: 2, Alg: -35, Crv: 2, X: pub[1:49], Y: pub[49:]}))
	wantErr(t, err, auth.ErrPasskeyRejected)
	if n, _ := e.db.Passkeys().Count(e.ctx, admin.User().ID); n != 1 {
		t.Errorf("%d passkeys stored, want the one RSA-2048", n)
	}
}

// Registration ceremonies spend the IP's budget: one session cannot fill
// the ceremony table.
func TestPasskeyRegistrationThrottled(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	var err error
	for range auth.DefaultPerIPPerMinute + 1 {
		if _, err = e.m.BeginPasskeyRegistration(e.ctx, admin, ""); err != nil {
			break
		}
	}
	wantErr(t, err, auth.ErrThrottled)
}

func TestPasskeyLimitPerUser(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t, func(cfg *auth.Config) { cfg.Throttle.PerIPPerMinute = -1 })
	for range passkey.MaxPerUser {
		e.register(&admin, e.device(), "")
	}
	wantErr(t, second(e.m.BeginPasskeyRegistration(e.ctx, admin, "")), passkey.ErrTooMany)
}

// A ceremony of one kind is no use as another.
func TestPasskeyCeremonyKindCrossUse(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	e.register(&admin, e.device(), "")
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil || r.Challenge == nil {
		t.Fatal(r, err)
	}
	c, err := e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	pub, _ := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	b, _ := pub.PublicKey.Bytes()
	cose := mustCBOR(t, coseEC2{Kty: 2, Alg: -7, Crv: 1, X: b[1:33], Y: b[33:]})
	_, _, err = e.m.FinishPasskeyRegistration(e.ctx, admin, c.ID, noneAttestation(t, optionsOf(t, c.Options), cose), "")
	wantErr(t, err, auth.ErrInvalidCeremony)

	rc, _ := e.m.BeginPasskeyRegistration(e.ctx, admin, "")
	_, err = e.m.FinishPasskeyLogin(e.ctx, rc.ID, []byte("{}"), client)
	wantErr(t, err, auth.ErrInvalidCeremony)
}

// A ceremony begun for one challenge does not answer another of the same
// user.
func TestPasskeyCeremonyOfAnotherChallenge(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	e.register(&admin, d, "")
	x, _ := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	y, _ := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	c, err := e.m.BeginPasskeySecondFactor(e.ctx, x.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := d.Assert(c.Options)
	_, err = e.m.VerifyPasskey(e.ctx, y.Challenge.Token, c.ID, resp, client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	if ev := e.lastEvent(audit.SecondFactorFailed); ev.Reason != "passkey ceremony of another login" {
		t.Errorf("recorded as %q", ev.Reason)
	}
}

// Bob's passkey presented with the admin's user handle is nobody's: the
// failure names no one.
func TestPasskeyHandleOfAnotherUser(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	ad, bd := e.device(), e.device()
	e.register(&admin, ad, "")
	e.register(&bob, bd, "")
	bd.Auth.Options.UserHandle = ad.Auth.Options.UserHandle
	_, err := e.passkeyLogin(bd)
	wantErr(t, err, auth.ErrInvalidCredentials)
	ev := e.lastEvent(audit.LoginFailed)
	if ev.Reason != "unknown passkey" || ev.Actor.ID != "" {
		t.Errorf("failure recorded as %q against %+v", ev.Reason, ev.Actor)
	}
}

// pkHookStore runs before once, just before the next Atomic: what another
// instance commits in the window between a login's reads and its
// transaction.
type pkHookStore struct {
	*sqlite.DB
	mu     sync.Mutex
	before func()
}

func (h *pkHookStore) Atomic(ctx context.Context, fn func(auth.Store) error) error {
	h.mu.Lock()
	f := h.before
	h.before = nil
	h.mu.Unlock()
	if f != nil {
		f()
	}
	return h.DB.Atomic(ctx, fn)
}

// Another login with the same counter commits first: the store's
// conditional update refuses this one (go-webauthn, having read the
// counter before, sees nothing wrong).
func TestPasskeyCounterRace(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	cred := e.register(&admin, d, "")
	hs := &pkHookStore{DB: e.db}
	m := e.manager(hs, withPasskeys)
	c, _ := m.BeginPasskeyLogin(e.ctx, client)
	d.Cred.Counter = 7
	resp, _ := d.Assert(c.Options)
	hs.before = func() {
		if won, err := e.db.Passkeys().UpdateUse(e.ctx, cred.ID, 7, false, e.clk.Now()); !won || err != nil {
			t.Errorf("concurrent use: %v %v", won, err)
		}
	}
	_, err := m.FinishPasskeyLogin(e.ctx, c.ID, resp, client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	e.lastEvent(audit.PasskeyCloneWarning)
}

// A passkey deleted just before the finish is a failed login, recorded,
// not a raw store error (the finish reads and writes in one transaction,
// so nothing can come between its lookups and its writes).
func TestPasskeyDeletedBeforeFinish(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	cred := e.register(&admin, d, "")
	hs := &pkHookStore{DB: e.db}
	m := e.manager(hs, withPasskeys)
	c, _ := m.BeginPasskeyLogin(e.ctx, client)
	resp, _ := d.Assert(c.Options)
	hs.before = func() {
		if err := e.db.Passkeys().Delete(e.ctx, cred.ID, admin.User().ID); err != nil {
			t.Error(err)
		}
	}
	_, err := m.FinishPasskeyLogin(e.ctx, c.ID, resp, client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	if ev := e.lastEvent(audit.LoginFailed); ev.Reason != "unknown passkey" {
		t.Errorf("recorded as %q", ev.Reason)
	}
}

// A passwordless login and a passkey answering a second step are told
// apart in the trail.
func TestPasskeyAuditPasswordlessMarked(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	e.register(&admin, d, "")
	if _, err := e.passkeyLogin(d); err != nil {
		t.Fatal(err)
	}
	if ev := e.lastEvent(audit.LoginSucceeded); ev.Details[audit.DetailPasswordless] != true {
		t.Errorf("passwordless login recorded as %+v", ev.Details)
	}
	r, _ := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	c, _ := e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
	resp, _ := d.Assert(c.Options)
	if _, err := e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, resp, client); err != nil {
		t.Fatal(err)
	}
	ev := e.lastEvent(audit.LoginSucceeded)
	if _, ok := ev.Details[audit.DetailPasswordless]; ok || ev.Details[audit.DetailMethod] != auth.MethodPasskey {
		t.Errorf("second step recorded as %+v", ev.Details)
	}
}

// Deleting one's own passkey ends the sessions it may have opened.
func TestDeletePasskeyEndsOtherSessions(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	cred := e.register(&admin, d, "")
	found, err := e.passkeyLogin(d) // whoever found the authenticator
	if err != nil {
		t.Fatal(err)
	}
	s, err := e.m.DeletePasskey(e.ctx, admin, cred.ID, "")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.m.Authenticate(e.ctx, found.Session.Token); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("the finder's session: %v", err)
	}
	if _, err := e.m.Authenticate(e.ctx, s.Token); err != nil {
		t.Errorf("the deleter's new session: %v", err)
	}
	if ev := e.lastEvent(audit.PasskeyDeleted); ev.Details[audit.DetailOtherSessionsRevoked] != float64(1) && ev.Details[audit.DetailOtherSessionsRevoked] != 1 {
		t.Errorf("delete event %+v", ev.Details)
	}
}
