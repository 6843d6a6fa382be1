package auth

import (
	"context"
	"fmt"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// AuditLog returns one page of the audit trail, newest first. It needs
// audit:read.
func (m *Manager) AuditLog(ctx context.Context, actor *Principal, q audit.Query) (audit.Page, error) {
	if err := m.deniedUnless(ctx, actor, group.AuditRead, audit.Target{Type: "audit"}); err != nil {
		return audit.Page{}, err
	}
	q, err := q.Normalize()
	if err != nil {
		return audit.Page{}, err
	}
	if q.Cursor != "" {
		if _, err := audit.DecodeCursor(q.Cursor); err != nil {
			return audit.Page{}, err
		}
	}
	return m.store.Audit().Query(ctx, q)
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
		if n, err = tx.Audit().Prune(ctx, before); err != nil {
			return fmt.Errorf("auth: pruning audit log: %w", err)
		}
		if n == 0 {
			return nil
		}
		return rec(&audit.Event{Action: audit.AuditPruned, Outcome: audit.Success,
			Details: map[string]any{"deleted": n, "before": before}})
	})
	return n, err
}
