// Package heapwatch is for tests that bound the memory of a stream: an
// io.Writer that counts what is written through it and samples the heap
// as it goes.
package heapwatch

import (
	"runtime"
	"testing"
)

// Writer discards what it is given, counting it in Written, and reads the
// heap's size every Every bytes (at the first write too), keeping the
// largest in Peak.
type Writer struct {
	Every         uint64
	Written, Peak uint64
	next          uint64
}

func (w *Writer) Write(p []byte) (int, error) {
	w.Written += uint64(len(p))
	if w.Written >= w.next {
		w.next = w.Written + w.Every
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		w.Peak = max(w.Peak, ms.HeapAlloc)
	}
	return len(p), nil
}

// Check fails t unless at least minWritten bytes went through w, while
// the heap stayed at most bound bytes, and logs both.
func (w *Writer) Check(t testing.TB, minWritten, bound uint64) {
	t.Helper()
	t.Logf("wrote %d MB; heap peaked at %d MB", w.Written>>20, w.Peak>>20)
	if w.Written < minWritten {
		t.Fatalf("only %d bytes written", w.Written)
	}
	if w.Peak > bound {
		t.Fatalf("heap reached %d MB writing %d MB; want at most %d MB", w.Peak>>20, w.Written>>20, bound>>20)
	}
}
