package passkey

import (
	"errors"
	"time"

	"github.com/usher-go/usher/user"
)

// Credential is one registered passkey of a user.
type Credential struct {
	// ID is usher's own opaque ID for the passkey, what pages and audit
	// events name; it is not the authenticator's credential ID.
	ID     string
	UserID user.ID
	// Name is what the user calls it ("iCloud Keychain", "Passkey 2"),
	// as [NormalizeName] accepts it.
	Name string
	// CredentialID is the authenticator's credential ID: unique across all
	// users.
	CredentialID []byte
	// PublicKey is the COSE-encoded public key the authenticator made.
	PublicKey []byte
	// AAGUID names the authenticator model (16 bytes; all zero when the
	// authenticator does not say).
	AAGUID []byte
	// Transports are the WebAuthn transport hints ("usb", "nfc",
	// "internal", "hybrid", ...) the browser reported at registration.
	Transports []string
	// BackupEligible: the credential may be synced (a synced passkey);
	// fixed at registration.
	BackupEligible bool
	// BackedUp: the credential is backed up (synced) now, as last reported.
	BackedUp bool
	// SignCount is the authenticator's signature counter at the last use.
	SignCount  uint32
	CreatedAt  time.Time
	LastUsedAt time.Time // zero until first used

	// KeyID names the secret key MAC was made under. MAC binds the passkey
	// to its user: an HMAC under a key derived from the host's secret key,
	// over ID, UserID, CredentialID, PublicKey and BackupEligible (what
	// never changes), so that a row written to the database without that
	// key (a public key of someone else's, or another user's ID) logs
	// nobody in. The Manager (package auth) sets both at registration and
	// again when the secret key rotates; a [Store] keeps them byte for
	// byte and never computes or checks them. A passkey stored without
	// them (KeyID "") never logs in.
	KeyID string
	MAC   []byte
}

// MaxPerUser is how many passkeys one user may register: enough for every
// device and a spare key, and a bound on what one account can store.
const MaxPerUser = 20

// UserHandleLength is the length of a WebAuthn user handle in bytes, the
// most WebAuthn allows.
const UserHandleLength = 64

// Errors returned by this package and by every [Store].
var (
	// ErrNotFound: no such passkey (or not the given user's), or no user
	// with that handle.
	ErrNotFound = errors.New("passkey: not found")
	// ErrCredentialTaken: the credential ID is already registered, by
	// this user or another.
	ErrCredentialTaken = errors.New("passkey: credential already registered")
	// ErrHandleTaken: another user already holds the user handle.
	ErrHandleTaken = errors.New("passkey: user handle already in use")
	// ErrInvalidName: the passkey name is empty, too long or holds
	// characters a name may not.
	ErrInvalidName = errors.New("passkey: invalid name")
	// ErrTooMany: the user already has [MaxPerUser] passkeys.
	ErrTooMany = errors.New("passkey: too many passkeys")
)
