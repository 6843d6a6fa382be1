package audit

import (
	"bufio"
	"encoding/csv"
	"encoding/json"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/usher-go/usher/internal/auditjson"
)

// Format is a file format events are exported in.
type Format string

// The export formats.
const (
	// JSONLines writes one JSON object per line (https://jsonlines.org),
	// with the keys of [ExportedEvent].
	JSONLines Format = "jsonl"
	// CSV writes a header row and one row per event (RFC 4180), the
	// details as JSON in the last column. Cells that a spreadsheet would
	// take for a formula are defused (see [Encoder]).
	CSV Format = "csv"
)

// ContentType is the media type of files in f, for an HTTP download.
func (f Format) ContentType() string {
	if f == CSV {
		return "text/csv; charset=utf-8"
	}
	return "application/jsonl; charset=utf-8"
}

// ExportedEvent is an event as a JSON Lines export writes it: the fields
// of [Event] under stable lowercase keys.
type ExportedEvent struct {
	ID        string         `json:"id"`
	Time      time.Time      `json:"time"`
	Action    Action         `json:"action"`
	Outcome   Outcome        `json:"outcome"`
	ActorID   string         `json:"actor_id,omitempty"`
	Actor     string         `json:"actor,omitempty"`
	Target    string         `json:"target_type,omitempty"`
	TargetID  string         `json:"target_id,omitempty"`
	Label     string         `json:"target,omitempty"`
	IP        string         `json:"ip,omitempty"`
	UserAgent string         `json:"user_agent,omitempty"`
	Reason    string         `json:"reason,omitempty"`
	Details   map[string]any `json:"details,omitempty"`
}

// csvHeader names the columns of a CSV export.
var csvHeader = []string{"id", "time", "action", "outcome", "actor_id", "actor", "target_type", "target_id",
	"target", "ip", "user_agent", "reason", "details"}

// Encoder writes events to a file of one [Format], buffered: Flush when
// done. Not safe for concurrent use.
//
// A CSV cell that begins with =, +, -, @, a tab, a carriage return or NUL is
// written with a ' before it, so that a spreadsheet opening the file shows
// the text rather than running it as a formula (OWASP, CSV Injection). An
// event's text comes partly from requests (a user agent, a target ID), so
// this matters.
type Encoder struct {
	format Format
	buf    *bufio.Writer
	csv    *csv.Writer
	json   *json.Encoder
	row    []string
	header bool
	line   []byte // scratch for the hand-written JSON (exportjson.go)
}

// NewEncoder returns an Encoder writing f to w. An unknown format fails
// with [ErrInvalidQuery].
func NewEncoder(w io.Writer, f Format) (*Encoder, error) {
	enc := &Encoder{format: f, buf: bufio.NewWriterSize(w, 64<<10)}
	switch f {
	case JSONLines:
		enc.json = json.NewEncoder(enc.buf)
		enc.json.SetEscapeHTML(false)
	case CSV:
		enc.csv = csv.NewWriter(enc.buf)
		enc.row = make([]string, len(csvHeader))
	default:
		return nil, fmt.Errorf("%w: unknown export format %q", ErrInvalidQuery, f)
	}
	return enc, nil
}

// Encode writes e.
func (enc *Encoder) Encode(e *Event) error {
	if enc.json != nil {
		if line, ok := appendEventJSON(enc.line[:0], e); ok {
			enc.line = line
			_, err := enc.buf.Write(line)
			return err
		}
		return enc.json.Encode(ExportedEvent{ID: e.ID, Time: e.Time.UTC(), Action: e.Action, Outcome: e.Outcome,
			ActorID: e.Actor.ID, Actor: e.Actor.Email, Target: e.Target.Type, TargetID: e.Target.ID,
			Label: e.Target.Label, IP: e.IP, UserAgent: e.UserAgent, Reason: e.Reason, Details: e.Details})
	}
	if !enc.header {
		enc.header = true
		if err := enc.csv.Write(csvHeader); err != nil {
			return err
		}
	}
	details, err := enc.csvDetails(e)
	if err != nil {
		return err
	}
	r := enc.row
	r[0], r[1], r[2], r[3] = e.ID, e.Time.UTC().Format(time.RFC3339Nano), string(e.Action), string(e.Outcome)
	r[4], r[5], r[6], r[7] = e.Actor.ID, e.Actor.Email, e.Target.Type, e.Target.ID
	r[8], r[9], r[10], r[11], r[12] = e.Target.Label, e.IP, e.UserAgent, e.Reason, details
	for i := range r {
		r[i] = SafeCell(r[i])
	}
	return enc.csv.Write(r)
}

// csvDetails is the details cell of e: its details as json.Marshal writes
// them, or empty.
func (enc *Encoder) csvDetails(e *Event) (string, error) {
	if len(e.Details) == 0 {
		return "", nil
	}
	if d, ok := auditjson.AppendFlat(enc.line[:0], e.Details); ok {
		enc.line = d
		return string(d), nil
	}
	b, err := json.Marshal(e.Details)
	if err != nil {
		return "", fmt.Errorf("audit: event %s details: %w", e.ID, err)
	}
	return string(b), nil
}

// Flush writes what is buffered; a CSV export with no event still gets
// its header.
func (enc *Encoder) Flush() error {
	if enc.csv != nil {
		if !enc.header {
			enc.header = true
			if err := enc.csv.Write(csvHeader); err != nil {
				return err
			}
		}
		enc.csv.Flush()
		if err := enc.csv.Error(); err != nil {
			return err
		}
	}
	return enc.buf.Flush()
}

// SafeCell returns s defused for a CSV cell: with a ' before it when it
// begins with a character that makes a spreadsheet read a formula (=, +,
// -, @, tab, carriage return, NUL). OWASP, CSV Injection.
func SafeCell(s string) string {
	if s != "" && strings.ContainsRune("=+-@\t\r\x00", rune(s[0])) {
		return "'" + s
	}
	return s
}
