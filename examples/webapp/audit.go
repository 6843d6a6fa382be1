package main

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/user"
)

// auditActions is the action filter's list: usher's own and the host's.
var auditActions = append(audit.Actions(), actionBackupRun)

var auditOutcomes = []audit.Outcome{audit.Success, audit.Failure, audit.Denied}

// auditTargetTypes is the target filter's list of kinds.
var auditTargetTypes = []string{audit.TargetUser, audit.TargetGroup, audit.TargetSession,
	audit.TargetProvider, audit.TargetRoute, audit.TargetAudit, "backup"}

// auditFilter is the audit page's query string: the filters a person set.
type auditFilter struct {
	Action, Outcome, Actor, TargetType, Target, Since, Until string
}

func auditFilterFrom(v url.Values) auditFilter {
	return auditFilter{Action: v.Get("action"), Outcome: v.Get("outcome"), Actor: strings.TrimSpace(v.Get("actor")),
		TargetType: v.Get("target_type"), Target: strings.TrimSpace(v.Get("target")),
		Since: v.Get("since"), Until: v.Get("until")}
}

// values is f as a query string, empty filters left out.
func (f auditFilter) values() url.Values {
	v := url.Values{}
	for k, s := range map[string]string{"action": f.Action, "outcome": f.Outcome, "actor": f.Actor,
		"target_type": f.TargetType, "target": f.Target, "since": f.Since, "until": f.Until} {
		if s != "" {
			v.Set(k, s)
		}
	}
	return v
}

// url is the audit page (or its export, with format) under f, at cursor.
func (f auditFilter) url(path, cursor, format string) string {
	v := f.values()
	if cursor != "" {
		v.Set("cursor", cursor)
	}
	if format != "" {
		v.Set("format", format)
	}
	if len(v) == 0 {
		return path
	}
	return path + "?" + v.Encode()
}

// query turns f into a library query. An actor given by email is looked
// up (the reader needs users:read for that); dates are whole UTC days, the
// until day included.
func (s *server) auditQuery(r *http.Request, p *auth.Principal, f auditFilter) (audit.Query, string) {
	q := audit.Query{Action: audit.Action(f.Action), Outcome: audit.Outcome(f.Outcome),
		TargetType: f.TargetType, TargetID: f.Target, ActorID: f.Actor}
	if strings.Contains(f.Actor, "@") {
		id, msg := s.userIDByEmail(r, p, f.Actor)
		if msg != "" {
			return q, msg
		}
		q.ActorID = string(id)
	}
	for _, d := range []struct {
		s    string
		at   *time.Time
		next bool
	}{{f.Since, &q.Since, false}, {f.Until, &q.Until, true}} {
		if d.s == "" {
			continue
		}
		t, err := time.Parse(time.DateOnly, d.s)
		if err != nil {
			return q, fmt.Sprintf("%q is not a date.", d.s)
		}
		if d.next {
			t = t.AddDate(0, 0, 1)
		}
		*d.at = t
	}
	return q, ""
}

// userIDByEmail finds the account with this email, for the actor filter.
func (s *server) userIDByEmail(r *http.Request, p *auth.Principal, email string) (user.ID, string) {
	page, err := s.m.ListUsers(r.Context(), p, user.Query{Search: email, Limit: user.MaxLimit})
	if err != nil {
		return "", "Filtering by email needs the permission to view users: enter the actor's ID instead (each event's actor links to it)."
	}
	for _, u := range page.Users {
		if strings.EqualFold(u.Email, email) {
			return u.ID, ""
		}
	}
	return "", "No account has the email " + email + ". A deleted account's events are found by its ID: follow the actor link of one of its events."
}

// auditRow is one event as the page shows it.
type auditRow struct {
	audit.Event
	ActorURL    string // the events by this actor
	TargetName  string
	TargetURL   string // the target's page, when it has one
	HistoryURL  string // the events on this target
	ReasonText  string
	Changes     []auditChange
	OtherDetail []auditChange // Field and After only
}

// auditChange is one changed field: before → after.
type auditChange struct{ Field, Before, After string }

type auditData struct {
	auditFilter
	Events      []auditRow
	Actions     []audit.Action
	Outcomes    []audit.Outcome
	TargetTypes []string
	Problem     string
	FirstURL    string
	PrevURL     string
	NextURL     string
	CSVURL      string
	JSONLURL    string
}

// auditPage shows the trail, newest first, under every filter the library
// offers, paging both ways.
func (s *server) auditPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := r.URL.Query()
	f := auditFilterFrom(v)
	d := &auditData{auditFilter: f, Actions: auditActions, Outcomes: auditOutcomes, TargetTypes: auditTargetTypes,
		CSVURL: f.url("/audit/export", "", "csv"), JSONLURL: f.url("/audit/export", "", "jsonl")}
	q, msg := s.auditQuery(r, p, f)
	if msg != "" {
		d.Problem = msg
		s.render(w, r, http.StatusBadRequest, "audit", &view{Title: "Audit log", Data: d})
		return
	}
	q.Limit, q.Cursor = s.pageSize, v.Get("cursor")
	page, err := s.m.AuditLog(r.Context(), p, q)
	if err != nil {
		s.formFailed(w, r, err, "audit", nil, func() (*view, error) {
			return &view{Title: "Audit log", Data: d}, nil
		})
		return
	}
	for _, e := range page.Events {
		d.Events = append(d.Events, s.auditRow(e))
	}
	if q.Cursor != "" {
		d.FirstURL = f.url("/audit", "", "")
	}
	if page.Prev != "" {
		d.PrevURL = f.url("/audit", page.Prev, "")
	}
	if page.Next != "" {
		d.NextURL = f.url("/audit", page.Next, "")
	}
	s.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Data: d})
}

func (s *server) auditRow(e audit.Event) auditRow {
	row := auditRow{Event: e, ReasonText: s.m.ReasonText(e.Reason)}
	if e.Actor.ID != "" {
		row.ActorURL = auditFilter{Actor: e.Actor.ID}.url("/audit", "", "")
	}
	row.TargetName = e.Target.Label
	if row.TargetName == "" {
		row.TargetName = e.Target.ID
	}
	if e.Target.ID != "" {
		row.HistoryURL = auditFilter{TargetType: e.Target.Type, Target: e.Target.ID}.url("/audit", "", "")
		switch e.Target.Type {
		case audit.TargetUser:
			row.TargetURL = "/users/" + url.PathEscape(e.Target.ID)
		case audit.TargetGroup:
			row.TargetURL = "/groups/" + url.PathEscape(e.Target.ID)
		}
	}
	row.Changes, row.OtherDetail = detailChanges(e.Details)
	return row
}

// detailChanges splits an event's details into the fields that changed
// (before → after) and the rest, each sorted by name.
func detailChanges(details map[string]any) (changes, other []auditChange) {
	before, _ := details[audit.DetailBefore].(map[string]any)
	after, _ := details[audit.DetailAfter].(map[string]any)
	if before != nil || after != nil {
		fields := map[string]bool{}
		for k := range before {
			fields[k] = true
		}
		for k := range after {
			fields[k] = true
		}
		for k := range fields {
			changes = append(changes, auditChange{Field: k, Before: detailText(before[k]), After: detailText(after[k])})
		}
		slices.SortFunc(changes, func(a, b auditChange) int { return strings.Compare(a.Field, b.Field) })
	}
	for k, v := range details {
		if (k == audit.DetailBefore && before != nil) || (k == audit.DetailAfter && after != nil) {
			continue
		}
		other = append(other, auditChange{Field: k, After: detailText(v)})
	}
	slices.SortFunc(other, func(a, b auditChange) int { return strings.Compare(a.Field, b.Field) })
	return changes, other
}

// detailText writes one detail value for a person.
func detailText(v any) string {
	switch v := v.(type) {
	case nil:
		return "—"
	case string:
		if v == "" {
			return "(empty)"
		}
		return v
	case bool:
		if v {
			return "yes"
		}
		return "no"
	case float64:
		return fmt.Sprint(v)
	case []any:
		parts := make([]string, len(v))
		for i, x := range v {
			parts[i] = detailText(x)
		}
		if len(parts) == 0 {
			return "(none)"
		}
		return strings.Join(parts, ", ")
	}
	return fmt.Sprint(v)
}

// auditExport streams the filtered trail as a download, oldest first.
func (s *server) auditExport(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	f := auditFilterFrom(r.URL.Query())
	format := audit.Format(r.URL.Query().Get("format"))
	if format != audit.CSV && format != audit.JSONLines {
		http.Error(w, "format must be csv or jsonl", http.StatusBadRequest)
		return
	}
	q, msg := s.auditQuery(r, p, f)
	if _, err := q.Normalize(); msg == "" && err != nil {
		msg = "Those filters select nothing: " + err.Error()
	}
	if msg != "" {
		http.Error(w, msg, http.StatusBadRequest)
		return
	}
	w.Header().Set("Content-Type", format.ContentType())
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="audit-%s.%s"`,
		time.Now().UTC().Format("2006-01-02"), format))
	w.Header().Set("X-Content-Type-Options", "nosniff")
	// Once the first bytes are out, a failure can only cut the file short:
	// the library records the export's outcome.
	if _, err := s.m.ExportAuditLog(r.Context(), p, q, format, w); err != nil {
		s.log.Warn("audit export", "err", err)
	}
}
