package migrations_test

import (
	"context"
	"errors"
	"slices"
	"testing"

	"github.com/usher-go/usher/store/internal/migrations"
)

// fakeTarget records the steps applied; fail names one that fails.
type fakeTarget struct {
	version int
	applied []int
	fail    int
}

func (f *fakeTarget) Version(context.Context) (int, error) { return f.version, nil }

func (f *fakeTarget) Apply(_ context.Context, s migrations.Step) error {
	if s.Version == f.fail {
		return errStep
	}
	f.applied = append(f.applied, s.Version)
	f.version = s.Version
	return nil
}

var (
	errStep   = errors.New("step failed")
	errTooNew = errors.New("too new")
)

func TestApply(t *testing.T) {
	steps := []migrations.Step{{Version: 1}, {Version: 2}, {Version: 3}}
	tests := []struct {
		name    string
		version int
		fail    int
		want    []int
		wantErr error
	}{
		{"new database", 0, 0, []int{1, 2, 3}, nil},
		{"only the missing steps", 1, 0, []int{2, 3}, nil},
		{"up to date", 3, 0, nil, nil},
		{"newer than the code", 4, 0, nil, errTooNew},
		{"stops at a failing step", 0, 2, []int{1}, errStep},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &fakeTarget{version: tt.version, fail: tt.fail}
			err := migrations.Apply(t.Context(), f, steps, errTooNew)
			if !errors.Is(err, tt.wantErr) || tt.wantErr == nil && err != nil {
				t.Errorf("Apply = %v, want %v", err, tt.wantErr)
			}
			if !slices.Equal(f.applied, tt.want) {
				t.Errorf("applied %v, want %v", f.applied, tt.want)
			}
		})
	}
}
