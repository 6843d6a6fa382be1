package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/usher-go/usher/auth"
	"github.com/usher-go/usher/user"
)

type challengeStore struct{ s *scope }

// Challenges returns the store of pending login challenges.
func (s *scope) Challenges() auth.ChallengeStore { return challengeStore{s} }

// Challenges returns the store of pending login challenges.
func (db *DB) Challenges() auth.ChallengeStore { return db.root.Challenges() }

func (cs challengeStore) Create(ctx context.Context, c *auth.ChallengeRecord, tokenHash []byte) error {
	if !storable(string(c.UserID)) {
		return wrap("create challenge", user.ErrNotFound)
	}
	const q = `INSERT INTO challenges (id, token_hash, user_id, created_at, expires_at, failures, ip, user_agent, remember)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`
	_, err := cs.s.write(ctx, q, c.ID, tokenHash, string(c.UserID), c.CreatedAt, c.ExpiresAt, c.Failures, c.IP, c.UserAgent,
		c.Remember)
	if violates(err, codeForeignKey, "challenges_user_fk") {
		return wrap("create challenge", user.ErrNotFound)
	}
	if err != nil {
		return wrap("create challenge", err)
	}
	return nil
}

func (cs challengeStore) Get(ctx context.Context, tokenHash []byte) (*auth.ChallengeRecord, error) {
	c := new(auth.ChallengeRecord)
	err := cs.s.q.QueryRow(ctx, `SELECT id, user_id, created_at, expires_at, failures, ip, user_agent, remember
		FROM challenges WHERE token_hash = $1`, tokenHash).Scan(
		&c.ID, (*string)(&c.UserID), &c.CreatedAt, &c.ExpiresAt, &c.Failures, &c.IP, &c.UserAgent, &c.Remember)
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, wrap("get challenge", auth.ErrChallengeNotFound)
	}
	if err != nil {
		return nil, wrap("get challenge", err)
	}
	return c, nil
}

// Fail is one UPDATE ... RETURNING: concurrent wrong codes, on any
// instance, each count.
func (cs challengeStore) Fail(ctx context.Context, id string) (int, error) {
	if !storable(id) {
		return 0, wrap("fail challenge", auth.ErrChallengeNotFound)
	}
	var n int
	err := cs.s.q.QueryRow(ctx, `UPDATE challenges SET failures = failures + 1 WHERE id = $1 RETURNING failures`, id).Scan(&n)
	if errors.Is(err, pgx.ErrNoRows) {
		return 0, wrap("fail challenge", auth.ErrChallengeNotFound)
	}
	if err != nil {
		return 0, wrap("fail challenge", err)
	}
	return n, nil
}

// Delete consumes a challenge with one DELETE whose rows affected decide:
// of concurrent calls, the first takes the row and the others find it gone.
func (cs challengeStore) Delete(ctx context.Context, id string) error {
	if !storable(id) {
		return wrap("delete challenge", auth.ErrChallengeNotFound)
	}
	tag, err := cs.s.q.Exec(ctx, `DELETE FROM challenges WHERE id = $1`, id)
	return affected("delete challenge", tag, err, auth.ErrChallengeNotFound)
}

func (cs challengeStore) DeleteUser(ctx context.Context, id user.ID) (int, error) {
	if !storable(string(id)) {
		return 0, nil
	}
	tag, err := cs.s.q.Exec(ctx, `DELETE FROM challenges WHERE user_id = $1`, string(id))
	return rowsAffected("delete user challenges", tag, err)
}

func (cs challengeStore) DeleteExpired(ctx context.Context, now time.Time) (int, error) {
	tag, err := cs.s.q.Exec(ctx, `DELETE FROM challenges WHERE expires_at < $1`, now)
	return rowsAffected("delete expired challenges", tag, err)
}
