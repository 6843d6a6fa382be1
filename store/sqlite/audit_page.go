package sqlite

import (
	"database/sql"
	"errors"
	"fmt"
	"strconv"
	"strings"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/store/internal/detailjson"
)

// eventColumns is the SELECT list of an audit page (paging's
// Dialect.EventColumns): the row packed into one text value, then the
// details. As with the session lookup (sessionLookupSQL), that is budget,
// not style: database/sql and the driver allocate twice per text value
// (the string and its interface), so twelve columns cost an event some
// two dozen allocations, where one value and the details cost four. The
// integers come first, each followed by a space; then each string as
// "<byte length>:<bytes>", which needs no escaping whatever the string
// holds. unpackEvent takes the ID and the strings as substrings of the
// one value, without copying.
const eventColumns = `id || ' ' || time || ' ' || repeats || ' '
		|| octet_length(action) || ':' || action
		|| octet_length(outcome) || ':' || outcome
		|| octet_length(actor_id) || ':' || actor_id
		|| octet_length(actor_email) || ':' || actor_email
		|| octet_length(target_type) || ':' || target_type
		|| octet_length(target_id) || ':' || target_id
		|| octet_length(target_label) || ':' || target_label
		|| octet_length(ip) || ':' || ip
		|| octet_length(user_agent) || ':' || user_agent
		|| octet_length(reason) || ':' || reason,
		details`

// errPackedEvent: a row of an audit page did not unpack. It cannot happen
// with rows this package wrote (every column is NOT NULL, the integers
// are integers); a row edited by hand into another type fails the page,
// as it failed to scan before rows were packed.
var errPackedEvent = errors.New("sqlite: audit event row in an unexpected form")

// pageScan reads the rows of an audit page (eventColumns) into events.
type pageScan struct {
	packed  sql.NullString
	details detailsText
	dst     []any
}

// scan reads the current row of rows into e, with a folded event's count
// of repeats in its details.
func (ps *pageScan) scan(rows *sql.Rows, e *audit.Event) error {
	if ps.dst == nil {
		ps.dst = []any{&ps.packed, &ps.details} // once per page, not per row
	}
	if err := rows.Scan(ps.dst...); err != nil {
		return err
	}
	repeats, ok := unpackEvent(ps.packed.String, e)
	if !ps.packed.Valid || !ok {
		return errPackedEvent
	}
	return readDetails(e, &ps.details, repeats, true)
}

// unpackEvent parses one eventColumns value (without the details) into e
// and returns the event's count of repeats, reporting whether it was well
// formed.
func unpackEvent(p string, e *audit.Event) (int64, bool) {
	var n [3]int64
	id, _, _ := strings.Cut(p, " ")
	p, ok := unpackInts(p, n[:])
	if !ok {
		return 0, false
	}
	e.ID, e.Time = id, fromNanos(n[1])
	p, ok = unpackStrings(p, []*string{(*string)(&e.Action), (*string)(&e.Outcome), &e.Actor.ID, &e.Actor.Email,
		&e.Target.Type, &e.Target.ID, &e.Target.Label, &e.IP, &e.UserAgent, &e.Reason})
	return n[2], ok && p == ""
}

// unpackInts parses len(n) decimal integers off the front of p, each
// followed by a space, and returns the rest.
func unpackInts(p string, n []int64) (string, bool) {
	for i := range n {
		j := strings.IndexByte(p, ' ')
		if j < 0 {
			return p, false
		}
		v, err := strconv.ParseInt(p[:j], 10, 64)
		if err != nil {
			return p, false
		}
		n[i], p = v, p[j+1:]
	}
	return p, true
}

// unpackStrings takes len(dst) strings written "<byte length>:<bytes>" off
// the front of p, as substrings of p, and returns the rest.
func unpackStrings(p string, dst []*string) (string, bool) {
	for _, d := range dst {
		j := strings.IndexByte(p, ':')
		if j < 0 {
			return p, false
		}
		l, err := strconv.Atoi(p[:j])
		if err != nil || l < 0 || l > len(p)-j-1 {
			return p, false
		}
		*d, p = p[j+1:j+1+l], p[j+1+l:]
	}
	return p, true
}

// detailsText scans the details column into a buffer reused from row to
// row (decoding copies what it keeps), telling NULL from empty text.
type detailsText struct {
	b     []byte
	valid bool
}

// Scan implements sql.Scanner.
func (d *detailsText) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		d.valid = false
	case string:
		d.b, d.valid = append(d.b[:0], v...), true
	case []byte:
		d.b, d.valid = append(d.b[:0], v...), true
	default:
		return fmt.Errorf("details: unexpected %T", src)
	}
	return nil
}

// readDetails decodes d into e's details; with withRepeats, a folded
// event's count joins them under audit.DetailRepeated.
func readDetails(e *audit.Event, d *detailsText, repeats int64, withRepeats bool) error {
	if d.valid {
		m, err := detailjson.Decode(d.b)
		if err != nil {
			return fmt.Errorf("event %s details: %w", e.ID, err)
		}
		e.Details = m
	}
	if withRepeats && repeats > 1 {
		if e.Details == nil {
			e.Details = map[string]any{}
		}
		e.Details[audit.DetailRepeated] = float64(repeats)
	}
	return nil
}
