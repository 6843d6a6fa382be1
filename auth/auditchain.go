package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// The audit trail is a hash chain (see audit.Chain): each event's link is
// HMAC-SHA-256, under a key derived from the secret key for this purpose
// alone, over the previous link's MAC, the event's place (Seq) and the
// event as stored, its ID included. The head and the anchor are marked by their own MACs,
// under other labels, so that neither can be passed off as the other or as
// a link. OWASP ASVS 5.0 V16.4.2 (log protection), following the keyed
// chain of RFC 5848's signed syslog in spirit: the log is not secret, its
// integrity is.
const (
	chainLinkLabel = "usher audit link v2"
	// Links made before they covered the event's ID (the chain's review:
	// the newest event could be given another ID unseen) are still
	// checked as they were made; see chainWalk.linkHolds.
	chainLinkLabelV1  = "usher audit link v1"
	chainHeadLabel    = "usher audit head v1"
	chainAnchorLabel  = "usher audit anchor v1"
	chainGenesisLabel = "usher audit genesis v1"
	chainRepeatsLabel = "usher audit repeats v1"
)

// foldMark is the audit.Folder the Manager hands to the store: the keyed
// mark over an event's link and its count of repeats, under the link's
// key, so that nobody without the key can change the count (the audit
// chain's review: a burst of refusals hidden by setting it back to 1). A
// link under a key since dropped gets none; the check says so.
func (m *Manager) foldMark(link audit.Link, repeats int64) []byte {
	k := m.keys.byID(link.KeyID)
	if k == nil {
		return nil
	}
	return markMAC(k.chain, chainRepeatsLabel, repeats, link.MAC)
}

// startChain marks the chain's start, once, when New first runs on a
// database (or on one made before the chain existed): a genesis mark over
// the legacy boundary, and the key check turned to its "chain started"
// form, in one transaction. From then on the boundary cannot move, and a
// chain reset to look as if it never began shows: the genesis mark is
// missing while the key check, which nobody without the key can turn back,
// says it began (finding of the audit chain's review: the legacy
// takeover). A genesis under a previous key is marked again under the
// current one, so the previous key can be dropped. A genesis that does
// not check is left for VerifyAuditLog to report.
func (m *Manager) startChain(ctx context.Context) error {
	return m.store.Atomic(ctx, func(tx Store) error {
		st, err := tx.Audit().ChainState(ctx)
		if err != nil {
			return fmt.Errorf("auth: reading the audit chain: %w", err)
		}
		chained, err := m.keyCheckChained(ctx, tx.KeyCheck())
		if err != nil {
			return err
		}
		g := st.Genesis
		switch k := m.keys.byID(g.KeyID); {
		case g.KeyID == "" && chained, k == nil && g.KeyID != "":
			return nil // reset, or under a dropped key: VerifyAuditLog says so
		case k != nil && !hmac.Equal(g.MAC, markMAC(k.chain, chainGenesisLabel, g.Seq, nil)):
			return nil // forged: VerifyAuditLog says so
		case k == m.keys.current && chained:
			return nil
		}
		cur := m.keys.current
		genesis := audit.Mark{Seq: st.LegacyRow, KeyID: cur.id, MAC: markMAC(cur.chain, chainGenesisLabel, st.LegacyRow, nil)}
		if err := tx.Audit().SetGenesis(ctx, genesis); err != nil {
			return fmt.Errorf("auth: starting the audit chain: %w", err)
		}
		if _, err := tx.KeyCheck().Set(ctx, KeyCheck{KeyID: cur.id, Value: cur.checkChained}, cur.id); err != nil {
			return fmt.Errorf("auth: starting the audit chain: %w", err)
		}
		return nil
	})
}

// sealEvent is the audit.Sealer the Manager hands to the store: it links e
// after head under the current key and marks the new link as the head.
//
// It first puts e in the form every store gives it back (see
// storableEvent), so that what the store writes, right after, is exactly
// what the link covers. The store must have given e the ID it will store
// it under (see audit.Sealer); an event without one is refused.
func (m *Manager) sealEvent(head audit.Mark, e *audit.Event) (audit.Link, audit.Mark, error) {
	if e.ID == "" {
		return audit.Link{}, audit.Mark{}, audit.ErrUnsealable
	}
	details := storableEvent(e)
	k := m.keys.current
	link := audit.Link{Seq: head.Seq + 1, KeyID: k.id}
	link.MAC = chainLinkMAC(k.chain, head.LinkMAC, link.Seq, e, details)
	return link, markLink(k, chainHeadLabel, link), nil
}

// anchorMark marks last, the newest link pruned, as the chain's anchor.
func (m *Manager) anchorMark(last audit.Link) (audit.Mark, error) {
	return markLink(m.keys.current, chainAnchorLabel, last), nil
}

func markLink(k *keySet, label string, l audit.Link) audit.Mark {
	return audit.Mark{Seq: l.Seq, LinkMAC: l.MAC, KeyID: k.id, MAC: markMAC(k.chain, label, l.Seq, l.MAC)}
}

func markMAC(key []byte, label string, seq int64, linkMAC []byte) []byte {
	return make(macInput, 0, 64+len(label)+len(linkMAC)).field(label).int(seq).bytes(linkMAC).sum(key)
}

// chainLinkMAC is the MAC of the event e at seq after the link prev. It
// covers the event's ID and every field as a store gives it back: text as
// valid UTF-8 without NUL (what PostgreSQL keeps), the time to the
// microsecond and the details as their JSON, keys sorted. Each field is
// length-prefixed, so no two events encode alike. details is
// canonicalDetails(e.Details), which the caller may have at hand.
func chainLinkMAC(key, prev []byte, seq int64, e *audit.Event, details []byte) []byte {
	m := make(macInput, 0, eventMACSize+len(prev)+len(details))
	m = m.field(chainLinkLabel).bytes(prev).int(seq).field(e.ID)
	return eventMAC(m, e, details).sum(key)
}

// chainLinkMACV1 is chainLinkMAC as it was before links covered the
// event's ID, for links made then.
func chainLinkMACV1(key, prev []byte, seq int64, e *audit.Event) []byte {
	details := canonicalDetails(e.Details)
	m := make(macInput, 0, eventMACSize+len(prev)+len(details))
	m = m.field(chainLinkLabelV1).bytes(prev).int(seq)
	return eventMAC(m, e, details).sum(key)
}

// eventMAC finishes a link's MAC input m with e's time, text and
// details, the canonical JSON of e.Details.
func eventMAC(m macInput, e *audit.Event, details []byte) macInput {
	m = m.int(e.Time.UnixMicro())
	for _, s := range eventText(e) {
		m = m.field(storableText(*s))
	}
	return m.bytes(details)
}

// eventMACSize is room enough in a link's MAC input for the labels,
// numbers and length prefixes and the text of a usual event.
const eventMACSize = 512

// eventText points at e's text fields, in the order a link covers them.
func eventText(e *audit.Event) [10]*string {
	return [...]*string{(*string)(&e.Action), (*string)(&e.Outcome), &e.Actor.ID, &e.Actor.Email,
		&e.Target.Type, &e.Target.ID, &e.Target.Label, &e.IP, &e.UserAgent, &e.Reason}
}

// storableEvent puts e in the form every store gives it back, before it is
// sealed and stored: the time to the microsecond, text as storableText, the
// details as decoded JSON of their canonical form. A store then holds
// exactly what the link covers, so a check can refuse anything else: two
// stored events that differ never pass for the same (a NUL for a U+FFFD, a
// sub-microsecond time), and details that a store would not give back as
// they were sealed (a -0 that jsonb reads as 0, keys that become one when
// made storable) are never sealed. It returns the canonical JSON of the
// details (canonicalDetails), which the link covers.
func storableEvent(e *audit.Event) []byte {
	e.Time = e.Time.Truncate(time.Microsecond)
	for _, s := range eventText(e) {
		*s = storableText(*s)
	}
	if len(e.Details) == 0 {
		return nil
	}
	b, d := storableDetails(e.Details)
	if d != nil { // else the store refuses details it cannot encode
		e.Details = d
	}
	return b
}

// asSealed reports whether e, as a store gave it back, is in the form
// storableEvent gives: if not, it was changed after it was sealed.
func asSealed(e *audit.Event) bool {
	if e.Time.Nanosecond()%1000 != 0 {
		return false
	}
	for _, s := range eventText(e) {
		if storableText(*s) != *s {
			return false
		}
	}
	return storedJSON(e.Details)
}

// storedJSON reports whether the decoded JSON v holds only what
// storableJSON leaves as it is.
func storedJSON(v any) bool {
	switch v := v.(type) {
	case string:
		return storableText(v) == v
	case float64:
		return v != 0 || !math.Signbit(v)
	case []any:
		for _, x := range v {
			if !storedJSON(x) {
				return false
			}
		}
	case map[string]any:
		for k, x := range v {
			if storableText(k) != k || !storedJSON(x) {
				return false
			}
		}
	}
	return true
}

// macInput is what a MAC of the chain covers, each field length-prefixed
// so that no two inputs run together alike. It is built whole and hashed
// in one Write: a field written to the hash.Hash on its own escaped to
// the heap, an allocation for each of some twenty fields per event.
type macInput []byte

func (m macInput) int(n int64) macInput { return binary.BigEndian.AppendUint64(m, uint64(n)) }

func (m macInput) bytes(b []byte) macInput { return append(m.int(int64(len(b))), b...) }

func (m macInput) field(s string) macInput { return append(m.int(int64(len(s))), s...) }

// sum is the HMAC-SHA-256 of m under key.
func (m macInput) sum(key []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(m)
	return h.Sum(nil)
}

// storableText is s as every store gives it back: invalid UTF-8 and NUL
// replaced by U+FFFD.
func storableText(s string) string {
	if !strings.ContainsRune(s, 0) && utf8.ValidString(s) {
		return s
	}
	return strings.ReplaceAll(strings.ToValidUTF8(s, "\uFFFD"), "\x00", "\uFFFD")
}

// AuditBreakKind names what a check of the audit chain found.
type AuditBreakKind string

// The kinds of break.
const (
	// BreakChanged: the event's content or place does not match its link.
	BreakChanged AuditBreakKind = "changed"
	// BreakRemoved: events are missing before this one.
	BreakRemoved AuditBreakKind = "removed"
	// BreakReordered: events stand in another order than they were
	// written in.
	BreakReordered AuditBreakKind = "reordered"
	// BreakInserted: an event without a link, written after the chain
	// began.
	BreakInserted AuditBreakKind = "inserted"
	// BreakTruncated: the newest events are missing.
	BreakTruncated AuditBreakKind = "truncated"
	// BreakMark: the head or the anchor does not carry a valid mark.
	BreakMark AuditBreakKind = "bad mark"
	// BreakUnknownKey: a link or mark was made under a secret key this
	// Manager does not hold (Config.PreviousSecretKeys lacks it), so it
	// cannot be checked. The check goes on past it, so it is reported
	// only when nothing else was found.
	BreakUnknownKey AuditBreakKind = "unknown key"
)

// ErrAuditTampered is matched by the *AuditBreak a check of the audit
// chain returns.
var ErrAuditTampered = errors.New("auth: the audit trail was tampered with")

// AuditBreak is the first place where a check of the audit chain failed.
// It is an error matching [ErrAuditTampered].
type AuditBreak struct {
	Kind AuditBreakKind
	// EventID is the event where the break shows; empty for a truncated
	// tail or a bad mark.
	EventID string
	// Seq is the chain position expected there.
	Seq int64
}

func (b *AuditBreak) Error() string {
	if b.EventID == "" {
		return fmt.Sprintf("%v: %s at chain position %d", ErrAuditTampered, b.Kind, b.Seq)
	}
	return fmt.Sprintf("%v: %s at event %s (chain position %d)", ErrAuditTampered, b.Kind, b.EventID, b.Seq)
}

func (b *AuditBreak) Unwrap() error { return ErrAuditTampered }

// AuditCheck is what [Manager.VerifyAuditLog] found.
type AuditCheck struct {
	// Checked counts the events whose link was checked.
	// Unverified counts the links under a key this Manager does not hold
	// (a previous key dropped): the check takes them as they are and goes
	// on, so the events after them are still checked.
	Unverified int64
	Checked    int64
	// Legacy counts the events written before the chain began (before
	// usher kept one): they are not covered.
	Legacy int64
	// First and Last are the chain positions checked; First is past the
	// anchor after pruning.
	First, Last int64
	// Break is the first break found, nil when the chain is whole.
	Break *AuditBreak
}

// chainBatch is how many events a check reads at once: memory stays
// bounded whatever the trail's size.
const chainBatch = 1000

// VerifyAuditLog checks the whole audit trail against its hash chain and
// reports the first event that was changed, removed, reordered or added
// without the secret key, and whether the newest events were cut off. It
// needs audit:read. A check reads every event once, in batches; at about a
// microsecond of hashing per event it costs what reading the trail costs.
//
// A break is not an error: err is for a check that could not run.
// What no check on the database alone can see is a whole database put
// back to an earlier state: keep Config.AuditMirror's copy, or note
// AuditCheck.Last and compare, to see that.
func (m *Manager) VerifyAuditLog(ctx context.Context, actor *Principal) (*AuditCheck, error) {
	if err := m.deniedUnless(ctx, actor, group.AuditRead, audit.Target{Type: audit.TargetAudit}); err != nil {
		return nil, err
	}
	// A prune committed while the events were read shows as events
	// removed before the anchor the check started from: when the anchor
	// has moved since, the check runs again.
	for attempt := 1; ; attempt++ {
		check, st, err := m.checkAuditChain(ctx)
		if err != nil || check.Break == nil || attempt == 3 {
			return check, err
		}
		now, err := m.store.Audit().ChainState(ctx)
		if err != nil {
			return nil, fmt.Errorf("auth: checking the audit trail: %w", err)
		}
		if now.Anchor.Seq == st.Anchor.Seq && hmac.Equal(now.Anchor.MAC, st.Anchor.MAC) {
			return check, nil
		}
	}
}

// checkAuditChain walks the chain once, from the state it returns.
func (m *Manager) checkAuditChain(ctx context.Context) (*AuditCheck, audit.ChainState, error) {
	st, err := m.store.Audit().ChainState(ctx)
	if err != nil {
		return nil, st, fmt.Errorf("auth: checking the audit trail: %w", err)
	}
	started, err := m.keyCheckChained(ctx, m.store.KeyCheck())
	if err != nil {
		return nil, st, err
	}
	w := chainWalk{m: m, st: st, expect: 1, started: started}
	if brk := w.start(); brk != nil {
		return &AuditCheck{Break: brk}, st, nil
	}
	for after := int64(0); ; {
		batch, err := m.store.Audit().ChainEvents(ctx, after, chainBatch)
		if err != nil {
			return nil, st, fmt.Errorf("auth: checking the audit trail: %w", err)
		}
		for i := range batch {
			w.step(&batch[i])
		}
		if len(batch) < chainBatch {
			break
		}
		after = batch[len(batch)-1].Row
	}
	if w.check.Break == nil && w.expect-1 > st.Head.Seq {
		// The walk went past the head it started from: events were
		// appended since. The head must have moved on to them.
		later, err := m.store.Audit().ChainState(ctx)
		if err != nil {
			return nil, st, fmt.Errorf("auth: checking the audit trail: %w", err)
		}
		w.later = &later
	}
	return w.finish(), st, nil
}

// chainWalk checks events in the order they were appended.
type chainWalk struct {
	m       *Manager
	st      audit.ChainState
	started bool // the key check says the chain started (startChain)
	check   AuditCheck
	prev    []byte // the MAC of the link before the next one
	expect  int64  // the Seq the next link must have
	// After a gap: the first event past it and the positions missing,
	// [expect, gapEnd). Should one of them turn up later, the events were
	// reordered rather than removed.
	gap    *AuditBreak
	gapEnd int64
	// headLink is the MAC of the link at the head's place, once walked.
	headLink []byte
	// later is the chain's state read again after a walk that went past
	// the head it started from.
	later *audit.ChainState
	// unknown is the first link or mark under a key this Manager lacks,
	// reported if nothing else is.
	unknown *AuditBreak
	// latestLegacy is the newest event written before the chain began
	// (its ID and time).
	latestLegacy *audit.Event
	// idCovered: a link walked covers its event's ID (see linkHolds).
	idCovered bool
}

// start checks the marks and starts after the anchor.
func (w *chainWalk) start() *AuditBreak {
	if brk := w.checkGenesis(); brk != nil {
		return brk
	}
	if w.st.Anchor.Seq > 0 {
		if brk := w.checkMark(chainAnchorLabel, w.st.Anchor); brk != nil {
			return brk
		}
		w.prev, w.expect = w.st.Anchor.LinkMAC, w.st.Anchor.Seq+1
	}
	if w.st.Head.Seq > 0 {
		return w.checkMark(chainHeadLabel, w.st.Head)
	}
	return nil
}

// checkGenesis checks that the chain's start is marked and vouches for
// the legacy boundary (see startChain): New marks it, so a missing one
// means a reset.
func (w *chainWalk) checkGenesis() *AuditBreak {
	g := w.st.Genesis
	if g.KeyID == "" || !w.started {
		return &AuditBreak{Kind: BreakMark}
	}
	return w.checkMark(chainGenesisLabel, g)
}

// checkMark checks a mark; one under a key this Manager lacks is noted
// (see unknownKey) and taken as it is.
func (w *chainWalk) checkMark(label string, mk audit.Mark) *AuditBreak {
	k := w.m.keys.byID(mk.KeyID)
	if k == nil {
		w.unknownKey("", mk.Seq)
		return nil
	}
	if !hmac.Equal(mk.MAC, markMAC(k.chain, label, mk.Seq, mk.LinkMAC)) {
		return &AuditBreak{Kind: BreakMark, Seq: mk.Seq}
	}
	return nil
}

func (w *chainWalk) step(c *audit.Chained) {
	if w.gap != nil {
		if c.Link.Seq >= w.expect && c.Link.Seq < w.gapEnd {
			w.gap.Kind = BreakReordered
		}
		return
	}
	if w.check.Break != nil || !w.inPlace(c) {
		return
	}
	seq := c.Link.Seq
	k := w.m.keys.byID(c.Link.KeyID)
	switch {
	case k == nil:
		// Made under a key dropped since: it cannot be checked, but the
		// next link covers its MAC, so the walk goes on from it.
		w.unknownKey(c.ID, seq)
		w.check.Unverified++
	case !asSealed(&c.Event) || !w.linkHolds(k, c),
		// The repeat key is outside the link, but it is the event's own
		// or none: one put on another event would fold a coming event
		// into it, which then is never appended.
		c.RepeatKey != "" && c.RepeatKey != repeatKey(&c.Event),
		// The count of repeats is outside the link too, under a mark of
		// its own; an event appended without a key happened once.
		!repeatsVouched(k, c):
		w.check.Break = &AuditBreak{Kind: BreakChanged, EventID: c.ID, Seq: seq}
		return
	default:
		w.check.Checked++
	}
	if w.check.Checked+w.check.Unverified == 1 {
		w.check.First = seq
		// An event written before the chain began is older than every
		// chained one: a newer one was written, or given its time, by
		// someone without the key, to pass for a new event.
		if l := w.latestLegacy; l != nil && l.Time.After(c.Time) {
			w.check.Break = &AuditBreak{Kind: BreakInserted, EventID: l.ID, Seq: seq}
			return
		}
	}
	w.check.Last = seq
	if seq == w.st.Head.Seq {
		w.headLink = c.Link.MAC
	}
	w.prev, w.expect = c.Link.MAC, seq+1
}

// linkHolds reports whether c's link is its MAC under k. A link made
// before links covered the event's ID holds as it was made, but only until
// the walk meets one that covers it: from there on every link must.
// Neither kind can be made without the key.
func (w *chainWalk) linkHolds(k *keySet, c *audit.Chained) bool {
	if hmac.Equal(c.Link.MAC, chainLinkMAC(k.chain, w.prev, c.Link.Seq, &c.Event, canonicalDetails(c.Details))) {
		w.idCovered = true
		return true
	}
	return !w.idCovered && hmac.Equal(c.Link.MAC, chainLinkMACV1(k.chain, w.prev, c.Link.Seq, &c.Event))
}

// repeatsVouched reports whether c's count of repeats is the one its mark
// was made for (see foldMark), or 1 for an event appended without a key.
func repeatsVouched(k *keySet, c *audit.Chained) bool {
	if c.RepeatKey == "" {
		return c.Repeats == 1 && c.RepeatsMAC == nil
	}
	return hmac.Equal(c.RepeatsMAC, markMAC(k.chain, chainRepeatsLabel, c.Repeats, c.Link.MAC))
}

// inPlace reports whether c is the chained event expected next. A legacy
// event is counted and an event out of place recorded as a break (or the
// start of a gap); either way it reports false.
func (w *chainWalk) inPlace(c *audit.Chained) bool {
	seq := c.Link.Seq
	switch {
	case seq == 0 && c.Row <= w.st.LegacyRow && w.check.Checked+w.check.Unverified == 0:
		// Written before the chain began, so older than its first event
		// kept (see step).
		w.check.Legacy++
		if w.latestLegacy == nil || c.Time.After(w.latestLegacy.Time) {
			w.latestLegacy = &audit.Event{ID: c.ID, Time: c.Time}
		}
	case seq == 0:
		w.check.Break = &AuditBreak{Kind: BreakInserted, EventID: c.ID, Seq: w.expect}
	case seq < w.expect:
		w.check.Break = &AuditBreak{Kind: BreakReordered, EventID: c.ID, Seq: w.expect}
	case seq > w.expect:
		w.gap = &AuditBreak{Kind: BreakRemoved, EventID: c.ID, Seq: w.expect}
		w.gapEnd = seq
		w.check.Break = w.gap
	default:
		return true
	}
	return false
}

// unknownKey notes the first link or mark under a key this Manager lacks.
func (w *chainWalk) unknownKey(eventID string, seq int64) {
	if w.unknown == nil {
		w.unknown = &AuditBreak{Kind: BreakUnknownKey, EventID: eventID, Seq: seq}
	}
}

// finish checks that the walk ended at the head.
func (w *chainWalk) finish() *AuditCheck {
	if w.check.Break == nil {
		head := w.st.Head
		switch {
		case w.expect-1 < head.Seq:
			w.check.Break = &AuditBreak{Kind: BreakTruncated, Seq: w.expect}
		case w.expect-1 > head.Seq && w.later != nil && hmac.Equal(w.headLink, head.LinkMAC):
			// Appended while the walk read: the head read since must
			// vouch for the last link walked, or for a later one.
			later := w.later.Head
			if brk := w.checkMark(chainHeadLabel, later); brk != nil {
				w.check.Break = brk
			} else if later.Seq < w.expect-1 || later.Seq == w.expect-1 && !hmac.Equal(w.prev, later.LinkMAC) {
				w.check.Break = &AuditBreak{Kind: BreakMark, Seq: later.Seq}
			}
		case w.expect-1 > head.Seq || !hmac.Equal(w.prev, head.LinkMAC):
			w.check.Break = &AuditBreak{Kind: BreakMark, Seq: head.Seq}
		}
	}
	if w.check.Break == nil {
		w.check.Break = w.unknown
	}
	return &w.check
}
