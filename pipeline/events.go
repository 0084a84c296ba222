package pipeline

import (
	"context"
	"sync"
	"time"

	"pilmon/store"
)

// eventQueue publishes progress events without making a scan wait a round trip per event: events
// are queued, and one flusher at a time writes everything queued with one store.Store.PublishEvents
// call, a single pipelined round trip (so concurrent scans share it). Order is kept.
type eventQueue struct {
	store *store.Store
	now   func() time.Time
	onErr func(error)

	mu       sync.Mutex
	buf      []queuedEvent
	flushing bool
}

type queuedEvent struct {
	e    store.Event
	done chan struct{} // closed once written (or dropped); nil when nobody waits
}

// maxQueuedEvents bounds the queue: beyond it, the oldest queued events are dropped (progress is
// best effort).
const maxQueuedEvents = 10000

// add queues e; the returned channel is closed once it was written (or dropped).
func (q *eventQueue) add(e store.Event, wait bool) <-chan struct{} {
	var done chan struct{}
	if wait {
		done = make(chan struct{})
	}
	q.mu.Lock()
	if len(q.buf) >= maxQueuedEvents {
		if d := q.buf[0].done; d != nil {
			close(d)
		}
		q.buf = q.buf[1:]
	}
	q.buf = append(q.buf, queuedEvent{e: e, done: done})
	start := !q.flushing
	q.flushing = true
	q.mu.Unlock()
	if start {
		go q.flush()
	}
	return done
}

func (q *eventQueue) flush() {
	for {
		q.mu.Lock()
		batch := q.buf
		q.buf = nil
		if len(batch) == 0 {
			q.flushing = false
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.write(batch)
		for _, b := range batch {
			if b.done != nil {
				close(b.done)
			}
		}
	}
}

func (q *eventQueue) write(batch []queuedEvent) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	es := make([]store.Event, len(batch))
	for i, b := range batch {
		es[i] = b.e
		if es[i].At.IsZero() {
			es[i].At = q.now()
		}
	}
	if _, err := q.store.PublishEvents(ctx, es...); err != nil && q.onErr != nil {
		q.onErr(err)
	}
}
