// Command adminctl is the recovery command line for an application that
// embeds usher: for whoever holds the database and the secret key, when no
// admin can log in, or for chores a page would not offer. Every change goes
// through usher's Manager as the operator, so the invariants hold (the last
// admin stays) and each one lands in the audit trail.
//
//	adminctl [-db users.db | -db postgres://...] [-key usher.key] [-previous-key old.key ...] COMMAND [ARGS]
//
// Commands:
//
//	users                   list every account
//	create-admin EMAIL      create an admin; the password is read from stdin
//	reset-password EMAIL    set a new password (stdin); ends the user's sessions
//	reset-2fa EMAIL         remove the user's second factors (TOTP, recovery codes,
//	                        passkeys); ends their sessions
//	passkeys EMAIL          list the user's passkeys: ID, name, created, last used,
//	                        synced or device-bound
//	delete-passkey EMAIL ID remove one passkey (an ID from passkeys), for a lost
//	                        authenticator; ends their sessions
//	disable EMAIL           disable the account; ends its sessions
//	enable EMAIL            enable it again
//	unlock EMAIL            end a login back-off after failed attempts
//	audit [N]               the last N audit events (default 20)
//	export-audit [-format jsonl|csv] [-since DATE] [-until DATE]
//	                        write the audit trail (or the days from -since up to
//	                        -until, as 2026-01-31) to stdout, oldest first
//	verify-audit            check the audit trail's hash chain: exit 1 and name the
//	                        first event changed, removed, reordered or added
//	rotate-secrets [OLDKEY] re-seal TOTP secrets and re-MAC passkeys under -key; OLDKEY
//	                        is one more -previous-key
//	old-keys                count what still needs a previous key (drop it when
//	                        password hashes, TOTP secrets, passkeys and provider
//	                        secrets are all 0)
//	prune                   delete expired sessions, challenges and old audit events
//	sso-providers           list the single sign-on providers
//	sso-disable ID          take a provider out of service (with password login
//	                        turned off, this lets passwords in again)
//	sso-enable ID           offer it again
//	review [-csv] [-idle-days N] [-mark NOTE]
//	                        the access review: findings, holders of *, groups with
//	                        their permissions and members, accounts with their
//	                        factors; -csv writes it as CSV; -mark records the
//	                        review in the audit trail, with NOTE
//
// The passkey commands need no passkey settings: they read and change the
// stored passkeys only, so adminctl works without knowing the application's
// relying party ID, and with passkeys turned off.
//
// With -generate, commands that take a password make a random one and print
// it instead of reading stdin. After a key rotation, pass every key file the
// application holds: -key the current one, -previous-key each previous one
// (see "Rotating the secret key" in the top-level README).
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/store/postgres"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/user"
)

// usage is what -h prints and a wrong invocation shows, the command list
// of the package comment above (TestUsageIsTheDoc keeps them one text).
const usage = `Usage:

	adminctl [-db users.db | -db postgres://...] [-key usher.key] [-previous-key old.key ...] COMMAND [ARGS]

Commands:

	users                   list every account
	create-admin EMAIL      create an admin; the password is read from stdin
	reset-password EMAIL    set a new password (stdin); ends the user's sessions
	reset-2fa EMAIL         remove the user's second factors (TOTP, recovery codes,
	                        passkeys); ends their sessions
	passkeys EMAIL          list the user's passkeys: ID, name, created, last used,
	                        synced or device-bound
	delete-passkey EMAIL ID remove one passkey (an ID from passkeys), for a lost
	                        authenticator; ends their sessions
	disable EMAIL           disable the account; ends its sessions
	enable EMAIL            enable it again
	unlock EMAIL            end a login back-off after failed attempts
	audit [N]               the last N audit events (default 20)
	export-audit [-format jsonl|csv] [-since DATE] [-until DATE]
	                        write the audit trail (or the days from -since up to
	                        -until, as 2026-01-31) to stdout, oldest first
	verify-audit            check the audit trail's hash chain: exit 1 and name the
	                        first event changed, removed, reordered or added
	rotate-secrets [OLDKEY] re-seal TOTP secrets and re-MAC passkeys under -key; OLDKEY
	                        is one more -previous-key
	old-keys                count what still needs a previous key (drop it when
	                        password hashes, TOTP secrets, passkeys and provider
	                        secrets are all 0)
	prune                   delete expired sessions, challenges and old audit events
	sso-providers           list the single sign-on providers
	sso-disable ID          take a provider out of service (with password login
	                        turned off, this lets passwords in again)
	sso-enable ID           offer it again
	review [-csv] [-idle-days N] [-mark NOTE]
	                        the access review: findings, holders of *, groups with
	                        their permissions and members, accounts with their
	                        factors; -csv writes it as CSV; -mark records the
	                        review in the audit trail, with NOTE

Flags:
`

// errUsage is a wrong invocation: no command, an unknown one, a bad flag.
var errUsage = errors.New("usage")

// commands are the commands of usage, which run knows.
var commands = func() map[string]bool {
	m := map[string]bool{}
	_, list, _ := strings.Cut(usage, "Commands:\n")
	list, _, _ = strings.Cut(list, "\nFlags:")
	for _, l := range strings.Split(list, "\n") {
		if f := strings.Fields(l); len(f) > 0 && strings.HasPrefix(l, "\t") && !strings.HasPrefix(l, "\t ") {
			m[f[0]] = true
		}
	}
	return m
}()

// main exits 0 after -h, 2 on a wrong invocation (with the usage), 1 when
// the command failed.
func main() {
	err := run(context.Background(), os.Args[1:], os.Stdin, os.Stdout)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "adminctl:", err)
		fmt.Fprint(os.Stderr, "\n"+strings.TrimSuffix(usage, "Flags:\n")+"Flags: see adminctl -h\n")
		os.Exit(2)
	default:
		fmt.Fprintln(os.Stderr, "adminctl:", err)
		os.Exit(1)
	}
}

// configure lets the tests lower the bcrypt cost.
var configure func(*auth.Config)

type store interface {
	auth.Store
	Close() error
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout io.Writer) (err error) {
	fs := flag.NewFlagSet("adminctl", flag.ContinueOnError)
	dsn := fs.String("db", "usher-webapp.db", "SQLite database file, or a postgres:// DSN")
	keyPath := fs.String("key", "usher-webapp.key", "secret key file (the application's Config.SecretKey)")
	var previousPaths []string
	fs.Func("previous-key", "a previous secret key `file` (Config.PreviousSecretKeys); repeat for several", func(p string) error {
		previousPaths = append(previousPaths, p)
		return nil
	})
	generate := fs.Bool("generate", false, "generate passwords instead of reading them from stdin")
	who := fs.String("as", os.Getenv("USER"), "operator name recorded in the audit trail")
	retention := fs.Duration("audit-retention", 0, "with prune: delete audit events older than this (0 keeps them)")
	fs.SetOutput(io.Discard) // main shows the usage; -h below
	fs.Usage = func() {}
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, usage)
		fs.SetOutput(stdout)
		fs.PrintDefaults()
		return err
	} else if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("%w: no command", errUsage)
	}
	if !commands[fs.Arg(0)] {
		return fmt.Errorf("%w: unknown command %q", errUsage, fs.Arg(0))
	}
	cmd, rest := fs.Arg(0), fs.Args()[1:]

	key, err := os.ReadFile(*keyPath)
	if err != nil {
		return fmt.Errorf("reading the secret key: %w", err)
	}
	if cmd == "rotate-secrets" {
		if len(rest) > 1 {
			return errors.New("usage: rotate-secrets [OLDKEYFILE]")
		}
		previousPaths = append(previousPaths, rest...)
	}
	var previous [][]byte
	for _, p := range previousPaths {
		old, err := os.ReadFile(p)
		if err != nil {
			return fmt.Errorf("reading a previous key: %w", err)
		}
		previous = append(previous, old)
	}
	db, err := openStore(ctx, *dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	cfg := auth.Config{Store: db, SecretKey: key, PreviousSecretKeys: previous, AuditRetention: *retention}
	if configure != nil {
		configure(&cfg)
	}
	// The operator exists only in this command-line tool: the web
	// application builds its Manager with auth.New and has none.
	m, op, err := auth.NewWithOperator(cfg, "adminctl:"+*who)
	if err != nil {
		return err
	}
	// Before the store closes: whatever the Manager holds back to write
	// (sessions' last uses) is written, and its failure reported.
	defer func() {
		if cerr := m.Close(); cerr != nil && err == nil {
			err = cerr
		}
	}()
	c := &ctl{m: m, op: op, out: stdout, in: bufio.NewReader(stdin), generate: *generate}

	needEmail := func() (user.ID, error) {
		if len(rest) != 1 {
			return "", fmt.Errorf("usage: %s EMAIL", cmd)
		}
		return c.find(ctx, rest[0])
	}
	switch cmd {
	case "users":
		return c.users(ctx)
	case "create-admin":
		if len(rest) != 1 {
			return errors.New("usage: create-admin EMAIL")
		}
		pw, err := c.password()
		if err != nil {
			return err
		}
		u, err := m.CreateUser(ctx, c.op, auth.NewUser{Email: rest[0], Password: pw, GroupID: group.AdminID})
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "created admin %s (%s)\n", u.Email, u.ID)
		return nil
	case "reset-password":
		id, err := needEmail()
		if err != nil {
			return err
		}
		pw, err := c.password()
		if err != nil {
			return err
		}
		return c.done(m.ResetPassword(ctx, c.op, id, pw), "password reset; the user's sessions have ended")
	case "reset-2fa":
		if len(rest) != 1 {
			return errors.New("usage: reset-2fa EMAIL")
		}
		return c.reset2FA(ctx, rest[0])
	case "passkeys":
		id, err := needEmail()
		if err != nil {
			return err
		}
		return c.passkeys(ctx, id)
	case "delete-passkey":
		if len(rest) != 2 {
			return errors.New("usage: delete-passkey EMAIL PASSKEY-ID (the ID from: passkeys EMAIL)")
		}
		id, err := c.find(ctx, rest[0])
		if err != nil {
			return err
		}
		return c.deletePasskey(ctx, id, rest[0], rest[1])
	case "disable", "enable":
		id, err := needEmail()
		if err != nil {
			return err
		}
		return c.done(m.SetDisabled(ctx, c.op, id, cmd == "disable"), cmd+"d")
	case "unlock":
		id, err := needEmail()
		if err != nil {
			return err
		}
		return c.done(m.UnlockLogin(ctx, c.op, id), "login back-off cleared")
	case "audit":
		n := 20
		if len(rest) == 1 {
			if n, err = strconv.Atoi(rest[0]); err != nil || n < 1 || n > audit.MaxLimit {
				return fmt.Errorf("audit: N must be 1 to %d", audit.MaxLimit)
			}
		}
		return c.audit(ctx, n)
	case "export-audit":
		return c.exportAudit(ctx, rest)
	case "verify-audit":
		return c.verifyAudit(ctx)
	case "rotate-secrets":
		n, err := m.RotateSecrets(ctx)
		fmt.Fprintf(stdout, "moved %d TOTP secrets, passkeys and provider secrets to the current key\n", n)
		return err
	case "old-keys":
		return c.oldKeys(ctx)
	case "sso-providers":
		return c.ssoProviders(ctx)
	case "sso-disable", "sso-enable":
		if len(rest) != 1 {
			return fmt.Errorf("usage: %s PROVIDER-ID (the ID from: sso-providers)", cmd)
		}
		return c.done(m.SetProviderEnabled(ctx, c.op, rest[0], cmd == "sso-enable"), "provider "+rest[0]+" "+strings.TrimPrefix(cmd, "sso-")+"d")
	case "review":
		return c.review(ctx, rest)
	case "prune":
		s, err := m.PruneSessions(ctx)
		if err != nil {
			return err
		}
		a, err := m.PruneAuditLog(ctx)
		fmt.Fprintf(stdout, "deleted %d expired sessions and %d old audit events\n", s, a)
		return err
	}
	return fmt.Errorf("unknown command %q", cmd)
}

func openStore(ctx context.Context, dsn string) (store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn)
	}
	if _, err := os.Stat(strings.TrimPrefix(strings.SplitN(dsn, "?", 2)[0], "file:")); err != nil {
		return nil, fmt.Errorf("no database at %s: %w", dsn, err) // do not create an empty one
	}
	return sqlite.Open(ctx, dsn)
}

type ctl struct {
	m        *auth.Manager
	op       *auth.Principal
	out      io.Writer
	in       *bufio.Reader
	generate bool
}

func (c *ctl) done(err error, msg string) error {
	if err == nil {
		fmt.Fprintln(c.out, msg)
	}
	return err
}

// find resolves an email to a user ID.
func (c *ctl) find(ctx context.Context, email string) (user.ID, error) {
	u, err := c.summary(ctx, email)
	return u.ID, err
}

// summary is the listing's line for email.
func (c *ctl) summary(ctx context.Context, email string) (user.Summary, error) {
	norm, err := user.NormalizeEmail(email)
	if err != nil {
		return user.Summary{}, err
	}
	p, err := c.m.ListUsers(ctx, c.op, user.Query{Search: norm, Limit: user.MaxLimit})
	if err != nil {
		return user.Summary{}, err
	}
	for _, u := range p.Users {
		if u.Email == norm {
			return u, nil
		}
	}
	return user.Summary{}, fmt.Errorf("%w: %s", user.ErrNotFound, norm)
}

// reset2FA removes the second factors of the user at email, and says so
// without resetting (or auditing) anything when there are none: usher's
// ResetTwoFactor succeeds either way.
func (c *ctl) reset2FA(ctx context.Context, email string) error {
	u, err := c.summary(ctx, email)
	if err != nil {
		return err
	}
	if !u.TwoFactor && u.Passkeys == 0 {
		fmt.Fprintf(c.out, "%s has no second factor; nothing to reset\n", u.Email)
		return nil
	}
	return c.done(c.m.ResetTwoFactor(ctx, c.op, u.ID), "second factors removed (TOTP, recovery codes, passkeys); the user can enrol again")
}

// password reads a new password from the first line of stdin, or makes one.
func (c *ctl) password() (string, error) {
	if c.generate {
		const alphabet = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"
		b := make([]byte, 20)
		if _, err := rand.Read(b); err != nil {
			return "", err
		}
		for i := range b {
			b[i] = alphabet[int(b[i])%len(alphabet)]
		}
		fmt.Fprintf(c.out, "new password: %s\n", b)
		return string(b), nil
	}
	line, err := c.in.ReadString('\n')
	if err != nil && !(errors.Is(err, io.EOF) && line != "") {
		return "", errors.New("no password on stdin (pipe one in, or use -generate)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

func (c *ctl) users(ctx context.Context) error {
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "EMAIL\tNAME\tGROUP\tSTATUS\t2FA\tCREATED\tLAST LOGIN")
	q := user.Query{Sort: user.SortEmail, Limit: user.MaxLimit}
	for {
		p, err := c.m.ListUsers(ctx, c.op, q)
		if err != nil {
			return err
		}
		for _, u := range p.Users {
			status, twofa, last := "enabled", "-", "never"
			if u.Disabled {
				status = "disabled"
			}
			switch {
			case u.TwoFactor && u.Passkeys > 0:
				twofa = fmt.Sprintf("totp, %s", plural(u.Passkeys, "passkey"))
			case u.TwoFactor:
				twofa = "totp"
			case u.Passkeys > 0:
				twofa = plural(u.Passkeys, "passkey")
			}
			if !u.LastLoginAt.IsZero() {
				last = u.LastLoginAt.Format(time.DateTime)
			}
			fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", u.Email, u.Name, u.GroupName, status, twofa, u.CreatedAt.Format(time.DateOnly), last)
		}
		if p.Next == "" {
			return w.Flush()
		}
		q.Cursor = p.Next
	}
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	return fmt.Sprintf("%d %ss", n, what)
}

// passkeys lists the passkeys of user id.
func (c *ctl) passkeys(ctx context.Context, id user.ID) error {
	creds, err := c.m.UserPasskeys(ctx, c.op, id)
	if err != nil {
		return err
	}
	if len(creds) == 0 {
		fmt.Fprintln(c.out, "no passkeys")
		return nil
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tCREATED\tLAST USED\tKIND")
	for _, pk := range creds {
		last, kind := "never", "device-bound"
		if !pk.LastUsedAt.IsZero() {
			last = pk.LastUsedAt.Format(time.DateTime)
		}
		if pk.BackupEligible { // a synced passkey: copies may live on other devices
			kind = "synced"
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\n", pk.ID, pk.Name, pk.CreatedAt.Format(time.DateTime), last, kind)
	}
	return w.Flush()
}

// deletePasskey removes the passkey pkID of user id, whose email is email.
func (c *ctl) deletePasskey(ctx context.Context, id user.ID, email, pkID string) error {
	name := ""
	if creds, err := c.m.UserPasskeys(ctx, c.op, id); err == nil {
		for _, pk := range creds {
			if pk.ID == pkID {
				name = pk.Name
			}
		}
	}
	err := c.m.DeleteUserPasskey(ctx, c.op, id, pkID)
	if errors.Is(err, passkey.ErrNotFound) {
		return fmt.Errorf("%w: %s has no passkey with the ID %q (list them with: passkeys %s)", err, email, pkID, email)
	}
	return c.done(err, fmt.Sprintf("passkey %q (%s) deleted; the user's sessions ended", name, pkID))
}

func (c *ctl) audit(ctx context.Context, n int) error {
	p, err := c.m.AuditLog(ctx, c.op, audit.Query{Limit: n})
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "TIME\tACTION\tOUTCOME\tACTOR\tTARGET\tIP\tREASON")
	for _, e := range p.Events {
		target := strings.Trim(e.Target.Type+":"+e.Target.ID, ":")
		if e.Target.Label != "" {
			target = e.Target.Type + ":" + e.Target.Label
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", e.Time.Format(time.DateTime), e.Action, e.Outcome,
			e.Actor.Email, target, e.IP, e.Reason)
	}
	return w.Flush()
}

// exportAudit writes the audit trail, or a range of days of it, to stdout.
func (c *ctl) exportAudit(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("export-audit", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	format := fs.String("format", "jsonl", "jsonl or csv")
	since := fs.String("since", "", "first day (YYYY-MM-DD, UTC)")
	until := fs.String("until", "", "the day after the last (YYYY-MM-DD, UTC)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errors.New("usage: export-audit [-format jsonl|csv] [-since YYYY-MM-DD] [-until YYYY-MM-DD]")
	}
	var q audit.Query
	for _, d := range []struct {
		s  string
		at *time.Time
	}{{*since, &q.Since}, {*until, &q.Until}} {
		if d.s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.s)
		if err != nil {
			return fmt.Errorf("export-audit: %q is not a date like 2026-01-31", d.s)
		}
		*d.at = t
	}
	_, err := c.m.ExportAuditLog(ctx, c.op, q, audit.Format(*format), c.out)
	return err
}

// verifyAudit checks the audit chain; a break is an error, so the exit
// status tells a script.
func (c *ctl) verifyAudit(ctx context.Context) error {
	check, err := c.m.VerifyAuditLog(ctx, c.op)
	if err != nil {
		return err
	}
	if check.Legacy > 0 {
		fmt.Fprintf(c.out, "%d events from before the chain began are not covered\n", check.Legacy)
	}
	if check.Break != nil {
		return check.Break
	}
	if check.Checked == 0 {
		fmt.Fprintln(c.out, "audit trail intact: no chained event yet")
		return nil
	}
	fmt.Fprintf(c.out, "audit trail intact: %d events checked (chain positions %d to %d)\n", check.Checked, check.First, check.Last)
	return nil
}

func (c *ctl) oldKeys(ctx context.Context) error {
	u, err := c.m.OldKeyUsage(ctx)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "password hashes under a previous key\t%d\t(move at each user's next login; reset-password for users who will not log in)\n", u.PasswordHashes)
	fmt.Fprintf(w, "TOTP secrets under a previous key\t%d\t(rotate-secrets)\n", u.TOTPSecrets)
	fmt.Fprintf(w, "passkeys under a previous key or none\t%d\t(rotate-secrets; delete-passkey those it reports it cannot move)\n", u.Passkeys)
	fmt.Fprintf(w, "sign-on provider secrets under a previous key\t%d\t(rotate-secrets)\n", u.ProviderSecrets)
	fmt.Fprintf(w, "recovery-code sets under a previous key\t%d\t(work only while the key is kept; their users regenerate them)\n", u.RecoveryCodeSets)
	fmt.Fprintf(w, "password hashes in the old format, not wrapped\t%d\t(refused at login; a restart wraps them)\n", u.UnboundPasswordHashes)
	if u.PasswordHashes == 0 && u.TOTPSecrets == 0 && u.Passkeys == 0 && u.ProviderSecrets == 0 {
		fmt.Fprintln(w, "the previous keys can be dropped")
	} else {
		fmt.Fprintln(w, "keep the previous keys")
	}
	return w.Flush()
}

// ssoProviders lists the sign-on providers.
func (c *ctl) ssoProviders(ctx context.Context) error {
	ps, err := c.m.SSOProviders(ctx, c.op)
	if err != nil {
		return err
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tISSUER\tENABLED\tDECLARED")
	for _, p := range ps {
		fmt.Fprintf(w, "%s\t%s\t%s\t%v\t%v\n", p.ID, p.Name, p.Issuer, p.Enabled, p.Declared)
	}
	return w.Flush()
}
