package auth

import (
	"context"
	"time"

	"github.com/usher-go/usher/user"
)

// Challenge is the second step of a login: the password was right and a
// second factor is owed. Hand Token to the client (it is not a session:
// [Manager.Authenticate] refuses it) and pass it back with the code to
// [Manager.VerifyTOTP] or [Manager.VerifyRecoveryCode].
type Challenge struct {
	Token     string
	ExpiresAt time.Time
	// Methods lists the second factors the user may answer with:
	// [MethodTOTP], [MethodRecoveryCode] and [MethodPasskey].
	Methods []string
}

// Second-factor methods.
const (
	MethodTOTP         = "totp"
	MethodRecoveryCode = "recovery_code"
)

// ChallengeRecord is a stored challenge; only a keyed hash of the token is
// kept.
type ChallengeRecord struct {
	ID        string
	UserID    user.ID
	CreatedAt time.Time
	ExpiresAt time.Time
	Failures  int // wrong codes so far
	IP        string
	UserAgent string
	// Remember is the first step's Client.Remember, for the session the
	// second step opens.
	Remember bool
}

// ChallengeStore keeps pending login challenges. A method given an unknown
// challenge returns [ErrChallengeNotFound] unless its comment says
// otherwise. Only a keyed hash of the token is stored, and it is unique.
// Challenges go with their user ([user.Store.Delete]). Safe for concurrent
// use.
type ChallengeStore interface {
	// Create inserts c under tokenHash; user.ErrNotFound for an unknown user.
	Create(ctx context.Context, c *ChallengeRecord, tokenHash []byte) error
	// Get returns the challenge stored under tokenHash; it does not check
	// expiry.
	Get(ctx context.Context, tokenHash []byte) (*ChallengeRecord, error)
	// Fail counts one wrong code, atomically, and returns the new count.
	Fail(ctx context.Context, id string) (int, error)
	// Delete consumes a challenge. Of concurrent calls with one ID exactly
	// one succeeds; the others get ErrChallengeNotFound.
	Delete(ctx context.Context, id string) error
	// DeleteUser removes every challenge of a user and returns how many.
	DeleteUser(ctx context.Context, id user.ID) (int, error)
	// DeleteExpired removes challenges that expired before now and returns
	// how many.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}
