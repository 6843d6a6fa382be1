package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"unicode"

	"github.com/usher-go/usher/group"
)

const groupCols = `g.id, g.name, g.description, g.permissions, g.require_two_factor, g.created_at, g.updated_at, g.version`

func scanGroup(sc scanner, g *group.Group) error {
	var perms string
	var created, updated int64
	if err := sc.Scan(&g.ID, &g.Name, &g.Description, &perms, &g.RequireTwoFactor, &created, &updated, &g.Version); err != nil {
		return err
	}
	g.Permissions = splitPermissions(perms)
	g.CreatedAt, g.UpdatedAt = fromNanos(created), fromNanos(updated)
	return nil
}

// Permissions are stored as one space-separated string: a group is always
// read and written whole, and permission syntax has no spaces.
func joinPermissions(ps []group.Permission) (string, error) {
	var b strings.Builder
	for i, p := range ps {
		if p == "" || strings.ContainsFunc(string(p), unicode.IsSpace) {
			// It would not read back as it was written.
			return "", fmt.Errorf("%w: %q", group.ErrInvalidPermission, p)
		}
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(string(p))
	}
	return b.String(), nil
}

// splitPermissions reads a stored permission list into a new slice.
func splitPermissions(s string) []group.Permission {
	if s == "" {
		return nil
	}
	n := strings.Count(s, " ") + 1
	out := make([]group.Permission, 0, n)
	for p := range strings.FieldsSeq(s) {
		out = append(out, group.Permission(p))
	}
	return out
}

// permListCache is the session lookup's permission lists, one per DB:
// each list split once per distinct stored text and shared by every
// lookup that reads that text, so Authenticate allocates nothing for it.
// It is keyed by the whole text and answers only for exactly that text,
// so a group whose permissions change (through the store or behind its
// back) reads the new ones on the next lookup, never the cached ones
// (invariant 3). Past maxPermLists texts (old versions pile up as groups
// change) it starts again from empty.
type permListCache struct {
	m  sync.Map // text → []group.Permission, never changed once stored
	mu sync.Mutex
	n  int // texts in m; written under mu
}

const maxPermLists = 1024

// split returns text's permission list. It is shared: callers read it
// and never change it (its capacity is its length, so an append copies).
func (c *permListCache) split(text string) []group.Permission {
	if text == "" {
		return nil
	}
	if v, ok := c.m.Load(text); ok {
		return v.([]group.Permission)
	}
	text = strings.Clone(text) // not the lookup's whole row, which the cache would keep alive
	perms := slices.Clip(splitPermissions(text))
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n >= maxPermLists {
		c.m.Clear()
		c.n = 0
	}
	if _, loaded := c.m.Swap(text, perms); !loaded {
		c.n++
	}
	return perms
}

// groupWriteErr maps the constraint violations a group row can hit.
func groupWriteErr(op string, err error) error {
	if code(err) == codeUnique { // name_key is the only UNIQUE column
		return wrap(op, group.ErrNameTaken)
	}
	return wrap(op, err)
}

func (gs groupStore) Create(ctx context.Context, g *group.Group) error {
	perms, err := joinPermissions(g.Permissions)
	if err != nil {
		return err
	}
	const q = `INSERT INTO groups
		(id, name, name_key, description, permissions, require_two_factor, created_at, updated_at, version)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, 1)`
	_, err = gs.s.w.ExecContext(ctx, q, g.ID, g.Name, foldKey(g.Name), g.Description, perms,
		g.RequireTwoFactor, nanos(g.CreatedAt), nanos(g.UpdatedAt))
	if err != nil {
		return groupWriteErr("create group", err)
	}
	g.Version = 1
	return nil
}

func (gs groupStore) Get(ctx context.Context, id group.ID) (*group.Group, error) {
	g := new(group.Group)
	err := scanGroup(gs.s.r.QueryRowContext(ctx, `SELECT `+groupCols+` FROM groups g WHERE g.id = ?`, id), g)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("get group", group.ErrNotFound)
	}
	if err != nil {
		return nil, wrap("get group", err)
	}
	return g, nil
}

func (gs groupStore) List(ctx context.Context) ([]group.Group, error) {
	rows, err := gs.s.r.QueryContext(ctx, `SELECT `+groupCols+` FROM groups g ORDER BY g.name_key, g.id`)
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
	perms, err := joinPermissions(g.Permissions)
	if err != nil {
		return err
	}
	const q = `UPDATE groups SET name = ?, name_key = ?, description = ?, permissions = ?,
		require_two_factor = ?, updated_at = ?, version = version + 1 WHERE id = ? AND version = ?`
	res, err := gs.s.w.ExecContext(ctx, q, g.Name, foldKey(g.Name), g.Description, perms,
		g.RequireTwoFactor, nanos(g.UpdatedAt), g.ID, g.Version)
	if err != nil {
		return groupWriteErr("update group", err)
	}
	if err := gs.s.versioned(ctx, "update group", res, `SELECT EXISTS (SELECT 1 FROM groups WHERE id = ?)`, string(g.ID),
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
	res, err := gs.s.w.ExecContext(ctx, `DELETE FROM groups WHERE id = ?`, id)
	if c := code(err); c == codeRestrict || c == codeForeignKey {
		return wrap("delete group", group.ErrInUse)
	}
	return affected("delete group", res, err, group.ErrNotFound)
}
