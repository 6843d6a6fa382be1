package audit

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/usher-go/usher/internal/auditjson"
	"github.com/usher-go/usher/internal/swar"
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
	json   *json.Encoder
	header bool
	line   []byte // scratch for the hand-written JSON and CSV (exportjson.go, appendCell)
	cell   []byte // scratch for a CSV cell: the time, then the details
	times  timeCache
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
	default:
		return nil, fmt.Errorf("%w: unknown export format %q", ErrInvalidQuery, f)
	}
	return enc, nil
}

// Encode writes e.
func (enc *Encoder) Encode(e *Event) error {
	if enc.json != nil {
		if line, ok := appendEventJSON(enc.line[:0], e, &enc.times); ok {
			enc.line = line
			_, err := enc.buf.Write(line)
			return err
		}
		return enc.json.Encode(ExportedEvent{ID: e.ID, Time: e.Time.UTC(), Action: e.Action, Outcome: e.Outcome,
			ActorID: e.Actor.ID, Actor: e.Actor.Email, Target: e.Target.Type, TargetID: e.Target.ID,
			Label: e.Target.Label, IP: e.IP, UserAgent: e.UserAgent, Reason: e.Reason, Details: e.Details})
	}
	if err := enc.csvHeader(); err != nil {
		return err
	}
	// The time and the details are made in cell, then copied as a cell.
	cell := enc.times.append(enc.cell[:0], e.Time)
	b := appendCell(enc.line[:0], e.ID)
	b = append(b, ',')
	b = appendCell(b, cell)
	for _, s := range [...]string{string(e.Action), string(e.Outcome), e.Actor.ID, e.Actor.Email, e.Target.Type,
		e.Target.ID, e.Target.Label, e.IP, e.UserAgent, e.Reason} {
		b = append(b, ',')
		b = appendCell(b, s)
	}
	b = append(b, ',')
	if len(e.Details) > 0 {
		var ok bool
		if cell, ok = auditjson.AppendFlat(cell[:0], e.Details); !ok {
			var err error
			if cell, err = json.Marshal(e.Details); err != nil {
				return fmt.Errorf("audit: event %s details: %w", e.ID, err)
			}
		}
		b = appendCell(b, cell)
	}
	b = append(b, '\n')
	enc.line, enc.cell = b, cell
	_, err := enc.buf.Write(b)
	return err
}

// csvHeader writes a CSV export's header row, once.
func (enc *Encoder) csvHeader() error {
	if enc.header {
		return nil
	}
	enc.header = true
	b := enc.line[:0]
	for i, name := range csvHeader {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendCell(b, name)
	}
	enc.line = append(b, '\n')
	_, err := enc.buf.Write(enc.line)
	return err
}

// Flush writes what is buffered; a CSV export with no event still gets
// its header.
func (enc *Encoder) Flush() error {
	if enc.format == CSV {
		if err := enc.csvHeader(); err != nil {
			return err
		}
	}
	return enc.buf.Flush()
}

// appendCell appends the cell of s as a CSV export writes it: defused as
// SafeCell does, then as encoding/csv's Writer writes a field (its Comma
// ',', UseCRLF false), without the comma, byte for byte. An export wrote
// each row through a csv.Writer, which took a string per cell (the time
// and the details made one each), searched each twice and went through a
// second buffer; a million rows made that a visible share of the export
// (issue 12). The differential test and fuzz target hold it to
// encoding/csv.
func appendCell[S ~string | ~[]byte](b []byte, s S) []byte {
	defuse := len(s) > 0 && isFormulaStart(s[0])
	if !cellNeedsQuotes(s, defuse) {
		if defuse {
			b = append(b, '\'')
		}
		return append(b, s...)
	}
	b = append(b, '"')
	if defuse {
		b = append(b, '\'')
	}
	// Inside quotes, encoding/csv doubles '"' and writes CR and LF as
	// they are.
	start := 0
	for i := 0; i < len(s); i++ {
		if s[i] == '"' {
			b = append(b, s[start:i+1]...)
			start = i
		}
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// cellNeedsQuotes is encoding/csv's fieldNeedsQuotes for the field s,
// with a ' before it when defuse.
func cellNeedsQuotes[S ~string | ~[]byte](s S, defuse bool) bool {
	switch {
	case len(s) == 0:
		return false // and never defused
	case hasCSVSpecial(s):
		return true
	case defuse: // begins with ', not a space
		return false
	case string(s) == `\.`: // PostgreSQL's end of data
		return true
	case s[0] < utf8.RuneSelf:
		return unicode.IsSpace(rune(s[0]))
	}
	r, _ := utf8.DecodeRuneInString(string(s[:min(len(s), utf8.UTFMax)]))
	return unicode.IsSpace(r)
}

// hasCSVSpecial reports whether s holds LF, CR, '"' or ',', eight bytes at
// a time where a byte at a time was a fifth of a CSV export's time (issue
// 12).
func hasCSVSpecial[S ~string | ~[]byte](s S) bool {
	i := 0
	for ; i+8 <= len(s); i += 8 {
		x := swar.Load64(s, i)
		if swar.HasByte(x, '\n')|swar.HasByte(x, '\r')|swar.HasByte(x, '"')|swar.HasByte(x, ',') != 0 {
			return true
		}
	}
	for ; i < len(s); i++ {
		if c := s[i]; c == '\n' || c == '\r' || c == '"' || c == ',' {
			return true
		}
	}
	return false
}

// isFormulaStart reports whether a cell beginning with c is defused:
// =, +, -, @, tab, carriage return or NUL (OWASP, CSV Injection).
func isFormulaStart(c byte) bool {
	switch c {
	case '=', '+', '-', '@', '\t', '\r', 0:
		return true
	}
	return false
}

// SafeCell returns s defused for a CSV cell: with a ' before it when it
// begins with a character that makes a spreadsheet read a formula (=, +,
// -, @, tab, carriage return, NUL). OWASP, CSV Injection.
func SafeCell(s string) string {
	if s != "" && isFormulaStart(s[0]) {
		return "'" + s
	}
	return s
}
