package passkey

import (
	"context"
	"errors"
	"time"

	"github.com/usher-go/usher/user"
)

// CeremonyTimeout is how long a begun ceremony waits for the browser's
// answer.
const CeremonyTimeout = 5 * time.Minute

// Kinds of [Ceremony].
const (
	// KindRegister adds a passkey to a signed-in user.
	KindRegister = "register"
	// KindLogin is a passwordless login: the user is not known until the
	// authenticator answers.
	KindLogin = "login"
	// KindSecondFactor answers a login challenge with one of the user's
	// passkeys.
	KindSecondFactor = "second_factor"
)

// ErrCeremonyNotFound: no pending ceremony under that key (never begun,
// already used, or pruned).
var ErrCeremonyNotFound = errors.New("passkey: ceremony not found")

// Ceremony is the server-side state of one WebAuthn ceremony between its
// begin and its finish: the host hands the client only a random key, and
// the store keeps a keyed hash of it. A ceremony is used once: taking it
// deletes it.
type Ceremony struct {
	ID   string
	Kind string // KindRegister, KindLogin or KindSecondFactor
	// UserID is the user the ceremony is for; empty for KindLogin.
	UserID user.ID
	// ChallengeID is the login challenge a KindSecondFactor ceremony
	// answers; empty for the other kinds.
	ChallengeID string
	// Data is the ceremony's state (go-webauthn's session data), opaque
	// to the store and stored byte for byte.
	Data      []byte
	CreatedAt time.Time
	ExpiresAt time.Time
}

// CeremonyStore keeps pending ceremonies. Only a keyed hash of the key the
// client holds is stored (keyHash, 32 bytes), and it is unique. Ceremonies
// with a user go with it ([user.Store.Delete]). Safe for concurrent use,
// across instances sharing one database.
type CeremonyStore interface {
	// Create inserts c under keyHash; [user.ErrNotFound] when c.UserID is
	// set and unknown.
	Create(ctx context.Context, c *Ceremony, keyHash []byte) error
	// Take returns the ceremony stored under keyHash and deletes it, in
	// one statement: of concurrent calls with one key exactly one gets
	// it, the others [ErrCeremonyNotFound], as does an unknown key. It
	// does not check expiry.
	Take(ctx context.Context, keyHash []byte) (*Ceremony, error)
	// DeleteExpired removes ceremonies that expired before now and returns
	// how many went.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}
