package heapwatch

import (
	"runtime"
	"testing"
)

// The peak is read at the first write and then every Every bytes: a heap
// grown between two samples is seen at the next one.
func TestWriter(t *testing.T) {
	w := &Writer{Every: 1 << 20}
	if _, err := w.Write(make([]byte, 10)); err != nil || w.Written != 10 || w.Peak == 0 {
		t.Fatalf("after one write: written %d, peak %d, %v", w.Written, w.Peak, err)
	}
	first := w.Peak
	keep := make([]byte, 64<<20) // held until after the next sample
	if _, err := w.Write(make([]byte, 1<<20)); err != nil {
		t.Fatal(err)
	}
	runtime.KeepAlive(keep)
	if w.Peak < first+60<<20 {
		t.Errorf("peak %d after a 64 MB allocation, first %d: the sample missed it", w.Peak, first)
	}
}
