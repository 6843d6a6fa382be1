package audit

import (
	"bytes"
	"encoding/json"
	"math"
	"slices"
	"testing"
	"time"

	"github.com/usher-go/usher/internal/auditjson"
)

// reflectLine is a JSON Lines line as encoding/json writes it, the
// reference appendEventJSON must match.
func reflectLine(t *testing.T, e *Event) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(ExportedEvent{ID: e.ID, Time: e.Time.UTC(), Action: e.Action, Outcome: e.Outcome,
		ActorID: e.Actor.ID, Actor: e.Actor.Email, Target: e.Target.Type, TargetID: e.Target.ID,
		Label: e.Target.Label, IP: e.IP, UserAgent: e.UserAgent, Reason: e.Reason, Details: e.Details}); err != nil {
		return nil
	}
	return buf.Bytes()
}

// checkExportJSON: the hand-written JSON of e, as a line and as a CSV
// details cell, is encoding/json's byte for byte, or refused.
func checkExportJSON(t *testing.T, e *Event) {
	t.Helper()
	want := reflectLine(t, e)
	if got, ok := appendEventJSON(nil, e, &timeCache{}); ok && !bytes.Equal(got, want) {
		t.Fatalf("line of %#v:\n got %s\nwant %s", e, got, want)
	} else if !ok && want != nil && fastable(e) {
		t.Fatalf("line of %#v refused; encoding/json writes %s", e, want)
	}
	if len(e.Details) == 0 {
		return
	}
	wantCell, err := json.Marshal(e.Details)
	if got, ok := auditjson.AppendFlat(nil, e.Details); ok && (err != nil || !bytes.Equal(got, wantCell)) {
		t.Fatalf("CSV details of %#v:\n got %s\nwant %s (%v)", e.Details, got, wantCell, err)
	}
}

// fastable reports whether the hand-written JSON should take e: a time in
// years 0 to 9999, details of finite float64s, strings, bools and nils.
func fastable(e *Event) bool {
	if y := e.Time.UTC().Year(); y < 0 || y > 9999 {
		return false
	}
	for _, v := range e.Details {
		switch v := v.(type) {
		case nil, string, bool:
		case float64:
			if math.IsInf(v, 0) || math.IsNaN(v) {
				return false
			}
		default:
			return false
		}
	}
	return true
}

var exportSeeds = []struct {
	text, key string
	num       float64
	nanos     int64
}{
	{"", "n", 0, 0},
	{"plain", "consecutive_failures", 1, 1735689600123456789},
	{`"quoted" \back\slash/`, `k"ey`, math.Copysign(0, -1), -62135596800000000},
	{"<script>&amp;</script>", "<k>", 1e21, 253402300799999999},
	{"ctl \x00\x01\b\f\n\r\t\x1f\x7f", "\n", 1e-7, 1},
	{"bad \xff\xfe utf8 \xc3", "\xff", 123456789.125, -1},
	{"line\u2028para\u2029 é€😀", "é", 5e-324, math.MaxInt64},
	{"=HYPERLINK(1)", "z", 1.7976931348623157e308, math.MinInt64},
	{"x", "a", 1e20, 1e18},
	{"y", "b", 0.000001, 2e18},
	{"z", "c", 0.0000001, 3e18},
	{"w", "d", math.Inf(1), 4e18},
	{"v", "e", math.NaN(), 5e18},
}

func seedEvent(text, key string, num float64, nanos int64) *Event {
	return &Event{ID: text, Time: time.Unix(0, nanos).In(time.FixedZone("X", 3600)), Action: Action(text),
		Outcome: Outcome(text), Actor: Actor{ID: text, Email: key}, Target: Target{Type: text, ID: key, Label: text},
		IP: key, UserAgent: text, Reason: key,
		Details: map[string]any{key: text, key + "n": num, "t": true, "f": false, "nil": nil, "": text + key}}
}

// TestExportJSONAsEncodingJSON: an export's hand-written JSON is
// encoding/json's, byte for byte, for every kind of text, number and time
// (or is left to encoding/json).
func TestExportJSONAsEncodingJSON(t *testing.T) {
	for _, s := range exportSeeds {
		checkExportJSON(t, seedEvent(s.text, s.key, s.num, s.nanos))
		checkExportJSON(t, &Event{ID: "1", Time: time.Unix(0, s.nanos)}) // every optional field empty
	}
	year10000 := &Event{ID: "1", Time: time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)}
	if _, ok := appendEventJSON(nil, year10000, &timeCache{}); ok {
		t.Error("a time in the year 10000 written by hand; encoding/json refuses it")
	}
	nested := &Event{ID: "1", Details: map[string]any{"before": map[string]any{"name": "x"}}}
	if _, ok := appendEventJSON(nil, nested, &timeCache{}); ok {
		t.Error("nested details written by hand")
	}
}

func FuzzExportJSON(f *testing.F) {
	for _, s := range exportSeeds {
		f.Add(s.text, s.key, math.Float64bits(s.num), s.nanos)
	}
	f.Fuzz(func(t *testing.T, text, key string, bits uint64, nanos int64) {
		checkExportJSON(t, seedEvent(text, key, math.Float64frombits(bits), nanos))
	})
}

// checkTimes: one timeCache appends each of times as AppendFormat does,
// whatever came before it.
func checkTimes(t *testing.T, times ...time.Time) {
	t.Helper()
	var tc timeCache
	for _, tm := range times {
		want := tm.UTC().AppendFormat([]byte("x"), time.RFC3339Nano)
		if got := tc.append([]byte("x"), tm); !bytes.Equal(got, want) {
			t.Fatalf("time %v after the cache held day %d: got %s, want %s", tm, tc.day, got, want)
		}
	}
}

// TestTimeCache: times appended through one cache, oldest first and
// back, across days, midnight and the last nanosecond of a day, before
// 1970, at the ends of the years 0 to 9999 and beyond them, in other
// locations, with every length of fraction.
func TestTimeCache(t *testing.T) {
	day := time.Date(2025, 1, 2, 0, 0, 0, 0, time.UTC)
	var times []time.Time
	for _, d := range []time.Duration{0, 1, 10, 100, 123456789, time.Second - 1, time.Second, time.Hour + time.Minute + time.Second,
		24*time.Hour - 1, 24 * time.Hour, 24*time.Hour + 1, -1, -24 * time.Hour, 25 * time.Hour} {
		times = append(times, day.Add(d))
	}
	times = append(times, time.Unix(0, 0), time.Unix(-1, 0), time.Unix(-86400, 1), time.Unix(-86401, 999999999),
		time.Date(0, 1, 1, 0, 0, 0, 0, time.UTC), time.Date(-1, 12, 31, 23, 59, 59, 0, time.UTC),
		time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC), time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC),
		time.Date(2025, 1, 2, 23, 30, 0, 5, time.FixedZone("X", -3600)), day, day.Add(time.Nanosecond*1000))
	checkTimes(t, times...)
	slices.Reverse(times)
	checkTimes(t, times...)
}

func FuzzTimeCache(f *testing.F) {
	f.Add(int64(1735689600123456789), int64(1735776000000000000))
	f.Add(int64(-1), int64(math.MinInt64))
	f.Fuzz(func(t *testing.T, a, b int64) {
		checkTimes(t, time.Unix(0, a), time.Unix(0, b), time.Unix(0, a).Add(24*time.Hour), time.Unix(a/1000, b))
	})
}
