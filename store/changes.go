package store

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/redis/go-redis/v9"
)

// The change feed: every script that writes a finding (upsert, transition, not-re-observed mark)
// appends, in the same atomic run, one entry to the stream "findings:changes" naming the
// fingerprints it changed, numbered by the counter "findings:changes:seq". A reader that keeps a
// copy of the findings (the dashboard's list index) loads everything once, then applies the feed;
// the numbers are consecutive, so a reader that finds a gap (it fell behind the stream's cap, or
// Redis lost writes in a crash) knows it must load everything again. A write that changes nothing
// (a re-delivered batch) appends nothing.
const (
	ChangesStream = "findings:changes"
	changesSeqKey = "findings:changes:seq"
	// ChangesMaxLen is the approximate number of entries kept (each names a batch of fingerprints).
	ChangesMaxLen = 10000
)

// Change is one entry of the change feed.
type Change struct {
	ID           string // stream entry id
	Seq          int64  // 1, 2, 3, … without gaps
	Fingerprints []string
}

// ChangesHead is where the feed stands now: the number of the last change and its entry id ("0-0"
// when the stream is empty). Read it before loading every finding, then apply the changes after it:
// a change that raced the load is applied twice, which is harmless, and none is missed.
type ChangesHead struct {
	Seq int64
	ID  string
}

var changesHeadScript = redis.NewScript(`
local seq = redis.call('GET', KEYS[1]) or '0'
local last = redis.call('XREVRANGE', KEYS[2], '+', '-', 'COUNT', 1)
local id = '0-0'
if #last > 0 then id = last[1][1] end
return {seq, id}
`)

// ChangesHead returns the feed's current position.
func (s *Store) ChangesHead(ctx context.Context) (ChangesHead, error) {
	res, err := changesHeadScript.Run(ctx, s.rdb, []string{s.prefix + changesSeqKey, s.prefix + ChangesStream}).StringSlice()
	if err != nil {
		return ChangesHead{}, fmt.Errorf("change feed head: %w", err)
	}
	seq, err := strconv.ParseInt(res[0], 10, 64)
	if err != nil {
		return ChangesHead{}, fmt.Errorf("change feed head: counter %q: %w", res[0], err)
	}
	return ChangesHead{Seq: seq, ID: res[1]}, nil
}

// ReadChanges returns up to count changes after entry id after, waiting up to block for the first
// one when block > 0 (zero: answer at once). No change gives an empty slice and no error.
func (s *Store) ReadChanges(ctx context.Context, after string, count int64, block time.Duration) ([]Change, error) {
	return ParseChanges(s.QueueReadChanges(ctx, s.rdb, after, count, block))
}

// QueueReadChanges adds a read of the change feed to c (a client or a pipeline, so that the read
// shares a round trip with other commands); ParseChanges reads its answer.
func (s *Store) QueueReadChanges(ctx context.Context, c redis.Cmdable, after string, count int64, block time.Duration) *redis.XStreamSliceCmd {
	if block <= 0 {
		block = -1 // go-redis: no BLOCK argument
	}
	return c.XRead(ctx, &redis.XReadArgs{Streams: []string{s.prefix + ChangesStream, after}, Count: count, Block: block})
}

// ParseChanges decodes the answer of a QueueReadChanges command.
func ParseChanges(cmd *redis.XStreamSliceCmd) ([]Change, error) {
	streams, err := cmd.Result()
	if errors.Is(err, redis.Nil) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read change feed: %w", err)
	}
	var out []Change
	for _, st := range streams {
		for _, m := range st.Messages {
			c := Change{ID: m.ID}
			seq, _ := m.Values["seq"].(string)
			c.Seq, err = strconv.ParseInt(seq, 10, 64)
			if err != nil {
				return nil, fmt.Errorf("change feed entry %s: bad seq %q", m.ID, seq)
			}
			if fps, _ := m.Values["fps"].(string); fps != "" {
				c.Fingerprints = strings.Split(fps, "\n")
			}
			out = append(out, c)
		}
	}
	return out, nil
}
