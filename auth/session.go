package auth

import (
	"time"

	"github.com/usher-go/usher/user"
)

// Session is a login. Token is set only on the value returned when the
// session is issued: it is the bearer secret the host hands to the browser,
// and usher keeps only its SHA-256.
type Session struct {
	ID         string
	UserID     user.ID
	Token      string
	CreatedAt  time.Time
	LastSeenAt time.Time
	ExpiresAt  time.Time // absolute expiry; idle expiry is LastSeenAt + Config.IdleTimeout
	IP         string
	UserAgent  string
}
