// Package keyrange turns a key prefix into the half-open range of keys
// that begin with it, so a store can find them with an indexed range scan
// (key >= prefix AND key < end) instead of LIKE, which would need its
// wildcards escaped and, in PostgreSQL, a collation that compares bytes.
package keyrange

// End returns the least string above every string that begins with
// prefix, compared byte by byte, and true; or false when there is none
// (prefix is empty or all 0xff bytes), and every key from prefix up
// matches.
func End(prefix string) (string, bool) {
	b := []byte(prefix)
	for i := len(b) - 1; i >= 0; i-- {
		if b[i] < 0xff {
			b[i]++
			return string(b[:i+1]), true
		}
	}
	return "", false
}
