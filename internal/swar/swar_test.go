package swar

import "testing"

// Every byte value at every position: HasByte marks the position of c,
// and nothing when c is absent; Load64 reads little-endian.
func TestHasByteLoad64(t *testing.T) {
	for pos := range 8 {
		for v := range 256 {
			var w [8]byte
			for i := range w {
				w[i] = 'a'
			}
			w[pos] = byte(v)
			x := Load64(w[:], 0)
			if Load64(string(w[:]), 0) != x || byte(x>>(8*pos)) != byte(v) {
				t.Fatalf("Load64 of %q = %#x", w, x)
			}
			got := HasByte(x, byte(v))
			if lowest := got & -got; lowest != 0x80<<(8*pos) && !(v == 'a' && lowest == 0x80) {
				t.Fatalf("HasByte(%q, %#x) = %#x, lowest mark not at %d", w, v, got, pos)
			}
			if v != 'z' && HasByte(x, 'z') != 0 {
				t.Fatalf("HasByte(%q, 'z') = %#x, want none", w, HasByte(x, 'z'))
			}
		}
	}
}
