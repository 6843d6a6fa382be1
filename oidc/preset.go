package oidc

import (
	"errors"
	"net/url"
	"strings"
)

// The presets' names, the values of Provider.Preset.
const (
	PresetAuthentik = "authentik"
	PresetKeycloak  = "keycloak"
	PresetAuthelia  = "authelia"
	PresetPocketID  = "pocket-id"
	PresetGoogle    = "google"
	PresetEntra     = "entra"
	PresetGitLab    = "gitlab"
	PresetGeneric   = "generic"
)

// Issuers of the hosted providers.
const (
	googleIssuer = "https://accounts.google.com"
	gitLabIssuer = "https://gitlab.com"
)

// MaxPresetValueLength bounds a preset's field that is not a URL (a slug,
// a realm, a tenant).
const MaxPresetValueLength = 255

// Preset builds a provider's issuer URL from what a person knows about
// their identity provider: its address and the name of a realm or an
// application, say, rather than the issuer itself, which each provider
// spells its own way. [Presets] lists them; docs/sso.md says, for each,
// what to set up at the provider and what to enter here.
type Preset struct {
	// Name is the preset's name, a Preset constant, stored in
	// Provider.Preset.
	Name string
	// Label names the provider for people ("Microsoft Entra ID").
	Label string
	// Fields are what the person enters, in order; none for Google.
	Fields []PresetField

	build func(values map[string]string) (string, error)
}

// PresetField is one value a [Preset] asks for.
type PresetField struct {
	// Key names the value in the map given to [Preset.Build], and the
	// field of a [*FieldError] about it: a Field constant ([FieldBaseURL],
	// [FieldRealm], ...).
	Key string
	// Label and Help are for the form: the input's name, and one line on
	// what to enter and where the provider shows it.
	Label string
	Help  string
	// Example is a sample value, for a placeholder.
	Example string
	// Default is used when the value is empty or missing. A field with
	// neither a Default nor Checkbox set is required.
	Default string
	// Checkbox marks a yes-or-no field: "true", "on", "yes" or "1" for
	// yes; "false", "off", "no", "0" or empty for no.
	Checkbox bool
}

// Build returns the issuer the preset builds from values (keyed by
// [PresetField].Key; other keys are ignored). Values are trimmed, and
// trailing slashes are removed from a base URL, before they are checked:
// a base URL as [CheckIssuer] checks an issuer, other values as the
// preset's help says. The result passes [CheckIssuer]. Errors are a
// [*FieldError] naming the field.
func (p Preset) Build(values map[string]string) (string, error) {
	if p.build == nil {
		return "", fieldErr(FieldPreset, "unknown preset %q", p.Name)
	}
	issuer, err := p.build(values)
	if err != nil {
		return "", err
	}
	if err := CheckIssuer(issuer); err != nil {
		return "", err
	}
	return issuer, nil
}

// Presets returns every preset, in the order a form would offer them, the
// generic one last. The slice is the caller's to change.
func Presets() []Preset {
	return []Preset{
		authentikPreset(), keycloakPreset(), autheliaPreset(), pocketIDPreset(),
		googlePreset(), entraPreset(), gitLabPreset(), genericPreset(),
	}
}

// FindPreset returns the preset named name.
func FindPreset(name string) (Preset, bool) {
	for _, p := range Presets() {
		if p.Name == name {
			return p, true
		}
	}
	return Preset{}, false
}

// BuildIssuer builds an issuer with the preset named preset ("" is the
// generic one): see [Preset.Build]. An unknown preset is a [*FieldError]
// for [FieldPreset].
func BuildIssuer(preset string, values map[string]string) (string, error) {
	if preset == "" {
		preset = PresetGeneric
	}
	p, ok := FindPreset(preset)
	if !ok {
		return "", fieldErr(FieldPreset, "unknown preset %q", preset)
	}
	return p.Build(values)
}

// baseURLField is the field of a preset's base URL.
func baseURLField(help, example string) PresetField {
	return PresetField{Key: FieldBaseURL, Label: "Base URL", Help: help, Example: example}
}

func authentikPreset() Preset {
	return Preset{
		Name:  PresetAuthentik,
		Label: "authentik",
		Fields: []PresetField{
			baseURLField("The address of your authentik server.", "https://auth.example.com"),
			{Key: FieldSlug, Label: "Application slug", Help: "The slug of the authentik application that uses the OAuth2/OpenID provider (Applications → your application).", Example: "usher"},
		},
		build: func(v map[string]string) (string, error) {
			base, err := baseURL(v, "", "/application/o/")
			if err != nil {
				return "", err
			}
			slug, err := authentikSlug(v)
			if err != nil {
				return "", err
			}
			// authentik's per-provider issuer ends with a slash.
			return base + "/application/o/" + slug + "/", nil
		},
	}
}

func keycloakPreset() Preset {
	return Preset{
		Name:  PresetKeycloak,
		Label: "Keycloak",
		Fields: []PresetField{
			baseURLField("The address of your Keycloak server, without /realms/….", "https://sso.example.com"),
			{Key: FieldRealm, Label: "Realm", Help: "The name of the realm your users are in.", Example: "staff"},
			{Key: FieldAuthPrefix, Label: "Legacy /auth prefix", Help: "Check for Keycloak before 17 (the WildFly distribution), or one started with --http-relative-path=/auth: its URLs start with /auth.", Checkbox: true},
		},
		build: func(v map[string]string) (string, error) {
			base, err := baseURL(v, "", "/realms/")
			if err != nil {
				return "", err
			}
			realm, err := pathSegment(v, FieldRealm)
			if err != nil {
				return "", err
			}
			prefix, err := checkbox(v, FieldAuthPrefix)
			if err != nil {
				return "", err
			}
			if prefix {
				base += "/auth"
			}
			return base + "/realms/" + realm, nil
		},
	}
}

func autheliaPreset() Preset {
	return Preset{
		Name:   PresetAuthelia,
		Label:  "Authelia",
		Fields: []PresetField{baseURLField("The address of your Authelia portal (its issuer).", "https://auth.example.com")},
		build:  func(v map[string]string) (string, error) { return baseURL(v, "", "") },
	}
}

func pocketIDPreset() Preset {
	return Preset{
		Name:   PresetPocketID,
		Label:  "Pocket ID",
		Fields: []PresetField{baseURLField("The address of your Pocket ID server (its APP_URL).", "https://id.example.com")},
		build:  func(v map[string]string) (string, error) { return baseURL(v, "", "") },
	}
}

func googlePreset() Preset {
	return Preset{
		Name:  PresetGoogle,
		Label: "Google",
		build: func(map[string]string) (string, error) { return googleIssuer, nil },
	}
}

func entraPreset() Preset {
	return Preset{
		Name:  PresetEntra,
		Label: "Microsoft Entra ID",
		Fields: []PresetField{
			{Key: FieldTenant, Label: "Directory (tenant) ID", Help: "The tenant's ID, a GUID, from the app registration's Overview page. A domain name or \"common\" will not do: Entra's discovery document names the tenant by its ID.", Example: "6f1d3c9e-2b7a-4c51-9e0d-8a4b2f6c1d37"},
		},
		build: func(v map[string]string) (string, error) {
			tenant, err := entraTenant(v)
			if err != nil {
				return "", err
			}
			return "https://login.microsoftonline.com/" + tenant + "/v2.0", nil
		},
	}
}

func gitLabPreset() Preset {
	return Preset{
		Name:  PresetGitLab,
		Label: "GitLab",
		Fields: []PresetField{
			{Key: FieldBaseURL, Label: "GitLab URL", Help: "The address of your GitLab instance; leave empty for GitLab.com.", Example: "https://gitlab.example.com", Default: gitLabIssuer},
		},
		build: func(v map[string]string) (string, error) { return baseURL(v, gitLabIssuer, "") },
	}
}

func genericPreset() Preset {
	return Preset{
		Name:  PresetGeneric,
		Label: "Other OpenID provider",
		Fields: []PresetField{
			{Key: FieldIssuer, Label: "Issuer URL", Help: "The issuer exactly as the provider's discovery document (…/.well-known/openid-configuration) states it, trailing slash included if it has one.", Example: "https://login.example.com"},
		},
		build: func(v map[string]string) (string, error) {
			issuer := strings.TrimSpace(v[FieldIssuer])
			return issuer, CheckIssuer(issuer)
		},
	}
}

// baseURL reads values' base URL (def if empty), trims its trailing
// slashes and checks it as an issuer. notIn is a path a person may paste
// with the base URL by mistake (a whole issuer), refused with a word on
// what to enter instead.
func baseURL(values map[string]string, def, notIn string) (string, error) {
	v := strings.TrimSpace(values[FieldBaseURL])
	if v == "" {
		v = def
	}
	if v == "" {
		return "", fieldErr(FieldBaseURL, "empty")
	}
	v = strings.TrimRight(v, "/")
	if err := issuerProblem(v); err != nil {
		return "", &FieldError{Field: FieldBaseURL, Err: err}
	}
	if notIn != "" && strings.Contains(v+"/", notIn) {
		return "", fieldErr(FieldBaseURL, "enter the server's address alone, without %s…", notIn)
	}
	return v, nil
}

// authentikSlug reads the application slug: letters, digits, '-' and '_',
// as authentik allows.
func authentikSlug(values map[string]string) (string, error) {
	v := strings.TrimSpace(values[FieldSlug])
	switch {
	case v == "":
		return "", fieldErr(FieldSlug, "empty")
	case len(v) > MaxPresetValueLength:
		return "", fieldErr(FieldSlug, "longer than %d bytes", MaxPresetValueLength)
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		if !isLowerAlnum(c) && !('A' <= c && c <= 'Z') && c != '-' && c != '_' {
			return "", fieldErr(FieldSlug, "a slug holds only letters, digits, '-' and '_'")
		}
	}
	return v, nil
}

// pathSegment reads a value that becomes one URL path segment (a realm's
// name) and returns it percent-escaped. It is taken as the name shows,
// not already escaped: '%' is refused, as are '/', '\', '?', '#', "." and
// "..", which would change the URL's shape rather than name a segment.
func pathSegment(values map[string]string, key string) (string, error) {
	v := strings.TrimSpace(values[key])
	switch {
	case v == "":
		return "", fieldErr(key, "empty")
	case len(v) > MaxPresetValueLength:
		return "", fieldErr(key, "longer than %d bytes", MaxPresetValueLength)
	case v == "." || v == "..":
		return "", fieldErr(key, "cannot be %q", v)
	case strings.ContainsAny(v, `/\?#%`):
		return "", fieldErr(key, `cannot hold '/', '\', '?', '#' or '%%': enter the name as shown, not as it appears in a URL`)
	}
	if err := checkText(v); err != nil {
		return "", &FieldError{Field: key, Err: err}
	}
	return url.PathEscape(v), nil
}

// checkbox reads a yes-or-no value (see [PresetField].Checkbox).
func checkbox(values map[string]string, key string) (bool, error) {
	switch strings.ToLower(strings.TrimSpace(values[key])) {
	case "", "false", "off", "no", "0":
		return false, nil
	case "true", "on", "yes", "1":
		return true, nil
	}
	return false, fieldErr(key, "must be true or false")
}

// multiTenant are Entra's aliases that stand for many tenants: their
// discovery documents state no usable issuer.
var multiTenant = map[string]bool{"common": true, "organizations": true, "consumers": true}

// entraTenant reads a Directory (tenant) ID, a GUID, in lower case as
// Entra's issuer spells it.
func entraTenant(values map[string]string) (string, error) {
	v := strings.ToLower(strings.TrimSpace(values[FieldTenant]))
	switch {
	case v == "":
		return "", fieldErr(FieldTenant, "empty")
	case isGUID(v):
		return v, nil
	case multiTenant[v]:
		return "", &FieldError{Field: FieldTenant, Err: errEntraMultiTenant}
	case strings.Contains(v, "."):
		return "", &FieldError{Field: FieldTenant, Err: errEntraDomain}
	}
	return "", fieldErr(FieldTenant, "must be the Directory (tenant) ID, a GUID such as 6f1d3c9e-2b7a-4c51-9e0d-8a4b2f6c1d37")
}

var (
	errEntraMultiTenant = errors.New("a multi-tenant endpoint has no fixed issuer, so its tokens cannot be checked: enter your Directory (tenant) ID, a GUID")
	errEntraDomain      = errors.New("enter the Directory (tenant) ID, a GUID, not a domain: Entra's discovery document names the tenant by its ID, so an issuer built from a domain never matches it")
)

// isGUID reports whether s is a GUID in its 8-4-4-4-12 hex form, lower
// case.
func isGUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 || i == 13 || i == 18 || i == 23 {
			if c != '-' {
				return false
			}
		} else if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}
