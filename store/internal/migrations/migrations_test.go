package migrations_test

import (
	"strings"
	"testing"
	"testing/fstest"

	"github.com/usher-go/usher/store/internal/migrations"
)

func TestLoadChecksNames(t *testing.T) {
	file := &fstest.MapFile{Data: []byte("SELECT 1;")}
	tests := []struct {
		name  string
		files []string
		bad   string // substring of the error; empty for success
	}{
		{"in order", []string{"0001_a.sql", "0002_b.sql"}, ""},
		{"gap", []string{"0001_a.sql", "0003_c.sql"}, "want version 2"},
		{"starts at two", []string{"0002_b.sql"}, "want version 1"},
		{"duplicate number", []string{"0001_a.sql", "0001_b.sql"}, "want version 2"},
		{"no number", []string{"init.sql"}, "NNNN_name.sql"},
		{"short number", []string{"1_init.sql"}, "NNNN_name.sql"},
		{"not sql", []string{"0001_init.txt"}, "NNNN_name.sql"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fsys := fstest.MapFS{}
			for _, f := range tt.files {
				fsys["m/"+f] = file
			}
			steps, err := migrations.Load(fsys, "m")
			if tt.bad == "" && err != nil || tt.bad != "" && (err == nil || !strings.Contains(err.Error(), tt.bad)) {
				t.Fatalf("Load(%v) = %v, want error containing %q", tt.files, err, tt.bad)
			}
			if tt.bad == "" && (len(steps) != 2 || steps[1].Version != 2 || steps[1].Name != "0002_b.sql" || steps[1].SQL != "SELECT 1;") {
				t.Fatalf("Load = %+v", steps)
			}
		})
	}
}
