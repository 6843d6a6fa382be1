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
func appendEventJSON(b []byte, e *Event) ([]byte, bool) {
	t := e.Time.UTC()
	if y := t.Year(); y < 0 || y > 9999 {
		return b, false
	}
	b = append(b, `{"id":`...)
	b = auditjson.AppendString(b, e.ID, false)
	b = append(b, `,"time":"`...)
	b = t.AppendFormat(b, time.RFC3339Nano)
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
