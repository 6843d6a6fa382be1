package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usher-go/usher/store/internal/migrations"
)

// migrationFiles holds the schema steps (see store/internal/migrations).
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

// embedded returns the embedded steps in order, checking the numbering.
func embedded() ([]migrations.Step, error) { return migrations.Load(migrationFiles, "migrations") }

// migrate brings the schema up to date and returns its name. schema is
// Options.Schema: created when missing; empty means the search_path's.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) (string, error) {
	ms, err := embedded()
	if err != nil {
		return "", fmt.Errorf("postgres: %w", err)
	}
	return applyMigrations(ctx, pool, schema, ms)
}

// applyMigrations runs in one transaction: PostgreSQL's DDL is
// transactional, so a failing step leaves the schema as it was. The
// transaction first takes an advisory lock keyed by the schema name, so
// instances starting at once migrate it once: the others wait, then find
// nothing left to do. The lock is transaction-scoped and goes with the
// commit or rollback, whatever happens to the connection. The transaction
// is READ COMMITTED, so each statement after the lock sees what the
// instance that held it before committed.
func applyMigrations(ctx context.Context, pool *pgxpool.Pool, schema string, ms []migrations.Step) (name string, err error) {
	if schema == "" {
		var cur *string
		if err := pool.QueryRow(ctx, `SELECT current_schema()`).Scan(&cur); err != nil {
			return "", fmt.Errorf("postgres: migrate: %w", err)
		}
		if cur == nil {
			return "", ErrNoSchema
		}
		schema = *cur
	}
	tx, err := pool.BeginTx(ctx, pgx.TxOptions{IsoLevel: pgx.ReadCommitted})
	if err != nil {
		return "", fmt.Errorf("postgres: migrate: %w", err)
	}
	defer func() {
		if err != nil {
			_ = tx.Rollback(context.WithoutCancel(ctx))
		}
	}()
	t := target{tx: tx, schema: schema, version: pgx.Identifier{schema, "schema_version"}.Sanitize()}
	if err := t.prepare(ctx); err != nil {
		return "", err
	}
	if err := migrations.Apply(ctx, t, ms, ErrSchemaTooNew); err != nil {
		return "", fmt.Errorf("%w (schema %q)", err, schema)
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("postgres: migrate: %w", err)
	}
	return schema, nil
}

// target is the schema being migrated, in the migrating transaction.
type target struct {
	tx      pgx.Tx
	schema  string
	version string // the schema_version table, qualified and quoted
}

// prepare takes the schema's migration lock, then creates the schema and
// its schema_version table where they do not exist yet.
func (t target) prepare(ctx context.Context) error {
	if _, err := t.tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClassMigrate, lockKey(t.schema)); err != nil {
		return fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	// Existence is checked before each CREATE, rather than with IF NOT
	// EXISTS, because PostgreSQL checks the CREATE privilege first: a role
	// that may only use an existing schema can still open it.
	var schemaExists, versionExists bool
	err := t.tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), to_regclass($2) IS NOT NULL`,
		t.schema, t.version).Scan(&schemaExists, &versionExists)
	if err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if !schemaExists {
		if _, err := t.tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{t.schema}.Sanitize()); err != nil {
			return fmt.Errorf("postgres: migrate: create schema %q: %w", t.schema, err)
		}
	}
	if !versionExists {
		// Qualified: the search_path may have been resolved before the
		// schema existed.
		if _, err := t.tx.Exec(ctx, `CREATE TABLE `+t.version+` (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return fmt.Errorf("postgres: migrate: %w", err)
		}
	}
	return nil
}

func (t target) Version(ctx context.Context) (int, error) {
	var v int
	if err := t.tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+t.version).Scan(&v); err != nil {
		return 0, fmt.Errorf("postgres: migrate: %w", err)
	}
	return v, nil
}

func (t target) Apply(ctx context.Context, m migrations.Step) error {
	// The steps create unqualified names; make sure they land in the
	// schema. No arguments for the step itself: pgx sends it with the
	// simple protocol, which runs a file of several statements.
	if _, err := t.tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, pgx.Identifier{t.schema}.Sanitize()); err != nil {
		return fmt.Errorf("postgres: migrate: %w", err)
	}
	if _, err := t.tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
	}
	if _, err := t.tx.Exec(ctx, `INSERT INTO `+t.version+` (version) VALUES ($1)`, m.Version); err != nil {
		return fmt.Errorf("postgres: migration %s: %w", m.Name, err)
	}
	return nil
}
