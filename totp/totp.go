// Package totp implements time-based one-time passwords (RFC 6238) for
// usher's second factor: secret generation, the otpauth:// URI and QR code
// that authenticator apps read, code checking with a replay guard, and
// single-use recovery codes. Code arithmetic is github.com/pquerna/otp's;
// this package adds the policy around it.
//
// Parameters are the ones every authenticator app reads: SHA-1, 6 digits,
// 30-second steps, and a 160-bit secret (RFC 4226 section 4 recommends
// 160). A code is accepted from the previous, current and next step (RFC
// 6238 section 5.2, skew 1), compared in constant time. The caller burns
// the matched step ([Store.UseStep]) so a code works once.
//
// Secrets reach the [Store] sealed (package auth seals them with
// AES-256-GCM); recovery codes reach it only as HMACs.
package totp

import (
	"bytes"
	"crypto/subtle"
	"encoding/base32"
	"errors"
	"fmt"
	"image/png"
	"io"
	"strings"
	"time"

	"github.com/pquerna/otp"
	ptotp "github.com/pquerna/otp/totp"
)

// Parameters of every usher TOTP credential.
const (
	Digits      = 6
	Period      = 30 * time.Second
	Skew        = 1  // steps accepted either side of the current one
	SecretBytes = 20 // 160 bits
	qrSize      = 256
)

// Errors.
var (
	// ErrMalformedCode: the input is not a 6-digit code (or not a
	// recovery code of the right length and checksum). Nothing was looked
	// up.
	ErrMalformedCode = errors.New("totp: malformed code")
	// ErrNotEnrolled: the user has no TOTP credential (or none confirmed).
	ErrNotEnrolled = errors.New("totp: not enrolled")
	// ErrAlreadyEnrolled: a confirmed credential exists; disable it first.
	ErrAlreadyEnrolled = errors.New("totp: already enrolled")
)

var b32 = base32.StdEncoding.WithPadding(base32.NoPadding)

// Enrollment is what a user needs to add the credential to an
// authenticator app. Show it once; it is not stored in the clear.
type Enrollment struct {
	// Secret is the base32 secret, for typing in by hand.
	Secret string
	// URI is the otpauth:// key URI apps read from the QR code.
	URI string
	// QR is a PNG of URI as a QR code.
	QR []byte
}

// NewSecret reads a fresh 160-bit secret from rnd (crypto/rand in
// production).
func NewSecret(rnd io.Reader) ([]byte, error) {
	s := make([]byte, SecretBytes)
	if _, err := io.ReadFull(rnd, s); err != nil {
		return nil, fmt.Errorf("totp: reading randomness: %w", err)
	}
	return s, nil
}

// NewEnrollment presents secret for issuer and account (the user's email).
func NewEnrollment(secret []byte, issuer, account string) (*Enrollment, error) {
	if issuer == "" {
		issuer = "usher"
	}
	key, err := ptotp.Generate(ptotp.GenerateOpts{
		Issuer: issuer, AccountName: account, Secret: secret,
		Period: uint(Period / time.Second), Digits: otp.DigitsSix, Algorithm: otp.AlgorithmSHA1,
	})
	if err != nil {
		return nil, fmt.Errorf("totp: %w", err)
	}
	img, err := key.Image(qrSize, qrSize)
	if err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		return nil, fmt.Errorf("totp: QR code: %w", err)
	}
	return &Enrollment{Secret: key.Secret(), URI: key.URL(), QR: buf.Bytes()}, nil
}

// Step returns the RFC 6238 time step of t.
func Step(t time.Time) int64 { return t.Unix() / int64(Period/time.Second) }

// Code returns the code of secret for the step containing t, with the given
// number of digits (6 for usher; 8 reproduces RFC 6238 Appendix B).
func Code(secret []byte, t time.Time, digits int) (string, error) {
	return ptotp.GenerateCodeCustom(b32.EncodeToString(secret), t, ptotp.ValidateOpts{
		Period: uint(Period / time.Second), Digits: otp.Digits(digits), Algorithm: otp.AlgorithmSHA1,
	})
}

// NormalizeCode accepts what people type: spaces anywhere and one dash
// ("123 456", "123-456") are dropped; the rest must be exactly six ASCII
// digits, else [ErrMalformedCode].
func NormalizeCode(s string) (string, error) {
	if len(s) > 32 {
		return "", ErrMalformedCode
	}
	s = strings.ReplaceAll(s, " ", "")
	if strings.Count(s, "-") > 1 {
		return "", ErrMalformedCode
	}
	s = strings.Replace(s, "-", "", 1)
	if len(s) != Digits {
		return "", ErrMalformedCode
	}
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return "", ErrMalformedCode
		}
	}
	return s, nil
}

// Match checks a normalized code against the steps around now and returns
// the step it belongs to. It compares every candidate in constant time and
// always computes all of them, so timing does not tell which step matched.
func Match(secret []byte, code string, now time.Time) (step int64, ok bool) {
	cur := Step(now)
	for d := int64(-Skew); d <= Skew; d++ {
		s := cur + d
		want, err := Code(secret, time.Unix(s*int64(Period/time.Second), 0), Digits)
		if err != nil {
			continue
		}
		if subtle.ConstantTimeCompare([]byte(want), []byte(code)) == 1 && !ok {
			step, ok = s, true
		}
	}
	return step, ok
}
