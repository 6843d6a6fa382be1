package auth

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"

	"github.com/go-webauthn/webauthn/protocol"
	"github.com/go-webauthn/webauthn/webauthn"
)

// PasskeyConfig sets up passkeys (WebAuthn). The zero value leaves them
// off: the ceremonies then fail with [ErrPasskeysDisabled] (listing,
// renaming and deleting stored passkeys still work), and passkeys already
// stored count for nothing, not as a second factor either, so a passkey
// that can no longer be checked never stands in for one. Turning them off
// therefore puts the members of a group that requires two-factor, and
// whose only second factor was a passkey, back to enrolling: give such a
// group profile:manage_2fa first, or they can do nothing until an admin
// does.
type PasskeyConfig struct {
	// RPID is the relying party ID: the registrable domain, or a host
	// under it, that passkeys are bound to ("example.com"). A browser
	// offers a passkey only to pages of that domain and its subdomains,
	// and it cannot be changed later without every passkey failing. Empty
	// leaves passkeys off.
	RPID string
	// RPName is the name a browser shows when it asks to create a
	// passkey; "" means Config.Issuer, or RPID when that is empty too.
	RPName string
	// Origins are the web origins the login and profile pages are served
	// from ("https://admin.example.com:8443"). Each must be RPID or a
	// subdomain of it, over https (http only for localhost, which
	// browsers treat as secure), with no path. Empty means
	// "https://" + RPID. [New] refuses any other, so a mistake shows at
	// start rather than at the first login.
	Origins []string
	// DisablePasswordless refuses passwordless login
	// ([Manager.BeginPasskeyLogin] fails with [ErrPasswordlessDisabled]):
	// passkeys then serve only as a second factor after the password.
	DisablePasswordless bool
}

// enabled reports whether passkeys are configured.
func (pc *PasskeyConfig) enabled() bool { return pc.RPID != "" }

// withDefaults fills RPName and Origins.
func (pc PasskeyConfig) withDefaults(issuer string) PasskeyConfig {
	if !pc.enabled() {
		return pc
	}
	if pc.RPName == "" {
		pc.RPName = issuer
	}
	if pc.RPName == "" {
		pc.RPName = pc.RPID
	}
	if len(pc.Origins) == 0 {
		pc.Origins = []string{"https://" + pc.RPID}
	}
	return pc
}

// check refuses an RP ID that is not a domain and an origin outside it.
func (pc *PasskeyConfig) check() error {
	if !pc.enabled() {
		if len(pc.Origins) > 0 || pc.RPName != "" || pc.DisablePasswordless {
			return errors.New("Passkeys: RPID is empty but other fields are set")
		}
		return nil
	}
	id := pc.RPID
	if id != strings.ToLower(id) || strings.ContainsAny(id, ":/ ") || net.ParseIP(id) != nil {
		return fmt.Errorf("Passkeys.RPID %q must be a lowercase domain name, without scheme or port", id)
	}
	if err := protocol.ValidateRPID(id); err != nil {
		return fmt.Errorf("Passkeys.RPID %q: %v", id, err)
	}
	for _, o := range pc.Origins {
		if err := checkOrigin(o, id); err != nil {
			return fmt.Errorf("Passkeys.Origins: %w", err)
		}
	}
	return nil
}

// checkOrigin accepts an origin whose host is rpID or under it (WebAuthn
// Level 3, 5.1.4.1 and 13.4.9: the RP ID must be a registrable domain
// suffix of the origin's effective domain).
func checkOrigin(origin, rpID string) error {
	u, err := url.Parse(origin)
	switch {
	case err != nil:
		return fmt.Errorf("%q is not a URL: %v", origin, err)
	case u.Scheme != "https" && u.Scheme != "http" || u.Host == "":
		return fmt.Errorf("%q is not an http(s) origin", origin)
	case u.User != nil || (u.Path != "" && u.Path != "/") || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "":
		return fmt.Errorf("%q is not an origin: it has more than scheme, host and port", origin)
	}
	return checkOriginHost(origin, u.Scheme, u.Hostname(), rpID)
}

// checkOriginHost is checkOrigin's second half: the host against the RP
// ID, and plain http only for localhost.
func checkOriginHost(origin, scheme, host, rpID string) error {
	switch {
	case host != strings.ToLower(host):
		return fmt.Errorf("%q: write the host in lowercase", origin)
	case host != rpID && !strings.HasSuffix(host, "."+rpID):
		return fmt.Errorf("%q is not on the RP ID %q or a subdomain of it", origin, rpID)
	case scheme == "http" && host != "localhost" && !strings.HasSuffix(host, ".localhost"):
		return fmt.Errorf("%q: plain http is allowed only for localhost", origin)
	}
	return nil
}

// canonicalOrigins returns the origins as a browser writes them in client
// data: scheme://host[:port], no trailing slash.
func canonicalOrigins(origins []string) []string {
	out := make([]string, len(origins))
	for i, o := range origins {
		out[i] = strings.TrimSuffix(o, "/")
	}
	return out
}

// newWebAuthn builds the go-webauthn relying party. Expiry is not left to
// it (it reads the wall clock): the ceremony store's ExpiresAt, against
// the Manager's clock, decides.
func newWebAuthn(pc PasskeyConfig) (*webauthn.WebAuthn, error) {
	if !pc.enabled() {
		return nil, nil
	}
	return webauthn.New(&webauthn.Config{
		RPID:                  pc.RPID,
		RPDisplayName:         pc.RPName,
		RPOrigins:             canonicalOrigins(pc.Origins),
		AttestationPreference: protocol.PreferNoAttestation,
	})
}
