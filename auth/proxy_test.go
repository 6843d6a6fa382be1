package auth_test

import (
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/usher-go/usher/auth"
)

func TestTrustProxies(t *testing.T) {
	proxies := []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8"), netip.MustParsePrefix("fd00::/8")}
	var got string
	h := auth.TrustProxies(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		got = auth.ClientFrom(r).IP
	}), proxies...)
	cases := []struct {
		name, remote string
		xff          []string
		want         string
	}{
		{"direct client, forged header ignored", "203.0.113.5:1234", []string{"198.51.100.1"}, "203.0.113.5"},
		{"one proxy", "10.0.0.2:443", []string{"198.51.100.1"}, "198.51.100.1"},
		{"client-written entries on the left are ignored", "10.0.0.2:443", []string{"6.6.6.6, 198.51.100.1"}, "198.51.100.1"},
		{"two proxies", "10.0.0.2:443", []string{"198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"header split over lines", "10.0.0.2:443", []string{"6.6.6.6", "198.51.100.1, 10.1.2.3"}, "198.51.100.1"},
		{"ipv6 client through ipv6 proxy", "[fd00::1]:443", []string{"2001:db8::7"}, "2001:db8::7"},
		{"ipv4-mapped client", "10.0.0.2:443", []string{"::ffff:198.51.100.9"}, "198.51.100.9"},
		{"only proxies in the header", "10.0.0.2:443", []string{"10.9.9.9"}, "10.0.0.2"},
		{"malformed entry stops the walk", "10.0.0.2:443", []string{"198.51.100.1, not-an-ip"}, "10.0.0.2"},
		{"no header", "10.0.0.2:443", nil, "10.0.0.2"},
		{"ipv4 with a port", "10.0.0.2:443", []string{"198.51.100.1:5123"}, "198.51.100.1"},
		{"ipv6 in brackets with a port", "10.0.0.2:443", []string{"[2001:db8::7]:5123"}, "2001:db8::7"},
		{"ipv6 in brackets", "10.0.0.2:443", []string{"[2001:db8::7]"}, "2001:db8::7"},
		{"trusted proxy with a port is skipped", "10.0.0.2:443", []string{"198.51.100.1, 10.1.2.3:80"}, "198.51.100.1"},
		{"empty brackets stop the walk", "10.0.0.2:443", []string{"198.51.100.1, []"}, "10.0.0.2"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			req := httptest.NewRequest("GET", "/", nil)
			req.RemoteAddr = tc.remote
			for _, v := range tc.xff {
				req.Header.Add("X-Forwarded-For", v)
			}
			h.ServeHTTP(httptest.NewRecorder(), req)
			if got != tc.want {
				t.Fatalf("client IP %q, want %q", got, tc.want)
			}
		})
	}
}
