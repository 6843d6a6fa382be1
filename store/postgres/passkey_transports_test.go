package postgres_test

import (
	"strings"
	"testing"

	"github.com/usher-go/usher/internal/passkeytest"
)

// Transports are the browser's strings: only the ones WebAuthn defines are
// kept, once each, so a NUL in one (which PostgreSQL text cannot hold) is
// dropped, never a raw store error (invariant 7).
func TestPasskeyTransportsFiltered(t *testing.T) {
	p, admin := newPasskeyPair(t)
	ctx := t.Context()
	d := newDevice(t)
	c, err := p.m[0].BeginPasskeyRegistration(ctx, admin[0], "")
	if err != nil {
		t.Fatal(err)
	}
	resp, err := d.Register(c.Options)
	if err != nil {
		t.Fatal(err)
	}
	resp = passkeytest.Tamper(resp, func(v map[string]any) {
		v["response"].(map[string]any)["transports"] = []string{"usb\x00", "usb", "hybrid", "usb", "<script>"}
	})
	cred, _, err := p.m[0].FinishPasskeyRegistration(ctx, admin[0], c.ID, resp, "")
	if err != nil {
		t.Fatalf("FinishPasskeyRegistration: %v", err)
	}
	if got := strings.Join(cred.Transports, ","); got != "usb,hybrid" {
		t.Errorf("transports stored as %q, want usb,hybrid", got)
	}
}
