package auth

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"
)

// Last use, written behind the request.
//
// A session's idle timeout counts from its last use, LastSeenAt, which
// Authenticate records at most once per touchInterval. Writing it on the
// request that used the session put a write (on SQLite, a turn at the
// single writer) on the path of every active session once a minute. The
// Manager instead keeps the uses in memory (toucher) and writes them in
// batches, one UPDATE per batch ([SessionBatchToucher]), from one
// goroutine that lives only while there is something to write.
//
// Why idle expiry stays exact across instances. Every instance decides
// from the stored LastSeenAt and its own uses not yet written (see
// toucher.seen). A use at T is queued only while the session's idle
// deadline, as this instance knows it (s + idle), is at least
// touchHeadroom away: T <= s + idle - touchHeadroom. A queued use is
// stored within touchFlushBound of T (touchFlushDelay before its batch
// starts, or an earlier batch of at most touchFlushTimeout still running,
// then its own, of at most touchFlushTimeout), and touchFlushBound <
// touchHeadroom; so it is stored before s + idle, and no other instance,
// and no DeleteExpired, ever finds the session idle-expired while its use
// is on the way. A use nearer the deadline is written on the request, as
// before; that is at most one write per idle period per session (the one
// that comes back after nearly its whole idle timeout unused), not one a
// minute.
//
// What a failure costs. A batch that fails (or a process that stops
// without [Manager.Close]) loses those uses: the sessions keep the
// LastSeenAt they had and may end early. It never makes one last longer:
// each use is written with its own time, never the time of the write, and
// a failed batch is logged and dropped, not kept to count here. A batch
// only updates; a session revoked meanwhile stays gone.
const (
	// touchFlushDelay is how long a use waits for its batch to be
	// written, at most, when nothing else is being written.
	touchFlushDelay = 5 * time.Second
	// touchFlushTimeout bounds the writing of one batch.
	touchFlushTimeout = 20 * time.Second
	// touchFlushBound is how late a queued use may be stored.
	touchFlushBound = max(touchFlushDelay, touchFlushTimeout) + touchFlushTimeout
	// touchHeadroom: a use nearer than this to its idle deadline is
	// written on the request.
	touchHeadroom = touchInterval
	// touchBatchMax queued uses start a batch without waiting for
	// touchFlushDelay.
	touchBatchMax = 1024
	// touchQueueMax bounds the memory of uses waiting (while a slow batch
	// is written, say); past it a use is written on the request.
	touchQueueMax = 64 * touchBatchMax
)

// Checked at compile time: a negative constant does not convert to uint.
const _ = uint(touchHeadroom - touchFlushBound - 1)

// toucher holds the uses not yet written: pending ones, and those of the
// batch being written. The zero value is ready to use.
type toucher struct {
	mu       sync.Mutex
	pending  map[string]time.Time // session ID → last use
	flushing map[string]time.Time // the batch being written
	// waiting is len(pending)+len(flushing), written under mu and read
	// without it: seen, on every Authenticate, takes mu only when some
	// use waits (see seen).
	waiting  atomic.Int64
	first    time.Time     // when the oldest pending use was queued (wall clock)
	running  bool          // a flusher goroutine is alive
	closed   bool          // Close was called: uses are written on the request
	closeErr error         // what the flusher failed to write after Close
	kick     chan struct{} // starts a batch now
	wg       sync.WaitGroup

	flushMu sync.Mutex // one batch at a time

	// Tests change these (export_test.go); zero means the constants.
	delay    time.Duration
	batchMax int
	onFlush  func(n int, err error)
}

// seen returns the last use of session id that this Manager knows of: the
// stored one, or a later one not yet written.
//
// With nothing waiting it answers without taking mu, and answers as it
// would have with it: a use queued after the load could as well have
// been queued just after the lock, and the count drops to zero only where
// flush empties flushing, once its batch is done, so the load that finds
// zero is the lock that would have found both maps empty.
func (t *toucher) seen(id string, stored time.Time) time.Time {
	if t.waiting.Load() == 0 {
		return stored
	}
	t.mu.Lock()
	p, ok := t.pending[id]
	if !ok {
		p, ok = t.flushing[id]
	}
	t.mu.Unlock()
	if ok && p.After(stored) {
		return p
	}
	return stored
}

// queue records a use of session id at at for the flusher, starting it
// if none runs. It returns false, queueing nothing, once the Manager is
// closed or while too many uses wait: the caller writes it itself.
func (t *toucher) queue(m *Manager, id string, at time.Time) bool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.closed || len(t.pending)+len(t.flushing) >= touchQueueMax {
		return false
	}
	if t.pending == nil {
		t.pending = make(map[string]time.Time)
	}
	if t.kick == nil {
		t.kick = make(chan struct{}, 1)
	}
	if len(t.pending) == 0 {
		t.first = time.Now()
	}
	if prev, ok := t.pending[id]; !ok || at.After(prev) {
		t.pending[id] = at
	}
	t.count()
	if !t.running {
		t.running = true
		t.wg.Add(1)
		go t.run(m)
	}
	if len(t.pending) >= t.batchLimit() {
		t.wake()
	}
	return true
}

// count sets waiting. Called with t.mu held, after pending or flushing
// changed.
func (t *toucher) count() { t.waiting.Store(int64(len(t.pending) + len(t.flushing))) }

func (t *toucher) batchLimit() int {
	if t.batchMax > 0 {
		return t.batchMax
	}
	return touchBatchMax
}

// wake starts a batch now. Called with t.mu held.
func (t *toucher) wake() {
	select {
	case t.kick <- struct{}{}:
	default: // one is on its way
	}
}

// run is the flusher: it writes batches until nothing waits, then ends.
func (t *toucher) run(m *Manager) {
	defer t.wg.Done()
	for {
		t.mu.Lock()
		if len(t.pending) == 0 {
			t.running = false
			t.mu.Unlock()
			return
		}
		delay := touchFlushDelay
		if t.delay > 0 {
			delay = t.delay
		}
		wait, closed := time.Until(t.first.Add(delay)), t.closed
		t.mu.Unlock()
		if wait > 0 && !closed {
			timer := time.NewTimer(wait)
			select {
			case <-timer.C:
			case <-t.kick:
				timer.Stop()
			}
		}
		if err := t.flush(m); err != nil {
			t.mu.Lock()
			if t.closed {
				t.closeErr = errors.Join(t.closeErr, err)
			}
			t.mu.Unlock()
		}
	}
}

// flush writes the pending uses as one batch. A failure is logged and the
// batch dropped: the sessions keep their stored LastSeenAt.
func (t *toucher) flush(m *Manager) error {
	t.flushMu.Lock()
	defer t.flushMu.Unlock()
	t.mu.Lock()
	batch := make([]SessionTouch, 0, len(t.pending))
	for id, at := range t.pending {
		batch = append(batch, SessionTouch{ID: id, At: at})
	}
	t.flushing, t.pending = t.pending, nil
	t.mu.Unlock()
	var err error
	if len(batch) > 0 {
		ctx, cancel := context.WithTimeout(context.Background(), touchFlushTimeout)
		err = m.writeTouches(ctx, batch)
		cancel()
		if err != nil {
			err = fmt.Errorf("auth: recording the last use of %d sessions: %w", len(batch), err)
			m.log.Error("usher: sessions' last use not recorded; they may end early", "sessions", len(batch), "err", err)
		}
	}
	t.mu.Lock()
	t.flushing = nil
	t.count()
	hook := t.onFlush
	t.mu.Unlock()
	if hook != nil {
		hook(len(batch), err)
	}
	return err
}

// writeTouches writes one batch: in one call where the store can, else
// one Touch per session.
func (m *Manager) writeTouches(ctx context.Context, batch []SessionTouch) error {
	ss := m.store.Sessions()
	if tb, ok := ss.(SessionBatchToucher); ok {
		return tb.TouchBatch(ctx, batch)
	}
	var errs []error
	for _, t := range batch {
		if err := ss.Touch(ctx, t.ID, t.At, t.At); err != nil && !errors.Is(err, ErrSessionNotFound) {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

// close writes what waits and stops the flusher; later uses are written
// on the request.
func (t *toucher) close(m *Manager) error {
	t.mu.Lock()
	if t.closed {
		t.mu.Unlock()
		return nil
	}
	t.closed = true
	if t.kick != nil {
		t.wake()
	}
	t.mu.Unlock()
	t.wg.Wait()
	err := t.flush(m) // nothing, unless the flusher had already ended
	t.mu.Lock()
	defer t.mu.Unlock()
	return errors.Join(t.closeErr, err)
}

// Close writes the sessions' last uses that wait to be written (see
// [Config.IdleTimeout]) and stops the background work that writes them;
// it returns an error, also logged, when they could not be written. It
// does not close the Store, and the Manager stays usable: after Close,
// Authenticate writes a session's last use itself, on the request. A host
// calls Close on shutdown, before closing the Store; without it, the
// uses of the last few seconds are lost and those sessions may end a
// little early, never late. Close is safe to call more than once.
func (m *Manager) Close() error { return m.touches.close(m) }

// touch records that s was used at now, once its LastSeenAt is
// touchInterval old: queued for the flusher, or written now when the
// session is near its idle deadline (see touchHeadroom) or the Manager is
// closed.
func (m *Manager) touch(ctx context.Context, s *Session, now time.Time) error {
	if now.Sub(s.LastSeenAt) < touchInterval {
		return nil
	}
	near := s.LastSeenAt.Add(m.idleTimeout(s)).Sub(now) < touchHeadroom
	if near || !m.touches.queue(m, s.ID, now) {
		if err := m.store.Sessions().Touch(ctx, s.ID, now, now.Add(-touchInterval)); err != nil {
			return err
		}
	}
	s.LastSeenAt = now
	return nil
}

// lastSeen brings s.LastSeenAt up to this Manager's latest known use.
func (m *Manager) lastSeen(s *Session) {
	s.LastSeenAt = m.touches.seen(s.ID, s.LastSeenAt)
}
