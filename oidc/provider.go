package oidc

import (
	"errors"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// Limits of a provider's fields, in bytes unless said otherwise. A form
// may show them as hints; [NormalizeProvider] enforces them.
const (
	// MaxIDLength bounds Provider.ID ([CheckID]).
	MaxIDLength = 32
	// MaxNameLength bounds Provider.Name, the login button's text.
	MaxNameLength = 64
	// MaxIssuerLength bounds Provider.Issuer and a preset's base URL.
	MaxIssuerLength = 1024
	// MaxClientIDLength bounds Provider.ClientID.
	MaxClientIDLength = 255
	// MaxScopes is how many extra scopes a provider may ask for, besides
	// "openid email profile".
	MaxScopes = 20
	// MaxScopeLength bounds one scope.
	MaxScopeLength = 128
	// MaxAllowedDomains is how many email domains a provider may allow.
	MaxAllowedDomains = 50
	// MaxDomainLength bounds one allowed domain, as DNS does.
	MaxDomainLength = 253
	// MaxGroupIDLength bounds DefaultGroup and each GroupMap value.
	MaxGroupIDLength = 64
	// MaxClaimNameLength bounds Provider.GroupClaim.
	MaxClaimNameLength = 64
	// MaxGroupMapEntries is how many IdP groups a provider may map.
	MaxGroupMapEntries = 100
	// MaxIdPGroupLength bounds an IdP group's name, a GroupMap key.
	MaxIdPGroupLength = 256
)

// The fields a [FieldError] names: the Provider's field in lower snake case
// for [NormalizeProvider], [CheckID] and [CheckIssuer], or a preset's
// field ([PresetField].Key) for [BuildIssuer], so a form can name its
// inputs alike.
const (
	FieldID             = "id"
	FieldName           = "name"
	FieldPreset         = "preset"
	FieldIssuer         = "issuer" // also the generic preset's one field
	FieldClientID       = "client_id"
	FieldScopes         = "scopes"
	FieldAllowedDomains = "allowed_domains"
	FieldDefaultGroup   = "default_group"
	FieldGroupClaim     = "group_claim"
	FieldGroupMap       = "group_map"

	// Preset fields ([PresetField].Key).
	FieldBaseURL    = "base_url"
	FieldSlug       = "slug"
	FieldRealm      = "realm"
	FieldAuthPrefix = "auth_prefix"
	FieldTenant     = "tenant"
)

// FieldError is a provider field, or a preset field, that breaks its rule.
// Every error of [CheckID], [CheckIssuer], [NormalizeProvider] and
// [BuildIssuer] is a *FieldError. It matches [ErrInvalidProvider] with
// errors.Is, and its message starts with the field's name ("issuer: must
// start with https://"). Err says what is wrong in words meant for the
// person who typed the value, without the field's name, so a page can
// show it next to the input:
//
//	var fe *oidc.FieldError
//	if errors.As(err, &fe) {
//		form.Errors[fe.Field] = fe.Err.Error()
//	}
type FieldError struct {
	Field string // one of the Field constants
	Err   error
}

func (e *FieldError) Error() string {
	if e.Err == nil {
		return e.Field + ": invalid"
	}
	return e.Field + ": " + e.Err.Error()
}

// Unwrap returns [ErrInvalidProvider] and Err, so errors.Is matches
// either.
func (e *FieldError) Unwrap() []error { return []error{ErrInvalidProvider, e.Err} }

// fieldErr builds a *FieldError from a formatted reason.
func fieldErr(field, format string, args ...any) *FieldError {
	return &FieldError{Field: field, Err: fmt.Errorf(format, args...)}
}

// CheckID checks a provider ID as it is, without trimming: 1 to
// [MaxIDLength] lowercase ASCII letters, digits, '-' and '_', starting
// with a letter or a digit. It appears in URLs (the callback path) and
// audit events. Errors are a [*FieldError] for [FieldID].
func CheckID(id string) error {
	switch {
	case id == "":
		return fieldErr(FieldID, "empty")
	case len(id) > MaxIDLength:
		return fieldErr(FieldID, "longer than %d characters", MaxIDLength)
	case id[0] == '-' || id[0] == '_':
		return fieldErr(FieldID, "must start with a letter or a digit")
	}
	for i := 0; i < len(id); i++ {
		c := id[i]
		if !isLowerAlnum(c) && c != '-' && c != '_' {
			return fieldErr(FieldID, "only lowercase letters a-z, digits, '-' and '_'")
		}
	}
	return nil
}

func isLowerAlnum(c byte) bool { return 'a' <= c && c <= 'z' || '0' <= c && c <= '9' }

// CheckIssuer checks an issuer URL as it is, without trimming or altering
// it: the issuer must be exactly what the provider's discovery document
// states (go-oidc compares them byte for byte), so a trailing slash is
// neither added nor removed. The rules:
//
//   - at most [MaxIssuerLength] bytes of printable ASCII, each a character
//     a URL may hold (a non-ASCII host is written in punycode, xn--, and
//     a path percent-encoded);
//   - https, or http only for the hosts localhost, 127.0.0.1 and [::1],
//     for tests and development; the scheme in lower case;
//   - a host (a DNS name or an IP address) and an optional port; no user
//     name or password;
//   - a path is allowed (Keycloak realms, authentik applications), but no
//     "." or ".." segment; no query and no fragment.
//
// Errors are a [*FieldError] for [FieldIssuer].
func CheckIssuer(issuer string) error {
	if err := issuerProblem(issuer); err != nil {
		return &FieldError{Field: FieldIssuer, Err: err}
	}
	return nil
}

// issuerProblem applies CheckIssuer's rules and says what breaks them, for
// the issuer and for a preset's base URL alike.
func issuerProblem(s string) error {
	switch {
	case s == "":
		return errors.New("empty")
	case len(s) > MaxIssuerLength:
		return fmt.Errorf("longer than %d bytes", MaxIssuerLength)
	}
	if err := urlChars(s); err != nil {
		return err
	}
	switch {
	case strings.Contains(s, "#"):
		return errors.New("must not have a fragment (#...)")
	case strings.Contains(s, "?"):
		return errors.New("must not have a query (?...)")
	case strings.HasPrefix(s, "https://") || strings.HasPrefix(s, "http://"):
		return urlParts(s)
	case strings.HasPrefix(asciiLower(s), "https://"):
		return errors.New("must start with https:// in lower case")
	}
	return errors.New("must start with https://")
}

// urlChars refuses the bytes a URL cannot hold as they are.
func urlChars(s string) error {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c <= ' ' || c == 0x7f:
			return errors.New("contains a space or a control character")
		case c >= utf8.RuneSelf:
			return errors.New("contains a non-ASCII character: write the host in punycode (xn--...) and percent-encode the path")
		case !isURLByte(c):
			return fmt.Errorf("contains %q, which a URL cannot hold as is", c)
		}
	}
	return nil
}

// isURLByte reports whether c may appear in a URL (RFC 3986: unreserved,
// reserved and '%').
func isURLByte(c byte) bool {
	if isLowerAlnum(c) || 'A' <= c && c <= 'Z' {
		return true
	}
	return strings.IndexByte("-._~:/?#[]@!$&'()*+,;=%", c) >= 0
}

// urlParts checks the parsed URL: host, port, user info, scheme and path.
func urlParts(s string) error {
	u, err := parseURL(s)
	if err != nil {
		return err
	}
	if err := checkHost(u.host, u.port); err != nil {
		return err
	}
	if u.scheme == "http" && !isLoopback(u.host) {
		return errors.New("must use https (http only for localhost)")
	}
	for _, seg := range strings.Split(u.path, "/") {
		if seg == "." || seg == ".." {
			return errors.New(`must not have a "." or ".." path segment`)
		}
	}
	return nil
}

// parsedURL is the parts of an absolute http(s) URL this package checks.
type parsedURL struct {
	scheme, host, port, path string
}

// parseURL splits s, known to start with http:// or https://, into its
// parts, refusing user info. It does the little parsing the checks need
// rather than trust net/url's leniency with hosts.
func parseURL(s string) (parsedURL, error) {
	scheme, rest, _ := strings.Cut(s, "://")
	authority, path := rest, ""
	if i := strings.IndexByte(rest, '/'); i >= 0 {
		authority, path = rest[:i], rest[i:]
	}
	if strings.Contains(authority, "@") {
		return parsedURL{}, errors.New("must not contain a user name or password")
	}
	host, port, err := splitHostPort(authority)
	if err != nil {
		return parsedURL{}, err
	}
	if err := checkEscapes(path); err != nil {
		return parsedURL{}, err
	}
	return parsedURL{scheme: scheme, host: host, port: port, path: path}, nil
}

// splitHostPort splits an authority into host and port ("" if none),
// unbracketing an IPv6 literal.
func splitHostPort(a string) (host, port string, err error) {
	if strings.HasPrefix(a, "[") {
		end := strings.IndexByte(a, ']')
		if end < 0 {
			return "", "", errors.New("has an unclosed '[' in its host")
		}
		host, rest := a[1:end], a[end+1:]
		if rest != "" && !strings.HasPrefix(rest, ":") {
			return "", "", errors.New("has text after its host")
		}
		if _, err := netip.ParseAddr(host); err != nil || !strings.Contains(host, ":") {
			return "", "", errors.New("has an invalid IPv6 address")
		}
		if rest == ":" {
			return "", "", errors.New("has an invalid port")
		}
		return host, strings.TrimPrefix(rest, ":"), nil
	}
	host, port, colon := strings.Cut(a, ":")
	switch {
	case strings.ContainsAny(host, "[]"):
		return "", "", errors.New("has an invalid host")
	case colon && port == "":
		return "", "", errors.New("has an invalid port")
	}
	return host, port, nil
}

// checkEscapes refuses a '%' that does not start a two-digit hex escape.
func checkEscapes(path string) error {
	for i := 0; i < len(path); i++ {
		if path[i] != '%' {
			continue
		}
		if i+2 >= len(path) || !isHex(path[i+1]) || !isHex(path[i+2]) {
			return errors.New("has a '%' that is not a percent-escape (%XX)")
		}
	}
	return nil
}

func isHex(c byte) bool {
	return '0' <= c && c <= '9' || 'a' <= c && c <= 'f' || 'A' <= c && c <= 'F'
}

// checkHost checks that host is an IP address or a DNS name, and port a
// port number or empty.
func checkHost(host, port string) error {
	if host == "" {
		return errors.New("has no host")
	}
	if port != "" {
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 || port[0] == '0' {
			return errors.New("has an invalid port")
		}
	}
	if _, err := netip.ParseAddr(host); err == nil {
		return nil
	}
	if checkDomain(asciiLower(host)) != nil {
		return errors.New("has an invalid host name")
	}
	return nil
}

func isLoopback(host string) bool {
	return host == "localhost" || host == "127.0.0.1" || host == "::1"
}

// CanonicalEmail normalizes an email a provider gave (user.NormalizeEmail)
// and refuses one that normalizing would change beyond ASCII case:
// lower-casing folds some Unicode letters into ASCII ones (the Kelvin sign
// into "k"), which would let an address at the provider stand for another
// one here. Errors wrap user.ErrInvalidEmail.
func CanonicalEmail(raw string) (string, error) {
	norm, err := user.NormalizeEmail(raw)
	if err != nil {
		return "", err
	}
	if asciiLower(strings.TrimSpace(raw)) != norm {
		return "", fmt.Errorf("%w: not in canonical form", user.ErrInvalidEmail)
	}
	return norm, nil
}

// asciiLower lowercases ASCII letters only. strings.ToLower would also
// fold some non-ASCII letters into ASCII ones (the Kelvin sign U+212A
// into 'k'), making a name look like another.
func asciiLower(s string) string {
	b := []byte(s)
	for i, c := range b {
		if 'A' <= c && c <= 'Z' {
			b[i] = c + 'a' - 'A'
		}
	}
	return string(b)
}

// checkDomain checks a lowercase DNS name: at most [MaxDomainLength]
// bytes, labels of 1 to 63 letters, digits and '-', not starting or
// ending with '-'. Internationalized names are written in punycode.
func checkDomain(d string) error {
	if d == "" {
		return errors.New("empty")
	}
	if len(d) > MaxDomainLength {
		return fmt.Errorf("longer than %d bytes", MaxDomainLength)
	}
	for _, label := range strings.Split(d, ".") {
		if err := checkLabel(label); err != nil {
			return err
		}
	}
	return nil
}

func checkLabel(label string) error {
	switch {
	case label == "":
		return errors.New("has an empty label (two dots in a row, or a dot at an end)")
	case len(label) > 63:
		return errors.New("has a label longer than 63 characters")
	case label[0] == '-' || label[len(label)-1] == '-':
		return errors.New("has a label starting or ending with '-'")
	}
	for i := 0; i < len(label); i++ {
		if !isLowerAlnum(label[i]) && label[i] != '-' {
			return errors.New("may hold only letters, digits, '-' and '.' (write an internationalized name in punycode, xn--...)")
		}
	}
	return nil
}

// DomainAllowed reports whether email's domain, the part after its last
// '@' with ASCII letters lowercased, equals one of domains exactly. There
// is no subdomain matching and no wildcard: "example.com" does not allow
// "a@mail.example.com"; list each domain. domains are expected as
// [NormalizeProvider] leaves AllowedDomains (lowercase ASCII); a domain
// with a non-ASCII character never matches, so a look-alike
// ("\u212aample.com", with a Kelvin sign) cannot pass for an allowed one.
func DomainAllowed(email string, domains []string) bool {
	at := strings.LastIndexByte(email, '@')
	if at < 0 || at == len(email)-1 {
		return false
	}
	domain := email[at+1:]
	for i := 0; i < len(domain); i++ {
		if domain[i] >= utf8.RuneSelf {
			return false
		}
	}
	domain = asciiLower(domain)
	for _, d := range domains {
		if d == domain {
			return true
		}
	}
	return false
}

// NormalizeProvider trims and checks, in place, every field of p a person
// types, and returns the first rule broken as a [*FieldError] naming the
// field (it matches [ErrInvalidProvider]); p is unchanged then. The rules,
// in the order checked:
//
//   - ID: [CheckID].
//   - Name: 1 to [MaxNameLength] bytes, valid UTF-8, no control or
//     bidirectional control characters.
//   - Preset: "" or a name from [Presets].
//   - Issuer: [CheckIssuer], after trimming surrounding spaces; nothing
//     else is changed.
//   - ClientID: 1 to [MaxClientIDLength] bytes of printable ASCII.
//   - Scopes: each entry is split on spaces, and each scope must be an
//     OAuth scope token (RFC 6749 section 3.3) of at most [MaxScopeLength]
//     bytes; duplicates and "openid", "email" and "profile" (always asked
//     for) are dropped; at most [MaxScopes] remain.
//   - AllowedDomains: each trimmed, a leading '@' dropped, ASCII-lowercased
//     and checked as a DNS name (punycode for internationalized names; no
//     wildcard, see [DomainAllowed]); duplicates dropped; at most
//     [MaxAllowedDomains].
//   - DefaultGroup: trimmed; required when Provisioning is on; a group ID
//     of at most [MaxGroupIDLength] bytes of text (as for Name).
//   - GroupClaim: empty, or at most [MaxClaimNameLength] bytes of
//     printable ASCII without spaces; required when GroupMap has entries.
//   - GroupMap: at most [MaxGroupMapEntries] entries; each key (an IdP
//     group, compared exactly with what the IdP sends) trimmed, 1 to
//     [MaxIdPGroupLength] bytes of valid UTF-8 without control or
//     bidirectional control characters, and unique once trimmed; each
//     value a group ID as for DefaultGroup.
//
// Empty entries of Scopes and AllowedDomains are dropped; an empty list
// or map comes back nil. Whether the groups exist is for the caller to
// check against its store.
func NormalizeProvider(p *Provider) error {
	q := *p
	steps := []func(*Provider) error{
		normalizeID, normalizeName, normalizePreset, normalizeIssuer,
		normalizeClientID, normalizeScopes, normalizeDomains,
		normalizeDefaultGroup, normalizeGroupClaim, normalizeGroupMap,
	}
	for _, step := range steps {
		if err := step(&q); err != nil {
			return err
		}
	}
	*p = q
	return nil
}

func normalizeID(p *Provider) error {
	p.ID = strings.TrimSpace(p.ID)
	return CheckID(p.ID)
}

func normalizeName(p *Provider) error {
	p.Name = strings.TrimSpace(p.Name)
	switch {
	case p.Name == "":
		return fieldErr(FieldName, "empty")
	case len(p.Name) > MaxNameLength:
		return fieldErr(FieldName, "longer than %d bytes", MaxNameLength)
	}
	if err := checkText(p.Name); err != nil {
		return &FieldError{Field: FieldName, Err: err}
	}
	return nil
}

// checkText refuses invalid UTF-8, control characters and bidirectional
// controls (which can make a text display as another).
func checkText(s string) error {
	if !utf8.ValidString(s) {
		return errors.New("not valid UTF-8")
	}
	for _, r := range s {
		if unicode.IsControl(r) {
			return errors.New("contains a control character")
		}
		if unicode.Is(unicode.Bidi_Control, r) {
			return errors.New("contains a bidirectional control character")
		}
	}
	return nil
}

func normalizePreset(p *Provider) error {
	p.Preset = strings.TrimSpace(p.Preset)
	if p.Preset == "" {
		return nil
	}
	if _, ok := FindPreset(p.Preset); !ok {
		return fieldErr(FieldPreset, "unknown preset %q", p.Preset)
	}
	return nil
}

func normalizeIssuer(p *Provider) error {
	p.Issuer = strings.TrimSpace(p.Issuer)
	return CheckIssuer(p.Issuer)
}

func normalizeClientID(p *Provider) error {
	p.ClientID = strings.TrimSpace(p.ClientID)
	switch {
	case p.ClientID == "":
		return fieldErr(FieldClientID, "empty")
	case len(p.ClientID) > MaxClientIDLength:
		return fieldErr(FieldClientID, "longer than %d bytes", MaxClientIDLength)
	}
	for i := 0; i < len(p.ClientID); i++ {
		if c := p.ClientID[i]; c < ' ' || c > '~' {
			return fieldErr(FieldClientID, "may hold only printable ASCII characters")
		}
	}
	return nil
}

// alwaysAsked are the scopes every login asks for.
var alwaysAsked = map[string]bool{"openid": true, "email": true, "profile": true}

func normalizeScopes(p *Provider) error {
	var out []string
	seen := map[string]bool{}
	for _, entry := range p.Scopes {
		for _, s := range strings.Fields(entry) {
			if err := checkScope(s); err != nil {
				return &FieldError{Field: FieldScopes, Err: err}
			}
			if seen[s] || alwaysAsked[s] {
				continue
			}
			if len(out) == MaxScopes {
				return fieldErr(FieldScopes, "more than %d scopes", MaxScopes)
			}
			seen[s] = true
			out = append(out, s)
		}
	}
	p.Scopes = out
	return nil
}

// checkScope checks one scope-token (RFC 6749 section 3.3): %x21 /
// %x23-5B / %x5D-7E, that is printable ASCII but space, '"' and '\'.
func checkScope(s string) error {
	if len(s) > MaxScopeLength {
		return fmt.Errorf("a scope is longer than %d bytes", MaxScopeLength)
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; c <= ' ' || c > '~' || c == '"' || c == '\\' {
			return fmt.Errorf("scope %q holds a character a scope cannot (printable ASCII but '\"' and '\\')", s)
		}
	}
	return nil
}

func normalizeDomains(p *Provider) error {
	var out []string
	seen := map[string]bool{}
	for _, d := range p.AllowedDomains {
		d = strings.TrimPrefix(strings.TrimSpace(d), "@")
		if d == "" {
			continue
		}
		if len(d) > MaxDomainLength {
			return fieldErr(FieldAllowedDomains, "a domain is longer than %d bytes", MaxDomainLength)
		}
		d = asciiLower(d)
		if strings.HasPrefix(d, "*.") {
			return fieldErr(FieldAllowedDomains, "%q: no wildcards; list each domain (subdomains are not matched)", d)
		}
		if err := checkDomain(d); err != nil {
			return fieldErr(FieldAllowedDomains, "%q: %w", d, err)
		}
		if seen[d] {
			continue
		}
		if len(out) == MaxAllowedDomains {
			return fieldErr(FieldAllowedDomains, "more than %d domains", MaxAllowedDomains)
		}
		seen[d] = true
		out = append(out, d)
	}
	p.AllowedDomains = out
	return nil
}

func normalizeDefaultGroup(p *Provider) error {
	p.DefaultGroup = group.ID(strings.TrimSpace(string(p.DefaultGroup)))
	if p.DefaultGroup == "" {
		if p.Provisioning {
			return fieldErr(FieldDefaultGroup, "required when provisioning is on")
		}
		return nil
	}
	if err := checkGroupID(p.DefaultGroup); err != nil {
		return &FieldError{Field: FieldDefaultGroup, Err: err}
	}
	return nil
}

// checkGroupID checks a non-empty group ID: at most [MaxGroupIDLength]
// bytes of text.
func checkGroupID(id group.ID) error {
	if len(id) > MaxGroupIDLength {
		return fmt.Errorf("a group ID is longer than %d bytes", MaxGroupIDLength)
	}
	return checkText(string(id))
}

func normalizeGroupClaim(p *Provider) error {
	p.GroupClaim = strings.TrimSpace(p.GroupClaim)
	if p.GroupClaim == "" {
		if len(p.GroupMap) > 0 {
			return fieldErr(FieldGroupClaim, "required when groups are mapped")
		}
		return nil
	}
	if len(p.GroupClaim) > MaxClaimNameLength {
		return fieldErr(FieldGroupClaim, "longer than %d bytes", MaxClaimNameLength)
	}
	for i := 0; i < len(p.GroupClaim); i++ {
		if c := p.GroupClaim[i]; c <= ' ' || c > '~' {
			return fieldErr(FieldGroupClaim, "may hold only printable ASCII characters, without spaces")
		}
	}
	return nil
}

func normalizeGroupMap(p *Provider) error {
	if len(p.GroupMap) > MaxGroupMapEntries {
		return fieldErr(FieldGroupMap, "more than %d groups", MaxGroupMapEntries)
	}
	if len(p.GroupMap) == 0 {
		p.GroupMap = nil
		return nil
	}
	out := make(map[string]group.ID, len(p.GroupMap))
	for k, v := range p.GroupMap {
		key, id, err := normalizeGroupEntry(k, v)
		if err != nil {
			return &FieldError{Field: FieldGroupMap, Err: err}
		}
		if _, dup := out[key]; dup {
			return fieldErr(FieldGroupMap, "IdP group %q is listed twice", key)
		}
		out[key] = id
	}
	p.GroupMap = out
	return nil
}

// normalizeGroupEntry trims and checks one GroupMap entry.
func normalizeGroupEntry(k string, v group.ID) (string, group.ID, error) {
	k = strings.TrimSpace(k)
	switch {
	case k == "":
		return "", "", errors.New("an IdP group is empty")
	case len(k) > MaxIdPGroupLength:
		return "", "", fmt.Errorf("an IdP group is longer than %d bytes", MaxIdPGroupLength)
	}
	if err := checkText(k); err != nil {
		return "", "", fmt.Errorf("IdP group %q: %w", k, err)
	}
	v = group.ID(strings.TrimSpace(string(v)))
	if v == "" {
		return "", "", fmt.Errorf("IdP group %q: no local group", k)
	}
	if err := checkGroupID(v); err != nil {
		return "", "", fmt.Errorf("IdP group %q: %w", k, err)
	}
	return k, v, nil
}
