package storetest

import (
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/usher-go/usher/audit"
	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/group"
	"github.com/usher-go/usher/user"
)

var atomicTests = []test{
	{"Rollback", testAtomicRollback},
	{"Commit", testAtomicCommit},
	{"ReadsOwnWrites", testAtomicReadsOwnWrites},
	{"Nested", testAtomicNested},
	{"NestedRollback", testAtomicNestedRollback},
	{"FirstUserRace", testAtomicFirstUserRace},
	{"Panic", testAtomicPanic},
}

// errFn is what the suite's fn returns to ask for a rollback.
var errFn = errors.New("storetest: fn failed on purpose")

// change is a set of writes across every store, made by apply inside one
// Atomic, and checked afterwards by committed.
type change struct {
	existing *user.User // updated by apply
	u        *user.User
	g        *group.Group
	sess     *auth.Session
	hash     []byte
	event    *audit.Event
	key      string
}

func newChange(t *testing.T, s auth.Store) *change {
	t.Helper()
	c := &change{existing: createUser(t, s, group.UsersID), key: "atomic:" + newID()}
	c.g = newGroup("Atomic Group", "users:read")
	c.u = newUser(c.g.ID)
	c.sess, c.hash = newSession(c.u.ID, at(0))
	c.event = newEvent(at(0), audit.UserCreated, audit.Success, string(c.existing.ID),
		audit.Target{Type: audit.TargetUser, ID: string(c.u.ID)})
	return c
}

func (c *change) apply(t *testing.T, tx auth.Store) error {
	if err := tx.Groups().Create(ctx(t), c.g); err != nil {
		return err
	}
	if err := tx.Users().Create(ctx(t), c.u, "$2a$10$hash"); err != nil {
		return err
	}
	if err := tx.Sessions().Create(ctx(t), c.sess, c.hash); err != nil {
		return err
	}
	upd := *c.existing
	upd.Name = "Changed In Atomic"
	if err := tx.Users().Update(ctx(t), &upd); err != nil {
		return err
	}
	if _, err := tx.Throttle().AddFailure(ctx(t), c.key, at(0)); err != nil {
		return err
	}
	return tx.Audit().Append(ctx(t), c.event)
}

// check verifies that every write of c is there (committed) or none is.
func (c *change) check(t *testing.T, s auth.Store, committed bool) {
	t.Helper()
	_, gErr := s.Groups().Get(ctx(t), c.g.ID)
	_, uErr := s.Users().Get(ctx(t), c.u.ID)
	_, sErr := s.Sessions().Get(ctx(t), c.sess.ID)
	ex, err := s.Users().Get(ctx(t), c.existing.ID)
	must(t, "Users().Get of the existing user", err)
	fails, _, err := s.Throttle().Failures(ctx(t), c.key)
	must(t, "Throttle().Failures", err)
	events := walkAudit(t, s, audit.Query{TargetID: string(c.u.ID)})

	if committed {
		must(t, "Groups().Get of the group created in Atomic", gErr)
		must(t, "Users().Get of the user created in Atomic", uErr)
		must(t, "Sessions().Get of the session created in Atomic", sErr)
		if ex.Name != "Changed In Atomic" {
			t.Errorf("user updated in a committed Atomic: Name %q, want %q", ex.Name, "Changed In Atomic")
		}
		if fails != 1 {
			t.Errorf("failure counted in a committed Atomic: Failures = %d, want 1", fails)
		}
		if len(events) != 1 || events[0].ID != c.event.ID {
			t.Errorf("event appended in a committed Atomic: found %v, want [%s]", eventIDs(events), c.event.ID)
		}
		return
	}
	checkErr(t, "Groups().Get of a group created in a rolled-back Atomic", gErr, group.ErrNotFound)
	checkErr(t, "Users().Get of a user created in a rolled-back Atomic", uErr, user.ErrNotFound)
	checkErr(t, "Sessions().Get of a session created in a rolled-back Atomic", sErr, auth.ErrSessionNotFound)
	checkUser(t, "user updated in a rolled-back Atomic", ex, c.existing)
	if fails != 0 {
		t.Errorf("failure counted in a rolled-back Atomic: Failures = %d, want 0", fails)
	}
	if len(events) != 0 {
		t.Errorf("event appended in a rolled-back Atomic is there: %v", eventIDs(events))
	}
}

func testAtomicRollback(t *testing.T, s auth.Store) {
	c := newChange(t, s)
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		if err := c.apply(t, tx); err != nil {
			t.Errorf("write inside Atomic: %v", err)
		}
		return errFn
	})
	if !errors.Is(err, errFn) {
		t.Errorf("Atomic returned %v, want fn's error %v unchanged", err, errFn)
	}
	c.check(t, s, false)
	n, err := s.Users().Count(ctx(t))
	must(t, "Users().Count", err)
	if n != 1 {
		t.Errorf("Users().Count after a rolled-back Atomic = %d, want 1", n)
	}
}

func testAtomicCommit(t *testing.T, s auth.Store) {
	c := newChange(t, s)
	must(t, "Atomic", s.Atomic(ctx(t), func(tx auth.Store) error { return c.apply(t, tx) }))
	c.check(t, s, true)
}

func testAtomicReadsOwnWrites(t *testing.T, s auth.Store) {
	c := newChange(t, s)
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		if err := c.apply(t, tx); err != nil {
			return err
		}
		g, err := tx.Groups().Get(ctx(t), c.g.ID)
		if err != nil {
			return err
		}
		checkGroup(t, "group read inside Atomic", g, c.g)
		u, err := tx.Users().Get(ctx(t), c.u.ID)
		if err != nil {
			return err
		}
		checkUser(t, "user read inside Atomic", u, c.u)
		if n, err := tx.Users().Count(ctx(t)); err != nil || n != 2 {
			t.Errorf("Users().Count inside Atomic = %d, %v; want 2", n, err)
		}
		sess, lu, lg, err := tx.Sessions().Lookup(ctx(t), c.hash)
		if err != nil {
			return err
		}
		checkSession(t, "session looked up inside Atomic", sess, c.sess)
		checkUser(t, "user looked up inside Atomic", lu, c.u)
		checkGroup(t, "group looked up inside Atomic", lg, c.g)
		ex, err := tx.Users().Get(ctx(t), c.existing.ID)
		if err != nil {
			return err
		}
		if ex.Name != "Changed In Atomic" {
			t.Errorf("updated user read inside Atomic: Name %q, want %q", ex.Name, "Changed In Atomic")
		}
		if n, _, err := tx.Throttle().Failures(ctx(t), c.key); err != nil || n != 1 {
			t.Errorf("Throttle().Failures inside Atomic = %d, %v; want 1", n, err)
		}
		q, _ := audit.Query{TargetID: string(c.u.ID)}.Normalize()
		p, err := tx.Audit().Query(ctx(t), q)
		if err != nil {
			return err
		}
		if len(p.Events) != 1 || p.Events[0].ID != c.event.ID {
			t.Errorf("Audit().Query inside Atomic: %v, want [%s]", eventIDs(p.Events), c.event.ID)
		}
		lq, _ := user.Query{GroupID: string(c.g.ID)}.Normalize()
		lp, err := tx.Users().List(ctx(t), lq)
		if err != nil {
			return err
		}
		if len(lp.Users) != 1 || lp.Users[0].ID != c.u.ID || lp.Users[0].GroupName != c.g.Name {
			t.Errorf("Users().List inside Atomic = %+v, want the user created in it, group %q", lp.Users, c.g.Name)
		}
		return nil
	})
	must(t, "Atomic", err)
}

func testAtomicNested(t *testing.T, s auth.Store) {
	outer, inner := newUser(group.UsersID), newUser(group.AdminID)
	err := s.Atomic(ctx(t), func(tx auth.Store) error {
		if err := tx.Users().Create(ctx(t), outer, ""); err != nil {
			return err
		}
		return tx.Atomic(ctx(t), func(tx2 auth.Store) error {
			// The inner call runs in the same transaction: it sees the
			// outer write.
			if _, err := tx2.Users().Get(ctx(t), outer.ID); err != nil {
				t.Errorf("nested Atomic does not see the outer write: %v", err)
			}
			return tx2.Users().Create(ctx(t), inner, "")
		})
	})
	must(t, "nested Atomic", err)
	for _, u := range []*user.User{outer, inner} {
		got, err := s.Users().Get(ctx(t), u.ID)
		must(t, "Users().Get after nested Atomic", err)
		checkUser(t, "user created in nested Atomic", got, u)
	}
}

func testAtomicNestedRollback(t *testing.T, s auth.Store) {
	cases := []struct {
		name      string
		innerErr  error
		outerFail bool
	}{
		{"InnerFails", errFn, false},
		{"OuterFailsAfterInner", nil, true},
	}
	for _, c := range cases {
		outer, inner := newUser(group.UsersID), newUser(group.UsersID)
		err := s.Atomic(ctx(t), func(tx auth.Store) error {
			if err := tx.Users().Create(ctx(t), outer, ""); err != nil {
				return err
			}
			err := tx.Atomic(ctx(t), func(tx2 auth.Store) error {
				if err := tx2.Users().Create(ctx(t), inner, ""); err != nil {
					return err
				}
				return c.innerErr
			})
			if c.outerFail && err == nil {
				return errFn
			}
			return err
		})
		if !errors.Is(err, errFn) {
			t.Errorf("%s: Atomic returned %v, want %v", c.name, err, errFn)
		}
		for _, u := range []*user.User{outer, inner} {
			_, err := s.Users().Get(ctx(t), u.ID)
			checkErr(t, c.name+": Users().Get of a user created in a rolled-back nested Atomic", err, user.ErrNotFound)
		}
	}
}

// The check-then-write that sign-up relies on: of 20 concurrent "create a
// user if there is none", exactly one creates.
func testAtomicFirstUserRace(t *testing.T, s auth.Store) {
	const n = 20
	created := make([]bool, n)
	errs := make([]error, n)
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			<-start
			errs[i] = s.Atomic(ctx(t), func(tx auth.Store) error {
				created[i] = false // fn may run again after a serialization failure
				count, err := tx.Users().Count(ctx(t))
				if err != nil || count != 0 {
					return err
				}
				u := newUser(group.AdminID)
				if err := tx.Users().Create(ctx(t), u, ""); err != nil {
					return err
				}
				e := newEvent(at(time.Duration(i)), audit.SignUp, audit.Success, string(u.ID),
					audit.Target{Type: audit.TargetUser, ID: string(u.ID)})
				if err := tx.Audit().Append(ctx(t), e); err != nil {
					return err
				}
				created[i] = true
				return nil
			})
		})
	}
	close(start)
	wg.Wait()
	winners := 0
	for i := range n {
		if errs[i] != nil {
			t.Errorf("Atomic #%d: %v", i, errs[i])
		}
		if created[i] && errs[i] == nil {
			winners++
		}
	}
	count, err := s.Users().Count(ctx(t))
	must(t, "Users().Count", err)
	if count != 1 || winners != 1 {
		t.Errorf("%d concurrent check-then-create in Atomic: %d users exist, %d calls reported creating; want exactly 1",
			n, count, winners)
	}
	events := walkAudit(t, s, audit.Query{Action: audit.SignUp})
	if len(events) != 1 {
		t.Errorf("sign-up events after the race: %d, want 1", len(events))
	}
}

// A panic in fn, or in a nested Atomic's fn, rolls every write back and
// comes back as an *auth.PanicError: Atomic does not panic again, and the
// store works afterwards.
func testAtomicPanic(t *testing.T, s auth.Store) {
	boom := errors.New("storetest: fn panicked on purpose")
	cases := []struct {
		name   string
		value  any
		nested bool
	}{
		{"ErrorValue", boom, false},
		{"StringValue", "storetest: a string", false},
		{"Nested", boom, true},
	}
	for _, tc := range cases {
		c := newChange(t, s)
		var err error
		func() {
			defer func() {
				if v := recover(); v != nil {
					t.Errorf("%s: Atomic let fn's panic %v through; want it returned as *auth.PanicError", tc.name, v)
				}
			}()
			err = s.Atomic(ctx(t), func(tx auth.Store) error {
				if err := c.apply(t, tx); err != nil {
					t.Errorf("%s: write inside Atomic: %v", tc.name, err)
				}
				if tc.nested {
					return tx.Atomic(ctx(t), func(auth.Store) error { panic(tc.value) })
				}
				panic(tc.value)
			})
		}()
		var pe *auth.PanicError
		switch {
		case !errors.As(err, &pe):
			t.Errorf("%s: Atomic with a panicking fn returned %v, want an *auth.PanicError", tc.name, err)
		case pe.Value != tc.value || len(pe.Stack) == 0:
			t.Errorf("%s: PanicError{Value: %v, %d bytes of Stack}, want Value %v and the stack", tc.name,
				pe.Value, len(pe.Stack), tc.value)
		}
		if _, isErr := tc.value.(error); isErr && !errors.Is(err, boom) {
			t.Errorf("%s: errors.Is(%v, the panic value) = false, want true", tc.name, err)
		}
		c.check(t, s, false)
	}
	c := newChange(t, s)
	must(t, "Atomic after the panics", s.Atomic(ctx(t), func(tx auth.Store) error { return c.apply(t, tx) }))
	c.check(t, s, true)
}
