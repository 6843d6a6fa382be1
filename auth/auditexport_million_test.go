//go:build !race

// The race detector slows this test tenfold; .ci/run runs it without.

package auth_test

import (
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/internal/heapwatch"
)

// An export of a million events streams: the heap stays within a fixed
// bound while hundreds of megabytes go out.
func TestExportAuditLogMillionEventsBoundedMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("seeds a million events")
	}
	e := newEnv(t)
	admin := e.admin()
	const n = 1_000_000
	seedEvents(t, e.path, n)
	w := &heapwatch.Writer{Every: 16 << 20}
	got, err := e.m.ExportAuditLog(e.ctx, admin, audit.Query{}, audit.JSONLines, w)
	if err != nil || got < n {
		t.Fatalf("ExportAuditLog = %d, %v; want at least %d", got, err, n)
	}
	w.Check(t, 200<<20, 64<<20)
}
