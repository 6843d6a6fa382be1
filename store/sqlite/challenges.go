package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/user"
)

type challengeStore struct{ s *scope }

// Challenges returns the store of pending login challenges.
func (s *scope) Challenges() auth.ChallengeStore { return challengeStore{s} }

// Challenges returns the store of pending login challenges.
func (db *DB) Challenges() auth.ChallengeStore { return db.root.Challenges() }

func (cs challengeStore) Create(ctx context.Context, c *auth.ChallengeRecord, tokenHash []byte) error {
	const q = `INSERT INTO challenges (id, token_hash, user_id, created_at, expires_at, failures, ip, user_agent, remember)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`
	_, err := cs.s.w.ExecContext(ctx, q, c.ID, tokenHash, c.UserID, nanos(c.CreatedAt), nanos(c.ExpiresAt), c.Failures, c.IP, c.UserAgent,
		c.Remember)
	if code(err) == codeForeignKey {
		return wrap("create challenge", user.ErrNotFound)
	}
	if err != nil {
		return wrap("create challenge", err)
	}
	return nil
}

func (cs challengeStore) Get(ctx context.Context, tokenHash []byte) (*auth.ChallengeRecord, error) {
	var c auth.ChallengeRecord
	var created, expires int64
	err := cs.s.r.QueryRowContext(ctx, `SELECT id, user_id, created_at, expires_at, failures, ip, user_agent, remember
		FROM challenges WHERE token_hash = ?`, tokenHash).Scan(&c.ID, &c.UserID, &created, &expires, &c.Failures, &c.IP, &c.UserAgent,
		&c.Remember)
	if errors.Is(err, sql.ErrNoRows) {
		return nil, wrap("get challenge", auth.ErrChallengeNotFound)
	}
	if err != nil {
		return nil, wrap("get challenge", err)
	}
	c.CreatedAt, c.ExpiresAt = fromNanos(created), fromNanos(expires)
	return &c, nil
}

func (cs challengeStore) Fail(ctx context.Context, id string) (int, error) {
	var n int
	err := cs.s.w.QueryRowContext(ctx, `UPDATE challenges SET failures = failures + 1 WHERE id = ? RETURNING failures`, id).Scan(&n)
	if errors.Is(err, sql.ErrNoRows) {
		return 0, wrap("fail challenge", auth.ErrChallengeNotFound)
	}
	if err != nil {
		return 0, wrap("fail challenge", err)
	}
	return n, nil
}

func (cs challengeStore) Delete(ctx context.Context, id string) error {
	res, err := cs.s.w.ExecContext(ctx, `DELETE FROM challenges WHERE id = ?`, id)
	return affected("delete challenge", res, err, auth.ErrChallengeNotFound)
}

func (cs challengeStore) DeleteUser(ctx context.Context, id user.ID) (int, error) {
	res, err := cs.s.w.ExecContext(ctx, `DELETE FROM challenges WHERE user_id = ?`, id)
	return rowsAffected("delete user challenges", res, err)
}

func (cs challengeStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	res, err := cs.s.w.ExecContext(ctx, `DELETE FROM challenges WHERE expires_at < ?`, nanos(now))
	return rowsAffected("delete expired challenges", res, err)
}
