package auth

import (
	"context"
	"crypto/rand"
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/user"
	"golang.org/x/crypto/bcrypt"
)

func testHasher(t *testing.T) *hasher {
	t.Helper()
	return hasherFor(t, []byte("0123456789abcdef0123456789abcdef"))
}

func hasherFor(t *testing.T, secret []byte, previous ...[]byte) *hasher {
	t.Helper()
	keys, err := newKeyring(secret, previous)
	if err != nil {
		t.Fatal(err)
	}
	h, err := newHasher(keys, 4, rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// Passwords verify in full, past bcrypt's 72 bytes: two 100-byte passwords
// sharing their first 72 bytes must not verify against each other.
func TestPrehashUsesWholePassword(t *testing.T) {
	h := testHasher(t)
	prefix := strings.Repeat("a", 72)
	a, b := prefix+strings.Repeat("b", 28), prefix+strings.Repeat("c", 28)
	ha, err := h.hash("u1", a)
	if err != nil {
		t.Fatal(err)
	}
	if ok, _ := h.verify("u1", ha, a); !ok {
		t.Fatal("password does not verify against its own hash")
	}
	if ok, _ := h.verify("u1", ha, b); ok {
		t.Fatal("password sharing 72 bytes verifies: the pre-hash is missing")
	}
	// Control: plain bcrypt cannot tell them apart, which is why we pre-hash.
	plain, _ := bcrypt.GenerateFromPassword([]byte(a[:72]), 4)
	if bcrypt.CompareHashAndPassword(plain, []byte(b[:72])) != nil {
		t.Fatal("control failed")
	}
	for _, pw := range []string{strings.Repeat("é", 512), "пароль-пароль", "\x00\x00\x00\x00\x00\x00\x00\x00", strings.Repeat("z", MaxPasswordBytes)} {
		hp, err := h.hash("u1", pw)
		if err != nil {
			t.Fatal(err)
		}
		if ok, _ := h.verify("u1", hp, pw); !ok {
			t.Fatalf("%q does not verify", pw[:8])
		}
		if ok, _ := h.verify("u1", hp, pw[:len(pw)-1]); ok {
			t.Fatalf("%q verifies without its last byte", pw[:8])
		}
	}
}

// The pepper: the same password under another SecretKey does not verify.
func TestPrehashIsKeyed(t *testing.T) {
	h := testHasher(t)
	otherKey := []byte("another key, also thirty-two bytes long")
	other := hasherFor(t, otherKey)
	stored, _ := h.hash("u1", "correct horse")
	if ok, _ := other.verify("u1", stored, "correct horse"); ok {
		t.Fatal("hash verifies under another key")
	}
	// Rotation: with the old key among the previous ones, the hash verifies
	// and asks to be rehashed under the new key.
	rotated := hasherFor(t, otherKey, []byte("0123456789abcdef0123456789abcdef"))
	if ok, rehash := rotated.verify("u1", stored, "correct horse"); !ok || !rehash {
		t.Fatalf("after rotation: ok=%v rehash=%v", ok, rehash)
	}
	fresh, _ := rotated.hash("u1", "correct horse")
	if ok, rehash := rotated.verify("u1", fresh, "correct horse"); !ok || rehash {
		t.Fatalf("rehashed: ok=%v rehash=%v", ok, rehash)
	}
	if ok, _ := rotated.verify("u1", stored, "wrong horse"); ok {
		t.Fatal("wrong password verifies under the previous key")
	}
}

func TestVerifyRejectsGarbageHashes(t *testing.T) {
	h := testHasher(t)
	for _, stored := range []string{"", "plaintext", "$usher1$", "$usher1$$2a$04$short", "$2a$04$short", "$1$md5crypt",
		"$usher2w$", "$usher2w$$$2a$04$short", "$usher2w$x$y$$2a$04$short"} {
		if ok, rehash := h.verify("u1", stored, "anything"); ok || rehash {
			t.Fatalf("%q: ok=%v rehash=%v", stored, ok, rehash)
		}
	}
}

func TestCheckNewPassword(t *testing.T) {
	blocked := errors.New("on the breach list")
	m := &Manager{cfg: Config{MinPasswordLength: 8, PasswordChecker: func(_ context.Context, pw string, _ PasswordContext) error {
		if pw == "password1" {
			return blocked
		}
		return nil
	}}}
	cases := []struct {
		name, pw string
		want     error
	}{
		{"empty", "", ErrPasswordTooShort},
		{"seven", "1234567", ErrPasswordTooShort},
		{"seven runes, fourteen bytes", "ééééééé", ErrPasswordTooShort},
		{"eight", "12345678", nil},
		{"eight runes", "éééééééé", nil},
		{"spaces count", "a b c d ", nil},
		{"no composition rules", "aaaaaaaa", nil},
		{"max bytes", strings.Repeat("x", MaxPasswordBytes), nil},
		{"2 KB", strings.Repeat("x", 2048), ErrPasswordTooLong},
		{"invalid UTF-8", "abcdefgh\xff", ErrPasswordRejected},
		{"blocklisted", "password1", ErrPasswordRejected},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			err := m.checkNewPassword(context.Background(), tc.pw, PasswordContext{})
			if tc.want == nil && err != nil || tc.want != nil && !errors.Is(err, tc.want) {
				t.Fatalf("got %v, want %v", err, tc.want)
			}
		})
	}
}

// A password typed with a precomposed accent verifies against one typed with
// a combining accent, and full-width digits against ASCII ones.
func TestPasswordsAreNormalized(t *testing.T) {
	h := testHasher(t)
	stored, err := h.hash("u1", "caf\u00e9 au lait 12")
	if err != nil {
		t.Fatal(err)
	}
	for _, typed := range []string{"cafe\u0301 au lait 12", "caf\u00e9 au lait \uff11\uff12"} {
		if ok, _ := h.verify("u1", stored, typed); !ok {
			t.Errorf("%q does not verify against its normalized twin", typed)
		}
	}
	if ok, _ := h.verify("u1", stored, "cafe au lait 12"); ok {
		t.Error("a password without the accent verifies")
	}
}

// A hash is bound to its account: the same password's hash, moved to
// another user ID, does not verify (invariant 4).
func TestHashBoundToAccount(t *testing.T) {
	h := testHasher(t)
	stored, err := h.hash("alice", "correct horse")
	if err != nil {
		t.Fatal(err)
	}
	if ok, rehash := h.verify("alice", stored, "correct horse"); !ok || rehash {
		t.Fatalf("own account: ok=%v rehash=%v", ok, rehash)
	}
	for _, id := range []user.ID{"bob", "", "alic", "alicee"} {
		if ok, _ := h.verify(id, stored, "correct horse"); ok {
			t.Errorf("the hash of alice verifies for %q", id)
		}
	}
	// Relabelled as format 1, whose pre-hash names no account, it fails
	// too: each format has its own key.
	v1 := hashPrefixV1 + strings.TrimPrefix(stored, hashPrefix)
	if ok, _ := h.verify("bob", v1, "correct horse"); ok {
		t.Error("a format-2 hash relabelled as format 1 verifies")
	}
}

// A legacy hash (format 1, plain bcrypt) verifies only wrapped for its
// account, with the current or a previous key, and asks to be rehashed;
// unwrapped, or wrapped for another account, it fails (invariant 4).
func TestWrappedLegacyHashes(t *testing.T) {
	h := testHasher(t)
	k := h.keys.current
	b, err := bcrypt.GenerateFromPassword(prehashV1(k, "correct horse"), 4)
	if err != nil {
		t.Fatal(err)
	}
	plain, err := bcrypt.GenerateFromPassword([]byte("correct horse"), 4)
	if err != nil {
		t.Fatal(err)
	}
	for _, legacy := range []string{hashPrefixV1 + k.id + "$" + string(b), string(plain)} {
		if ok, _ := h.verify("alice", legacy, "correct horse"); ok {
			t.Errorf("%.8s: an unwrapped legacy hash verifies", legacy)
		}
		stored, ok := h.wrap("alice", legacy)
		if !ok || !strings.HasPrefix(stored, hashPrefixWrapped+k.id+"$") {
			t.Fatalf("%.8s: wrap = %.20q, %v", legacy, stored, ok)
		}
		if ok, rehash := h.verify("alice", stored, "correct horse"); !ok || !rehash {
			t.Fatalf("%.8s wrapped: ok=%v rehash=%v, want true true", legacy, ok, rehash)
		}
		if ok, _ := h.verify("alice", stored, "wrong horse"); ok {
			t.Fatalf("%.8s wrapped: a wrong password verifies", legacy)
		}
		for _, id := range []user.ID{"bob", "", "alic", "alicee"} {
			if ok, _ := h.verify(id, stored, "correct horse"); ok {
				t.Errorf("%.8s wrapped for alice verifies for %q", legacy, id)
			}
		}
		// After a rotation the previous key still opens it.
		rotated := hasherFor(t, []byte("another key, also thirty-two bytes long"), []byte("0123456789abcdef0123456789abcdef"))
		if ok, rehash := rotated.verify("alice", stored, "correct horse"); !ok || !rehash {
			t.Errorf("%.8s wrapped, after rotation: ok=%v rehash=%v", legacy, ok, rehash)
		}
		if ok, _ := hasherFor(t, []byte("another key, also thirty-two bytes long")).verify("alice", stored, "correct horse"); ok {
			t.Errorf("%.8s wrapped verifies without its key", legacy)
		}
	}
	if _, ok := h.wrap("alice", "$usher2$"+k.id+"$x"); ok {
		t.Error("a format-2 hash was wrapped")
	}
}
