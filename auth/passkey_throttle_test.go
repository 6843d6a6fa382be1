package auth_test

import (
	"errors"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
)

// VerifyPasskey spends the IP's budget before any work: a throttled call
// takes no ceremony, parses and verifies nothing, and the same answer
// works once the budget is back.
func TestVerifyPasskeyThrottledFirst(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	d := e.device()
	e.register(&admin, d, "")
	e.clk.Advance(time.Minute) // a fresh window
	r, err := e.m.Login(e.ctx, adminEmail, adminPassword, client)
	if err != nil || r.Challenge == nil {
		t.Fatal(r, err)
	}
	c, err := e.m.BeginPasskeySecondFactor(e.ctx, r.Challenge.Token, client)
	if err != nil {
		t.Fatal(err)
	}
	resp, _ := d.Assert(c.Options)
	for { // spend the rest of the window
		if _, err := e.m.BeginPasskeyLogin(e.ctx, client); errors.Is(err, auth.ErrThrottled) {
			break
		}
	}
	_, err = e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, resp, client)
	wantErr(t, err, auth.ErrThrottled)
	e.clk.Advance(time.Minute)
	_, err = e.m.VerifyPasskey(e.ctx, r.Challenge.Token, c.ID, resp, client)
	if err != nil {
		t.Errorf("the throttled call used up the ceremony: now %v (%q)", err, e.lastEvent(audit.SecondFactorFailed).Reason)
	}
}
