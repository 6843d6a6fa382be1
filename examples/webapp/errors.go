package main

import (
	"errors"
	"fmt"
	"math"
	"net/http"
	"strconv"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// problem is an error the person can fix: a status, the form field it
// belongs next to ("" for the top of the form) and the words to show.
type problem struct {
	status int
	field  string
	msg    string
}

// describe maps usher's errors to what a page says. The host owns the
// wording (words); usher's error texts are for logs. Where the input was
// wrong, usher names it (*auth.FieldError), and the message goes next to
// that input.
func describe(err error) (problem, bool) {
	prob, ok := words(err)
	var fe *auth.FieldError
	if ok && errors.As(err, &fe) {
		prob.field = inputs[fe.Field]
	}
	return prob, ok
}

// inputs maps the fields usher names (auth.FieldError) to this app's form
// inputs, whose error slots the templates show as .Errors.<input>.
// FieldQuery has none: a bad filter or page link is shown above the list.
var inputs = map[string]string{
	auth.FieldEmail:       "email",
	auth.FieldName:        "name",
	auth.FieldPassword:    "password",
	auth.FieldNewPassword: "new_password",
	auth.FieldGroupID:     "group",
	auth.FieldDescription: "description",
	auth.FieldPermissions: "permissions",
	auth.FieldCode:        "code",
	auth.FieldImage:       "avatar",
	auth.FieldQuery:       "",
}

// words says what went wrong, with the status to answer, and where the
// error is none of usher's FieldErrors, the input it belongs next to ("" for
// the top of the form). Order matters where one error wraps another
// (ErrLastAdmin and ErrBuiltin are ErrForbidden too,
// ErrTwoFactorWithoutEnrollment is an ErrInvalidPermission).
func words(err error) (problem, bool) {
	var te *auth.ThrottledError
	switch {
	case errors.As(err, &te):
		return problem{http.StatusTooManyRequests, "", throttledMessage(te)}, true
	case errors.Is(err, auth.ErrPasswordLoginDisabled):
		return problem{http.StatusForbidden, "", "Logging in with a password is turned off here: sign in with one of the providers."}, true
	case errors.Is(err, auth.ErrInvalidCredentials):
		return problem{http.StatusUnauthorized, "", "Wrong email or password."}, true
	case errors.Is(err, auth.ErrBootstrapToken): // the sign-up page says which token (auth_handlers.go)
		return problem{http.StatusForbidden, "bootstrap_token", "Wrong token."}, true
	case errors.Is(err, auth.ErrAccountDisabled):
		return problem{http.StatusForbidden, "", "This account is disabled. Ask an administrator."}, true
	case errors.Is(err, auth.ErrLastAdmin):
		return problem{http.StatusConflict, "", "That would leave no enabled administrator."}, true
	case errors.Is(err, group.ErrBuiltin):
		return problem{http.StatusConflict, "", "The Admins group cannot be deleted or lose \"*\" (all permissions), and the default Users group cannot be deleted."}, true
	case errors.Is(err, auth.ErrStale):
		return problem{http.StatusConflict, "", staleMessage}, true
	case errors.Is(err, group.ErrInUse):
		return problem{http.StatusConflict, "", "The group still has members. Move them to another group first."}, true
	case errors.Is(err, auth.ErrReauthRequired):
		return problem{http.StatusUnauthorized, "password", "Enter your current password."}, true
	case errors.Is(err, errPasswordsDiffer):
		return problem{http.StatusBadRequest, "confirm_password", "The new passwords differ."}, true
	case errors.Is(err, totp.ErrMalformedCode):
		return problem{http.StatusBadRequest, "code", "Enter the 6-digit code from your app (or a recovery code like XXXXX-XXXXX-XXXX)."}, true
	case errors.Is(err, totp.ErrNotEnrolled):
		return problem{http.StatusConflict, "", "No two-factor enrollment is in progress, or it expired. Begin again."}, true
	case errors.Is(err, totp.ErrAlreadyEnrolled):
		return problem{http.StatusConflict, "", "Two-factor authentication is already on."}, true
	case errors.Is(err, auth.ErrInvalidChallenge):
		return problem{http.StatusUnauthorized, "", flashes["login-expired"]}, true
	}
	if prob, ok := passkeyWords(err); ok {
		return prob, true
	}
	return inputWords(err)
}

// passkeyWords says what went wrong with a passkey. A failed passkey
// login is ErrInvalidCredentials, worded above (and by the login
// handlers, which say "passkey").
func passkeyWords(err error) (problem, bool) {
	switch {
	case errors.Is(err, auth.ErrPasskeysDisabled):
		return problem{http.StatusNotFound, "", "Passkeys are not enabled on this server."}, true
	case errors.Is(err, auth.ErrPasswordlessDisabled):
		return problem{http.StatusForbidden, "", "Logging in with a passkey alone is turned off here: log in with your email and password."}, true
	case errors.Is(err, auth.ErrInvalidCeremony):
		return problem{http.StatusBadRequest, "", "That passkey request expired or was already used. Try again."}, true
	case errors.Is(err, auth.ErrPasskeyRejected):
		return problem{http.StatusBadRequest, "", "Your browser's answer could not be verified, so no passkey was added. Try again."}, true
	case errors.Is(err, passkey.ErrCredentialTaken):
		return problem{http.StatusConflict, "", "This passkey is registered already."}, true
	case errors.Is(err, passkey.ErrInvalidName):
		return problem{http.StatusBadRequest, "", fmt.Sprintf("Give the passkey a name of 1 to %d characters, without control or invisible characters.", passkey.MaxNameLength)}, true
	}
	return problem{}, false
}

// inputWords says what was wrong with an input; usher's FieldError says
// which.
func inputWords(err error) (problem, bool) {
	var weak *auth.WeakPasswordError
	switch {
	case errors.Is(err, user.ErrInvalidEmail):
		return problem{http.StatusBadRequest, "", "Enter a single valid email address."}, true
	case errors.Is(err, user.ErrEmailTaken):
		return problem{http.StatusConflict, "", "That email address is already in use."}, true
	case errors.Is(err, user.ErrInvalidName):
		return problem{http.StatusBadRequest, "", fmt.Sprintf("Names are at most %d bytes, without control characters.", user.MaxNameLength)}, true
	case errors.Is(err, auth.ErrPasswordTooShort):
		return problem{http.StatusBadRequest, "", fmt.Sprintf("Use at least %d characters.", minPasswordLength)}, true
	case errors.Is(err, auth.ErrPasswordTooLong):
		return problem{http.StatusBadRequest, "", fmt.Sprintf("Use at most %d bytes.", auth.MaxPasswordBytes)}, true
	case errors.As(err, &weak): // usher says why, in words for the person
		return problem{http.StatusBadRequest, "", "That password is too easy to guess: " + weak.Reason +
			". A few unrelated words make a strong one."}, true
	case errors.Is(err, auth.ErrPasswordRejected):
		return problem{http.StatusBadRequest, "", "That password is not allowed; choose another."}, true
	case errors.Is(err, group.ErrNotFound):
		// Only as a FieldError: the group a user was to join is gone. Any
		// other missing group is a missing page (fail).
		var fe *auth.FieldError
		if !errors.As(err, &fe) {
			return problem{}, false
		}
		return problem{http.StatusConflict, "", "That group no longer exists; choose another."}, true
	case errors.Is(err, group.ErrNameTaken):
		return problem{http.StatusConflict, "", "A group with that name exists."}, true
	case errors.Is(err, group.ErrInvalidName):
		return problem{http.StatusBadRequest, "", fmt.Sprintf("Give the group a name of 1 to %d bytes, without control characters.", group.MaxNameLength)}, true
	case errors.Is(err, group.ErrInvalidDescription):
		return problem{http.StatusBadRequest, "", fmt.Sprintf("Descriptions are at most %d bytes, without control characters.", group.MaxDescriptionLength)}, true
	case errors.Is(err, group.ErrTwoFactorWithoutEnrollment):
		return problem{http.StatusBadRequest, "", "A group that requires two-factor authentication must grant \"Manage own two-factor authentication\" (profile:manage_2fa), " +
			"or with passkeys on \"Manage own passkeys\" (profile:manage_passkeys), or its members could never enrol."}, true
	case errors.Is(err, group.ErrUnknownPermission), errors.Is(err, group.ErrInvalidPermission):
		return problem{http.StatusBadRequest, "", "One of the permissions is not known to this application."}, true
	case errors.Is(err, auth.ErrInvalidImage):
		return problem{http.StatusBadRequest, "", "Upload a PNG, JPEG, GIF or WebP image."}, true
	case errors.Is(err, auth.ErrImageTooLarge):
		return problem{http.StatusBadRequest, "", fmt.Sprintf("The image must be at most %d MiB, %d pixels on a side and %d megapixels.",
			auth.MaxAvatarBytes>>20, auth.MaxAvatarPixels, auth.MaxAvatarArea/1_000_000)}, true
	case errors.Is(err, user.ErrInvalidQuery), errors.Is(err, user.ErrInvalidCursor),
		errors.Is(err, audit.ErrInvalidQuery), errors.Is(err, audit.ErrInvalidCursor):
		return problem{http.StatusBadRequest, "", "That filter or page link is not valid; start from the first page."}, true
	}
	return problem{}, false
}

func throttledMessage(te *auth.ThrottledError) string {
	secs := int(math.Ceil(te.RetryAfter.Seconds()))
	return fmt.Sprintf("Too many attempts, try again in %d s.", max(secs, 1))
}

// staleMessage answers a form saved over someone else's change (usher's
// ErrStale); the form shows the record as it is now.
const staleMessage = "This was changed by someone else since you opened this page. " +
	"It is shown as it is now: make your change again."

// formFailed re-renders a form with the problem next to its field, or
// answers with an error page when err is not the person's to fix. build
// returns the form's view (its data and the values typed so far).
func (s *server) formFailed(w http.ResponseWriter, r *http.Request, err error, page string, override func(problem) problem, build func() (*view, error)) {
	prob, ok := describe(err)
	if !ok {
		s.fail(w, r, err)
		return
	}
	if override != nil {
		prob = override(prob)
	}
	v, berr := build()
	if berr != nil {
		s.fail(w, r, berr)
		return
	}
	v.fieldError(prob)
	var te *auth.ThrottledError
	if errors.As(err, &te) {
		w.Header().Set("Retry-After", strconv.Itoa(int(math.Ceil(te.RetryAfter.Seconds()))))
	}
	s.render(w, r, prob.status, page, v)
}

// fail answers with the page an error deserves when there is no form to go
// back to.
func (s *server) fail(w http.ResponseWriter, r *http.Request, err error) {
	switch {
	case errors.Is(err, auth.ErrUnauthenticated):
		s.toLogin(w, r)
	case errors.Is(err, auth.ErrPasswordChangeRequired):
		redirect(w, r, "/profile")
	case errors.Is(err, auth.ErrEnrollmentRequired):
		redirect(w, r, "/profile/security")
	case errors.Is(err, user.ErrNotFound), errors.Is(err, group.ErrNotFound), errors.Is(err, auth.ErrSessionNotFound),
		errors.Is(err, passkey.ErrNotFound):
		s.errorPage(w, r, http.StatusNotFound, "There is no such page, or the record was deleted.")
	case errors.Is(err, auth.ErrLastAdmin), errors.Is(err, group.ErrBuiltin):
		prob, _ := describe(err)
		s.errorPage(w, r, prob.status, prob.msg)
	case errors.Is(err, auth.ErrForbidden):
		s.forbidden(w, r, err)
	default:
		if prob, ok := describe(err); ok {
			s.errorPage(w, r, prob.status, prob.msg)
			return
		}
		s.serverError(w, r, err)
	}
}

// forbidden answers a refusal with usher's sentence for it
// (auth.DeniedError.Message): which permission is missing, or that the
// account is one's own, and so on, never anything of other accounts.
func (s *server) forbidden(w http.ResponseWriter, r *http.Request, err error) {
	why := "Your group may lack it, the change may grant more than you hold, or it may touch your own group."
	var de *auth.DeniedError
	if errors.As(err, &de) {
		why = de.Message()
	}
	s.errorPage(w, r, http.StatusForbidden, "You do not have permission for this. "+why)
}

func (s *server) serverError(w http.ResponseWriter, r *http.Request, err error) {
	s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	s.errorPage(w, r, http.StatusInternalServerError, "Something went wrong on our side. Try again in a moment.")
}

// errorPage answers with a page that says msg, or, to the script's JSON
// calls, with msg in JSON.
func (s *server) errorPage(w http.ResponseWriter, r *http.Request, status int, msg string) {
	if isJSON(r) {
		writeJSON(w, status, errorJSON{Error: msg})
		return
	}
	s.render(w, r, status, "error", &view{Title: http.StatusText(status), Error: msg})
}
