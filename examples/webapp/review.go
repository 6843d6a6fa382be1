package main

import (
	"bytes"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strconv"

	"github.com/usher-go/usher/auth"
)

// The access review (usher's AccessReview): who has what, who lacks a
// second factor they should have, which accounts lie idle or disabled; as
// a page, as a CSV download, and a form that records the review in the
// audit trail. All three need access:review, which usher checks.

type reviewData struct {
	*auth.AccessReview
	// IdleDays is what the idle-days input shows: the report's, or what
	// was typed when it was refused.
	IdleDays string
	Note     string // the note typed, when the mark was refused
	CSVURL   string
	Default  bool // the default idle days: the links carry no parameter
}

// findingLabels are the page's words for usher's kinds of finding.
var findingLabels = map[auth.FindingKind]string{
	auth.FindingNoSecondFactor: "No second factor",
	auth.FindingNeverLoggedIn:  "Never logged in",
	auth.FindingIdle:           "Idle",
	auth.FindingDisabled:       "Disabled",
}

// Label is the page's words for a kind of finding.
func (reviewData) Label(k auth.FindingKind) string {
	if l, ok := findingLabels[k]; ok {
		return l
	}
	return string(k)
}

// errIdleDays is an idle-days input that is no number.
var errIdleDays = errors.New("idle days: not a number")

// reviewOptions reads the idle days from the query (GET) or the form
// (POST): empty means usher's default.
func reviewOptions(r *http.Request) (auth.ReviewOptions, error) {
	v := r.FormValue("idle_days")
	if v == "" {
		return auth.ReviewOptions{}, nil
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return auth.ReviewOptions{}, errIdleDays
	}
	return auth.ReviewOptions{IdleDays: n}, nil
}

// reviewPage shows the report: the findings first, then the groups with
// their permissions and members, then every account with its factors.
func (s *server) reviewPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	opts, err := reviewOptions(r)
	var rev *auth.AccessReview
	if err == nil {
		rev, err = s.m.AccessReview(r.Context(), p, opts)
	}
	if err != nil {
		s.reviewFailed(w, r, p, err)
		return
	}
	v := s.reviewView(rev, "")
	if r.URL.Query().Get("done") == "reviewed" {
		v.Flash = "Review recorded in the audit log."
	}
	s.render(w, r, http.StatusOK, "review", v)
}

// reviewView is the page of rev with note typed in the mark form.
func (s *server) reviewView(rev *auth.AccessReview, note string) *view {
	d := &reviewData{AccessReview: rev, IdleDays: strconv.Itoa(rev.IdleDays), Note: note,
		CSVURL: "/review.csv", Default: rev.IdleDays == auth.DefaultIdleDays}
	if !d.Default {
		d.CSVURL += "?" + url.Values{"idle_days": {d.IdleDays}}.Encode()
	}
	return &view{Title: "Access review", Data: d}
}

// reviewFailed answers a refused review or mark: a bad input shown above
// the report as it is with the default options, anything else as fail
// does.
func (s *server) reviewFailed(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error) {
	var msg string
	switch {
	case errors.Is(err, errIdleDays), errors.Is(err, auth.ErrInvalidIdleDays):
		msg = fmt.Sprintf("Idle days must be a whole number from 1 to %d.", auth.MaxIdleDays)
	case errors.Is(err, auth.ErrNoteTooLong):
		msg = fmt.Sprintf("The note is at most %d bytes.", auth.MaxReviewNoteBytes)
	default:
		s.fail(w, r, err)
		return
	}
	rev, rerr := s.m.AccessReview(r.Context(), p, auth.ReviewOptions{})
	if rerr != nil {
		s.fail(w, r, rerr)
		return
	}
	v := s.reviewView(rev, r.PostFormValue("note"))
	v.Data.(*reviewData).IdleDays = r.FormValue("idle_days")
	v.Error = msg
	s.render(w, r, http.StatusBadRequest, "review", v)
}

// reviewCSV downloads the report's accounts as CSV (usher's WriteCSV,
// which defuses cells a spreadsheet would run as formulas).
func (s *server) reviewCSV(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	opts, err := reviewOptions(r)
	var rev *auth.AccessReview
	if err == nil {
		rev, err = s.m.AccessReview(r.Context(), p, opts)
	}
	if err != nil {
		s.reviewFailed(w, r, p, err)
		return
	}
	var buf bytes.Buffer
	if err := rev.WriteCSV(&buf); err != nil {
		s.serverError(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "text/csv; charset=utf-8")
	w.Header().Set("Content-Disposition", fmt.Sprintf(`attachment; filename="access-review-%s.csv"`, rev.Generated.Format("2006-01-02")))
	buf.WriteTo(w)
}

// markReviewed records the review, with the note, in the audit trail.
func (s *server) markReviewed(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	opts, err := reviewOptions(r)
	if err == nil {
		_, err = s.m.MarkAccessReviewed(r.Context(), p, opts, r.PostFormValue("note"))
	}
	if err != nil {
		s.reviewFailed(w, r, p, err)
		return
	}
	target := "/review?done=reviewed"
	if opts.IdleDays != 0 {
		target += "&" + url.Values{"idle_days": {strconv.Itoa(opts.IdleDays)}}.Encode()
	}
	redirect(w, r, target)
}
