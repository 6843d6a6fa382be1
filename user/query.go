package user

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
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
	// TwoFactor keeps only users with (true) or without (false) a second
	// factor when set.
	TwoFactor *bool
	Sort      Sort
	// Descending reverses the order.
	Descending bool
	// Limit is the page size: 0 means [DefaultLimit]; at most [MaxLimit].
	Limit int
	// Cursor is Page.Next of the previous page, or empty for the first page.
	// A cursor is only valid with the same Sort and Descending.
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

// Cursor is the decoded position after which a page starts: the sort key of
// the last row shown and its ID. Stores encode it with [EncodeCursor] and read
// it back with [DecodeCursor]; callers treat it as an opaque string.
type Cursor struct {
	Sort Sort   `json:"s"`
	Desc bool   `json:"d,omitempty"`
	Key  string `json:"k"`
	ID   ID     `json:"i"`
}

// EncodeCursor returns the opaque form of c.
func EncodeCursor(c Cursor) string {
	// Without HTML escaping: json.Marshal writes '&', '<' and '>' as six
	// bytes each, which would push a valid key past maxCursorLength.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(c) // cannot fail: strings and a bool
	return base64.RawURLEncoding.EncodeToString(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// maxCursorLength bounds what DecodeCursor will look at.
const maxCursorLength = 1024

// DecodeCursor reads q.Cursor. It fails with [ErrInvalidCursor] when the
// cursor is malformed or was made for another order.
func DecodeCursor(q Query) (Cursor, error) {
	var c Cursor
	if len(q.Cursor) > maxCursorLength {
		return c, fmt.Errorf("%w: too long", ErrInvalidCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return c, fmt.Errorf("%w: %v", ErrInvalidCursor, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", ErrInvalidCursor, err)
	}
	sort := q.Sort
	if sort == "" {
		sort = SortCreated
	}
	if c.Sort != sort || c.Desc != q.Descending || c.ID == "" {
		return c, fmt.Errorf("%w: made for another order", ErrInvalidCursor)
	}
	return c, nil
}
