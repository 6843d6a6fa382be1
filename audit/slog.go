package audit

import (
	"context"
	"log/slog"
)

// SlogSink mirrors events into a structured logger, one record an event at
// level Info (Warn for failures and denials). It never fails. The record's
// message is "audit"; its attributes are action, outcome and event_time, then
// those of id, actor_id, actor_email, target_type, target_id, ip, user_agent,
// reason and details that are not empty.
type SlogSink struct {
	Logger *slog.Logger
}

// Append logs e.
func (s SlogSink) Append(ctx context.Context, e *Event) error {
	l := s.Logger
	if l == nil {
		l = slog.Default()
	}
	level := slog.LevelInfo
	if e.Outcome != Success {
		level = slog.LevelWarn
	}
	attrs := []slog.Attr{
		slog.String("action", string(e.Action)),
		slog.String("outcome", string(e.Outcome)),
		// Not "time": that key is the record's own, and a second one
		// makes JSON output ambiguous and ReplaceAttr unable to tell them apart.
		slog.Time("event_time", e.Time),
	}
	add := func(k, v string) {
		if v != "" {
			attrs = append(attrs, slog.String(k, v))
		}
	}
	add("id", e.ID)
	add("actor_id", e.Actor.ID)
	add("actor_email", e.Actor.Email)
	add("target_type", e.Target.Type)
	add("target_id", e.Target.ID)
	add("ip", e.IP)
	add("user_agent", e.UserAgent)
	add("reason", e.Reason)
	if len(e.Details) > 0 {
		attrs = append(attrs, slog.Any("details", e.Details))
	}
	l.LogAttrs(ctx, level, "audit", attrs...)
	return nil
}
