package postgres

import (
	"context"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/store/internal/readahead"
	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// ahead returns what GetWithHash read ahead for id in this transaction
// (readahead.Account), nil for nothing. Any statement sent drops it
// (txConn), so what it answers is what the next statement would have
// read but for other transactions committing in between, which READ
// COMMITTED lets either statement see or miss.
func (s *scope) ahead(id user.ID) *readahead.Account {
	if s.tx == nil {
		return nil
	}
	return s.tx.ahead.For(id)
}

// getWithHashAhead is GetWithHash inside a transaction, reading ahead.
func (us userStore) getWithHashAhead(ctx context.Context, id user.ID) (*user.User, string, error) {
	var (
		h       string
		gen     int64
		tUser   pgtype.Text
		tKey    pgtype.Text
		tSealed []byte
		tStep   pgtype.Int8
		tMade   pgtype.Timestamptz
		tConf   pgtype.Timestamptz
	)
	const q = `SELECT ` + userCols + `, u.password_hash, COALESCE(d.generation, 0),
		t.user_id, t.key_id, t.sealed, t.last_step, t.created_at, t.confirmed_at
		FROM users u LEFT JOIN device_generations d ON d.user_id = u.id LEFT JOIN totp_credentials t ON t.user_id = u.id
		WHERE u.id = $1`
	u, err := us.getBy(ctx, "get user", q, string(id), &h, &gen, &tUser, &tKey, &tSealed, &tStep, &tMade, &tConf)
	if err != nil {
		return nil, "", err
	}
	a := &readahead.Account{ID: u.ID, Gen: gen}
	if tUser.Valid {
		a.TOTP = &totp.Credential{UserID: user.ID(tUser.String), KeyID: tKey.String, Sealed: tSealed,
			LastStep: tStep.Int64, CreatedAt: tMade.Time, ConfirmedAt: fromOpt(tConf)}
	}
	us.s.tx.ahead, us.s.tx.known = a, u.ID
	return u, h, nil
}

// totpAhead is TOTP().Get answered from a read ahead (TOTPFor).
func (s *scope) totpAhead(id user.ID) (c *totp.Credential, ok bool) {
	if s.tx == nil {
		return nil, false
	}
	return s.tx.ahead.TOTPFor(id)
}
