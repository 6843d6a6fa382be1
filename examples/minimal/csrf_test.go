package main

import (
	"encoding/json"
	"net/http"
	"net/url"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
)

// Login CSRF. The attacker begins a passwordless ceremony for
// their own account and signs it with their own passkey, then has the
// victim's browser submit a cross-site <form enctype="text/plain"> whose
// body is that JSON: no preflight, no cookie needed, and the answer's
// Set-Cookie (a top-level navigation) logs the victim in as the attacker.
func TestPasskeyLoginCSRFRefused(t *testing.T) {
	_, srv := newServer(t, withPasskeys)
	c := client{t, srv}
	attacker := c.ok("POST", "/signup", "", url.Values{"email": {"attacker@example.com"}, "password": {"correct horse battery"}})["token"].(string)
	d := device(t)
	c.register(attacker, d, "")

	begun := c.ok("POST", "/login/passkey/begin", "", nil)
	resp, err := d.Assert(options(t, begun))
	if err != nil {
		t.Fatal(err)
	}
	// <input name='{"ceremony":"…","credential":…,"name":"' value='"}'>
	field := `{"ceremony":` + mustJSON(t, begun["ceremony"]) + `,"credential":` + string(resp) + `,"name":"`
	body := field + "=" + `"}` + "\r\n"
	req, _ := http.NewRequest("POST", srv.URL+"/login/passkey/finish", strings.NewReader(body))
	req.Header.Set("Content-Type", "text/plain")
	req.Header.Set("Origin", "https://evil.example")
	req.Header.Set("Sec-Fetch-Site", "cross-site")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Errorf("cross-site text/plain form: %d, want 403", res.StatusCode)
	}
	for _, ck := range res.Cookies() {
		if ck.Name == auth.CookieName && ck.Value != "" {
			t.Errorf("cross-site text/plain form got %d and a session cookie for the attacker's account", res.StatusCode)
		}
	}
}

func mustJSON(t *testing.T, v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Without the browser's cross-site headers (a page of this origin, or a
// client that is no browser), a text/plain body is still no passkey
// answer: only JSON is.
func TestPasskeyBodyMustBeJSON(t *testing.T) {
	_, srv := newServer(t, withPasskeys)
	req, _ := http.NewRequest("POST", srv.URL+"/login/passkey/finish", strings.NewReader(`{"ceremony":"x","credential":{}}`))
	req.Header.Set("Content-Type", "text/plain")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusBadRequest && res.StatusCode != http.StatusUnsupportedMediaType {
		t.Errorf("text/plain body: %d, want 400 or 415", res.StatusCode)
	}
}
