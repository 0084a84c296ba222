package pipeline

import (
	"context"
	"encoding/json"
	"sync"
	"time"

	"pilmon/store"

	"github.com/redis/go-redis/v9"
)

// eventQueue publishes progress events without making a scan wait a round trip per event: events
// are queued, and one flusher at a time writes everything queued in a single pipelined round trip
// (so concurrent scans share it). Order is kept. The entries are exactly what
// store.Store.PublishEvent writes (field "event" holding the JSON, stream capped near 10,000);
// a test reads them back with ReadEvents.
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

const (
	eventsMaxLen    = 10000
	maxQueuedEvents = 10000 // beyond this, the oldest queued events are dropped (progress is best effort)
	maxEventBytes   = 1 << 20
)

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
	pipe := q.store.Client().Pipeline()
	key := q.store.Prefix() + store.EventsStream
	n := 0
	for _, b := range batch {
		e := b.e
		if e.At.IsZero() {
			e.At = q.now()
		}
		e.At = e.At.UTC()
		raw, err := json.Marshal(e)
		if err != nil || len(raw) > maxEventBytes {
			continue
		}
		pipe.XAdd(ctx, &redis.XAddArgs{Stream: key, MaxLen: eventsMaxLen, Approx: true, Values: []any{"event", raw}})
		n++
	}
	if n == 0 {
		return
	}
	if _, err := pipe.Exec(ctx); err != nil && q.onErr != nil {
		q.onErr(err)
	}
}
