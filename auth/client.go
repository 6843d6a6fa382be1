package auth

import (
	"strings"
	"unicode/utf8"
)

// Client is what usher knows of the request behind an operation: the
// client's IP (for throttling and the audit trail), its user agent, and
// the device token it keeps from an earlier login.
type Client struct {
	IP        string
	UserAgent string
	// DeviceToken is the [LoginResult.DeviceToken] this client was given
	// at an earlier login to the account, kept in a long-lived cookie
	// (a __Host- cookie in a browser). [Manager.Login] gives attempts that present
	// a valid one for the account their own throttling budget, which other
	// clients' failures cannot exhaust. Anything else is ignored.
	DeviceToken string
	// Remember asks that the session a login opens be remembered: the
	// "keep me signed in" choice, which gets Config.RememberIdleTimeout
	// and Config.RememberAbsoluteTimeout instead of the ordinary limits.
	// The calls that open a session or a challenge read it ([Manager.Login],
	// [Manager.FinishPasskeyLogin], [Manager.FinishSSO]); the second step
	// of a two-step login keeps what its first step chose.
	Remember bool
}

const (
	maxIPLen        = 64
	maxUserAgentLen = 512
)

// clean bounds and sanitises the fields: they come from the network and end
// up in the database and the audit trail.
func (c Client) clean() Client {
	return Client{IP: cleanField(c.IP, maxIPLen), UserAgent: cleanField(c.UserAgent, maxUserAgentLen),
		DeviceToken: cut(c.DeviceToken, maxDeviceTokenLen+1), Remember: c.Remember}
}

func cleanField(s string, max int) string {
	s = strings.ToValidUTF8(cut(s, 4*max), "\uFFFD")
	s = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, s)
	for len(s) > max {
		_, size := utf8.DecodeLastRuneInString(s)
		s = s[:len(s)-size]
	}
	return strings.TrimSpace(s)
}
