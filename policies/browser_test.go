package policies

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"pilmon/internal/corpus"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"

	"pilmon/browser"
	"pilmon/scanner"
)

// Policies captured through real Chromium on loopback: a JS-rendered page, an iframe, a GBK page
// and a redirect loop. One Chromium process serves all of them.
func TestInspectorURL(t *testing.T) {
	br, err := browser.New(browser.Options{Allow: []string{"*.policy.test"}, HostResolverRules: "MAP *.policy.test 127.0.0.1", SharedProcess: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := br.Available(); err != nil {
		t.Skipf("policies: Chromium missing, skipping URL capture: %v", err)
	}
	defer br.Close()
	zh, err := os.ReadFile("testdata/zh_policy.html")
	if err != nil {
		t.Fatal(err)
	}
	gbk, err := encoding.ReplaceUnsupported(simplifiedchinese.GBK.NewEncoder()).Bytes([]byte(strings.Replace(string(zh), `charset="utf-8"`, `charset="gbk"`, 1)))
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	mux.HandleFunc("/gbk", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		w.Write(gbk)
	})
	mux.HandleFunc("/spa", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html><head><meta charset="utf-8"><title>隐私政策</title></head><body><div id="root"></div>
<script>fetch('/gbk-text').then(r => r.text()).then(t => { document.getElementById('root').innerHTML = t; });</script></body></html>`)
	})
	mux.HandleFunc("/gbk-text", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		body := string(zh)
		w.Write([]byte(body[strings.Index(body, "<h1>"):strings.Index(body, "</body>")]))
	})
	mux.HandleFunc("/frame", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `<!doctype html><html><head><meta charset="utf-8"><title>用户中心</title></head><body><iframe src="/gbk" width="800"></iframe></body></html>`)
	})
	mux.HandleFunc("/loop", func(w http.ResponseWriter, r *http.Request) { http.Redirect(w, r, "/loop", http.StatusFound) })
	srv := httptest.NewServer(mux)
	defer srv.Close()
	_, port, _ := net.SplitHostPort(srv.Listener.Addr().String())
	base := "http://www.policy.test:" + port

	in := New(fixedCatalogue{}, br, Options{Capture: browser.CaptureOptions{NoScreenshot: true}})
	for _, path := range []string{"/gbk", "/spa", "/frame"} {
		sink := &memSink{}
		rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourcePolicyURL, Locator: base + path}, sink)
		if rep.Status != scanner.StatusSucceeded {
			t.Fatalf("%s: %s %v", path, rep.Status, rep.Errors)
		}
		present := 0
		for _, o := range rep.Observations {
			if o.Kind == "policy.element" && o.Attributes["present"] == true {
				present++
			}
			if o.Kind == "policy.document" && o.Attributes["is_privacy_policy"] != true {
				t.Errorf("%s: not recognised as a policy: %v", path, o.Attributes)
			}
		}
		if present != len(ElementIDs) || len(rep.Evidence) < 3 || sink.metas[0].Method != "browser_capture" {
			t.Errorf("%s: %d elements present, %d evidence refs", path, present, len(rep.Evidence))
		}
	}
	rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourcePolicyURL, Locator: base + "/loop"}, &memSink{})
	if rep.Status != scanner.StatusFailed || !strings.Contains(scanner.JoinErrors(rep.Errors, " "), "REDIRECT") {
		t.Errorf("redirect loop: %s %v", rep.Status, rep.Errors)
	}
	rep = scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourcePolicyURL, Locator: "http://127.0.0.1:" + port + "/gbk"}, &memSink{})
	if rep.Status != scanner.StatusFailed || !strings.Contains(scanner.JoinErrors(rep.Errors, " "), "SSRF") {
		t.Errorf("loopback URL: %s %v", rep.Status, rep.Errors)
	}
}

func BenchmarkAnalyzeCorpus(b *testing.B) {
	cat := catalogue(b)
	var docs [][]byte
	var names []string
	for _, lang := range []string{"zh", "en"} {
		dir := corpus.SharedDir() + "/corpus/policies/" + lang
		ents, _ := os.ReadDir(dir)
		for _, e := range ents {
			d, err := os.ReadFile(dir + "/" + e.Name())
			if err == nil {
				docs, names = append(docs, d), append(names, e.Name())
			}
		}
	}
	if len(docs) == 0 {
		b.Skip("policies: corpus absent")
	}
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		j := i % len(docs)
		if _, err := Analyze(names[j], docs[j], "", cat); err != nil {
			b.Fatal(err)
		}
	}
}
