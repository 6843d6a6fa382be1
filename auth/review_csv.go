package auth

import (
	"encoding/csv"
	"io"
	"strconv"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
)

// reviewCSVHeader is the first row [AccessReview.WriteCSV] writes: the
// names of its columns.
var reviewCSVHeader = []string{"email", "name", "status", "group", "group_id", "permissions",
	"require_two_factor", "password", "totp", "passkeys", "sso", "must_change_password",
	"created", "last_login", "findings"}

// ReviewCSVHeader returns the names of the columns [AccessReview.WriteCSV]
// writes, in order; a fresh copy.
func ReviewCSVHeader() []string { return append([]string(nil), reviewCSVHeader...) }

// WriteCSV writes the review's accounts as CSV (RFC 4180), one row a user
// after a header row ([ReviewCSVHeader]): its group with the group's
// permissions, its ways to log in, its last login and its findings. Times
// are RFC 3339 in UTC, empty for never; permissions and findings are
// separated by spaces, provider names (which may hold spaces) by "; ".
//
// Names, emails and group names are other people's input, and a CSV is
// opened in spreadsheets, which run a cell that starts with "=" as a
// formula: every cell that starts with =, +, -, @, a tab, a carriage
// return or a NUL gets a leading apostrophe, so it reads as text (OWASP
// ASVS 5.0 V1.2.10; OWASP "CSV Injection").
func (r *AccessReview) WriteCSV(w io.Writer) error {
	groups := make(map[group.ID]*ReviewGroup, len(r.Groups))
	for i := range r.Groups {
		groups[r.Groups[i].ID] = &r.Groups[i]
	}
	cw := csv.NewWriter(w)
	if err := cw.Write(reviewCSVHeader); err != nil {
		return err
	}
	for i := range r.Users {
		if err := cw.Write(csvRow(&r.Users[i], groups[r.Users[i].GroupID])); err != nil {
			return err
		}
	}
	cw.Flush()
	return cw.Error()
}

// csvRow is u's row; g is its group, nil if missing.
func csvRow(u *ReviewUser, g *ReviewGroup) []string {
	var perms []string
	require := false
	if g != nil {
		for _, e := range g.Permissions {
			perms = append(perms, string(e.Permission))
		}
		require = g.RequireTwoFactor
	}
	status := "enabled"
	if u.Disabled {
		status = "disabled"
	}
	findings := make([]string, len(u.Findings))
	for i, f := range u.Findings {
		findings[i] = string(f)
	}
	row := []string{u.Email, u.Name, status, u.GroupName, string(u.GroupID), strings.Join(perms, " "),
		strconv.FormatBool(require), strconv.FormatBool(u.Password), strconv.FormatBool(u.TOTP),
		strconv.Itoa(u.Passkeys), strings.Join(u.SSO, "; "), strconv.FormatBool(u.MustChangePassword),
		csvTime(u.CreatedAt), csvTime(u.LastLoginAt), strings.Join(findings, " ")}
	for i, c := range row {
		row[i] = defuseCell(c)
	}
	return row
}

func csvTime(t time.Time) string {
	if t.IsZero() {
		return ""
	}
	return t.UTC().Format(time.RFC3339)
}

// defuseCell makes a cell that a spreadsheet would read as a formula read
// as text, by a leading apostrophe (see WriteCSV), as audit exports do.
func defuseCell(s string) string { return audit.SafeCell(s) }
