package main

import (
	"database/sql"
	"net/http"
	"net/url"
	"path/filepath"
	"regexp"
	"runtime"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
)

// A shutdown that cannot write the sessions' last uses that wait
// (auth.Manager.Close fails) says so in the log and in the exit status,
// rather than logging a clean stop.
func TestShutdownReportsUnwrittenLastUses(t *testing.T) {
	if runtime.GOOS == "windows" {
		t.Skip("no SIGTERM on Windows")
	}
	dir := t.TempDir()
	cmd, lines := startWebapp(t, dir)
	var logged strings.Builder
	setupRE := regexp.MustCompile(`^setup: http://localhost:(\d+)/signup\?token=([A-Za-z0-9_-]{43})$`)
	var port, token string
	for token == "" && lines.Scan() {
		logged.WriteString(lines.Text() + "\n")
		if m := setupRE.FindStringSubmatch(lines.Text()); m != nil {
			port, token = m[1], m[2]
		}
	}
	if token == "" {
		t.Fatalf("no setup address printed:\n%s", logged.String())
	}
	base := "http://127.0.0.1:" + port
	noRedirect := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := noRedirect.PostForm(base+"/signup", url.Values{"email": {"admin@example.com"}, "name": {"Ada"},
		"password": {"correct horse battery"}, "bootstrap_token": {token}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var session *http.Cookie
	for _, c := range resp.Cookies() {
		if c.Name == auth.CookieName {
			session = c
		}
	}
	if session == nil {
		t.Fatalf("sign-up: status %d, no session cookie", resp.StatusCode)
	}

	// The session was last used two minutes ago, so the next request's
	// use waits to be written; and the database now refuses that write.
	db, err := sql.Open("sqlite", filepath.Join(dir, "webapp.db")+"?_pragma=busy_timeout(10000)")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	for _, q := range []string{
		`UPDATE sessions SET last_seen_at = last_seen_at - 120000000000`,
		`CREATE TRIGGER no_touch BEFORE UPDATE OF last_seen_at ON sessions BEGIN SELECT RAISE(ABORT, 'disk gone'); END`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	req, _ := http.NewRequest("GET", base+"/", nil)
	req.AddCookie(session)
	resp, err = noRedirect.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET / with the session: status %d", resp.StatusCode)
	}

	// Well within the five seconds a use waits before its batch.
	err = stopWebapp(t, cmd, lines, &logged)
	if err == nil || strings.Contains(logged.String(), "msg=stopped") ||
		!strings.Contains(logged.String(), "closing usher: sessions' last uses not written") {
		t.Fatalf("exit %v; want a failure, logged, and no clean stop:\n%s", err, logged.String())
	}
}
