package storetest

import (
	"math"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

// More of RunAuditTampering: what a store round trip does to an event's
// details.

// Details that do not come back from a store as they went in (a -0 that
// jsonb reads as 0, keys that are one once NUL is replaced, numbers
// beyond float64, times, invalid UTF-8) still verify: an untouched trail
// is never reported as tampered.
func testDetailsRoundTrip(t *testing.T, x Tamper) {
	m, op := tamperManager(t, x.Store, nil)
	negZero := math.Copysign(0, -1)
	for i := range 16 {
		details := map[string]any{
			"neg":     negZero,
			"\x00k":   i,
			"\uFFFDk": -i,
			"nested":  map[string]any{"list": []any{negZero, "nul\x00", "bad\xff"}, "k\x00": true},
			"big":     uint64(1<<63 + 1),
			"when":    time.Date(2026, 1, 2, 3, 4, 5, 6, time.UTC),
			"bad\xff": strings.Repeat("x", 5000),
		}
		err := m.Record(ctx(t), op, "host.review", audit.Success,
			audit.Target{Type: "thing", ID: "a\x00b\xff", Label: "l\x00"}, details)
		must(t, "Record", err)
	}
	check := verify(t, m, op)
	if check.Break != nil || check.Checked < 16 {
		t.Fatalf("untouched trail with awkward details: %+v (break %v)", check, check.Break)
	}
}
