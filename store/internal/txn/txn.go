// Package txn ends the transactions of store/sqlite's and store/postgres's
// Atomic the one way auth.Store.Atomic documents: commit when fn succeeds,
// roll back otherwise, and turn a panic in fn into an [auth.PanicError]
// after the rollback, so that no panic inside a transaction reaches the
// host and no connection goes back to its pool inside one.
package txn

import (
	"runtime/debug"

	"github.com/usher-go/usher/auth"
)

// Run runs fn in a transaction the caller has begun and ends it: commit when
// fn returns nil (commit's error is returned), rollback when fn returns an
// error (returned unchanged), panics (returned as an *auth.PanicError
// holding the value and the stack) or calls runtime.Goexit, as t.FailNow
// does (rolled back before the goroutine ends). rollback must not fail in a
// way the caller needs to know of: the transaction is abandoned either way.
func Run(fn func() error, commit func() error, rollback func()) (err error) {
	done := false
	defer func() {
		if done {
			return
		}
		rollback()
		if v := recover(); v != nil {
			err = &auth.PanicError{Value: v, Stack: debug.Stack()}
		}
	}()
	err = fn()
	done = true
	if err != nil {
		rollback()
		return err
	}
	return commit()
}
