package auth

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"sync"
)

// keyring holds what usher derives from Config.SecretKey (current) and
// Config.PreviousSecretKeys (still opening what they made). Each purpose
// gets its own key through HKDF-SHA-256 (RFC 5869) with a distinct label, so
// no key is ever used for two things (OWASP ASVS 5.0 V11.2.1); a key ID,
// derived the same way, names the secret key without revealing it.
type keyring struct {
	current  *keySet
	previous []*keySet
}

type keySet struct {
	id       string
	password []byte // HMAC key of the password pre-hash, format 1
	bound    []byte // HMAC key of the account-bound pre-hash, format 2
	wrap     []byte // HMAC key binding a legacy hash to its account
	recovery []byte // HMAC key of recovery-code hashes
	session  []byte // HMAC key of session and challenge token hashes
	passkey  []byte // HMAC key of passkey MACs (passkey_mac.go)
	chain    []byte // HMAC key of the audit chain (auditchain.go)
	check    []byte // the key check value stored in the database
	// checkChained is the key check once the audit chain has started
	// (auditchain.go): a database writer without the key cannot turn it
	// back into check, so cannot pass a reset chain off as one that never
	// began.
	checkChained []byte
	seal         cipher.AEAD // AES-256-GCM for TOTP secrets
	// tokenMACs pools HMACs under session for tokenHash (token.go).
	tokenMACs sync.Pool
}

func deriveKeySet(secret []byte) (*keySet, error) {
	derive := func(label string, n int) ([]byte, error) {
		return hkdf.Key(sha256.New, secret, nil, "usher "+label, n)
	}
	id, err := derive("key id v1", 6)
	if err != nil {
		return nil, err
	}
	k := &keySet{id: hex.EncodeToString(id)}
	if k.password, err = derive("password pre-hash v1", 32); err != nil {
		return nil, err
	}
	if k.bound, err = derive("password pre-hash v2", 32); err != nil {
		return nil, err
	}
	if k.wrap, err = derive("password wrap v1", 32); err != nil {
		return nil, err
	}
	if k.recovery, err = derive("recovery code v1", 32); err != nil {
		return nil, err
	}
	if k.session, err = derive("session token v1", 32); err != nil {
		return nil, err
	}
	if k.passkey, err = derive("passkey mac v1", 32); err != nil {
		return nil, err
	}
	if k.chain, err = derive("audit chain v1", 32); err != nil {
		return nil, err
	}
	checkKey, err := derive("key check v1", 32)
	if err != nil {
		return nil, err
	}
	k.check = hmacSHA256(checkKey, []byte("usher key check"))
	k.checkChained = hmacSHA256(checkKey, []byte("usher key check, audit chain started"))
	sealKey, err := derive("totp seal v1", 32)
	if err != nil {
		return nil, err
	}
	block, err := aes.NewCipher(sealKey)
	if err != nil {
		return nil, err
	}
	if k.seal, err = cipher.NewGCM(block); err != nil {
		return nil, err
	}
	return k, nil
}

func newKeyring(current []byte, previous [][]byte) (*keyring, error) {
	cur, err := deriveKeySet(current)
	if err != nil {
		return nil, err
	}
	r := &keyring{current: cur}
	for i, p := range previous {
		if len(p) < minSecretKeyLen {
			return nil, fmt.Errorf("PreviousSecretKeys[%d] is shorter than %d bytes", i, minSecretKeyLen)
		}
		k, err := deriveKeySet(p)
		if err != nil {
			return nil, err
		}
		r.previous = append(r.previous, k)
	}
	return r, nil
}

// byID returns the key set with the given ID, or nil.
func (r *keyring) byID(id string) *keySet {
	if r.current.id == id {
		return r.current
	}
	for _, k := range r.previous {
		if k.id == id {
			return k
		}
	}
	return nil
}

// seal encrypts plaintext under the current key, binding it to aad (the
// user ID, so a sealed secret copied to another user's row does not open).
// The nonce is random and prepended.
func (r *keyring) seal(rnd io.Reader, plaintext, aad []byte) (keyID string, sealed []byte, err error) {
	aead := r.current.seal
	nonce := make([]byte, aead.NonceSize(), aead.NonceSize()+len(plaintext)+aead.Overhead())
	if _, err := io.ReadFull(rnd, nonce); err != nil {
		return "", nil, fmt.Errorf("auth: reading randomness: %w", err)
	}
	return r.current.id, aead.Seal(nonce, nonce, plaintext, aad), nil
}

// open decrypts what seal made under the key keyID.
func (r *keyring) open(keyID string, sealed, aad []byte) ([]byte, error) {
	k := r.byID(keyID)
	if k == nil {
		return nil, fmt.Errorf("%w: key ID %q", ErrUnknownKey, keyID)
	}
	n := k.seal.NonceSize()
	if len(sealed) < n+k.seal.Overhead() {
		return nil, fmt.Errorf("auth: sealed secret too short")
	}
	pt, err := k.seal.Open(nil, sealed[:n], sealed[n:], aad)
	if err != nil {
		return nil, fmt.Errorf("auth: sealed secret does not open: %w", err)
	}
	return pt, nil
}

// deviceKey derives the HMAC key of device tokens (see device.go) from a
// secret key, apart from every key of a [keySet].
func deviceKey(secret []byte) ([]byte, error) {
	return hkdf.Key(sha256.New, secret, nil, "usher device token v1", 32)
}
