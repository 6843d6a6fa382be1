package oidcjson_test

import (
	"errors"
	"maps"
	"slices"
	"testing"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/store/internal/oidcjson"
)

func TestRoundTrip(t *testing.T) {
	for _, p := range []oidc.Provider{
		{},
		{Scopes: []string{}, AllowedDomains: []string{}, GroupMap: map[string]group.ID{}},
		{
			Scopes:         []string{"groups", "offline_access", "a\x00b", `"quoted" <html> & \back`, "ünïcode 👩‍💻", ""},
			AllowedDomains: []string{"example.com", "example.com", "EXAMPLE.org"},
			GroupMap:       map[string]group.ID{"admins": group.AdminID, "": "x", "a\x00": "\u2028\u2029", "z": ""},
		},
	} {
		f, err := oidcjson.Encode(&p)
		if err != nil {
			t.Fatalf("Encode(%+v): %v", p, err)
		}
		var got oidc.Provider
		got.Scopes = []string{"stale"}
		if err := oidcjson.Decode(f, &got); err != nil {
			t.Fatalf("Decode(%+v): %v", f, err)
		}
		if !slices.Equal(got.Scopes, p.Scopes) || !slices.Equal(got.AllowedDomains, p.AllowedDomains) ||
			!maps.Equal(got.GroupMap, p.GroupMap) {
			t.Errorf("round trip of %+v through %+v = %+v", p, f, got)
		}
		if len(p.Scopes) == 0 && (f.Scopes != "[]" || got.Scopes != nil) {
			t.Errorf("no scopes: stored %q, read %#v; want [] and nil", f.Scopes, got.Scopes)
		}
		if len(p.GroupMap) == 0 && (f.GroupMap != "{}" || got.GroupMap != nil) {
			t.Errorf("no group map: stored %q, read %#v; want {} and nil", f.GroupMap, got.GroupMap)
		}
	}
}

func TestInvalidUTF8(t *testing.T) {
	for _, p := range []oidc.Provider{
		{Scopes: []string{"ok", "bad\xff"}},
		{AllowedDomains: []string{"\xc3"}},
		{GroupMap: map[string]group.ID{"bad\xff": "users"}},
		{GroupMap: map[string]group.ID{"ok": "bad\xff"}},
	} {
		if _, err := oidcjson.Encode(&p); !errors.Is(err, oidc.ErrInvalidProvider) {
			t.Errorf("Encode(%+v) = %v, want %v", p, err, oidc.ErrInvalidProvider)
		}
	}
}

func TestDecodeBadText(t *testing.T) {
	for _, f := range []oidcjson.Fields{
		{Scopes: "", AllowedDomains: "[]", GroupMap: "{}"},
		{Scopes: "[]", AllowedDomains: "{", GroupMap: "{}"},
		{Scopes: "[]", AllowedDomains: "[]", GroupMap: "[1]"},
	} {
		var p oidc.Provider
		if err := oidcjson.Decode(f, &p); err == nil {
			t.Errorf("Decode(%+v) = nil, want an error", f)
		}
	}
}
