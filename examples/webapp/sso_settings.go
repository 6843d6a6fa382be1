package main

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
)

// Settings → Single sign-on: the providers, for sso:manage. usher checks
// the permission on every call; the GET routes are also guarded in
// routes.

type ssoSettingsData struct {
	Providers []auth.SSOProvider
	// Tested is the provider whose Test button was pressed, with what the
	// test found or why it failed.
	Tested    string
	Report    *auth.DiscoveryReport
	TestError string
}

func (s *server) ssoList(ctx context.Context, p *auth.Principal) (*ssoSettingsData, error) {
	ps, err := s.m.SSOProviders(ctx, p)
	if err != nil {
		return nil, err
	}
	return &ssoSettingsData{Providers: ps}, nil
}

func (s *server) ssoSettingsPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	d, err := s.ssoList(r.Context(), p)
	if err != nil {
		s.ssoSettingsFailed(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "sso", &view{Title: "Single sign-on", Data: d})
}

// ssoSettingsFailed answers a settings page that cannot be shown.
func (s *server) ssoSettingsFailed(w http.ResponseWriter, r *http.Request, err error) {
	if errors.Is(err, auth.ErrSSODisabled) {
		s.errorPage(w, r, http.StatusNotFound, "Single sign-on is off on this server (start it with -sso-callback).")
		return
	}
	if errors.Is(err, oidc.ErrNotFound) {
		s.errorPage(w, r, http.StatusNotFound, "There is no such provider, or it was deleted.")
		return
	}
	s.fail(w, r, err)
}

// testProvider fetches the provider's discovery document now and shows
// what it found on the list.
func (s *server) testProvider(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	rep, terr := s.m.TestProvider(r.Context(), p, id)
	if terr != nil && !errors.Is(terr, auth.ErrProviderUnavailable) {
		s.ssoSettingsFailed(w, r, terr)
		return
	}
	d, err := s.ssoList(r.Context(), p)
	if err != nil {
		s.ssoSettingsFailed(w, r, err)
		return
	}
	d.Tested, d.Report = id, rep
	status := http.StatusOK
	if terr != nil {
		d.TestError = strings.TrimPrefix(terr.Error(), auth.ErrProviderUnavailable.Error()+": ")
		status = http.StatusBadGateway
	}
	s.render(w, r, status, "sso", &view{Title: "Single sign-on", Data: d})
}

// presetInput is one input of the chosen preset.
type presetInput struct {
	oidc.PresetField
	Value string
}

// providerForm is the add/edit form, with what was typed.
type providerForm struct {
	New      bool
	Declared bool
	Provider oidc.Provider // ID, Name, ClientID, flags, Version as typed
	// Scopes, Domains and GroupMap are the text inputs' values.
	Scopes, Domains, GroupMap string
	Preset                    string
	Presets                   []oidc.Preset
	Fields                    []presetInput
	// Issuer is the stored issuer, kept when the preset's inputs are left
	// empty on edit.
	Issuer      string
	SecretHint  string
	CallbackURL string
	// Groups for the default group's select; nil when the actor may not
	// list groups (then a text input takes a group ID).
	Groups []group.Group
}

// presetFields are preset's inputs, with values.
func presetFields(preset string, values map[string]string) []presetInput {
	pr, ok := oidc.FindPreset(preset)
	if !ok {
		pr, _ = oidc.FindPreset(oidc.PresetGeneric)
	}
	var out []presetInput
	for _, f := range pr.Fields {
		out = append(out, presetInput{PresetField: f, Value: values[f.Key]})
	}
	return out
}

// newProviderForm is an empty form for preset, with the groups to choose
// from.
func (s *server) newProviderForm(ctx context.Context, p *auth.Principal, preset string) *providerForm {
	if _, ok := oidc.FindPreset(preset); !ok {
		preset = oidc.PresetGeneric
	}
	f := &providerForm{New: true, Preset: preset, Presets: oidc.Presets(), Fields: presetFields(preset, nil),
		Provider: oidc.Provider{Enabled: true, DefaultGroup: group.UsersID}}
	f.Groups, _ = s.m.ListGroups(ctx, p)
	return f
}

func (s *server) newProviderPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if !s.sso {
		s.ssoSettingsFailed(w, r, auth.ErrSSODisabled)
		return
	}
	f := s.newProviderForm(r.Context(), p, r.URL.Query().Get("preset"))
	s.render(w, r, http.StatusOK, "sso_form", &view{Title: "Add a provider", Data: f})
}

// editForm is the form for the stored provider id.
func (s *server) editForm(ctx context.Context, p *auth.Principal, id string) (*providerForm, error) {
	ps, err := s.m.SSOProviders(ctx, p)
	if err != nil {
		return nil, err
	}
	i := slices.IndexFunc(ps, func(v auth.SSOProvider) bool { return v.ID == id })
	if i < 0 {
		return nil, oidc.ErrNotFound
	}
	v := ps[i]
	f := &providerForm{Declared: v.Declared, Provider: v.Provider, Issuer: v.Issuer, SecretHint: v.SecretHint,
		CallbackURL: v.CallbackURL, Presets: oidc.Presets(), Preset: v.Preset,
		Scopes: strings.Join(v.Scopes, " "), Domains: strings.Join(v.AllowedDomains, ", ")}
	if f.Preset == "" {
		f.Preset = oidc.PresetGeneric
	}
	values := map[string]string{}
	if f.Preset == oidc.PresetGeneric {
		values[oidc.FieldIssuer] = v.Issuer
	}
	f.Fields = presetFields(f.Preset, values)
	f.Groups, _ = s.m.ListGroups(ctx, p)
	f.GroupMap = groupMapText(v.GroupMap, f.Groups)
	return f, nil
}

func (s *server) editProviderPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, err := s.editForm(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.ssoSettingsFailed(w, r, err)
		return
	}
	if preset := r.URL.Query().Get("preset"); preset != "" && preset != f.Preset {
		if _, ok := oidc.FindPreset(preset); ok {
			f.Preset, f.Fields = preset, presetFields(preset, nil)
		}
	}
	s.render(w, r, http.StatusOK, "sso_form", &view{Title: "Edit " + f.Provider.Name, Data: f})
}

// groupMapText writes a group map as the textarea shows it, one
// "idp-group = local-group-name" a line, local groups by name where known.
func groupMapText(m map[string]group.ID, groups []group.Group) string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		name := string(m[k])
		for _, g := range groups {
			if g.ID == m[k] {
				name = g.Name
			}
		}
		fmt.Fprintf(&b, "%s = %s\n", k, name)
	}
	return b.String()
}

// parseGroupMap reads the textarea: "idp-group = local-group" lines, the
// local group by name (or by ID).
func parseGroupMap(text string, groups []group.Group) (map[string]group.ID, error) {
	m := map[string]group.ID{}
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		if line == "" {
			continue
		}
		i := strings.LastIndex(line, "=")
		if i < 0 {
			return nil, fmt.Errorf("line %d: write \"idp-group = local group\"", n+1)
		}
		idp, local := strings.TrimSpace(line[:i]), strings.TrimSpace(line[i+1:])
		id, ok := group.ID(local), groups == nil
		for _, g := range groups {
			if g.Name == local || string(g.ID) == local {
				id, ok = g.ID, true
				break
			}
		}
		if !ok {
			return nil, fmt.Errorf("line %d: there is no group named %q", n+1, local)
		}
		m[idp] = id
	}
	return m, nil
}

// formValues reads the form into f and returns the provider it describes
// (its issuer built by the preset) and the client secret, or the inputs
// that are wrong.
func (s *server) formValues(r *http.Request, f *providerForm) (oidc.Provider, string, map[string]string) {
	errs := map[string]string{}
	on := func(k string) bool { return r.PostFormValue(k) != "" }
	p := oidc.Provider{
		ID: r.PostFormValue("id"), Name: r.PostFormValue("name"), ClientID: r.PostFormValue("client_id"),
		Enabled: on("enabled"), LinkByEmail: on("link_by_email"), Provisioning: on("provisioning"),
		DefaultGroup: group.ID(r.PostFormValue("default_group")), GroupClaim: r.PostFormValue("group_claim"),
		RequireSecondFactor: on("require_second_factor"), SatisfiesTwoFactor: on("satisfies_two_factor"),
	}
	if !f.New {
		p.ID = f.Provider.ID
		p.Version, _ = strconv.ParseInt(r.PostFormValue("version"), 10, 64)
	}
	f.Scopes, f.Domains, f.GroupMap = r.PostFormValue("scopes"), r.PostFormValue("allowed_domains"), r.PostFormValue("group_map")
	p.Scopes = strings.Fields(f.Scopes)
	p.AllowedDomains = strings.FieldsFunc(f.Domains, func(r rune) bool { return r == ',' || unicode.IsSpace(r) })
	gm, err := parseGroupMap(f.GroupMap, f.Groups)
	if err != nil {
		errs[oidc.FieldGroupMap] = err.Error()
	}
	p.GroupMap = gm
	if preset := r.PostFormValue("preset"); preset != "" {
		f.Preset = preset
	}
	values, empty := map[string]string{}, true
	for _, in := range presetFields(f.Preset, nil) {
		values[in.Key] = r.PostFormValue(in.Key)
		empty = empty && strings.TrimSpace(values[in.Key]) == ""
	}
	f.Fields = presetFields(f.Preset, values)
	p.Preset = f.Preset
	if !f.New && empty && f.Issuer != "" {
		p.Issuer = f.Issuer // the preset's inputs left empty keep the issuer
	} else if p.Issuer, err = oidc.BuildIssuer(f.Preset, values); err != nil {
		var fe *oidc.FieldError
		if errors.As(err, &fe) {
			errs[fe.Field] = sentence(fe.Err)
		}
	}
	f.Provider = p
	return p, r.PostFormValue("client_secret"), errs
}

// sentence is an oidc.FieldError's reason as a page shows it.
func sentence(err error) string {
	msg := err.Error()
	r, n := utf8.DecodeRuneInString(msg)
	return string(unicode.ToUpper(r)) + msg[n:] + "."
}

func (s *server) createProvider(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f := s.newProviderForm(r.Context(), p, r.PostFormValue("preset"))
	prov, secret, errs := s.formValues(r, f)
	v := &view{Title: "Add a provider", Data: f}
	if len(errs) > 0 {
		v.Errors = errs
		s.render(w, r, http.StatusBadRequest, "sso_form", v)
		return
	}
	if _, err := s.m.CreateProvider(r.Context(), p, prov, secret); err != nil {
		s.providerFailed(w, r, err, v)
		return
	}
	redirect(w, r, "/settings/sso?done=provider-created")
}

func (s *server) updateProvider(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	f, err := s.editForm(r.Context(), p, id)
	if err != nil {
		s.ssoSettingsFailed(w, r, err)
		return
	}
	prov, secret, errs := s.formValues(r, f)
	v := &view{Title: "Edit " + prov.Name, Data: f}
	if len(errs) > 0 {
		v.Errors = errs
		s.render(w, r, http.StatusBadRequest, "sso_form", v)
		return
	}
	if _, err := s.m.UpdateProvider(r.Context(), p, prov, secret); err != nil {
		if errors.Is(err, oidc.ErrStale) {
			cur, ferr := s.editForm(r.Context(), p, id)
			if ferr != nil {
				s.ssoSettingsFailed(w, r, ferr)
				return
			}
			s.render(w, r, http.StatusConflict, "sso_form", &view{Title: "Edit " + cur.Provider.Name, Data: cur, Error: staleMessage})
			return
		}
		s.providerFailed(w, r, err, v)
		return
	}
	redirect(w, r, "/settings/sso?done=provider-saved")
}

// providerFailed shows the form again with usher's refusal next to the
// input it names, or answers with the page the error deserves.
func (s *server) providerFailed(w http.ResponseWriter, r *http.Request, err error, v *view) {
	var fe *oidc.FieldError
	switch {
	case errors.As(err, &fe):
		v.fieldError(problem{http.StatusBadRequest, fe.Field, sentence(fe.Err)})
		s.render(w, r, http.StatusBadRequest, "sso_form", v)
	case errors.Is(err, oidc.ErrProviderExists):
		v.fieldError(problem{http.StatusConflict, oidc.FieldID, "A provider with this ID exists already."})
		s.render(w, r, http.StatusConflict, "sso_form", v)
	case errors.Is(err, oidc.ErrInvalidProvider):
		// Not a FieldError of oidc's: a group the provider names is gone.
		v.Error = "A group this provider puts people in does not exist; choose another."
		s.render(w, r, http.StatusBadRequest, "sso_form", v)
	default:
		s.ssoSettingsFailed(w, r, err)
	}
}

func (s *server) deleteProviderConfirm(f *providerForm) *confirmData {
	id := url.PathEscape(f.Provider.ID)
	return &confirmData{
		Question: "Delete the provider " + f.Provider.Name + "?",
		Warning:  "Everyone's accounts linked through it are unlinked: they log in another way, or link again. This cannot be undone.",
		Action:   "/settings/sso/" + id + "/delete", Button: "Delete provider", Cancel: "/settings/sso/" + id,
	}
}

func (s *server) deleteProviderPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f, err := s.editForm(r.Context(), p, r.PathValue("id"))
	if err != nil {
		s.ssoSettingsFailed(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "confirm", &view{Title: "Delete provider", Data: s.deleteProviderConfirm(f)})
}

func (s *server) deleteProvider(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := s.m.DeleteProvider(r.Context(), p, r.PathValue("id")); err != nil {
		s.ssoSettingsFailed(w, r, err)
		return
	}
	redirect(w, r, "/settings/sso?done=provider-deleted")
}
