package main

import (
	"bytes"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"html/template"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/passkey"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// lowRecoveryCodes is when the pages start warning about recovery codes.
const lowRecoveryCodes = 3

type profileData struct {
	Name, Email string
	HasAvatar   bool
	Avatar      avatarLimits
}

// avatarLimits are usher's, for the upload form's hint.
type avatarLimits struct {
	MiB, Pixels, Megapixels, Size int
}

var uploadLimits = avatarLimits{
	MiB: auth.MaxAvatarBytes >> 20, Pixels: auth.MaxAvatarPixels,
	Megapixels: auth.MaxAvatarArea / 1_000_000, Size: auth.AvatarSize,
}

func (s *server) profileView(r *http.Request, p *auth.Principal, d *profileData) (*view, error) {
	d.Avatar = uploadLimits
	_, _, err := s.m.UserAvatar(r.Context(), p, p.User().ID)
	switch {
	case errors.Is(err, user.ErrNoAvatar):
	case err != nil:
		return nil, err
	default:
		d.HasAvatar = true
	}
	return &view{Title: "Profile", Data: d}, nil
}

func (s *server) profilePage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v, err := s.profileView(r, p, &profileData{Name: p.User().Name, Email: p.User().Email})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "profile", v)
}

// wrongPassword turns usher's ErrInvalidCredentials, in a form that asks for
// the current password, into words for that field.
func wrongPassword(err error, field string) func(problem) problem {
	return func(p problem) problem {
		if errors.Is(err, auth.ErrInvalidCredentials) {
			return problem{http.StatusUnauthorized, field, "Wrong password."}
		}
		if errors.Is(err, auth.ErrReauthRequired) {
			p.field = field
		}
		return p
	}
}

// updateProfile changes the name and the email; the email is the login
// name, so usher wants the current password for it.
func (s *server) updateProfile(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	var up auth.ProfileUpdate
	d := &profileData{Name: p.User().Name, Email: p.User().Email}
	if r.PostForm.Has("name") { // a disabled field (no permission) is not sent
		d.Name = r.PostFormValue("name")
		up.Name = &d.Name
	}
	if r.PostForm.Has("email") {
		d.Email = r.PostFormValue("email")
		up.Email = &d.Email
	}
	up.Password = r.PostFormValue("password")
	_, session, err := s.m.UpdateProfile(r.Context(), p, up)
	if err != nil {
		s.formFailed(w, r, err, "profile", wrongPassword(err, "password"), func() (*view, error) {
			return s.profileView(r, p, d)
		})
		return
	}
	s.keepSession(w, session)
	redirect(w, r, "/profile?done=profile-saved")
}

func (s *server) changePassword(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	next := r.PostFormValue("new_password")
	var session *auth.Session
	err := errPasswordsDiffer
	if next == r.PostFormValue("confirm_password") {
		session, err = s.m.ChangePassword(r.Context(), p, r.PostFormValue("current_password"), next)
	}
	if err != nil {
		s.formFailed(w, r, err, "profile", wrongPassword(err, "current_password"), func() (*view, error) {
			return s.profileView(r, p, &profileData{Name: p.User().Name, Email: p.User().Email})
		})
		return
	}
	s.keepSession(w, session)
	redirect(w, r, "/profile?done=password-changed")
}

// keepSession hands the browser the session that replaced its own: after
// the password is proven again or a factor bound, usher issues a new
// session token and ends the old one (OWASP ASVS 5.0 V7.2.4), so without
// the new cookie the user would be logged out. nil: the session goes on.
func (s *server) keepSession(w http.ResponseWriter, session *auth.Session) {
	if session != nil {
		s.m.SetSessionCookie(w, session)
	}
}

// errPasswordsDiffer is the host's own validation error; describe knows it.
var errPasswordsDiffer = errors.New("webapp: the new passwords differ")

func (s *server) uploadAvatar(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	err := s.readAndSetAvatar(r, p)
	if err != nil {
		s.formFailed(w, r, err, "profile", nil, func() (*view, error) {
			return s.profileView(r, p, &profileData{Name: p.User().Name, Email: p.User().Email})
		})
		return
	}
	redirect(w, r, "/profile?done=avatar-saved")
}

// readAndSetAvatar reads the multipart upload (the body is already capped
// a little above auth.MaxAvatarBytes) and hands it to usher, which checks
// the format and size and re-encodes the image.
func (s *server) readAndSetAvatar(r *http.Request, p *auth.Principal) error {
	// What is wrong before usher sees the image is wrong with the same
	// field, in usher's terms, so describe places it alike.
	if err := r.ParseMultipartForm(auth.MaxAvatarBytes + maxFormBytes); err != nil {
		var tooBig *http.MaxBytesError
		if errors.As(err, &tooBig) {
			return &auth.FieldError{Field: auth.FieldImage, Err: auth.ErrImageTooLarge}
		}
		return &auth.FieldError{Field: auth.FieldImage, Err: auth.ErrInvalidImage}
	}
	defer r.MultipartForm.RemoveAll()
	f, _, err := r.FormFile("avatar")
	if err != nil {
		return &auth.FieldError{Field: auth.FieldImage, Err: auth.ErrInvalidImage}
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, auth.MaxAvatarBytes+1))
	if err != nil {
		return err
	}
	return s.m.SetAvatar(r.Context(), p, data)
}

func (s *server) removeAvatar(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if err := s.m.RemoveAvatar(r.Context(), p); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/profile?done=avatar-removed")
}

// avatar serves a user's avatar to whom usher allows to see it: the user,
// or an actor with users:read (auth.Manager.UserAvatar checks, and audits
// a refusal: 403, whether the user exists or not). usher re-encoded it on
// upload, so its content type is image/jpeg or image/png; anything else
// in the store is not served as an image. The response is private (it is
// personal data, and the next user of a shared browser must not get it
// from a cache) and revalidated on every use, cheaply through its ETag,
// so a new avatar shows at once.
func (s *server) avatar(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	data, contentType, err := s.m.UserAvatar(r.Context(), p, user.ID(r.PathValue("id")))
	if errors.Is(err, user.ErrNoAvatar) || errors.Is(err, user.ErrNotFound) {
		http.NotFound(w, r)
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	switch contentType {
	case "image/jpeg", "image/png":
	default:
		s.serverError(w, r, fmt.Errorf("avatar of content type %q", contentType))
		return
	}
	sum := sha256.Sum256(data)
	h := w.Header()
	h.Set("Content-Type", contentType)
	h.Set("Cache-Control", "private, no-cache")
	h.Set("ETag", `"`+hex.EncodeToString(sum[:16])+`"`)
	h.Set("X-Content-Type-Options", "nosniff") // also set for every response (secure)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(data))
}

// twoFactorState is what the pages say about the actor's second factor.
type twoFactorState struct {
	Enrolled  bool
	Pending   bool // enrollment begun and not yet confirmed
	Remaining int  // unused recovery codes
	Low       bool // few recovery codes left
	Required  bool // the group requires a second factor
	Passkeys  int  // passkeys count as a second factor too
}

// twoFactor reads the actor's second-factor status.
func (s *server) twoFactor(r *http.Request, p *auth.Principal) (twoFactorState, error) {
	tf, err := s.m.TwoFactorStatus(r.Context(), p)
	if err != nil {
		return twoFactorState{}, err
	}
	st := twoFactorState{Required: p.Group().RequireTwoFactor, Enrolled: tf.Enrolled, Pending: tf.Pending, Passkeys: tf.Passkeys}
	if st.Enrolled {
		st.Remaining = tf.RecoveryCodesLeft
		st.Low = st.Remaining <= lowRecoveryCodes
	}
	return st, nil
}

type securityData struct {
	TwoFactor twoFactorState
	Passkeys  passkeysState
	Sessions  []auth.Session
	Current   string // the ID of this request's session
	SSO       ssoState
}

// passkeysState is what the security page shows of the actor's passkeys.
type passkeysState struct {
	On    bool // the server has passkeys on
	Fresh bool // the session is fresh: adding or deleting needs no password
	List  []passkey.Credential
}

func (s *server) securityView(r *http.Request, p *auth.Principal) (*view, error) {
	tf, err := s.twoFactor(r, p)
	if err != nil {
		return nil, err
	}
	sessions, err := s.m.Sessions(r.Context(), p)
	if err != nil {
		return nil, err
	}
	pk := passkeysState{On: s.passkeys, Fresh: s.m.Fresh(p)}
	if pk.On {
		if pk.List, err = s.m.Passkeys(r.Context(), p); err != nil {
			return nil, err
		}
	}
	sso, err := s.ssoSecurity(r.Context(), p)
	if err != nil {
		return nil, err
	}
	return &view{Title: "Security", Data: &securityData{TwoFactor: tf, Passkeys: pk, Sessions: sessions, Current: p.Session().ID, SSO: sso}}, nil
}

func (s *server) securityPage(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	v, err := s.securityView(r, p)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	s.render(w, r, http.StatusOK, "security", v)
}

// securityFailed shows the security page again with err next to field.
func (s *server) securityFailed(w http.ResponseWriter, r *http.Request, p *auth.Principal, err error, field string) {
	s.formFailed(w, r, err, "security", func(prob problem) problem {
		switch {
		case errors.Is(err, auth.ErrInvalidCredentials) && field == "code":
			return problem{http.StatusUnauthorized, field, "That code is not right. Enter the current code from your app."}
		case errors.Is(err, auth.ErrReauthRequired):
			return problem{http.StatusUnauthorized, field, "Enter your current password (or log in again) to continue."}
		}
		return wrongPassword(err, field)(prob)
	}, func() (*view, error) { return s.securityView(r, p) })
}

type enrollData struct {
	QR     template.URL // a data: URL of the PNG; html/template would refuse a plain string here
	Secret string       // grouped in fours for typing
}

// beginTOTP shows the QR code and the secret, this once.
func (s *server) beginTOTP(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	enr, err := s.m.BeginTOTP(r.Context(), p, r.PostFormValue("password"))
	if errors.Is(err, totp.ErrAlreadyEnrolled) {
		redirect(w, r, "/profile/security?done=2fa-enrolled")
		return
	}
	if err != nil {
		s.securityFailed(w, r, p, err, "password")
		return
	}
	s.render(w, r, http.StatusOK, "totp_enroll", &view{Title: "Set up two-factor authentication", Data: &enrollData{
		QR:     template.URL("data:image/png;base64," + base64.StdEncoding.EncodeToString(enr.QR)),
		Secret: groupsOf(enr.Secret, 4),
	}})
}

func groupsOf(s string, n int) string {
	var b strings.Builder
	for i := 0; i < len(s); i += n {
		if i > 0 {
			b.WriteByte(' ')
		}
		b.WriteString(s[i:min(i+n, len(s))])
	}
	return b.String()
}

type codesData struct {
	Codes []string
	First bool // shown after enrolling rather than after regenerating
}

func (s *server) confirmTOTP(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	codes, session, err := s.m.ConfirmTOTP(r.Context(), p, r.PostFormValue("code"))
	if err != nil {
		s.securityFailed(w, r, p, err, "code")
		return
	}
	s.keepSession(w, session)
	s.render(w, r, http.StatusOK, "recovery_codes", &view{Title: "Recovery codes", Data: &codesData{Codes: codes, First: true}})
}

func (s *server) regenerateCodes(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	codes, session, err := s.m.RegenerateRecoveryCodes(r.Context(), p, r.PostFormValue("password"))
	if err != nil {
		s.securityFailed(w, r, p, err, "regen_password")
		return
	}
	s.keepSession(w, session)
	s.render(w, r, http.StatusOK, "recovery_codes", &view{Title: "Recovery codes", Data: &codesData{Codes: codes}})
}

func (s *server) disableTOTP(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	session, err := s.m.DisableTOTP(r.Context(), p, r.PostFormValue("password"))
	if err != nil {
		s.securityFailed(w, r, p, err, "disable_password")
		return
	}
	s.keepSession(w, session)
	redirect(w, r, "/profile/security?done=2fa-disabled")
}

func (s *server) revokeSession(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	id := r.PathValue("id")
	if err := s.m.RevokeSession(r.Context(), p, id); err != nil {
		s.fail(w, r, err)
		return
	}
	if id == p.Session().ID {
		s.m.ClearSessionCookie(w)
		redirect(w, r, "/login?done=logged-out")
		return
	}
	redirect(w, r, "/profile/security?done=session-revoked")
}

func (s *server) revokeOtherSessions(w http.ResponseWriter, r *http.Request, p *auth.Principal) {
	if _, err := s.m.RevokeOtherSessions(r.Context(), p); err != nil {
		s.fail(w, r, err)
		return
	}
	redirect(w, r, "/profile/security?done=sessions-revoked")
}
