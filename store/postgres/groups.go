package postgres

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"unicode"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/group"
)

const groupCols = `g.id, g.name, g.description, g.permissions, g.require_two_factor, g.created_at, g.updated_at, g.version`

func scanGroup(row pgx.Row, g *group.Group) error {
	var perms []string
	err := row.Scan((*string)(&g.ID), &g.Name, &g.Description, &perms, &g.RequireTwoFactor, &g.CreatedAt, &g.UpdatedAt, &g.Version)
	if err != nil {
		return err
	}
	g.Permissions = toPermissions(perms)
	return nil
}

func toPermissions(ps []string) []group.Permission {
	if len(ps) == 0 {
		return nil
	}
	out := make([]group.Permission, len(ps))
	for i, p := range ps {
		out[i] = group.Permission(p)
	}
	return out
}

// checkPermissions refuses what store/sqlite cannot store either: an empty
// permission or one with white space. Permissions are a text[] here, but
// the session lookup reads them joined by spaces (see sessions.go), and
// both stores should accept the same groups.
func checkPermissions(ps []group.Permission) ([]string, error) {
	out := make([]string, len(ps))
	for i, p := range ps {
		if p == "" || strings.ContainsFunc(string(p), unicode.IsSpace) {
			return nil, fmt.Errorf("%w: %q", group.ErrInvalidPermission, p)
		}
		out[i] = string(p)
	}
	return out, nil
}

// groupWriteErr maps the constraint violations a group row can hit.
func groupWriteErr(op string, err error) error {
	if violates(err, codeUnique, "groups_name_unique") {
		return wrap(op, group.ErrNameTaken)
	}
	return wrap(op, err)
}

func (gs groupStore) Create(ctx context.Context, g *group.Group) error {
	perms, err := checkPermissions(g.Permissions)
	if err != nil {
		return err
	}
	const q = `INSERT INTO groups
		(id, name, name_key, description, permissions, require_two_factor, created_at, updated_at, version)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, 1)`
	_, err = gs.s.write(ctx, q, string(g.ID), g.Name, foldKey(g.Name), g.Description, perms,
		g.RequireTwoFactor, g.CreatedAt, g.UpdatedAt)
	if err != nil {
		return groupWriteErr("create group", err)
	}
	g.Version = 1
	return nil
}

func (gs groupStore) Get(ctx context.Context, id group.ID) (*group.Group, error) {
	if !storable(string(id)) {
		return nil, wrap("get group", group.ErrNotFound)
	}
	g := new(group.Group)
	err := scanGroup(gs.s.q.QueryRow(ctx, `SELECT `+groupCols+` FROM groups g WHERE g.id = $1`, string(id)), g)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("get group", group.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get group", err)
	}
	return g, nil
}

func (gs groupStore) List(ctx context.Context) ([]group.Group, error) {
	rows, err := gs.s.q.Query(ctx, `SELECT `+groupCols+` FROM groups g ORDER BY g.name_key, g.id`)
	if err != nil {
		return nil, wrap("list groups", err)
	}
	defer rows.Close()
	var out []group.Group
	for rows.Next() {
		var g group.Group
		if err := scanGroup(rows, &g); err != nil {
			return nil, wrap("list groups", err)
		}
		out = append(out, g)
	}
	if err := rows.Err(); err != nil {
		return nil, wrap("list groups", err)
	}
	return out, nil
}

func (gs groupStore) Update(ctx context.Context, g *group.Group) error {
	perms, err := checkPermissions(g.Permissions)
	if err != nil {
		return err
	}
	if !storable(string(g.ID)) {
		return wrap("update group", group.ErrNotFound)
	}
	const q = `UPDATE groups SET name = $1, name_key = $2, description = $3, permissions = $4,
		require_two_factor = $5, updated_at = $6, version = version + 1 WHERE id = $7 AND version = $8`
	tag, err := gs.s.write(ctx, q, g.Name, foldKey(g.Name), g.Description, perms,
		g.RequireTwoFactor, g.UpdatedAt, string(g.ID), g.Version)
	if err != nil {
		return groupWriteErr("update group", err)
	}
	if err := gs.s.versioned(ctx, "update group", tag, `SELECT EXISTS (SELECT 1 FROM groups WHERE id = $1)`, string(g.ID),
		group.ErrNotFound, group.ErrStale); err != nil {
		return err
	}
	g.Version++
	return nil
}

// Delete relies on users.group_id's ON DELETE RESTRICT: a group with
// members fails the statement itself, so no member can be added between a
// check and the delete.
func (gs groupStore) Delete(ctx context.Context, id group.ID) error {
	if !storable(string(id)) {
		return wrap("delete group", group.ErrNotFound)
	}
	tag, err := gs.s.write(ctx, `DELETE FROM groups WHERE id = $1`, string(id))
	if violates(err, codeForeignKey, "users_group_fk") {
		return wrap("delete group", group.ErrInUse)
	}
	return affected("delete group", tag, err, group.ErrNotFound)
}
