package group_test

import (
	"testing"

	"github.com/usher-go/usher/group"
)

// BenchmarkSetHas is the core of Principal.Can (target ≤ 50 ns, no
// allocation): one granted check through a wildcard and one refusal.
func BenchmarkSetHas(b *testing.B) {
	s := group.NewSet([]group.Permission{"profile:*", "backups:read", "users:read"})
	b.ReportAllocs()
	for b.Loop() {
		if !s.Has(group.ProfileUpdateEmail) || s.Has("backups:run") {
			b.Fatal("wrong answer")
		}
	}
}
