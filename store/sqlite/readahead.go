package sqlite

import (
	"context"
	"database/sql"

	"github.com/usher-go/usher/store/internal/readahead"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// txState is what one transaction's statements share beyond the
// connection.
type txState struct {
	// ahead is what the last read took ahead (readahead.Account), until
	// the next statement, which drops it (txStmts). The transaction holds
	// SQLite's write lock (BEGIN IMMEDIATE), so no other connection
	// changes these rows before it ends; dropping it at every statement of
	// its own reads back a write it makes as it would be read without.
	ahead *readahead.Account
	// doomed is the error of an audit append that failed in the
	// transaction (auditStore.doom): it may have written part of its
	// statements, and the change the event records must not happen
	// without it (invariant 6), so the transaction does not commit.
	doomed error
}

// ahead returns what GetWithHash read ahead for id in this transaction,
// nil for nothing.
func (s *scope) ahead(id user.ID) *readahead.Account {
	if s.txs == nil {
		return nil
	}
	return s.txs.ahead.For(id)
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
	a := &readahead.Account{ID: u.ID, Gen: gen}
	if tUser.Valid {
		a.TOTP = &totp.Credential{UserID: user.ID(tUser.String), KeyID: tKey.String, Sealed: tSealed,
			LastStep: tStep.Int64, CreatedAt: fromNanos(tCreated.Int64), ConfirmedAt: fromNanos(tConf.Int64)}
	}
	us.s.txs.ahead = a // after the statement, which dropped the last one
	return u, h, nil
}

// totpAhead is TOTP().Get answered from a read ahead (TOTPFor).
func (s *scope) totpAhead(id user.ID) (c *totp.Credential, ok bool) {
	if s.txs == nil {
		return nil, false
	}
	return s.txs.ahead.TOTPFor(id)
}
