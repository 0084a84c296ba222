package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/findings"
	"pilmon/findings/findingstest"
	"pilmon/rules"
	"pilmon/scanner"
)

func mustUpsert(t *testing.T, s *Store, f findings.Finding, scan string) UpsertResult {
	t.Helper()
	r, err := s.Upsert(context.Background(), f, scan)
	if err != nil {
		t.Fatal(err)
	}
	return r
}

func mustGet(t *testing.T, s *Store, fp string) findings.Finding {
	t.Helper()
	f, err := s.Get(context.Background(), fp)
	if err != nil {
		t.Fatal(err)
	}
	return f
}

func TestUpsertConcurrentIsIdempotent(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	f := sampleFinding("app:com.example", "rdff-3.1", "telephony.getDeviceId")
	var wg sync.WaitGroup
	var mu sync.Mutex
	created, errs := 0, []error{}
	for g := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 125 {
				// Alternate single upserts and small pipelined batches: both go through the script.
				var res []UpsertResult
				var err error
				if (g+i)%2 == 0 {
					var r UpsertResult
					r, err = s.Upsert(ctx, f, "scan-1")
					res = []UpsertResult{r}
				} else {
					res, err = s.UpsertBatch(ctx, []findings.Finding{f}, "scan-1")
				}
				mu.Lock()
				if err != nil {
					errs = append(errs, err)
				}
				for _, r := range res {
					if r.Created {
						created++
					}
				}
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	if len(errs) > 0 {
		t.Fatalf("%d upserts failed, first: %v", len(errs), errs[0])
	}
	if created != 1 {
		t.Errorf("%d upserts reported creating the finding, want 1", created)
	}
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if c.Total != 1 || c.ByState[findings.StateNew] != 1 {
		t.Errorf("counts after 1,000 upserts of one finding: %+v, want one record in state new", c)
	}
	fp := findings.Fingerprint(f.TargetID, f.RuleID, f.Subject)
	h, err := s.History(ctx, fp)
	if err != nil {
		t.Fatal(err)
	}
	if len(h) != 1 || h[0].To != findings.StateNew || h[0].From != "" || h[0].Actor != "pilmon" || !strings.Contains(h[0].Note, "scan-1") {
		t.Errorf("history = %+v, want one entry '' → new by pilmon naming scan-1", h)
	}
	keys, err := testRedis.Client().Keys(ctx, s.prefix+"finding:*").Result()
	if err != nil {
		t.Fatal(err)
	}
	if len(keys) != 2 { // the hash and its history
		t.Errorf("finding keys: %v, want the hash and its history", keys)
	}
}

func TestRescanUpdatesObservationsButNeverTheState(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	f := sampleFinding("app:com.example", "rdff-3.1", "telephony.getDeviceId")
	f.LastSeen = t0
	fp := mustUpsert(t, s, f, "scan-1").Fingerprint
	if _, err := s.Transition(ctx, fp, findings.StateInReview, "analyst-li", findings.TransitionInput{Note: "看一下"}); err != nil {
		t.Fatal(err)
	}
	if n, err := s.MarkNotReobserved(ctx, f.TargetID, "scan-1b", nil); err != nil || n != 1 {
		t.Fatalf("mark = %d, %v; want 1 marked", n, err)
	}

	g := f
	g.LastSeen = t0.Add(24 * time.Hour)
	g.FirstSeen = t0.Add(24 * time.Hour) // a re-scan never moves FirstSeen
	g.Severity = "critical"
	g.RuleVersion = 3
	g.Summary.EN = "updated summary"
	g.State = findings.StateClosed // ignored: the store owns the state
	g.EvidenceRefs = []string{"1111111111111111111111111111111111111111111111111111111111111111"}
	g.Observations = g.Observations[:1]
	if r := mustUpsert(t, s, g, "scan-2"); r.Created {
		t.Error("re-scan reported creating the finding")
	}
	got := mustGet(t, s, fp)
	if got.State != findings.StateInReview {
		t.Errorf("state after re-scan = %s, want in_review", got.State)
	}
	if !got.FirstSeen.Equal(t0) || !got.LastSeen.Equal(g.LastSeen) || got.LastScanID != "scan-2" {
		t.Errorf("first/last seen = %s/%s scan %s, want %s/%s scan-2", got.FirstSeen, got.LastSeen, got.LastScanID, t0, g.LastSeen)
	}
	if got.Severity != "critical" || got.RuleVersion != 3 || got.Summary.EN != "updated summary" || len(got.Observations) != 1 {
		t.Errorf("content not updated: %+v", got)
	}
	if want := findings.SortedSet(append(f.EvidenceRefs, g.EvidenceRefs...)); !slices.Equal(got.EvidenceRefs, want) {
		t.Errorf("evidence = %v, want the union %v", got.EvidenceRefs, want)
	}
	if got.NotReobservedSince != "" {
		t.Errorf("NotReobservedSince = %q after being observed again", got.NotReobservedSince)
	}
	h, _ := s.History(ctx, fp)
	if len(h) != 2 {
		t.Errorf("history has %d entries, want 2 (created, in_review): %+v", len(h), h)
	}
	for _, q := range []Query{{Severity: "critical"}, {State: findings.StateInReview, Severity: "critical"}} {
		if l, n, err := s.List(ctx, q); err != nil || n != 1 || len(l) != 1 {
			t.Errorf("List(%+v) = %d findings, total %d, %v; want the re-scanned finding", q, len(l), n, err)
		}
	}
	if _, n, _ := s.List(ctx, Query{Severity: "high"}); n != 0 {
		t.Errorf("the old severity index still holds %d findings", n)
	}

	// A late re-delivery of scan-1 keeps the newer content and LastSeen and adds only evidence.
	late := f
	late.EvidenceRefs = []string{"2222"}
	mustUpsert(t, s, late, "scan-1")
	again := mustGet(t, s, fp)
	if !again.LastSeen.Equal(g.LastSeen) || again.LastScanID != "scan-2" || again.Severity != "critical" {
		t.Errorf("a late delivery of an older scan rolled the finding back: %+v", again)
	}
	if !slices.Contains(again.EvidenceRefs, "2222") {
		t.Errorf("late delivery's evidence not kept: %v", again.EvidenceRefs)
	}
}

func TestRedeliveryChangesNothing(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	f := sampleFinding("site:example.cn", "pipl-17-notice", "https://example.cn/")
	fp := mustUpsert(t, s, f, "scan-9").Fingerprint
	before, _ := testRedis.Client().HGetAll(ctx, s.findingKey(fp)).Result()
	for range 3 {
		if r := mustUpsert(t, s, f, "scan-9"); r.Created {
			t.Fatal("re-delivery reported creating")
		}
	}
	after, _ := testRedis.Client().HGetAll(ctx, s.findingKey(fp)).Result()
	if fmt.Sprint(before) != fmt.Sprint(after) {
		t.Errorf("re-delivery changed the hash:\n%v\n%v", before, after)
	}
	if h, _ := s.History(ctx, fp); len(h) != 1 {
		t.Errorf("history has %d entries after re-delivery, want 1", len(h))
	}
}

func TestStoredFindingIsCanonical(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	f := findingstest.Golden()
	f.FirstSeen, f.State, f.LastScanID = time.Time{}, "", ""
	fp := mustUpsert(t, s, f, "scan-20250314-0001").Fingerprint
	got := mustGet(t, s, fp)
	want := f
	want.FirstSeen, want.State, want.LastScanID = f.LastSeen, findings.StateNew, "scan-20250314-0001"
	a, _ := findings.MarshalCanonical(got)
	b, _ := findings.MarshalCanonical(want)
	if !bytes.Equal(a, b) {
		t.Errorf("stored finding differs from what was upserted:\n got %s\nwant %s", a, b)
	}
	raw, _ := testRedis.Client().HGet(context.Background(), s.findingKey(fp), "json").Result()
	if !strings.Contains(raw, "<script>&amp; “引号”") {
		t.Errorf("stored json escaped the summary: %s", raw)
	}
}

func TestListOrderFiltersAndCounts(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	type spec struct {
		target, rule string
		sev          rules.Severity
		age          time.Duration
	}
	specs := []spec{
		{"t1", "r1", "medium", 1 * time.Hour},
		{"t1", "r2", "critical", 5 * time.Hour},
		{"t1", "r1", "critical", 1 * time.Hour},
		{"t2", "r1", "low", 0},
		{"t2", "r2", "medium", 3 * time.Hour},
	}
	var batch []findings.Finding
	for i, sp := range specs {
		f := sampleFinding(sp.target, sp.rule, fmt.Sprintf("subject-%d", i))
		f.Severity = sp.sev
		f.LastSeen = t0.Add(-sp.age)
		batch = append(batch, f)
	}
	res, err := s.UpsertBatch(ctx, batch, "scan-a")
	if err != nil {
		t.Fatal(err)
	}
	subject := func(l []findings.Finding) []string {
		var out []string
		for _, f := range l {
			out = append(out, f.Subject)
		}
		return out
	}
	all, total, err := s.List(ctx, Query{})
	if err != nil {
		t.Fatal(err)
	}
	// Most severe first, then most recent.
	if want := []string{"subject-2", "subject-1", "subject-0", "subject-4", "subject-3"}; total != 5 || !slices.Equal(subject(all), want) {
		t.Errorf("List() = %v (total %d), want %v", subject(all), total, want)
	}
	page, total, _ := s.List(ctx, Query{Offset: 1, Limit: 2})
	if want := []string{"subject-1", "subject-0"}; total != 5 || !slices.Equal(subject(page), want) {
		t.Errorf("page = %v (total %d), want %v", subject(page), total, want)
	}
	l, total, _ := s.List(ctx, Query{TargetID: "t1", RuleID: "r1"})
	if want := []string{"subject-2", "subject-0"}; total != 2 || !slices.Equal(subject(l), want) {
		t.Errorf("t1/r1 = %v (total %d), want %v", subject(l), total, want)
	}
	l, total, _ = s.List(ctx, Query{TargetID: "t1", RuleID: "r1", Offset: 1, Limit: 5})
	if want := []string{"subject-0"}; total != 2 || !slices.Equal(subject(l), want) {
		t.Errorf("t1/r1 page 2 = %v (total %d), want %v", subject(l), total, want)
	}
	l, total, _ = s.List(ctx, Query{Severity: "medium"})
	if want := []string{"subject-0", "subject-4"}; total != 2 || !slices.Equal(subject(l), want) {
		t.Errorf("medium = %v (total %d), want %v", subject(l), total, want)
	}
	l, total, _ = s.List(ctx, Query{TargetID: "t1", RuleID: "r1", Severity: "critical"})
	if want := []string{"subject-2"}; total != 1 || !slices.Equal(subject(l), want) {
		t.Errorf("t1/r1/critical = %v (total %d), want %v", subject(l), total, want)
	}
	if _, total, _ = s.List(ctx, Query{Severity: "bogus"}); total != 0 {
		t.Errorf("unknown severity matched %d", total)
	}
	if _, err := s.Transition(ctx, res[3].Fingerprint, findings.StateInReview, "a", findings.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	l, total, _ = s.List(ctx, Query{State: findings.StateInReview})
	if total != 1 || l[0].Subject != "subject-3" {
		t.Errorf("in_review = %v (total %d)", subject(l), total)
	}
	c, err := s.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	want := Counts{Total: 5,
		ByState:    map[findings.State]int64{findings.StateNew: 4, findings.StateInReview: 1},
		BySeverity: map[rules.Severity]int64{"critical": 2, "medium": 2, "low": 1},
		ByRule:     map[string]int64{"r1": 3, "r2": 2},
		ByTarget:   map[string]int64{"t1": 3, "t2": 2}}
	if fmt.Sprint(c) != fmt.Sprint(want) {
		t.Errorf("counts = %+v\nwant %+v", c, want)
	}
}

func TestMarkNotReobserved(t *testing.T) {
	t.Parallel()
	ctx := context.Background()
	s := newTestStore(t)
	a := mustUpsert(t, s, sampleFinding("t", "r", "a"), "scan-1").Fingerprint
	b := mustUpsert(t, s, sampleFinding("t", "r", "b"), "scan-1").Fingerprint
	other := mustUpsert(t, s, sampleFinding("u", "r", "b"), "scan-1").Fingerprint
	// scan-2 is complete and raised only a.
	mustUpsert(t, s, sampleFinding("t", "r", "a"), "scan-2")
	if n, err := s.MarkNotReobserved(ctx, "t", "scan-2", []string{a}); err != nil || n != 1 {
		t.Fatalf("marked %d, %v; want 1", n, err)
	}
	// scan-3 does not see b either: the mark keeps the first scan that missed it.
	if n, err := s.MarkNotReobserved(ctx, "t", "scan-3", []string{a}); err != nil || n != 0 {
		t.Fatalf("second mark = %d, %v; want 0", n, err)
	}
	if got := mustGet(t, s, b).NotReobservedSince; got != "scan-2" {
		t.Errorf("b not re-observed since %q, want scan-2", got)
	}
	if got := mustGet(t, s, a).NotReobservedSince; got != "" {
		t.Errorf("a marked %q though raised", got)
	}
	if got := mustGet(t, s, other).NotReobservedSince; got != "" {
		t.Errorf("another target's finding marked %q", got)
	}
	// Seen again: the mark goes.
	mustUpsert(t, s, sampleFinding("t", "r", "b"), "scan-4")
	if got := mustGet(t, s, b).NotReobservedSince; got != "" {
		t.Errorf("b still marked %q after being observed again", got)
	}
}

func TestUpsertRefusesBadInput(t *testing.T) {
	t.Parallel()
	s := newTestStore(t)
	good := sampleFinding("t", "r", "s")
	cases := map[string]func(f *findings.Finding) string{
		"unknown severity":    func(f *findings.Finding) string { f.Severity = "urgent"; return "scan" },
		"wrong fingerprint":   func(f *findings.Finding) string { f.Fingerprint = "00"; return "scan" },
		"empty target":        func(f *findings.Finding) string { f.TargetID = ""; return "scan" },
		"empty scan":          func(f *findings.Finding) string { return "" },
		"newline in scan":     func(f *findings.Finding) string { return "a\nb" },
		"newline in evidence": func(f *findings.Finding) string { f.EvidenceRefs = []string{"a\nb"}; return "scan" },
		"year 1900": func(f *findings.Finding) string {
			f.LastSeen = time.Date(1900, 1, 1, 0, 0, 0, 0, time.UTC)
			return "scan"
		},
		"huge content": func(f *findings.Finding) string {
			f.Summary.ZH = strings.Repeat("长", maxContentBytes/3+1)
			return "scan"
		},
		"unencodable attribute": func(f *findings.Finding) string {
			f.Observations = []scanner.Observation{{Kind: "k", Attributes: map[string]any{"x": make(chan int)}}}
			return "scan"
		},
	}
	for name, mutate := range cases {
		f := good
		scan := mutate(&f)
		if _, err := s.Upsert(context.Background(), f, scan); err == nil {
			t.Errorf("%s: accepted", name)
		}
	}
	if c, _ := s.Counts(context.Background()); c.Total != 0 {
		t.Errorf("refused upserts left %d findings", c.Total)
	}
	if _, err := s.Get(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("Get of a missing finding: %v, want ErrNotFound", err)
	}
	if _, err := s.History(context.Background(), "nope"); !errors.Is(err, ErrNotFound) {
		t.Errorf("History of a missing finding: %v, want ErrNotFound", err)
	}
}

func TestUpsertBatchSurvivesAnEmptyScriptCache(t *testing.T) {
	// Not parallel: SCRIPT FLUSH affects the shared server (the other tests' scripts reload
	// themselves, which is what this test checks).
	ctx := context.Background()
	s := newTestStore(t)
	if err := testRedis.Client().ScriptFlush(ctx).Err(); err != nil {
		t.Fatal(err)
	}
	var batch []findings.Finding
	for i := range 2500 { // more than one pipeline chunk
		batch = append(batch, sampleFinding("t", "r", fmt.Sprint(i)))
	}
	res, err := s.UpsertBatch(ctx, batch, "scan-1")
	if err != nil {
		t.Fatal(err)
	}
	for i, r := range res {
		if !r.Created || r.Fingerprint != findings.Fingerprint("t", "r", fmt.Sprint(i)) {
			t.Fatalf("result %d = %+v", i, r)
		}
	}
	if c, _ := s.Counts(ctx); c.Total != 2500 {
		t.Errorf("total = %d, want 2500", c.Total)
	}
}

// The confidence assess gives a finding is stored with it and re-assessed at every scan.
func TestConfidenceIsStoredAndUpdated(t *testing.T) {
	s := newTestStore(t)
	f := sampleFinding("t-conf", "rdff-3.1", "pi:device_id_hw->tracker.example")
	f.Confidence = "low"
	f.ConfidenceReason = rules.Text{ZH: "仅静态引用", EN: "static reference only"}
	r := mustUpsert(t, s, f, "scan-1")
	got := mustGet(t, s, r.Fingerprint)
	if got.Confidence != "low" || got.ConfidenceReason.EN != "static reference only" {
		t.Fatalf("confidence not stored: %q %+v", got.Confidence, got.ConfidenceReason)
	}
	f.Confidence = "high"
	f.ConfidenceReason = rules.Text{ZH: "流量中匹配到测试机真实标识", EN: "known device value seen in traffic"}
	f.LastSeen = f.LastSeen.Add(time.Hour)
	mustUpsert(t, s, f, "scan-2")
	if got := mustGet(t, s, r.Fingerprint); got.Confidence != "high" || got.ConfidenceReason.ZH != f.ConfidenceReason.ZH {
		t.Fatalf("re-scan did not update confidence: %q %+v", got.Confidence, got.ConfidenceReason)
	}
}

// The "json" field of a stored finding is findingContent; it must stay the leading part of Finding.
func TestFindingContentMirrorsFinding(t *testing.T) {
	c, f := reflect.TypeFor[findingContent](), reflect.TypeFor[findings.Finding]()
	for i := range c.NumField() {
		cf, ff := c.Field(i), f.Field(i)
		if cf.Name != ff.Name || cf.Type != ff.Type || cf.Tag != ff.Tag {
			t.Errorf("findingContent field %d is %s %s %q, findings.Finding has %s %s %q", i, cf.Name, cf.Type, cf.Tag, ff.Name, ff.Type, ff.Tag)
		}
	}
	if got := f.Field(c.NumField()).Name; got != "EvidenceRefs" {
		t.Errorf("Finding field after the content is %s; update findingContent, decodeFinding and hashFields", got)
	}
}
