package oidc

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// wantFieldError fails t unless err is a *FieldError for field that
// matches ErrInvalidProvider and whose message starts with the field.
func wantFieldError(t *testing.T, err error, field string) {
	t.Helper()
	if err == nil {
		t.Fatalf("accepted; want a refusal on %q", field)
	}
	if !errors.Is(err, ErrInvalidProvider) {
		t.Errorf("error %q does not match ErrInvalidProvider", err)
	}
	var fe *FieldError
	if !errors.As(err, &fe) {
		t.Fatalf("error %q is not a *FieldError", err)
	}
	if fe.Field != field {
		t.Errorf("error %q names field %q, want %q", err, fe.Field, field)
	}
	if !strings.HasPrefix(err.Error(), field+": ") {
		t.Errorf("message %q does not start with %q", err, field+": ")
	}
	if fe.Err == nil || fe.Err.Error() == "" || strings.HasPrefix(fe.Err.Error(), field+":") {
		t.Errorf("reason %v should say what is wrong without the field's name", fe.Err)
	}
	if len(err.Error()) > 400 {
		t.Errorf("message is %d bytes long: it should not echo a huge value", len(err.Error()))
	}
}

func TestCheckID(t *testing.T) {
	ok := []struct{ name, id string }{
		{"one letter", "a"},
		{"one digit", "7"},
		{"word", "google"},
		{"dash and underscore", "my-idp_2"},
		{"starts with a digit", "0auth"},
		{"ends with a dash", "idp-"},
		{"longest", strings.Repeat("a", MaxIDLength)},
	}
	for _, tc := range ok {
		t.Run("accepts "+tc.name, func(t *testing.T) {
			if err := CheckID(tc.id); err != nil {
				t.Errorf("CheckID(%q) = %v", tc.id, err)
			}
		})
	}
	bad := []struct{ name, id string }{
		{"empty", ""},
		{"uppercase", "Google"},
		{"space inside", "my idp"},
		{"surrounding spaces", " google "},
		{"too long", strings.Repeat("a", MaxIDLength+1)},
		{"100 KB", strings.Repeat("a", 100<<10)},
		{"leading dash", "-idp"},
		{"leading underscore", "_idp"},
		{"dot", "a.b"},
		{"slash", "a/b"},
		{"non-ASCII letter", "idé"},
		{"NUL", "a\x00"},
		{"Kelvin sign", "\u212aeycloak"},
	}
	for _, tc := range bad {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			wantFieldError(t, CheckID(tc.id), FieldID)
		})
	}
}

func TestCheckIssuer(t *testing.T) {
	ok := []struct{ name, issuer string }{
		{"host only", "https://accounts.google.com"},
		{"trailing slash kept", "https://auth.example.com/application/o/usher/"},
		{"realm path", "https://sso.example.com/realms/staff"},
		{"port and escape", "https://sso.example.com:8443/realms/my%20realm"},
		{"legacy keycloak", "https://sso.example.com/auth/realms/staff"},
		{"entra", "https://login.microsoftonline.com/6f1d3c9e-2b7a-4c51-9e0d-8a4b2f6c1d37/v2.0"},
		{"http localhost", "http://localhost:8080"},
		{"http 127.0.0.1", "http://127.0.0.1:5556/dex"},
		{"http ::1", "http://[::1]:9000/"},
		{"https IPv6", "https://[2001:db8::1]/idp"},
		{"https IPv4", "https://192.0.2.10"},
		{"punycode host", "https://xn--bcher-kva.example"},
		{"uppercase host", "https://Auth.Example.com"},
		{"sub-delims in path", "https://example.com/a;b=c/@d"},
		{"longest", "https://example.com/" + strings.Repeat("a", MaxIssuerLength-len("https://example.com/"))},
	}
	for _, tc := range ok {
		t.Run("accepts "+tc.name, func(t *testing.T) {
			if err := CheckIssuer(tc.issuer); err != nil {
				t.Errorf("CheckIssuer(%q) = %v", tc.issuer, err)
			}
		})
	}
	bad := []struct{ name, issuer string }{
		{"empty", ""},
		{"ftp", "ftp://example.com"},
		{"http elsewhere", "http://example.com"},
		{"http look-alike localhost", "http://localhost.example.com"},
		{"http other loopback", "http://127.0.0.2"},
		{"javascript", "javascript:alert(1)"},
		{"no scheme", "example.com"},
		{"scheme-relative", "//example.com"},
		{"uppercase scheme", "HTTPS://example.com"},
		{"query", "https://example.com/?tenant=1"},
		{"empty query", "https://example.com/?"},
		{"fragment", "https://example.com/#top"},
		{"user info", "https://user:secret@example.com"},
		{"user name", "https://user@example.com/realms/x"},
		{"backslash trick", `https://example.com\@evil.com`},
		{"100 KB", "https://example.com/" + strings.Repeat("a", 100<<10)},
		{"one byte too long", "https://example.com/" + strings.Repeat("a", MaxIssuerLength-len("https://example.com/")+1)},
		{"leading space", " https://example.com"},
		{"trailing newline", "https://example.com\n"},
		{"space in host", "https://exa mple.com"},
		{"NUL", "https://example.com/\x00"},
		{"non-ASCII host", "https://bücher.example"},
		{"angle brackets", "https://example.com/<x>"},
		{"no host", "https://"},
		{"empty host with path", "https:///realms/x"},
		{"dot-dot segment", "https://example.com/realms/../admin"},
		{"dot segment", "https://example.com/./x"},
		{"port zero", "https://example.com:0"},
		{"port too big", "https://example.com:99999"},
		{"empty port", "https://example.com:/x"},
		{"letters in port", "https://example.com:https"},
		{"underscore in host", "https://ex_ample.com"},
		{"empty label", "https://example..com"},
		{"bad escape", "https://example.com/%zz"},
		{"short escape", "https://example.com/%4"},
		{"unclosed bracket", "https://[::1/x"},
		{"IPv4 in brackets", "https://[192.0.2.1]/"},
		{"text after bracket", "https://[::1]x/"},
		{"unbracketed IPv6", "https://::1/"},
	}
	for _, tc := range bad {
		t.Run("refuses "+tc.name, func(t *testing.T) {
			wantFieldError(t, CheckIssuer(tc.issuer), FieldIssuer)
		})
	}
}

// validProvider returns a provider NormalizeProvider accepts as is.
func validProvider() Provider {
	return Provider{
		ID:             "keycloak",
		Name:           "Staff SSO",
		Preset:         PresetKeycloak,
		Issuer:         "https://sso.example.com/realms/staff",
		ClientID:       "usher",
		Scopes:         []string{"groups"},
		Provisioning:   true,
		AllowedDomains: []string{"example.com"},
		DefaultGroup:   group.UsersID,
		GroupClaim:     "groups",
		GroupMap:       map[string]group.ID{"/admins": group.AdminID},
	}
}

func TestNormalizeProviderAcceptsValid(t *testing.T) {
	p := validProvider()
	if err := NormalizeProvider(&p); err != nil {
		t.Fatal(err)
	}
	if want := validProvider(); !reflect.DeepEqual(p, want) {
		t.Errorf("a valid provider changed:\n got %+v\nwant %+v", p, want)
	}
}

func TestNormalizeProviderTrimsAndCleans(t *testing.T) {
	p := Provider{
		ID:             "  idp ",
		Name:           "\tCompany SSO\n",
		Preset:         " generic ",
		Issuer:         "  https://auth.example.com/application/o/usher/  ",
		ClientID:       " client-123 ",
		Scopes:         []string{" groups  offline_access ", "openid", "email", "profile", "groups", "", "  "},
		AllowedDomains: []string{" @Example.COM ", "example.com", "", "sub.example.org"},
		DefaultGroup:   " users ",
		GroupClaim:     " groups ",
		GroupMap:       map[string]group.ID{" Admins ": " admin ", "Staff": "users"},
	}
	if err := NormalizeProvider(&p); err != nil {
		t.Fatal(err)
	}
	want := Provider{
		ID:             "idp",
		Name:           "Company SSO",
		Preset:         "generic",
		Issuer:         "https://auth.example.com/application/o/usher/",
		ClientID:       "client-123",
		Scopes:         []string{"groups", "offline_access"},
		AllowedDomains: []string{"example.com", "sub.example.org"},
		DefaultGroup:   "users",
		GroupClaim:     "groups",
		GroupMap:       map[string]group.ID{"Admins": "admin", "Staff": "users"},
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
}

func TestNormalizeProviderEmptyListsAreNil(t *testing.T) {
	p := validProvider()
	p.Provisioning = false
	p.Scopes = []string{"openid", " "}
	p.AllowedDomains = []string{""}
	p.GroupClaim = ""
	p.GroupMap = map[string]group.ID{}
	if err := NormalizeProvider(&p); err != nil {
		t.Fatal(err)
	}
	if p.Scopes != nil || p.AllowedDomains != nil || p.GroupMap != nil {
		t.Errorf("want nil lists, got %#v %#v %#v", p.Scopes, p.AllowedDomains, p.GroupMap)
	}
}

func TestNormalizeProviderKeepsOtherFields(t *testing.T) {
	p := validProvider()
	p.KeyID, p.SealedSecret, p.Version = "k1", []byte{1, 2, 3}, 7
	p.Enabled, p.LinkByEmail, p.RequireSecondFactor, p.SatisfiesTwoFactor = true, true, true, true
	want := p
	if err := NormalizeProvider(&p); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(p, want) {
		t.Errorf("got  %+v\nwant %+v", p, want)
	}
}

func TestNormalizeProviderRefuses(t *testing.T) {
	many := func(n int, f func(i int) string) []string {
		out := make([]string, n)
		for i := range out {
			out[i] = f(i)
		}
		return out
	}
	bigMap := map[string]group.ID{}
	for i := range MaxGroupMapEntries + 1 {
		bigMap[strings.Repeat("g", i+1)] = "users"
	}
	cases := []struct {
		name   string
		field  string
		change func(p *Provider)
	}{
		{"empty ID", FieldID, func(p *Provider) { p.ID = "  " }},
		{"uppercase ID", FieldID, func(p *Provider) { p.ID = "Keycloak" }},
		{"ID with a space", FieldID, func(p *Provider) { p.ID = "key cloak" }},
		{"long ID", FieldID, func(p *Provider) { p.ID = strings.Repeat("k", MaxIDLength+1) }},
		{"ID with a leading dash", FieldID, func(p *Provider) { p.ID = "-kc" }},
		{"empty name", FieldName, func(p *Provider) { p.Name = " \t " }},
		{"long name", FieldName, func(p *Provider) { p.Name = strings.Repeat("n", MaxNameLength+1) }},
		{"name with a newline", FieldName, func(p *Provider) { p.Name = "Staff\nSSO" }},
		{"name with a bidi override", FieldName, func(p *Provider) { p.Name = "Staff \u202eOSS" }},
		{"name not UTF-8", FieldName, func(p *Provider) { p.Name = "Staff \xff" }},
		{"unknown preset", FieldPreset, func(p *Provider) { p.Preset = "okta" }},
		{"preset in capitals", FieldPreset, func(p *Provider) { p.Preset = "Keycloak" }},
		{"empty issuer", FieldIssuer, func(p *Provider) { p.Issuer = "" }},
		{"ftp issuer", FieldIssuer, func(p *Provider) { p.Issuer = "ftp://sso.example.com" }},
		{"http issuer", FieldIssuer, func(p *Provider) { p.Issuer = "http://sso.example.com/realms/staff" }},
		{"issuer with a query", FieldIssuer, func(p *Provider) { p.Issuer = "https://sso.example.com/realms/staff?x=1" }},
		{"issuer with a fragment", FieldIssuer, func(p *Provider) { p.Issuer = "https://sso.example.com/realms/staff#x" }},
		{"issuer with user info", FieldIssuer, func(p *Provider) { p.Issuer = "https://admin:pw@sso.example.com/" }},
		{"100 KB issuer", FieldIssuer, func(p *Provider) { p.Issuer = "https://sso.example.com/" + strings.Repeat("x", 100<<10) }},
		{"empty client ID", FieldClientID, func(p *Provider) { p.ClientID = " " }},
		{"long client ID", FieldClientID, func(p *Provider) { p.ClientID = strings.Repeat("c", MaxClientIDLength+1) }},
		{"client ID with a tab", FieldClientID, func(p *Provider) { p.ClientID = "a\tb" }},
		{"client ID not ASCII", FieldClientID, func(p *Provider) { p.ClientID = "clïent" }},
		{"scope with a quote", FieldScopes, func(p *Provider) { p.Scopes = []string{`gro"ups`} }},
		{"scope with a backslash", FieldScopes, func(p *Provider) { p.Scopes = []string{`a\b`} }},
		{"scope not ASCII", FieldScopes, func(p *Provider) { p.Scopes = []string{"grüps"} }},
		{"scope with a control character", FieldScopes, func(p *Provider) { p.Scopes = []string{"a\x01b"} }},
		{"long scope", FieldScopes, func(p *Provider) { p.Scopes = []string{strings.Repeat("s", MaxScopeLength+1)} }},
		{"too many scopes", FieldScopes, func(p *Provider) {
			p.Scopes = many(MaxScopes+1, func(i int) string { return "s" + strings.Repeat("x", i) })
		}},
		{"domain with a wildcard", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{"*.example.com"} }},
		{"domain with a space", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{"exa mple.com"} }},
		{"domain not ASCII", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{"bücher.example"} }},
		{"domain with a Kelvin sign", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{"\u212aample.com"} }},
		{"an email address", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{"ann@example.com"} }},
		{"domain ending in a dot", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{"example.com."} }},
		{"label starting with a dash", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{"-example.com"} }},
		{"long label", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{strings.Repeat("a", 64) + ".com"} }},
		{"100 KB domain", FieldAllowedDomains, func(p *Provider) { p.AllowedDomains = []string{strings.Repeat("a.", 50<<10) + "com"} }},
		{"too many domains", FieldAllowedDomains, func(p *Provider) {
			p.AllowedDomains = many(MaxAllowedDomains+1, func(i int) string { return strings.Repeat("d", i+1) + ".example" })
		}},
		{"provisioning without a group", FieldDefaultGroup, func(p *Provider) { p.DefaultGroup = " " }},
		{"long default group", FieldDefaultGroup, func(p *Provider) { p.DefaultGroup = group.ID(strings.Repeat("g", MaxGroupIDLength+1)) }},
		{"default group with a NUL", FieldDefaultGroup, func(p *Provider) { p.DefaultGroup = "us\x00ers" }},
		{"group claim with a space", FieldGroupClaim, func(p *Provider) { p.GroupClaim = "my groups" }},
		{"group claim not ASCII", FieldGroupClaim, func(p *Provider) { p.GroupClaim = "grüppen" }},
		{"long group claim", FieldGroupClaim, func(p *Provider) { p.GroupClaim = strings.Repeat("c", MaxClaimNameLength+1) }},
		{"map without a claim", FieldGroupClaim, func(p *Provider) { p.GroupClaim = "" }},
		{"empty IdP group", FieldGroupMap, func(p *Provider) { p.GroupMap = map[string]group.ID{" ": "users"} }},
		{"long IdP group", FieldGroupMap, func(p *Provider) {
			p.GroupMap = map[string]group.ID{strings.Repeat("g", MaxIdPGroupLength+1): "users"}
		}},
		{"IdP group with a newline", FieldGroupMap, func(p *Provider) { p.GroupMap = map[string]group.ID{"a\nb": "users"} }},
		{"IdP group not UTF-8", FieldGroupMap, func(p *Provider) { p.GroupMap = map[string]group.ID{"a\xffb": "users"} }},
		{"IdP group twice once trimmed", FieldGroupMap, func(p *Provider) { p.GroupMap = map[string]group.ID{"staff": "users", " staff": "admin"} }},
		{"no local group", FieldGroupMap, func(p *Provider) { p.GroupMap = map[string]group.ID{"staff": " "} }},
		{"long local group", FieldGroupMap, func(p *Provider) {
			p.GroupMap = map[string]group.ID{"staff": group.ID(strings.Repeat("g", MaxGroupIDLength+1))}
		}},
		{"too many mapped groups", FieldGroupMap, func(p *Provider) { p.GroupMap = bigMap }},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := validProvider()
			tc.change(&p)
			before := p
			wantFieldError(t, NormalizeProvider(&p), tc.field)
			if !reflect.DeepEqual(p, before) {
				t.Errorf("a refused provider changed:\n got %+v\nwant %+v", p, before)
			}
		})
	}
}

func TestNormalizeProviderEveryPreset(t *testing.T) {
	for _, preset := range append([]string{""}, presetNames()...) {
		p := validProvider()
		p.Preset = preset
		if err := NormalizeProvider(&p); err != nil {
			t.Errorf("preset %q: %v", preset, err)
		}
	}
}

func presetNames() []string {
	var names []string
	for _, p := range Presets() {
		names = append(names, p.Name)
	}
	return names
}

func TestDomainAllowed(t *testing.T) {
	domains := []string{"example.com", "kample.com"}
	cases := []struct {
		name  string
		email string
		want  bool
	}{
		{"listed", "ann@example.com", true},
		{"second listed", "bob@kample.com", true},
		{"uppercase domain", "ann@EXAMPLE.Com", true},
		{"last @ counts", `"a@b"@example.com`, true},
		{"subdomain", "ann@mail.example.com", false},
		{"parent of a listed domain", "ann@com", false},
		{"suffix trick", "ann@example.com.evil.net", false},
		{"prefix trick", "ann@evil-example.com", false},
		{"Kelvin sign", "ann@\u212aample.com", false},
		{"trailing dot", "ann@example.com.", false},
		{"trailing space", "ann@example.com ", false},
		{"no @", "example.com", false},
		{"nothing after @", "ann@", false},
		{"empty", "", false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			if got := DomainAllowed(tc.email, domains); got != tc.want {
				t.Errorf("DomainAllowed(%q) = %v, want %v", tc.email, got, tc.want)
			}
		})
	}
	if DomainAllowed("ann@example.com", nil) {
		t.Error("no domain allows every email")
	}
}

func TestFieldErrorWithoutErr(t *testing.T) {
	err := &FieldError{Field: FieldName}
	if err.Error() != "name: invalid" || !errors.Is(err, ErrInvalidProvider) {
		t.Errorf("got %q", err)
	}
}

func TestCanonicalEmail(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"Kate@Example.com":      "kate@example.com",
		"  kate@example.com ":   "kate@example.com",
		"\u212Aate@example.com": "", // the Kelvin sign would fold into "k"
		"not an email":          "",
	} {
		got, err := CanonicalEmail(in)
		if want == "" {
			if !errors.Is(err, user.ErrInvalidEmail) {
				t.Errorf("CanonicalEmail(%q) = %q, %v; want ErrInvalidEmail", in, got, err)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("CanonicalEmail(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
}
