//go:build !race

// The race detector slows this test tenfold; .ci/run runs it without.

package auth_test

import (
	"runtime"
	"testing"

	"github.com/usher-go/usher/audit"
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
	w := &heapWatch{}
	got, err := e.m.ExportAuditLog(e.ctx, admin, audit.Query{}, audit.JSONLines, w)
	if err != nil || got < n {
		t.Fatalf("ExportAuditLog = %d, %v; want at least %d", got, err, n)
	}
	const bound = 64 << 20
	t.Logf("exported %d events, %d MB; heap peaked at %d MB", got, w.written>>20, w.peak>>20)
	if w.written < 200<<20 {
		t.Fatalf("only %d bytes written", w.written)
	}
	if w.peak > bound {
		t.Fatalf("heap reached %d MB exporting %d MB; want at most %d MB", w.peak>>20, w.written>>20, bound>>20)
	}
}

// heapWatch counts what is written and samples the heap every 16 MB.
type heapWatch struct {
	written, next, peak uint64
}

func (w *heapWatch) Write(p []byte) (int, error) {
	w.written += uint64(len(p))
	if w.written >= w.next {
		w.next = w.written + 16<<20
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.peak = max(w.peak, ms.HeapAlloc)
	}
	return len(p), nil
}
