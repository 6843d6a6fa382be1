package sqlite

import (
	"context"
	"database/sql"
	"slices"

	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// txState is what one transaction's statements share beyond the
// connection.
type txState struct {
	// ahead is what the last read took ahead, until the next statement
	// (txStmts drops it).
	ahead *readAhead
}

// readAhead is what a read inside a transaction took beyond what it was
// asked for, for the reads that usually follow it (issue 12: each
// statement costs its own trip through database/sql and the driver). A
// password login's outcome reads the account with its hash, then its
// device generation, then its TOTP credential; GetWithHash reads all three
// in one statement, and DeviceGeneration and TOTP().Get answer from here.
// The transaction holds SQLite's write lock (BEGIN IMMEDIATE), so no other
// connection changes these rows before it ends; any statement of its own
// drops what was read ahead, so a write it makes is read back as it would
// be without.
type readAhead struct {
	id   user.ID
	gen  int64
	totp *totp.Credential // nil: none
}

// ahead returns what was read ahead for id, nil for nothing.
func (s *scope) ahead(id user.ID) *readAhead {
	if s.txs == nil || s.txs.ahead == nil || s.txs.ahead.id != id {
		return nil
	}
	return s.txs.ahead
}

// getWithHashAhead is GetWithHash inside a transaction, reading ahead.
func (us userStore) getWithHashAhead(ctx context.Context, id user.ID) (*user.User, string, error) {
	var (
		h        string
		gen      int64
		tUser    sql.NullString
		tKey     sql.NullString
		tSealed  []byte
		tStep    sql.NullInt64
		tCreated sql.NullInt64
		tConf    sql.NullInt64
	)
	const q = `SELECT ` + userCols + `, u.password_hash, COALESCE(d.generation, 0),
		t.user_id, t.key_id, t.sealed, t.last_step, t.created_at, t.confirmed_at
		FROM users u LEFT JOIN device_generations d ON d.user_id = u.id LEFT JOIN totp_credentials t ON t.user_id = u.id
		WHERE u.id = ?`
	u, err := us.getBy(ctx, "get user", q, string(id), &h, &gen, &tUser, &tKey, &tSealed, &tStep, &tCreated, &tConf)
	if err != nil {
		return nil, "", err
	}
	a := &readAhead{id: u.ID, gen: gen}
	if tUser.Valid {
		a.totp = &totp.Credential{UserID: user.ID(tUser.String), KeyID: tKey.String, Sealed: tSealed,
			LastStep: tStep.Int64, CreatedAt: fromNanos(tCreated.Int64), ConfirmedAt: fromNanos(tConf.Int64)}
	}
	us.s.txs.ahead = a // after the statement, which dropped the last one
	return u, h, nil
}

// totpAhead is TOTP().Get answered from a read ahead: a copy, as a read
// would return; ok is false when nothing was read ahead for id.
func (s *scope) totpAhead(id user.ID) (c *totp.Credential, ok bool) {
	a := s.ahead(id)
	if a == nil {
		return nil, false
	}
	if a.totp == nil {
		return nil, true
	}
	cp := *a.totp
	cp.Sealed = slices.Clone(cp.Sealed)
	return &cp, true
}
