package worker

import (
	"context"
	"sync"
	"time"

	"pilmon/store"
)

// acker acknowledges finished jobs in batches: every job finished while a round trip is under way
// is acknowledged by the next one, one store.Store.AckJobs call (one transaction) for all of
// them. A caller waits for its own acknowledgement.
type acker struct {
	store *store.Store

	mu       sync.Mutex
	buf      []pendingAck
	flushing bool
}

type pendingAck struct {
	id   string
	errc chan error
}

func (a *acker) ack(ctx context.Context, streamID string) error {
	errc := make(chan error, 1)
	a.mu.Lock()
	a.buf = append(a.buf, pendingAck{id: streamID, errc: errc})
	start := !a.flushing
	a.flushing = true
	a.mu.Unlock()
	if start {
		go a.flush()
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
		return ctx.Err()
	}
}

const maxAckBatch = 1000

func (a *acker) flush() {
	for {
		a.mu.Lock()
		batch := a.buf
		if len(batch) > maxAckBatch {
			batch = batch[:maxAckBatch]
		}
		a.buf = a.buf[len(batch):]
		if len(batch) == 0 {
			a.buf = nil
			a.flushing = false
			a.mu.Unlock()
			return
		}
		a.mu.Unlock()
		ids := make([]string, len(batch))
		for i, b := range batch {
			ids[i] = b.id
		}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		err := a.store.AckJobs(ctx, ids...)
		cancel()
		for _, b := range batch {
			b.errc <- err
		}
	}
}
