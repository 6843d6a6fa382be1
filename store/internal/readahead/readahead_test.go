package readahead

import (
	"testing"

	"github.com/usher-go/usher/totp"
)

func TestAccount(t *testing.T) {
	var none *Account
	if none.For("u1") != nil {
		t.Error("nil Account answers for u1")
	}
	if c, ok := none.TOTPFor("u1"); c != nil || ok {
		t.Errorf("nil Account: TOTP %v, %v; want nothing read ahead", c, ok)
	}
	plain := &Account{ID: "u1", Gen: 3}
	if plain.For("u2") != nil || plain.For("u1") != plain {
		t.Error("For answers for another account, or not for its own")
	}
	if c, ok := plain.TOTPFor("u1"); c != nil || !ok {
		t.Errorf("account without TOTP: %v, %v; want none, read ahead", c, ok)
	}
	with := &Account{ID: "u1", TOTP: &totp.Credential{UserID: "u1", KeyID: "k", Sealed: []byte{1, 2}}}
	if _, ok := with.TOTPFor("u2"); ok {
		t.Error("TOTPFor answers for another account")
	}
	c, ok := with.TOTPFor("u1")
	if !ok || c == nil || c.KeyID != "k" || string(c.Sealed) != "\x01\x02" {
		t.Fatalf("TOTPFor = %+v, %v", c, ok)
	}
	c.Sealed[0], c.KeyID = 9, "changed"
	if again, _ := with.TOTPFor("u1"); again.Sealed[0] != 1 || again.KeyID != "k" {
		t.Errorf("a change to one answer reached the next: %+v", again)
	}
}
