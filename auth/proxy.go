package auth

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// TrustProxies returns middleware for a host behind reverse proxies: when a
// request arrives from one of the given proxy networks, its RemoteAddr is
// replaced with the client address the proxies recorded in
// X-Forwarded-For, so that [ClientFrom], the per-IP login budget and the
// audit trail see the client rather than the proxy. Without it, behind a
// load balancer every user shares the proxy's budget.
//
// The header is read from the right: each trusted proxy appended the address
// it received the request from, so the first address from the right that is
// not a trusted proxy is the client. An entry may carry a port or brackets
// ("198.51.100.1:5123", "[2001:db8::7]:5123"). Entries further left were written by
// the client and are ignored. A request that did not come from a trusted
// proxy is left alone, whatever headers it carries (OWASP ASVS 5.0 V4.1.3).
func TrustProxies(next http.Handler, proxies ...netip.Prefix) http.Handler {
	trusted := func(a netip.Addr) bool {
		a = a.Unmap()
		for _, p := range proxies {
			if p.Contains(a) {
				return true
			}
		}
		return false
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		peer, err := netip.ParseAddrPort(r.RemoteAddr)
		if err != nil || !trusted(peer.Addr()) {
			next.ServeHTTP(w, r)
			return
		}
		hops := strings.Split(strings.Join(r.Header.Values("X-Forwarded-For"), ","), ",")
		for i := len(hops) - 1; i >= 0; i-- {
			a, err := parseHop(hops[i])
			if err != nil {
				break // malformed: trust nothing further left
			}
			if !trusted(a) {
				r2 := r.Clone(r.Context())
				r2.RemoteAddr = net.JoinHostPort(a.Unmap().String(), "0")
				next.ServeHTTP(w, r2)
				return
			}
		}
		next.ServeHTTP(w, r)
	})
}

// parseHop reads one X-Forwarded-For entry: an address, as most proxies
// write it, or with a port ("198.51.100.1:5123", "[2001:db8::7]:5123") or
// in brackets ("[2001:db8::7]"), as some do.
func parseHop(hop string) (netip.Addr, error) {
	hop = strings.TrimSpace(hop)
	if a, err := netip.ParseAddr(hop); err == nil {
		return a, nil
	}
	if ap, err := netip.ParseAddrPort(hop); err == nil {
		return ap.Addr(), nil
	}
	if inner, ok := strings.CutPrefix(hop, "["); ok {
		if inner, ok = strings.CutSuffix(inner, "]"); ok {
			return netip.ParseAddr(inner)
		}
	}
	return netip.Addr{}, fmt.Errorf("auth: X-Forwarded-For entry %q is not an address", hop)
}
