package oidc

import (
	"errors"
	"strings"
	"testing"
)

type vals = map[string]string

func TestPresetsBuild(t *testing.T) {
	const guid = "6f1d3c9e-2b7a-4c51-9e0d-8a4b2f6c1d37"
	cases := []struct {
		name   string
		preset string
		values vals
		want   string
	}{
		{"authentik", PresetAuthentik, vals{"base_url": "https://auth.example.com", "slug": "usher"}, "https://auth.example.com/application/o/usher/"},
		{"authentik trailing slashes", PresetAuthentik, vals{"base_url": " https://auth.example.com// ", "slug": " my_App-2 "}, "https://auth.example.com/application/o/my_App-2/"},
		{"authentik under a path", PresetAuthentik, vals{"base_url": "https://example.com/authentik/", "slug": "usher"}, "https://example.com/authentik/application/o/usher/"},
		{"keycloak", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "staff"}, "https://sso.example.com/realms/staff"},
		{"keycloak trailing slash", PresetKeycloak, vals{"base_url": "https://sso.example.com/", "realm": "staff", "auth_prefix": "false"}, "https://sso.example.com/realms/staff"},
		{"keycloak legacy prefix", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "staff", "auth_prefix": "true"}, "https://sso.example.com/auth/realms/staff"},
		{"keycloak checkbox on", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "staff", "auth_prefix": "on"}, "https://sso.example.com/auth/realms/staff"},
		{"keycloak prefix typed in the base", PresetKeycloak, vals{"base_url": "https://sso.example.com/auth", "realm": "staff"}, "https://sso.example.com/auth/realms/staff"},
		{"keycloak realm escaped", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "Équipe A"}, "https://sso.example.com/realms/%C3%89quipe%20A"},
		{"keycloak port", PresetKeycloak, vals{"base_url": "https://sso.example.com:8443", "realm": "master"}, "https://sso.example.com:8443/realms/master"},
		{"keycloak on localhost", PresetKeycloak, vals{"base_url": "http://localhost:8080", "realm": "dev"}, "http://localhost:8080/realms/dev"},
		{"authelia", PresetAuthelia, vals{"base_url": "https://auth.example.com/"}, "https://auth.example.com"},
		{"authelia under a path", PresetAuthelia, vals{"base_url": "https://example.com/authelia"}, "https://example.com/authelia"},
		{"pocket id", PresetPocketID, vals{"base_url": "https://id.example.com"}, "https://id.example.com"},
		{"pocket id trailing slash", PresetPocketID, vals{"base_url": "https://id.example.com/"}, "https://id.example.com"},
		{"google", PresetGoogle, nil, "https://accounts.google.com"},
		{"google ignores values", PresetGoogle, vals{"base_url": "https://evil.example"}, "https://accounts.google.com"},
		{"entra", PresetEntra, vals{"tenant": guid}, "https://login.microsoftonline.com/" + guid + "/v2.0"},
		{"entra uppercase tenant", PresetEntra, vals{"tenant": " " + strings.ToUpper(guid) + " "}, "https://login.microsoftonline.com/" + guid + "/v2.0"},
		{"gitlab.com by default", PresetGitLab, vals{}, "https://gitlab.com"},
		{"gitlab.com when blank", PresetGitLab, vals{"base_url": "  "}, "https://gitlab.com"},
		{"gitlab self-managed", PresetGitLab, vals{"base_url": "https://gitlab.example.com/"}, "https://gitlab.example.com"},
		{"gitlab under a path", PresetGitLab, vals{"base_url": "https://example.com/gitlab"}, "https://example.com/gitlab"},
		{"generic", PresetGeneric, vals{"issuer": " https://login.example.com/tenant/ "}, "https://login.example.com/tenant/"},
		{"generic keeps no slash", PresetGeneric, vals{"issuer": "https://login.example.com"}, "https://login.example.com"},
		{"empty preset is generic", "", vals{"issuer": "https://login.example.com/"}, "https://login.example.com/"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BuildIssuer(tc.preset, tc.values)
			if err != nil {
				t.Fatal(err)
			}
			if got != tc.want {
				t.Errorf("got %q, want %q", got, tc.want)
			}
			if err := CheckIssuer(got); err != nil {
				t.Errorf("built issuer refused: %v", err)
			}
		})
	}
}

func TestPresetsRefuse(t *testing.T) {
	huge := strings.Repeat("a", 100<<10)
	cases := []struct {
		name   string
		preset string
		values vals
		field  string
	}{
		{"unknown preset", "okta", vals{"issuer": "https://x.example"}, FieldPreset},
		{"authentik without base", PresetAuthentik, vals{"slug": "usher"}, FieldBaseURL},
		{"authentik http base", PresetAuthentik, vals{"base_url": "http://auth.example.com", "slug": "usher"}, FieldBaseURL},
		{"authentik whole issuer as base", PresetAuthentik, vals{"base_url": "https://auth.example.com/application/o/usher/", "slug": "usher"}, FieldBaseURL},
		{"authentik without slug", PresetAuthentik, vals{"base_url": "https://auth.example.com"}, FieldSlug},
		{"authentik slug with a slash", PresetAuthentik, vals{"base_url": "https://auth.example.com", "slug": "a/b"}, FieldSlug},
		{"authentik slug with a space", PresetAuthentik, vals{"base_url": "https://auth.example.com", "slug": "my app"}, FieldSlug},
		{"authentik slug with a dot", PresetAuthentik, vals{"base_url": "https://auth.example.com", "slug": ".."}, FieldSlug},
		{"authentik 100 KB slug", PresetAuthentik, vals{"base_url": "https://auth.example.com", "slug": huge}, FieldSlug},
		{"keycloak without base", PresetKeycloak, vals{"realm": "staff"}, FieldBaseURL},
		{"keycloak ftp base", PresetKeycloak, vals{"base_url": "ftp://sso.example.com", "realm": "staff"}, FieldBaseURL},
		{"keycloak base with a query", PresetKeycloak, vals{"base_url": "https://sso.example.com/?x=1", "realm": "staff"}, FieldBaseURL},
		{"keycloak base with a fragment", PresetKeycloak, vals{"base_url": "https://sso.example.com/#x", "realm": "staff"}, FieldBaseURL},
		{"keycloak base with user info", PresetKeycloak, vals{"base_url": "https://admin:pw@sso.example.com", "realm": "staff"}, FieldBaseURL},
		{"keycloak whole issuer as base", PresetKeycloak, vals{"base_url": "https://sso.example.com/realms/staff", "realm": "staff"}, FieldBaseURL},
		{"keycloak 100 KB base", PresetKeycloak, vals{"base_url": "https://sso.example.com/" + huge, "realm": "staff"}, FieldBaseURL},
		{"keycloak without realm", PresetKeycloak, vals{"base_url": "https://sso.example.com"}, FieldRealm},
		{"keycloak realm with a slash", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "staff/../master"}, FieldRealm},
		{"keycloak realm dot-dot", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": ".."}, FieldRealm},
		{"keycloak realm dot", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "."}, FieldRealm},
		{"keycloak realm already escaped", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "my%20realm"}, FieldRealm},
		{"keycloak realm with a query", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "staff?x=1"}, FieldRealm},
		{"keycloak realm with a fragment", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "staff#x"}, FieldRealm},
		{"keycloak realm with a backslash", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": `a\b`}, FieldRealm},
		{"keycloak realm with a newline", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "a\nb"}, FieldRealm},
		{"keycloak realm not UTF-8", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "a\xffb"}, FieldRealm},
		{"keycloak 100 KB realm", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": huge}, FieldRealm},
		{"keycloak bad checkbox", PresetKeycloak, vals{"base_url": "https://sso.example.com", "realm": "staff", "auth_prefix": "maybe"}, FieldAuthPrefix},
		{"keycloak issuer too long", PresetKeycloak, vals{"base_url": "https://sso.example.com/" + strings.Repeat("p", MaxIssuerLength-40), "realm": strings.Repeat("r", 200)}, FieldIssuer},
		{"authelia without base", PresetAuthelia, vals{}, FieldBaseURL},
		{"authelia http base", PresetAuthelia, vals{"base_url": "http://auth.example.com"}, FieldBaseURL},
		{"authelia slash only", PresetAuthelia, vals{"base_url": "/"}, FieldBaseURL},
		{"pocket id without base", PresetPocketID, vals{"base_url": " "}, FieldBaseURL},
		{"pocket id base with a query", PresetPocketID, vals{"base_url": "https://id.example.com?x"}, FieldBaseURL},
		{"entra without tenant", PresetEntra, vals{}, FieldTenant},
		{"entra domain", PresetEntra, vals{"tenant": "contoso.onmicrosoft.com"}, FieldTenant},
		{"entra common", PresetEntra, vals{"tenant": "common"}, FieldTenant},
		{"entra organizations", PresetEntra, vals{"tenant": "organizations"}, FieldTenant},
		{"entra consumers", PresetEntra, vals{"tenant": "Consumers"}, FieldTenant},
		{"entra GUID in braces", PresetEntra, vals{"tenant": "{6f1d3c9e-2b7a-4c51-9e0d-8a4b2f6c1d37}"}, FieldTenant},
		{"entra short GUID", PresetEntra, vals{"tenant": "6f1d3c9e-2b7a-4c51-9e0d-8a4b2f6c1d3"}, FieldTenant},
		{"entra GUID without dashes", PresetEntra, vals{"tenant": "6f1d3c9e2b7a4c519e0d8a4b2f6c1d37aaaa"}, FieldTenant},
		{"entra not hex", PresetEntra, vals{"tenant": "6f1d3c9e-2b7a-4c51-9e0d-8a4b2f6c1dzz"}, FieldTenant},
		{"entra path trick", PresetEntra, vals{"tenant": "../evil"}, FieldTenant},
		{"entra 100 KB", PresetEntra, vals{"tenant": huge}, FieldTenant},
		{"gitlab http base", PresetGitLab, vals{"base_url": "http://gitlab.example.com"}, FieldBaseURL},
		{"gitlab base with a fragment", PresetGitLab, vals{"base_url": "https://gitlab.example.com/#x"}, FieldBaseURL},
		{"generic empty", PresetGeneric, vals{}, FieldIssuer},
		{"generic ftp", PresetGeneric, vals{"issuer": "ftp://x.example"}, FieldIssuer},
		{"generic http", PresetGeneric, vals{"issuer": "http://x.example"}, FieldIssuer},
		{"generic query", PresetGeneric, vals{"issuer": "https://x.example/?a=b"}, FieldIssuer},
		{"generic fragment", PresetGeneric, vals{"issuer": "https://x.example/#a"}, FieldIssuer},
		{"generic user info", PresetGeneric, vals{"issuer": "https://u:p@x.example/"}, FieldIssuer},
		{"generic 100 KB", PresetGeneric, vals{"issuer": "https://x.example/" + huge}, FieldIssuer},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got, err := BuildIssuer(tc.preset, tc.values)
			if got != "" {
				t.Errorf("built %q on a refusal", got)
			}
			wantFieldError(t, err, tc.field)
		})
	}
}

func TestPresetsList(t *testing.T) {
	want := []string{PresetAuthentik, PresetKeycloak, PresetAuthelia, PresetPocketID, PresetGoogle, PresetEntra, PresetGitLab, PresetGeneric}
	if got := presetNames(); strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("presets %v, want %v", got, want)
	}
	fieldKeys := map[string]bool{FieldBaseURL: true, FieldSlug: true, FieldRealm: true, FieldAuthPrefix: true, FieldTenant: true, FieldIssuer: true}
	for _, p := range Presets() {
		if p.Label == "" {
			t.Errorf("%s: no label", p.Name)
		}
		if err := CheckID(p.Name); err != nil {
			t.Errorf("%s: a preset's name should read as an ID: %v", p.Name, err)
		}
		seen := map[string]bool{}
		for _, f := range p.Fields {
			if !fieldKeys[f.Key] || seen[f.Key] {
				t.Errorf("%s: field key %q unknown or repeated", p.Name, f.Key)
			}
			seen[f.Key] = true
			if f.Label == "" || f.Help == "" {
				t.Errorf("%s.%s: no label or help", p.Name, f.Key)
			}
		}
		// Each preset's examples build an issuer.
		values := vals{}
		for _, f := range p.Fields {
			values[f.Key] = f.Example
		}
		if _, err := p.Build(values); err != nil {
			t.Errorf("%s: its examples do not build: %v", p.Name, err)
		}
	}
}

func TestPresetsAreCopies(t *testing.T) {
	ps := Presets()
	ps[1].Fields[0].Key = "changed"
	ps[0].Name = "changed"
	if p, ok := FindPreset(PresetKeycloak); !ok || p.Fields[0].Key != FieldBaseURL {
		t.Error("changing the returned presets changed the next call's")
	}
	if _, ok := FindPreset("changed"); ok {
		t.Error("found a preset by a changed name")
	}
}

func TestZeroPresetRefuses(t *testing.T) {
	_, err := Preset{}.Build(vals{"issuer": "https://x.example"})
	wantFieldError(t, err, FieldPreset)
	if _, ok := FindPreset(""); ok {
		t.Error(`FindPreset("") found a preset`)
	}
}

func TestPresetErrorsAreFieldErrors(t *testing.T) {
	_, err := BuildIssuer(PresetEntra, vals{"tenant": "contoso.com"})
	var fe *FieldError
	if !errors.As(err, &fe) || !strings.Contains(fe.Err.Error(), "Directory (tenant) ID") {
		t.Errorf("a domain tenant should say to enter the tenant ID; got %v", err)
	}
}
