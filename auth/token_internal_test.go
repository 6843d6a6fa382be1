package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"testing"
)

// tokenHash is HMAC-SHA-256 (RFC 2104) spelled out: it must agree with
// crypto/hmac.
func TestTokenHashIsHMAC(t *testing.T) {
	k, err := deriveKeySet([]byte("0123456789abcdef0123456789abcdef"))
	if err != nil {
		t.Fatal(err)
	}
	for _, fill := range []byte{0, 1, 0x5c, 0xff} {
		var raw [tokenBytes]byte
		for i := range raw {
			raw[i] = fill + byte(i)
		}
		mac := hmac.New(sha256.New, k.session)
		mac.Write(raw[:])
		if got := k.tokenHash(&raw); !bytes.Equal(got[:], mac.Sum(nil)) {
			t.Fatalf("tokenHash(%x) = %x, want %x", raw, got, mac.Sum(nil))
		}
	}
}
