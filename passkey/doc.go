// Package passkey holds usher's passkeys (WebAuthn credentials): the
// [Credential] record, the [Store] contract every usher store implements,
// and the rules for a passkey's name ([NormalizeName]).
//
// Package auth runs the registration and login ceremonies (over
// github.com/go-webauthn/webauthn), with the permission checks, the audit
// events and the throttle around them; this package holds what they keep:
// the passkeys, the pending ceremonies ([Ceremony], [CeremonyStore]) and
// the names of well-known authenticator models ([ModelName]). It imports
// nothing but the standard library and package user.
//
// # What is stored
//
// One [Credential] per registered authenticator: the credential ID and
// public key the authenticator made, its AAGUID (which names the model, for
// a default name), its transports, its backup flags (a synced passkey is
// backup-eligible) and its signature counter. Credential IDs are unique
// across all users: a store refuses a second registration of the same one
// with [ErrCredentialTaken].
//
// Each user with a passkey also has a WebAuthn user handle: 64 random bytes
// ([UserHandleLength]), never the email or the user ID, so an authenticator
// that stores it learns nothing about the account. A discoverable login
// returns it, and [Store.UserByHandle] finds the user. It is made once per
// user and never changes ([Store.SetUserHandle]: the first write wins).
//
// # Signature counter
//
// An authenticator counts its signatures; a count that does not grow hints
// at a cloned authenticator. Synced passkeys always report 0, so a count
// of 0 after a stored 0 is accepted and any other count must be greater
// than the stored one ([Store.UpdateUse] refuses the rest in one
// conditional update).
package passkey
