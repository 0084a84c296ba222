package policies

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"pilmon/assess"
	"pilmon/browser"
	"pilmon/evidence"
	"pilmon/scanner"
)

func TestAnnexLinks(t *testing.T) {
	const page = "https://www.example.cn/legal/privacy.html?v=2#top"
	for _, c := range []struct {
		name, html string
		want       []string
	}{
		{"Chinese names, relative and absolute, page order",
			`<p>详见<a href="sdk.html">《第三方SDK目录》</a>、<a href="/share">《第三方信息共享清单》</a>、` +
				`<a href="https://cdn.example.com/pi-list">《已收集个人信息清单》</a>和<a href="perm#list">《权限申请列表》</a></p>`,
			[]string{"https://www.example.cn/legal/sdk.html", "https://www.example.cn/share", "https://cdn.example.com/pi-list", "https://www.example.cn/legal/perm"}},
		{"English names and a title attribute",
			`<a href="/sdks">SDK list</a> <a href="/sharing">Third-party sharing list</a> <a href="/x" title="第三方 SDK 清单"><img src=i.png></a>`,
			[]string{"https://www.example.cn/sdks", "https://www.example.cn/sharing", "https://www.example.cn/x"}},
		{"nested markup and entities in the anchor",
			`<a href="/s"><span>第三方</span><b>SDK</b>&nbsp;目录</a>`, []string{"https://www.example.cn/s"}},
		{"at most four, repeats and the page itself dropped",
			`<a href="/a">SDK目录</a><a href="/a#x">SDK目录</a><a href="#sdk">SDK目录</a><a href="privacy.html?v=2">SDK目录</a>` +
				`<a href="/b">SDK清单</a><a href="/c">SDK列表</a><a href="/d">权限说明</a><a href="/e">SDK一览</a>`,
			[]string{"https://www.example.cn/a", "https://www.example.cn/b", "https://www.example.cn/c", "https://www.example.cn/d"}},
		{"schemes other than http and https, and credentials, refused",
			`<a href="javascript:open('sdk')">SDK目录</a><a href="mailto:a@b.cn">SDK目录</a><a href="file:///etc/passwd">SDK目录</a>` +
				`<a href="ftp://x/sdk">SDK目录</a><a href="https://u:p@evil.example/">SDK目录</a><a href="data:text/html,x">SDK目录</a>`, nil},
		{"links that name no annex",
			`<a href="/tos">《用户服务协议》</a><a href="/children">《儿童个人信息保护规则》</a><a href="/">首页</a><a href="/sdk.html">点击这里</a>`, nil},
		{"a paragraph that is a link is not a link's name",
			`<a href="/long">` + strings.Repeat("本政策适用于我们的全部产品和服务，", 8) + `SDK目录</a>`, nil},
		{"an unclosed anchor ends at the next", `<a href="/one">SDK目录<a href="/two">首页</a>`, []string{"https://www.example.cn/one"}},
		{"script text is not an anchor", `<script>var a = '<a href="/s">SDK目录</a>';</script>`, nil},
	} {
		t.Run(c.name, func(t *testing.T) {
			if got := AnnexLinks([]byte(c.html), page); !slices.Equal(got, c.want) {
				t.Errorf("got %q\nwant %q", got, c.want)
			}
		})
	}
	if got := AnnexLinks([]byte(`<a href="/s">SDK目录</a>`), "::not a url"); got != nil {
		t.Errorf("unparsable page URL: %q", got)
	}
}

// FuzzAnnexLinks: whatever the page, the picker returns at most maxAnnexLinks distinct absolute
// http(s) URLs without fragments or credentials, none of them the page itself.
func FuzzAnnexLinks(f *testing.F) {
	f.Add(`<a href="sdk.html">《第三方SDK目录》</a><a href="/p">权限列表</a>`, "https://www.example.cn/privacy")
	f.Add(`<a href=//x.example/s title="SDK list">x</a><a href="#a">SDK目录</a>`, "http://a.example/")
	f.Add(`<a href="`+strings.Repeat("a", 3000)+`">SDK目录</a>`, "https://a.example/b/c")
	f.Add("<a href=\"\x00\">SDK\xff目录<a href='%zz'>SDK目录</a></a></a>", "https://a.example")
	f.Add(`<svg><a xlink:href="/s">SDK目录</a></svg><a/href=/x>SDK目录`, "https://a.example/")
	f.Add(`<a href="https://[::1]:80/x">SDK目录</a><a href="http://127.0.0.1/x">Third-party sharing list</a>`, "https://a.example/")
	f.Fuzz(func(t *testing.T, page, base string) {
		got := AnnexLinks([]byte(page), base)
		if len(got) > maxAnnexLinks {
			t.Fatalf("%d links", len(got))
		}
		seen := map[string]bool{}
		for _, s := range got {
			u, err := url.Parse(s)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Fragment != "" || u.User != nil {
				t.Fatalf("link %q (%v)", s, err)
			}
			if seen[s] || s == strings.SplitN(base, "#", 2)[0] {
				t.Fatalf("link %q repeated or the page itself", s)
			}
			seen[s] = true
		}
	})
}

// Annexes linked from a captured policy page, through real Chromium on loopback: an SDK list is
// read as part of the policy (its SDKs declared, with its own evidence), a linked page that is not
// an annex adds nothing, a link to a private address is refused by the egress guard while the
// policy is still read, and an annex's own links are not followed.
func TestInspectorAnnexURL(t *testing.T) {
	br, err := browser.New(browser.Options{Allow: []string{"*.policy.test"}, HostResolverRules: "MAP *.policy.test 127.0.0.1", SharedProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Available(); err != nil {
		t.Skipf("policies: Chromium missing, skipping annex capture: %v", err)
	}
	defer br.Close()

	var mu sync.Mutex
	hits := map[string]int{}
	var port string
	policyPage := func(link string) string {
		return `<!doctype html><html><head><meta charset="utf-8"><title>示例应用隐私政策</title></head><body><h1>示例应用隐私政策</h1>` +
			`<h2>一、我们如何收集和使用您的个人信息</h2><p>我们会收集您的手机号码，用于注册和登录。</p>` +
			`<h2>二、第三方SDK</h2><p>我们接入的第三方SDK详见` + link + `。</p></body></html>`
	}
	pages := map[string]string{
		"/privacy":       policyPage(`<a href="/sdk-list">《第三方SDK目录》</a>`),
		"/privacy-other": policyPage(`<a href="/notice">《第三方信息共享清单》</a>`),
		"/sdk-list": `<!doctype html><html><head><meta charset="utf-8"><title>第三方SDK目录</title></head><body><h1>第三方SDK目录</h1>` +
			`<table><tr><th>SDK名称</th><th>提供方</th><th>收集的信息</th><th>使用目的</th></tr>` +
			`<tr><td>腾讯 Bugly</td><td>深圳市腾讯计算机系统有限公司</td><td>设备信息、崩溃日志</td><td>崩溃分析</td></tr></table>` +
			`<p>更多SDK见<a href="/sdk-list-2">《第三方SDK目录（二）》</a>。</p></body></html>`,
		"/sdk-list-2": `<!doctype html><html><head><meta charset="utf-8"><title>第三方SDK目录（二）</title></head><body>` +
			`<table><tr><th>SDK名称</th><th>提供方</th></tr><tr><td>极光推送 JPush</td><td>深圳市和讯华谷信息技术有限公司</td></tr></table></body></html>`,
		"/notice": `<!doctype html><html><head><meta charset="utf-8"><title>系统公告</title></head><body><h1>系统公告</h1><p>本周六凌晨两点至四点系统维护，届时暂停服务。</p></body></html>`,
	}
	mux := http.NewServeMux()
	for path, body := range pages {
		mux.HandleFunc(path, func(w http.ResponseWriter, r *http.Request) {
			mu.Lock()
			hits[r.URL.Path]++
			mu.Unlock()
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			fmt.Fprint(w, body)
		})
	}
	mux.HandleFunc("/privacy-private", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		fmt.Fprint(w, policyPage(`<a href="http://127.0.0.1:`+port+`/sdk-list">《第三方SDK目录》</a>`))
	})
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, port, _ = net.SplitHostPort(srv.Listener.Addr().String())
	base := "http://www.policy.test:" + port

	cat := catalogue(t)
	in := New(cat, br, Options{Capture: browser.CaptureOptions{NoScreenshot: true, NoMHTML: true}})
	scan := func(path string) (scanner.Report, *memSink) {
		sink := &memSink{}
		return scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourcePolicyURL, Locator: base + path}, sink), sink
	}
	byKind := func(rep scanner.Report, kind string) []scanner.Observation {
		var out []scanner.Observation
		for _, o := range rep.Observations {
			if o.Kind == kind {
				out = append(out, o)
			}
		}
		return out
	}

	t.Run("SDK list read as part of the policy", func(t *testing.T) {
		rep, sink := scan("/privacy")
		if rep.Status != scanner.StatusSucceeded {
			t.Fatalf("%s %v", rep.Status, rep.Errors)
		}
		docs := byKind(rep, "policy.document")
		if len(docs) != 2 || docs[0].Subject != base+"/privacy" || docs[1].Subject != base+"/sdk-list" {
			t.Fatalf("documents %+v", docs)
		}
		annex := docs[1]
		if annex.Attributes["doc_type"] != "sdk_list" || annex.Attributes["annex_of"] != base+"/privacy" {
			t.Errorf("annex document %v", annex.Attributes)
		}
		if _, ok := docs[0].Attributes["annex_of"]; ok {
			t.Errorf("the policy is marked as an annex: %v", docs[0].Attributes)
		}
		if len(annex.EvidenceRefs) != 1 || slices.Equal(annex.EvidenceRefs, docs[0].EvidenceRefs) || !slices.ContainsFunc(rep.Evidence, func(r evidence.Ref) bool { return r.SHA256 == annex.EvidenceRefs[0] }) {
			t.Errorf("annex evidence %v, policy %v, scan %v", annex.EvidenceRefs, docs[0].EvidenceRefs, rep.Evidence)
		}
		var annexCaptured bool
		for _, m := range sink.metas {
			annexCaptured = annexCaptured || (m.Method == "browser_capture" && m.Source == base+"/sdk-list")
		}
		if !annexCaptured {
			t.Errorf("annex not stored as a browser capture: %+v", sink.metas)
		}
		var declared []string
		for _, o := range byKind(rep, "policy.sdk_declared") {
			declared = append(declared, o.Subject)
			if o.Subject == "bugly" && !slices.Equal(o.EvidenceRefs, annex.EvidenceRefs) {
				t.Errorf("bugly declared with refs %v, want the annex's %v", o.EvidenceRefs, annex.EvidenceRefs)
			}
		}
		if !slices.Contains(declared, "bugly") || slices.Contains(declared, "jpush") {
			t.Errorf("SDKs declared %v: want bugly from the annex, not jpush from the annex's own annex", declared)
		}
		mu.Lock()
		second := hits["/sdk-list-2"]
		mu.Unlock()
		if second != 0 {
			t.Errorf("the annex's own annex was fetched %d times", second)
		}

		// Bugly, named only in the annex, is declared; JPush, named nowhere, is not. Without the
		// annex's observations Bugly is undisclosed too.
		asr := assess.New(cat)
		tg := scanner.Target{ID: "app:annex", Kind: scanner.TargetApp, Name: "annex", Sources: []scanner.Source{{Kind: scanner.SourcePolicyURL, Locator: base + "/privacy"}}}
		sdk := func(id, kind string) scanner.Observation {
			return scanner.Observation{Kind: "apk.sdk", Subject: id, Inspector: "apkinspect", InspectorVersion: "2", EvidenceRefs: []string{"apk"},
				Attributes: map[string]any{"sdk": id, "sdk_kind": kind, "via": []string{"class_prefix"}, "pi": []string{"device_id_resettable"}, "classes": 200, "strength": "strong"}}
		}
		undisclosed := func(obs []scanner.Observation) []string {
			var out []string
			for _, f := range asr.Assess(tg, "scan-1", obs, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
				if f.RuleID == "rdff-2.1" {
					out = append(out, f.Subject)
				}
			}
			slices.Sort(out)
			return out
		}
		apk := []scanner.Observation{sdk("bugly", "crash"), sdk("jpush", "push")}
		if got := undisclosed(append(slices.Clone(apk), rep.Observations...)); !slices.Equal(got, []string{"sdk:jpush"}) {
			t.Errorf("undisclosed with the annex: %v, want [sdk:jpush]", got)
		}
		var policyOnly []scanner.Observation
		for _, o := range rep.Observations {
			if !slices.Equal(o.EvidenceRefs, annex.EvidenceRefs) {
				policyOnly = append(policyOnly, o)
			}
		}
		if got := undisclosed(append(slices.Clone(apk), policyOnly...)); !slices.Equal(got, []string{"sdk:bugly", "sdk:jpush"}) {
			t.Errorf("undisclosed without the annex: %v, want both", got)
		}
	})

	t.Run("a linked page that is not an annex adds nothing", func(t *testing.T) {
		rep, _ := scan("/privacy-other")
		if rep.Status != scanner.StatusSucceeded {
			t.Fatalf("%s %v", rep.Status, rep.Errors)
		}
		for _, o := range rep.Observations {
			if o.Subject == base+"/notice" || o.Attributes["annex_of"] != nil {
				t.Errorf("observation from the non-annex page: %+v", o)
			}
		}
		docs := byKind(rep, "policy.document")
		dropped, _ := docs[0].Attributes["annexes_dropped"].([]string)
		if len(docs) != 1 || len(dropped) != 1 || !strings.HasPrefix(dropped[0], base+"/notice: read as other") {
			t.Errorf("documents %+v", docs)
		}
		mu.Lock()
		n := hits["/notice"]
		mu.Unlock()
		if n == 0 {
			t.Error("the linked page was not read")
		}
	})

	t.Run("a link to a private address is refused and the policy still read", func(t *testing.T) {
		rep, _ := scan("/privacy-private")
		annexURL := "http://127.0.0.1:" + port + "/sdk-list"
		errs := scanner.JoinErrors(rep.Errors, " ")
		if rep.Status != scanner.StatusPartial || len(rep.Errors) != 1 || rep.Errors[0].Path != annexURL || !strings.Contains(errs, "SSRF") || !strings.Contains(errs, "annex of "+base+"/privacy-private") {
			t.Errorf("%s %v", rep.Status, rep.Errors)
		}
		docs := byKind(rep, "policy.document")
		if len(docs) != 1 || docs[0].Attributes["is_privacy_policy"] != true || len(byKind(rep, "policy.element")) != len(ElementIDs) {
			t.Errorf("the policy was not read: %+v", docs)
		}
		if slices.ContainsFunc(byKind(rep, "policy.sdk_declared"), func(o scanner.Observation) bool { return o.Subject == "bugly" }) {
			t.Error("the refused annex's SDK is declared")
		}
	})
}
