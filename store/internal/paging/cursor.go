package paging

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/user"
)

// A cursor is base64url (unpadded) of a small JSON object. Its format is
// private to usher's stores: auth and hosts pass it along unread, and a
// store of the host's own chooses its own.

// maxCursorLength bounds what a decoder will look at.
const maxCursorLength = 1024

// UserCursor is the position after which a page of users starts: the sort
// key of the last row shown, as the store's column holds it, and its ID.
type UserCursor struct {
	Sort user.Sort `json:"s"`
	Desc bool      `json:"d,omitempty"`
	Key  string    `json:"k"`
	ID   user.ID   `json:"i"`
}

// EncodeUserCursor returns the opaque form of c.
func EncodeUserCursor(c UserCursor) string {
	// Without HTML escaping: json.Marshal writes '&', '<' and '>' as six
	// bytes each, which would push a valid key past maxCursorLength.
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	_ = enc.Encode(c) // cannot fail: strings and a bool
	return base64.RawURLEncoding.EncodeToString(bytes.TrimSuffix(b.Bytes(), []byte("\n")))
}

// DecodeUserCursor reads q.Cursor. It fails with [user.ErrInvalidCursor]
// when the cursor is malformed or was made for another order.
func DecodeUserCursor(q user.Query) (UserCursor, error) {
	var c UserCursor
	if len(q.Cursor) > maxCursorLength {
		return c, fmt.Errorf("%w: too long", user.ErrInvalidCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(q.Cursor)
	if err != nil {
		return c, fmt.Errorf("%w: %v", user.ErrInvalidCursor, err)
	}
	if err := json.Unmarshal(b, &c); err != nil {
		return c, fmt.Errorf("%w: %v", user.ErrInvalidCursor, err)
	}
	sort := q.Sort
	if sort == "" {
		sort = user.SortCreated
	}
	if c.Sort != sort || c.Desc != q.Descending || c.ID == "" {
		return c, fmt.Errorf("%w: made for another order", user.ErrInvalidCursor)
	}
	return c, nil
}

// AuditCursor is the position after which a page of events starts: the
// time and ID of the last event shown (the first, going back).
type AuditCursor struct {
	Time time.Time `json:"t"`
	ID   string    `json:"i"`
	// Oldest: the cursor belongs to an oldest-first query.
	Oldest bool `json:"o,omitempty"`
	// Back: the page wanted comes before the position (Page.Prev).
	Back bool `json:"b,omitempty"`
}

// EncodeAuditCursor returns the opaque form of c.
func EncodeAuditCursor(c AuditCursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeAuditCursor reads an opaque cursor; errors wrap
// [audit.ErrInvalidCursor].
func DecodeAuditCursor(s string) (AuditCursor, error) {
	var c AuditCursor
	if len(s) > maxCursorLength {
		return c, fmt.Errorf("%w: too long", audit.ErrInvalidCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return c, fmt.Errorf("%w: malformed", audit.ErrInvalidCursor)
	}
	return c, nil
}
