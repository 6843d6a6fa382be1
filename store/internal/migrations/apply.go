package migrations

import (
	"context"
	"fmt"
)

// Target is a database being migrated, inside the one transaction that
// migrates it: a failing step leaves it as it was. The store that
// implements it prefixes its own errors.
type Target interface {
	// Version returns the last version applied, 0 for a new database.
	Version(ctx context.Context) (int, error)
	// Apply runs step and records its version, in the same transaction.
	Apply(ctx context.Context, step Step) error
}

// Apply brings t up to the last of steps, applying in order those after
// its version. A database at a version this code does not know (newer
// than the last step) is left untouched: the error wraps tooNew, as an
// older binary must not guess what a newer schema means, and migrations
// never run backwards. Only versions are recorded, not the steps' text.
func Apply(ctx context.Context, t Target, steps []Step, tooNew error) error {
	current, err := t.Version(ctx)
	if err != nil {
		return err
	}
	if current > len(steps) {
		return fmt.Errorf("%w: at version %d, this code knows up to %d", tooNew, current, len(steps))
	}
	for _, s := range steps[current:] {
		if err := t.Apply(ctx, s); err != nil {
			return err
		}
	}
	return nil
}
