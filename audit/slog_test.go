package audit_test

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

// records decodes the JSON lines a slog.JSONHandler wrote, failing on a key
// written twice in one record: consumers disagree on which copy wins.
func records(t *testing.T, out *bytes.Buffer) []map[string]any {
	t.Helper()
	var recs []map[string]any
	for line := range strings.Lines(out.String()) {
		dec := json.NewDecoder(strings.NewReader(line))
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			t.Fatalf("record %q does not start with an object: %v", line, err)
		}
		seen := map[string]bool{}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				t.Fatalf("record %q: %v", line, err)
			}
			key := tok.(string)
			if seen[key] {
				t.Errorf("record %q has the key %q twice", line, key)
			}
			seen[key] = true
			var skip json.RawMessage
			if err := dec.Decode(&skip); err != nil {
				t.Fatalf("record %q: %v", line, err)
			}
		}
		var rec map[string]any
		if err := json.Unmarshal([]byte(line), &rec); err != nil {
			t.Fatalf("record %q: %v", line, err)
		}
		recs = append(recs, rec)
	}
	return recs
}

func TestSlogSink(t *testing.T) {
	t.Parallel()
	at := time.Date(2025, 3, 14, 15, 9, 26, 535897000, time.UTC)
	const atJSON = "2025-03-14T15:09:26.535897Z"
	tests := []struct {
		name      string
		event     audit.Event
		wantLevel string
		want      map[string]any // every attribute but the handler's time
	}{
		{
			name: "success with every field",
			event: audit.Event{
				ID: "42", Time: at, Action: audit.UserUpdated, Outcome: audit.Success,
				Actor:  audit.Actor{ID: "u1", Email: "admin@example.com"},
				Target: audit.Target{Type: audit.TargetUser, ID: "u2"},
				IP:     "192.0.2.1", UserAgent: "curl/8.0", Reason: "by request",
				Details: map[string]any{"before": "Bob", "after": "Robert", "fields": []string{"name"}},
			},
			wantLevel: "INFO",
			want: map[string]any{
				"level": "INFO", "msg": "audit",
				"action": "user.updated", "outcome": "success", "event_time": atJSON,
				"id": "42", "actor_id": "u1", "actor_email": "admin@example.com",
				"target_type": "user", "target_id": "u2",
				"ip": "192.0.2.1", "user_agent": "curl/8.0", "reason": "by request",
				"details": map[string]any{"before": "Bob", "after": "Robert", "fields": []any{"name"}},
			},
		},
		{
			name: "failure omits empty fields",
			event: audit.Event{
				Time: at, Action: audit.LoginFailed, Outcome: audit.Failure,
				IP: "198.51.100.7", Reason: "unknown email", Details: map[string]any{},
			},
			wantLevel: "WARN",
			want: map[string]any{
				"level": "WARN", "msg": "audit",
				"action": "login.failed", "outcome": "failure", "event_time": atJSON,
				"ip": "198.51.100.7", "reason": "unknown email",
			},
		},
		{
			name: "denied",
			event: audit.Event{
				ID: "7", Time: at, Action: audit.AuthorizationDeny, Outcome: audit.Denied,
				Actor:  audit.Actor{ID: "u3"},
				Target: audit.Target{Type: audit.TargetGroup, ID: "admin"},
				Reason: "lacks groups:write",
			},
			wantLevel: "WARN",
			want: map[string]any{
				"level": "WARN", "msg": "audit",
				"action": "authorization.denied", "outcome": "denied", "event_time": atJSON,
				"id": "7", "actor_id": "u3", "target_type": "group", "target_id": "admin",
				"reason": "lacks groups:write",
			},
		},
		{
			name:      "success with only the required fields",
			event:     audit.Event{Time: at, Action: audit.Logout, Outcome: audit.Success},
			wantLevel: "INFO",
			want: map[string]any{
				"level": "INFO", "msg": "audit",
				"action": "logout", "outcome": "success", "event_time": atJSON,
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var out bytes.Buffer
			sink := audit.SlogSink{Logger: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelDebug}))}
			if err := sink.Append(context.Background(), &tt.event); err != nil {
				t.Fatalf("Append = %v, want nil", err)
			}
			recs := records(t, &out)
			if len(recs) != 1 {
				t.Fatalf("Append wrote %d records, want 1:\n%s", len(recs), out.String())
			}
			rec := recs[0]
			if _, ok := rec[slog.TimeKey].(string); !ok {
				t.Errorf("record has no %q of its own: %v", slog.TimeKey, rec)
			}
			delete(rec, slog.TimeKey)
			if !reflect.DeepEqual(rec, tt.want) {
				t.Fatalf("record\n got %v\nwant %v", rec, tt.want)
			}
		})
	}
}

func TestSlogSinkRespectsLevel(t *testing.T) {
	t.Parallel()
	var out bytes.Buffer
	sink := audit.SlogSink{Logger: slog.New(slog.NewJSONHandler(&out, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	ctx := context.Background()
	if err := sink.Append(ctx, &audit.Event{Action: audit.Logout, Outcome: audit.Success}); err != nil {
		t.Fatalf("Append = %v, want nil", err)
	}
	if out.Len() != 0 {
		t.Fatalf("an Info event passed a Warn handler: %s", out.String())
	}
	if err := sink.Append(ctx, &audit.Event{Action: audit.LoginFailed, Outcome: audit.Failure}); err != nil {
		t.Fatalf("Append = %v, want nil", err)
	}
	if recs := records(t, &out); len(recs) != 1 || recs[0]["action"] != "login.failed" {
		t.Fatalf("a Warn event through a Warn handler: %v", recs)
	}
}

// TestSlogSinkDefaultLogger is not parallel: it swaps the process-wide
// default logger.
func TestSlogSinkDefaultLogger(t *testing.T) {
	var out bytes.Buffer
	old := slog.Default()
	slog.SetDefault(slog.New(slog.NewJSONHandler(&out, nil)))
	t.Cleanup(func() { slog.SetDefault(old) })

	if err := (audit.SlogSink{}).Append(context.Background(), &audit.Event{Action: audit.SignUp, Outcome: audit.Success}); err != nil {
		t.Fatalf("Append = %v, want nil", err)
	}
	if recs := records(t, &out); len(recs) != 1 || recs[0]["action"] != "signup" || recs[0]["level"] != "INFO" {
		t.Fatalf("zero SlogSink did not log through slog.Default: %v", recs)
	}
}
