package paging_test

import (
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/paging"
)

var testDialect = &paging.Dialect{
	Time:    func(t time.Time) any { return t.UnixNano() },
	TimeKey: func(n int64) any { return n },
}

// TestEventsLimitWritten: a page's LIMIT is written into the SQL, not
// bound, and pages of one shape (the same filters, order and size, at any
// depth) share one statement text, so a store prepares it once.
func TestEventsLimitWritten(t *testing.T) {
	t.Parallel()
	first, err := audit.Query{ActorID: "u1", Limit: 50}.Normalize()
	if err != nil {
		t.Fatal(err)
	}
	at := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	var sqls []string
	for i, cursor := range []string{"", paging.EncodeAuditCursor(paging.AuditCursor{Time: at, ID: "7"}),
		paging.EncodeAuditCursor(paging.AuditCursor{Time: at.Add(time.Hour), ID: "9"})} {
		q := first
		q.Cursor = cursor
		eq, err := testDialect.Events(q)
		if err != nil || !eq.OK {
			t.Fatalf("page %d: %v", i, err)
		}
		if !strings.HasSuffix(eq.SQL, " LIMIT 51") {
			t.Errorf("page %d: SQL %q does not end in the written LIMIT 51", i, eq.SQL)
		}
		for _, a := range eq.Args {
			if a == 51 {
				t.Errorf("page %d: the limit is bound too: %v", i, eq.Args)
			}
		}
		sqls = append(sqls, eq.SQL)
	}
	if sqls[1] != sqls[2] {
		t.Errorf("two deep pages of one query differ in shape:\n%s\n%s", sqls[1], sqls[2])
	}
}
