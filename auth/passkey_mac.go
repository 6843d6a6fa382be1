package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"slices"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/user"
)

// A passkey row holds no secret (the authenticator keeps the private key),
// but it says whose key opens which account: someone who could write it
// could store a public key of their own under another user's ID and log in
// as that user. So each row carries an HMAC-SHA-256, under a key derived
// from the secret key for that alone, of what never changes: usher's
// passkey ID, the user ID, the credential ID, the public key and the
// backup-eligible flag. The name, the signature counter, the last use and
// the backed-up flag change with use and are not covered; none of them
// lets anyone in. A passkey whose MAC does not verify under the key it
// names (or that names a key the Manager lacks, or none) counts for
// nothing: it does not log in, answers no challenge and is no second
// factor.

// passkeyMAC is the MAC of c under k: each covered field length-prefixed
// (8 bytes, big-endian), so that no two passkeys encode alike.
func passkeyMAC(k *keySet, c *passkey.Credential) []byte {
	eligible := []byte{0}
	if c.BackupEligible {
		eligible[0] = 1
	}
	mac := hmac.New(sha256.New, k.passkey)
	var n [8]byte
	for _, f := range [][]byte{[]byte(c.ID), []byte(c.UserID), c.CredentialID, c.PublicKey, eligible} {
		binary.BigEndian.PutUint64(n[:], uint64(len(f)))
		mac.Write(n[:])
		mac.Write(f)
	}
	return mac.Sum(nil)
}

// macPasskey sets c's KeyID and MAC under the current key, the last thing
// before c is stored.
func (m *Manager) macPasskey(c *passkey.Credential) {
	c.KeyID, c.MAC = m.keys.current.id, passkeyMAC(m.keys.current, c)
}

// passkeyVerifies reports whether c's MAC verifies under the key it names,
// and why not.
func (m *Manager) passkeyVerifies(c *passkey.Credential) (bool, string) {
	if c.KeyID == "" {
		return false, "it has no MAC"
	}
	k := m.keys.byID(c.KeyID)
	if k == nil {
		return false, "its MAC is under a key this Manager does not hold"
	}
	if !hmac.Equal(c.MAC, passkeyMAC(k, c)) {
		return false, "its MAC does not verify"
	}
	return true, ""
}

// genuinePasskey reports whether c may be trusted: its MAC verifies. A
// passkey that fails is logged (its IDs and the reason, nothing secret):
// it was written behind usher's back, or its key was dropped too early.
func (m *Manager) genuinePasskey(c *passkey.Credential) bool {
	ok, why := m.passkeyVerifies(c)
	if !ok {
		m.log.Warn("usher: passkey ignored: "+why, "passkey_id", c.ID, "user_id", string(c.UserID), "key_id", c.KeyID)
	}
	return ok
}

// genuinePasskeys returns pks without the passkeys that genuinePasskey
// refuses, in order. It reuses pks' array.
func (m *Manager) genuinePasskeys(pks []passkey.Credential) []passkey.Credential {
	return slices.DeleteFunc(pks, func(c passkey.Credential) bool { return !m.genuinePasskey(&c) })
}

// countGenuinePasskeys counts the passkeys of user id in s that may be
// trusted, for the second factors a user can answer with.
func (m *Manager) countGenuinePasskeys(ctx context.Context, s Store, id user.ID) (int, error) {
	pks, err := s.Passkeys().List(ctx, id)
	if err != nil {
		return 0, err
	}
	return len(m.genuinePasskeys(pks)), nil
}

// rotatePasskeys re-MACs for RotateSecrets every passkey under a previous
// key whose MAC verifies, and reports with ErrUnknownKey those it left:
// under a key the Manager does not hold, under none, or with a MAC that
// does not verify.
func (m *Manager) rotatePasskeys(ctx context.Context) (int, error) {
	const batch = 100
	moved, left := 0, 0
	after := ""
	for {
		pks, err := m.store.Passkeys().UnderOtherKey(ctx, m.keys.current.id, after, batch)
		if err != nil || len(pks) == 0 {
			if err == nil && left > 0 {
				err = fmt.Errorf("%w: %d passkeys (or their MAC does not verify)", ErrUnknownKey, left)
			}
			return moved, err
		}
		after = pks[len(pks)-1].ID
		genuine := m.genuinePasskeys(pks)
		left += len(pks) - len(genuine)
		n, err := m.remacPasskeys(ctx, genuine)
		moved += n
		if err != nil {
			return moved, err
		}
	}
}

// remacPasskeys moves pks, whose MACs verified, to the current key in one
// transaction, audited. Each re-MAC is conditional on the key ID read, so
// a concurrent rotation or a delete wins; the new MAC covers the fields as
// they were verified, so a row changed meanwhile does not verify after.
func (m *Manager) remacPasskeys(ctx context.Context, pks []passkey.Credential) (int, error) {
	cur := m.keys.current
	n := 0
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		n = 0
		for i := range pks {
			c := &pks[i]
			ok, err := tx.Passkeys().Remac(ctx, c.ID, c.KeyID, cur.id, passkeyMAC(cur, c))
			if err != nil {
				return err
			}
			if ok {
				n++
			}
		}
		if n == 0 {
			return nil
		}
		return rec(&audit.Event{Action: audit.SecretsRotated, Outcome: audit.Success,
			Details: map[string]any{audit.DetailRemaced: n, audit.DetailKeyID: cur.id}})
	})
	if err != nil {
		return 0, err
	}
	return n, nil
}

// passkeysNotUnderCurrent counts the passkeys whose KeyID is not the
// current key's, for OldKeyUsage.
func (m *Manager) passkeysNotUnderCurrent(ctx context.Context) (int, error) {
	const batch = 500
	n, after := 0, ""
	for {
		pks, err := m.store.Passkeys().UnderOtherKey(ctx, m.keys.current.id, after, batch)
		if err != nil || len(pks) == 0 {
			return n, err
		}
		n += len(pks)
		after = pks[len(pks)-1].ID
	}
}

// checkPasskeysHeld is checkKeysHeld's part for passkeys, run when the
// Manager holds no previous key: a passkey MACed under another key means
// RotateSecrets was not run before the key was dropped. Passkeys under no
// key (KeyID "", stored behind usher's back) need none and are passed
// over: no key could make them log in, and refusing to start over them
// would also stop the tools that could delete them.
func (m *Manager) checkPasskeysHeld(ctx context.Context) error {
	const batch = 100
	after := ""
	for {
		pks, err := m.store.Passkeys().UnderOtherKey(ctx, m.keys.current.id, after, batch)
		if err != nil {
			return fmt.Errorf("auth: checking the key: %w", err)
		}
		if len(pks) == 0 {
			return nil
		}
		for _, c := range pks {
			if c.KeyID != "" {
				return fmt.Errorf("%w: passkeys are MACed under key ID %q, which this Manager does not hold; "+
					"run RotateSecrets with that key in Config.PreviousSecretKeys first", ErrWrongSecretKey, c.KeyID)
			}
		}
		after = pks[len(pks)-1].ID
	}
}
