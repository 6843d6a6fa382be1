package audit

import (
	"bytes"
	"encoding/csv"
	"encoding/json"
	"math"
	"strings"
	"testing"
	"time"
)

// csvReference is a CSV export of events as encoding/csv writes it: the
// header, then each event's cells defused as SafeCell defuses them, the details as
// json.Marshal writes them. The Encoder wrote it so before it wrote its
// rows by hand (appendCell), and must still.
func csvReference(t *testing.T, events []*Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	w := csv.NewWriter(&buf)
	if err := w.Write(csvHeader); err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		details := ""
		if len(e.Details) > 0 {
			b, err := json.Marshal(e.Details)
			if err != nil {
				return nil
			}
			details = string(b)
		}
		row := []string{e.ID, e.Time.UTC().Format(time.RFC3339Nano), string(e.Action), string(e.Outcome), e.Actor.ID,
			e.Actor.Email, e.Target.Type, e.Target.ID, e.Target.Label, e.IP, e.UserAgent, e.Reason, details}
		for i, c := range row {
			// SafeCell as it was written before appendCell, apart from
			// the isFormulaStart they now share.
			if c != "" && strings.ContainsRune("=+-@\t\r\x00", rune(c[0])) {
				row[i] = "'" + c
			}
		}
		if err := w.Write(row); err != nil {
			t.Fatal(err)
		}
	}
	w.Flush()
	return buf.Bytes()
}

// checkCSV: the Encoder's CSV of events is encoding/csv's byte for byte,
// or fails where encoding/json fails.
func checkCSV(t *testing.T, events ...*Event) {
	t.Helper()
	want := csvReference(t, events)
	var got bytes.Buffer
	enc, err := NewEncoder(&got, CSV)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err = enc.Encode(e); err != nil {
			break
		}
	}
	if err == nil {
		err = enc.Flush()
	}
	if want == nil {
		if err == nil {
			t.Fatalf("CSV of %#v written; json.Marshal refuses its details", events)
		}
		return
	}
	if err != nil || !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("CSV of %#v (%v):\n got %q\nwant %q", events, err, got.Bytes(), want)
	}
}

// csvCells are texts that take encoding/csv's and SafeCell's special
// cases: empty, PostgreSQL's \., a leading space (ASCII, Unicode, and
// bytes that are not one), each formula start, the separators and quotes
// anywhere.
var csvCells = []string{
	"", `\.`, `\.x`, `x\.`, ".", `\`, " x", "x ", "\tx", "\u00a0x", "\u2028x", "\u0085x", "\x85x", "\xffx", "\xc2",
	"=1+2", "+x", "-1", "@x", "\rx", "\x00x", "'x", "=a,b", `=a"b`, "-\n", `"`, `""`, "a,b", "a\"b", "a\nb", "a\rb",
	"a\r\nb", "é", "😀,", "plain text", "\v", "\f x", "\x1c",
}

// TestCSVAsEncodingCSV: a CSV export is encoding/csv's, byte for byte,
// for each special cell in every column, whole events of every kind of
// text, number and time, and no events at all (the header alone).
func TestCSVAsEncodingCSV(t *testing.T) {
	checkCSV(t)
	for _, c := range csvCells {
		checkCSV(t, seedEvent(c, c, 1, 1735689600123456789))
		checkCSV(t, &Event{ID: c, Time: time.Unix(0, 1), Reason: c, Details: map[string]any{"k": c}})
	}
	for _, s := range exportSeeds {
		checkCSV(t, seedEvent(s.text, s.key, s.num, s.nanos), &Event{ID: "1", Time: time.Unix(0, s.nanos)})
	}
	// Each character that makes a cell quoted at every offset, before,
	// in and after the words cellNeedsQuotes reads eight bytes at a time.
	for _, c := range []string{"\n", "\r", `"`, ","} {
		for pre := range 18 {
			for _, post := range []int{0, 1, 7, 8, 9} {
				cell := strings.Repeat("a", pre) + c + strings.Repeat("b", post)
				checkCSV(t, &Event{ID: cell, Time: time.Unix(0, 1), UserAgent: cell})
			}
		}
	}
	checkCSV(t, &Event{ID: "1", Time: time.Date(-1, 1, 1, 0, 0, 0, 0, time.UTC)}) // a time beginning with -
	checkCSV(t, &Event{ID: "1", Details: map[string]any{"nested": map[string]any{"a": []any{1.0, "x,y"}}}})
}

func FuzzCSV(f *testing.F) {
	for _, c := range csvCells {
		f.Add(c, c, math.Float64bits(1), int64(0))
	}
	for _, s := range exportSeeds {
		f.Add(s.text, s.key, math.Float64bits(s.num), s.nanos)
	}
	f.Fuzz(func(t *testing.T, text, key string, bits uint64, nanos int64) {
		checkCSV(t, seedEvent(text, key, math.Float64frombits(bits), nanos))
	})
}
