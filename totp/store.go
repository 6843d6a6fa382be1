package totp

import (
	"context"
	"time"

	"github.com/usher-go/usher/user"
)

// Credential is a user's stored TOTP secret.
type Credential struct {
	UserID user.ID
	// KeyID names the key Sealed is sealed under, so keys can rotate.
	KeyID string
	// Sealed is the secret sealed by the caller; the store never sees it
	// in the clear.
	Sealed []byte
	// LastStep is the last time step accepted; a code of this step or an
	// earlier one is refused.
	LastStep    int64
	CreatedAt   time.Time
	ConfirmedAt time.Time // zero while enrollment is pending
}

// Confirmed reports whether enrollment finished.
func (c *Credential) Confirmed() bool { return !c.ConfirmedAt.IsZero() }

// Store keeps TOTP credentials and recovery codes, one credential per user.
// Get and Confirm for a user without a credential return [ErrNotEnrolled];
// the methods that report whether they did something (UseStep, Reseal,
// UseRecoveryCode) report false instead, and the recovery-code methods need
// no credential at all. Put and SetRecoveryCodes for an unknown user fail
// with user.ErrNotFound. Credentials and recovery codes go with their user
// (user.Store.Delete). Times come back as the same instant in UTC, to at
// least microsecond precision; a zero ConfirmedAt comes back zero. Safe for
// concurrent use.
type Store interface {
	// Get returns the user's credential, pending or confirmed.
	Get(ctx context.Context, id user.ID) (*Credential, error)
	// Put inserts c, replacing any credential the user had.
	Put(ctx context.Context, c *Credential) error
	// Confirm marks the credential confirmed at the given time.
	Confirm(ctx context.Context, id user.ID, at time.Time) error
	// Delete removes the credential and the recovery codes; removing none
	// is not an error.
	Delete(ctx context.Context, id user.ID) error
	// UseStep burns a time step: it sets LastStep to step only if the
	// stored LastStep is lower, in one conditional UPDATE, and reports
	// whether it did. Two callers with the same step: exactly one wins.
	UseStep(ctx context.Context, id user.ID, step int64) (bool, error)
	// Sealed lists up to limit credentials whose KeyID is not notKeyID and
	// whose UserID sorts after after (byte order; "" for the first page),
	// ordered by UserID: a key rotation pages through them with the last
	// UserID it saw.
	Sealed(ctx context.Context, notKeyID string, after user.ID, limit int) ([]Credential, error)
	// Reseal replaces a credential's sealed secret if it is still under
	// oldKeyID, and reports whether it did.
	Reseal(ctx context.Context, id user.ID, oldKeyID, newKeyID string, sealed []byte) (bool, error)

	// SetRecoveryCodes replaces the user's recovery codes with hashes,
	// made with salt under the key named keyID. It needs no credential.
	SetRecoveryCodes(ctx context.Context, id user.ID, keyID string, salt []byte, hashes [][]byte) error
	// RecoverySet returns the salt and key ID of the user's recovery codes;
	// a nil salt, with no error, when the user has none.
	RecoverySet(ctx context.Context, id user.ID) (salt []byte, keyID string, err error)
	// UseRecoveryCode deletes the code with the given hash in one
	// statement and reports whether a row went: of concurrent callers
	// with the same code, exactly one gets true.
	UseRecoveryCode(ctx context.Context, id user.ID, hash []byte) (bool, error)
	// RecoveryCodesLeft counts the user's unused codes (0 for none).
	RecoveryCodesLeft(ctx context.Context, id user.ID) (int, error)
	// CountRecoverySets counts the users whose recovery codes were hashed
	// under a key other than keyID (which a key rotation cannot re-hash:
	// they keep working only while that key is a previous key).
	CountRecoverySets(ctx context.Context, notKeyID string) (int, error)
	// DeleteRecoveryCodes removes the user's codes; none is not an error.
	DeleteRecoveryCodes(ctx context.Context, id user.ID) error
}
