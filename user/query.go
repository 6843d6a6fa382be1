package user

import (
	"fmt"
	"strings"
)

// Sort names the order of a listing. Every order breaks ties by ID, so paging
// is stable.
type Sort string

// The orders a [Query] can ask for.
const (
	SortCreated   Sort = "created" // the default
	SortEmail     Sort = "email"
	SortName      Sort = "name"
	SortLastLogin Sort = "last_login" // users who never logged in sort first
)

// Paging limits.
const (
	DefaultLimit = 50
	MaxLimit     = 200
	// MaxSearchLength bounds Query.Search, in bytes.
	MaxSearchLength = 254
)

// Query selects and orders users for a listing. The zero value lists the
// first [DefaultLimit] users, oldest first.
type Query struct {
	// Search matches a substring of the email or the name, case-insensitively.
	Search string
	// GroupID keeps only members of this group when set.
	GroupID string
	// Disabled keeps only disabled (true) or enabled (false) users when set.
	Disabled *bool
	// TwoFactor keeps only users with (true) or without (false) a
	// confirmed TOTP credential ([Summary].TwoFactor) when set. Passkeys,
	// second factors too, are counted apart ([Summary].Passkeys) and do
	// not enter this filter.
	TwoFactor *bool
	Sort      Sort
	// Descending reverses the order.
	Descending bool
	// Limit is the page size: 0 means [DefaultLimit]; at most [MaxLimit].
	Limit int
	// Cursor is Page.Next of the previous page, or empty for the first page.
	// It is opaque: only the [Store] that made it reads it, and only with
	// the same Sort and Descending. A Store given a cursor it did not make
	// for this order fails with [ErrInvalidCursor].
	Cursor string
}

// Page is one page of a listing. Next is empty on the last page.
type Page struct {
	Users []Summary
	Next  string
}

// Normalize checks q and fills defaults. Errors wrap [ErrInvalidQuery].
func (q Query) Normalize() (Query, error) {
	switch q.Sort {
	case "":
		q.Sort = SortCreated
	case SortCreated, SortEmail, SortName, SortLastLogin:
	default:
		return q, fmt.Errorf("%w: unknown sort %q", ErrInvalidQuery, q.Sort)
	}
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return q, fmt.Errorf("%w: limit must be 1 to %d", ErrInvalidQuery, MaxLimit)
	}
	q.Search = strings.TrimSpace(q.Search)
	if len(q.Search) > MaxSearchLength {
		return q, fmt.Errorf("%w: search longer than %d bytes", ErrInvalidQuery, MaxSearchLength)
	}
	return q, nil
}
