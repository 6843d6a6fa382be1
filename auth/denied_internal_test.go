package auth

import (
	"errors"
	"testing"
)

// Every reason has its own sentence; an unknown one says something
// generic rather than nothing.
func TestDeniedMessageEveryReason(t *testing.T) {
	seen := map[string]DenyReason{}
	for r := DenyUnauthenticated; r <= DenyConfigured; r++ {
		msg := (&DeniedError{Reason: r, Permission: "backups:run", Label: "Run backups"}).Message()
		if prev, dup := seen[msg]; dup {
			t.Errorf("reasons %d and %d say the same: %q", prev, r, msg)
		}
		seen[msg] = r
	}
	if msg := (&DeniedError{}).Message(); msg != "You do not have permission for this." {
		t.Errorf("zero reason says %q", msg)
	}
}

// The refusals of what a principal owes keep the texts of the sentinels
// they match.
func TestOwedErrorTexts(t *testing.T) {
	for _, tc := range []struct {
		reason DenyReason
		want   error
	}{
		{DenyPasswordChangeRequired, ErrPasswordChangeRequired},
		{DenyEnrollmentRequired, ErrEnrollmentRequired},
	} {
		err := owedError(tc.reason)
		if err.Error() != tc.want.Error() || !errors.Is(err, tc.want) {
			t.Errorf("%d: %q", tc.reason, err)
		}
	}
	if err := lastAdmin(); err.Error() != ErrLastAdmin.Error() {
		t.Errorf("last admin: %q", err)
	}
}
