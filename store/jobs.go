package store

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"

	"pilmon/scanner"
)

// Streams: scan jobs go through "jobs" with the consumer group "workers" (any number of worker
// processes; a crashed worker's jobs are taken over with XAUTOCLAIM), jobs that cannot be processed
// end in "jobs:dead", and scan progress goes to "events", capped at about 10,000 entries. The hash
// "jobs:errors" maps the stream id of a job whose delivery failed to the error, until the job is
// acknowledged or dead-lettered.
const (
	JobsStream     = "jobs"
	DeadJobsStream = "jobs:dead"
	EventsStream   = "events"
	WorkersGroup   = "workers"

	jobErrorsHash = "jobs:errors"

	eventsMaxLen   = 10000
	deadMaxLen     = 10000
	maxStreamEntry = 1 << 20 // bytes of JSON in one job or event
)

// Job asks a worker to scan a target.
type Job struct {
	// ID becomes the scan id.
	ID       string `json:"id"`
	TargetID string `json:"target_id"`
	// Sources, when set, limits the scan to these sources; empty means all of the target's sources.
	Sources     []scanner.Source `json:"sources,omitempty"`
	RequestedBy string           `json:"requested_by"`
	At          time.Time        `json:"at"`
}

// JobMessage is a job as read from the stream.
type JobMessage struct {
	// StreamID is the entry id, used to acknowledge or dead-letter the job.
	StreamID string
	Job      Job
	// Deliveries is how many times the entry has been delivered, this one included (set by
	// ClaimStale, 1 for ReadJobs); a worker dead-letters a job that keeps failing.
	Deliveries int64
	raw        string
}

func (s *Store) jobsKey() string      { return s.prefix + JobsStream }
func (s *Store) deadKey() string      { return s.prefix + DeadJobsStream }
func (s *Store) eventKey() string     { return s.prefix + EventsStream }
func (s *Store) jobErrorsKey() string { return s.prefix + jobErrorsHash }

// ensureGroup creates the consumer group (and the stream) once; "0" makes jobs enqueued before the
// group existed visible to it.
func (s *Store) ensureGroup(ctx context.Context) error {
	if s.groupReady.Load() {
		return nil
	}
	err := s.rdb.XGroupCreateMkStream(ctx, s.jobsKey(), WorkersGroup, "0").Err()
	if err != nil && !redis.HasErrorPrefix(err, "BUSYGROUP") {
		return fmt.Errorf("create consumer group %s on %s: %w", WorkersGroup, s.jobsKey(), err)
	}
	s.groupReady.Store(true)
	return nil
}

// retryNoGroup runs op, and once more after recreating the group when the stream was deleted
// behind the store's back (FLUSHALL, a restored snapshot).
func (s *Store) retryNoGroup(ctx context.Context, op func() error) error {
	if err := s.ensureGroup(ctx); err != nil {
		return err
	}
	err := op()
	if redis.HasErrorPrefix(err, "NOGROUP") {
		s.groupReady.Store(false)
		if err := s.ensureGroup(ctx); err != nil {
			return err
		}
		err = op()
	}
	return err
}

// EnqueueJob adds a scan job and returns its stream id. A zero At is set to now.
func (s *Store) EnqueueJob(ctx context.Context, j Job) (string, error) {
	b, err := s.encodeJob(&j)
	if err != nil {
		return "", err
	}
	if err := s.ensureGroup(ctx); err != nil {
		return "", err
	}
	id, err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.jobsKey(), Values: []any{"job", b}}).Result()
	if err != nil {
		return "", fmt.Errorf("enqueue job %s: %w", j.ID, err)
	}
	return id, nil
}

// encodeJob checks j, sets a zero At to now and returns the stream entry's JSON.
func (s *Store) encodeJob(j *Job) ([]byte, error) {
	if err := checkID("job id", j.ID); err != nil {
		return nil, err
	}
	if err := checkID("target id", j.TargetID); err != nil {
		return nil, err
	}
	if j.At.IsZero() {
		j.At = s.now()
	}
	j.At = j.At.UTC()
	b, err := json.Marshal(j)
	if err != nil {
		return nil, err
	}
	if len(b) > maxStreamEntry {
		return nil, fmt.Errorf("job %s: %d bytes, limit %d", j.ID, len(b), maxStreamEntry)
	}
	return b, nil
}

// ReadJobs returns up to count new jobs for consumer, waiting up to block for the first (0 waits
// forever, a negative block does not wait). An entry that does not decode is dead-lettered and
// skipped.
func (s *Store) ReadJobs(ctx context.Context, consumer string, count int64, block time.Duration) ([]JobMessage, error) {
	if err := checkID("consumer", consumer); err != nil {
		return nil, err
	}
	var streams []redis.XStream
	err := s.retryNoGroup(ctx, func() error {
		var err error
		streams, err = s.rdb.XReadGroup(ctx, &redis.XReadGroupArgs{
			Group: WorkersGroup, Consumer: consumer, Streams: []string{s.jobsKey(), ">"},
			Count: count, Block: block,
		}).Result()
		return err
	})
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read jobs for %s: %w", consumer, err)
	}
	var msgs []redis.XMessage
	for _, st := range streams {
		msgs = append(msgs, st.Messages...)
	}
	return s.decodeJobs(ctx, msgs, nil)
}

func (s *Store) decodeJobs(ctx context.Context, msgs []redis.XMessage, deliveries map[string]int64) ([]JobMessage, error) {
	out := make([]JobMessage, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["job"].(string)
		jm := JobMessage{StreamID: m.ID, raw: raw, Deliveries: 1}
		if n, ok := deliveries[m.ID]; ok {
			jm.Deliveries = n
		}
		if err := json.Unmarshal([]byte(raw), &jm.Job); err != nil || raw == "" {
			if err == nil {
				err = errors.New("entry has no job field")
			}
			if derr := s.DeadLetter(ctx, jm, fmt.Errorf("undecodable job: %w", err)); derr != nil {
				return out, derr
			}
			continue
		}
		out = append(out, jm)
	}
	return out, nil
}

// AckJobs marks finished jobs done in one transaction: acknowledged, their entries deleted (so the
// stream holds only jobs not yet finished) and the errors noted for their earlier deliveries
// forgotten. It takes one id or a batch: a worker acknowledges every job finished while its
// previous acknowledgement was under way in one call (worker/ack.go), which is what keeps the
// queue's throughput (bench/queue).
func (s *Store) AckJobs(ctx context.Context, streamIDs ...string) error {
	if len(streamIDs) == 0 {
		return nil
	}
	pipe := s.rdb.TxPipeline()
	pipe.XAck(ctx, s.jobsKey(), WorkersGroup, streamIDs...)
	pipe.XDel(ctx, s.jobsKey(), streamIDs...)
	pipe.HDel(ctx, s.jobErrorsKey(), streamIDs...)
	if _, err := pipe.Exec(ctx); err != nil {
		if len(streamIDs) == 1 {
			return fmt.Errorf("ack job %s: %w", streamIDs[0], err)
		}
		return fmt.Errorf("ack %d jobs: %w", len(streamIDs), err)
	}
	return nil
}

// maxHeartbeatIDs is how many jobs one XCLAIM of a heartbeat names.
const maxHeartbeatIDs = 500

// HeartbeatJobs resets the idle time of jobs consumer holds (XCLAIM … JUSTID, which leaves their
// delivery counts alone), so that ClaimStale in another worker does not take a long scan over.
// One pipelined round trip for any number of jobs.
func (s *Store) HeartbeatJobs(ctx context.Context, consumer string, streamIDs []string) error {
	if len(streamIDs) == 0 {
		return nil
	}
	pipe := s.rdb.Pipeline()
	for chunk := range slices.Chunk(streamIDs, maxHeartbeatIDs) {
		pipe.XClaimJustID(ctx, &redis.XClaimArgs{
			Stream: s.jobsKey(), Group: WorkersGroup, Consumer: consumer, MinIdle: 0, Messages: chunk,
		})
	}
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("heartbeat of %d jobs of %s: %w", len(streamIDs), consumer, err)
	}
	return nil
}

// NoteJobError keeps why a delivery of the job failed, for the dead letter if no later delivery
// succeeds. AckJobs and DeadLetter forget it.
func (s *Store) NoteJobError(ctx context.Context, streamID, msg string) error {
	if err := s.rdb.HSet(ctx, s.jobErrorsKey(), streamID, msg).Err(); err != nil {
		return fmt.Errorf("note error of job %s: %w", streamID, err)
	}
	return nil
}

// JobError returns the error noted for the job's last failed delivery ("" when none was noted).
func (s *Store) JobError(ctx context.Context, streamID string) (string, error) {
	msg, err := s.rdb.HGet(ctx, s.jobErrorsKey(), streamID).Result()
	if errors.Is(err, redis.Nil) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("error of job %s: %w", streamID, err)
	}
	return msg, nil
}

// JobCount returns how many jobs the stream holds: queued or running, not yet finished.
func (s *Store) JobCount(ctx context.Context) (int64, error) {
	n, err := s.rdb.XLen(ctx, s.jobsKey()).Result()
	if err != nil {
		return 0, fmt.Errorf("count jobs: %w", err)
	}
	return n, nil
}

// QueuedJobs returns up to count jobs of the stream (count <= 0: all), oldest first, without
// reading them for a consumer (a listing: entries that do not decode are skipped, not
// dead-lettered). Deliveries is 0.
func (s *Store) QueuedJobs(ctx context.Context, count int64) ([]JobMessage, error) {
	var msgs []redis.XMessage
	var err error
	if count > 0 {
		msgs, err = s.rdb.XRangeN(ctx, s.jobsKey(), "-", "+", count).Result()
	} else {
		msgs, err = s.rdb.XRange(ctx, s.jobsKey(), "-", "+").Result()
	}
	if err != nil {
		return nil, fmt.Errorf("list jobs: %w", err)
	}
	out := make([]JobMessage, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["job"].(string)
		jm := JobMessage{StreamID: m.ID, raw: raw}
		if raw == "" || json.Unmarshal([]byte(raw), &jm.Job) != nil {
			continue
		}
		out = append(out, jm)
	}
	return out, nil
}

// ClaimStale takes over, for consumer, every job delivered to some consumer more than minIdle ago
// and not acknowledged (its worker crashed or hung), with XAUTOCLAIM. Deliveries counts this claim.
func (s *Store) ClaimStale(ctx context.Context, consumer string, minIdle time.Duration) ([]JobMessage, error) {
	if err := checkID("consumer", consumer); err != nil {
		return nil, err
	}
	var all []redis.XMessage
	start := "0-0"
	for range 1000 { // bounded: 1000 pages of 100
		var msgs []redis.XMessage
		var next string
		err := s.retryNoGroup(ctx, func() error {
			var err error
			msgs, next, err = s.rdb.XAutoClaim(ctx, &redis.XAutoClaimArgs{
				Stream: s.jobsKey(), Group: WorkersGroup, Consumer: consumer, MinIdle: minIdle,
				Start: start, Count: 100,
			}).Result()
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("claim stale jobs for %s: %w", consumer, err)
		}
		all = append(all, msgs...)
		if next == "0-0" || next == "" {
			break
		}
		start = next
	}
	if len(all) == 0 {
		return nil, nil
	}
	deliveries := map[string]int64{}
	pend, err := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{
		Stream: s.jobsKey(), Group: WorkersGroup, Start: all[0].ID, End: all[len(all)-1].ID,
		Count: int64(len(all)) + 100, Consumer: consumer,
	}).Result()
	if err == nil {
		for _, p := range pend {
			deliveries[p.ID] = p.RetryCount
		}
	}
	return s.decodeJobs(ctx, all, deliveries)
}

// DeadLetter moves a job that cannot be processed to the dead-letter stream with the reason, and
// removes it from the jobs stream (with the error noted for it), in one transaction.
func (s *Store) DeadLetter(ctx context.Context, msg JobMessage, cause error) error {
	reason := "unknown"
	if cause != nil {
		reason = cause.Error()
	}
	raw := msg.raw
	if raw == "" {
		b, err := json.Marshal(msg.Job)
		if err != nil {
			return err
		}
		raw = string(b)
	}
	pipe := s.rdb.TxPipeline()
	pipe.XAdd(ctx, &redis.XAddArgs{
		Stream: s.deadKey(), MaxLen: deadMaxLen, Approx: true,
		Values: []any{"job", raw, "error", reason, "stream_id", msg.StreamID,
			"deliveries", msg.Deliveries, "at", s.now().UTC().Format(time.RFC3339Nano)},
	})
	pipe.XAck(ctx, s.jobsKey(), WorkersGroup, msg.StreamID)
	pipe.XDel(ctx, s.jobsKey(), msg.StreamID)
	pipe.HDel(ctx, s.jobErrorsKey(), msg.StreamID)
	if _, err := pipe.Exec(ctx); err != nil {
		return fmt.Errorf("dead-letter job %s: %w", msg.StreamID, err)
	}
	return nil
}

// DeadJob is an entry of the dead-letter stream.
type DeadJob struct {
	StreamID   string // id in the dead-letter stream
	OriginalID string // id it had in the jobs stream
	Job        string // the job's JSON as it was enqueued
	Error      string
	At         string
}

// DeadJobs returns up to count dead-lettered jobs, oldest first.
func (s *Store) DeadJobs(ctx context.Context, count int64) ([]DeadJob, error) {
	msgs, err := s.rdb.XRangeN(ctx, s.deadKey(), "-", "+", count).Result()
	if err != nil {
		return nil, fmt.Errorf("read dead jobs: %w", err)
	}
	out := make([]DeadJob, 0, len(msgs))
	for _, m := range msgs {
		str := func(k string) string { v, _ := m.Values[k].(string); return v }
		out = append(out, DeadJob{StreamID: m.ID, OriginalID: str("stream_id"), Job: str("job"), Error: str("error"), At: str("at")})
	}
	return out, nil
}

// DeadJobFor finds the dead letter of the job whose id (the scan id) is jobID among the jobs
// dead-lettered since since: the dead-letter stream's ids are times, so only the entries from
// then are read, in batches, and at most as many as the stream keeps. found is false when the
// job was not dead-lettered (it is queued, running, finished, or its letter was trimmed).
func (s *Store) DeadJobFor(ctx context.Context, jobID string, since time.Time) (DeadJob, bool, error) {
	const batch = 500
	start := "-" // a zero or pre-1970 since reads from the start
	if ms := since.UnixMilli(); ms > 0 {
		start = strconv.FormatInt(ms, 10) + "-0"
	}
	for read := 0; read < deadMaxLen; {
		msgs, err := s.rdb.XRangeN(ctx, s.deadKey(), start, "+", batch).Result()
		if err != nil {
			return DeadJob{}, false, fmt.Errorf("read dead jobs since %s: %w", since.UTC().Format(time.RFC3339), err)
		}
		for _, m := range msgs {
			raw, _ := m.Values["job"].(string)
			var j struct {
				ID string `json:"id"`
			}
			if json.Unmarshal([]byte(raw), &j) == nil && j.ID == jobID {
				str := func(k string) string { v, _ := m.Values[k].(string); return v }
				return DeadJob{StreamID: m.ID, OriginalID: str("stream_id"), Job: raw, Error: str("error"), At: str("at")}, true, nil
			}
		}
		if len(msgs) < batch {
			break
		}
		read += len(msgs)
		start = "(" + msgs[len(msgs)-1].ID
	}
	return DeadJob{}, false, nil
}

// Event is one progress event of a scan, for the CLI and the dashboard.
type Event struct {
	Kind     string         `json:"kind"` // e.g. "scan.started", "inspector.finished", "scan.finished"
	ScanID   string         `json:"scan_id,omitempty"`
	TargetID string         `json:"target_id,omitempty"`
	Message  string         `json:"message,omitempty"`
	At       time.Time      `json:"at"`
	Data     map[string]any `json:"data,omitempty"`
}

// EventMessage is an event as read from the stream.
type EventMessage struct {
	StreamID string
	Event    Event
}

// PublishEvent appends an event to the capped events stream and returns its id. A zero At is now.
func (s *Store) PublishEvent(ctx context.Context, e Event) (string, error) {
	ids, err := s.PublishEvents(ctx, e)
	return ids[0], err
}

// PublishEvents appends events to the capped events stream, in order, in one pipelined round trip
// (the pipeline queues a scan's progress and writes what concurrent scans queued together), and
// returns their ids. A zero At is now. An event with no kind or more than maxStreamEntry bytes
// of JSON is not written (its id is ""); the others are, and the error names the first failure.
func (s *Store) PublishEvents(ctx context.Context, es ...Event) ([]string, error) {
	ids := make([]string, len(es))
	cmds := make([]*redis.StringCmd, len(es))
	var first error
	failed := 0
	fail := func(err error) {
		if first == nil {
			first = err
		}
		failed++
	}
	pipe := s.rdb.Pipeline()
	for i, e := range es {
		b, err := s.encodeEvent(e)
		if err != nil {
			fail(err)
			continue
		}
		cmds[i] = pipe.XAdd(ctx, &redis.XAddArgs{
			Stream: s.eventKey(), MaxLen: eventsMaxLen, Approx: true, Values: []any{"event", b},
		})
	}
	if pipe.Len() > 0 {
		_, _ = pipe.Exec(ctx) // errors are per command, read below
		for i, c := range cmds {
			if c == nil {
				continue
			}
			id, err := c.Result()
			if err != nil {
				fail(fmt.Errorf("publish event %s: %w", es[i].Kind, err))
				continue
			}
			ids[i] = id
		}
	}
	if failed > 1 {
		return ids, fmt.Errorf("%d of %d events not published, the first: %w", failed, len(es), first)
	}
	return ids, first
}

func (s *Store) encodeEvent(e Event) ([]byte, error) {
	if e.Kind == "" {
		return nil, errors.New("publish event: empty kind")
	}
	if e.At.IsZero() {
		e.At = s.now()
	}
	e.At = e.At.UTC()
	b, err := json.Marshal(e)
	if err != nil {
		return nil, fmt.Errorf("publish event %s: %w", e.Kind, err)
	}
	if len(b) > maxStreamEntry {
		return nil, fmt.Errorf("publish event %s: %d bytes, limit %d", e.Kind, len(b), maxStreamEntry)
	}
	return b, nil
}

// ReadEvents returns up to count events after the stream id after ("0" from the oldest kept, "" or
// "$" only events published from now on), waiting up to block (negative: no wait, 0: forever).
// Entries that do not decode are skipped; pass the last returned StreamID as after to continue.
func (s *Store) ReadEvents(ctx context.Context, after string, count int64, block time.Duration) ([]EventMessage, error) {
	if after == "" {
		after = "$"
	}
	args := &redis.XReadArgs{Streams: []string{s.eventKey(), after}, Count: count, Block: block}
	if block < 0 {
		args.Block = -1
	}
	streams, err := s.rdb.XRead(ctx, args).Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read events: %w", err)
	}
	var out []EventMessage
	for _, st := range streams {
		out = append(out, decodeEvents(st.Messages)...)
	}
	return out, nil
}

// decodeEvents is the one decoder of events stream entries; entries that do not decode are skipped.
func decodeEvents(msgs []redis.XMessage) []EventMessage {
	out := make([]EventMessage, 0, len(msgs))
	for _, m := range msgs {
		raw, _ := m.Values["event"].(string)
		var e Event
		if json.Unmarshal([]byte(raw), &e) != nil {
			continue
		}
		out = append(out, EventMessage{StreamID: m.ID, Event: e})
	}
	return out
}
