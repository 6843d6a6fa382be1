// Package passkeytest is a software passkey for tests: an authenticator
// over github.com/descope/virtualwebauthn that answers the options a
// Manager hands out with the JSON a browser would send back.
package passkeytest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"encoding/json"
	"fmt"

	"github.com/descope/virtualwebauthn"
)

// Device is one authenticator holding one passkey for one relying party.
type Device struct {
	RP   virtualwebauthn.RelyingParty
	Auth virtualwebauthn.Authenticator
	Cred virtualwebauthn.Credential
}

// New returns a device for the relying party rpID that answers as a page
// at origin would. Its passkey is user-verified, not synced, and counts
// no signatures until the test sets Cred.Counter.
func New(rpID, origin string) (*Device, error) {
	key, err := p256Key()
	if err != nil {
		return nil, err
	}
	return &Device{
		RP:   virtualwebauthn.RelyingParty{ID: rpID, Name: rpID, Origin: origin},
		Auth: virtualwebauthn.NewAuthenticator(),
		Cred: virtualwebauthn.NewCredentialWithImportedKey(virtualwebauthn.KeyTypeEC2, key),
	}, nil
}

// p256Key makes a P-256 key whose coordinates are both 32 bytes long:
// virtualwebauthn writes them without leading zero bytes, which
// go-webauthn rightly refuses, so about one key in 128 would fail.
func p256Key() ([]byte, error) {
	for {
		k, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return nil, err
		}
		pub, err := k.PublicKey.Bytes() // 0x04 || X || Y, each 32 bytes
		if err != nil {
			return nil, err
		}
		if pub[1] == 0 || pub[33] == 0 {
			continue
		}
		return x509.MarshalPKCS8PrivateKey(k)
	}
}

// Register answers registration options (PasskeyCeremony.Options) as
// navigator.credentials.create would, and keeps the user handle it was
// given for later logins.
func (d *Device) Register(options []byte) ([]byte, error) {
	opts, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		return nil, fmt.Errorf("passkeytest: registration options: %w", err)
	}
	if d.Cred.IsExcludedForAttestation(*opts) {
		return nil, fmt.Errorf("passkeytest: this passkey is excluded (already registered)")
	}
	d.Auth.Options.UserHandle = []byte(opts.UserID)
	return []byte(virtualwebauthn.CreateAttestationResponse(d.RP, d.Auth, d.Cred, *opts)), nil
}

// Assert answers login options as navigator.credentials.get would. For a
// second-factor login the passkey must be among those allowed.
func (d *Device) Assert(options []byte) ([]byte, error) {
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		return nil, fmt.Errorf("passkeytest: login options: %w", err)
	}
	if len(opts.AllowCredentials) > 0 && !d.Cred.IsAllowedForAssertion(*opts) {
		return nil, fmt.Errorf("passkeytest: this passkey is not among those allowed")
	}
	return []byte(virtualwebauthn.CreateAssertionResponse(d.RP, d.Auth, d.Cred, *opts)), nil
}

// Tamper decodes a response, lets f change it, and encodes it again.
func Tamper(response []byte, f func(map[string]any)) []byte {
	var v map[string]any
	if err := json.Unmarshal(response, &v); err != nil {
		panic(err)
	}
	f(v)
	out, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return out
}

// ForceRegister answers registration options even when they exclude this
// passkey, as a browser never would: to test the server's own check.
func ForceRegister(d *Device, options []byte) ([]byte, error) {
	opts, err := virtualwebauthn.ParseAttestationOptions(string(options))
	if err != nil {
		return nil, err
	}
	d.Auth.Options.UserHandle = []byte(opts.UserID)
	return []byte(virtualwebauthn.CreateAttestationResponse(d.RP, d.Auth, d.Cred, *opts)), nil
}

// ForceAssert answers login options with this passkey even when they do
// not allow it, as a browser never would: to test the server's own check.
func ForceAssert(d *Device, options []byte) ([]byte, error) {
	opts, err := virtualwebauthn.ParseAssertionOptions(string(options))
	if err != nil {
		return nil, err
	}
	return []byte(virtualwebauthn.CreateAssertionResponse(d.RP, d.Auth, d.Cred, *opts)), nil
}
