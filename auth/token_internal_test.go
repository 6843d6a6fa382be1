package auth

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"sync"
	"testing"
)

// tokenHash is HMAC-SHA-256 (RFC 2104): it must agree with a fresh
// crypto/hmac, however often its pooled ones are reused.
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

// tokenHash reuses pooled HMACs: from many goroutines at once (run with
// -race), each call still gives HMAC-SHA-256 of its own token under its
// own key set's key, never another's.
func TestTokenHashConcurrent(t *testing.T) {
	var keys [2]*keySet
	for i := range keys {
		k, err := deriveKeySet([]byte{byte(i), 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 21, 22, 23, 24, 25, 26, 27, 28, 29, 30, 31})
		if err != nil {
			t.Fatal(err)
		}
		keys[i] = k
	}
	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 500 {
				k := keys[(g+i)%2]
				var raw [tokenBytes]byte
				raw[0], raw[1], raw[2] = byte(g), byte(i), byte(i>>8)
				mac := hmac.New(sha256.New, k.session)
				mac.Write(raw[:])
				if got := k.tokenHash(&raw); !bytes.Equal(got[:], mac.Sum(nil)) {
					t.Errorf("goroutine %d, call %d: tokenHash = %x, want %x", g, i, got, mac.Sum(nil))
					return
				}
			}
		})
	}
	wg.Wait()
}
