package totp_test

import (
	"fmt"
	"time"

	"github.com/usher-go/usher/totp"
)

// A code an authenticator app shows, checked at a fixed time. The secret is
// RFC 6238's test key; a real one comes from [totp.NewSecret].
func Example() {
	secret := []byte("12345678901234567890")
	enrolled, err := totp.NewEnrollment(secret, "Example", "ada@example.com")
	if err != nil {
		panic(err)
	}
	fmt.Println(enrolled.Secret)
	fmt.Println(enrolled.URI)

	at := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	shown, err := totp.Code(secret, at, totp.Digits)
	if err != nil {
		panic(err)
	}
	typed := shown[:3] + " " + shown[3:] // as people type it
	code, err := totp.NormalizeCode(typed)
	if err != nil {
		panic(err)
	}
	// Accepted one step late (a slow typist, a clock a little off), not two.
	// The caller then burns the step (Store.UseStep) so the code works once.
	for _, now := range []time.Time{at, at.Add(totp.Period), at.Add(2 * totp.Period)} {
		step, ok := totp.Match(secret, code, now)
		fmt.Printf("%s at %s: ok=%v step=%d\n", code, now.Format(time.TimeOnly), ok, step)
	}
	// Output:
	// GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
	// otpauth://totp/Example:ada@example.com?algorithm=SHA1&digits=6&issuer=Example&period=30&secret=GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ
	// 638952 at 12:00:00: ok=true step=59078880
	// 638952 at 12:00:30: ok=true step=59078880
	// 638952 at 12:01:00: ok=false step=0
}

// RFC 6238 Appendix B: 8 digits at T = 59 s.
func ExampleCode() {
	code, err := totp.Code([]byte("12345678901234567890"), time.Unix(59, 0), 8)
	if err != nil {
		panic(err)
	}
	fmt.Println(code)
	// Output: 94287082
}

func ExampleNormalizeCode() {
	for _, typed := range []string{"123 456", "123-456", "12345", "12a456"} {
		code, err := totp.NormalizeCode(typed)
		fmt.Printf("%q → %q %v\n", typed, code, err)
	}
	// Output:
	// "123 456" → "123456" <nil>
	// "123-456" → "123456" <nil>
	// "12345" → "" totp: malformed code
	// "12a456" → "" totp: malformed code
}

// Recovery codes read back however they are typed: any case, dashes or
// spaces, O for 0. A mistyped symbol is caught by the check symbol before
// any store is asked.
func ExampleNormalizeRecoveryCode() {
	const shown = "NK85J-0J53F-P5JJ" // as printed by NewRecoveryCodes
	for _, typed := range []string{shown, "nk85j oj53f p5jj", "NK85J-0J53F-P5JK"} {
		canon, err := totp.NormalizeRecoveryCode(typed)
		fmt.Printf("%q → %q %v\n", typed, canon, err)
	}
	// Output:
	// "NK85J-0J53F-P5JJ" → "NK85J0J53FP5JJ" <nil>
	// "nk85j oj53f p5jj" → "NK85J0J53FP5JJ" <nil>
	// "NK85J-0J53F-P5JK" → "" totp: malformed code
}
