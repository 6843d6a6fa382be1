package main

import (
	"cmp"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/usher-go/usher/auth"
)

// review prints the access review, as text or (-csv) as CSV, and with
// -mark records it in the audit trail as the operator.
func (c *ctl) review(ctx context.Context, args []string) error {
	fs := flag.NewFlagSet("review", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	asCSV := fs.Bool("csv", false, "")
	idle := fs.Int("idle-days", 0, "")
	note, marking := "", false
	fs.Func("mark", "", func(s string) error { note, marking = s, true; return nil })
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return errors.New("usage: review [-csv] [-idle-days N] [-mark NOTE]")
	}
	opts := auth.ReviewOptions{IdleDays: *idle}
	var r *auth.AccessReview
	var err error
	if marking {
		r, err = c.m.MarkAccessReviewed(ctx, c.op, opts, note)
	} else {
		r, err = c.m.AccessReview(ctx, c.op, opts)
	}
	if err != nil {
		return err
	}
	if *asCSV {
		return r.WriteCSV(c.out)
	}
	if err := c.printReview(r); err != nil {
		return err
	}
	if marking {
		fmt.Fprintln(c.out, "\nreview recorded in the audit trail")
	}
	return nil
}

// printReview writes r as text: the findings first, then who holds "*",
// the groups and the accounts.
func (c *ctl) printReview(r *auth.AccessReview) error {
	fmt.Fprintf(c.out, "Access review, %s UTC; idle after %d days\n", r.Generated.Format(time.DateTime), r.IdleDays)
	if lr := r.LastReview; lr != nil {
		fmt.Fprintf(c.out, "Last review: %s by %s", lr.At.Format(time.DateTime), lr.By.Email)
		if lr.Note != "" {
			fmt.Fprintf(c.out, ": %q", lr.Note)
		}
		fmt.Fprintln(c.out)
	} else {
		fmt.Fprintln(c.out, "Last review: none recorded")
	}
	w := tabwriter.NewWriter(c.out, 0, 4, 2, ' ', 0)
	fmt.Fprintf(w, "\nFINDINGS (%d)\n", len(r.Findings))
	for _, f := range r.Findings {
		fmt.Fprintf(w, "%s\t%s\t%s\n", f.Kind, f.User.Email, f.Detail)
	}
	fmt.Fprintln(w, "\nHOLDERS OF * (every permission)")
	for _, m := range r.Wildcard {
		fmt.Fprintf(w, "%s%s\n", m.Email, disabled(m.Disabled))
	}
	fmt.Fprintln(w, "\nGROUPS")
	for _, g := range r.Groups {
		req := ""
		if g.RequireTwoFactor {
			req = " (requires a second factor)"
		}
		fmt.Fprintf(w, "%s [%s]%s\n", g.Name, g.ID, req)
		for _, p := range g.Permissions {
			fmt.Fprintf(w, "  %s\t%s\t%s\n", p.Permission, p.Label, p.Category)
		}
		var members []string
		for _, m := range g.Members {
			members = append(members, m.Email+disabled(m.Disabled))
		}
		fmt.Fprintf(w, "  members: %s\n", cmp.Or(strings.Join(members, ", "), "none"))
	}
	fmt.Fprintln(w, "\nACCOUNTS\nEMAIL\tGROUP\tSTATUS\tPASSWORD\tTOTP\tPASSKEYS\tSSO\tLAST LOGIN\tFINDINGS")
	for _, u := range r.Users {
		last := "never"
		if !u.LastLoginAt.IsZero() {
			last = u.LastLoginAt.Format(time.DateTime)
		}
		var findings []string
		for _, k := range u.Findings {
			findings = append(findings, string(k))
		}
		fmt.Fprintf(w, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\t%s\n", u.Email, u.GroupName, status(u.Disabled),
			yes(u.Password), yes(u.TOTP), u.Passkeys, cmp.Or(strings.Join(u.SSO, ", "), "-"), last, cmp.Or(strings.Join(findings, ", "), "-"))
	}
	return w.Flush()
}

func status(disabled bool) string {
	if disabled {
		return "disabled"
	}
	return "enabled"
}

func disabled(d bool) string {
	if d {
		return " (disabled)"
	}
	return ""
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
