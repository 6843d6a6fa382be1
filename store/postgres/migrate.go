package postgres

import (
	"context"
	"embed"
	"fmt"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/usher-go/usher/store/internal/migrations"
)

// migrationFiles holds one file per schema step, named NNNN_what.sql and
// numbered from 0001 without gaps. A file, once released, never changes:
// a fix is a new file.
//
//go:embed migrations/*.sql
var migrationFiles embed.FS

type migration = migrations.Step

// embedded returns the embedded steps in order, checking the numbering.
func embedded() ([]migration, error) {
	ms, err := migrations.Load(migrationFiles, "migrations")
	if err != nil {
		return nil, fmt.Errorf("postgres: %w", err)
	}
	return ms, nil
}

// migrate brings the schema up to date and returns its name. schema is
// Options.Schema: created when missing; empty means the search_path's.
func migrate(ctx context.Context, pool *pgxpool.Pool, schema string) (string, error) {
	ms, err := embedded()
	if err != nil {
		return "", err
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
func applyMigrations(ctx context.Context, pool *pgxpool.Pool, schema string, ms []migration) (name string, err error) {
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
	if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1, $2)`, lockClassMigrate, lockKey(schema)); err != nil {
		return "", fmt.Errorf("postgres: migrate: lock: %w", err)
	}
	// Existence is checked before each CREATE, rather than with IF NOT
	// EXISTS, because PostgreSQL checks the CREATE privilege first: a role
	// that may only use an existing schema can still open it.
	var schemaExists, versionExists bool
	sv := pgx.Identifier{schema, "schema_version"}.Sanitize()
	err = tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM pg_namespace WHERE nspname = $1), to_regclass($2) IS NOT NULL`,
		schema, sv).Scan(&schemaExists, &versionExists)
	if err != nil {
		return "", fmt.Errorf("postgres: migrate: %w", err)
	}
	if !schemaExists {
		if _, err := tx.Exec(ctx, `CREATE SCHEMA `+pgx.Identifier{schema}.Sanitize()); err != nil {
			return "", fmt.Errorf("postgres: migrate: create schema %q: %w", schema, err)
		}
	}
	if !versionExists {
		// Qualified: the search_path may have been resolved before the
		// schema existed.
		if _, err := tx.Exec(ctx, `CREATE TABLE `+sv+` (
			version    integer PRIMARY KEY,
			applied_at timestamptz NOT NULL DEFAULT now()
		)`); err != nil {
			return "", fmt.Errorf("postgres: migrate: %w", err)
		}
	}
	var current int
	if err := tx.QueryRow(ctx, `SELECT COALESCE(MAX(version), 0) FROM `+sv).Scan(&current); err != nil {
		return "", fmt.Errorf("postgres: migrate: %w", err)
	}
	if current > len(ms) {
		return "", fmt.Errorf("%w: schema %q is at version %d, this code knows up to %d",
			ErrSchemaTooNew, schema, current, len(ms))
	}
	if current < len(ms) {
		// The steps create unqualified names; make sure they land in schema.
		if _, err := tx.Exec(ctx, `SELECT set_config('search_path', $1, true)`, pgx.Identifier{schema}.Sanitize()); err != nil {
			return "", fmt.Errorf("postgres: migrate: %w", err)
		}
	}
	for _, m := range ms[current:] {
		// No arguments: pgx sends it with the simple protocol, which
		// runs a file of several statements.
		if _, err := tx.Exec(ctx, m.SQL); err != nil {
			return "", fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
		if _, err := tx.Exec(ctx, `INSERT INTO `+sv+` (version) VALUES ($1)`, m.Version); err != nil {
			return "", fmt.Errorf("postgres: migration %s: %w", m.Name, err)
		}
	}
	if err := tx.Commit(ctx); err != nil {
		return "", fmt.Errorf("postgres: migrate: %w", err)
	}
	return schema, nil
}
