package group_test

import (
	"testing"

	"github.com/usher-go/usher/group"
)

func TestGroupBuiltin(t *testing.T) {
	t.Parallel()
	for _, tt := range []struct {
		id   group.ID
		want bool
	}{
		{group.AdminID, true},
		{group.UsersID, true},
		{"operators", false},
		{"", false},
	} {
		g := &group.Group{ID: tt.id}
		if got := g.Builtin(); got != tt.want {
			t.Errorf("Group{ID: %q}.Builtin() = %v, want %v", tt.id, got, tt.want)
		}
	}
}
