package sqlite

import (
	"context"
	"crypto/sha256"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

// A batch of last uses reaches every session it names, whatever bytes its
// ID holds: SQLite stores text as given, not only valid UTF-8, and JSON
// (how TouchBatch sends the batch) cannot carry other bytes as they are.
func TestTouchBatchAnyIDBytes(t *testing.T) {
	db := newTestDB(t)
	ctx := context.Background()
	g := &group.Group{ID: "g", Name: "G", CreatedAt: t0, UpdatedAt: t0}
	if err := db.Groups().Create(ctx, g); err != nil {
		t.Fatal(err)
	}
	u := &user.User{ID: "u", Email: "u@example.com", GroupID: "g", CreatedAt: t0, UpdatedAt: t0}
	if err := db.Users().Create(ctx, u, ""); err != nil {
		t.Fatal(err)
	}
	ids := []string{"plain", "s\xff\xfe", "\xc3(", "naïve ☃", "nul\x00inside", "\"quoted\\"}
	var touches []auth.SessionTouch
	for _, id := range ids {
		hash := sha256.Sum256([]byte(id))
		s := &auth.Session{ID: id, UserID: u.ID, CreatedAt: t0, LastSeenAt: t0, ExpiresAt: t0.Add(time.Hour)}
		if err := db.Sessions().Create(ctx, s, hash[:]); err != nil {
			t.Fatal(err)
		}
		touches = append(touches, auth.SessionTouch{ID: id, At: t0.Add(time.Minute)})
	}
	if err := db.Sessions().(auth.SessionBatchToucher).TouchBatch(ctx, touches); err != nil {
		t.Fatal(err)
	}
	for _, id := range ids {
		s, err := db.Sessions().Get(ctx, id)
		if err != nil {
			t.Fatalf("Get(%q): %v", id, err)
		}
		if !s.LastSeenAt.Equal(t0.Add(time.Minute)) {
			t.Errorf("session %q: LastSeenAt = %v after TouchBatch, want %v", id, s.LastSeenAt, t0.Add(time.Minute))
		}
	}
}
