package postgres

import (
	"context"
	"slices"

	"github.com/jackc/pgx/v5/pgtype"

	"github.com/usher-go/usher/totp"
	"github.com/usher-go/usher/user"
)

// readAhead is what a read inside a transaction took beyond what it was
// asked for, for the reads that usually follow it (issue 12: a round trip
// each). A password login's outcome reads the account with its hash, then
// its device generation, then its TOTP credential; GetWithHash reads all
// three in one statement, and DeviceGeneration and TOTP().Get answer from
// here. Any statement sent drops it (txConn), so what it answers is what
// the next statement would have read but for other transactions
// committing in between, which READ COMMITTED lets either statement see
// or miss.
type readAhead struct {
	id   user.ID
	gen  int64
	totp *totp.Credential // nil: none
}

// ahead returns what was read ahead for id, nil for nothing.
func (s *scope) ahead(id user.ID) *readAhead {
	if s.tx == nil || s.tx.ahead == nil || s.tx.ahead.id != id {
		return nil
	}
	return s.tx.ahead
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
	a := &readAhead{id: u.ID, gen: gen}
	if tUser.Valid {
		a.totp = &totp.Credential{UserID: user.ID(tUser.String), KeyID: tKey.String, Sealed: tSealed,
			LastStep: tStep.Int64, CreatedAt: tMade.Time, ConfirmedAt: fromOpt(tConf)}
	}
	us.s.tx.ahead, us.s.tx.known = a, u.ID
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
