package auth

import "testing"

// Every character a spreadsheet reads as the start of a formula is
// defused, wherever the cell came from; anything else is left alone.
func TestDefuseCell(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct{ name, in, want string }{
		{"equals", "=1+1", "'=1+1"},
		{"plus", "+1", "'+1"},
		{"minus", "-1", "'-1"},
		{"at", "@SUM(A1)", "'@SUM(A1)"},
		{"tab", "\t=1", "'\t=1"},
		{"carriage return", "\r=1", "'\r=1"},
		{"NUL", "\x00=1", "'\x00=1"},
		{"empty", "", ""},
		{"plain", "Ada Admin", "Ada Admin"},
		{"formula later", "a=1", "a=1"},
		{"apostrophe", "'quoted", "'quoted"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			if got := defuseCell(tc.in); got != tc.want {
				t.Fatalf("defuseCell(%q) = %q, want %q", tc.in, got, tc.want)
			}
		})
	}
}
