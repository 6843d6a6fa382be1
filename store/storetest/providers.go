package storetest

import (
	"bytes"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

var oidcProviderTests = []test{
	{"RoundTrip", testProviderRoundTrip},
	{"NotFound", testProviderNotFound},
	{"Exists", testProviderExists},
	{"Update", testProviderUpdate},
	{"UpdateStale", testProviderUpdateStale},
	{"UpdateRace", testProviderUpdateRace},
	{"SetSecret", testProviderSetSecret},
	{"Delete", testProviderDelete},
	{"GroupNotHeld", testProviderGroupNotHeld},
	{"OddText", testProviderOddText},
	{"UnderOtherKey", testProviderUnderOtherKey},
	{"UnderOtherKeyPaging", testProviderUnderOtherKeyPaging},
	{"Reseal", testProviderReseal},
	{"RefusalsInAtomic", testProviderRefusalsInAtomic},
}

// newProvider returns an unsaved provider with every field set, its
// secret sealed under key ID "k1".
func newProvider() *oidc.Provider {
	id := "idp-" + newID()[:12]
	return &oidc.Provider{
		ID:                  id,
		Name:                "Keycloak " + id,
		Preset:              "keycloak",
		Issuer:              "https://sso.example.com/realms/" + id,
		ClientID:            "usher-" + id,
		KeyID:               "k1",
		SealedSecret:        randomBytes(60),
		Scopes:              []string{"groups", "offline_access"},
		Enabled:             true,
		LinkByEmail:         true,
		Provisioning:        true,
		AllowedDomains:      []string{"example.com", "example.org"},
		DefaultGroup:        group.UsersID,
		GroupClaim:          "groups",
		GroupMap:            map[string]group.ID{"idp-admins": group.AdminID, "staff": group.UsersID},
		RequireSecondFactor: true,
		SatisfiesTwoFactor:  true,
		CreatedAt:           base,
		UpdatedAt:           base.Add(time.Minute),
	}
}

// createProvider saves a new provider and checks it got Version 1.
func createProvider(t *testing.T, s auth.Store) *oidc.Provider {
	t.Helper()
	p := newProvider()
	mustCreateProvider(t, s, p)
	return p
}

func mustCreateProvider(t *testing.T, s auth.Store, p *oidc.Provider) {
	t.Helper()
	p.Version = 0
	must(t, "Providers().Create("+p.ID+")", s.Providers().Create(ctx(t), p))
	if p.Version != 1 {
		t.Errorf("Providers().Create set Version %d, want 1", p.Version)
	}
}

func checkProvider(t *testing.T, what string, got, want *oidc.Provider) {
	t.Helper()
	if got == nil {
		t.Errorf("%s: got nil provider", what)
		return
	}
	type scalars struct {
		ID, Name, Preset, Issuer, ClientID, KeyID, DefaultGroup, GroupClaim string
		Enabled, LinkByEmail, Provisioning, RequireSecondFactor, Satisfies  bool
		Version                                                             int64
	}
	of := func(p *oidc.Provider) scalars {
		return scalars{p.ID, p.Name, p.Preset, p.Issuer, p.ClientID, p.KeyID, string(p.DefaultGroup), p.GroupClaim,
			p.Enabled, p.LinkByEmail, p.Provisioning, p.RequireSecondFactor, p.SatisfiesTwoFactor, p.Version}
	}
	if g, w := of(got), of(want); g != w {
		t.Errorf("%s:\n got  %+v\n want %+v", what, g, w)
	}
	if !bytes.Equal(got.SealedSecret, want.SealedSecret) {
		t.Errorf("%s: SealedSecret = %x, want %x (byte for byte)", what, got.SealedSecret, want.SealedSecret)
	}
	if !slices.Equal(got.Scopes, want.Scopes) {
		t.Errorf("%s: Scopes = %q, want %q (in this order)", what, got.Scopes, want.Scopes)
	}
	if !slices.Equal(got.AllowedDomains, want.AllowedDomains) {
		t.Errorf("%s: AllowedDomains = %q, want %q (in this order)", what, got.AllowedDomains, want.AllowedDomains)
	}
	if !maps.Equal(got.GroupMap, want.GroupMap) {
		t.Errorf("%s: GroupMap = %q, want %q", what, got.GroupMap, want.GroupMap)
	}
	checkTime(t, what+": CreatedAt", got.CreatedAt, want.CreatedAt)
	checkTime(t, what+": UpdatedAt", got.UpdatedAt, want.UpdatedAt)
}

// getProvider reads want by its ID and compares it with want.
func getProvider(t *testing.T, s auth.Store, what string, want *oidc.Provider) {
	t.Helper()
	got, err := s.Providers().Get(ctx(t), want.ID)
	must(t, what+": Providers().Get", err)
	checkProvider(t, what, got, want)
}

// checkNoProvider fails unless no provider has the ID.
func checkNoProvider(t *testing.T, s auth.Store, what, id string) {
	t.Helper()
	p, err := s.Providers().Get(ctx(t), id)
	if !errors.Is(err, oidc.ErrNotFound) || p != nil {
		t.Errorf("%s: Providers().Get(%q) = %+v, %v; want nil, %v", what, id, p, err, oidc.ErrNotFound)
	}
}

// checkProviderList fails unless List returns want, in this order.
func checkProviderList(t *testing.T, s auth.Store, what string, want ...*oidc.Provider) {
	t.Helper()
	got, err := s.Providers().List(ctx(t))
	must(t, what+": Providers().List", err)
	if len(got) != len(want) {
		t.Errorf("%s: List returned %d providers, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		checkProvider(t, fmt.Sprintf("%s: List[%d]", what, i), &got[i], want[i])
	}
}

// byProviderID returns ps sorted by ID.
func byProviderID(ps ...*oidc.Provider) []*oidc.Provider {
	ps = slices.Clone(ps)
	slices.SortFunc(ps, func(a, b *oidc.Provider) int { return strings.Compare(a.ID, b.ID) })
	return ps
}

func testProviderRoundTrip(t *testing.T, s auth.Store) {
	full := createProvider(t, s)
	getProvider(t, s, "provider with every field set", full)

	// A public client with nothing optional: no secret, lists or map.
	bare := &oidc.Provider{ID: "a-public-client", Name: "Pocket ID", Issuer: "https://id.example.net",
		ClientID: "c", CreatedAt: at(time.Hour), UpdatedAt: at(time.Hour)}
	mustCreateProvider(t, s, bare)
	getProvider(t, s, "provider with nothing optional", bare)

	// Empty lists and map are the same as none; Version given is ignored.
	empty := newProvider()
	empty.Scopes, empty.AllowedDomains, empty.GroupMap = []string{}, []string{}, map[string]group.ID{}
	empty.KeyID, empty.SealedSecret = "", []byte{}
	empty.Version = 42
	mustCreateProvider(t, s, empty)
	empty.Scopes, empty.AllowedDomains, empty.GroupMap, empty.SealedSecret = nil, nil, nil, nil
	getProvider(t, s, "provider with empty lists", empty)

	// Text that quotes, escapes or is not ASCII comes back as given, and so
	// does a secret of any bytes; order and repeats in lists are kept.
	odd := newProvider()
	odd.Name, odd.Preset = `Ünïcode "SSO" \ 👩‍💻 <b>&amp;</b>`, "generic"
	odd.Scopes = []string{`a"b`, `c\d`, "é", "\u2028", "groups", "groups", ""}
	odd.AllowedDomains = []string{"b.example", "a.example", "xn--bcher-kva.example"}
	odd.GroupMap = map[string]group.ID{"": "users", `"q"`: "admin", "ünï": "g\\", "empty target": ""}
	odd.SealedSecret = append([]byte{0, 0xff, '"', '\\', '\n'}, randomBytes(1024)...)
	mustCreateProvider(t, s, odd)
	getProvider(t, s, "provider with odd text", odd)

	checkProviderList(t, s, "List, by ID", byProviderID(full, bare, empty, odd)...)
}

func testProviderNotFound(t *testing.T, s auth.Store) {
	ps := s.Providers()
	checkProviderList(t, s, "no providers")
	p := createProvider(t, s)
	for _, id := range []string{"nope", "", "bad\xff\x00", strings.ToUpper(p.ID), p.ID + " "} {
		checkNoProvider(t, s, "unknown ID", id)
		ghost := newProvider()
		ghost.ID, ghost.Version = id, 1
		checkErr(t, fmt.Sprintf("Update(%q)", id), ps.Update(ctx(t), ghost), oidc.ErrNotFound)
		if ghost.Version != 1 {
			t.Errorf("refused Update(%q) set Version %d, want it left at 1", id, ghost.Version)
		}
		checkErr(t, fmt.Sprintf("SetSecret(%q)", id), ps.SetSecret(ctx(t), id, "k2", randomBytes(32)), oidc.ErrNotFound)
		checkErr(t, fmt.Sprintf("Delete(%q)", id), ps.Delete(ctx(t), id), oidc.ErrNotFound)
		for _, oldKeyID := range []string{"k1", "", "bad\xff\x00"} {
			ok, err := ps.Reseal(ctx(t), id, oldKeyID, "k2", randomBytes(32))
			if err != nil || ok {
				t.Errorf("Reseal(%q, %q) of an unknown provider = %v, %v; want false, nil", id, oldKeyID, ok, err)
			}
		}
	}
	checkProviderList(t, s, "after every refusal", p)
}

func testProviderExists(t *testing.T, s auth.Store) {
	p := createProvider(t, s)
	dup := newProvider()
	dup.ID = p.ID
	checkErr(t, "Create with a taken ID", s.Providers().Create(ctx(t), dup), oidc.ErrProviderExists)
	getProvider(t, s, "first provider after a refused Create", p)
	// IDs are compared exactly: another case is another provider.
	upper := newProvider()
	upper.ID = strings.ToUpper(p.ID)
	mustCreateProvider(t, s, upper)
	checkProviderList(t, s, "both", byProviderID(p, upper)...)
}

// changeProvider changes every field of p that Update writes, and the
// ones it must not (ID excepted), and returns what Update should store.
func changeProvider(p *oidc.Provider) (wantStored *oidc.Provider) {
	want := *p
	p.Name, p.Preset, p.Issuer, p.ClientID = "Renamed", "generic", "https://new.example.com", "new-client"
	p.Scopes, p.AllowedDomains = []string{"email_verified"}, nil
	p.Enabled, p.LinkByEmail, p.Provisioning = !p.Enabled, !p.LinkByEmail, !p.Provisioning
	p.DefaultGroup, p.GroupClaim, p.GroupMap = group.AdminID, "roles", map[string]group.ID{"ops": group.AdminID}
	p.RequireSecondFactor, p.SatisfiesTwoFactor = !p.RequireSecondFactor, !p.SatisfiesTwoFactor
	p.UpdatedAt = p.UpdatedAt.Add(time.Hour)
	stored := *p
	// Not written by Update: CreatedAt and the secret.
	p.CreatedAt = p.CreatedAt.Add(-time.Hour)
	p.KeyID, p.SealedSecret = "k9", randomBytes(16)
	stored.CreatedAt, stored.KeyID, stored.SealedSecret = want.CreatedAt, want.KeyID, want.SealedSecret
	stored.Version = want.Version + 1
	return &stored
}

func testProviderUpdate(t *testing.T, s auth.Store) {
	p := createProvider(t, s)
	other := createProvider(t, s)
	read, err := s.Providers().Get(ctx(t), p.ID)
	must(t, "Providers().Get", err)
	want := changeProvider(read)
	must(t, "Providers().Update", s.Providers().Update(ctx(t), read))
	if read.Version != 2 {
		t.Errorf("Update set Version %d, want 2", read.Version)
	}
	getProvider(t, s, "after Update", want)
	getProvider(t, s, "another provider after Update", other)

	// The next update names the new version.
	want.Name, want.UpdatedAt = "Renamed again", want.UpdatedAt.Add(time.Minute)
	next := *want
	must(t, "second Providers().Update", s.Providers().Update(ctx(t), &next))
	want.Version = 3
	if next.Version != 3 {
		t.Errorf("second Update set Version %d, want 3", next.Version)
	}
	getProvider(t, s, "after a second Update", want)
}

func testProviderUpdateStale(t *testing.T, s auth.Store) {
	p := createProvider(t, s)
	first, second := *p, *p
	first.Name = "First"
	must(t, "Providers().Update", s.Providers().Update(ctx(t), &first))
	for _, v := range []int64{1, 0, 3, -1} {
		stale := second
		stale.Version, stale.Name, stale.Enabled = v, "Second", false
		checkErr(t, fmt.Sprintf("Update with Version %d when 2 is stored", v), s.Providers().Update(ctx(t), &stale), oidc.ErrStale)
		if stale.Version != v {
			t.Errorf("stale Update set Version %d, want it left at %d", stale.Version, v)
		}
	}
	getProvider(t, s, "after stale Updates (nothing written)", &first)
}

// Of admins saving the same version at once, exactly one wins.
func testProviderUpdateRace(t *testing.T, s auth.Store) {
	p := createProvider(t, s)
	var wins atomic.Int32
	race(func(i int) {
		mine := *p
		mine.Name = fmt.Sprintf("Racer %d", i)
		err := s.Providers().Update(ctx(t), &mine)
		switch {
		case err == nil:
			wins.Add(1)
		case !errors.Is(err, oidc.ErrStale):
			t.Errorf("concurrent Update #%d: %v, want nil or %v", i, err, oidc.ErrStale)
		}
	})
	if n := wins.Load(); n != 1 {
		t.Errorf("%d of %d Updates of the same version succeeded, want exactly 1", n, racers)
	}
	got, err := s.Providers().Get(ctx(t), p.ID)
	must(t, "Providers().Get", err)
	if got.Version != 2 || !strings.HasPrefix(got.Name, "Racer ") {
		t.Errorf("after the race: Version %d, Name %q; want 2 and a racer's name", got.Version, got.Name)
	}
}

// withVersion returns want with the Version stored now: the contract does
// not say whether a secret's change counts as a write of the record.
func withVersion(t *testing.T, s auth.Store, want *oidc.Provider) *oidc.Provider {
	t.Helper()
	got, err := s.Providers().Get(ctx(t), want.ID)
	must(t, "Providers().Get", err)
	w := *want
	w.Version = got.Version
	return &w
}

func testProviderSetSecret(t *testing.T, s auth.Store) {
	p := createProvider(t, s)
	other := createProvider(t, s)
	secret := append(randomBytes(40), 0)
	must(t, "SetSecret", s.Providers().SetSecret(ctx(t), p.ID, "k2", secret))
	p.KeyID, p.SealedSecret = "k2", secret
	getProvider(t, s, "after SetSecret (only the secret changes)", withVersion(t, s, p))

	// Update after SetSecret keeps the new secret.
	read, err := s.Providers().Get(ctx(t), p.ID)
	must(t, "Providers().Get", err)
	want := changeProvider(read)
	must(t, "Providers().Update", s.Providers().Update(ctx(t), read))
	getProvider(t, s, "Update after SetSecret", want)

	// "" and nil clear it: a public client, nothing to rotate.
	must(t, "SetSecret to none", s.Providers().SetSecret(ctx(t), p.ID, "", nil))
	want.KeyID, want.SealedSecret = "", nil
	getProvider(t, s, "after clearing the secret", withVersion(t, s, want))
	got, err := s.Providers().UnderOtherKey(ctx(t), "k1", "", 100)
	must(t, "UnderOtherKey", err)
	for _, q := range got {
		if q.ID == p.ID {
			t.Errorf("UnderOtherKey lists provider %s, whose secret was cleared", p.ID)
		}
	}
	getProvider(t, s, "another provider", other)
}

func testProviderDelete(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	p := createProvider(t, s)
	keep := createProvider(t, s)
	gone := []*oidc.Identity{linkIdentity(t, s, p, u, at(0)), linkIdentity(t, s, p, createUser(t, s, group.UsersID), at(time.Minute))}
	kept := linkIdentity(t, s, keep, u, at(time.Hour))

	must(t, "Providers().Delete", s.Providers().Delete(ctx(t), p.ID))
	checkNoProvider(t, s, "deleted provider", p.ID)
	for _, i := range gone {
		checkNoIdentity(t, s, "identity linked through the deleted provider", i.Issuer, i.Subject)
	}
	checkIdentityList(t, s, "the user's identities at other providers", u.ID, kept)
	getProvider(t, s, "another provider", keep)
	checkErr(t, "Delete again", s.Providers().Delete(ctx(t), p.ID), oidc.ErrNotFound)

	// The ID is free again, and its identities do not come back.
	again := newProvider()
	again.ID = p.ID
	mustCreateProvider(t, s, again)
	checkNoIdentity(t, s, "identity of the provider's former life", gone[0].Issuer, gone[0].Subject)
	checkProviderList(t, s, "after delete and create", byProviderID(again, keep)...)
}

// A provider names groups without holding them: it may name one that does
// not exist, and a group it names can be deleted.
func testProviderGroupNotHeld(t *testing.T, s auth.Store) {
	g := createGroup(t, s, "Contractors")
	p := newProvider()
	p.DefaultGroup, p.GroupMap = g.ID, map[string]group.ID{"ext": g.ID, "ghost": group.ID(newID())}
	mustCreateProvider(t, s, p)
	must(t, "Groups().Delete of a group a provider names", s.Groups().Delete(ctx(t), g.ID))
	getProvider(t, s, "provider naming a deleted group", p)

	ghost := newProvider()
	ghost.DefaultGroup = group.ID(newID())
	mustCreateProvider(t, s, ghost)
	getProvider(t, s, "provider naming a group that never was", ghost)
}

// Text a store cannot keep as given (invalid UTF-8 anywhere; NUL where the
// database refuses it) is either refused or kept byte for byte: never
// stored changed.
func testProviderOddText(t *testing.T, s auth.Store) {
	edits := []func(p *oidc.Provider){
		func(p *oidc.Provider) { p.Scopes = []string{"groups", "bad\xff"} },
		func(p *oidc.Provider) { p.AllowedDomains = []string{"\xc3.example"} },
		func(p *oidc.Provider) { p.GroupMap = map[string]group.ID{"bad\xff": "users"} },
		func(p *oidc.Provider) { p.GroupMap = map[string]group.ID{"ok": "bad\xff"} },
		func(p *oidc.Provider) { p.Scopes = []string{"nul\x00inside"} },
		func(p *oidc.Provider) { p.Name = "bad\xff\x00" },
		func(p *oidc.Provider) { p.Issuer = "https://idp.example/\x00" },
		func(p *oidc.Provider) { p.GroupClaim = "\xfe" },
	}
	for i, edit := range edits {
		p := newProvider()
		edit(p)
		if err := s.Providers().Create(ctx(t), p); err != nil {
			checkNoProvider(t, s, fmt.Sprintf("provider #%d refused by Create", i), p.ID)
		} else {
			getProvider(t, s, fmt.Sprintf("provider #%d with odd text", i), p)
		}

		// The same through Update: refused and nothing written, or kept.
		q := createProvider(t, s)
		before := *q
		edit(q)
		if err := s.Providers().Update(ctx(t), q); err != nil {
			getProvider(t, s, fmt.Sprintf("provider #%d after a refused Update", i), &before)
		} else {
			getProvider(t, s, fmt.Sprintf("provider #%d updated with odd text", i), q)
		}
	}
}

// createProviderUnder saves a new provider whose secret is under keyID;
// a nil secret makes a public client.
func createProviderUnder(t *testing.T, s auth.Store, keyID string, secret []byte) *oidc.Provider {
	t.Helper()
	p := newProvider()
	p.KeyID, p.SealedSecret = keyID, secret
	mustCreateProvider(t, s, p)
	return p
}

// checkProvidersByID fails unless got is want sorted by ID.
func checkProvidersByID(t *testing.T, what string, got []oidc.Provider, want []*oidc.Provider) {
	t.Helper()
	want = byProviderID(want...)
	if len(got) != len(want) {
		t.Errorf("%s = %d providers, want %d", what, len(got), len(want))
		return
	}
	for i := range got {
		checkProvider(t, fmt.Sprintf("%s[%d]", what, i), &got[i], want[i])
	}
}

func testProviderUnderOtherKey(t *testing.T, s auth.Store) {
	byKey := map[string][]*oidc.Provider{}
	for _, k := range []string{"k1", "k2", "k1", "k3", "k2", ""} {
		byKey[k] = append(byKey[k], createProviderUnder(t, s, k, randomBytes(48)))
	}
	// Public clients have no secret: never listed, whatever their key ID.
	createProviderUnder(t, s, "", nil)
	createProviderUnder(t, s, "k0", nil)
	all := slices.Concat(byKey["k1"], byKey["k2"], byKey["k3"], byKey[""])
	for _, c := range []struct {
		keyID string
		want  []*oidc.Provider
	}{
		{"k1", slices.Concat(byKey["k2"], byKey["k3"], byKey[""])},
		{"k2", slices.Concat(byKey["k1"], byKey["k3"], byKey[""])},
		{"", slices.Concat(byKey["k1"], byKey["k2"], byKey["k3"])},
		{"k0", all},
		{"unused", all},
		{"bad\xff\x00", all},
	} {
		got, err := s.Providers().UnderOtherKey(ctx(t), c.keyID, "", 100)
		must(t, "Providers().UnderOtherKey", err)
		checkProvidersByID(t, fmt.Sprintf("UnderOtherKey(%q, \"\", 100)", c.keyID), got, c.want)
	}
	// A limit gives the first by ID; a cursor the ones after it.
	want := byProviderID(slices.Concat(byKey["k2"], byKey["k3"], byKey[""])...)
	for limit := 1; limit <= len(want); limit++ {
		got, err := s.Providers().UnderOtherKey(ctx(t), "k1", "", limit)
		must(t, "Providers().UnderOtherKey", err)
		checkProvidersByID(t, fmt.Sprintf("UnderOtherKey(%q, \"\", %d)", "k1", limit), got, want[:limit])
		got, err = s.Providers().UnderOtherKey(ctx(t), "k1", want[limit-1].ID, 100)
		must(t, "Providers().UnderOtherKey", err)
		checkProvidersByID(t, fmt.Sprintf("UnderOtherKey(%q, %q, 100)", "k1", want[limit-1].ID), got, want[limit:])
	}
	for _, after := range []string{want[len(want)-1].ID, "\U0010FFFF"} {
		got, err := s.Providers().UnderOtherKey(ctx(t), "k1", after, 100)
		if err != nil || len(got) != 0 {
			t.Errorf("UnderOtherKey(%q, %q) = %d providers, %v; want none", "k1", after, len(got), err)
		}
	}
}

// The way a key rotation uses the pair: list a batch, reseal it, repeat
// until the list comes back empty.
func testProviderUnderOtherKeyPaging(t *testing.T, s auth.Store) {
	var old []*oidc.Provider
	for _, k := range []string{"k1", "k2", "k1", "k2", "k1"} {
		old = append(old, createProviderUnder(t, s, k, randomBytes(48)))
	}
	current := createProviderUnder(t, s, "k3", randomBytes(48))
	public := createProviderUnder(t, s, "", nil)
	const limit = 2
	moved := map[string][]byte{}
	for round := 0; ; round++ {
		if round > len(old) {
			t.Fatalf("key rotation did not finish in %d rounds; moved %d of %d", round, len(moved), len(old))
		}
		batch, err := s.Providers().UnderOtherKey(ctx(t), "k3", "", limit)
		must(t, "Providers().UnderOtherKey", err)
		if len(batch) == 0 {
			break
		}
		for _, p := range batch {
			sealed := randomBytes(48)
			ok, err := s.Providers().Reseal(ctx(t), p.ID, p.KeyID, "k3", sealed)
			must(t, "Providers().Reseal", err)
			if !ok {
				t.Fatalf("Reseal(%s, %q, %q) of a provider UnderOtherKey just listed = false, want true", p.ID, p.KeyID, "k3")
			}
			moved[p.ID] = sealed
		}
	}
	if len(moved) != len(old) {
		t.Errorf("key rotation moved %d providers, want %d", len(moved), len(old))
	}
	for _, p := range old {
		want := *p
		want.KeyID, want.SealedSecret = "k3", moved[p.ID]
		getProvider(t, s, "provider after key rotation", withVersion(t, s, &want))
	}
	getProvider(t, s, "provider already under the current key", current)
	getProvider(t, s, "public client", public)
}

func testProviderReseal(t *testing.T, s auth.Store) {
	ps := s.Providers()
	p := createProvider(t, s)
	other := createProvider(t, s)

	ok, err := ps.Reseal(ctx(t), p.ID, "k2", "k3", randomBytes(32))
	if err != nil || ok {
		t.Errorf("Reseal(%q→%q) of a provider under %q = %v, %v; want false, nil", "k2", "k3", "k1", ok, err)
	}
	getProvider(t, s, "after Reseal under the wrong old key", p)

	sealed := randomBytes(32)
	ok, err = ps.Reseal(ctx(t), p.ID, "k1", "k2", sealed)
	if err != nil || !ok {
		t.Errorf("Reseal(%q→%q) of a provider under %q = %v, %v; want true, nil", "k1", "k2", "k1", ok, err)
	}
	p.KeyID, p.SealedSecret = "k2", sealed
	getProvider(t, s, "after Reseal (only the secret changes)", withVersion(t, s, p))

	// A second rotator that read the provider before the first resealed it
	// loses; so does one that read it before an admin set a new secret.
	ok, err = ps.Reseal(ctx(t), p.ID, "k1", "k9", randomBytes(32))
	if err != nil || ok {
		t.Errorf("Reseal from %q after the provider moved to %q = %v, %v; want false, nil", "k1", "k2", ok, err)
	}
	getProvider(t, s, "after a stale Reseal", withVersion(t, s, p))
	getProvider(t, s, "another provider after Reseal", other)

	// A secret cleared meanwhile stays cleared: a public client has no
	// secret under any key.
	must(t, "SetSecret to none", ps.SetSecret(ctx(t), p.ID, "", nil))
	ok, err = ps.Reseal(ctx(t), p.ID, "", "k2", randomBytes(32))
	if err != nil || ok {
		t.Errorf("Reseal of a provider without a secret = %v, %v; want false, nil", ok, err)
	}
	p.KeyID, p.SealedSecret = "", nil
	getProvider(t, s, "public client after Reseal", withVersion(t, s, p))
}

// Refusals inside Atomic leave the transaction usable.
func testProviderRefusalsInAtomic(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	taken := createProvider(t, s)
	takenIdentity := linkIdentity(t, s, taken, u, at(0))
	p := newProvider()
	var i *oidc.Identity
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		dup := newProvider()
		dup.ID = taken.ID
		checkErr(t, "Create with a taken ID inside Atomic", tx.Providers().Create(ctx(t), dup), oidc.ErrProviderExists)
		stale := *taken
		stale.Version = 7
		checkErr(t, "stale Update inside Atomic", tx.Providers().Update(ctx(t), &stale), oidc.ErrStale)
		checkErr(t, "Get of an odd ID inside Atomic", errOf(tx.Providers().Get(ctx(t), "bad\xff\x00")), oidc.ErrNotFound)
		checkErr(t, "Update of an odd ID inside Atomic", tx.Providers().Update(ctx(t), &oidc.Provider{ID: "bad\xff\x00"}), oidc.ErrNotFound)
		bad := newProvider()
		bad.Name, bad.Scopes = "bad\xff\x00", []string{"bad\xff"}
		_ = tx.Providers().Create(ctx(t), bad) // refused or kept (OddText): either way the transaction goes on
		dupIdentity := newIdentity(taken, u, at(time.Minute))
		dupIdentity.Issuer, dupIdentity.Subject = takenIdentity.Issuer, takenIdentity.Subject
		checkErr(t, "Link of a taken identity inside Atomic", tx.Identities().Link(ctx(t), dupIdentity), oidc.ErrIdentityTaken)
		checkErr(t, "Link to an unknown user inside Atomic",
			tx.Identities().Link(ctx(t), newIdentity(taken, &user.User{ID: "nobody"}, at(0))), user.ErrNotFound)
		checkErr(t, "Link through an unknown provider inside Atomic",
			tx.Identities().Link(ctx(t), newIdentity(&oidc.Provider{ID: "nope", Issuer: taken.Issuer}, u, at(0))), oidc.ErrNotFound)
		if err := tx.Providers().Create(ctx(t), p); err != nil {
			return err
		}
		i = newIdentity(p, u, at(time.Hour))
		return tx.Identities().Link(ctx(t), i)
	})
	must(t, "Atomic", err)
	getProvider(t, s, "created after refusals in the same transaction", p)
	getIdentity(t, s, "linked after refusals in the same transaction", i)
	getProvider(t, s, "the provider whose ID was refused", taken)
}
