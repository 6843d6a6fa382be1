package totp_test

import (
	"bytes"
	"crypto/rand"
	"errors"
	"image/png"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/usher-go/usher/totp"
)

// RFC 6238 Appendix B, SHA-1 rows: 8-digit codes of the ASCII secret
// "12345678901234567890" at the six listed times.
func TestRFC6238AppendixB(t *testing.T) {
	secret := []byte("12345678901234567890")
	cases := []struct {
		unix int64
		want string
	}{
		{59, "94287082"},
		{1111111109, "07081804"},
		{1111111111, "14050471"},
		{1234567890, "89005924"},
		{2000000000, "69279037"},
		{20000000000, "65353130"},
	}
	for _, tc := range cases {
		t.Run(time.Unix(tc.unix, 0).UTC().Format(time.RFC3339), func(t *testing.T) {
			got, err := totp.Code(secret, time.Unix(tc.unix, 0), 8)
			if err != nil || got != tc.want {
				t.Fatalf("Code = %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

// Codes from steps -1, 0 and +1 pass; -2 and +2 fail; Match names the step.
func TestMatchWindow(t *testing.T) {
	secret, _ := totp.NewSecret(rand.Reader)
	now := time.Date(2026, 3, 1, 12, 0, 15, 0, time.UTC)
	cur := totp.Step(now)
	for _, d := range []int64{-2, -1, 0, 1, 2} {
		code, err := totp.Code(secret, now.Add(time.Duration(d)*totp.Period), totp.Digits)
		if err != nil {
			t.Fatal(err)
		}
		step, ok := totp.Match(secret, code, now)
		wantOK := d >= -1 && d <= 1
		if ok != wantOK {
			t.Fatalf("step %+d: ok=%v, want %v", d, ok, wantOK)
		}
		if ok && step != cur+d {
			t.Fatalf("step %+d: matched %d, want %d", d, step, cur+d)
		}
	}
	if _, ok := totp.Match(secret, "000000", now); ok {
		// One in a million chance per window step; a fixed secret would hide bugs.
		t.Log("000000 happened to match; not a failure of itself")
	}
	other, _ := totp.NewSecret(rand.Reader)
	code, _ := totp.Code(secret, now, totp.Digits)
	if otherCode, _ := totp.Code(other, now, totp.Digits); otherCode != code {
		if _, ok := totp.Match(other, code, now); ok {
			t.Fatal("a code of one secret matched another")
		}
	}
}

func TestNormalizeCode(t *testing.T) {
	cases := []struct {
		in, want string
	}{
		{"123456", "123456"},
		{"123 456", "123456"},
		{" 123456 ", "123456"},
		{"123-456", "123456"},
		{"1 2 3 4 5 6", "123456"},
		{"", ""},
		{"12345", ""},
		{"1234567", ""},
		{"12345a", ""},
		{"abcdef", ""},
		{"123--456", ""},
		{"12-34-56", ""},
		{"١٢٣٤٥٦", ""}, // Arabic-Indic digits
		{"１２３４５６", ""}, // full-width digits
		{"123456\x00", ""},
		{strings.Repeat("1", 1024), ""},
		{"+12345", ""},
		{"-123456", "123456"},
	}
	for _, tc := range cases {
		t.Run(tc.in, func(t *testing.T) {
			got, err := totp.NormalizeCode(tc.in)
			if tc.want == "" {
				if !errors.Is(err, totp.ErrMalformedCode) {
					t.Fatalf("got %q, %v; want ErrMalformedCode", got, err)
				}
				return
			}
			if err != nil || got != tc.want {
				t.Fatalf("got %q, %v; want %q", got, err, tc.want)
			}
		})
	}
}

func TestEnrollment(t *testing.T) {
	secret, err := totp.NewSecret(rand.Reader)
	if err != nil || len(secret) != 20 {
		t.Fatalf("secret %d bytes, %v", len(secret), err)
	}
	e, err := totp.NewEnrollment(secret, "Backup Manager", "ada@example.com")
	if err != nil {
		t.Fatal(err)
	}
	u, err := url.Parse(e.URI)
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	if u.Scheme != "otpauth" || u.Host != "totp" || u.Path != "/Backup Manager:ada@example.com" {
		t.Fatalf("URI %s", e.URI)
	}
	want := map[string]string{"secret": e.Secret, "issuer": "Backup Manager", "algorithm": "SHA1", "digits": "6", "period": "30"}
	for k, v := range want {
		if q.Get(k) != v {
			t.Fatalf("%s = %q, want %q (URI %s)", k, q.Get(k), v, e.URI)
		}
	}
	if len(e.Secret) != 32 || strings.ContainsRune(e.Secret, '=') {
		t.Fatalf("secret %q is not 32 unpadded base32 characters", e.Secret)
	}
	img, err := png.Decode(bytes.NewReader(e.QR))
	if err != nil || img.Bounds().Dx() != 256 {
		t.Fatalf("QR: %v", err)
	}
	// The app's code for the displayed secret is ours.
	now := time.Now()
	code, _ := totp.Code(secret, now, totp.Digits)
	if _, ok := totp.Match(secret, code, now); !ok {
		t.Fatal("own code does not match")
	}
}

func BenchmarkMatch(b *testing.B) {
	secret, _ := totp.NewSecret(rand.Reader)
	now := time.Now()
	code, _ := totp.Code(secret, now, totp.Digits)
	b.ReportAllocs()
	for b.Loop() {
		if _, ok := totp.Match(secret, code, now); !ok {
			b.Fatal("no match")
		}
	}
}
