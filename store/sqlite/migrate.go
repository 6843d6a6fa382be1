package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"fmt"
	"time"

	"github.com/usher-go/usher/store/internal/migrations"
)

// migrationFiles holds the schema steps (see store/internal/migrations).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// embedded returns the embedded steps in order, checking the numbering.
func embedded() ([]migrations.Step, error) { return migrations.Load(migrationFiles, "migrations") }

// migrate brings the schema up to date in one transaction: a failing step
// leaves the database as it was. The transaction is BEGIN IMMEDIATE (the
// writer's _txlock), so two processes opening a new file at once migrate it
// once: the second waits, then finds nothing left to do.
//
// The version lives in a table rather than PRAGMA user_version so that a
// host keeping its own tables in the same file keeps user_version for
// itself. A migration that must rebuild a table cannot turn foreign_keys off
// inside the transaction; it should use PRAGMA defer_foreign_keys instead.
func migrate(ctx context.Context, w *sql.DB) error {
	ms, err := embedded()
	if err != nil {
		return fmt.Errorf("sqlite: %w", err)
	}
	return applyMigrations(ctx, w, ms)
}

func applyMigrations(ctx context.Context, w *sql.DB, ms []migrations.Step) (err error) {
	tx, err := w.BeginTx(ctx, nil)
	if err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback()
		}
	}()
	const schema = `CREATE TABLE IF NOT EXISTS schema_version (
		version    INTEGER PRIMARY KEY,
		applied_at INTEGER NOT NULL
	)`
	if _, err := tx.ExecContext(ctx, schema); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	if err := migrations.Apply(ctx, target{tx}, ms, ErrSchemaTooNew); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return fmt.Errorf("sqlite: migrate: %w", err)
	}
	return nil
}

// target is the database being migrated, in the migrating transaction.
type target struct{ tx *sql.Tx }

func (t target) Version(ctx context.Context) (int, error) {
	var v int
	if err := t.tx.QueryRowContext(ctx, `SELECT COALESCE(MAX(version), 0) FROM schema_version`).Scan(&v); err != nil {
		return 0, fmt.Errorf("sqlite: migrate: %w", err)
	}
	return v, nil
}

func (t target) Apply(ctx context.Context, m migrations.Step) error {
	if _, err := t.tx.ExecContext(ctx, m.SQL); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	if _, err := t.tx.ExecContext(ctx, `INSERT INTO schema_version (version, applied_at) VALUES (?, ?)`,
		m.Version, time.Now().UnixNano()); err != nil {
		return fmt.Errorf("sqlite: migration %s: %w", m.Name, err)
	}
	return nil
}
