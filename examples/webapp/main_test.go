package main

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/store/sqlite"
)

// A missing key file beside a database that is already in use is an
// error, not a reason to make a new key: the new key would open nothing
// the database holds.
func TestMissingKeyFileRefused(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	keyPath := filepath.Join(dir, "usher-webapp.key")
	db, err := sqlite.Open(ctx, filepath.Join(dir, "webapp.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()

	// The first run makes the key, mode 0600.
	key, _, err := loadKeys(ctx, db, keyPath, nil)
	if err != nil || len(key) != 32 {
		t.Fatalf("first run: %d-byte key, %v", len(key), err)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 {
		t.Fatalf("key file: %v, %v", fi, err)
	}
	if _, err := auth.New(auth.Config{Store: db, SecretKey: key, BcryptCost: 4, InsecureLowBcryptCostForTests: true}); err != nil {
		t.Fatal(err)
	}
	again, _, err := loadKeys(ctx, db, keyPath, nil)
	if err != nil || !bytes.Equal(again, key) {
		t.Fatalf("second run read another key, or %v", err)
	}

	if err := os.Remove(keyPath); err != nil {
		t.Fatal(err)
	}
	_, _, err = loadKeys(ctx, db, keyPath, nil)
	if err == nil || !errors.Is(err, os.ErrNotExist) || !strings.Contains(err.Error(), "already in use") {
		t.Fatalf("a missing key file beside a used database: %v", err)
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("a key file was created: %v", err)
	}
}

// The passkey flags: the defaults give passkeys on localhost at -addr's
// port, which is what the README says to open; New accepts what they build.
func TestPasskeyFlags(t *testing.T) {
	for _, tc := range []struct {
		rpID           string
		origins        []string
		noPasswordless bool
		addr           string
		want           auth.PasskeyConfig
		err            string
	}{
		{"localhost", nil, false, "127.0.0.1:8080", auth.PasskeyConfig{RPID: "localhost", Origins: []string{"http://localhost:8080"}}, ""},
		{"localhost", nil, true, ":9000", auth.PasskeyConfig{RPID: "localhost", Origins: []string{"http://localhost:9000"}, DisablePasswordless: true}, ""},
		{"localhost", nil, false, "127.0.0.1:80", auth.PasskeyConfig{RPID: "localhost", Origins: []string{"http://localhost"}}, ""},
		{"example.com", nil, false, "127.0.0.1:8080", auth.PasskeyConfig{RPID: "example.com"}, ""},
		{"example.com", []string{"https://admin.example.com"}, false, "", auth.PasskeyConfig{RPID: "example.com", Origins: []string{"https://admin.example.com"}}, ""},
		{"", nil, false, "127.0.0.1:8080", auth.PasskeyConfig{}, ""},
		{"", nil, true, "127.0.0.1:8080", auth.PasskeyConfig{}, "need -rp-id"},
		{"localhost", nil, false, "no port", auth.PasskeyConfig{}, "-addr"},
	} {
		got, err := passkeyConfig(tc.rpID, tc.origins, tc.noPasswordless, tc.addr)
		if tc.err != "" {
			if err == nil || !strings.Contains(err.Error(), tc.err) {
				t.Errorf("passkeyConfig(%q, %q, %v): %v, want an error with %q", tc.rpID, tc.origins, tc.addr, err, tc.err)
			}
			continue
		}
		if err != nil || got.RPID != tc.want.RPID || strings.Join(got.Origins, " ") != strings.Join(tc.want.Origins, " ") || got.DisablePasswordless != tc.want.DisablePasswordless {
			t.Errorf("passkeyConfig(%q, %q, %v, %q) = %+v, %v; want %+v", tc.rpID, tc.origins, tc.noPasswordless, tc.addr, got, err, tc.want)
			continue
		}
		if _, err := auth.New(auth.Config{Store: newTestStore(t), SecretKey: bytes.Repeat([]byte{1}, 32), Passkeys: got,
			BcryptCost: 4, InsecureLowBcryptCostForTests: true}); err != nil {
			t.Errorf("auth.New refuses the flags' %+v: %v", got, err)
		}
	}
}

func newTestStore(t *testing.T) auth.Store {
	t.Helper()
	db, err := sqlite.Open(context.Background(), filepath.Join(t.TempDir(), "flags.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestSSOCallbackFlag(t *testing.T) {
	for _, c := range []struct {
		v    string
		set  bool
		addr string
		want string
	}{
		{"", false, "127.0.0.1:8080", "http://localhost:8080/sso/{id}/callback"},
		{"", false, "127.0.0.1:80", "http://localhost/sso/{id}/callback"},
		{"", true, "127.0.0.1:8080", ""}, // -sso-callback "" turns it off
		{"https://admin.example.com/sso/{id}/callback", true, "127.0.0.1:8080", "https://admin.example.com/sso/{id}/callback"},
	} {
		got, err := ssoCallbackURL(c.v, c.set, c.addr)
		if err != nil || got != c.want {
			t.Errorf("ssoCallbackURL(%q, %v, %q) = %q, %v; want %q", c.v, c.set, c.addr, got, err, c.want)
		}
	}
	if _, err := ssoCallbackURL("", false, "no port"); err == nil {
		t.Error("a bad -addr was accepted")
	}
}

// The server logs the address it bound (so -addr 127.0.0.1:0 tells the
// port) and, on a fresh database, the setup address whose token the first
// sign-up needs; it serves, and on SIGTERM shuts down cleanly and exits 0.
func TestListenLogAndCleanShutdown(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	dir := t.TempDir()
	cmd, lines := startWebapp(t, dir)
	var logged strings.Builder
	addrRE := regexp.MustCompile(`msg="listening; open http://localhost:(\d+)" addr=127\.0\.0\.1:(\d+) `)
	var port string
	for port == "" && lines.Scan() {
		logged.WriteString(lines.Text() + "\n")
		if m := addrRE.FindStringSubmatch(lines.Text()); m != nil {
			if m[1] != m[2] || m[1] == "0" {
				t.Fatalf("logged port %s, address port %s", m[1], m[2])
			}
			port = m[1]
		}
	}
	if port == "" {
		t.Fatalf("no listening line with the bound port:\n%s", logged.String())
	}
	// The logged address is the one served, right away.
	resp, err := http.Get("http://127.0.0.1:" + port + "/login")
	if err != nil {
		t.Fatalf("the logged address does not answer: %v", err)
	}
	resp.Body.Close()
	checkSetupAddress(t, lines, &logged, port)

	if err := stopWebapp(t, cmd, lines, &logged); err != nil {
		t.Fatalf("after SIGTERM: %v\n%s", err, logged.String())
	}
	if !strings.Contains(logged.String(), `msg=stopped`) {
		t.Fatalf("no clean stop logged:\n%s", logged.String())
	}
}

// startWebapp builds the example and starts it on a free port, with its
// database and key in dir; it returns the command and its log's lines.
func startWebapp(t *testing.T, dir string) (*exec.Cmd, *bufio.Scanner) {
	t.Helper()
	bin := filepath.Join(dir, "webapp")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cmd := exec.Command(bin, "-addr", "127.0.0.1:0", "-db", filepath.Join(dir, "webapp.db"), "-key", filepath.Join(dir, "webapp.key"))
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill() })
	return cmd, bufio.NewScanner(stderr)
}

// stopWebapp sends cmd SIGTERM, adds the rest of its log to logged and
// returns how it exited; it fails t if it has not within 30 seconds.
func stopWebapp(t *testing.T, cmd *exec.Cmd, lines *bufio.Scanner, logged *strings.Builder) error {
	t.Helper()
	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	for lines.Scan() {
		logged.WriteString(lines.Text() + "\n")
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case err := <-done:
		return err
	case <-time.After(30 * time.Second):
		t.Fatalf("still running 30s after SIGTERM\n%s", logged.String())
	}
	return nil
}

// checkSetupAddress reads the setup line the server prints after the
// listening line, opens it, and signs the first account up with the token
// it carries; a sign-up without it is refused.
func checkSetupAddress(t *testing.T, lines *bufio.Scanner, logged *strings.Builder, port string) {
	t.Helper()
	setupRE := regexp.MustCompile(`^setup: http://localhost:(\d+)/signup\?token=([A-Za-z0-9_-]{43})$`)
	var token string
	for token == "" && lines.Scan() {
		logged.WriteString(lines.Text() + "\n")
		if m := setupRE.FindStringSubmatch(lines.Text()); m != nil {
			if m[1] != port {
				t.Fatalf("setup address on port %s, serving on %s", m[1], port)
			}
			token = m[2]
		}
	}
	if token == "" {
		t.Fatalf("no setup address printed:\n%s", logged.String())
	}
	base := "http://127.0.0.1:" + port
	resp, err := http.Get(base + "/signup?token=" + token)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(body), `<input type="hidden" name="bootstrap_token" value="`+token+`">`) {
		t.Fatalf("the setup address's page does not carry its token:\n%s", body)
	}
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	form := url.Values{"email": {"admin@example.com"}, "name": {"Ada"}, "password": {"correct horse battery"}}
	for _, c := range []struct {
		token  string
		status int
	}{{"", http.StatusForbidden}, {token, http.StatusSeeOther}} {
		form.Set("bootstrap_token", c.token)
		resp, err := noRedirect.PostForm(base+"/signup", form)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != c.status {
			t.Fatalf("sign-up with token %q: status %d, want %d", c.token, resp.StatusCode, c.status)
		}
	}
}

// -h prints the flags and exits 0.
func TestHelpFlag(t *testing.T) {
	out, err := exec.Command("go", "run", ".", "-h").CombinedOutput()
	if err != nil {
		t.Fatalf("-h: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "-addr") {
		t.Fatalf("-h does not list the flags:\n%s", out)
	}
}
