package oidc

import (
	"context"
	"time"

	"github.com/usher-go/usher/user"
)

// Store keeps providers, linked identities and pending flows: three parts
// of auth.Store. Every part is safe for concurrent use, across instances
// sharing one database. Times come back as the same instant in UTC, to at
// least microsecond precision; a zero time comes back zero. Byte fields
// come back byte for byte; nil and empty slices and maps are the same. A
// key a store cannot hold (invalid UTF-8 or NUL for PostgreSQL text) is
// simply not found.

// ProviderStore keeps providers. Get, Update, SetSecret and Delete of an
// unknown ID return [ErrNotFound]; Reseal reports false with no error, as
// when the secret is no longer under oldKeyID.
type ProviderStore interface {
	// Create inserts p with Version 1; [ErrProviderExists] for a taken ID.
	Create(ctx context.Context, p *Provider) error
	// Get returns one provider.
	Get(ctx context.Context, id string) (*Provider, error)
	// List returns every provider, by ID.
	List(ctx context.Context) ([]Provider, error)
	// Update writes every field of p but ID, CreatedAt and the sealed
	// secret (see SetSecret) if the stored Version is p.Version, and sets
	// p.Version to the next; [ErrStale] otherwise.
	Update(ctx context.Context, p *Provider) error
	// SetSecret replaces the sealed client secret (keyID "" and nil clear
	// it).
	SetSecret(ctx context.Context, id, keyID string, sealed []byte) error
	// Delete removes a provider and every identity linked through it.
	Delete(ctx context.Context, id string) error
	// UnderOtherKey returns up to limit providers, by ID after after,
	// whose secret is sealed under a key other than keyID (none without a
	// secret): for key rotation.
	UnderOtherKey(ctx context.Context, keyID, after string, limit int) ([]Provider, error)
	// Reseal replaces a provider's sealed secret if it is still under
	// oldKeyID, and reports whether it did.
	Reseal(ctx context.Context, id, oldKeyID, newKeyID string, sealed []byte) (bool, error)
}

// IdentityStore keeps linked identities. They go with their user
// ([user.Store.Delete]) and with their provider ([ProviderStore.Delete]).
type IdentityStore interface {
	// Link inserts i; [ErrIdentityTaken] when (Issuer, Subject) is linked
	// already, [user.ErrNotFound] for an unknown user, [ErrNotFound] for
	// an unknown provider.
	Link(ctx context.Context, i *Identity) error
	// Get returns the identity (issuer, subject).
	Get(ctx context.Context, issuer, subject string) (*Identity, error)
	// List returns a user's identities, oldest first (none is not an
	// error).
	List(ctx context.Context, id user.ID) ([]Identity, error)
	// Unlink removes the identity (issuer, subject) if userID holds it;
	// [ErrNotFound] otherwise.
	Unlink(ctx context.Context, userID user.ID, issuer, subject string) error
	// Seen records a login: the email the provider gave and the time;
	// [ErrNotFound] for an unknown identity.
	Seen(ctx context.Context, issuer, subject, email string, at time.Time) error
}

// FlowStore keeps pending flows under a keyed hash of the key the client
// holds (32 bytes, unique). Flows with a LinkUser go with that user.
type FlowStore interface {
	// Create inserts f under keyHash; [user.ErrNotFound] for an unknown
	// LinkUser.
	Create(ctx context.Context, f *Flow, keyHash []byte) error
	// Take returns the flow stored under keyHash and deletes it, in one
	// statement: of concurrent calls exactly one gets it, the others
	// [ErrFlowNotFound], as does an unknown key. It does not check expiry.
	Take(ctx context.Context, keyHash []byte) (*Flow, error)
	// DeleteExpired removes flows that expired before now and returns how
	// many went.
	DeleteExpired(ctx context.Context, now time.Time) (int, error)
}
