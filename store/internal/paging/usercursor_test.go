package paging_test

import (
	"encoding/base64"
	"errors"
	"strings"
	"testing"

	"github.com/usher-go/usher/store/internal/paging"
	"github.com/usher-go/usher/user"
)

func TestUserCursorRoundTrip(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		c    paging.UserCursor
		q    user.Query // Sort and Descending of the page that follows
	}{
		{"created ascending", paging.UserCursor{Sort: user.SortCreated, Key: "1700000000000000000", ID: "u1"},
			user.Query{Sort: user.SortCreated}},
		{"created is the default sort", paging.UserCursor{Sort: user.SortCreated, Key: "1", ID: "u1"},
			user.Query{}},
		{"created descending", paging.UserCursor{Sort: user.SortCreated, Desc: true, Key: "2", ID: "u2"},
			user.Query{Sort: user.SortCreated, Descending: true}},
		{"email", paging.UserCursor{Sort: user.SortEmail, Key: "a+b@x.com", ID: "01HZX"},
			user.Query{Sort: user.SortEmail}},
		{"name descending with UTF-8 and quotes", paging.UserCursor{Sort: user.SortName, Desc: true, Key: `zoë "z" \ 山田`, ID: "u3"},
			user.Query{Sort: user.SortName, Descending: true}},
		{"last login of a user who never logged in", paging.UserCursor{Sort: user.SortLastLogin, Key: "0", ID: "u4"},
			user.Query{Sort: user.SortLastLogin}},
		{"empty key", paging.UserCursor{Sort: user.SortName, Key: "", ID: "u5"},
			user.Query{Sort: user.SortName}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			q := tt.q
			q.Cursor = paging.EncodeUserCursor(tt.c)
			if strings.ContainsAny(q.Cursor, "+/=\n") {
				t.Errorf("EncodeUserCursor = %q, want URL-safe base64 without padding", q.Cursor)
			}
			got, err := paging.DecodeUserCursor(q)
			if err != nil {
				t.Fatalf("DecodeUserCursor(EncodeUserCursor(%+v)) = %v (cursor of %d bytes)", tt.c, err, len(q.Cursor))
			}
			if got != tt.c {
				t.Fatalf("round trip: got %+v, want %+v", got, tt.c)
			}
		})
	}
}

// TestUserCursorHoldsLongestKeys encodes the longest sort keys valid users can
// have, made of the characters JSON escapes, and expects each to decode: a
// store must be able to page past any user.
func TestUserCursorHoldsLongestKeys(t *testing.T) {
	t.Parallel()
	const id = user.ID("01J00000000000000000000000")
	tests := []struct {
		name string
		sort user.Sort
		key  string // fed to the normalizer of its sort
	}{
		{"email of ampersands", user.SortEmail, strings.Repeat("&", 242) + "@example.com"},
		{"email of ampersands and apostrophes", user.SortEmail, strings.Repeat("&'", 121) + "@example.com"},
		{"name of angle brackets", user.SortName, strings.Repeat("<>", 100)},
		{"name of ampersands", user.SortName, strings.Repeat("&", 200)},
		{"name of quotes", user.SortName, strings.Repeat(`"`, 200)},
		{"name of backslashes", user.SortName, strings.Repeat(`\`, 200)},
		{"name of line separators", user.SortName, "a" + strings.Repeat("\u2028", 66) + "a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			normalize := user.NormalizeName
			if tt.sort == user.SortEmail {
				normalize = user.NormalizeEmail
			}
			key, err := normalize(tt.key)
			if err != nil || key != tt.key {
				t.Fatalf("normalizing the key: %q, %v; want it accepted unchanged", key, err)
			}
			for _, desc := range []bool{false, true} {
				c := paging.UserCursor{Sort: tt.sort, Desc: desc, Key: key, ID: id}
				q := user.Query{Sort: tt.sort, Descending: desc, Cursor: paging.EncodeUserCursor(c)}
				got, err := paging.DecodeUserCursor(q)
				if err != nil {
					t.Fatalf("DecodeUserCursor(EncodeUserCursor(%+v)) = %v (cursor of %d bytes)", c, err, len(q.Cursor))
				}
				if got != c {
					t.Fatalf("round trip: got %+v, want %+v", got, c)
				}
			}
		})
	}
}

// cursorOfLength returns an encoded created-order cursor of exactly n bytes;
// n must be a multiple of 4.
func cursorOfLength(t *testing.T, n int) string {
	t.Helper()
	overhead := len(`{"s":"created","k":"","i":"u1"}`)
	c := paging.EncodeUserCursor(paging.UserCursor{Sort: user.SortCreated, Key: strings.Repeat("k", n/4*3-overhead), ID: "u1"})
	if len(c) != n {
		t.Fatalf("cursorOfLength(%d) made %d bytes", n, len(c))
	}
	return c
}

func TestDecodeUserCursorLength(t *testing.T) {
	t.Parallel()
	q := user.Query{Cursor: cursorOfLength(t, 1024)}
	if _, err := paging.DecodeUserCursor(q); err != nil {
		t.Errorf("cursor of 1024 bytes: %v, want accepted", err)
	}
	q.Cursor = cursorOfLength(t, 1028)
	if _, err := paging.DecodeUserCursor(q); !errors.Is(err, user.ErrInvalidCursor) {
		t.Errorf("cursor of 1028 bytes: %v, want ErrInvalidCursor", err)
	}
}

func TestDecodeUserCursorRefuses(t *testing.T) {
	t.Parallel()
	b64 := base64.RawURLEncoding.EncodeToString
	valid := paging.EncodeUserCursor(paging.UserCursor{Sort: user.SortEmail, Key: "a@x.com", ID: "u1"})
	tests := []struct {
		name string
		q    user.Query
	}{
		{"empty", user.Query{Sort: user.SortEmail}},
		{"not base64", user.Query{Sort: user.SortEmail, Cursor: "!!!not base64!!!"}},
		{"padded standard base64", user.Query{Sort: user.SortEmail, Cursor: base64.StdEncoding.EncodeToString([]byte(`{"s":"email","k":"a","i":"u1"}`)) + "="}},
		{"base64 of text", user.Query{Sort: user.SortEmail, Cursor: b64([]byte("hello"))}},
		{"base64 of a JSON array", user.Query{Sort: user.SortEmail, Cursor: b64([]byte(`["email","a","u1"]`))}},
		{"base64 of null", user.Query{Sort: user.SortEmail, Cursor: b64([]byte(`null`))}},
		{"wrong field types", user.Query{Sort: user.SortEmail, Cursor: b64([]byte(`{"s":1,"k":2,"i":3}`))}},
		{"truncated", user.Query{Sort: user.SortEmail, Cursor: valid[:len(valid)-3]}},
		{"without ID", user.Query{Sort: user.SortEmail, Cursor: paging.EncodeUserCursor(paging.UserCursor{Sort: user.SortEmail, Key: "a@x.com"})}},
		{"without sort", user.Query{Cursor: paging.EncodeUserCursor(paging.UserCursor{Key: "1", ID: "u1"})}},
		{"for another sort", user.Query{Sort: user.SortName, Cursor: valid}},
		{"for the default sort", user.Query{Cursor: valid}},
		{"ascending cursor, descending query", user.Query{Sort: user.SortEmail, Descending: true, Cursor: valid}},
		{"descending cursor, ascending query", user.Query{Sort: user.SortEmail,
			Cursor: paging.EncodeUserCursor(paging.UserCursor{Sort: user.SortEmail, Desc: true, Key: "a@x.com", ID: "u1"})}},
		{"over 1 KB", user.Query{Sort: user.SortEmail,
			Cursor: paging.EncodeUserCursor(paging.UserCursor{Sort: user.SortEmail, Key: strings.Repeat("a", 1024), ID: "u1"})}},
		{"100 KB of base64 letters", user.Query{Sort: user.SortEmail, Cursor: strings.Repeat("A", 100<<10)}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			c, err := paging.DecodeUserCursor(tt.q)
			if !errors.Is(err, user.ErrInvalidCursor) {
				t.Fatalf("DecodeUserCursor(%+v) = %+v, %v; want an error wrapping ErrInvalidCursor", tt.q, c, err)
			}
		})
	}
}

// TestDecodeUserCursorHTMLEscaped reads a cursor whose JSON escapes '&', '<' and
// '>', as the encoder once wrote them: pages open in a browser still work.
func TestDecodeUserCursorHTMLEscaped(t *testing.T) {
	t.Parallel()
	want := paging.UserCursor{Sort: user.SortName, Key: "a&b <c>", ID: "u1"}
	cursor := base64.RawURLEncoding.EncodeToString([]byte(`{"s":"name","k":"a\u0026b \u003cc\u003e","i":"u1"}`))
	got, err := paging.DecodeUserCursor(user.Query{Sort: user.SortName, Cursor: cursor})
	if err != nil || got != want {
		t.Fatalf("DecodeUserCursor = %+v, %v; want %+v", got, err, want)
	}
}
