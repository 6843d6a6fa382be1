package user_test

import (
	"errors"
	"reflect"
	"strings"
	"testing"

	"github.com/usher-go/usher/user"
)

func TestQueryNormalize(t *testing.T) {
	t.Parallel()
	yes, no := true, false
	tests := []struct {
		name    string
		in      user.Query
		want    user.Query
		wantErr bool
	}{
		{name: "zero value gets defaults", in: user.Query{}, want: user.Query{Sort: user.SortCreated, Limit: user.DefaultLimit}},
		{name: "limit 0 is the default", in: user.Query{Limit: 0, Sort: user.SortEmail}, want: user.Query{Sort: user.SortEmail, Limit: 50}},
		{name: "limit 1", in: user.Query{Limit: 1}, want: user.Query{Sort: user.SortCreated, Limit: 1}},
		{name: "limit 200", in: user.Query{Limit: 200}, want: user.Query{Sort: user.SortCreated, Limit: 200}},
		{name: "limit 201", in: user.Query{Limit: 201}, wantErr: true},
		{name: "limit -1", in: user.Query{Limit: -1}, wantErr: true},
		{name: "sort created", in: user.Query{Sort: user.SortCreated, Limit: 5}, want: user.Query{Sort: user.SortCreated, Limit: 5}},
		{name: "sort email", in: user.Query{Sort: user.SortEmail, Limit: 5}, want: user.Query{Sort: user.SortEmail, Limit: 5}},
		{name: "sort name", in: user.Query{Sort: user.SortName, Limit: 5}, want: user.Query{Sort: user.SortName, Limit: 5}},
		{name: "sort last login", in: user.Query{Sort: user.SortLastLogin, Limit: 5}, want: user.Query{Sort: user.SortLastLogin, Limit: 5}},
		{name: "unknown sort", in: user.Query{Sort: "password"}, wantErr: true},
		{name: "sort is case-sensitive", in: user.Query{Sort: "Email"}, wantErr: true},
		{name: "sort with SQL", in: user.Query{Sort: "email; DROP TABLE users"}, wantErr: true},
		{name: "search trimmed", in: user.Query{Search: "  bob \t"}, want: user.Query{Search: "bob", Sort: user.SortCreated, Limit: 50}},
		{name: "search of 254 bytes", in: user.Query{Search: strings.Repeat("s", 254)}, want: user.Query{Search: strings.Repeat("s", 254), Sort: user.SortCreated, Limit: 50}},
		{name: "search of 254 bytes once trimmed", in: user.Query{Search: " " + strings.Repeat("s", 254) + " "}, want: user.Query{Search: strings.Repeat("s", 254), Sort: user.SortCreated, Limit: 50}},
		{name: "search of 255 bytes", in: user.Query{Search: strings.Repeat("s", 255)}, wantErr: true},
		{name: "search of 10 KB", in: user.Query{Search: strings.Repeat("s", 10<<10)}, wantErr: true},
		{
			name: "other fields kept",
			in: user.Query{GroupID: "g1", Disabled: &yes, TwoFactor: &no, Sort: user.SortName,
				Descending: true, Limit: 7, Cursor: "abc"},
			want: user.Query{GroupID: "g1", Disabled: &yes, TwoFactor: &no, Sort: user.SortName,
				Descending: true, Limit: 7, Cursor: "abc"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, err := tt.in.Normalize()
			if tt.wantErr {
				if !errors.Is(err, user.ErrInvalidQuery) {
					t.Fatalf("Normalize(%+v) = %v, want an error wrapping ErrInvalidQuery", tt.in, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("Normalize(%+v) = %v", tt.in, err)
			}
			if !reflect.DeepEqual(got, tt.want) {
				t.Fatalf("Normalize(%+v)\n got %+v\nwant %+v", tt.in, got, tt.want)
			}
		})
	}
}
