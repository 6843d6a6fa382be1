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
	const bound = 64 << 20
	t.Logf("exported %d events, %d MB; heap peaked at %d MB", got, w.Written>>20, w.Peak>>20)
	if w.Written < 200<<20 {
		t.Fatalf("only %d bytes written", w.Written)
	}
	if w.Peak > bound {
		t.Fatalf("heap reached %d MB exporting %d MB; want at most %d MB", w.Peak>>20, w.Written>>20, bound>>20)
	}
}
