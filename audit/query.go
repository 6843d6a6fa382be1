package audit

import (
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"
)

// Paging limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// Query selects events. Empty fields do not filter. Results come newest
// first.
type Query struct {
	Action     Action
	ActorID    string
	TargetType string
	TargetID   string
	Outcome    Outcome
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	Limit      int       // 0 means DefaultLimit; at most MaxLimit
	Cursor     string    // Page.Next of the previous page
}

// Page is one page of events. Next is empty on the last page.
type Page struct {
	Events []Event
	Next   string
}

// Normalize checks q and fills defaults. Errors wrap [ErrInvalidQuery].
func (q Query) Normalize() (Query, error) {
	switch {
	case q.Limit == 0:
		q.Limit = DefaultLimit
	case q.Limit < 0 || q.Limit > MaxLimit:
		return q, fmt.Errorf("%w: limit must be 1 to %d", ErrInvalidQuery, MaxLimit)
	}
	switch q.Outcome {
	case "", Success, Failure, Denied:
	default:
		return q, fmt.Errorf("%w: unknown outcome %q", ErrInvalidQuery, q.Outcome)
	}
	if !q.Since.IsZero() && !q.Until.IsZero() && !q.Since.Before(q.Until) {
		return q, fmt.Errorf("%w: since must be before until", ErrInvalidQuery)
	}
	for _, s := range []string{string(q.Action), q.ActorID, q.TargetType, q.TargetID} {
		if len(s) > 256 {
			return q, fmt.Errorf("%w: filter longer than 256 bytes", ErrInvalidQuery)
		}
	}
	return q, nil
}

// Cursor is the decoded position after which a page starts.
type Cursor struct {
	Time time.Time `json:"t"`
	ID   string    `json:"i"`
}

// EncodeCursor returns the opaque form of c.
func EncodeCursor(c Cursor) string {
	b, _ := json.Marshal(c)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor reads an opaque cursor; errors wrap [ErrInvalidCursor].
func DecodeCursor(s string) (Cursor, error) {
	var c Cursor
	if len(s) > 1024 {
		return c, fmt.Errorf("%w: too long", ErrInvalidCursor)
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err == nil {
		err = json.Unmarshal(b, &c)
	}
	if err != nil || c.ID == "" {
		return c, fmt.Errorf("%w: malformed", ErrInvalidCursor)
	}
	return c, nil
}
