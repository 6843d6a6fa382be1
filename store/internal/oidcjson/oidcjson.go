// Package oidcjson turns the list and map fields of an [oidc.Provider]
// (Scopes, AllowedDomains, GroupMap) into the JSON text store/sqlite and
// store/postgres keep them in, and back, the same way in both stores.
//
// JSON cannot carry invalid UTF-8 (encoding/json would replace it with
// U+FFFD), so a string that is not valid UTF-8 is refused with
// [oidc.ErrInvalidProvider] rather than stored changed. Any other string,
// NUL included, round-trips.
package oidcjson

import (
	"encoding/json"
	"fmt"
	"unicode/utf8"

	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
)

// Fields are a provider's list and map fields as JSON text: arrays of
// strings and an object of strings. A nil list is "[]" and a nil map "{}".
type Fields struct {
	Scopes         string
	AllowedDomains string
	GroupMap       string
}

// Encode returns p's list and map fields as JSON text.
func Encode(p *oidc.Provider) (Fields, error) {
	var f Fields
	var err error
	if f.Scopes, err = encodeList("Scopes", p.Scopes); err != nil {
		return Fields{}, err
	}
	if f.AllowedDomains, err = encodeList("AllowedDomains", p.AllowedDomains); err != nil {
		return Fields{}, err
	}
	for k, v := range p.GroupMap {
		if !utf8.ValidString(k) || !utf8.ValidString(string(v)) {
			return Fields{}, invalid("GroupMap")
		}
	}
	if len(p.GroupMap) == 0 {
		f.GroupMap = "{}"
		return f, nil
	}
	b, err := json.Marshal(p.GroupMap) // keys sorted
	if err != nil {
		return Fields{}, fmt.Errorf("oidcjson: GroupMap: %w", err)
	}
	f.GroupMap = string(b)
	return f, nil
}

func encodeList(field string, list []string) (string, error) {
	if len(list) == 0 {
		return "[]", nil
	}
	for _, s := range list {
		if !utf8.ValidString(s) {
			return "", invalid(field)
		}
	}
	b, err := json.Marshal(list)
	if err != nil {
		return "", fmt.Errorf("oidcjson: %s: %w", field, err)
	}
	return string(b), nil
}

func invalid(field string) error {
	return fmt.Errorf("%w: %s holds invalid UTF-8", oidc.ErrInvalidProvider, field)
}

// Decode sets p's list and map fields from f; an empty list or map is nil.
func Decode(f Fields, p *oidc.Provider) error {
	p.Scopes, p.AllowedDomains, p.GroupMap = nil, nil, nil
	if err := decodeList("Scopes", f.Scopes, &p.Scopes); err != nil {
		return err
	}
	if err := decodeList("AllowedDomains", f.AllowedDomains, &p.AllowedDomains); err != nil {
		return err
	}
	var m map[string]group.ID
	if err := json.Unmarshal([]byte(f.GroupMap), &m); err != nil {
		return fmt.Errorf("oidcjson: GroupMap: %w", err)
	}
	if len(m) > 0 {
		p.GroupMap = m
	}
	return nil
}

func decodeList(field, text string, list *[]string) error {
	var l []string
	if err := json.Unmarshal([]byte(text), &l); err != nil {
		return fmt.Errorf("oidcjson: %s: %w", field, err)
	}
	if len(l) > 0 {
		*list = l
	}
	return nil
}
