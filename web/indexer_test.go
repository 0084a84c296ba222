package web

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/findings"
	"pilmon/internal/testredis"
	"pilmon/listindex"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// newFinding is a finding of target t on the env's first automated rule.
func (e *env) newFinding(t, subject string, seen time.Time) findings.Finding {
	var v rules.Violation
	for _, x := range e.cat.Violations() {
		if x.Check.Mode == "automated" {
			v = x
			break
		}
	}
	return findings.Finding{TargetID: t, RuleID: v.ID, RuleVersion: v.Version, Subject: subject, Severity: v.Severity,
		LegalBasis: v.LegalBasis, Summary: v.Title, LastSeen: seen, FirstSeen: seen}
}

// listFPs lists every fingerprint the filter matches.
func (e *env) listFPs(f Filter) (int64, []string) {
	e.t.Helper()
	f.Per = maxPer
	var out []string
	var total int64
	for f.Page = 1; ; f.Page++ {
		r, err := e.srv.list(context.Background(), e.srv.langs.get(LangZH), f)
		if err != nil {
			e.t.Fatal(err)
		}
		total = r.Total
		for _, it := range r.Items {
			out = append(out, it.Fingerprint)
		}
		if f.Page >= r.Pages {
			return total, out
		}
	}
}

// A list request reflects every write that finished before it, whoever made it (here the store
// directly, as a worker process would), with no wait and no explicit sync.
func TestListSeesEveryWriteAtOnce(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n0, _ := e.listFPs(Filter{})
	res, err := e.st.UpsertBatch(ctx, []findings.Finding{e.newFinding("t.fresh", "fresh-1.example", time.Now()),
		e.newFinding("t.fresh", "fresh-2.example", time.Now())}, "scan-fresh-1")
	if err != nil {
		t.Fatal(err)
	}
	fp1, fp2 := res[0].Fingerprint, res[1].Fingerprint
	n, fps := e.listFPs(Filter{Target: "t.fresh"})
	if n != 2 || !slices.Contains(fps, fp1) || !slices.Contains(fps, fp2) {
		t.Fatalf("after the upsert: %d %v", n, fps)
	}
	if all, _ := e.listFPs(Filter{}); all != n0+2 {
		t.Fatalf("total %d, want %d", all, n0+2)
	}
	if _, err := e.st.Transition(ctx, fp1, findings.StateInReview, "ana", findings.TransitionInput{}); err != nil {
		t.Fatal(err)
	}
	if _, fps := e.listFPs(Filter{Target: "t.fresh", State: "in_review"}); !slices.Equal(fps, []string{fp1}) {
		t.Fatalf("after the transition: %v", fps)
	}
	// A complete re-scan that no longer sees fp2 marks it; the list row says so.
	if _, err := e.st.UpsertBatch(ctx, []findings.Finding{e.newFinding("t.fresh", "fresh-1.example", time.Now())}, "scan-fresh-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.MarkNotReobserved(ctx, "t.fresh", "scan-fresh-2", []string{fp1}); err != nil {
		t.Fatal(err)
	}
	r, err := e.srv.list(ctx, e.srv.langs.get(LangZH), Filter{Target: "t.fresh", State: "new", Page: 1, Per: 10})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Items) != 1 || r.Items[0].Fingerprint != fp2 || r.Items[0].NotReobservedSince != "scan-fresh-2" {
		t.Fatalf("after the mark: %+v", r.Items)
	}
	// The same through HTTP, in the page a prosecutor sees.
	res2, body := e.login(accounts.RoleViewer).get("/findings?target=t.fresh&state=new")
	if res2.StatusCode != 200 || !strings.Contains(body, fp2) || !strings.Contains(body, "scan-fresh-2") {
		t.Fatalf("list page lacks the marked finding:\n%s", body)
	}
}

// A gap in the feed (the index fell behind the stream's cap) makes the index load everything
// again, and the list stays right.
func TestListIndexReloadsOnGap(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rdb := testredis.Server().Client()
	for i := range 3 {
		if _, err := e.st.Upsert(ctx, e.newFinding("t.gap", fmt.Sprintf("gap-%d.example", i), time.Now()), "scan-gap"); err != nil {
			t.Fatal(err)
		}
	}
	// Everything but the last entry falls off the stream before the index reads it.
	if err := rdb.XTrimMaxLen(ctx, e.prefix+store.ChangesStream, 1).Err(); err != nil {
		t.Fatal(err)
	}
	before := e.srv.idx.Loads()
	if n, _ := e.listFPs(Filter{Target: "t.gap"}); n != 3 {
		t.Fatalf("after a gap: %d findings of t.gap, want 3", n)
	}
	if e.srv.idx.Loads() == before {
		t.Fatal("the index did not reload")
	}
	if n, want := int64(e.srv.idx.Size()), rdb.ZCard(ctx, e.prefix+"idx:all").Val(); n != want {
		t.Fatalf("index holds %d findings, store %d", n, want)
	}
}

// A feed that went back (Redis lost its last writes, or its data was replaced) is noticed by the
// periodic head check, which reloads.
func TestListIndexReloadsWhenFeedGoesBack(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	rdb := testredis.Server().Client()
	n0, _ := e.listFPs(Filter{})
	// Replace the data: every finding of the store is gone, one new one is written, and the feed
	// restarts from 1.
	keys, err := rdb.Keys(ctx, e.prefix+"*").Result()
	if err != nil {
		t.Fatal(err)
	}
	var drop []string
	for _, k := range keys {
		if !strings.Contains(k, ":user:") && !strings.Contains(k, ":session") && !strings.HasSuffix(k, ":users") {
			drop = append(drop, k)
		}
	}
	if err := rdb.Del(ctx, drop...).Err(); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Upsert(ctx, e.newFinding("t.new", "after-reset.example", time.Now()), "scan-r"); err != nil {
		t.Fatal(err)
	}
	if err := e.srv.idx.CheckHead(ctx); err != nil {
		t.Fatal(err)
	}
	n, _ := e.listFPs(Filter{})
	if n != 1 || n0 < 2 {
		t.Fatalf("after the reset the list has %d findings (had %d), want 1", n, n0)
	}
}

// Lists answered while workers write stay consistent with the store, and once the writes end the
// list equals the store exactly. (Run with -race: the index is read and written concurrently.)
func TestListDuringConcurrentWrites(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for w := range 3 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 60 {
				res, err := e.st.UpsertBatch(ctx, []findings.Finding{
					e.newFinding(fmt.Sprintf("t.w%d", w), fmt.Sprintf("w%d-%d.example", w, i), time.Now()),
					e.newFinding(fmt.Sprintf("t.w%d", w), fmt.Sprintf("w%d-%d.example", w, i+1000), time.Now()),
				}, fmt.Sprintf("scan-w%d-%d", w, i))
				if err != nil {
					t.Error(err)
					return
				}
				if i%2 == 0 {
					if _, err := e.st.Transition(ctx, res[0].Fingerprint, findings.StateInReview, "ana", findings.TransitionInput{}); err != nil {
						t.Error(err)
						return
					}
				}
			}
		}()
	}
	var readers sync.WaitGroup
	for range 2 {
		readers.Add(1)
		go func() {
			defer readers.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				r, err := e.srv.list(ctx, e.srv.langs.get(LangZH), Filter{State: "in_review", Sort: "first_seen", Page: 1, Per: 20, Q: "example"})
				if err != nil {
					t.Error(err)
					return
				}
				for _, it := range r.Items {
					if it.State != findings.StateInReview {
						t.Errorf("state filter returned %s", it.State)
					}
				}
			}
		}()
	}
	wg.Wait()
	close(stop)
	readers.Wait()
	cn, err := e.st.Counts(ctx)
	if err != nil {
		t.Fatal(err)
	}
	for _, st := range findings.AllStates {
		if n, _ := e.listFPs(Filter{State: string(st)}); n != cn.ByState[st] {
			t.Errorf("state %s: list %d, store %d", st, n, cn.ByState[st])
		}
	}
	for w := range 3 {
		if n, _ := e.listFPs(Filter{Target: fmt.Sprintf("t.w%d", w)}); n != 120 {
			t.Errorf("target t.w%d: %d findings, want 120", w, n)
		}
	}
}

// Prefetch learns of changes in a round trip made for something else (store.PageState); two
// requests that raced (both read the same changes) apply them once, and a page request marked
// fresh reads nothing more.
func TestListIndexPrefetch(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	has := func(fp string) bool {
		_, page := e.srv.idx.Snapshot().Query(listindex.Query{Target: "t.pre", Lim: 10, FirstLo: math.MinInt64, FirstHi: math.MaxInt64,
			LastLo: math.MinInt64, LastHi: math.MaxInt64})
		for _, x := range page {
			if x.Fingerprint() == fp {
				return true
			}
		}
		return false
	}
	r, err := e.st.Upsert(ctx, e.newFinding("t.pre", "pre.example", time.Now()), "scan-pre")
	if err != nil {
		t.Fatal(err)
	}
	if has(r.Fingerprint) {
		t.Fatal("the index saw the write before reading the feed")
	}
	// Two page requests read the feed with their sessions before either applies what it read.
	sid, _ := accounts.SessionID(accounts.RandomSecret(32))
	after1, a1 := e.srv.idx.Prefetch()
	after2, a2 := e.srv.idx.Prefetch()
	ps1, err := e.st.PageState(ctx, sid, after1, listindex.ChangesPerRead)
	if err != nil {
		t.Fatal(err)
	}
	ps2, err := e.st.PageState(ctx, sid, after2, listindex.ChangesPerRead)
	if err != nil {
		t.Fatal(err)
	}
	if len(ps1.Changes) == 0 || ps1.ChangesErr != nil {
		t.Fatalf("the page read no changes: %v", ps1.ChangesErr)
	}
	gen := e.srv.idx.Snapshot()
	if err := a1(ctx, ps1.Changes, ps1.ChangesErr); err != nil || !has(r.Fingerprint) {
		t.Fatalf("after the first apply: %v, present %v", err, has(r.Fingerprint))
	}
	if e.srv.idx.Snapshot() == gen {
		t.Fatal("first apply changed nothing")
	}
	gen = e.srv.idx.Snapshot()
	if err := a2(ctx, ps2.Changes, ps2.ChangesErr); err != nil || e.srv.idx.Snapshot() != gen {
		t.Fatalf("second apply of the same changes: %v, snapshot replaced", err)
	}
	// A request marked fresh does not read the feed again.
	if _, err := e.st.Upsert(ctx, e.newFinding("t.pre", "pre-2.example", time.Now()), "scan-pre"); err != nil {
		t.Fatal(err)
	}
	fresh := listindex.MarkFresh(ctx)
	if res, err := e.srv.list(fresh, e.srv.langs.get(LangZH), Filter{Target: "t.pre", Page: 1, Per: 10}); err != nil || res.Total != 1 {
		t.Fatalf("fresh-marked list: %d, %v (want the index as it was: 1)", res.Total, err)
	}
	if res, err := e.srv.list(ctx, e.srv.langs.get(LangZH), Filter{Target: "t.pre", Page: 1, Per: 10}); err != nil || res.Total != 2 {
		t.Fatalf("list: %d, %v, want 2", res.Total, err)
	}
}

// The list keeps a copy of the target registry for the app-category filter and name search, and
// reads it again after any change to the registry, whoever made it.
func TestListFollowsTargetChanges(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	n0, _ := e.listFPs(Filter{Category: "online_shopping"})
	if _, err := e.st.Upsert(ctx, e.newFinding("t.shop", "shop.example", time.Now()), "scan-shop"); err != nil {
		t.Fatal(err)
	}
	put := func(cat, name string) {
		t.Helper()
		if _, err := e.reg.Put(ctx, scanner.Target{ID: "t.shop", Kind: scanner.TargetApp, Name: name, Category: cat,
			Sources: []scanner.Source{{Kind: scanner.SourcePolicyURL, Locator: "https://shop.example/privacy"}}}); err != nil {
			t.Fatal(err)
		}
	}
	put("online_shopping", "某购物应用")
	if n, _ := e.listFPs(Filter{Category: "online_shopping"}); n != n0+1 {
		t.Fatalf("online_shopping: %d findings, want %d", n, n0+1)
	}
	if n, _ := e.listFPs(Filter{Q: "某购物"}); n != 1 {
		t.Fatalf("search by target name: %d findings, want 1", n)
	}
	put("map_navigation", "改名后的应用")
	if n, _ := e.listFPs(Filter{Category: "online_shopping"}); n != n0 {
		t.Fatalf("after the category changed: %d findings in online_shopping, want %d", n, n0)
	}
	if n, _ := e.listFPs(Filter{Q: "某购物"}); n != 0 {
		t.Fatalf("after the rename the old name still finds %d", n)
	}
	// The same through the page, where the version is read with the session.
	_, body := e.login(accounts.RoleViewer).get("/findings?q=" + url.QueryEscape("改名后"))
	if !strings.Contains(body, "shop.example") {
		t.Fatal("the list page does not find the renamed target's finding")
	}
}

// The JSON API lists whole findings (observations and texts), filtered and paged by the same index
// as the page, with a bearer token.
func TestAPIListsWholeFindings(t *testing.T) {
	e := newEnv(t)
	tok, _, err := e.srv.Accounts().NewToken(context.Background(), "vic", "script", 0)
	if err != nil {
		t.Fatal(err)
	}
	req, _ := http.NewRequest(http.MethodGet, e.hs.URL+"/api/v1/findings?sdk=umeng_analytics&per=5", nil)
	req.Header.Set("Authorization", "Bearer "+tok)
	res, body := e.anon().do(req)
	if res.StatusCode != http.StatusOK {
		t.Fatalf("status %d: %s", res.StatusCode, body)
	}
	var got struct {
		Total    int64              `json:"total"`
		Findings []findings.Finding `json:"findings"`
	}
	if err := json.Unmarshal([]byte(body), &got); err != nil {
		t.Fatal(err)
	}
	if got.Total != 1 || len(got.Findings) != 1 || got.Findings[0].Fingerprint != e.fps[0] ||
		len(got.Findings[0].Observations) != 3 || got.Findings[0].Summary.ZH == "" || got.Findings[0].State == "" {
		t.Fatalf("API answer: %+v", got)
	}
}

// With Run going, the index applies a change as it arrives, without a request asking for it.
func TestListIndexRunAppliesChanges(t *testing.T) {
	e := newEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go e.srv.Run(ctx)
	r, err := e.st.Upsert(ctx, e.newFinding("t.run", "run.example", time.Now()), "scan-run")
	if err != nil {
		t.Fatal(err)
	}
	for start := time.Now(); ; time.Sleep(5 * time.Millisecond) {
		_, page := e.srv.idx.Snapshot().Query(listindex.Query{Target: "t.run", Lim: 5, FirstLo: math.MinInt64, FirstHi: math.MaxInt64,
			LastLo: math.MinInt64, LastHi: math.MaxInt64})
		if len(page) == 1 && page[0].Fingerprint() == r.Fingerprint {
			return
		}
		if time.Since(start) > 30*time.Second {
			t.Fatal("the running index never applied the upsert")
		}
	}
}

// The list API and the one-finding API answer with the same JSON for the same finding, field for
// field (evidence references, last scan id and lifecycle included): both decode the store's hash
// with the store's one decoder.
func TestAPIListAndGetAgree(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	// A finding with everything set: evidence from two scans, a later scan id, a triage state and
	// the not-re-observed mark.
	f := e.newFinding("t.agree", "agree.example", time.Now().Add(-time.Hour))
	f.EvidenceRefs = []string{e.shot}
	r, err := e.st.Upsert(ctx, f, "scan-agree-1")
	if err != nil {
		t.Fatal(err)
	}
	f.EvidenceRefs, f.LastSeen = []string{e.page}, time.Now()
	if _, err := e.st.Upsert(ctx, f, "scan-agree-2"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.Transition(ctx, r.Fingerprint, findings.StateInReview, "ana", findings.TransitionInput{Note: "看一下"}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.st.MarkNotReobserved(ctx, "t.agree", "scan-agree-3", nil); err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.srv.Accounts().NewToken(ctx, "vic", "script", 0)
	if err != nil {
		t.Fatal(err)
	}
	get := func(path string) []byte {
		t.Helper()
		req, _ := http.NewRequest(http.MethodGet, e.hs.URL+path, nil)
		req.Header.Set("Authorization", "Bearer "+tok)
		res, body := e.anon().do(req)
		if res.StatusCode != http.StatusOK {
			t.Fatalf("GET %s: status %d: %s", path, res.StatusCode, body)
		}
		return []byte(body)
	}
	var list struct {
		Total    int64             `json:"total"`
		Findings []json.RawMessage `json:"findings"`
	}
	if err := json.Unmarshal(get("/api/v1/findings?per=200"), &list); err != nil {
		t.Fatal(err)
	}
	if list.Total < 2 || int64(len(list.Findings)) != list.Total {
		t.Fatalf("list: total %d, %d findings", list.Total, len(list.Findings))
	}
	checked := false
	for _, raw := range list.Findings {
		var id struct {
			Fingerprint string `json:"fingerprint"`
		}
		if err := json.Unmarshal(raw, &id); err != nil || id.Fingerprint == "" {
			t.Fatalf("list entry without a fingerprint: %s", raw)
		}
		var one struct {
			Finding json.RawMessage `json:"finding"`
		}
		if err := json.Unmarshal(get("/api/v1/findings/"+id.Fingerprint), &one); err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(raw, one.Finding) {
			t.Errorf("finding %s differs:\nlist: %s\none:  %s", id.Fingerprint, raw, one.Finding)
		}
		if id.Fingerprint == r.Fingerprint {
			checked = true
			var got findings.Finding
			if err := json.Unmarshal(raw, &got); err != nil {
				t.Fatal(err)
			}
			want := []string{e.page, e.shot}
			slices.Sort(want)
			if got.LastScanID != "scan-agree-2" || !slices.Equal(got.EvidenceRefs, want) || got.State != findings.StateInReview ||
				got.NotReobservedSince != "scan-agree-3" {
				t.Errorf("list entry of the full finding: last_scan_id %q, evidence %v, state %s, not re-observed %q",
					got.LastScanID, got.EvidenceRefs, got.State, got.NotReobservedSince)
			}
		}
	}
	if !checked {
		t.Fatal("the full finding was not listed")
	}
}
