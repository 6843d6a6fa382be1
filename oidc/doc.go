// Package oidc holds usher's single sign-on with OpenID Connect providers:
// the [Provider] record and its rules ([CheckID], [NormalizeProvider]),
// the presets that build an issuer URL from what a person knows
// ([Preset]), the [Identity] that links an account at a provider to a
// local user, the server-side [Flow] of one login, and the [Store]
// contracts every usher store implements for them.
//
// Package auth runs the flows (over github.com/coreos/go-oidc/v3 and
// golang.org/x/oauth2), with the permission checks, linking and
// provisioning rules, group mapping and audit events around them; this
// package holds what they keep and imports nothing but the standard
// library and packages user and group.
//
// # Identities
//
// A federated identity is keyed by the provider's issuer and the subject
// it gives the account, never by email: an email can change hands at the
// provider, a subject cannot. The email is kept only as last seen.
//
// # Secrets
//
// A provider's client secret is stored sealed under the host's secret key
// (the Manager seals it; a store keeps KeyID and SealedSecret byte for
// byte) and is never shown back in full.
package oidc
