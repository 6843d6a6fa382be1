package auth_test

import (
	"bytes"
	"errors"
	"image"
	"image/color"
	"image/jpeg"
	"image/png"
	"testing"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

func ptr[T any](v T) *T { return &v }

func TestUpdateProfile(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	// "Users" holds profile:*: name and email both allowed.
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	other := e.login("bob@example.com", passwordOf("bob@example.com"))
	// The email is the login name: changing it takes the password.
	_, _, err := e.m.UpdateProfile(e.ctx, bob, auth.ProfileUpdate{Email: ptr("robert@example.com")})
	wantErr(t, err, auth.ErrReauthRequired)
	_, _, err = e.m.UpdateProfile(e.ctx, bob, auth.ProfileUpdate{Email: ptr("robert@example.com"), Password: "wrong"})
	wantErr(t, err, auth.ErrInvalidCredentials)
	u, s, err := e.m.UpdateProfile(e.ctx, bob, auth.ProfileUpdate{Name: ptr("Robert"), Email: ptr(" Robert@Example.com "), Password: passwordOf("bob@example.com")})
	if err != nil {
		t.Fatal(err)
	}
	// ... and ends the other sessions; bob goes on under the new one.
	_, err = e.m.Authenticate(e.ctx, tokenOf(other))
	wantErr(t, err, auth.ErrUnauthenticated)
	bob = e.auth(s.Token)
	if u.Name != "Robert" || u.Email != "robert@example.com" {
		t.Fatalf("got %+v", u)
	}
	ev := e.lastEvent(audit.ProfileUpdated)
	if ev.Details["before"].(map[string]any)["email"] != "bob@example.com" {
		t.Fatalf("event %+v", ev)
	}
	// A group that may change names but not email.
	namers := e.group(admin, "Namers", group.ProfileUpdateName)
	_, carol := e.user(admin, "carol@example.com", namers.ID)
	_, _, err = e.m.UpdateProfile(e.ctx, carol, auth.ProfileUpdate{Email: ptr("c2@example.com"), Password: passwordOf("carol@example.com")})
	wantErr(t, err, auth.ErrForbidden)
	if _, _, err := e.m.UpdateProfile(e.ctx, carol, auth.ProfileUpdate{Name: ptr("Caroline")}); err != nil {
		t.Fatal(err)
	}
	// Taken email.
	_, _, err = e.m.UpdateProfile(e.ctx, bob, auth.ProfileUpdate{Email: ptr(adminEmail), Password: passwordOf("bob@example.com")})
	wantErr(t, err, user.ErrEmailTaken)
}

func TestChangePassword(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	_, bob := e.user(admin, "bob@example.com", group.UsersID)
	wantErr(t, second(e.m.ChangePassword(e.ctx, bob, "wrong current", "new password 1")), auth.ErrInvalidCredentials)
	wantErr(t, second(e.m.ChangePassword(e.ctx, bob, passwordOf("bob@example.com"), "short")), auth.ErrPasswordTooShort)
	s, err := e.m.ChangePassword(e.ctx, bob, passwordOf("bob@example.com"), "new password 1")
	if err != nil {
		t.Fatal(err)
	}
	bob = e.auth(s.Token)
	_, err = e.m.Login(e.ctx, "bob@example.com", passwordOf("bob@example.com"), client)
	wantErr(t, err, auth.ErrInvalidCredentials)
	e.login("bob@example.com", "new password 1")
	// Wrong current passwords feed the throttle.
	for range 5 {
		wantErr(t, second(e.m.ChangePassword(e.ctx, bob, "guess", "whatever else")), auth.ErrInvalidCredentials)
	}
	wantErr(t, second(e.m.ChangePassword(e.ctx, bob, "new password 1", "whatever else")), auth.ErrThrottled)
	// A group without profile:update_password cannot.
	locked := e.group(admin, "Locked", group.ProfileUpdateName)
	_, l := e.user(admin, "l@example.com", locked.ID)
	wantErr(t, second(e.m.ChangePassword(e.ctx, l, passwordOf("l@example.com"), "new password 2")), auth.ErrForbidden)
}

func TestAvatar(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	img := image.NewRGBA(image.Rect(0, 0, 16, 16))
	img.Set(3, 3, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	if err := e.m.SetAvatar(e.ctx, admin, buf.Bytes()); err != nil {
		t.Fatal(err)
	}
	data, ct, err := e.m.Avatar(e.ctx, admin.User().ID)
	if err != nil || ct != "image/png" {
		t.Fatalf("Avatar: %q, %v", ct, err)
	}
	got, err := png.Decode(bytes.NewReader(data))
	if err != nil || got.Bounds().Dx() != 16 {
		t.Fatalf("stored avatar does not decode: %v", err)
	}
	wantErr(t, e.m.SetAvatar(e.ctx, admin, []byte("GIF89a but not really")), auth.ErrInvalidImage)
	wantErr(t, e.m.SetAvatar(e.ctx, admin, buf.Bytes()[:40]), auth.ErrInvalidImage)
	wantErr(t, e.m.SetAvatar(e.ctx, admin, make([]byte, auth.MaxAvatarBytes+1)), auth.ErrImageTooLarge)
	// The failed uploads left the good one alone.
	if again, _, _ := e.m.Avatar(e.ctx, admin.User().ID); !bytes.Equal(again, data) {
		t.Fatal("a refused upload replaced the avatar")
	}
	if err := e.m.RemoveAvatar(e.ctx, admin); err != nil {
		t.Fatal(err)
	}
	_, _, err = e.m.Avatar(e.ctx, admin.User().ID)
	wantErr(t, err, user.ErrNoAvatar)
}

// UserAvatar shows a user's own avatar to that user and anyone's to an
// actor with users:read; anyone else is refused, whether the user exists
// or not, and the refusal is audited.
func TestUserAvatar(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	alice, ap := e.user(admin, "alice@example.com", group.UsersID)
	_, bp := e.user(admin, "bob@example.com", group.UsersID)
	if err := e.m.SetAvatar(e.ctx, ap, tinyPNG(t)); err != nil {
		t.Fatal(err)
	}
	for name, p := range map[string]*auth.Principal{"alice herself": ap, "admin (users:read)": admin} {
		data, ct, err := e.m.UserAvatar(e.ctx, p, alice.ID)
		if err != nil || ct != "image/png" || len(data) == 0 {
			t.Errorf("%s: UserAvatar = %d bytes of %q, %v", name, len(data), ct, err)
		}
	}
	_, _, err := e.m.UserAvatar(e.ctx, bp, alice.ID)
	wantErr(t, err, auth.ErrForbidden)
	if ev := e.lastEvent(audit.AuthorizationDeny); ev.Actor.Email != "bob@example.com" || ev.Target.ID != string(alice.ID) {
		t.Errorf("denial event %+v, want bob's on alice", ev)
	}
	_, _, err = e.m.UserAvatar(e.ctx, bp, "no-such-user")
	wantErr(t, err, auth.ErrForbidden) // not ErrNotFound: bob learns nothing
	_, _, err = e.m.UserAvatar(e.ctx, nil, alice.ID)
	wantErr(t, err, auth.ErrForbidden)
	_, _, err = e.m.UserAvatar(e.ctx, bp, bp.User().ID)
	wantErr(t, err, user.ErrNoAvatar)
	_, _, err = e.m.UserAvatar(e.ctx, admin, "no-such-user")
	if !errors.Is(err, user.ErrNotFound) && !errors.Is(err, user.ErrNoAvatar) {
		t.Errorf("admin, unknown user: %v", err)
	}
}

// A photo as a phone saves it, EXIF and all, goes through SetAvatar and
// is stored upright at AvatarSize with no EXIF left.
func TestSetAvatarPhonePhoto(t *testing.T) {
	e := newEnv(t)
	admin := e.admin()
	// 4000×3000, left half dark, right half light; orientation 6 turns
	// it a quarter clockwise, so upright the top is dark, the bottom light.
	m := image.NewGray(image.Rect(0, 0, 4000, 3000))
	for y := range 3000 {
		row := m.Pix[y*m.Stride:][:4000]
		for x := range row {
			row[x] = 220
			if x < 2000 {
				row[x] = 30
			}
		}
	}
	var buf bytes.Buffer
	if err := jpeg.Encode(&buf, m, nil); err != nil {
		t.Fatal(err)
	}
	tiff := "MM\x00\x2a\x00\x00\x00\x08\x00\x01\x01\x12\x00\x03\x00\x00\x00\x01\x00\x06\x00\x00\x00\x00\x00\x00"
	app1 := append([]byte{0xff, 0xe1, 0, byte(2 + 6 + len(tiff))}, "Exif\x00\x00"+tiff...)
	photo := append(append([]byte{0xff, 0xd8}, app1...), buf.Bytes()[2:]...)
	if err := e.m.SetAvatar(e.ctx, admin, photo); err != nil {
		t.Fatal(err)
	}
	data, ct, err := e.m.UserAvatar(e.ctx, admin, admin.User().ID)
	if err != nil || ct != "image/jpeg" {
		t.Fatalf("UserAvatar: %q, %v", ct, err)
	}
	if bytes.Contains(data, []byte("Exif")) {
		t.Error("the stored avatar has an EXIF segment")
	}
	got, err := jpeg.Decode(bytes.NewReader(data))
	if err != nil {
		t.Fatal(err)
	}
	if got.Bounds().Dx() != auth.AvatarSize || got.Bounds().Dy() != auth.AvatarSize {
		t.Fatalf("stored avatar is %v, want %d square", got.Bounds(), auth.AvatarSize)
	}
	top, _, _, _ := got.At(auth.AvatarSize/2, auth.AvatarSize/8).RGBA()
	bottom, _, _, _ := got.At(auth.AvatarSize/2, auth.AvatarSize*7/8).RGBA()
	if top>>8 > 60 || bottom>>8 < 190 {
		t.Errorf("top %d, bottom %d: want dark above light (the photo upright)", top>>8, bottom>>8)
	}
}
