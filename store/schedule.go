package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/redis/go-redis/v9"
)

// Schedule bookkeeping (under the store prefix):
//
//	schedule:cursor            hash target id → Unix ms of the last tick enqueued (for a target
//	                           seen for the first time, the moment its initial scan was enqueued)
//	schedule:tick:{tid}:{ms}   dedupe marker of one tick of one target, kept as long as asked
const (
	scheduleCursorKey = "schedule:cursor"
	scheduleTickKey   = "schedule:tick:"
)

// enqueueTickScript: KEYS = dedupe marker, jobs stream, cursor hash; ARGV = dedupe TTL ms, job JSON,
// target id, tick ms. Enqueues once per marker and moves the cursor forward either way. Returns
// the stream id, or false when the tick was already enqueued.
var enqueueTickScript = redis.NewScript(`
local id = false
if redis.call('SET', KEYS[1], '1', 'NX', 'PX', ARGV[1]) then
  id = redis.call('XADD', KEYS[2], '*', 'job', ARGV[2])
end
local cur = tonumber(redis.call('HGET', KEYS[3], ARGV[3]) or '0')
if tonumber(ARGV[4]) > cur then
  redis.call('HSET', KEYS[3], ARGV[3], ARGV[4])
end
return id
`)

// EnqueueScheduledJob enqueues j as the scan of its target's schedule at tick, at most once per
// target and tick however many schedulers ask (a dedupe marker kept for dedupe, set in the same
// script as the XADD), and moves the target's schedule cursor forward to tick either way. It
// returns the stream id, or "" when the tick had been enqueued before. A zero j.At is set to now.
func (s *Store) EnqueueScheduledJob(ctx context.Context, j Job, tick time.Time, dedupe time.Duration) (string, error) {
	b, err := s.encodeJob(&j)
	if err != nil {
		return "", err
	}
	// The group must exist before the script's XADD, or the job would be invisible to a group
	// created later from "$".
	if err := s.ensureGroup(ctx); err != nil {
		return "", err
	}
	ms := strconv.FormatInt(tick.UnixMilli(), 10)
	keys := []string{s.prefix + scheduleTickKey + j.TargetID + ":" + ms, s.jobsKey(), s.prefix + scheduleCursorKey}
	id, err := enqueueTickScript.Run(ctx, s.rdb, keys, dedupe.Milliseconds(), b, j.TargetID, ms).Text()
	if errors.Is(err, redis.Nil) {
		return "", nil // already enqueued by another scheduler
	}
	if err != nil {
		return "", fmt.Errorf("enqueue scheduled scan of %s at %s: %w", j.TargetID, tick.Format(time.RFC3339), err)
	}
	return id, nil
}

// ScheduleCursors returns, per target id, the last tick of its schedule that was enqueued (for a
// target whose schedule was seen only once, when its initial scan was). A value that does not
// parse reads as the Unix epoch.
func (s *Store) ScheduleCursors(ctx context.Context) (map[string]time.Time, error) {
	raw, err := s.rdb.HGetAll(ctx, s.prefix+scheduleCursorKey).Result()
	if err != nil {
		return nil, fmt.Errorf("read schedule cursors: %w", err)
	}
	out := make(map[string]time.Time, len(raw))
	for tid, v := range raw {
		ms, _ := strconv.ParseInt(v, 10, 64)
		out[tid] = time.UnixMilli(ms)
	}
	return out, nil
}
