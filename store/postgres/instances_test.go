package postgres_test

import (
	"encoding/base32"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/postgres"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// The multi-instance tests run two auth.Managers, each over its own *DB
// (its own connection pool), on one schema: two instances of a host's
// application behind a load balancer. Whatever one does, the other must
// see at once.

// clock is a settable clock shared by both instances.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

var (
	testKey     = []byte("0123456789abcdef0123456789abcdef")
	client      = auth.Client{IP: "198.51.100.7", UserAgent: "instances-test"}
	hostPerms   = []group.Entry{{Permission: "backups:run", Label: "Run backups", Category: "Backups"}}
	adminEmail  = "admin@example.com"
	adminPass   = "correct horse battery"
	memberEmail = "member@example.com"
	memberPass  = "member's long password"
)

// pair is two instances on one fresh schema.
type pair struct {
	clk *clock
	m   [2]*auth.Manager
	db  [2]*postgres.DB
}

func newPair(t *testing.T, mods ...func(*auth.Config)) *pair {
	t.Helper()
	postgres.TestDSN(t)
	schema := postgres.NewSchemaName()
	postgres.DropSchemaAtCleanup(t, schema)
	p := &pair{clk: &clock{t: time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)}}
	for i := range p.m {
		p.db[i] = postgres.OpenSchema(t, schema)
		cfg := auth.Config{
			Store: p.db[i], Issuer: "usher instances test", SecretKey: testKey,
			BcryptCost: 4, InsecureLowBcryptCostForTests: true,
			Now: p.clk.Now, Permissions: hostPerms,
		}
		for _, f := range mods {
			f(&cfg)
		}
		m, err := auth.New(cfg)
		if err != nil {
			t.Fatalf("auth.New: %v", err)
		}
		p.m[i] = m
		t.Cleanup(func() { _ = m.Close() }) // before the schema is dropped
	}
	return p
}

// admin signs the first user up on instance 0 and returns its principal
// as each instance authenticates it (a Principal acts only on the Manager
// that made it), and the session token.
func (p *pair) admin(t *testing.T) ([2]*auth.Principal, string) {
	t.Helper()
	setup, _, err := p.m[0].SetupToken(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	s, err := p.m[0].SignUp(t.Context(), auth.SignUp{Email: adminEmail, Name: "Admin", Password: adminPass, BootstrapToken: setup}, client)
	if err != nil {
		t.Fatalf("SignUp: %v", err)
	}
	var a [2]*auth.Principal
	for i := range a {
		if a[i], err = p.m[i].Authenticate(t.Context(), s.Token); err != nil {
			t.Fatalf("Authenticate on instance %d of a session made on instance 0: %v", i, err)
		}
	}
	return a, s.Token
}

func (p *pair) login(t *testing.T, i int, email, password string) string {
	t.Helper()
	r, err := p.m[i].Login(t.Context(), email, password, client)
	if err != nil {
		t.Fatalf("Login on instance %d: %v", i, err)
	}
	if r.Session == nil {
		t.Fatalf("Login on instance %d: no session", i)
	}
	return r.Session.Token
}

// A session revoked through one instance is dead on the other.
func TestInstancesRevocation(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	_, adminToken := p.admin(t)

	// Logout on instance 0.
	if err := p.m[0].Logout(ctx, adminToken); err != nil {
		t.Fatalf("Logout: %v", err)
	}
	if _, err := p.m[1].Authenticate(ctx, adminToken); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("Authenticate on instance 1 after Logout on instance 0: %v, want ErrUnauthenticated", err)
	}

	// RevokeSession on instance 1 of a session used on instance 0.
	tok := p.login(t, 0, adminEmail, adminPass)
	victim, err := p.m[0].Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	actor, err := p.m[1].Authenticate(ctx, p.login(t, 1, adminEmail, adminPass))
	if err != nil {
		t.Fatal(err)
	}
	if err := p.m[1].RevokeSession(ctx, actor, victim.Session().ID); err != nil {
		t.Fatalf("RevokeSession: %v", err)
	}
	if _, err := p.m[0].Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("Authenticate on instance 0 after RevokeSession on instance 1: %v, want ErrUnauthenticated", err)
	}
}

// A group's permission change made through one instance applies at the
// next Authenticate on the other.
func TestInstancesPermissionChange(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	admin, _ := p.admin(t)
	ops, err := p.m[0].CreateGroup(ctx, admin[0], group.Group{Name: "Operators",
		Permissions: []group.Permission{group.ProfileAll, "backups:run"}})
	if err != nil {
		t.Fatalf("CreateGroup: %v", err)
	}
	if _, err := p.m[0].CreateUser(ctx, admin[0], auth.NewUser{Email: memberEmail, Password: memberPass, GroupID: ops.ID}); err != nil {
		t.Fatalf("CreateUser: %v", err)
	}
	tok := p.login(t, 1, memberEmail, memberPass)
	member, err := p.m[1].Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !member.Can("backups:run") {
		t.Fatal("member cannot run backups before the change")
	}

	upd := *ops
	upd.Permissions = []group.Permission{group.ProfileAll}
	saved, err := p.m[0].UpdateGroup(ctx, admin[0], upd)
	if err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	member, err = p.m[1].Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if member.Can("backups:run") {
		t.Error("instance 1 still grants backups:run after instance 0 removed it from the group")
	}

	// And back, the other way round, from the version the first save left.
	upd = *saved
	upd.Permissions = []group.Permission{group.ProfileAll, "backups:run"}
	if _, err := p.m[1].UpdateGroup(ctx, admin[1], upd); err != nil {
		t.Fatalf("UpdateGroup: %v", err)
	}
	member, err = p.m[0].Authenticate(ctx, tok)
	if err != nil {
		t.Fatal(err)
	}
	if !member.Can("backups:run") {
		t.Error("instance 0 does not grant backups:run after instance 1 gave it back")
	}
}

// Throttling counts the failures made through both instances: five wrong
// passwords split across them use up the free failures, and the sixth
// attempt, on either, is throttled even with the right password.
func TestInstancesThrottling(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	p.admin(t)
	for i := range 5 {
		_, err := p.m[i%2].Login(ctx, adminEmail, "wrong password!", client)
		if !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Fatalf("failure %d on instance %d: %v, want ErrInvalidCredentials", i+1, i%2, err)
		}
	}
	for i := range 2 {
		_, err := p.m[i].Login(ctx, adminEmail, adminPass, client)
		if !errors.Is(err, auth.ErrThrottled) {
			t.Errorf("attempt after 5 failures split across instances, on instance %d: %v, want ErrThrottled", i, err)
		}
	}
	// The wait is over for both once the clock has moved past it.
	p.clk.Advance(time.Hour)
	p.login(t, 1, adminEmail, adminPass)
}

// Of 20 concurrent sign-ups spread over the two instances, each with its
// instance's setup token, exactly one succeeds.
func TestInstancesFirstUserRace(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	const n = 20
	var setup [2]string
	for i := range setup {
		var err error
		if setup[i], _, err = p.m[i].SetupToken(ctx); err != nil || setup[i] == "" {
			t.Fatalf("SetupToken on instance %d: %q, %v", i, setup[i], err)
		}
	}
	errs := make([]error, n)
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range n {
		wg.Go(func() {
			<-start
			_, errs[i] = p.m[i%2].SignUp(ctx, auth.SignUp{
				Email: "racer" + string(rune('a'+i)) + "@example.com", Password: adminPass, BootstrapToken: setup[i%2],
			}, client)
		})
	}
	close(start)
	wg.Wait()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, auth.ErrSignupClosed) && !errors.Is(err, auth.ErrBootstrapToken):
			t.Errorf("SignUp #%d on instance %d: %v, want success, ErrSignupClosed or a spent token", i, i%2, err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent sign-ups over two instances succeeded, want exactly 1", won, n)
	}
	for i := range p.db {
		if c, err := p.db[i].Users().Count(ctx); c != 1 || err != nil {
			t.Errorf("users seen by instance %d: %d, %v; want 1", i, c, err)
		}
		if open, err := p.m[i].SignupOpen(ctx); open || err != nil {
			t.Errorf("SignupOpen on instance %d after the race: %v, %v; want false", i, open, err)
		}
	}
}

// Disabling a user through one instance shuts it out of the other, and
// the last admin stays protected whichever instance asks.
func TestInstancesDisableAndLastAdmin(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	admin, _ := p.admin(t)
	u, err := p.m[1].CreateUser(ctx, admin[1], auth.NewUser{Email: memberEmail, Password: memberPass})
	if err != nil {
		t.Fatal(err)
	}
	tok := p.login(t, 0, memberEmail, memberPass)
	if err := p.m[1].SetDisabled(ctx, admin[1], u.ID, true); err != nil {
		t.Fatalf("SetDisabled: %v", err)
	}
	if _, err := p.m[0].Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
		t.Errorf("Authenticate on instance 0 of a user disabled on instance 1: %v, want ErrUnauthenticated", err)
	}
	for i := range p.m {
		if err := p.m[i].SetDisabled(ctx, admin[i], admin[0].User().ID, true); err == nil {
			t.Errorf("disabling the last admin on instance %d succeeded", i)
		}
	}
	if _, err := p.m[0].Authenticate(ctx, p.login(t, 1, adminEmail, adminPass)); err != nil {
		t.Errorf("the last admin after the refused disables: %v", err)
	}
}

// Input PostgreSQL cannot store (NUL, invalid UTF-8, an email cut to its
// byte limit inside a character) gets the answers SQLite gives, and the
// failed logins are in the audit trail, whichever instance reads it.
func TestInstancesBadInput(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	admin, _ := p.admin(t)
	emails := []string{"a\x00@example.com", "\xff\xfe@example.com", "a" + strings.Repeat("é", 200) + "@example.com"}
	for _, email := range emails {
		if _, err := p.m[0].Login(ctx, email, "some password", client); !errors.Is(err, auth.ErrInvalidCredentials) {
			t.Errorf("Login(%q): %v, want ErrInvalidCredentials", email, err)
		}
	}
	for _, id := range []user.ID{"\xff", "a\x00b"} {
		if _, _, err := p.m[1].Avatar(ctx, id); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("Avatar(%q): %v, want user.ErrNotFound", id, err)
		}
		if _, err := p.m[1].GetUser(ctx, admin[1], id); !errors.Is(err, user.ErrNotFound) {
			t.Errorf("GetUser(%q): %v, want user.ErrNotFound", id, err)
		}
		if err := p.m[0].RevokeSession(ctx, admin[0], string(id)); !errors.Is(err, auth.ErrSessionNotFound) {
			t.Errorf("RevokeSession(%q): %v, want auth.ErrSessionNotFound", id, err)
		}
	}
	page, err := p.m[1].AuditLog(ctx, admin[1], audit.Query{Action: audit.LoginFailed})
	if err != nil {
		t.Fatal(err)
	}
	if len(page.Events) != len(emails) {
		t.Errorf("login.failed events: %d, want %d", len(page.Events), len(emails))
	}
}

// enrol puts TOTP on the admin's account through instance 0 and returns
// the secret and the recovery codes, with the clock moved to a fresh step.
func (p *pair) enrol(t *testing.T, admin [2]*auth.Principal) ([]byte, []string) {
	t.Helper()
	enr, err := p.m[0].BeginTOTP(t.Context(), admin[0], "")
	if err != nil {
		t.Fatalf("BeginTOTP: %v", err)
	}
	secret, err := base32.StdEncoding.WithPadding(base32.NoPadding).DecodeString(enr.Secret)
	if err != nil {
		t.Fatal(err)
	}
	codes, _, err := p.m[1].ConfirmTOTP(t.Context(), admin[1], p.code(t, secret))
	if err != nil {
		t.Fatalf("ConfirmTOTP on the other instance: %v", err)
	}
	p.clk.Advance(totp.Period)
	return secret, codes
}

// code is secret's TOTP code at the shared clock's time.
func (p *pair) code(t *testing.T, secret []byte) string {
	t.Helper()
	c, err := totp.Code(secret, p.clk.Now(), totp.Digits)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// challenge logs the admin in with the password on instance i and
// returns the challenge token.
func (p *pair) challenge(t *testing.T, i int) string {
	t.Helper()
	r, err := p.m[i].Login(t.Context(), adminEmail, adminPass, client)
	if err != nil {
		t.Fatalf("Login on instance %d: %v", i, err)
	}
	if r.Challenge == nil {
		t.Fatalf("Login on instance %d gave %+v, want a challenge", i, r)
	}
	return r.Challenge.Token
}

// raceSecondStep answers one challenge on each instance at once, with the
// same answer, and returns the two results.
func (p *pair) raceSecondStep(t *testing.T, verify func(m *auth.Manager, challenge string) (*auth.Session, error)) [2]error {
	t.Helper()
	chs := [2]string{p.challenge(t, 0), p.challenge(t, 1)}
	var errs [2]error
	var wg sync.WaitGroup
	start := make(chan struct{})
	for i := range 2 {
		wg.Go(func() {
			<-start
			s, err := verify(p.m[i], chs[i])
			if err == nil && s == nil {
				err = errors.New("no session and no error")
			}
			errs[i] = err
		})
	}
	close(start)
	wg.Wait()
	return errs
}

// checkOneWinner wants exactly one nil among errs, the other a refusal.
func checkOneWinner(t *testing.T, what string, errs [2]error) {
	t.Helper()
	won := 0
	for i, err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, auth.ErrInvalidCredentials):
			t.Errorf("%s on instance %d: %v, want success or ErrInvalidCredentials", what, i, err)
		}
	}
	if won != 1 {
		t.Errorf("%s on both instances at once: %d succeeded (%v), want exactly 1", what, won, errs)
	}
}

// A TOTP code used through one instance is refused by the other, whether
// the two requests come one after the other or at the same moment.
func TestInstancesTOTPReplay(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	admin, _ := p.admin(t)
	secret, _ := p.enrol(t, admin)

	code := p.code(t, secret)
	if _, err := p.m[0].VerifyTOTP(ctx, p.challenge(t, 0), code, client); err != nil {
		t.Fatalf("VerifyTOTP on instance 0: %v", err)
	}
	if _, err := p.m[1].VerifyTOTP(ctx, p.challenge(t, 1), code, client); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("the same code again on instance 1: %v, want ErrInvalidCredentials", err)
	}

	for round := range 3 {
		p.clk.Advance(totp.Period)
		code := p.code(t, secret)
		errs := p.raceSecondStep(t, func(m *auth.Manager, ch string) (*auth.Session, error) {
			return m.VerifyTOTP(ctx, ch, code, client)
		})
		checkOneWinner(t, fmt.Sprintf("round %d: one TOTP code", round), errs)
	}
}

// A recovery code works once across instances: used on one, refused on the
// other; raced on both, accepted by exactly one.
func TestInstancesRecoveryCodeOnce(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	admin, _ := p.admin(t)
	_, codes := p.enrol(t, admin)

	if _, err := p.m[1].VerifyRecoveryCode(ctx, p.challenge(t, 1), codes[0], client); err != nil {
		t.Fatalf("VerifyRecoveryCode on instance 1: %v", err)
	}
	if _, err := p.m[0].VerifyRecoveryCode(ctx, p.challenge(t, 0), codes[0], client); !errors.Is(err, auth.ErrInvalidCredentials) {
		t.Errorf("the same recovery code again on instance 0: %v, want ErrInvalidCredentials", err)
	}
	for _, code := range codes[1:4] {
		errs := p.raceSecondStep(t, func(m *auth.Manager, ch string) (*auth.Session, error) {
			return m.VerifyRecoveryCode(ctx, ch, code, client)
		})
		checkOneWinner(t, "one recovery code", errs)
	}
	n, err := p.db[0].TOTP().RecoveryCodesLeft(ctx, admin[0].User().ID)
	if err != nil || n != len(codes)-4 {
		t.Errorf("recovery codes left: %d, %v; want %d", n, err, len(codes)-4)
	}
}

// Two instances re-authenticating with one session at the same moment: one
// replaces the session, the other fails and changes nothing, and neither
// instance accepts the old token after (OWASP ASVS 5.0 V7.2.4).
func TestReauthRaceAcrossInstances(t *testing.T) {
	p := newPair(t)
	ctx := t.Context()
	_, tok := p.admin(t)
	var actors [2]*auth.Principal
	for i := range 2 {
		a, err := p.m[i].Authenticate(ctx, tok)
		if err != nil {
			t.Fatal(err)
		}
		actors[i] = a
	}
	var (
		errs [2]error
		won  [2]*auth.Session
		wg   sync.WaitGroup
	)
	start := make(chan struct{})
	for i := range 2 {
		wg.Go(func() {
			<-start
			won[i], errs[i] = p.m[i].ChangePassword(ctx, actors[i], adminPass, fmt.Sprintf("new admin password %d", i))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil:
			if winner >= 0 {
				t.Fatalf("both instances changed the password with one session")
			}
			winner = i
		case !errors.Is(err, auth.ErrUnauthenticated) && !errors.Is(err, auth.ErrInvalidCredentials):
			t.Errorf("losing change on instance %d: %v", i, err)
		}
	}
	if winner < 0 {
		t.Fatalf("neither change succeeded: %v", errs)
	}
	for i := range 2 {
		if _, err := p.m[i].Authenticate(ctx, tok); !errors.Is(err, auth.ErrUnauthenticated) {
			t.Errorf("old token on instance %d: %v, want ErrUnauthenticated", i, err)
		}
		if _, err := p.m[i].Authenticate(ctx, won[winner].Token); err != nil {
			t.Errorf("new token on instance %d: %v", i, err)
		}
	}
}

// A session's last use, written behind the request, keeps the idle timeout
// exact across instances: a session used on instance 0 within its idle
// timeout is neither refused by instance 1 nor pruned (and one used on
// instance 1 neither by instance 0), whether its use
// went in a batch (written here by Close, within its bound in life) or,
// near the deadline, on the request.
func TestInstancesIdleTimeout(t *testing.T) {
	t.Parallel()
	p := newPair(t)
	ctx := t.Context()
	p.admin(t)
	far, near := p.login(t, 0, adminEmail, adminPass), p.login(t, 0, adminEmail, adminPass)
	use := func(i int, tok string) {
		t.Helper()
		if _, err := p.m[i].Authenticate(ctx, tok); err != nil {
			t.Fatalf("Authenticate on instance %d: %v", i, err)
		}
	}
	p.clk.Advance(58 * time.Minute) // two minutes before the idle deadline: batched
	use(1, far)
	if err := p.m[1].Close(); err != nil { // writes the batch
		t.Fatal(err)
	}
	p.clk.Advance(90 * time.Second) // 30 s before it: written on the request
	use(0, near)
	p.clk.Advance(31 * time.Second) // past the deadline of the login's use
	use(1, far)
	use(1, near)
	if _, err := p.m[1].PruneSessions(ctx); err != nil {
		t.Fatal(err)
	}
	use(0, far)
	use(0, near)
}
