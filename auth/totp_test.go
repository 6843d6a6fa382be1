package auth_test

import (
	"bytes"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// enrol puts TOTP on *p's account through the public API and returns the
// secret and the recovery codes. Confirming replaces the session, so *p
// becomes the principal of the new one. It leaves the clock in a fresh
// step.
func (e *env) enrol(p **auth.Principal) ([]byte, []string) {
	e.t.Helper()
	enr, err := e.m.BeginTOTP(e.ctx, *p, "")
	if err != nil {
		e.t.Fatalf("BeginTOTP: %v", err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.Secret)
	if err != nil {
		e.t.Fatal(err)
	}
	codes, s, err := e.m.ConfirmTOTP(e.ctx, *p, e.code(secret, 0))
	if err != nil {
		e.t.Fatalf("ConfirmTOTP: %v", err)
	}
	*p = e.auth(s.Token)
	e.clk.Advance(totp.Period)
	return secret, codes
}

// code is the TOTP code of secret for the step d steps from now.
func (e *env) code(secret []byte, d int) string {
	e.t.Helper()
	c, err := totp.Code(secret, e.clk.Now().Add(time.Duration(d)*totp.Period), totp.Digits)
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// challenge logs in with the password and expects a challenge.
func (e *env) challenge(email, password string) *auth.Challenge {
	e.t.Helper()
	r, err := e.m.Login(e.ctx, email, password, client)
	if err != nil {
		e.t.Fatalf("Login: %v", err)
	}
	if r.Session != nil || r.Challenge == nil {
		e.t.Fatalf("Login gave %+v, want a challenge only", r)
	}
	return r.Challenge
}

func TestTwoStepLogin(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	secret, codes := e.enrol(&admin)
	if len(codes) != 10 {
		t.Fatalf("%d recovery codes", len(codes))
	}
	ch := e.challenge(adminEmail, adminPassword)
	if len(ch.Methods) != 2 || !ch.ExpiresAt.Equal(e.clk.Now().Add(5*time.Minute)) {
		t.Fatalf("challenge %+v", ch)
	}
	// The challenge token is not a session.
	_, err := e.m.Authenticate(e.ctx, ch.Token)
	wantErr(t, err, auth.ErrUnauthenticated)
	// A wrong code is a wrong password.
	_, err = e.m.VerifyTOTP(e.ctx, ch.Token, "000000", client)
	if e.code(secret, 0) != "000000" {
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	s, err := e.m.VerifyTOTP(e.ctx, ch.Token, " "+e.code(secret, 0)[:3]+"-"+e.code(secret, 0)[3:], client)
	if err != nil {
		t.Fatal(err)
	}
	if p := e.auth(s.Token); p.User().Email != adminEmail {
		t.Fatal("wrong user")
	}
	// The challenge is consumed.
	_, err = e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, 1), client)
	wantErr(t, err, auth.ErrInvalidChallenge)
	ev := e.lastEvent(audit.LoginSucceeded)
	if ev.Details["method"] != auth.MethodTOTP {
		t.Fatalf("event %+v", ev)
	}
	// 2FA status shows in the user list.
	page, _ := e.m.ListUsers(e.ctx, admin, listAll())
	if !page.Users[0].TwoFactor {
		t.Fatal("ListUsers does not show 2FA")
	}
}

// Codes from steps -1, 0, +1 pass; -2 and +2 fail.
func TestTOTPWindow(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.FreeFailures = 100 })
	admin := e.admin()
	secret, _ := e.enrol(&admin)
	for _, d := range []int{-2, 2, -1, 0, 1} {
		e.clk.Advance(10 * totp.Period) // past any used step
		ch := e.challenge(adminEmail, adminPassword)
		_, err := e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, d), client)
		if ok := d >= -1 && d <= 1; ok != (err == nil) {
			t.Fatalf("step %+d: %v", d, err)
		}
	}
}

// A code works once: the same Manager, a second Manager on the same file,
// and an older code after a newer one all fail.
func TestTOTPReplay(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.FreeFailures = 100 })
	admin := e.admin()
	secret, _ := e.enrol(&admin)
	m2 := e.manager(e.db, func(c *auth.Config) { c.Throttle.FreeFailures = 100 })
	code := e.code(secret, 0)
	ch := e.challenge(adminEmail, adminPassword)
	if _, err := e.m.VerifyTOTP(e.ctx, ch.Token, code, client); err != nil {
		t.Fatal(err)
	}
	for _, m := range []*auth.Manager{e.m, m2} {
		ch := e.challenge(adminEmail, adminPassword)
		_, err := m.VerifyTOTP(e.ctx, ch.Token, code, client)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	if ev := e.lastEvent(audit.SecondFactorFailed); ev.Reason != "code already used" {
		t.Fatalf("reason %q", ev.Reason)
	}
	// Newer code, then the older (still in the window) one.
	ch = e.challenge(adminEmail, adminPassword)
	if _, err := e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, 1), client); err != nil {
		t.Fatal(err)
	}
	e.clk.Advance(totp.Period) // the step of e.code(..., 0) is now -1... but below the last used
	ch = e.challenge(adminEmail, adminPassword)
	_, err := e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, -1), client)
	wantErr(t, err, auth.ErrInvalidCredentials)
}

// 20 concurrent submissions of one valid code (each on its own challenge,
// through two Managers) give exactly one session.
func TestTOTPConcurrentReplay(t *testing.T) {
	relaxed := func(c *auth.Config) { c.Throttle.FreeFailures = 1000 }
	e := newEnv(t, relaxed)
	admin := e.admin()
	secret, _ := e.enrol(&admin)
	m2 := e.manager(e.db, relaxed)
	var chs []*auth.Challenge
	for range 20 {
		chs = append(chs, e.challenge(adminEmail, adminPassword))
	}
	code := e.code(secret, 0)
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for i, ch := range chs {
		m := e.m
		if i%2 == 1 {
			m = m2
		}
		wg.Go(func() {
			if _, err := m.VerifyTOTP(e.ctx, ch.Token, code, client); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d sessions from one code, want 1", wins)
	}
}

func TestChallengeLimits(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.FreeFailures = 100 })
	admin := e.admin()
	secret, _ := e.enrol(&admin)

	// Expires after five minutes.
	ch := e.challenge(adminEmail, adminPassword)
	e.clk.Advance(5 * time.Minute)
	_, err := e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, 0), client)
	wantErr(t, err, auth.ErrInvalidChallenge)

	// Dies after five wrong codes, even if the sixth is right.
	ch = e.challenge(adminEmail, adminPassword)
	wrong := "000000"
	if wrong == e.code(secret, 0) || wrong == e.code(secret, -1) || wrong == e.code(secret, 1) {
		wrong = "111111"
	}
	for range 5 {
		_, err := e.m.VerifyTOTP(e.ctx, ch.Token, wrong, client)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	_, err = e.m.VerifyTOTP(e.ctx, ch.Token, e.code(secret, 0), client)
	wantErr(t, err, auth.ErrInvalidChallenge)
	if ev := e.lastEvent(audit.ChallengeExhausted); ev.Actor.Email != adminEmail {
		t.Fatalf("event %+v", ev)
	}

	// Cannot be used for another user: Bob's challenge with the admin's code.
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	bobSecret, _ := e.enrol(&bob)
	bch := e.challenge("bob@example.com", passwordOf("bob@example.com"))
	adminCode := e.code(secret, 0)
	if adminCode != e.code(bobSecret, 0) {
		_, err = e.m.VerifyTOTP(e.ctx, bch.Token, adminCode, client)
		wantErr(t, err, auth.ErrInvalidCredentials)
	}
	s, err := e.m.VerifyTOTP(e.ctx, bch.Token, e.code(bobSecret, 0), client)
	if err != nil {
		t.Fatal(err)
	}
	if p := e.auth(s.Token); p.User().Email != "bob@example.com" {
		t.Fatal("session for the wrong user")
	}
}

// Second-factor failures feed the account throttle: a stolen password does
// not buy unlimited code guesses across challenges.
func TestSecondFactorFeedsAccountThrottle(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	e.enrol(&admin)
	throttled := false
	for i := 0; i < 20 && !throttled; i++ {
		r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
		if errors.Is(err, auth.ErrThrottled) {
			throttled = true
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		for range 3 {
			if _, err := e.m.VerifyTOTP(e.ctx, r.Challenge.Token, "000000", client); errors.Is(err, auth.ErrThrottled) {
				throttled = true
				break
			}
		}
	}
	if !throttled {
		t.Fatal("20 challenges of wrong codes were never throttled")
	}
}

func TestRecoveryCodes(t *testing.T) {
	e := newEnv(t, func(c *auth.Config) { c.Throttle.FreeFailures = 1000 })
	admin := e.admin()
	_, codes := e.enrol(&admin)
	// Lower case, no dashes: still accepted; then spent.
	ch := e.challenge(adminEmail, adminPassword)
	if _, err := e.m.VerifyRecoveryCode(e.ctx, ch.Token, strings.ToLower(strings.ReplaceAll(codes[0], "-", "")), client); err != nil {
		t.Fatal(err)
	}
	if ev := e.lastEvent(audit.RecoveryCodeUsed); ev.Details["remaining"] != float64(9) {
		t.Fatalf("event %+v", ev)
	}
	if st, _ := e.m.TwoFactorStatus(e.ctx, admin); st.RecoveryCodesLeft != 9 {
		t.Fatalf("%d left", st.RecoveryCodesLeft)
	}
	ch = e.challenge(adminEmail, adminPassword)
	_, err := e.m.VerifyRecoveryCode(e.ctx, ch.Token, codes[0], client)
	wantErr(t, err, auth.ErrInvalidCredentials)

	// Regenerating needs the password and invalidates the old set.
	_, _, err = e.m.RegenerateRecoveryCodes(e.ctx, admin, "")
	wantErr(t, err, auth.ErrReauthRequired)
	fresh, _, err := e.m.RegenerateRecoveryCodes(e.ctx, admin, adminPassword)
	if err != nil || len(fresh) != 10 {
		t.Fatal(err)
	}
	ch = e.challenge(adminEmail, adminPassword)
	_, err = e.m.VerifyRecoveryCode(e.ctx, ch.Token, codes[1], client)
	wantErr(t, err, auth.ErrInvalidCredentials)

	// 20 concurrent redemptions of one code: one success.
	var chs []*auth.Challenge
	for range 20 {
		chs = append(chs, e.challenge(adminEmail, adminPassword))
	}
	var wg sync.WaitGroup
	var mu sync.Mutex
	wins := 0
	for _, ch := range chs {
		wg.Go(func() {
			if _, err := e.m.VerifyRecoveryCode(e.ctx, ch.Token, fresh[3], client); err == nil {
				mu.Lock()
				wins++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	if wins != 1 {
		t.Fatalf("%d redemptions of one code succeeded", wins)
	}

	// Neither the codes nor the TOTP secret are in the database file.
	e.db.Close()
	var blob []byte
	files, _ := filepath.Glob(e.path + "*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		blob = append(blob, b...)
	}
	for _, c := range append(codes, fresh...) {
		if bytes.Contains(blob, []byte(c)) || bytes.Contains(blob, []byte(strings.ReplaceAll(c, "-", ""))) {
			t.Fatal("a recovery code is in the database file")
		}
	}
}

func TestTOTPSecretSealedAtRest(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	secret, _ := e.enrol(&admin)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	e.db.Close()
	var blob []byte
	files, _ := filepath.Glob(e.path + "*")
	for _, f := range files {
		b, _ := os.ReadFile(f)
		blob = append(blob, b...)
	}
	if bytes.Contains(blob, secret) || bytes.Contains(blob, []byte(enc)) {
		t.Fatal("the TOTP secret is readable in the database file")
	}
}

func TestEnrollmentNeedsPresence(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	e.clk.Advance(6 * time.Minute) // the session is no longer fresh
	_, err := e.m.BeginTOTP(e.ctx, admin, "")
	wantErr(t, err, auth.ErrReauthRequired)
	_, err = e.m.BeginTOTP(e.ctx, admin, "wrong password")
	wantErr(t, err, auth.ErrInvalidCredentials)
	enr, err := e.m.BeginTOTP(e.ctx, admin, adminPassword)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(enr.URI, "otpauth://totp/") || len(enr.QR) == 0 {
		t.Fatalf("enrollment %+v", enr)
	}
	// Not active before confirmation: login gives a session straight away.
	if r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client); err != nil || r.Session == nil {
		t.Fatalf("unconfirmed enrollment is active: %+v, %v", r, err)
	}
	// Confirmation with a wrong code fails; after the timeout it is gone.
	_, _, err = e.m.ConfirmTOTP(e.ctx, admin, "12345")
	wantErr(t, err, totp.ErrMalformedCode)
	e.clk.Advance(16 * time.Minute)
	secret, _ := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.Secret)
	_, _, err = e.m.ConfirmTOTP(e.ctx, admin, e.code(secret, 0))
	wantErr(t, err, totp.ErrNotEnrolled)
	// Already enrolled: refused.
	fresh := e.login(adminEmail, adminPassword)
	e.enrol(&fresh)
	_, err = e.m.BeginTOTP(e.ctx, fresh, adminPassword)
	wantErr(t, err, totp.ErrAlreadyEnrolled)
}

func TestDisableTOTP(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	e.enrol(&admin)
	wantErr(t, second(e.m.DisableTOTP(e.ctx, admin, "")), auth.ErrReauthRequired)
	wantErr(t, second(e.m.DisableTOTP(e.ctx, admin, "nope")), auth.ErrInvalidCredentials)
	if _, err := e.m.DisableTOTP(e.ctx, admin, adminPassword); err != nil {
		t.Fatal(err)
	}
	if r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client); err != nil || r.Session == nil {
		t.Fatalf("login after disabling: %+v, %v", r, err)
	}
	if ev := e.lastEvent(audit.TOTPDisabled); ev.Outcome != audit.Success {
		t.Fatal(ev)
	}
}

func TestResetTwoFactor(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	e.enrol(&bob)
	ch := e.challenge("bob@example.com", passwordOf("bob@example.com"))
	wantErr(t, e.m.ResetTwoFactor(e.ctx, bob, admin.User().ID), auth.ErrForbidden)
	if err := e.m.ResetTwoFactor(e.ctx, admin, bob.User().ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.m.Authenticate(e.ctx, tokenOf(bob))
	wantErr(t, err, auth.ErrUnauthenticated)
	_, err = e.m.VerifyTOTP(e.ctx, ch.Token, "123456", client)
	wantErr(t, err, auth.ErrInvalidChallenge)
	// Bob logs in with the password alone and can enrol again.
	p := e.login("bob@example.com", passwordOf("bob@example.com"))
	e.enrol(&p)
	if ev := e.lastEvent(audit.TwoFactorReset); ev.Actor.Email != adminEmail || ev.Target.ID != string(bob.User().ID) {
		t.Fatalf("event %+v", ev)
	}
}

// A secret sealed under key A opens with A among the previous keys and B
// current; RotateSecrets moves it to B, after which A can go.
func TestRotateSecrets(t *testing.T) {
	keyA, keyB := testKey, []byte("a completely different 32-byte key!!")
	e := newEnv(t)
	admin := e.admin()
	secret, codes := e.enrol(&admin)
	rotated := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = keyB, [][]byte{keyA} })
	// Password and second factor still work under B with A as previous.
	r, err := rotated.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := rotated.VerifyTOTP(e.ctx, r.Challenge.Token, e.code(secret, 0), client); err != nil {
		t.Fatal(err)
	}
	n, err := rotated.RotateSecrets(e.ctx)
	if err != nil || n != 1 {
		t.Fatalf("RotateSecrets = %d, %v", n, err)
	}
	if n, _ := rotated.RotateSecrets(e.ctx); n != 0 {
		t.Fatal("second rotation moved something")
	}
	onlyB := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = keyB, nil })
	e.clk.Advance(totp.Period)
	r, err = onlyB.Login(e.ctx, adminEmail, adminPassword, client) // rehashed under B at the last login
	if err != nil {
		t.Fatal(err)
	}
	if _, err := onlyB.VerifyTOTP(e.ctx, r.Challenge.Token, e.code(secret, 0), client); err != nil {
		t.Fatalf("after rotation, without key A: %v", err)
	}
	// Recovery codes made under A need A: without it they fail, with it they work.
	r, _ = onlyB.Login(e.ctx, adminEmail, adminPassword, client)
	_, err = onlyB.VerifyRecoveryCode(e.ctx, r.Challenge.Token, codes[0], client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	if ev := e.lastEvent(audit.SecretsRotated); ev.Details["resealed"] != float64(1) {
		t.Fatalf("event %+v", ev)
	}
}

// A group can require a second factor: members without one can only enrol.
func TestGroupRequiresTwoFactor(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	ops, err := e.m.CreateGroup(e.ctx, admin, group.Group{Name: "Ops", RequireTwoFactor: true,
		Permissions: []group.Permission{"backups:read", group.ProfileAll}})
	if err != nil {
		t.Fatal(err)
	}
	_, op := e.user(admin, "op@example.com", ops.ID)
	if !op.MustEnroll() || op.Can("backups:read") || !op.Can(group.ProfileManage2FA) {
		t.Fatalf("MustEnroll=%v, Can(backups:read)=%v", op.MustEnroll(), op.Can("backups:read"))
	}
	_, _, err = e.m.UpdateProfile(e.ctx, op, auth.ProfileUpdate{Name: ptr("x")})
	wantErr(t, err, auth.ErrEnrollmentRequired)
	e.enrol(&op)
	p := e.auth(tokenOf(op))
	if p.MustEnroll() || !p.Can("backups:read") {
		t.Fatal("enrolled member still restricted")
	}
}

// Bad second-factor input: a typed error, no panic, nothing written.
func TestSecondFactorBadInput(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, codes := e.enrol(&admin)
	ch := e.challenge(adminEmail, adminPassword)
	canon := strings.ReplaceAll(codes[0], "-", "")
	badCheck := canon[:13] + map[bool]string{true: "0", false: "1"}[canon[13] != '0']
	before := len(e.events())
	cases := []struct {
		name, code string
		recovery   bool
	}{
		{"empty", "", false},
		{"5 digits", "12345", false},
		{"7 digits", "1234567", false},
		{"letters", "abcdef", false},
		{"1 KB", strings.Repeat("1", 1024), false},
		{"unicode digits", "١٢٣٤٥٦", false},
		{"recovery: wrong check symbol", badCheck, true},
		{"recovery: too short", canon[:10], true},
		{"recovery: too long", canon + "00", true},
		{"recovery: 1 KB", strings.Repeat("A", 1024), true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var err error
			if tc.recovery {
				_, err = e.m.VerifyRecoveryCode(e.ctx, ch.Token, tc.code, client)
			} else {
				_, err = e.m.VerifyTOTP(e.ctx, ch.Token, tc.code, client)
			}
			wantErr(t, err, totp.ErrMalformedCode)
		})
	}
	if after := len(e.events()); after != before {
		t.Fatalf("malformed codes wrote %d events", after-before)
	}
	// The challenge is untouched: the right code still works.
	if _, err := e.m.VerifyRecoveryCode(e.ctx, ch.Token, codes[0], client); err != nil {
		t.Fatal(err)
	}
	// Garbage challenge tokens.
	for _, tok := range []string{"", "x", strings.Repeat("A", 43), ch.Token} {
		_, err := e.m.VerifyTOTP(e.ctx, tok, "123456", client)
		wantErr(t, err, auth.ErrInvalidChallenge)
	}
}

// No TOTP secret or code ever reaches an audit event.
func TestTwoFactorAuditHasNoSecrets(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	secret, codes := e.enrol(&admin)
	used := e.code(secret, 0)
	ch := e.challenge(adminEmail, adminPassword)
	if _, err := e.m.VerifyTOTP(e.ctx, ch.Token, used, client); err != nil {
		t.Fatal(err)
	}
	ch = e.challenge(adminEmail, adminPassword)
	_, _ = e.m.VerifyRecoveryCode(e.ctx, ch.Token, codes[2], client)
	enc := base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(secret)
	for _, ev := range e.events() {
		b, _ := json.Marshal(ev)
		for _, s := range append([]string{enc, ch.Token}, codes...) {
			if strings.Contains(string(b), s) || strings.Contains(string(b), strings.ReplaceAll(s, "-", "")) {
				t.Fatalf("event %s holds a secret", ev.Action)
			}
		}
	}
	seen := map[audit.Action]bool{}
	for _, ev := range e.events() {
		seen[ev.Action] = true
	}
	for _, a := range []audit.Action{audit.TOTPEnrollStarted, audit.TOTPEnabled, audit.LoginChallenged, audit.RecoveryCodeUsed} {
		if !seen[a] {
			t.Errorf("no %s event", a)
		}
	}
}

func TestTwoFactorStatusAndFresh(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	if st, err := e.m.TwoFactorStatus(e.ctx, admin); err != nil || st != (auth.TwoFactorStatus{}) {
		t.Fatalf("before: %+v, %v", st, err)
	}
	if !e.m.Fresh(admin) {
		t.Fatal("a new session is not fresh")
	}
	if _, err := e.m.BeginTOTP(e.ctx, admin, ""); err != nil {
		t.Fatal(err)
	}
	if st, _ := e.m.TwoFactorStatus(e.ctx, admin); !st.Pending || st.Enrolled {
		t.Fatalf("pending: %+v", st)
	}
	e.clk.Advance(6 * time.Minute)
	if e.m.Fresh(admin) {
		t.Fatal("a 6-minute-old session is fresh")
	}
	p := e.login(adminEmail, adminPassword)
	e.enrol(&p)
	if st, _ := e.m.TwoFactorStatus(e.ctx, p); !st.Enrolled || st.Pending || st.RecoveryCodesLeft != 10 {
		t.Fatalf("enrolled: %+v", st)
	}
	_, err := e.m.TwoFactorStatus(e.ctx, nil)
	wantErr(t, err, auth.ErrForbidden)
}

// Guessing the code that confirms an enrollment is throttled and audited.
func TestConfirmTOTPIsThrottled(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	if _, err := e.m.BeginTOTP(e.ctx, admin, ""); err != nil {
		t.Fatal(err)
	}
	for i := range 300 {
		_, _, err := e.m.ConfirmTOTP(e.ctx, admin, fmt.Sprintf("%06d", 200000+i))
		if errors.Is(err, auth.ErrThrottled) {
			if i > 6 {
				t.Fatalf("throttled only after %d wrong codes", i)
			}
			if ev := e.lastEvent(audit.SecondFactorFailed); ev.Details["method"] != "enrollment" {
				t.Fatalf("event %+v", ev)
			}
			return
		}
	}
	t.Fatal("300 wrong confirmation codes were never throttled")
}

// Credentials under a key the Manager lacks do not hide the ones behind
// them from a rotation; OldKeyUsage says what still needs old keys.
func TestRotateSkipsUnknownKeys(t *testing.T) {
	keyA, keyB := testKey, []byte("a completely different 32-byte key!!")
	e := newEnv(t, func(c *auth.Config) { c.Throttle.PerIPPerMinute = -1 })
	admin := e.admin()
	var ids []user.ID
	for i := range 103 {
		u, err := e.m.CreateUser(e.ctx, admin, auth.NewUser{Email: fmt.Sprintf("u%d@example.com", i), Password: "long enough pw"})
		if err != nil {
			t.Fatal(err)
		}
		ids = append(ids, u.ID)
	}
	slices.Sort(ids)
	for _, id := range ids[:102] {
		if err := e.db.TOTP().Put(e.ctx, &totp.Credential{UserID: id, KeyID: "0badc0ffee00", Sealed: make([]byte, 40)}); err != nil {
			t.Fatal(err)
		}
	}
	last, err := e.m.GetUser(e.ctx, admin, ids[102])
	if err != nil {
		t.Fatal(err)
	}
	lastP := e.login(last.Email, "long enough pw")
	e.enrol(&lastP)
	rotated := e.manager(e.db, func(c *auth.Config) { c.SecretKey, c.PreviousSecretKeys = keyB, [][]byte{keyA} })
	before, err := rotated.OldKeyUsage(e.ctx)
	if err != nil || before.TOTPSecrets != 103 || before.RecoveryCodeSets != 1 {
		t.Fatalf("OldKeyUsage before = %+v, %v", before, err)
	}
	n, err := rotated.RotateSecrets(e.ctx)
	if n != 1 || !errors.Is(err, auth.ErrUnknownKey) {
		t.Fatalf("RotateSecrets = %d, %v; want 1 moved and ErrUnknownKey for the rest", n, err)
	}
	after, _ := rotated.OldKeyUsage(e.ctx)
	if after.TOTPSecrets != 102 || after.RecoveryCodeSets != 1 {
		t.Fatalf("OldKeyUsage after = %+v", after)
	}
}
