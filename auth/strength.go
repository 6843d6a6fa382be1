package auth

import (
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/trustelem/zxcvbn"
	"github.com/trustelem/zxcvbn/match"
	"github.com/usher-go/usher/user"
	"golang.org/x/text/unicode/norm"
)

// PasswordContext is what usher knows of the account a new password is
// for: a password built from it is easy to guess for anyone who knows the
// account (NIST SP 800-63B-4 3.1.1.2: context-specific words). Config's
// PasswordChecker receives it too.
type PasswordContext struct {
	UserID user.ID
	Email  string
	Name   string
	// Issuer is Config.Issuer: the name of the application.
	Issuer string
	// byOther: the password is set by someone other than the account's
	// holder (an admin creating the account or resetting its password),
	// so a refusal names "the account's" email or name, not "your".
	byOther bool
}

// accountOf is the context of u's password.
func accountOf(u *user.User) PasswordContext {
	return PasswordContext{UserID: u.ID, Email: u.Email, Name: u.Name}
}

// maxScored is how much of a password the guess estimator reads, in
// bytes, cut back to a whole character: zxcvbn's matching is quadratic in
// the bytes (about 45 ms for 100, a sixth of one bcrypt at the default
// cost; BENCHMARKS.md), and a password longer than this is long enough
// that its first hundred bytes decide (invariant 9: work is bounded before
// it starts). That is 100 ASCII characters, or 25 of a script of 4-byte
// characters, still far more than any guesser tries.
const maxScored = 100

// minInputRunes is the shortest piece of the account's context looked for
// in a password: shorter ones ("al", "x") are in too many passwords by
// chance.
const minInputRunes = 3

// The reasons a password is too easy to guess, in words a person can act
// on. [WeakPasswordError].Reason is one of them.
const (
	ReasonCommonPassword = "it is one of the most common passwords"
	ReasonBuiltOnCommon  = "it is built on a common password"
	ReasonCommonWords    = "it is made of common words or names alone"
	ReasonKeyboard       = "it follows a keyboard pattern, like qwerty or 1qaz"
	ReasonRepeat         = "it repeats characters or a short group of them, like aaa or abcabc"
	ReasonSequence       = "it is a sequence, like abcd or 4321"
	ReasonDate           = "it is mostly a date or a year"
	ReasonEmail          = "it contains your email address"
	ReasonName           = "it contains your name"
	// The same two, for a password an admin sets for someone else.
	ReasonAccountEmail = "it contains the account's email address"
	ReasonAccountName  = "it contains the account's name"
	ReasonIssuer       = "it contains the name of this application"
	ReasonTooSimple    = "it is too short and simple to resist guessing"
)

// contextInputs returns the pieces of pc a password must not be built
// from, each with the reason that names it: the email, its local part and
// the local part's words, the name and its words, the issuer and its words.
func contextInputs(pc PasswordContext) map[string]string {
	in := map[string]string{}
	add := func(s, reason string) {
		s = strings.ToLower(norm.NFKC.String(s))
		if _, seen := in[s]; !seen && utf8.RuneCountInString(s) >= minInputRunes {
			in[s] = reason
		}
	}
	words := func(s, reason string) {
		add(s, reason)
		for _, w := range strings.FieldsFunc(s, func(r rune) bool { return !unicode.IsLetter(r) && !unicode.IsDigit(r) }) {
			add(w, reason)
		}
	}
	email, name := ReasonEmail, ReasonName
	if pc.byOther {
		email, name = ReasonAccountEmail, ReasonAccountName
	}
	if pc.Email != "" {
		add(pc.Email, email)
		local, _, _ := strings.Cut(pc.Email, "@")
		words(local, email)
	}
	words(pc.Name, name)
	words(pc.Issuer, ReasonIssuer)
	return in
}

// weakness returns why password is too easy to guess, or "" when it
// scores at least min on zxcvbn's guess-count estimate (0 to 4: 3 is
// "safely unguessable: moderate protection from an offline attack", about
// 10^10 guesses) and the part of it that is not the account's context
// does too. NIST SP 800-63B-4 3.1.1.2 asks to refuse passwords that are
// common, expected or compromised, and context-specific words, offline and
// without composition rules; OWASP ASVS 5.0 V6.2.4 and V6.2.11 the same.
func weakness(password string, pc PasswordContext, min int) string {
	if len(password) > maxScored {
		cut := maxScored
		for cut > 0 && !utf8.RuneStart(password[cut]) {
			cut--
		}
		password = password[:cut]
	}
	inputs := contextInputs(pc)
	list := make([]string, 0, len(inputs))
	for s := range inputs {
		list = append(list, s)
	}
	// Longest first, so the email goes before its local part.
	slices.SortFunc(list, func(a, b string) int { return len(b) - len(a) })
	rest, reason := withoutInputs(password, list, inputs)
	r := zxcvbn.PasswordStrength(password, list)
	if r.Score < min {
		if reason != "" {
			return reason
		}
		return reasonFor(password, r.Sequence, inputs)
	}
	// Strong as a whole: is it still strong without its context? The
	// email inside a password adds nothing for someone who knows it.
	if reason != "" && (strings.TrimSpace(rest) == "" || zxcvbn.PasswordStrength(rest, list).Score < min) {
		return reason
	}
	return ""
}

// withoutInputs returns password, lower-cased, without the pieces of the
// account's context it holds (list, longest first), and the reason that
// names the most telling of them ("" when it holds none). It compares
// strings itself rather than through zxcvbn's matches, which miss words
// that end in a character beyond ASCII.
func withoutInputs(password string, list []string, inputs map[string]string) (string, string) {
	rest, reason := strings.ToLower(password), ""
	for _, in := range list {
		if !strings.Contains(rest, in) {
			continue
		}
		rest = strings.ReplaceAll(rest, in, "")
		if r := inputs[in]; reason == "" || reasonRank(r) < reasonRank(reason) {
			reason = r
		}
	}
	return rest, reason
}

// inputReason reports whether m matched a piece of the account's context,
// and which.
func inputReason(m *match.Match, inputs map[string]string) (string, bool) {
	if m.Pattern != "dictionary" || m.DictionaryName != "user_inputs" {
		return "", false
	}
	r, ok := inputs[m.MatchedWord]
	return r, ok
}

// reasonFor picks, among the patterns zxcvbn found in a weak password, the
// one to tell the person: the account's context first (the most
// actionable), then a common password, keyboard walks, repeats,
// sequences, dates, and common words.
func reasonFor(password string, seq []*match.Match, inputs map[string]string) string {
	best, rank := ReasonTooSimple, len(reasonOrder)
	for _, m := range seq {
		var r string
		switch m.Pattern {
		case "dictionary":
			r = dictionaryReason(password, m, inputs)
		case "spatial":
			r = ReasonKeyboard
		case "repeat":
			r = ReasonRepeat
		case "sequence":
			r = ReasonSequence
		case "date", "regex":
			r = ReasonDate
		}
		if i := reasonRank(r); i < rank {
			best, rank = r, i
		}
	}
	return best
}

// reasonOrder ranks the reasons, most telling first.
var reasonOrder = []string{ReasonEmail, ReasonName, ReasonIssuer, ReasonCommonPassword, ReasonBuiltOnCommon,
	ReasonKeyboard, ReasonRepeat, ReasonSequence, ReasonDate, ReasonCommonWords}

func reasonRank(r string) int {
	for i, o := range reasonOrder {
		if o == r {
			return i
		}
	}
	return len(reasonOrder)
}

func dictionaryReason(password string, m *match.Match, inputs map[string]string) string {
	if r, ok := inputReason(m, inputs); ok {
		return r
	}
	if m.DictionaryName != "passwords" {
		return ReasonCommonWords
	}
	if m.I == 0 && m.J == len(password)-1 {
		return ReasonCommonPassword
	}
	return ReasonBuiltOnCommon
}
