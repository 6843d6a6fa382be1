package auth

import (
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// NewWithOperator returns a Manager, like [New], together with an operator:
// a Principal holding every permission, with no user and no session behind
// it, for command-line tools run by whoever controls the database and the
// secret key (examples/adminctl): recovering a locked-out admin, resetting a
// second factor, rotating keys. Everything the operator does is checked
// against the same invariants (the last admin stays, the admin group keeps
// "*") and audited with actor ID "operator" and the given name.
//
// # The threat
//
// An operator can do anything, and nothing but possession of the value
// stands in its way: no session, no password, no second factor. That is
// right for a tool whose user already holds the database and the key (they
// could rewrite the tables anyway) and wrong anywhere a request could reach
// it. So the operator exists only here, never on a Manager made by [New]:
// a host serving requests builds its Manager with New and has no operator
// to leak, by mistake or through a bug. The operator works only with the
// Manager returned beside it. A process that serves requests MUST NOT call
// NewWithOperator.
func NewWithOperator(cfg Config, name string) (*Manager, *Principal, error) {
	m, err := New(cfg)
	if err != nil {
		return nil, nil, err
	}
	name = cleanField(name, 128)
	if name == "" {
		name = "operator"
	}
	all := group.Group{ID: group.AdminID, Name: "Operator", Permissions: []group.Permission{group.All}}
	op := &Principal{
		user:     user.User{Email: name},
		group:    all,
		perms:    group.NewSet(all.Permissions),
		operator: name,
		by:       m,
	}
	return m, op, nil
}
