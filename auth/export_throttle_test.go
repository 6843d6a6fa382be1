package auth

import "time"

// ThrottleKeys returns the keys a password login from ip on email's
// account counts under at now: its network's back-off and the account's
// day.
func ThrottleKeys(email, ip string, now time.Time) (network, day string) {
	return networkKey(email, ip), dayKey(throttlePrefix(email), now)
}

// IPKeys returns the keys of the per-minute budgets a login from ip
// spends: its own (an IPv6 address's /64) and its IPv6 site's (/48), ""
// for none.
func IPKeys(ip string) (own, site string) { return ipThrottleKey(ip), siteKey(ip) }
