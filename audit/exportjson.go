package audit

import (
	"time"

	"github.com/usher-go/usher/internal/auditjson"
)

// The hand-written JSON of an export: what encoding/json writes for an
// [ExportedEvent] and for details, byte for byte, without reflection or
// an allocation per event. An export writes a million events; through
// encoding/json, encoding was a third of its time. Whatever these
// functions are not sure to write as encoding/json would (a time outside
// the years 0 to 9999, a details value other than a string, a float64, a
// bool or nil, a number that is not finite) they refuse, and the Encoder
// asks encoding/json instead. Strings and details are written by
// internal/auditjson, which also encodes them for the stores and the
// hash chain.

// appendEventJSON appends e as a JSON Lines export writes it: the JSON of
// its ExportedEvent (HTML characters not escaped) and a newline.
func appendEventJSON(b []byte, e *Event, tc *timeCache) ([]byte, bool) {
	t := e.Time.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = auditjson.AppendString(b, e.ID, false)
	b = append(b, `,"time":"`...)
	b = tc.append(b, t)
	b = append(b, `","action":`...)
	b = auditjson.AppendString(b, string(e.Action), false)
	b = append(b, `,"outcome":`...)
	b = auditjson.AppendString(b, string(e.Outcome), false)
	for _, f := range [...]struct{ key, v string }{
		{`,"actor_id":`, e.Actor.ID}, {`,"actor":`, e.Actor.Email}, {`,"target_type":`, e.Target.Type},
		{`,"target_id":`, e.Target.ID}, {`,"target":`, e.Target.Label}, {`,"ip":`, e.IP},
		{`,"user_agent":`, e.UserAgent}, {`,"reason":`, e.Reason},
	} {
		if f.v != "" { // omitempty
			b = append(b, f.key...)
			b = auditjson.AppendString(b, f.v, false)
		}
	}
	if len(e.Details) > 0 {
		b = append(b, `,"details":`...)
		var ok bool
		if b, ok = auditjson.AppendObject(b, e.Details, false); !ok {
			return b, false
		}
	}
	return append(b, "}\n"...), true
}

// timeCache appends times as t.UTC().AppendFormat(b, time.RFC3339Nano)
// does, keeping the date of the last one: an export runs oldest first,
// so most events fall on the day before them, and AppendFormat worked
// the calendar out again for each (a twentieth of a JSON Lines export's
// client time in a profile; issue 12). The zero value is ready for use.
type timeCache struct {
	day  int64                    // days from 1970-01-01 of date, when set
	date [len("2006-01-02T")]byte // that day, formatted
	set  bool
}

// secondsPerDay is 86,400: Go's time has no leap seconds.
const secondsPerDay = 24 * 60 * 60

// append appends t (any location) in RFC 3339 with nanoseconds, UTC.
func (tc *timeCache) append(b []byte, t time.Time) []byte {
	t = t.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return t.AppendFormat(b, time.RFC3339Nano) // no four-digit year
	}
	sec := t.Unix()
	day := sec / secondsPerDay
	if sec%secondsPerDay < 0 {
		day-- // before 1970: round down
	}
	if !tc.set || day != tc.day {
		t.AppendFormat(tc.date[:0], "2006-01-02T")
		tc.day, tc.set = day, true
	}
	b = append(b, tc.date[:]...)
	s := sec - day*secondsPerDay
	b = append2(b, int(s/3600))
	b = append(b, ':')
	b = append2(b, int(s/60%60))
	b = append(b, ':')
	b = append2(b, int(s%60))
	if ns := t.Nanosecond(); ns != 0 {
		// RFC3339Nano's .999999999: nine digits, trailing zeros dropped.
		var frac [10]byte
		frac[0] = '.'
		for i := 9; i > 0; i-- {
			frac[i] = byte('0' + ns%10)
			ns /= 10
		}
		n := 10
		for frac[n-1] == '0' {
			n--
		}
		b = append(b, frac[:n]...)
	}
	return append(b, 'Z')
}

// append2 appends n, 0 to 99, in two digits.
func append2(b []byte, n int) []byte {
	return append(b, byte('0'+n/10), byte('0'+n%10))
}
