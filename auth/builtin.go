package auth

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// builtinGroups are the groups every store holds, made at now. usher
// creates them through group.Store, not each store's schema, so that every
// store, a host's own included, gets them the same.
func builtinGroups(now time.Time) []group.Group {
	return []group.Group{{
		ID:          group.AdminID,
		Name:        "Admins",
		Description: "Full access to everything.",
		Permissions: []group.Permission{group.All},
		CreatedAt:   now,
		UpdatedAt:   now,
	}, {
		ID:          group.UsersID,
		Name:        "Users",
		Description: "Can look after their own account.",
		Permissions: []group.Permission{group.ProfileAll},
		CreatedAt:   now,
		UpdatedAt:   now,
	}}
}

// seedBuiltinGroups creates the built-in groups that the store lacks, each
// with its audit event (invariant 6; the events have no actor: usher made
// them). It is idempotent: a built-in group that exists, under
// whatever name and permissions an admin has given it since, is left
// alone, and a store that has both costs two reads and no transaction.
//
// The check and the creation run in one Atomic, which writes serialize
// against, so of several instances starting at once on one database the
// first creates the groups and the others find them. Should a store's
// Atomic still let two creators race, the loser's Create fails (the ID or
// the name is taken); the groups are then read again, and only a group that
// is still missing is an error.
func (m *Manager) seedBuiltinGroups(ctx context.Context) error {
	s := m.store
	if missing, err := missingBuiltinGroup(ctx, s); err != nil || !missing {
		return err
	}
	err := m.atomic(ctx, func(tx Store, rec func(*audit.Event) error) error {
		for _, g := range builtinGroups(m.clock()) {
			_, err := tx.Groups().Get(ctx, g.ID)
			if errors.Is(err, group.ErrNotFound) {
				if err = tx.Groups().Create(ctx, &g); err == nil {
					err = rec(&audit.Event{
						Action: audit.GroupCreated, Outcome: audit.Success, Target: groupTarget(g.ID),
						Details: map[string]any{audit.DetailName: g.Name, audit.DetailPermissions: permStrings(g.Permissions), audit.DetailRequireTwoFactor: g.RequireTwoFactor},
					})
				}
			}
			if err != nil {
				return err
			}
		}
		return nil
	})
	if err != nil {
		// What counts is that the groups exist, whoever made them.
		if missing, rerr := missingBuiltinGroup(ctx, s); rerr != nil || missing {
			return fmt.Errorf("auth: creating the built-in groups: %w", err)
		}
	}
	return nil
}

// missingBuiltinGroup reports whether s lacks a built-in group.
func missingBuiltinGroup(ctx context.Context, s Store) (bool, error) {
	for _, id := range []group.ID{group.AdminID, group.UsersID} {
		_, err := s.Groups().Get(ctx, id)
		if errors.Is(err, group.ErrNotFound) {
			return true, nil
		}
		if err != nil {
			return false, fmt.Errorf("auth: reading the built-in groups: %w", err)
		}
	}
	return false, nil
}
