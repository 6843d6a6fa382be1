package audit_test

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"time"

	"github.com/usher-go/usher/audit"
)

func ExampleSlogSink() {
	// A handler that drops the record's own timestamp, so the output below
	// stays the same from run to run; a host keeps it.
	h := slog.NewJSONHandler(os.Stdout, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if len(groups) == 0 && a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		},
	})
	sink := audit.SlogSink{Logger: slog.New(h)}
	at := time.Date(2025, 3, 14, 15, 9, 26, 0, time.UTC)
	ctx := context.Background()

	_ = sink.Append(ctx, &audit.Event{
		ID: "41", Time: at, Action: audit.LoginSucceeded, Outcome: audit.Success,
		Actor: audit.Actor{ID: "u1", Email: "alice@example.com"}, IP: "192.0.2.1",
	})
	_ = sink.Append(ctx, &audit.Event{
		ID: "42", Time: at, Action: audit.LoginFailed, Outcome: audit.Failure,
		IP: "198.51.100.7", Reason: "unknown email",
	})
	// Output:
	// {"level":"INFO","msg":"audit","action":"login.succeeded","outcome":"success","event_time":"2025-03-14T15:09:26Z","id":"41","actor_id":"u1","actor_email":"alice@example.com","ip":"192.0.2.1"}
	// {"level":"WARN","msg":"audit","action":"login.failed","outcome":"failure","event_time":"2025-03-14T15:09:26Z","id":"42","ip":"198.51.100.7","reason":"unknown email"}
}

func ExampleQuery_Normalize() {
	q, err := audit.Query{Outcome: audit.Denied}.Normalize()
	fmt.Println(q.Limit, err)
	_, err = audit.Query{Outcome: "maybe"}.Normalize()
	fmt.Println(err)
	// Output:
	// 50 <nil>
	// audit: invalid query: unknown outcome "maybe"
}
