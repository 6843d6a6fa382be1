package auth

import (
	"time"

	"golang.org/x/crypto/bcrypt"

	"github.com/usher-go/usher/audit"
)

// ObserveBcrypt makes m report the cost of every bcrypt hash it compares a
// password against, so a test can count the hashing work of a login instead
// of timing it. The external test package needs it because an internal test
// cannot import a store (store/sqlite imports auth).
func ObserveBcrypt(m *Manager, seen func(cost int)) {
	compare := m.hasher.compare
	m.hasher.compare = func(hash, password []byte) error {
		seen(bcryptCost(string(hash)))
		return compare(hash, password)
	}
}

// TokenHash is what m stores in place of a session or challenge token.
func TokenHash(m *Manager, token string) []byte {
	raw, ok := decodeToken(token)
	if !ok {
		return nil
	}
	h := m.keys.current.tokenHash(&raw)
	return h[:]
}

// HashV1 returns the format-1 hash (bound to no account) of password under
// m's current key, as usher stored it before hashes named the account.
func HashV1(m *Manager, password string) string {
	k := m.keys.current
	b, err := bcrypt.GenerateFromPassword(prehashV1(k, password), 4)
	if err != nil {
		panic(err)
	}
	return hashPrefixV1 + k.id + "$" + string(b)
}

// SealEvent is the sealer m hands its store: for a benchmark that sets a
// chained append beside a plain one.
func SealEvent(m *Manager) func(audit.Mark, *audit.Event) (audit.Link, audit.Mark, error) {
	return m.sealEvent
}

// SealEventV1 seals as m did before links covered the event's ID: for a
// test of a trail written then.
func SealEventV1(m *Manager) func(audit.Mark, *audit.Event) (audit.Link, audit.Mark, error) {
	return func(head audit.Mark, e *audit.Event) (audit.Link, audit.Mark, error) {
		storableEvent(e)
		k := m.keys.current
		link := audit.Link{Seq: head.Seq + 1, KeyID: k.id}
		link.MAC = chainLinkMACV1(k.chain, head.LinkMAC, link.Seq, e)
		return link, markLink(k, chainHeadLabel, link), nil
	}
}

// FlushTouches writes m's waiting session uses now, as its background
// flusher would within touchFlushDelay.
func FlushTouches(m *Manager) error { return m.touches.flush(m) }

// PendingTouches is how many session uses m has not yet written.
func PendingTouches(m *Manager) int {
	m.touches.mu.Lock()
	defer m.touches.mu.Unlock()
	return len(m.touches.pending) + len(m.touches.flushing)
}

// TouchFlusherRunning reports whether m's background flusher is alive.
func TouchFlusherRunning(m *Manager) bool {
	m.touches.mu.Lock()
	defer m.touches.mu.Unlock()
	return m.touches.running
}

// SetTouchFlush changes m's flush delay and batch size (zero keeps the
// default) and reports each batch written to done. Call it before the
// first Authenticate.
func SetTouchFlush(m *Manager, delay time.Duration, batch int, done func(n int, err error)) {
	m.touches.mu.Lock()
	defer m.touches.mu.Unlock()
	m.touches.delay, m.touches.batchMax, m.touches.onFlush = delay, batch, done
}

// TouchHeadroom is how near its idle deadline a session's use is written
// on the request.
const TouchHeadroom = touchHeadroom
