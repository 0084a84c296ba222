package store

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"

	"pilmon/scanner"
)

func TestJobsEnqueueReadAck(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	job := Job{ID: "scan-1", TargetID: "app:com.example", RequestedBy: "analyst-li",
		Sources: []scanner.Source{{Kind: scanner.SourceAPK, Locator: "samples/a.apk"}}, At: t0}
	id, err := s.EnqueueJob(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	// A second store on the same prefix (another process) finds the group already there.
	if _, err := NewStore(s.rdb, s.prefix).EnqueueJob(ctx, Job{ID: "scan-2", TargetID: "t"}); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadJobs(ctx, "worker-a", 1, -1)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != 1 || got[0].StreamID != id || got[0].Job.ID != "scan-1" || got[0].Job.Sources[0].Locator != "samples/a.apk" || !got[0].Job.At.Equal(t0) {
		t.Fatalf("read %+v, want scan-1 as %s", got, id)
	}
	rest, err := s.ReadJobs(ctx, "worker-b", 10, -1)
	if err != nil || len(rest) != 1 || rest[0].Job.ID != "scan-2" {
		t.Fatalf("worker-b read %+v, %v; want scan-2 only", rest, err)
	}
	none, err := s.ReadJobs(ctx, "worker-b", 10, 50*time.Millisecond)
	if err != nil || len(none) != 0 {
		t.Fatalf("empty read = %+v, %v", none, err)
	}
	for _, m := range append(got, rest...) {
		if err := s.AckJobs(ctx, m.StreamID); err != nil {
			t.Fatal(err)
		}
	}
	if n, _ := s.rdb.XLen(ctx, s.jobsKey()).Result(); n != 0 {
		t.Errorf("stream holds %d entries after every job was acknowledged", n)
	}
	if _, err := s.EnqueueJob(ctx, Job{TargetID: "t"}); err == nil {
		t.Error("job without id accepted")
	}
}

func TestJobsClaimStaleAndDeadLetter(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.EnqueueJob(ctx, Job{ID: "scan-crash", TargetID: "t"}); err != nil {
		t.Fatal(err)
	}
	// worker-a takes the job and "crashes" without acknowledging it.
	if got, err := s.ReadJobs(ctx, "worker-a", 1, -1); err != nil || len(got) != 1 {
		t.Fatalf("read %v, %v", got, err)
	}
	if got, err := s.ClaimStale(ctx, "worker-b", time.Hour); err != nil || len(got) != 0 {
		t.Fatalf("claimed a job idle for less than minIdle: %v, %v", got, err)
	}
	claimed, err := s.ClaimStale(ctx, "worker-b", 0)
	if err != nil {
		t.Fatal(err)
	}
	if len(claimed) != 1 || claimed[0].Job.ID != "scan-crash" || claimed[0].Deliveries != 2 {
		t.Fatalf("claimed %+v, want scan-crash on its second delivery", claimed)
	}
	pending, _ := s.rdb.XPendingExt(ctx, &redis.XPendingExtArgs{Stream: s.jobsKey(), Group: WorkersGroup, Start: "-", End: "+", Count: 10}).Result()
	if len(pending) != 1 || pending[0].Consumer != "worker-b" {
		t.Errorf("pending = %+v, want the job with worker-b", pending)
	}
	if err := s.DeadLetter(ctx, claimed[0], errors.New("APK 解析失败 parse failed")); err != nil {
		t.Fatal(err)
	}
	dead, err := s.DeadJobs(ctx, 10)
	if err != nil {
		t.Fatal(err)
	}
	if len(dead) != 1 || dead[0].OriginalID != claimed[0].StreamID || dead[0].Error != "APK 解析失败 parse failed" {
		t.Errorf("dead = %+v", dead)
	}
	if n, _ := s.rdb.XLen(ctx, s.jobsKey()).Result(); n != 0 {
		t.Errorf("dead-lettered job still in the stream (%d entries)", n)
	}
	if pending, _ := s.rdb.XPending(ctx, s.jobsKey(), WorkersGroup).Result(); pending.Count != 0 {
		t.Errorf("dead-lettered job still pending: %+v", pending)
	}
	// DeadJobFor finds the letter by the job's id among those since a time before it, and not
	// among those after it, nor for another id.
	if d, ok, err := s.DeadJobFor(ctx, "scan-crash", time.Now().Add(-time.Minute)); err != nil || !ok || d.Error != "APK 解析失败 parse failed" {
		t.Errorf("DeadJobFor = %+v %v %v", d, ok, err)
	}
	if _, ok, err := s.DeadJobFor(ctx, "scan-crash", time.Now().Add(time.Minute)); err != nil || ok {
		t.Errorf("DeadJobFor found a letter older than since: %v %v", ok, err)
	}
	if _, ok, err := s.DeadJobFor(ctx, "scan-other", time.Time{}); err != nil || ok {
		t.Errorf("DeadJobFor found another job's letter: %v %v", ok, err)
	}
}

func TestJobsUndecodableEntryIsDeadLettered(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.EnqueueJob(ctx, Job{ID: "good", TargetID: "t"}); err != nil {
		t.Fatal(err)
	}
	if err := s.rdb.XAdd(ctx, &redis.XAddArgs{Stream: s.jobsKey(), Values: []any{"job", "{not json"}}).Err(); err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadJobs(ctx, "w", 10, -1)
	if err != nil || len(got) != 1 || got[0].Job.ID != "good" {
		t.Fatalf("read %+v, %v; want the good job only", got, err)
	}
	dead, _ := s.DeadJobs(ctx, 10)
	if len(dead) != 1 || dead[0].Job != "{not json" {
		t.Errorf("dead = %+v", dead)
	}
}

func TestJobsGroupRecreatedAfterFlush(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if _, err := s.EnqueueJob(ctx, Job{ID: "a", TargetID: "t"}); err != nil {
		t.Fatal(err)
	}
	s.rdb.Del(ctx, s.jobsKey()) // the stream and its group vanish behind the store's back
	if got, err := s.ReadJobs(ctx, "w", 1, -1); err != nil || len(got) != 0 {
		t.Fatalf("read after the stream vanished: %v, %v", got, err)
	}
}

func TestEvents(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	id1, err := s.PublishEvent(ctx, Event{Kind: "scan.started", ScanID: "scan-1", TargetID: "t", Message: "开始扫描", Data: map[string]any{"sources": 3.0}})
	if err != nil {
		t.Fatal(err)
	}
	got, err := s.ReadEvents(ctx, "0", 10, -1)
	if err != nil || len(got) != 1 || got[0].StreamID != id1 || got[0].Event.Message != "开始扫描" || got[0].Event.Data["sources"] != 3.0 || got[0].Event.At.IsZero() {
		t.Fatalf("events = %+v, %v", got, err)
	}
	// A reader waiting for new events gets the next one.
	done := make(chan []EventMessage)
	go func() {
		evs, _ := s.ReadEvents(ctx, id1, 10, 5*time.Second)
		done <- evs
	}()
	time.Sleep(50 * time.Millisecond)
	if _, err := s.PublishEvent(ctx, Event{Kind: "scan.finished", ScanID: "scan-1"}); err != nil {
		t.Fatal(err)
	}
	if evs := <-done; len(evs) != 1 || evs[0].Event.Kind != "scan.finished" {
		t.Errorf("blocked reader got %+v", evs)
	}
	if _, err := s.PublishEvent(ctx, Event{}); err == nil {
		t.Error("event without kind accepted")
	}
}

func TestEventsStreamIsCapped(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	for range eventsMaxLen + 1500 {
		if _, err := s.PublishEvent(ctx, Event{Kind: "inspector.progress", ScanID: "s"}); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.rdb.XLen(ctx, s.eventKey()).Result()
	if err != nil {
		t.Fatal(err)
	}
	// MAXLEN ~ trims whole stream nodes (100 entries by default), so a little over the cap remains.
	if n < eventsMaxLen || n > eventsMaxLen+200 {
		t.Errorf("events stream holds %d entries, want about %d", n, eventsMaxLen)
	}
}

func TestPublishEventsBatch(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	if ids, err := s.PublishEvents(ctx); err != nil || len(ids) != 0 {
		t.Fatalf("no events: %v, %v", ids, err)
	}
	big := Event{Kind: "too.big", Message: strings.Repeat("x", maxStreamEntry)}
	ids, err := s.PublishEvents(ctx, Event{Kind: "a", At: t0}, Event{}, Event{Kind: "b"}, big, Event{Kind: "c"})
	if err == nil || !strings.Contains(err.Error(), "2 of 5 events") || !strings.Contains(err.Error(), "empty kind") {
		t.Errorf("error = %v, want the two refused events counted and the first named", err)
	}
	if len(ids) != 5 || ids[0] == "" || ids[1] != "" || ids[2] == "" || ids[3] != "" || ids[4] == "" {
		t.Fatalf("ids = %q", ids)
	}
	got, err := s.ReadEvents(ctx, "0", 10, -1)
	if err != nil || len(got) != 3 {
		t.Fatalf("events = %+v, %v", got, err)
	}
	for i, kind := range []string{"a", "b", "c"} { // in order, with their ids
		if got[i].Event.Kind != kind || got[i].StreamID != ids[[]int{0, 2, 4}[i]] || got[i].Event.At.IsZero() {
			t.Errorf("event %d = %+v", i, got[i])
		}
	}
	if !got[0].Event.At.Equal(t0) {
		t.Errorf("given At changed to %v", got[0].Event.At)
	}
	// Batches are capped like single events (one max length for every writer).
	batch := make([]Event, eventsMaxLen+1500)
	for i := range batch {
		batch[i] = Event{Kind: "inspector.progress"}
	}
	if _, err := s.PublishEvents(ctx, batch...); err != nil {
		t.Fatal(err)
	}
	if n := s.rdb.XLen(ctx, s.eventKey()).Val(); n < eventsMaxLen || n > eventsMaxLen+200 {
		t.Errorf("events stream holds %d entries, want about %d", n, eventsMaxLen)
	}
}

func TestAckJobsBatchAndNotedErrors(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	for i := range 5 {
		if _, err := s.EnqueueJob(ctx, Job{ID: fmt.Sprintf("scan-%d", i), TargetID: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	if n, err := s.JobCount(ctx); err != nil || n != 5 {
		t.Fatalf("JobCount = %d, %v", n, err)
	}
	queued, err := s.QueuedJobs(ctx, 0)
	if err != nil || len(queued) != 5 || queued[0].Job.ID != "scan-0" || queued[4].Job.ID != "scan-4" {
		t.Fatalf("QueuedJobs = %+v, %v", queued, err)
	}
	if two, _ := s.QueuedJobs(ctx, 2); len(two) != 2 {
		t.Errorf("QueuedJobs(2) returned %d", len(two))
	}
	msgs, err := s.ReadJobs(ctx, "w", 5, -1)
	if err != nil || len(msgs) != 5 {
		t.Fatalf("read %d, %v", len(msgs), err)
	}
	if msg, err := s.JobError(ctx, msgs[0].StreamID); err != nil || msg != "" {
		t.Fatalf("error of a job that never failed = %q, %v", msg, err)
	}
	for _, m := range msgs {
		if err := s.NoteJobError(ctx, m.StreamID, "超时 timeout "+m.Job.ID); err != nil {
			t.Fatal(err)
		}
	}
	if msg, _ := s.JobError(ctx, msgs[1].StreamID); msg != "超时 timeout scan-1" {
		t.Fatalf("noted error = %q", msg)
	}
	// One call acknowledges a batch: acknowledged, deleted, errors forgotten.
	ids := []string{msgs[0].StreamID, msgs[1].StreamID, msgs[2].StreamID}
	if err := s.AckJobs(ctx, ids...); err != nil {
		t.Fatal(err)
	}
	if err := s.AckJobs(ctx); err != nil {
		t.Fatal(err)
	}
	if n, _ := s.JobCount(ctx); n != 2 {
		t.Errorf("%d jobs left after acknowledging 3 of 5", n)
	}
	if p := s.rdb.XPending(ctx, s.jobsKey(), WorkersGroup).Val(); p.Count != 2 {
		t.Errorf("%d pending after acknowledging 3 of 5", p.Count)
	}
	for i, m := range msgs {
		msg, _ := s.JobError(ctx, m.StreamID)
		if (i < 3) != (msg == "") {
			t.Errorf("job %d: noted error %q after the ack", i, msg)
		}
	}
	// Dead-lettering forgets the noted error too.
	if err := s.DeadLetter(ctx, msgs[3], errors.New("gave up")); err != nil {
		t.Fatal(err)
	}
	if msg, _ := s.JobError(ctx, msgs[3].StreamID); msg != "" {
		t.Errorf("dead-lettered job keeps its noted error %q", msg)
	}
}

func TestHeartbeatJobs(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	n := maxHeartbeatIDs + 20 // more than one XCLAIM
	for i := range n {
		if _, err := s.EnqueueJob(ctx, Job{ID: fmt.Sprintf("scan-%d", i), TargetID: "t"}); err != nil {
			t.Fatal(err)
		}
	}
	msgs, err := s.ReadJobs(ctx, "w", int64(n), -1)
	if err != nil || len(msgs) != n {
		t.Fatalf("read %d, %v", len(msgs), err)
	}
	ids := make([]string, len(msgs))
	for i, m := range msgs {
		ids[i] = m.StreamID
	}
	time.Sleep(300 * time.Millisecond)
	if err := s.HeartbeatJobs(ctx, "w", ids); err != nil {
		t.Fatal(err)
	}
	if err := s.HeartbeatJobs(ctx, "w", nil); err != nil {
		t.Fatal(err)
	}
	// Every job's idle time was reset, so none is stale for another worker…
	if got, err := s.ClaimStale(ctx, "other", 250*time.Millisecond); err != nil || len(got) != 0 {
		t.Fatalf("claimed %d jobs right after the heartbeat, %v", len(got), err)
	}
	// …and the heartbeat did not count as a delivery.
	time.Sleep(300 * time.Millisecond)
	got, err := s.ClaimStale(ctx, "other", 250*time.Millisecond)
	if err != nil || len(got) != n {
		t.Fatalf("claimed %d of %d after they went idle, %v", len(got), n, err)
	}
	for _, m := range got {
		if m.Deliveries != 2 {
			t.Fatalf("job %s on delivery %d, want 2 (the heartbeat is not a delivery)", m.Job.ID, m.Deliveries)
		}
	}
}

func TestPing(t *testing.T) {
	t.Parallel()
	if err := newTestStore(t).Ping(context.Background()); err != nil {
		t.Fatal(err)
	}
}
