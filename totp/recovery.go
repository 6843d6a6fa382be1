package totp

import (
	"crypto/hmac"
	"crypto/sha256"
	"fmt"
	"io"
	"strings"
)

// Recovery codes: RecoveryCodes of them, each 13 random symbols of
// Crockford's base32 (65 bits from crypto/rand, far above the 20-bit floor
// NIST SP 800-63B 5.1.2.1 sets for look-up secrets, so an offline guess
// against a leaked hash is hopeless even without the HMAC key) plus one check
// symbol, printed as XXXXX-XXXXX-XXXX. The alphabet leaves out I, L, O and U; typed input
// is read case-insensitively, with or without dashes and spaces, and O, I
// and L are read as 0, 1 and 1. The check symbol (Luhn mod 32) catches any
// single mistyped symbol and most swaps before the store is asked.
const (
	RecoveryCodes   = 10
	recoveryRandom  = 13
	recoveryLen     = recoveryRandom + 1
	crockford       = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	recoveryGroupsA = 5
	recoveryGroupsB = 10
)

// NewRecoveryCodes returns RecoveryCodes fresh codes, formatted for
// display.
func NewRecoveryCodes(rnd io.Reader) ([]string, error) {
	codes := make([]string, RecoveryCodes)
	buf := make([]byte, recoveryRandom)
	for i := range codes {
		if _, err := io.ReadFull(rnd, buf); err != nil {
			return nil, fmt.Errorf("totp: reading randomness: %w", err)
		}
		sym := make([]byte, recoveryRandom)
		for j, b := range buf {
			sym[j] = crockford[b&31] // 256 is a multiple of 32: no bias
		}
		canon := string(sym) + string(crockford[luhn32(sym)])
		codes[i] = canon[:recoveryGroupsA] + "-" + canon[recoveryGroupsA:recoveryGroupsB] + "-" + canon[recoveryGroupsB:]
	}
	return codes, nil
}

// NormalizeRecoveryCode returns the canonical 14-symbol form of typed
// input, or [ErrMalformedCode] when its length, alphabet or check symbol is
// wrong.
func NormalizeRecoveryCode(s string) (string, error) {
	if len(s) > 64 {
		return "", ErrMalformedCode
	}
	out := make([]byte, 0, recoveryLen)
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == '-' || c == ' ':
			continue
		case 'a' <= c && c <= 'z':
			c -= 'a' - 'A'
		}
		switch c {
		case 'O':
			c = '0'
		case 'I', 'L':
			c = '1'
		}
		if strings.IndexByte(crockford, c) < 0 {
			return "", ErrMalformedCode
		}
		out = append(out, c)
	}
	if len(out) != recoveryLen || crockford[luhn32(out[:recoveryRandom])] != out[recoveryRandom] {
		return "", ErrMalformedCode
	}
	return string(out), nil
}

// HashRecoveryCode is what the store keeps of a canonical code:
// HMAC-SHA-256 under key (derived from the host's secret) over the user's
// salt and the code. Without the key a stolen database cannot be
// brute-forced.
func HashRecoveryCode(key, salt []byte, canonical string) []byte {
	mac := hmac.New(sha256.New, key)
	mac.Write(salt)
	mac.Write([]byte(canonical))
	return mac.Sum(nil)
}

// luhn32 is the Luhn mod N check symbol (N = 32) of symbols from the
// Crockford alphabet, as an index into it.
func luhn32(sym []byte) int {
	const n = 32
	factor, sum := 2, 0
	for i := len(sym) - 1; i >= 0; i-- {
		addend := factor * strings.IndexByte(crockford, sym[i])
		factor = 3 - factor
		sum += addend/n + addend%n
	}
	return (n - sum%n) % n
}
