package auth

import "time"

// ThrottleKeys returns the keys a password login from ip on email's
// account counts under at now: its network's back-off and the account's
// day.
func ThrottleKeys(email, ip string, now time.Time) (network, day string) {
	return networkKey(email, ip), dayKey(throttlePrefix(email), now)
}
