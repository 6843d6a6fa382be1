package storetest

import (
	"crypto/sha256"
	"errors"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

var sessionTests = []test{
	{"Lookup", testSessionLookup},
	{"LookupInto", testSessionLookupInto},
	{"Get", testSessionGet},
	{"Touch", testSessionTouch},
	{"TouchBatch", testSessionTouchBatch},
	{"List", testSessionList},
	{"Delete", testSessionDelete},
	{"DeleteUser", testSessionDeleteUser},
	{"DeleteExpired", testSessionDeleteExpired},
	{"PermissionsAreLive", testSessionLivePermissions},
}

func testSessionLookup(t *testing.T, s auth.Store) {
	g := createGroup(t, s, "Operators", "backups:run", "users:read")
	u := createUser(t, s, g.ID)
	sess, hash := createSession(t, s, u.ID, at(0))
	createSession(t, s, u.ID, at(time.Hour)) // a second one must not be confused with it

	gotS, gotU, gotG, err := s.Sessions().Lookup(ctx(t), hash)
	must(t, "Sessions().Lookup", err)
	checkSession(t, "Lookup session", gotS, sess)
	checkUser(t, "Lookup user", gotU, u)
	checkGroup(t, "Lookup group", gotG, g)

	for _, h := range [][]byte{sum("unknown token"), {}, hash[:16]} {
		_, _, _, err = s.Sessions().Lookup(ctx(t), h)
		checkErr(t, "Sessions().Lookup(unknown hash)", err, auth.ErrSessionNotFound)
	}
	// The raw token is not a key: only its hash is.
	_, _, _, err = s.Sessions().Lookup(ctx(t), []byte(sess.Token))
	checkErr(t, "Sessions().Lookup(raw token)", err, auth.ErrSessionNotFound)

	// MultiFactor comes back as stored, through Lookup and Get.
	mf, mfHash := newSession(u.ID, at(2*time.Hour))
	mf.MultiFactor = true
	must(t, "Sessions().Create", s.Sessions().Create(ctx(t), mf, mfHash))
	gotS, _, _, err = s.Sessions().Lookup(ctx(t), mfHash)
	must(t, "Sessions().Lookup", err)
	checkSession(t, "Lookup multi-factor session", gotS, mf)
	got, err := s.Sessions().Get(ctx(t), mf.ID)
	must(t, "Sessions().Get", err)
	checkSession(t, "Get multi-factor session", got, mf)

	// So do a remembered session's own limits, to the nanosecond.
	rem, remHash := newSession(u.ID, at(3*time.Hour))
	rem.Remembered, rem.IdleTimeout = true, 7*24*time.Hour+time.Nanosecond
	must(t, "Sessions().Create", s.Sessions().Create(ctx(t), rem, remHash))
	gotS, _, _, err = s.Sessions().Lookup(ctx(t), remHash)
	must(t, "Sessions().Lookup", err)
	checkSession(t, "Lookup remembered session", gotS, rem)
	got, err = s.Sessions().Get(ctx(t), rem.ID)
	must(t, "Sessions().Get", err)
	checkSession(t, "Get remembered session", got, rem)
	list, err := s.Sessions().List(ctx(t), u.ID)
	must(t, "Sessions().List", err)
	if len(list) == 0 {
		t.Fatal("Sessions().List: none")
	}
	checkSession(t, "List: the newest, remembered session", &list[0], rem)
}

// testSessionLookupInto covers the optional auth.SessionLookupInto: it
// reads exactly what Lookup returns, and the same errors.
func testSessionLookupInto(t *testing.T, s auth.Store) {
	into, ok := s.Sessions().(auth.SessionLookupInto)
	if !ok {
		t.Skip("the store does not implement auth.SessionLookupInto (optional)")
	}
	g := createGroup(t, s, "Operators", "backups:run", "users:read")
	u := createUser(t, s, g.ID)
	sess, hash := createSession(t, s, u.ID, at(0))
	rem, remHash := newSession(u.ID, at(time.Hour))
	rem.Remembered, rem.MultiFactor, rem.IdleTimeout = true, true, 7*24*time.Hour+time.Nanosecond
	must(t, "Sessions().Create", s.Sessions().Create(ctx(t), rem, remHash))
	for _, c := range []struct {
		want *auth.Session
		hash []byte
	}{{sess, hash}, {rem, remHash}} {
		var gotS auth.Session
		var gotU user.User
		var gotG group.Group
		must(t, "Sessions().LookupInto", into.LookupInto(ctx(t), c.hash, &gotS, &gotU, &gotG))
		checkSession(t, "LookupInto session", &gotS, c.want)
		checkUser(t, "LookupInto user", &gotU, u)
		checkGroup(t, "LookupInto group", &gotG, g)
		ls, lu, lg, err := s.Sessions().Lookup(ctx(t), c.hash)
		must(t, "Sessions().Lookup", err)
		if !reflect.DeepEqual(*ls, gotS) || !reflect.DeepEqual(*lu, gotU) || !reflect.DeepEqual(*lg, gotG) {
			t.Errorf("LookupInto read\n%+v %+v %+v\nLookup\n%+v %+v %+v", gotS, gotU, gotG, *ls, *lu, *lg)
		}
	}
	for _, h := range [][]byte{sum("unknown token"), {}, hash[:16]} {
		var gotS auth.Session
		var gotU user.User
		var gotG group.Group
		checkErr(t, "Sessions().LookupInto(unknown hash)", into.LookupInto(ctx(t), h, &gotS, &gotU, &gotG), auth.ErrSessionNotFound)
	}
}

func sum(s string) []byte {
	h := sha256.Sum256([]byte(s))
	return h[:]
}

func testSessionGet(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	sess, _ := createSession(t, s, u.ID, at(0))
	got, err := s.Sessions().Get(ctx(t), sess.ID)
	must(t, "Sessions().Get", err)
	checkSession(t, "Sessions().Get", got, sess)
	_, err = s.Sessions().Get(ctx(t), newID())
	checkErr(t, "Sessions().Get(unknown)", err, auth.ErrSessionNotFound)
}

func testSessionTouch(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	sess, _ := createSession(t, s, u.ID, at(0))
	seen := sess.LastSeenAt
	ss := s.Sessions()
	steps := []struct {
		name          string
		at, notAfter  time.Time
		wantLastSeen  time.Time
		wantDifferent bool
	}{
		// The stored value is not before notAfter: nothing happens.
		{"stored equals notAfter", seen.Add(time.Minute), seen, seen, false},
		{"stored after notAfter", seen.Add(time.Minute), seen.Add(-time.Second), seen, false},
		// The stored value is before notAfter: it moves to at.
		{"stored before notAfter", seen.Add(time.Minute), seen.Add(time.Second), seen.Add(time.Minute), true},
		// Again with the old notAfter: now the stored value is past it.
		{"already touched", seen.Add(2 * time.Minute), seen.Add(time.Second), seen.Add(time.Minute), false},
		{"next touch", seen.Add(3*time.Minute + time.Microsecond), seen.Add(90 * time.Second), seen.Add(3*time.Minute + time.Microsecond), true},
	}
	for _, st := range steps {
		must(t, "Sessions().Touch ("+st.name+")", ss.Touch(ctx(t), sess.ID, st.at, st.notAfter))
		got, err := ss.Get(ctx(t), sess.ID)
		must(t, "Sessions().Get", err)
		checkTime(t, "LastSeenAt after Touch ("+st.name+")", got.LastSeenAt, st.wantLastSeen)
		checkTime(t, "CreatedAt after Touch", got.CreatedAt, sess.CreatedAt)
		checkTime(t, "ExpiresAt after Touch", got.ExpiresAt, sess.ExpiresAt)
	}

	// An unknown session: nothing happens (an error, if any, is
	// ErrSessionNotFound).
	ghost := newID()
	if err := ss.Touch(ctx(t), ghost, at(time.Hour), at(2*time.Hour)); err != nil && !errors.Is(err, auth.ErrSessionNotFound) {
		t.Errorf("Sessions().Touch(unknown): %v, want nil or %v", err, auth.ErrSessionNotFound)
	}
	_, err := ss.Get(ctx(t), ghost)
	checkErr(t, "Sessions().Get after Touch(unknown)", err, auth.ErrSessionNotFound)
}

// testSessionTouchBatch covers the optional auth.SessionBatchToucher: each
// session moves forward only, an unknown or deleted one stays gone, the
// latest of two touches of one session counts.
func testSessionTouchBatch(t *testing.T, s auth.Store) {
	tb, ok := s.Sessions().(auth.SessionBatchToucher)
	if !ok {
		t.Skip("the store does not implement auth.SessionBatchToucher (optional)")
	}
	u := createUser(t, s, group.UsersID)
	behind, _ := createSession(t, s, u.ID, at(0))
	ahead, _ := createSession(t, s, u.ID, at(time.Hour))
	twice, _ := createSession(t, s, u.ID, at(0))
	revoked, _ := createSession(t, s, u.ID, at(0))
	must(t, "Sessions().Delete", s.Sessions().Delete(ctx(t), revoked.ID))
	ghost := newID()
	must(t, "Sessions().TouchBatch", tb.TouchBatch(ctx(t), []auth.SessionTouch{
		{ID: behind.ID, At: at(30 * time.Minute)},
		{ID: ahead.ID, At: at(30 * time.Minute)}, // before the stored value: no change
		{ID: twice.ID, At: at(20*time.Minute + time.Microsecond)},
		{ID: ghost, At: at(time.Minute)},
		{ID: revoked.ID, At: at(time.Minute)},
		{ID: twice.ID, At: at(10 * time.Minute)},
	}))
	for _, c := range []struct {
		name string
		id   string
		want time.Time
	}{
		{"moved forward", behind.ID, at(30 * time.Minute)},
		{"never moved back", ahead.ID, ahead.LastSeenAt},
		{"the latest of two", twice.ID, at(20*time.Minute + time.Microsecond)},
	} {
		got, err := s.Sessions().Get(ctx(t), c.id)
		must(t, "Sessions().Get ("+c.name+")", err)
		checkTime(t, "LastSeenAt after TouchBatch ("+c.name+")", got.LastSeenAt, c.want)
		checkTime(t, "ExpiresAt after TouchBatch ("+c.name+")", got.ExpiresAt, map[string]time.Time{
			behind.ID: behind.ExpiresAt, ahead.ID: ahead.ExpiresAt, twice.ID: twice.ExpiresAt}[c.id])
	}
	for _, id := range []string{ghost, revoked.ID} {
		_, err := s.Sessions().Get(ctx(t), id)
		checkErr(t, "Sessions().Get after TouchBatch of a session not stored", err, auth.ErrSessionNotFound)
	}
	must(t, "Sessions().TouchBatch(none)", tb.TouchBatch(ctx(t), nil))
}

func testSessionList(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	// Created out of order; List returns newest first.
	mid, _ := createSession(t, s, u.ID, at(time.Hour))
	old, _ := createSession(t, s, u.ID, at(0))
	createSession(t, s, other.ID, at(90*time.Minute))
	newest, _ := createSession(t, s, u.ID, at(2*time.Hour))

	list, err := s.Sessions().List(ctx(t), u.ID)
	must(t, "Sessions().List", err)
	want := []*auth.Session{newest, mid, old}
	if len(list) != len(want) {
		t.Fatalf("Sessions().List = %d sessions, want %d", len(list), len(want))
	}
	for i := range want {
		checkSession(t, "Sessions().List entry", &list[i], want[i])
	}

	for _, id := range []string{string(createUser(t, s, group.UsersID).ID), newID()} {
		list, err = s.Sessions().List(ctx(t), user.ID(id))
		must(t, "Sessions().List of a user without sessions", err)
		if len(list) != 0 {
			t.Errorf("Sessions().List of a user without sessions = %d, want 0", len(list))
		}
	}
}

func testSessionDelete(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	a, ha := createSession(t, s, u.ID, at(0))
	b, _ := createSession(t, s, u.ID, at(time.Hour))
	must(t, "Sessions().Delete", s.Sessions().Delete(ctx(t), a.ID))
	_, err := s.Sessions().Get(ctx(t), a.ID)
	checkErr(t, "Sessions().Get after Delete", err, auth.ErrSessionNotFound)
	_, _, _, err = s.Sessions().Lookup(ctx(t), ha)
	checkErr(t, "Sessions().Lookup after Delete", err, auth.ErrSessionNotFound)
	checkErr(t, "Sessions().Delete again", s.Sessions().Delete(ctx(t), a.ID), auth.ErrSessionNotFound)
	got, err := s.Sessions().Get(ctx(t), b.ID)
	must(t, "Sessions().Get of another session", err)
	checkSession(t, "another session after Delete", got, b)
}

func testSessionDeleteUser(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	other := createUser(t, s, group.UsersID)
	var ids []string
	for i := range 4 {
		sess, _ := createSession(t, s, u.ID, at(time.Duration(i)*time.Hour))
		ids = append(ids, sess.ID)
	}
	kept, _ := createSession(t, s, other.ID, at(0))

	n, err := s.Sessions().DeleteUser(ctx(t), u.ID, ids[2])
	must(t, "Sessions().DeleteUser with except", err)
	if n != 3 {
		t.Errorf("Sessions().DeleteUser with except = %d, want 3", n)
	}
	list, err := s.Sessions().List(ctx(t), u.ID)
	must(t, "Sessions().List", err)
	if len(list) != 1 || list[0].ID != ids[2] {
		t.Errorf("sessions left after DeleteUser with except: %v, want only %s", sessionIDs(list), ids[2])
	}

	n, err = s.Sessions().DeleteUser(ctx(t), u.ID, "")
	must(t, "Sessions().DeleteUser", err)
	if n != 1 {
		t.Errorf("Sessions().DeleteUser without except = %d, want 1", n)
	}
	list, err = s.Sessions().List(ctx(t), u.ID)
	must(t, "Sessions().List", err)
	if len(list) != 0 {
		t.Errorf("sessions left after DeleteUser: %v, want none", sessionIDs(list))
	}

	n, err = s.Sessions().DeleteUser(ctx(t), u.ID, "")
	must(t, "Sessions().DeleteUser with none left", err)
	if n != 0 {
		t.Errorf("Sessions().DeleteUser with none left = %d, want 0", n)
	}
	_, err = s.Sessions().Get(ctx(t), kept.ID)
	must(t, "another user's session after DeleteUser", err)
}

func sessionIDs(list []auth.Session) []string {
	var ids []string
	for _, s := range list {
		ids = append(ids, s.ID)
	}
	return ids
}

// Each session is idle after its own IdleTimeout: an ordinary one of an
// hour and a remembered one of a week, side by side.
func testSessionDeleteExpired(t *testing.T, s auth.Store) {
	u := createUser(t, s, group.UsersID)
	now := at(10 * 24 * time.Hour)
	const hour, week = time.Hour, 7 * 24 * time.Hour
	mk := func(expires, lastSeen time.Time, idle time.Duration) string {
		sess, hash := newSession(u.ID, at(0))
		sess.ExpiresAt, sess.LastSeenAt, sess.IdleTimeout = expires, lastSeen, idle
		sess.Remembered = idle == week
		must(t, "Sessions().Create", s.Sessions().Create(ctx(t), sess, hash))
		return sess.ID
	}
	fresh, later := now.Add(-time.Minute), now.Add(time.Hour)
	gone := []string{
		mk(now.Add(-time.Microsecond), fresh, hour),      // expired
		mk(later, now.Add(-hour-time.Microsecond), hour), // idle
		mk(now.Add(-time.Hour), now.Add(-2*hour), hour),  // both
		mk(later, now.Add(-week-time.Microsecond), week), // remembered, idle
		mk(now.Add(-time.Microsecond), fresh, week),      // remembered, expired
		// At the boundary the session is over, as Manager.Authenticate
		// decides (auth's expired): stores and Authenticate agree.
		mk(now, fresh, hour),            // expiring exactly now
		mk(later, now.Add(-hour), hour), // seen exactly its idle timeout ago
	}
	kept := []string{
		mk(later, fresh, hour),                           // live
		mk(now.Add(time.Microsecond), fresh, hour),       // expiring just after now
		mk(later, now.Add(-hour+time.Microsecond), hour), // seen just under its idle timeout ago
		mk(later, now.Add(-hour-time.Microsecond), week), // an hour unused, remembered: its own timeout
	}
	n, err := s.Sessions().DeleteExpired(ctx(t), now)
	must(t, "Sessions().DeleteExpired", err)
	if n != len(gone) {
		t.Errorf("Sessions().DeleteExpired = %d, want %d", n, len(gone))
	}
	for _, id := range gone {
		_, err := s.Sessions().Get(ctx(t), id)
		checkErr(t, "Sessions().Get of an expired or idle session", err, auth.ErrSessionNotFound)
	}
	list, err := s.Sessions().List(ctx(t), u.ID)
	must(t, "Sessions().List", err)
	got := sessionIDs(list)
	slices.Sort(got)
	slices.Sort(kept)
	if !slices.Equal(got, kept) {
		t.Errorf("sessions left after DeleteExpired: %v, want %v (live, expiring just after now, seen just under its idle timeout ago, remembered)", got, kept)
	}
}

// After a group's permissions change, the next Lookup carries the new
// ones: nothing is cached in the session.
func testSessionLivePermissions(t *testing.T, s auth.Store) {
	g := createGroup(t, s, "Operators", "backups:run")
	u := createUser(t, s, g.ID)
	_, hash := createSession(t, s, u.ID, at(0))
	_, _, gotG, err := s.Sessions().Lookup(ctx(t), hash)
	must(t, "Sessions().Lookup", err)
	checkPerms(t, "Lookup group before the change", gotG.Permissions, g.Permissions)

	upd := *g
	upd.Permissions = []group.Permission{"users:read", "backups:restore"}
	upd.UpdatedAt = at(time.Hour)
	must(t, "Groups().Update", s.Groups().Update(ctx(t), &upd))
	_, _, gotG, err = s.Sessions().Lookup(ctx(t), hash)
	must(t, "Sessions().Lookup", err)
	checkGroup(t, "Lookup group after the change", gotG, &upd)

	// Moving the user and disabling it show up too.
	moved := *u
	moved.GroupID = string(group.AdminID)
	moved.Disabled = true
	must(t, "Users().Update", s.Users().Update(ctx(t), &moved))
	_, gotU, gotG, err := s.Sessions().Lookup(ctx(t), hash)
	must(t, "Sessions().Lookup", err)
	checkUser(t, "Lookup user after the move", gotU, &moved)
	if gotG.ID != group.AdminID {
		t.Errorf("Lookup group after the move = %q, want %q", gotG.ID, group.AdminID)
	}
	checkPerms(t, "Lookup group after the move", gotG.Permissions, []group.Permission{group.All})
}
