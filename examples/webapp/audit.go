package main

import (
	"encoding/json"
	"net/http"
	"net/url"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
)

// auditActions is the action filter's list: usher's own and the host's.
var auditActions = append(audit.Actions(), actionBackupRun)

var auditOutcomes = []audit.Outcome{audit.Success, audit.Failure, audit.Denied}

type auditRow struct {
	audit.Event
	DetailsJSON string
}

type auditData struct {
	Events   []auditRow
	Actions  []audit.Action
	Outcomes []audit.Outcome
	Action   string
	Outcome  string
	NextURL  string
	Paged    bool
}

// auditPage shows the trail, newest first, filtered by action and outcome,
// with cursor paging.
func (s *server) auditPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v := r.URL.Query()
	d := &auditData{
		Actions: auditActions, Outcomes: auditOutcomes,
		Action: v.Get("action"), Outcome: v.Get("outcome"), Paged: v.Get("cursor") != "",
	}
	page, err := s.m.AuditLog(r.Context(), p, audit.Query{
		Action: audit.Action(d.Action), Outcome: audit.Outcome(d.Outcome),
		Limit: s.pageSize, Cursor: v.Get("cursor"),
	})
	if err != nil {
		s.formFailed(w, r, err, "audit", nil, func() (*view, error) {
			return &view{Title: "Audit log", Data: d}, nil
		})
		return
	}
	for _, e := range page.Events {
		row := auditRow{Event: e}
		if len(e.Details) > 0 {
			b, _ := json.Marshal(e.Details)
			row.DetailsJSON = string(b)
		}
		d.Events = append(d.Events, row)
	}
	if page.Next != "" {
		next := url.Values{"cursor": {page.Next}}
		if d.Action != "" {
			next.Set("action", d.Action)
		}
		if d.Outcome != "" {
			next.Set("outcome", d.Outcome)
		}
		d.NextURL = "/audit?" + next.Encode()
	}
	s.render(w, r, http.StatusOK, "audit", &view{Title: "Audit log", Data: d})
}
