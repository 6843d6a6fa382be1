package auth_test

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"strings"
	"testing"

	"github.com/usher-go/usher/auth"
)

// packedSelfAttestation answers registration options with a "packed"
// self-attestation (no x5c): go-webauthn verifies sig with the credential
// key itself, inside CreateCredential, before usher's checkPasskeyKey.
func packedSelfAttestation(t *testing.T, challenge, cose []byte, alg int64, sig []byte) []byte {
	t.Helper()
	credID := make([]byte, 32)
	rand.Read(credID)
	cd, _ := json.Marshal(map[string]string{"type": "webauthn.create", "challenge": b64.EncodeToString(challenge), "origin": rpOrigin})
	rp := sha256.Sum256([]byte(rpID))
	ad := append([]byte{}, rp[:]...)
	ad = append(ad, 0x01|0x04|0x40, 0, 0, 0, 0)
	ad = append(ad, make([]byte, 16)...)
	ad = binary.BigEndian.AppendUint16(ad, uint16(len(credID)))
	ad = append(ad, credID...)
	ad = append(ad, cose...)
	ao := mustCBOR(t, map[string]any{"fmt": "packed", "attStmt": map[string]any{"alg": alg, "sig": sig}, "authData": ad})
	out, _ := json.Marshal(map[string]any{
		"id": b64.EncodeToString(credID), "rawId": b64.EncodeToString(credID), "type": "public-key",
		"response": map[string]string{"clientDataJSON": b64.EncodeToString(cd), "attestationObject": b64.EncodeToString(ao)},
	})
	return out
}

// A packed self-attestation is signed with the new key itself, and
// verifying it with an RSA key of 23,000 bytes and exponent 2^31-1 costs
// seconds, inside the registration's transaction. The key is refused
// before anything is verified, and the attestation statement, which usher
// neither asks for nor trusts, is never checked: the refusal names the
// key, not a failed attestation signature.
func TestPasskeyHugeKeyRefusedBeforeAttestation(t *testing.T) {
	t.Parallel()
	e, admin := newPasskeyEnv(t)
	const size = 23000
	n := make([]byte, size)
	rand.Read(n)
	n[0] |= 0x80
	n[size-1] |= 1
	sig := make([]byte, size)
	rand.Read(sig)
	sig[0] = 0x01 // below n
	cose := mustCBOR(t, coseRSA{Kty: 3, Alg: -257, N: n, E: []byte{0x7f, 0xff, 0xff, 0xff}})
	c, err := e.m.BeginPasskeyRegistration(e.ctx, admin, "")
	if err != nil {
		t.Fatal(err)
	}
	resp := packedSelfAttestation(t, optionsOf(t, c.Options), cose, -257, sig)
	if len(resp) > auth.MaxPasskeyResponseBytes {
		t.Fatalf("answer of %d bytes: the test must stay under the limit", len(resp))
	}
	_, _, err = e.m.FinishPasskeyRegistration(e.ctx, admin, c.ID, resp, "")
	wantErr(t, err, auth.ErrPasskeyRejected)
	if !strings.Contains(err.Error(), "RSA key of 184000 bits") {
		t.Errorf("refused for another reason (after verifying the attestation?): %v", err)
	}
}
