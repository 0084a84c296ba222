package store

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	"pilmon/findings"
	"pilmon/rules"
)

// checkIndexes compares every index with what the stored findings say: each finding is in idx:all,
// its state's, its target's and its rule's index with score rank × 1e13 + last seen (ms), in no
// other state index, and the indexes hold nothing else.
func checkIndexes(t *testing.T, s *Store, fps []string) {
	t.Helper()
	ctx := context.Background()
	rdb := testRedis.Client()
	want := map[string]map[string]float64{} // index key → member → score
	add := func(key, fp string, score float64) {
		if want[key] == nil {
			want[key] = map[string]float64{}
		}
		want[key][fp] = score
	}
	for _, fp := range fps {
		f := mustGet(t, s, fp)
		score := float64(int64(findings.SeverityRank(f.Severity))*1e13 + f.LastSeen.UnixMilli())
		add(s.idxKey("all"), fp, score)
		add(s.idxKey("state", string(f.State)), fp, score)
		add(s.idxKey("target", f.TargetID), fp, score)
		add(s.idxKey("rule", f.RuleID), fp, score)
	}
	keys, err := rdb.Keys(ctx, s.prefix+"idx:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, key := range keys {
		if strings.HasPrefix(key, s.prefix+"idx:known:") {
			continue
		}
		zs, err := rdb.ZRangeWithScores(ctx, key, 0, -1).Result()
		if err != nil {
			t.Fatal(err)
		}
		got := map[string]float64{}
		for _, z := range zs {
			got[z.Member.(string)] = z.Score
		}
		if fmt.Sprint(got) != fmt.Sprint(want[key]) {
			t.Errorf("%s = %v, want %v", key, got, want[key])
		}
		delete(want, key)
	}
	for key, m := range want {
		t.Errorf("%s missing, want %v", key, m)
	}
}

// A batch larger than one script run, over many targets, rules and severities, then a re-scan that
// changes some severities and moves some findings on the triage path: every index stays exact.
func TestUpsertBatchKeepsEveryIndexExact(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	sevs := []rules.Severity{"critical", "high", "medium", "low", "info"}
	var batch []findings.Finding
	for i := range 2*scriptBatch + 37 {
		f := sampleFinding(fmt.Sprintf("t%d", i%13), fmt.Sprintf("r%d", i%7), fmt.Sprint(i))
		f.Severity = sevs[i%5]
		f.LastSeen = t0.Add(time.Duration(i) * time.Second)
		batch = append(batch, f)
	}
	res, err := s.UpsertBatch(ctx, batch, "scan-1")
	if err != nil {
		t.Fatal(err)
	}
	var fps []string
	for i, r := range res {
		if !r.Created {
			t.Errorf("finding %d not reported created", i)
		}
		fps = append(fps, r.Fingerprint)
	}
	checkIndexes(t, s, fps)
	for _, fp := range fps[:10] {
		if _, err := s.Transition(ctx, fp, findings.StateInReview, "analyst-li", findings.TransitionInput{}); err != nil {
			t.Fatal(err)
		}
	}
	for i := range batch {
		batch[i].LastSeen = batch[i].LastSeen.Add(time.Hour)
		if i%3 == 0 {
			batch[i].Severity = sevs[(i+1)%5]
		}
	}
	res, err = s.UpsertBatch(ctx, batch, "scan-2")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if r.Created || r.Fingerprint != fps[i] {
			t.Errorf("re-scan result %d = %+v", i, r)
		}
	}
	checkIndexes(t, s, fps)
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != int64(len(batch)) || len(c.ByTarget) != 13 || len(c.ByRule) != 7 || c.ByState[findings.StateInReview] != 10 {
		t.Errorf("counts = %+v", c)
	}
	for _, fp := range fps[:10] {
		if f := mustGet(t, s, fp); f.State != findings.StateInReview || f.LastScanID != "scan-2" {
			t.Errorf("%s after re-scan: state %s, scan %s", fp, f.State, f.LastScanID)
		}
	}
}

// The same finding twice in one batch behaves like two calls in order: created once, the newer
// observation wins, one member per index.
func TestUpsertBatchWithARepeatedFinding(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	older := sampleFinding("t", "r", "x")
	newer := older
	newer.LastSeen = t0.Add(time.Minute)
	newer.Severity = "critical"
	newer.EvidenceRefs = []string{"bbbb"}
	res, err := s.UpsertBatch(ctx, []findings.Finding{newer, older, newer}, "scan-1")
	if err != nil {
		t.Fatal(err)
	}
	if !res[0].Created || res[1].Created || res[2].Created {
		t.Errorf("results = %+v, want only the first created", res)
	}
	got := mustGet(t, s, res[0].Fingerprint)
	if !got.LastSeen.Equal(newer.LastSeen) || got.Severity != "critical" {
		t.Errorf("stored %s %s, want the newer observation", got.LastSeen, got.Severity)
	}
	if want := findings.SortedSet(append(older.EvidenceRefs, "bbbb")); fmt.Sprint(got.EvidenceRefs) != fmt.Sprint(want) {
		t.Errorf("evidence %v, want %v", got.EvidenceRefs, want)
	}
	checkIndexes(t, s, []string{res[0].Fingerprint})
	if h, _ := s.History(ctx, res[0].Fingerprint); len(h) != 1 {
		t.Errorf("history has %d entries, want 1", len(h))
	}
}

// dirty is the server's count of changes since the last save (never reset: the managed server does
// not save RDB snapshots).
func dirty(t *testing.T) int64 {
	t.Helper()
	info, err := testRedis.Client().Info(context.Background(), "persistence").Result()
	if err != nil {
		t.Fatal(err)
	}
	for _, line := range strings.Split(info, "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "rdb_changes_since_last_save:"); ok {
			n, err := strconv.ParseInt(v, 10, 64)
			if err != nil {
				t.Fatal(err)
			}
			return n
		}
	}
	t.Fatal("no rdb_changes_since_last_save in INFO persistence")
	return 0
}

// Re-delivering a batch writes nothing at all: no hash field, no index entry, nothing in the AOF.
// Not parallel: the change counter is the whole server's.
func TestRedeliveryWritesNothing(t *testing.T) {
	ctx := context.Background()
	s := newTestStore(t)
	var batch []findings.Finding
	for i := range 150 {
		batch = append(batch, sampleFinding(fmt.Sprintf("t%d", i%4), "r", fmt.Sprint(i)))
	}
	start := dirty(t)
	if _, err := s.UpsertBatch(ctx, batch, "scan-1"); err != nil {
		t.Fatal(err)
	}
	before := dirty(t)
	if before == start {
		t.Fatal("the change counter did not move on the first delivery")
	}
	for range 2 {
		if _, err := s.UpsertBatch(ctx, batch, "scan-1"); err != nil {
			t.Fatal(err)
		}
	}
	if d := dirty(t) - before; d != 0 {
		t.Errorf("re-delivery made %d changes, want 0", d)
	}
}

// A hash written by the one-finding script (no json_sha, the old index fields) is updated
// correctly by a re-scan, and an unchanged re-scan then leaves json alone.
func TestRescanOfAnOlderLayout(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	f := sampleFinding("t", "r", "legacy")
	fp := mustUpsert(t, s, f, "scan-1").Fingerprint
	rdb := testRedis.Client()
	if err := rdb.HDel(ctx, s.findingKey(fp), "json_sha").Err(); err != nil {
		t.Fatal(err)
	}
	if err := rdb.HSet(ctx, s.findingKey(fp), "target", "t", "rule", "r", "severity", "high", "sev_rank", 4,
		"not_reobserved_since", "", "json", `{"fingerprint":"`+fp+`","summary":{"zh":"旧","en":"old"}}`).Err(); err != nil {
		t.Fatal(err)
	}
	g := f
	g.LastSeen = t0.Add(time.Hour)
	mustUpsert(t, s, g, "scan-2")
	got := mustGet(t, s, fp)
	if got.Summary != f.Summary || len(got.Observations) != len(f.Observations) || !got.LastSeen.Equal(g.LastSeen) {
		t.Errorf("re-scan of an older hash did not rewrite its content: %+v", got)
	}
	sha, err := rdb.HGet(ctx, s.findingKey(fp), "json_sha").Result()
	if err != nil || len(sha) != 32 {
		t.Errorf("json_sha = %q, %v; want 32 hex digits", sha, err)
	}
	checkIndexes(t, s, []string{fp})
}
