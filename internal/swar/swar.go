// Package swar holds the word-at-a-time byte tests two encoders of the
// audit trail share (internal/auditjson's quoting, audit's CSV cells):
// eight bytes looked at in one uint64 where a loop looked at each (issue
// 12).
package swar

// Bytes repeated across a word.
const (
	LSB = 0x0101010101010101
	MSB = 0x8080808080808080
)

// Load64 returns the eight bytes of s at i as a little-endian word (one
// load: the compiler combines the shifts).
func Load64[S ~string | ~[]byte](s S, i int) uint64 {
	s = s[i : i+8]
	return uint64(s[0]) | uint64(s[1])<<8 | uint64(s[2])<<16 | uint64(s[3])<<24 |
		uint64(s[4])<<32 | uint64(s[5])<<40 | uint64(s[6])<<48 | uint64(s[7])<<56
}

// HasByte marks, in their top bits, the bytes of x equal to c. The lowest
// mark is exact: a byte can be marked wrongly only above one marked
// rightly, through the borrow of the subtraction, so the result is zero
// exactly when no byte equals c.
func HasByte(x uint64, c byte) uint64 {
	y := x ^ (LSB * uint64(c))
	return (y - LSB) &^ y & MSB
}
