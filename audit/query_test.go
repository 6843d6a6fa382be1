package audit_test

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
)

func TestQueryNormalize(t *testing.T) {
	t.Parallel()
	t0 := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	t1 := t0.Add(time.Nanosecond)
	long := strings.Repeat("x", 257)
	edge := strings.Repeat("x", 256)
	tests := []struct {
		name    string
		in      audit.Query
		want    audit.Query
		wantErr bool
	}{
		{name: "zero value gets the default limit", in: audit.Query{}, want: audit.Query{Limit: audit.DefaultLimit}},
		{name: "limit 1", in: audit.Query{Limit: 1}, want: audit.Query{Limit: 1}},
		{name: "limit 500", in: audit.Query{Limit: 500}, want: audit.Query{Limit: 500}},
		{name: "limit 501", in: audit.Query{Limit: 501}, wantErr: true},
		{name: "limit -1", in: audit.Query{Limit: -1}, wantErr: true},
		{name: "outcome success", in: audit.Query{Outcome: audit.Success}, want: audit.Query{Outcome: audit.Success, Limit: 50}},
		{name: "outcome failure", in: audit.Query{Outcome: audit.Failure}, want: audit.Query{Outcome: audit.Failure, Limit: 50}},
		{name: "outcome denied", in: audit.Query{Outcome: audit.Denied}, want: audit.Query{Outcome: audit.Denied, Limit: 50}},
		{name: "unknown outcome", in: audit.Query{Outcome: "maybe"}, wantErr: true},
		{name: "outcome is case-sensitive", in: audit.Query{Outcome: "Success"}, wantErr: true},
		{name: "since before until", in: audit.Query{Since: t0, Until: t1}, want: audit.Query{Since: t0, Until: t1, Limit: 50}},
		{name: "since alone", in: audit.Query{Since: t1}, want: audit.Query{Since: t1, Limit: 50}},
		{name: "until alone", in: audit.Query{Until: t0}, want: audit.Query{Until: t0, Limit: 50}},
		{name: "since equal to until", in: audit.Query{Since: t0, Until: t0}, wantErr: true},
		{name: "since after until", in: audit.Query{Since: t1, Until: t0}, wantErr: true},
		{name: "since in the year 2999", in: audit.Query{Since: time.Date(2999, 1, 1, 0, 0, 0, 0, time.UTC)}, wantErr: true},
		{name: "until in the year 1000", in: audit.Query{Until: time.Date(1000, 1, 1, 0, 0, 0, 0, time.UTC)}, wantErr: true},
		{name: "since in 2261", in: audit.Query{Since: time.Date(2261, 1, 1, 0, 0, 0, 0, time.UTC)},
			want: audit.Query{Since: time.Date(2261, 1, 1, 0, 0, 0, 0, time.UTC), Limit: 50}},
		{name: "oldest first kept", in: audit.Query{OldestFirst: true}, want: audit.Query{OldestFirst: true, Limit: 50}},
		{name: "filters of 256 bytes", in: audit.Query{Action: audit.Action(edge), ActorID: edge, TargetType: edge, TargetID: edge},
			want: audit.Query{Action: audit.Action(edge), ActorID: edge, TargetType: edge, TargetID: edge, Limit: 50}},
		{name: "action of 257 bytes", in: audit.Query{Action: audit.Action(long)}, wantErr: true},
		{name: "actor of 257 bytes", in: audit.Query{ActorID: long}, wantErr: true},
		{name: "target type of 257 bytes", in: audit.Query{TargetType: long}, wantErr: true},
		{name: "target ID of 257 bytes", in: audit.Query{TargetID: long}, wantErr: true},
		{
			name: "every field kept",
			in: audit.Query{Action: audit.LoginFailed, ActorID: "u1", TargetType: audit.TargetUser, TargetID: "u2",
				Outcome: audit.Failure, Since: t0, Until: t1, Limit: 10, Cursor: "abc"},
			want: audit.Query{Action: audit.LoginFailed, ActorID: "u1", TargetType: audit.TargetUser, TargetID: "u2",
				Outcome: audit.Failure, Since: t0, Until: t1, Limit: 10, Cursor: "abc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.in.Normalize()
			if tt.wantErr {
				if !errors.Is(err, audit.ErrInvalidQuery) {
					t.Fatalf("Normalize(%+v) = %v, want an error wrapping ErrInvalidQuery", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%+v) = %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Normalize(%+v)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}
