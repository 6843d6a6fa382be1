package auth

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/oidc"
	"github.com/usher-go/usher/user"
)

// AuditLog returns one page of the audit trail, newest first. It needs
// audit:read.
func (m *Manager) AuditLog(ctx context.Context, actor *Principal, q audit.Query) (audit.Page, error) {
	if err := m.deniedUnless(ctx, actor, group.AuditRead, audit.Target{Type: audit.TargetAudit}); err != nil {
		return audit.Page{}, err
	}
	// The query is the store's to check (audit.Log: it must be safe
	// called directly), the cursor its to read: either refused there
	// names the query.
	page, err := m.store.Audit().Query(ctx, q)
	if errors.Is(err, audit.ErrInvalidQuery) || errors.Is(err, audit.ErrInvalidCursor) {
		err = inField(FieldQuery, err)
	}
	return page, err
}

// AuditExporter is an optional interface of an [AuditStore]: the
// reading of an export in the store's own pages, which
// [Manager.ExportAuditLog] uses where the store has it. In pages of
// audit.MaxLimit through Query, a million events are 2,000 queries (on
// PostgreSQL, each a round trip that wakes the server, then the client:
// the export took 1.6 to 1.8 times one streaming query's time on a loaded
// machine), and a page of events is allocated for each.
type AuditExporter interface {
	// ExportEvents calls each with every event q selects (its filters
	// and time range: q.Limit, q.Cursor and q.OldestFirst are not used),
	// oldest first, and returns the first error each returns, as it is.
	// It checks q as Query does. It reads a bounded page at a time; it
	// may read the next page while each runs on this one, but it never
	// holds a connection or transaction waiting for each, so that a slow
	// writer holds nothing of the store's longer than a page's read.
	// The event passed to each is valid only during the call: the store
	// may reuse it. Events appended while it runs may or may not be
	// included. Safe for concurrent use.
	ExportEvents(ctx context.Context, q audit.Query, each func(*audit.Event) error) error
}

// ExportAuditLog writes the events q selects (its filters and time range;
// its Limit and Cursor are not used) to w in format f, oldest first, and
// returns how many it wrote. It reads a page at a time, so memory stays
// bounded however many events there are; events written after the call
// began are left out (an open Until is the time of the call). It needs
// audit:read, and records the export itself (an audit.AuditExported event
// with the range, format and count), since reading the whole trail is
// worth knowing about (OWASP ASVS 5.0 V16.2: who read what).
func (m *Manager) ExportAuditLog(ctx context.Context, actor *Principal, q audit.Query, f audit.Format, w io.Writer) (int64, error) {
	if err := m.deniedUnless(ctx, actor, group.AuditRead, audit.Target{Type: audit.TargetAudit}); err != nil {
		return 0, err
	}
	enc, err := audit.NewEncoder(w, f)
	if err != nil {
		return 0, inField(FieldQuery, err)
	}
	if now := m.clock().Add(time.Microsecond); q.Until.IsZero() && q.Since.Before(now) {
		q.Until = now
	}
	q.Limit, q.Cursor, q.OldestFirst = audit.MaxLimit, "", true
	if q, err = q.Normalize(); err != nil {
		return 0, inField(FieldQuery, err)
	}
	n, err := m.export(ctx, q, enc)
	outcome, reason := audit.Success, ""
	if err != nil {
		outcome, reason = audit.Failure, err.Error()
	}
	details := map[string]any{audit.DetailFormat: string(f), audit.DetailCount: n}
	if !q.Since.IsZero() {
		details[audit.DetailSince] = q.Since
	}
	if !q.Until.IsZero() {
		details[audit.DetailUntil] = q.Until
	}
	m.recordAlone(ctx, &audit.Event{Action: audit.AuditExported, Outcome: outcome, Actor: actor.auditActor(),
		Target: audit.Target{Type: audit.TargetAudit}, IP: actor.Client().IP, UserAgent: actor.Client().UserAgent,
		Reason: reason, Details: details})
	return n, err
}

// export writes the events of q through enc: through the store's
// AuditExporter where it has one, else a page of Query at a time.
func (m *Manager) export(ctx context.Context, q audit.Query, enc *audit.Encoder) (int64, error) {
	var n int64
	encode := func(e *audit.Event) error {
		if err := enc.Encode(e); err != nil {
			return fmt.Errorf("auth: exporting the audit trail: %w", err)
		}
		n++
		return nil
	}
	if x, ok := m.store.Audit().(AuditExporter); ok {
		if err := x.ExportEvents(ctx, q, encode); err != nil {
			return n, err
		}
	} else if err := m.exportPages(ctx, q, encode); err != nil {
		return n, err
	}
	if err := enc.Flush(); err != nil {
		return n, fmt.Errorf("auth: exporting the audit trail: %w", err)
	}
	return n, nil
}

// exportPages calls each with the events of q, a page of Query at a time.
func (m *Manager) exportPages(ctx context.Context, q audit.Query, each func(*audit.Event) error) error {
	for {
		page, err := m.store.Audit().Query(ctx, q)
		if err != nil {
			return err
		}
		for i := range page.Events {
			if err := each(&page.Events[i]); err != nil {
				return err
			}
		}
		if page.Next == "" {
			return nil
		}
		q.Cursor = page.Next
	}
}

// PruneAuditLog deletes events older than Config.AuditRetention and records
// that it did; with no retention set it does nothing. A host calls it now
// and then, say daily.
func (m *Manager) PruneAuditLog(ctx context.Context) (int64, error) {
	if m.cfg.AuditRetention == 0 {
		return 0, nil
	}
	before := m.clock().Add(-m.cfg.AuditRetention)
	var n int64
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		var err error
		if n, err = tx.Audit().PruneChained(ctx, before, m.anchorMark); err != nil {
			return fmt.Errorf("auth: pruning audit log: %w", err)
		}
		if n == 0 {
			return nil
		}
		return rec(&audit.Event{Action: audit.AuditPruned, Outcome: audit.Success,
			Details: map[string]any{audit.DetailDeleted: n, audit.DetailBefore: before}})
	})
	return n, err
}

// Record writes an event of the host's own to the audit trail (say,
// "backup.run"), with the actor's identity and client filled in, and hands
// it to Config.AuditMirror like usher's own events. The action must not
// collide with usher's (see [audit.Actions]); details must hold no secret.
func (m *Manager) Record(ctx context.Context, actor *Principal, action audit.Action, outcome audit.Outcome, target audit.Target, details map[string]any) error {
	if action == "" || len(action) > 128 {
		return inField(FieldAction, fmt.Errorf("%w: action must be 1 to 128 bytes", audit.ErrInvalidQuery))
	}
	if slices.Contains(audit.Actions(), action) {
		return inField(FieldAction, fmt.Errorf("%w: %q is one of usher's own actions", audit.ErrInvalidQuery, action))
	}
	switch outcome {
	case audit.Success, audit.Failure, audit.Denied:
	default:
		return inField(FieldOutcome, fmt.Errorf("%w: unknown outcome %q", audit.ErrInvalidQuery, outcome))
	}
	e := &audit.Event{Action: action, Outcome: outcome, Target: target, Details: details}
	if actor != nil {
		e.Actor = actor.auditActor()
		c := actor.Client()
		e.IP, e.UserAgent = c.IP, c.UserAgent
	}
	return m.atomic(ctx, func(_ Store, rec func(*audit.Event) error) error { return rec(e) })
}

// MaxTargetIDLength bounds, in bytes, the target ID of an event written to
// the audit trail; a longer one (it may come from a URL) is cut, as the
// client's IP and user agent are.
const MaxTargetIDLength = 256

const (
	maxTargetTypeLength = 64
	maxReasonLength     = 1024
)

// cutBytes returns s cut to at most max bytes, without splitting a UTF-8
// sequence at the cut. The bytes kept are left as they are: the stores say
// what they do with text they cannot hold.
func cutBytes(s string, max int) string {
	if len(s) <= max {
		return s
	}
	s = s[:max]
	// Drop a multi-byte sequence the cut left unfinished: it starts in
	// the last three bytes.
	for i := len(s) - 1; i >= 0 && i >= len(s)-3; i-- {
		if utf8.RuneStart(s[i]) {
			if !utf8.FullRuneInString(s[i:]) {
				s = s[:i]
			}
			break
		}
	}
	return s
}

// repeatWindow is how long identical refusals fold into one event.
const repeatWindow = time.Minute

// repeatKey is the key under which e folds with its repeats, or "" for an
// event that is always written on its own. A denial folds with denials of
// the same action, actor, target, reason and IP in the same minute; a
// throttled login attempt with those of the same actor and IP, whatever
// wait each was told (the reason names it). The window is a fixed minute
// of the clock, so the key is the same on every instance.
func repeatKey(e *audit.Event) string {
	reason := e.Reason
	switch {
	case e.Outcome == audit.Denied:
	case e.Action == audit.LoginThrottled:
		reason = ""
	default:
		return ""
	}
	h := sha256.New()
	// Over the text as stored, so that a check of the chain, which reads
	// it back, finds the same key (see chainWalk.step).
	for _, f := range []string{string(e.Action), string(e.Outcome), e.Actor.ID, e.Actor.Email,
		e.Target.Type, e.Target.ID, reason, e.IP} {
		h.Write([]byte(storableText(f)))
		h.Write([]byte{0})
	}
	window := e.Time.Truncate(repeatWindow).Unix()
	return hex.EncodeToString(h.Sum(nil)) + ":" + strconv.FormatInt(window, 10)
}

// recordRepeat writes e, already prepared, under key (see
// audit.Chain.AppendChained): only the first event under key is appended
// (and mirrored); a repeat counts.
func (m *Manager) recordRepeat(ctx context.Context, e *audit.Event, key string) error {
	appended := false
	err := m.store.Atomic(ctx, func(tx Store) error {
		m.labelTarget(ctx, tx, e)
		var err error
		appended, err = tx.Audit().AppendChained(ctx, e, key, m.sealEvent, m.foldMark)
		if err != nil {
			return fmt.Errorf("auth: writing audit event: %w", err)
		}
		return nil
	})
	if err == nil && appended {
		m.mirror(ctx, e)
	}
	return err
}

// labelTarget fills e's target label, unless the caller did, with the
// target's name as it is now, inside tx: a user's email, a group's or a
// provider's name. A target already gone (the event records its deletion)
// is named from the event's details. Only IDs of the shape usher makes are
// looked up: a target ID copied from a request may hold anything.
func (m *Manager) labelTarget(ctx context.Context, tx Store, e *audit.Event) {
	t := &e.Target
	if t.Label != "" || t.ID == "" || len(t.ID) > 64 || storableText(t.ID) != t.ID {
		return
	}
	var err error
	switch t.Type {
	case audit.TargetUser:
		if t.ID == e.Actor.ID {
			t.Label = e.Actor.Email
			return
		}
		var u *user.User
		if u, err = tx.Users().Get(ctx, user.ID(t.ID)); err == nil {
			t.Label = u.Email
			return
		}
		t.Label, _ = e.Details[audit.DetailEmail].(string)
	case audit.TargetGroup:
		var g *group.Group
		if g, err = tx.Groups().Get(ctx, group.ID(t.ID)); err == nil {
			t.Label = g.Name
			return
		}
		t.Label, _ = e.Details[audit.DetailName].(string)
	case audit.TargetProvider:
		var p *oidc.Provider
		if p, err = tx.Providers().Get(ctx, t.ID); err == nil {
			t.Label = p.Name
			return
		}
		t.Label, _ = e.Details[audit.DetailName].(string)
	}
}
