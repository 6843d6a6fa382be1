// Package migrations is how both stores keep their schema: the embedded
// steps ([Load]) and the running of those a database lacks ([Apply]). Each
// store applies them in its own dialect and transaction, recording the
// version of each step in a schema_version table. A step is one file, named
// NNNN_what.sql, numbered from 0001 without gaps, and never changed once
// released: a fix is a new file. Only versions are recorded, not the steps'
// text, so a database past a step never runs it again.
package migrations

import (
	"fmt"
	"io/fs"
	"path"
	"strconv"
	"strings"
)

// Step is one schema step.
type Step struct {
	Version int
	Name    string // the file name
	SQL     string
}

// Load returns the steps in dir of fsys in order, checking the naming and
// the numbering.
func Load(fsys fs.FS, dir string) ([]Step, error) {
	entries, err := fs.ReadDir(fsys, dir) // sorted by name
	if err != nil {
		return nil, fmt.Errorf("migrations: %w", err)
	}
	var out []Step
	for _, e := range entries {
		num, _, ok := strings.Cut(e.Name(), "_")
		v, err := strconv.Atoi(num)
		if !ok || err != nil || len(num) != 4 || !strings.HasSuffix(e.Name(), ".sql") {
			return nil, fmt.Errorf("migration %q: want NNNN_name.sql", e.Name())
		}
		if v != len(out)+1 {
			return nil, fmt.Errorf("migration %q: want version %d", e.Name(), len(out)+1)
		}
		b, err := fs.ReadFile(fsys, path.Join(dir, e.Name()))
		if err != nil {
			return nil, fmt.Errorf("migration %q: %w", e.Name(), err)
		}
		out = append(out, Step{Version: v, Name: e.Name(), SQL: string(b)})
	}
	return out, nil
}
