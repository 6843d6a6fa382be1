package auth

import (
	"strings"

	"github.com/usher-go/usher/group"
)

// reasonTexts are the words for the reasons usher writes as they are.
var reasonTexts = map[string]string{
	"wrong password":             "Wrong password.",
	"unknown email":              "No account has this email.",
	"malformed email":            "Not an email address.",
	"password too long":          "The password was longer than allowed.",
	"unknown passkey":            "The passkey is not registered here.",
	"not a passkey of this user": "The passkey belongs to another account.",
	"user deleted during login":  "The account was deleted during the login.",
	"wrong bootstrap token":      "Wrong setup token.",
}

// reasonParts are the words for reasons that carry an error's text, by a
// part of that text, first match wins.
var reasonParts = []struct{ part, text string }{
	{ErrLastAdmin.Error(), "It would have left no enabled administrator."},
	{ErrEnrollmentRequired.Error(), "Two-factor authentication had to be set up first."},
	{ErrPasswordChangeRequired.Error(), "The password had to be changed first."},
	{"forbidden: not authenticated", "Not signed in."},
	{ErrAccountDisabled.Error(), "The account is disabled."},
	{group.ErrBuiltin.Error(), "The built-in groups cannot be deleted, and Admins cannot lose \"*\"."},
	{ErrInvalidCredentials.Error(), "Wrong credentials."},
}

// ReasonText turns the Reason of an audit event usher wrote into a
// sentence for the person reading the trail: the permission that was
// missing by its label in the catalog, the wait a throttled login was
// told, and so on. A reason it does not know (a host's own, or text from a
// provider) comes back as it is. The sentence names nothing the reader of
// the trail may not see.
func (m *Manager) ReasonText(reason string) string {
	if t, ok := reasonTexts[reason]; ok {
		return t
	}
	if wait, ok := strings.CutPrefix(reason, "auth: too many attempts, retry after "); ok {
		return "Too many attempts: told to wait " + wait + "."
	}
	if _, perm, ok := strings.Cut(reason, "forbidden: needs "); ok {
		p := group.Permission(perm)
		for _, e := range m.catalog.Entries() {
			if e.Permission == p {
				return "Lacked the permission \u201c" + e.Label + "\u201d (" + perm + ")."
			}
		}
		return "Lacked the permission " + perm + "."
	}
	for _, r := range reasonParts {
		if strings.Contains(reason, r.part) {
			return r.text
		}
	}
	return reason
}
