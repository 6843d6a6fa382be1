// Command minimal is usher wired into a plain net/http server in one file:
// sign-up of the first user, login (with TOTP or a passkey as the second
// factor when enrolled), passkeys (registration, passwordless login, list,
// rename, delete), a protected route and a permission check.
// It speaks JSON so it can be driven with curl; see the README. Passkey
// ceremonies need a browser (navigator.credentials) on a page at one of
// the -origin origins; the endpoints take and return the JSON it speaks.
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
	"io"
	"log"
	"log/slog"
	"mime"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/store/postgres"
	"github.com/usher-go/usher/store/sqlite"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	dbPath := flag.String("db", "usher-minimal.db", "SQLite database file, or a postgres:// DSN")
	keyPath := flag.String("key", "usher-minimal.key", "secret key file, created if missing (keep it out of the database's backups)")
	rpID := flag.String("rp-id", "localhost", `passkeys' relying party ID, the domain they are bound to; "" turns passkeys off`)
	origins := flag.String("origin", "", "comma-separated web origins of the pages that use passkeys (default: http://localhost:PORT of -addr for a localhost RP ID, else https://RPID)")
	flag.Parse()
	if err := run(*addr, *dbPath, *keyPath, passkeyConfig(*rpID, *origins, *addr)); err != nil {
		log.Fatal(err)
	}
}

// passkeyConfig turns the flags into usher's PasskeyConfig. A browser
// writes the page's origin into every passkey answer and usher checks it,
// so a localhost RP ID defaults to the origin this server is reached at
// from the same machine: http://localhost and -addr's port (browsers treat
// localhost as secure, so plain http is allowed there; open
// http://localhost:8080, not http://127.0.0.1:8080, whose origin differs).
func passkeyConfig(rpID, origins, addr string) auth.PasskeyConfig {
	pc := auth.PasskeyConfig{RPID: rpID}
	for _, o := range strings.Split(origins, ",") {
		if o = strings.TrimSpace(o); o != "" {
			pc.Origins = append(pc.Origins, o)
		}
	}
	if len(pc.Origins) == 0 && (rpID == "localhost" || strings.HasSuffix(rpID, ".localhost")) {
		if _, port, err := net.SplitHostPort(addr); err == nil && port != "" {
			o := "http://" + rpID
			if port != "80" {
				o += ":" + port
			}
			pc.Origins = []string{o}
		}
	}
	return pc // no origins: usher's default, https://RPID
}

func run(addr, dbPath, keyPath string, passkeys auth.PasskeyConfig) (err error) {
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
		Passkeys:    passkeys, // New refuses an origin outside the RP ID
		AuditMirror: audit.SlogSink{Logger: logger},
		Logger:      logger,
	})
	if err != nil {
		return err
	}
	// Before db.Close: write the sessions' last uses that wait.
	defer closeManager(m, logger, &err)

	open, err := m.SignupOpen(ctx)
	if err != nil {
		return err
	}
	// Nobody has an account yet: the first sign-up needs the setup token,
	// shown here to whoever started the server and nowhere else.
	setup, expires, err := m.SetupToken(ctx)
	if err != nil {
		return err
	}
	logger.Info("listening", "addr", "http://"+addr, "signup_open", open, "passkey_rp_id", passkeys.RPID, "passkey_origins", passkeys.Origins)
	if setup != "" {
		fmt.Fprintf(os.Stderr, "setup: the first sign-up needs -d token=%s (valid until %s)\n", setup, expires.Format(time.RFC3339))
	}
	return http.ListenAndServe(addr, routes(m))
}

// closeManager closes m, which writes the sessions' last uses that wait
// (auth.Manager.Close); a failure is logged and joined to *err: those
// sessions may end a little early, never late.
func closeManager(m interface{ Close() error }, logger *slog.Logger, err *error) {
	if cerr := m.Close(); cerr != nil {
		cerr = fmt.Errorf("closing usher: sessions' last uses not written: %w", cerr)
		logger.Error("shutdown", "err", cerr)
		*err = errors.Join(*err, cerr)
	}
}

// routes is the whole HTTP surface: the host's handlers calling usher.
func routes(m *auth.Manager) http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /signup", func(w http.ResponseWriter, r *http.Request) {
		s, err := m.SignUp(r.Context(), auth.SignUp{
			Email: r.FormValue("email"), Name: r.FormValue("name"), Password: r.FormValue("password"),
			BootstrapToken: r.FormValue("token"), // the setup token printed at start
		}, auth.ClientFrom(r))
		if err != nil {
			fail(w, err)
			return
		}
		m.SetSessionCookie(w, s)
		reply(w, map[string]any{"token": s.Token, "expires": s.ExpiresAt})
	})
	mux.HandleFunc("POST /login", func(w http.ResponseWriter, r *http.Request) {
		c := auth.ClientFrom(r)
		c.Remember = r.FormValue("remember") != "" // "keep me signed in": a week unused, 30 days at most
		res, err := m.Login(r.Context(), r.FormValue("email"), r.FormValue("password"), c)
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
	passkeyRoutes(mux, m)
	// A browser page of another site must not post here: a cross-site
	// form could log the visitor in as the attacker (login CSRF) or act
	// with their cookie. Go's CrossOriginProtection refuses unsafe
	// cross-origin requests by Sec-Fetch-Site and Origin; curl and other
	// non-browser clients send neither and pass (OWASP ASVS 5.0 V3.5.1).
	return limitBody(http.NewCrossOriginProtection().Handler(m.Middleware(mux)))
}

// passkeyRequest is the JSON body of every passkey endpoint; each reads the
// fields it needs. Credential is the browser's answer as a JSON value: the
// PublicKeyCredential that navigator.credentials.create or .get returned,
// passed through credential.toJSON().
type passkeyRequest struct {
	Ceremony   string          `json:"ceremony"`   // the "ceremony" a begin endpoint returned
	Credential json.RawMessage `json:"credential"` // the browser's answer
	Name       string          `json:"name"`       // a passkey's name ("" at registration: the model, or "Passkey N")
	Password   string          `json:"password"`   // the current password, where a fresh login is not enough
	Challenge  string          `json:"challenge"`  // the "challenge" /login returned, for the second step
}

// passkeyRoutes adds the passkey endpoints. They take a JSON body (an empty
// one is {}), since the browser's answer is JSON, and answer as the others.
func passkeyRoutes(mux *http.ServeMux, m *auth.Manager) {
	// handle decodes the body before calling h; a body that is not one
	// passkeyRequest is refused here, before usher sees it.
	handle := func(h func(http.ResponseWriter, *http.Request, *passkeyRequest)) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			var req passkeyRequest
			if err := jsonBody(r); err != nil {
				badBody(w, err)
				return
			}
			if err := decodeJSON(r, &req); err != nil {
				badBody(w, err)
				return
			}
			h(w, r, &req)
		}
	}
	ceremony := func(w http.ResponseWriter, c *auth.PasskeyCeremony) {
		// options goes to navigator.credentials as it is: its publicKey
		// member through PublicKeyCredential.parseCreationOptionsFromJSON
		// (registration) or parseRequestOptionsFromJSON (login).
		reply(w, map[string]any{"ceremony": c.ID, "options": c.Options, "expires": c.ExpiresAt})
	}
	// Registration, for the logged-in user (one who owes a second factor
	// included: a passkey is one): begin with the password, or without one
	// within minutes of logging in; finish with the browser's answer.
	mux.Handle("POST /passkeys/register/begin", m.RequireLoginToEnroll(handle(func(w http.ResponseWriter, r *http.Request, req *passkeyRequest) {
		p, _ := auth.PrincipalFrom(r.Context())
		c, err := m.BeginPasskeyRegistration(r.Context(), p, req.Password)
		if err != nil {
			fail(w, err)
			return
		}
		ceremony(w, c)
	})))
	mux.Handle("POST /passkeys/register/finish", m.RequireLoginToEnroll(handle(func(w http.ResponseWriter, r *http.Request, req *passkeyRequest) {
		p, _ := auth.PrincipalFrom(r.Context())
		cred, s, err := m.FinishPasskeyRegistration(r.Context(), p, req.Ceremony, req.Credential, req.Name)
		if err != nil {
			fail(w, err)
			return
		}
		// Binding a factor replaced the session, as at /2fa/confirm.
		m.SetSessionCookie(w, s)
		reply(w, map[string]any{"passkey": passkeyJSON(cred), "token": s.Token, "expires": s.ExpiresAt})
	})))
	// The user's own passkeys.
	mux.Handle("GET /passkeys", m.RequireLogin(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		p, _ := auth.PrincipalFrom(r.Context())
		creds, err := m.Passkeys(r.Context(), p)
		if err != nil {
			fail(w, err)
			return
		}
		list := make([]map[string]any, len(creds))
		for i := range creds {
			list[i] = passkeyJSON(&creds[i])
		}
		reply(w, map[string]any{"passkeys": list})
	})))
	mux.Handle("POST /passkeys/{id}/rename", m.RequireLogin(handle(func(w http.ResponseWriter, r *http.Request, req *passkeyRequest) {
		p, _ := auth.PrincipalFrom(r.Context())
		if err := m.RenamePasskey(r.Context(), p, r.PathValue("id"), req.Name); err != nil {
			fail(w, err)
			return
		}
		reply(w, map[string]any{"ok": true})
	})))
	// Removing a factor needs the same proof as adding one, and replaces
	// the session too.
	mux.Handle("POST /passkeys/{id}/delete", m.RequireLogin(handle(func(w http.ResponseWriter, r *http.Request, req *passkeyRequest) {
		p, _ := auth.PrincipalFrom(r.Context())
		s, err := m.DeletePasskey(r.Context(), p, r.PathValue("id"), req.Password)
		if err != nil {
			fail(w, err)
			return
		}
		m.SetSessionCookie(w, s)
		reply(w, map[string]any{"token": s.Token, "expires": s.ExpiresAt})
	})))
	// Passwordless login: no email, the browser offers the passkeys it
	// holds for this site.
	mux.HandleFunc("POST /login/passkey/begin", handle(func(w http.ResponseWriter, r *http.Request, _ *passkeyRequest) {
		c, err := m.BeginPasskeyLogin(r.Context(), auth.ClientFrom(r))
		if err != nil {
			fail(w, err)
			return
		}
		ceremony(w, c)
	}))
	mux.HandleFunc("POST /login/passkey/finish", handle(func(w http.ResponseWriter, r *http.Request, req *passkeyRequest) {
		res, err := m.FinishPasskeyLogin(r.Context(), req.Ceremony, req.Credential, auth.ClientFrom(r))
		if err != nil {
			fail(w, err)
			return
		}
		// A passkey login needs no second step: it is multi-factor itself.
		m.SetDeviceCookie(w, res.DeviceToken)
		m.SetSessionCookie(w, res.Session)
		reply(w, map[string]any{"token": res.Session.Token, "expires": res.Session.ExpiresAt})
	}))
	// The second step with a passkey, when /login answered a challenge
	// whose methods list "passkey" (the passkey form of /login/totp).
	mux.HandleFunc("POST /login/challenge/passkey/begin", handle(func(w http.ResponseWriter, r *http.Request, req *passkeyRequest) {
		c, err := m.BeginPasskeySecondFactor(r.Context(), req.Challenge, auth.ClientFrom(r))
		if err != nil {
			fail(w, err)
			return
		}
		ceremony(w, c)
	}))
	mux.HandleFunc("POST /login/challenge/passkey/finish", handle(func(w http.ResponseWriter, r *http.Request, req *passkeyRequest) {
		s, err := m.VerifyPasskey(r.Context(), req.Challenge, req.Ceremony, req.Credential, auth.ClientFrom(r))
		if err != nil {
			fail(w, err)
			return
		}
		m.SetSessionCookie(w, s)
		reply(w, map[string]any{"token": s.Token, "expires": s.ExpiresAt})
	}))
}

// passkeyJSON is what the endpoints show of a passkey: never its key or
// the authenticator's credential ID.
func passkeyJSON(c *passkey.Credential) map[string]any {
	v := map[string]any{"id": c.ID, "name": c.Name, "created": c.CreatedAt, "last_used": nil,
		"synced": c.BackupEligible, "transports": c.Transports}
	if !c.LastUsedAt.IsZero() {
		v["last_used"] = c.LastUsedAt
	}
	return v
}

// jsonBody refuses a body that does not say it is JSON: a form that a page
// of any site can post without a preflight (text/plain included) cannot
// carry a passkey answer here.
func jsonBody(r *http.Request) error {
	if r.ContentLength == 0 {
		return nil
	}
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return errors.New("the body must be JSON (Content-Type: application/json)")
	}
	return nil
}

// decodeJSON reads one JSON object from the (bounded) body into v: an
// empty body leaves v as it is; unknown fields and trailing data are
// refused, so a misspelt field is an error rather than an empty value.
func decodeJSON(r *http.Request, v any) error {
	dec := json.NewDecoder(r.Body)
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); errors.Is(err, io.EOF) {
		return nil
	} else if err != nil {
		return err
	}
	if err := dec.Decode(&struct{}{}); !errors.Is(err, io.EOF) {
		if err == nil {
			err = errors.New("more than one JSON value")
		}
		return err
	}
	return nil
}

// badBody answers a body that decodeJSON refused: 413 past maxBody, 400
// otherwise, naming the field when one has the wrong type.
func badBody(w http.ResponseWriter, err error) {
	status, body := http.StatusBadRequest, map[string]string{"error": "request body: " + err.Error()}
	var (
		mbe *http.MaxBytesError
		ute *json.UnmarshalTypeError
	)
	if errors.As(err, &mbe) {
		status = http.StatusRequestEntityTooLarge
	}
	if errors.As(err, &ute) && ute.Field != "" {
		body["field"] = ute.Field
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(body)
}

// maxBody bounds every request body: nothing this host accepts (forms of an
// email, a name, a password, a code; a passkey's answer, which usher
// refuses past auth.MaxPasskeyResponseBytes, in a small JSON body) comes
// near it, so the server never reads more than it can use (usher cuts
// oversized fields too).
const maxBody = auth.MaxPasskeyResponseBytes + 8<<10

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
		errors.Is(err, auth.ErrInvalidChallenge), errors.Is(err, auth.ErrReauthRequired),
		errors.Is(err, auth.ErrInvalidCeremony): // a passkey ceremony unknown, used or expired: begin again
		status = http.StatusUnauthorized
	case errors.Is(err, auth.ErrForbidden), errors.Is(err, auth.ErrSignupClosed),
		errors.Is(err, auth.ErrBootstrapToken), errors.Is(err, auth.ErrLastAdmin):
		status = http.StatusForbidden
	case errors.Is(err, user.ErrEmailTaken), errors.Is(err, group.ErrNameTaken), errors.Is(err, group.ErrInUse),
		errors.Is(err, passkey.ErrCredentialTaken): // this authenticator is registered already
		status = http.StatusConflict
	case errors.Is(err, user.ErrNotFound), errors.Is(err, group.ErrNotFound) && !errors.As(err, &fe),
		errors.Is(err, passkey.ErrNotFound):
		// A group named in a form that does not exist is bad input (below),
		// not a missing page.
		status = http.StatusNotFound
	case errors.Is(err, auth.ErrPasskeysDisabled), errors.Is(err, auth.ErrPasswordlessDisabled):
		// Started with -rp-id "": the passkey endpoints serve nothing.
		status = http.StatusNotFound
	case errors.As(err, &fe), errors.Is(err, user.ErrInvalidEmail), errors.Is(err, user.ErrInvalidName),
		errors.Is(err, auth.ErrPasswordTooShort), errors.Is(err, auth.ErrPasswordTooLong),
		errors.Is(err, auth.ErrPasswordRejected), errors.Is(err, group.ErrUnknownPermission),
		errors.Is(err, totp.ErrMalformedCode), errors.Is(err, totp.ErrNotEnrolled), errors.Is(err, totp.ErrAlreadyEnrolled),
		errors.Is(err, auth.ErrPasskeyRejected), errors.Is(err, passkey.ErrInvalidName):
		// ErrPasskeyRejected: a registration answer that is malformed, or
		// from another origin, or signs another challenge.
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
