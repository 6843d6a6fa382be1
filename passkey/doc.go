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
// A passkey holds no secret, but its row says whose public key opens which
// account. So each also carries a MAC ([Credential] MAC, and KeyID naming
// the key): package auth's HMAC, under a key derived from the host's
// secret key, over the passkey's ID, its user's ID, its credential ID, its
// public key and its backup-eligible flag. Someone who can write the
// database but lacks the key cannot make a row that verifies, whether a
// public key of their own under another user's ID or a genuine passkey
// moved to another user, and auth trusts no row that does not verify. The
// stores keep KeyID and MAC byte for byte; a key rotation rewrites them
// ([Store.UnderOtherKey], [Store.Remac]).
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
