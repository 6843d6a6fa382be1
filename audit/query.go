package audit

import (
	"fmt"
	"math"
	"time"
)

// Paging limits.
const (
	DefaultLimit = 50
	MaxLimit     = 500
)

// The times a query may name: what nanoseconds since 1970 in an int64
// hold, as a store may keep times.
var (
	minTime = time.Unix(0, math.MinInt64)
	maxTime = time.Unix(0, math.MaxInt64)
)

// Query selects events. Empty fields do not filter. Results come newest
// first, or oldest first with OldestFirst.
type Query struct {
	Action     Action
	ActorID    string
	TargetType string
	TargetID   string
	Outcome    Outcome
	Since      time.Time // inclusive
	Until      time.Time // exclusive
	Limit      int       // 0 means DefaultLimit; at most MaxLimit
	// OldestFirst turns the order around: oldest first, as an export
	// reads.
	OldestFirst bool
	// Cursor is Page.Next or Page.Prev of a page of the same query, or
	// empty for the first page. It is opaque: only the [Log] that made it
	// reads it; a Log given a cursor it did not make fails with
	// [ErrInvalidCursor].
	Cursor string
}

// Page is one page of events, in the query's order. Next leads to the
// page after it and Prev to the page before it; each is empty where there
// is none (Prev on the first page). Events appended since the first page
// was read show up when paging back to it.
type Page struct {
	Events []Event
	Next   string
	Prev   string
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
	for _, t := range []time.Time{q.Since, q.Until} {
		if !t.IsZero() && (t.Before(minTime) || t.After(maxTime)) {
			return q, fmt.Errorf("%w: time %v out of range", ErrInvalidQuery, t)
		}
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
