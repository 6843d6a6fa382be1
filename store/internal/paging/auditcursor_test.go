package paging_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
)

func TestAuditCursorRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    paging.AuditCursor
	}{
		{"UTC with nanoseconds", paging.AuditCursor{Time: time.Date(2025, 3, 14, 15, 9, 26, 535897932, time.UTC), ID: "42"}},
		{"other zone", paging.AuditCursor{Time: time.Date(2025, 3, 14, 15, 9, 26, 0, time.FixedZone("X", -7*3600)), ID: "u-1"}},
		{"zero time", paging.AuditCursor{ID: "1"}},
		{"ID with punctuation", paging.AuditCursor{Time: time.Unix(1700000000, 1), ID: `a&b<c>"d"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			s := paging.EncodeAuditCursor(tt.c)
			if strings.ContainsAny(s, "+/=\n") {
				t.Errorf("EncodeAuditCursor = %q, want URL-safe base64 without padding", s)
			}
			got, err := paging.DecodeAuditCursor(s)
			if err != nil {
				t.Fatalf("DecodeAuditCursor(EncodeAuditCursor(%+v)) = %v", tt.c, err)
			}
			if !got.Time.Equal(tt.c.Time) || got.ID != tt.c.ID {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.c)
			}
		})
	}
}

func TestDecodeAuditCursorRefuses(t *testing.T) {
	t.Parallel()
	b64 := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	valid := paging.EncodeAuditCursor(paging.AuditCursor{Time: time.Unix(1, 0).UTC(), ID: "9"})
	tests := []struct {
		name   string
		cursor string
	}{
		{"empty", ""},
		{"not base64", "%%%"},
		{"base64 of text", b64("hello")},
		{"base64 of null", b64("null")},
		{"base64 of an empty object", b64("{}")},
		{"JSON array", b64(`["2025-01-01T00:00:00Z","1"]`)},
		{"bad time", b64(`{"t":"yesterday","i":"1"}`)},
		{"without ID", b64(`{"t":"2025-01-01T00:00:00Z"}`)},
		{"empty ID", paging.EncodeAuditCursor(paging.AuditCursor{Time: time.Unix(1, 0)})},
		{"ID not a string", b64(`{"t":"2025-01-01T00:00:00Z","i":1}`)},
		{"truncated", valid[:len(valid)-4]},
		{"over 1 KB", paging.EncodeAuditCursor(paging.AuditCursor{Time: time.Unix(1, 0), ID: strings.Repeat("9", 1024)})},
		{"100 KB of base64 letters", strings.Repeat("A", 100<<10)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := paging.DecodeAuditCursor(tt.cursor)
			if !errors.Is(err, audit.ErrInvalidCursor) {
				t.Fatalf("DecodeAuditCursor(%q) = %+v, %v; want an error wrapping ErrInvalidCursor", tt.cursor, c, err)
			}
		})
	}
}
