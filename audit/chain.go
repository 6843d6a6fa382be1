package audit

import (
	"context"
	"time"
)

// The audit trail is tamper-evident: each event a Manager writes is linked
// to the one before it by a keyed hash (HMAC-SHA-256 under a key derived
// from the host's secret key), computed in the transaction that writes the
// event. Whoever can write to the database but does not hold the secret key
// cannot change, remove, reorder or add an event, nor cut the newest ones
// off, without auth.Manager.VerifyAuditLog pointing at the first place it
// happened (OWASP ASVS 5.0 V16.4.2: logs protected from modification).
//
// The store keeps the chain; the Manager, which holds the key, computes
// the hashes through a [Sealer]. What follows is the store's side.

// Link is an event's place in the chain.
type Link struct {
	// Seq numbers the chain's events 1, 2, 3, ... with no gap.
	Seq int64
	// KeyID names the secret key whose derived key made MAC.
	KeyID string
	// MAC is the keyed hash over the previous link's MAC, Seq and the
	// event as stored, its ID included.
	MAC []byte
}

// Mark vouches for one link of the chain by a keyed hash of its own: the
// chain's head (its newest link) or its anchor (the newest link pruned).
// A zero Mark (Seq 0) stands for an empty chain.
type Mark struct {
	Seq     int64  // the link's Seq
	LinkMAC []byte // the link's MAC
	KeyID   string // names the key that made MAC (not the link's)
	MAC     []byte // keyed hash over Seq and LinkMAC that says the role
}

// Sealer makes the link of e, the event after the chain's head (zero for
// an empty chain), and the head mark that will point at it. The link
// covers e's ID, so the store sets e.ID to the ID it will store e under
// before it calls the Sealer, and that ID must be above every ID in the
// chain (walks go in ID order); a Sealer refuses an event without an ID
// with [ErrUnsealable].
type Sealer func(head Mark, e *Event) (link Link, newHead Mark, err error)

// Folder makes the keyed mark of a folded event's count of repeats, over
// its link and the count: made with the link (count 1) and again at each
// repeat, so the count is covered too.
type Folder func(link Link, repeats int64) []byte

// Chained is a stored event as a chain walk reads it.
type Chained struct {
	Event
	// Row is the event's ID as a number: walks go in ID order, which is
	// the order the events were appended in.
	Row int64
	// Link is the event's place in the chain; Seq is 0 for an event
	// written outside it.
	Link Link
	// RepeatKey is the repeat key the event was appended under (see
	// Chain.AppendChained), empty for none.
	RepeatKey string
	// Repeats is how many times the event happened (1 unless folded),
	// and RepeatsMAC the Folder's mark over Link and Repeats (nil for an
	// event appended without a key).
	Repeats    int64
	RepeatsMAC []byte
}

// ChainState is the chain's head and anchor, and where it began.
type ChainState struct {
	// Head is the newest link: a check that ends before it found the
	// newest events cut off.
	Head Mark
	// Anchor is the newest link pruned, from which the oldest event kept
	// goes on; zero when nothing chained was ever pruned.
	Anchor Mark
	// LegacyRow is the highest event ID written before the store kept a
	// chain: such events have no link and are not covered.
	LegacyRow int64
	// Genesis vouches for LegacyRow (its Seq holds LegacyRow, its LinkMAC
	// is empty): the Manager writes it once, when the chain starts, so
	// that nobody without the key can move the boundary and turn chained
	// events into uncovered ones. Zero before the chain started.
	Genesis Mark
}

// Chain is the tamper-evident side of a store's audit trail. Its methods
// run inside the caller's transaction when called on a store handed out by
// an Atomic call. An append that fails there may have written part of
// itself, so that transaction must not commit: the stores of this module
// refuse to, whatever the transaction's function returns, as PostgreSQL
// does after any failed statement.
type Chain interface {
	// AppendChained appends e as the chain's next event: it takes the
	// head (so that appends from every instance sharing the store follow
	// one another), calls seal with it, stores e with the link made and
	// moves the head there, and sets e.ID to an ID it assigns: unique, in
	// the order of appends, and never handed out again, even after
	// pruning.
	//
	// With a repeatKey it folds repeats into one event, so that a loop of
	// identical refusals cannot flood the trail: when an event was already
	// appended under repeatKey, it appends nothing, counts one more repeat
	// of that event (read back as Details[DetailRepeated], 2 on the first
	// repeat), sets e.ID to that event's ID and reports false, without
	// calling seal. The check and the write are one atomic step across
	// instances sharing the store. Only a chained event takes repeats: a
	// key held by an event outside the chain is taken from it and e is
	// appended. Keys are opaque (the caller puts the
	// time window in them); a pruned event's key may be used again. The
	// count is kept apart from what the link covers, under a mark of its
	// own that fold makes: for count 1 when the event is appended under a
	// key, and for the new count at each repeat.
	AppendChained(ctx context.Context, e *Event, repeatKey string, seal Sealer, fold Folder) (appended bool, err error)
	// ChainState returns the head, the anchor, the legacy boundary and
	// the genesis mark.
	ChainState(ctx context.Context) (ChainState, error)
	// SetGenesis stores g as the chain's genesis mark (see
	// ChainState.Genesis), in place of any.
	SetGenesis(ctx context.Context, g Mark) error
	// ChainEvents returns up to limit events with an ID above afterRow, in
	// ID order, each with its link and Details exactly as stored (no
	// repeat count).
	ChainEvents(ctx context.Context, afterRow int64, limit int) ([]Chained, error)
	// PruneChained deletes the chained events, oldest first along the
	// chain, up to (not including) the first one at or after before, and
	// the unchained events older than before. When it deletes a chained
	// event it calls anchor with the link of the last one deleted and
	// stores the mark made as the chain's anchor.
	PruneChained(ctx context.Context, before time.Time, anchor func(last Link) (Mark, error)) (int64, error)
}
