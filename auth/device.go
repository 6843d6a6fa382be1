package auth

import (
	"context"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/base64"
	"encoding/binary"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// A device token marks a browser or app that has logged in to one account
// before: OWASP's "device cookies", the answer to lockout by strangers. It
// is "d1." and the base64url of
//
//	generation (8 bytes) | issued, Unix seconds (8) | device ID (12) | user ID | HMAC-SHA-256 (32)
//
// signed with a key derived from Config.SecretKey (or a previous key). No
// row is kept per device: the user's device generation
// ([ThrottleStore.DeviceGeneration]) is the only state, and bumping it
// ([Manager.RevokeDevices]) ends the trust of every device at once.
const (
	devicePrefix      = "d1."
	deviceIDBytes     = 12
	deviceFixed       = 8 + 8 + deviceIDBytes
	deviceMACBytes    = sha256.Size
	maxDeviceTokenLen = 512 // a longer Client.DeviceToken is no token
)

// device is a verified device token's content.
type device struct {
	gen    int64
	issued time.Time
	id     string // hex, part of the throttle key
	raw    []byte // the device ID bytes, kept when the token is renewed
	user   user.ID
}

// deviceKeys returns the device-token keys, current first.
func deviceKeys(cfg Config) ([][]byte, error) {
	var keys [][]byte
	for _, s := range append([][]byte{cfg.SecretKey}, cfg.PreviousSecretKeys...) {
		k, err := deviceKey(s)
		if err != nil {
			return nil, err
		}
		keys = append(keys, k)
	}
	return keys, nil
}

func deviceMAC(key, payload []byte) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(payload)
	return mac.Sum(nil)
}

// newDeviceToken signs a token for u's device raw (nil: a new device).
func (m *Manager) newDeviceToken(u user.ID, gen int64, raw []byte) (string, error) {
	if raw == nil {
		raw = make([]byte, deviceIDBytes)
		if _, err := io.ReadFull(m.rand, raw); err != nil {
			return "", fmt.Errorf("auth: reading randomness: %w", err)
		}
	}
	p := make([]byte, 16, deviceFixed+len(u)+deviceMACBytes)
	binary.BigEndian.PutUint64(p[0:], uint64(gen))
	binary.BigEndian.PutUint64(p[8:], uint64(m.clock().Unix()))
	p = append(append(p, raw...), u...)
	p = append(p, deviceMAC(m.deviceKeys[0], p)...)
	return devicePrefix + base64.RawURLEncoding.EncodeToString(p), nil
}

// parseDevice checks a token's form, signature and age; it reads no store.
// Anything else is nil: a bad token is no token, never an error.
func (m *Manager) parseDevice(token string) *device {
	b64, ok := strings.CutPrefix(token, devicePrefix)
	if !ok || len(token) > maxDeviceTokenLen {
		return nil
	}
	p, err := base64.RawURLEncoding.Strict().DecodeString(b64)
	if err != nil || len(p) <= deviceFixed+deviceMACBytes {
		return nil
	}
	body, sig := p[:len(p)-deviceMACBytes], p[len(p)-deviceMACBytes:]
	valid := false
	for _, k := range m.deviceKeys {
		valid = hmac.Equal(sig, deviceMAC(k, body)) || valid
	}
	if !valid {
		return nil
	}
	d := &device{
		gen:    int64(binary.BigEndian.Uint64(body[0:])),
		issued: time.Unix(int64(binary.BigEndian.Uint64(body[8:])), 0),
		raw:    body[16:deviceFixed],
		user:   user.ID(body[deviceFixed:]),
	}
	if m.clock().Sub(d.issued) > m.cfg.Throttle.DeviceTrust {
		return nil
	}
	d.id = fmt.Sprintf("%x", d.raw)
	return d
}

// trustedFor returns d if it is a device of u whose trust was not revoked
// since it was issued, and nil otherwise.
func (m *Manager) trustedFor(ctx context.Context, st Store, d *device, u *user.User) (*device, error) {
	if d == nil || u == nil || d.user != u.ID {
		return nil, nil
	}
	gen, err := st.Throttle().DeviceGeneration(ctx, u.ID)
	if err != nil {
		return nil, fmt.Errorf("auth: reading device generation: %w", err)
	}
	if gen != d.gen {
		return nil, nil
	}
	return d, nil
}

// deviceToken is the token a successful password check hands out: d
// renewed when the client presented a trusted one, else a new device.
func (m *Manager) deviceToken(ctx context.Context, st Store, u *user.User, d *device) (string, error) {
	if d != nil {
		return m.newDeviceToken(u.ID, d.gen, d.raw)
	}
	gen, err := st.Throttle().DeviceGeneration(ctx, u.ID)
	if err != nil {
		return "", fmt.Errorf("auth: reading device generation: %w", err)
	}
	return m.newDeviceToken(u.ID, gen, nil)
}

// RevokeDevices ends the trust of every device of a user (the device
// tokens of [LoginResult]): each is an untrusted client at its next login
// and gets a new token only by logging in again. A user may revoke their
// own devices; anyone else's needs users:write and every permission of the
// user's group. It is recorded as [audit.DevicesRevoked].
// [Manager.ResetPassword], [Manager.ChangePassword] and
// [Manager.ResetTwoFactor] revoke the devices as well.
func (m *Manager) RevokeDevices(ctx context.Context, actor *Principal, id user.ID) error {
	return m.change(ctx, actor, "", audit.DevicesRevoked, userTarget(id), func(tx Store, a *Principal, e *audit.Event) error {
		if a.user.ID != id {
			if !a.Can(group.UsersWrite) {
				return m.needs(group.UsersWrite)
			}
			if err := m.mayManageUser(ctx, tx, a, id); err != nil {
				return err
			}
		}
		if _, err := tx.Users().Get(ctx, id); err != nil {
			return err
		}
		return revokeDevices(ctx, tx, id, e)
	})
}

// revokeDevices ends the trust of every device of id inside tx and says so
// in e. A credential reset calls it too: a device cookie stolen before the
// owner's password or second factor was reset must not keep a throttling
// budget of its own after (OWASP ASVS 5.0 V6.3.1).
func revokeDevices(ctx context.Context, tx Store, id user.ID, e *audit.Event) error {
	if _, err := tx.Throttle().RevokeDevices(ctx, id); err != nil {
		return fmt.Errorf("auth: revoking devices: %w", err)
	}
	e.Details = withDetail(e.Details, audit.DetailDevicesRevoked, true)
	return nil
}
