// Command webapp is a server-rendered web application that runs every flow
// of an admin tool's user management through usher: the first user's
// sign-up, login with a password or a passkey and a second step for TOTP, a
// recovery code or a passkey, a route
// guarded by one of the host's own permissions, the users and groups pages,
// the profile with two-factor enrollment, passkeys, sessions and linked
// single sign-on accounts, single sign-on with OpenID Connect providers
// and their settings page, and the audit log.
//
//	go run ./examples/webapp                       # SQLite file usher-webapp.db
//	go run ./examples/webapp -db 'postgres://...'  # PostgreSQL
//
// Then open http://localhost:8080 (see README.md for why localhost and not
// 127.0.0.1).
package main

import (
	"context"
	"crypto/rand"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/postgres"
	"github.com/usher-go/usher/store/sqlite"
)

// The host's own permissions, offered beside usher's in the group editor.
const (
	permBackupsRead group.Permission = "backups:read"
	permBackupsRun  group.Permission = "backups:run"
)

var hostPermissions = []group.Entry{
	{Permission: permBackupsRead, Label: "View backups", Category: "Backups"},
	{Permission: permBackupsRun, Label: "Run a backup", Category: "Backups"},
}

// minPasswordLength is passed to usher and quoted in the pages' messages.
const minPasswordLength = 8

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dsn := flag.String("db", "usher-webapp.db", "SQLite database file, or a postgres:// DSN")
	keyPath := flag.String("key", "usher-webapp.key", "secret key file, created (mode 0600) on the first run; a database in use without it is refused. Keep it out of the database's backups")
	var previous []string
	flag.Func("previous-key", "a previous secret key `file`, still needed after a rotation (repeat for several; see README \"Rotating the secret key\")", func(p string) error {
		previous = append(previous, p)
		return nil
	})
	bootstrap := flag.String("bootstrap-token", "", "if set, the first sign-up must present this token")
	proxies := flag.String("trusted-proxies", "", "comma-separated networks of your reverse proxies (e.g. 10.0.0.0/8); X-Forwarded-For is believed only from them")
	rpID := flag.String("rp-id", "localhost", "passkeys' relying party ID: the domain passkeys are bound to, which cannot change later; \"\" turns passkeys off")
	var origins []string
	flag.Func("origin", "a web `origin` the pages are served from, for passkeys (repeat, or separate with commas); "+
		"default http://localhost:PORT with PORT from -addr when -rp-id is localhost, else https://RP-ID", func(v string) error {
		for _, o := range strings.Split(v, ",") {
			if o = strings.TrimSpace(o); o != "" {
				origins = append(origins, o)
			}
		}
		return nil
	})
	noPasswordless := flag.Bool("no-passwordless", false, "passkeys serve only as a second factor after the password: no sign-in with a passkey alone")
	ssoCallback := flag.String("sso-callback", "", "single sign-on's callback `URL`, with {id} for the provider's ID: the redirect URI to register at each provider; "+
		"default http://localhost:PORT/sso/{id}/callback with PORT from -addr; \"\" (given explicitly) turns single sign-on off")
	noPasswordLogin := flag.Bool("no-password-login", false, "no login with email and password while a single sign-on provider is enabled")
	flag.Parse()
	pk, err := passkeyConfig(*rpID, origins, *noPasswordless, *addr)
	if err != nil {
		log.Fatal(err)
	}
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == "sso-callback" })
	sso, err := ssoCallbackURL(*ssoCallback, set, *addr)
	if err != nil {
		log.Fatal(err)
	}
	opts := options{bootstrap: *bootstrap, proxies: *proxies, passkeys: pk, ssoCallback: sso, noPasswordLogin: *noPasswordLogin}
	// SIGINT or SIGTERM shuts the server down cleanly: requests in flight
	// finish, then the store closes.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Stderr, *addr, *dsn, *keyPath, previous, opts); err != nil {
		stop()
		log.Fatal(err)
	}
}

// options are the flags run passes on to the Manager.
type options struct {
	bootstrap, proxies string
	passkeys           auth.PasskeyConfig
	ssoCallback        string
	noPasswordLogin    bool
}

// ssoCallbackURL is -sso-callback: as given when set (empty turns single
// sign-on off), else the page this app serves at http://localhost and
// -addr's port, the address the README says to open.
func ssoCallbackURL(v string, set bool, addr string) (string, error) {
	if set {
		return v, nil
	}
	_, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "", fmt.Errorf("-addr: %w", err)
	}
	origin := "http://localhost"
	if port != "80" {
		origin += ":" + port
	}
	return origin + "/sso/{id}/callback", nil
}

// passkeyConfig builds usher's passkey settings from the flags. With the
// default RP ID, localhost, the origin is the one the README says to open,
// http://localhost and -addr's port.
func passkeyConfig(rpID string, origins []string, noPasswordless bool, addr string) (auth.PasskeyConfig, error) {
	if rpID == "" {
		if len(origins) > 0 || noPasswordless {
			return auth.PasskeyConfig{}, errors.New("-origin and -no-passwordless need -rp-id (an empty -rp-id turns passkeys off)")
		}
		return auth.PasskeyConfig{}, nil
	}
	if len(origins) == 0 && rpID == "localhost" {
		_, port, err := net.SplitHostPort(addr)
		if err != nil {
			return auth.PasskeyConfig{}, fmt.Errorf("-addr: %w", err)
		}
		origin := "http://localhost"
		if port != "80" { // a browser leaves the default port out of the origin
			origin += ":" + port
		}
		origins = []string{origin}
	}
	return auth.PasskeyConfig{RPID: rpID, Origins: origins, DisablePasswordless: noPasswordless}, nil
}

// shutdownTimeout is how long requests in flight get to finish once the
// server is told to stop.
const shutdownTimeout = 10 * time.Second

// run serves until ctx is done, then shuts the server down and closes the
// store. It logs to logw.
func run(ctx context.Context, logw io.Writer, addr, dsn, keyPath string, previousPaths []string, o options) (err error) {
	passkeys := o.passkeys
	var trusted []netip.Prefix
	for _, p := range strings.FieldsFunc(o.proxies, func(r rune) bool { return r == ',' || r == ' ' }) {
		prefix, err := netip.ParsePrefix(p)
		if err != nil {
			return fmt.Errorf("-trusted-proxies: %w", err)
		}
		trusted = append(trusted, prefix)
	}
	db, err := openStore(ctx, dsn)
	if err != nil {
		return err
	}
	defer db.Close()
	key, previous, err := loadKeys(ctx, db, keyPath, previousPaths)
	if err != nil {
		return err
	}
	logger := slog.New(slog.NewTextHandler(logw, nil))
	s, err := newServer(db, logger, func(cfg *auth.Config) {
		cfg.SecretKey, cfg.PreviousSecretKeys = key, previous
		cfg.BootstrapToken = o.bootstrap
		cfg.AuditMirror = audit.SlogSink{Logger: logger}
		cfg.Passkeys = passkeys
		cfg.SSO = auth.SSOConfig{CallbackURL: o.ssoCallback}
		cfg.DisablePasswordLogin = o.noPasswordLogin
	})
	if err != nil {
		return err
	}
	// Before the deferred db.Close: write the sessions' last uses that
	// wait, and say so if they could not be.
	defer closeManager(s.m, logger, &err)
	go s.prune(ctx, time.Hour)

	open, err := s.m.SignupOpen(ctx)
	if err != nil {
		return err
	}
	// Listen first, so the log says the address actually bound (with
	// -addr :0, the port the system chose).
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	_, port, err := net.SplitHostPort(ln.Addr().String())
	if err != nil {
		ln.Close()
		return err
	}
	// The session cookie is Secure: browsers keep it from http://localhost
	// but not always from http://127.0.0.1.
	logger.Info("listening; open http://localhost:"+port, "addr", ln.Addr().String(), "signup_open", open,
		"passkeys_rp_id", passkeys.RPID, "passkey_origins", strings.Join(passkeys.Origins, ","),
		"sso_callback", o.ssoCallback, "password_login", !o.noPasswordLogin)
	// Nobody has an account yet: the sign-up form needs the setup token,
	// which only whoever started the server sees, here.
	setup, expires, err := s.m.SetupToken(ctx)
	if err != nil {
		ln.Close()
		return err
	}
	if setup != "" {
		fmt.Fprintf(logw, "setup: http://localhost:%s/signup?token=%s\n"+
			"       (open it to create the first account, the administrator; it works once, until %s)\n",
			port, setup, expires.Local().Format(time.DateTime))
	}
	handler := s.handler()
	if len(trusted) > 0 {
		handler = auth.TrustProxies(handler, trusted...)
	}
	srv := &http.Server{
		Handler:           handler,
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      30 * time.Second,
		IdleTimeout:       2 * time.Minute,
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	select {
	case err := <-served:
		return err // Serve failed; never ErrServerClosed here
	case <-ctx.Done():
	}
	logger.Info("shutting down")
	shutCtx, cancel := context.WithTimeout(context.Background(), shutdownTimeout)
	defer cancel()
	if err := srv.Shutdown(shutCtx); err != nil {
		return fmt.Errorf("shutting down: %w", err)
	}
	if err := <-served; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	// The requests are done: write the last uses now, so that a failure
	// shows before "stopped" and in the exit status.
	if err := closeManager(s.m, logger, nil); err != nil {
		return err
	}
	logger.Info("stopped")
	return nil // the deferred db.Close closes the store
}

// closeManager closes m, which writes the sessions' last uses that wait
// (auth.Manager.Close). A failure is logged and returned, and joined to
// *err where err is not nil: those sessions keep an older last use and
// may end a little early (never late), which the operator should hear of.
// Close is safe to call more than once; later calls return nil.
func closeManager(m interface{ Close() error }, logger *slog.Logger, err *error) error {
	cerr := m.Close()
	if cerr == nil {
		return nil
	}
	cerr = fmt.Errorf("closing usher: sessions' last uses not written: %w", cerr)
	logger.Error("shutdown", "err", cerr)
	if err != nil {
		*err = errors.Join(*err, cerr)
	}
	return cerr
}

// store is what both stores are: an auth.Store that can be closed.
type store interface {
	auth.Store
	Close() error
}

// openStore opens PostgreSQL for a postgres:// DSN (several instances on one
// database) and SQLite otherwise (the embedded default).
func openStore(ctx context.Context, dsn string) (store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, dsn)
}

// loadKeys reads the secret key from keyPath (its whole content: 32
// random bytes as created here, or any 32 or more) and the previous keys
// from previousPaths. The secret key is created on the first run only: a
// database already in use was made with a key, and a new one would open
// none of its passwords or second factors.
func loadKeys(ctx context.Context, db auth.Store, keyPath string, previousPaths []string) (key []byte, previous [][]byte, err error) {
	if _, err := os.Stat(keyPath); errors.Is(err, os.ErrNotExist) {
		if used, uerr := inUse(ctx, db); uerr != nil {
			return nil, nil, uerr
		} else if used {
			return nil, nil, fmt.Errorf("the database is already in use but the secret key file %s is missing: "+
				"restore it from where you keep it (or pass its path with -key); a new key would open nothing the database holds: %w", keyPath, err)
		}
	}
	if key, err = loadKey(keyPath); err != nil {
		return nil, nil, err
	}
	for _, p := range previousPaths {
		k, err := os.ReadFile(p)
		if err != nil {
			return nil, nil, fmt.Errorf("-previous-key: %w", err)
		}
		previous = append(previous, k)
	}
	return key, previous, nil
}

// inUse reports whether a Manager has run on db (it stored a key check) or
// it holds users (from before key checks).
func inUse(ctx context.Context, db auth.Store) (bool, error) {
	_, err := db.KeyCheck().Get(ctx)
	if err == nil {
		return true, nil
	}
	if !errors.Is(err, auth.ErrKeyCheckNotFound) {
		return false, fmt.Errorf("reading the key check: %w", err)
	}
	n, err := db.Users().Count(ctx)
	return n > 0, err
}

// loadKey reads the secret key, creating a random one if there is none.
func loadKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		rand.Read(key)
		// O_EXCL: never overwrite a key another process just wrote.
		f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
		if err != nil {
			return nil, fmt.Errorf("creating secret key: %w", err)
		}
		if _, err := f.Write(key); err != nil {
			f.Close()
			return nil, fmt.Errorf("writing secret key: %w", err)
		}
		return key, f.Close()
	}
	if err != nil {
		return nil, fmt.Errorf("reading secret key: %w", err)
	}
	return key, nil
}
