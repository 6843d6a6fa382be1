// Command minimal is usher wired into a plain net/http server in one file:
// sign-up of the first user, login (with TOTP two-factor when enrolled), a
// protected route and a permission check.
// It speaks JSON so it can be driven with curl; see the README.
//
//	go run ./examples/minimal
package main

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/store/postgres"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dbPath := flag.String("db", "usher-minimal.db", "SQLite database file, or a postgres:// DSN")
	keyPath := flag.String("key", "usher-minimal.key", "secret key file, created if missing (keep it out of the database's backups)")
	flag.Parse()
	if err := run(*addr, *dbPath, *keyPath); err != nil {
		log.Fatal(err)
	}
}

func run(addr, dbPath, keyPath string) error {
	ctx := context.Background()
	key, err := loadKey(keyPath)
	if err != nil {
		return err
	}
	db, err := openStore(ctx, dbPath)
	if err != nil {
		return err
	}
	defer db.Close()
	logger := slog.New(slog.NewTextHandler(os.Stderr, nil))
	m, err := auth.New(auth.Config{
		Store:     db,
		Issuer:    "usher minimal example",
		SecretKey: key,
		// The host's own permissions, offered beside usher's.
		Permissions: []group.Entry{
			{Permission: "backups:read", Label: "View backups", Category: "Backups"},
			{Permission: "backups:run", Label: "Run a backup", Category: "Backups"},
		},
		AuditMirror: audit.SlogSink{Logger: logger},
		Logger:      logger,
	})
	if err != nil {
		return err
	}

	open, err := m.SignupOpen(ctx)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", "http://"+addr, "signup_open", open)
	return http.ListenAndServe(addr, routes(m))
}

// routes is the whole HTTP surface: the host's handlers calling usher.
func routes(m *auth.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		s, err := m.SignUp(r.Context(), auth.SignUp{
			Email: r.FormValue("email"), Name: r.FormValue("name"), Password: r.FormValue("password"),
		}, auth.ClientFrom(r))
		if err != nil {
			fail(w, err)
			return
		}
		m.SetSessionCookie(w, s)
		reply(w, map[string]any{"token": s.Token, "expires": s.ExpiresAt})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		res, err := m.Login(r.Context(), r.FormValue("email"), r.FormValue("password"), auth.ClientFrom(r))
		if err != nil {
			fail(w, err)
			return
		}
		m.SetDeviceCookie(w, res.DeviceToken) // read back by auth.ClientFrom at the next login
		if res.Challenge != nil {             // two-factor: the client answers at /login/totp
			reply(w, map[string]any{"challenge": res.Challenge.Token, "methods": res.Challenge.Methods})
			return
		}
		m.SetSessionCookie(w, res.Session)
		reply(w, map[string]any{"token": res.Session.Token, "expires": res.Session.ExpiresAt})
	})
	mux.HandleFunc("POST /login/totp", func(w http.ResponseWriter, r *http.Request) {
		verify := m.VerifyTOTP
		if r.FormValue("recovery_code") != "" {
			verify = m.VerifyRecoveryCode
		}
		s, err := verify(r.Context(), r.FormValue("challenge"), r.FormValue("code")+r.FormValue("recovery_code"), auth.ClientFrom(r))
		if err != nil {
			fail(w, err)
			return
		}
		m.SetSessionCookie(w, s)
		reply(w, map[string]any{"token": s.Token, "expires": s.ExpiresAt})
	})
	// Two-factor enrollment: begin (shows the secret and otpauth URI), then
	// confirm with a code from the app (returns the recovery codes, once).
	mux.Handle("POST /2fa/begin", m.RequireLoginToEnroll(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		enr, err := m.BeginTOTP(r.Context(), p, r.FormValue("password"))
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, map[string]any{"secret": enr.Secret, "uri": enr.URI})
	})))
	mux.Handle("POST /2fa/confirm", m.RequireLoginToEnroll(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		codes, s, err := m.ConfirmTOTP(r.Context(), p, r.FormValue("code"))
		if err != nil {
			fail(w, err)
			return
		}
		// Binding a factor replaced the session (OWASP ASVS 5.0 V7.2.4):
		// the old token no longer works, so hand over the new one.
		m.SetSessionCookie(w, s)
		reply(w, map[string]any{"recovery_codes": codes, "token": s.Token, "expires": s.ExpiresAt})
	})))
	mux.HandleFunc("POST /logout", func(w http.ResponseWriter, r *http.Request) {
		if err := m.Logout(r.Context(), auth.TokenFrom(r)); err != nil {
			fail(w, err)
			return
		}
		m.ClearSessionCookie(w)
		reply(w, map[string]any{"ok": true})
	})
	// Any logged-in user.
	mux.Handle("GET /me", m.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		reply(w, map[string]any{"email": p.User().Email, "name": p.User().Name, "group": p.Group().Name, "permissions": p.Permissions()})
	})))
	// A route guarded by one of the host's permissions.
	mux.Handle("POST /backups/run", m.RequirePermission("backups:run", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reply(w, map[string]any{"started": true})
	})))
	// An admin operation: usher checks users:write and no-escalation itself.
	mux.Handle("POST /users", m.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		u, err := m.CreateUser(r.Context(), p, auth.NewUser{
			Email: r.FormValue("email"), Name: r.FormValue("name"), Password: r.FormValue("password"),
			GroupID: group.ID(r.FormValue("group")),
		})
		if err != nil {
			fail(w, err)
			return
		}
		reply(w, map[string]any{"id": u.ID, "email": u.Email})
	})))
	return limitBody(m.Middleware(mux))
}

// maxBody bounds every request body: nothing this host accepts (forms of an
// email, a name, a password, a code) comes near it, so the server never
// reads more than it can use (usher cuts oversized fields too).
const maxBody = 64 << 10

// limitBody wraps every handler's body in http.MaxBytesReader: a larger
// body fails to parse (FormValue returns "") instead of being read in full.
func limitBody(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		r.Body = http.MaxBytesReader(w, r.Body, maxBody)
		next.ServeHTTP(w, r)
	})
}

// fail maps usher's errors to HTTP statuses. The host owns this mapping and
// the wording; usher only returns errors.
func fail(w http.ResponseWriter, err error) {
	status := http.StatusInternalServerError
	var (
		te *auth.ThrottledError
		fe *auth.FieldError // bad input in one field: the answer names it
	)
	switch {
	case errors.As(err, &te):
		status = http.StatusTooManyRequests
		w.Header().Set("Retry-After", strconv.Itoa(int(te.RetryAfter.Seconds())+1))
	case errors.Is(err, auth.ErrInvalidCredentials), errors.Is(err, auth.ErrAccountDisabled),
		errors.Is(err, auth.ErrInvalidChallenge), errors.Is(err, auth.ErrReauthRequired):
		status = http.StatusUnauthorized
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, auth.ErrSignupClosed),
		errors.Is(err, auth.ErrBootstrapToken), errors.Is(err, auth.ErrLastAdmin):
		status = http.StatusForbidden
	case errors.Is(err, user.ErrEmailTaken), errors.Is(err, group.ErrNameTaken), errors.Is(err, group.ErrInUse):
		status = http.StatusConflict
	case errors.Is(err, user.ErrNotFound), errors.Is(err, group.ErrNotFound) && !errors.As(err, &fe):
		// A group named in a form that does not exist is bad input (below),
		// not a missing page.
		status = http.StatusNotFound
	case errors.As(err, &fe), errors.Is(err, user.ErrInvalidEmail), errors.Is(err, user.ErrInvalidName),
		errors.Is(err, auth.ErrPasswordTooShort), errors.Is(err, auth.ErrPasswordTooLong),
		errors.Is(err, auth.ErrPasswordRejected), errors.Is(err, group.ErrUnknownPermission),
		errors.Is(err, totp.ErrMalformedCode), errors.Is(err, totp.ErrNotEnrolled), errors.Is(err, totp.ErrAlreadyEnrolled):
		status = http.StatusBadRequest
	}
	body := map[string]string{"error": err.Error()}
	if status == http.StatusInternalServerError {
		log.Print(err)
		body["error"] = "internal error"
	}
	if errors.As(err, &fe) {
		body["field"] = fe.Field
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

func reply(w http.ResponseWriter, v any) {
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(v)
}

// store is what both stores are: an auth.Store that can be closed.
type store interface {
	auth.Store
	Close() error
}

// openStore opens PostgreSQL for a postgres:// DSN (several instances on
// one database) and SQLite otherwise (the embedded default).
func openStore(ctx context.Context, dsn string) (store, error) {
	if strings.HasPrefix(dsn, "postgres://") || strings.HasPrefix(dsn, "postgresql://") {
		return postgres.Open(ctx, dsn)
	}
	return sqlite.Open(ctx, dsn)
}

// loadKey reads the secret key, creating a random one on first run.
func loadKey(path string) ([]byte, error) {
	key, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		key = make([]byte, 32)
		rand.Read(key)
		if err := os.WriteFile(path, key, 0o600); err != nil {
			return nil, fmt.Errorf("writing new secret key: %w", err)
		}
		return key, nil
	}
	return key, err
}
