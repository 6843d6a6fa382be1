package sqlite

import (
	"context"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

// TestAuditPagePackedAsPlain: a page read packed (eventColumns) gives
// every event exactly as the plain columns give it (ChainEvents reads
// those), whatever its text holds: the packing's own separators, digits,
// NUL, invalid UTF-8, empty fields, long ones.
func TestAuditPagePackedAsPlain(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	odd := []string{"", " ", ":", "3:abc", "12 34", "a\x00b", "\xff\xfe", "é€😀", strings.Repeat("Mozilla/5.0 ", 40)}
	for i := range 30 {
		s := func(k int) string { return odd[(i+k)%len(odd)] }
		e := &audit.Event{Time: t0.Add(time.Duration(i) * time.Millisecond), Action: audit.Action("a" + s(0)),
			Outcome: audit.Outcome(s(1)), Actor: audit.Actor{ID: s(2), Email: s(3)},
			Target: audit.Target{Type: s(4), ID: s(5), Label: s(6)}, IP: s(7), UserAgent: s(8), Reason: s(9)}
		if i%3 == 0 {
			e.Details = map[string]any{"n": i, "s": s(0)}
		}
		if err := db.Audit().Append(ctx, e); err != nil {
			t.Fatal(err)
		}
	}
	plain, err := db.Audit().ChainEvents(ctx, 0, 1000)
	if err != nil {
		t.Fatal(err)
	}
	var packed []audit.Event
	for q := (audit.Query{Limit: 7, OldestFirst: true}); ; {
		p, err := db.Audit().Query(ctx, q)
		if err != nil {
			t.Fatal(err)
		}
		packed = append(packed, p.Events...)
		if p.Next == "" {
			break
		}
		q.Cursor = p.Next
	}
	if len(packed) != len(plain) {
		t.Fatalf("paged %d events, the plain read %d", len(packed), len(plain))
	}
	byID := make(map[string]audit.Event)
	for _, c := range plain {
		byID[c.Event.ID] = c.Event
	}
	for _, e := range packed {
		if want := byID[e.ID]; !reflect.DeepEqual(e, want) {
			t.Errorf("event %s packed:\n%#v\nplain:\n%#v", e.ID, e, want)
		}
	}
}

// TestUnpackEventRefuses: a value not in the packed form is refused, never
// read past its end.
func TestUnpackEventRefuses(t *testing.T) {
	good := "12 1700000000000000000 1 1:a1:b0:0:0:0:0:0:0:0:"
	var e audit.Event
	if r, ok := unpackEvent(good, &e); !ok || r != 1 || e.ID != "12" || e.Action != "a" || e.Outcome != "b" {
		t.Fatalf("unpackEvent(%q) = %d, %v, %+v", good, r, ok, e)
	}
	for _, p := range []string{
		"", "12", "12 x 1 ", "x 1 1 1:a1:b0:0:0:0:0:0:0:0:", "1.5 1 1 1:a1:b0:0:0:0:0:0:0:0:",
		"12 1 1 1:a1:b0:0:0:0:0:0:0:",    // a string short
		"12 1 1 1:a1:b0:0:0:0:0:0:0:0:x", // trailing
		"12 1 1 1:a1:b0:0:0:0:0:0:0:99:", // length past the end
		"12 1 1 -1:a1:b0:0:0:0:0:0:0:0:", // negative length
	} {
		if _, ok := unpackEvent(p, &e); ok {
			t.Errorf("unpackEvent(%q) accepted", p)
		}
	}
}
