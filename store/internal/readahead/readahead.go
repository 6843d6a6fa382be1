// Package readahead holds what a store's read inside a transaction took
// beyond what it was asked for, for the reads that usually follow it
// (issue 12): a password login's outcome reads the account with its hash,
// then its device generation, then its TOTP credential. A store reads all
// three in one statement (GetWithHash) and answers DeviceGeneration and
// TOTP().Get from an Account until the transaction's next statement, which
// drops it.
package readahead

import (
	"slices"

	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// Account is what GetWithHash read ahead for one account.
type Account struct {
	ID   user.ID
	Gen  int64            // its device generation, 0 for none
	TOTP *totp.Credential // nil: none
}

// For returns a when it was read for id, nil otherwise (a may be nil).
func (a *Account) For(id user.ID) *Account {
	if a == nil || a.ID != id {
		return nil
	}
	return a
}

// TOTPFor is TOTP().Get of id answered from a: a copy, as a read would
// return, nil for none; ok is false when a holds nothing for id.
func (a *Account) TOTPFor(id user.ID) (c *totp.Credential, ok bool) {
	if a = a.For(id); a == nil {
		return nil, false
	}
	if a.TOTP == nil {
		return nil, true
	}
	cp := *a.TOTP
	cp.Sealed = slices.Clone(cp.Sealed)
	return &cp, true
}
