package group_test

import (
	"fmt"

	"github.com/usher-go/usher/group"
)

func ExampleSet_Has() {
	s := group.NewSet([]group.Permission{"profile:*", "backups:read"})
	for _, p := range []group.Permission{
		group.ProfileUpdateEmail, // granted by "profile:*"
		"backups:read",
		"backups:run",
		"backups:*", // a wildcard is granted only by a wildcard at least as wide
		group.All,
	} {
		fmt.Println(p, s.Has(p))
	}
	// Output:
	// profile:update_email true
	// backups:read true
	// backups:run false
	// backups:* false
	// * false
}

func ExampleCatalog_Normalize() {
	c, err := group.NewCatalog(
		group.Entry{Permission: "backups:read", Label: "View backups", Category: "Backups"},
		group.Entry{Permission: "backups:run", Label: "Run a backup", Category: "Backups"},
	)
	if err != nil {
		panic(err)
	}
	perms, err := c.Normalize([]group.Permission{"users:read", " backups:run", "backups:*", "users:read"})
	fmt.Println(perms, err)
	_, err = c.Normalize([]group.Permission{"backups:delete"})
	fmt.Println(err)
	_, err = c.Normalize([]group.Permission{"Backups:Run"})
	fmt.Println(err)
	// Output:
	// [backups:* backups:run users:read] <nil>
	// group: permission not in catalog: "backups:delete"
	// group: invalid permission: "Backups:Run" is not resource:action
}
