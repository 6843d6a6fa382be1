package sqlite

import (
	"testing"

	"github.com/usher-go/usher/audit"
)

// TestSuccessfulLoginSkipsActionIndex (issue 12, migration 0020): a
// successful login's event writes one page fewer than another event of
// the same outcome: audit_action leaves login.succeeded out.
func TestSuccessfulLoginSkipsActionIndex(t *testing.T) {
	p := eventPages(t, selfEvent(audit.LoginSucceeded, audit.Success), selfEvent(audit.LoginChallenged, audit.Success))
	if succeeded, challenged := p[0], p[1]; succeeded != challenged-1 {
		t.Errorf("a successful login's event wrote %d pages and a challenge's %d; want one fewer", succeeded, challenged)
	}
}
