package policies

import (
	"errors"
	"os"
	"testing"

	"pilmon/rules"
)

// TestSDKList reads an SDK list table and list-form entries against the real catalogue: a row names
// its SDK by name, alias or package, or only by its vendor when the vendor has one SDK of the kind
// the row describes; a vendor with several SDKs of that kind, or an unknown name, matches nothing.
func TestSDKList(t *testing.T) {
	cat := catalogue(t)
	doc := `<html><head><title>隐私政策</title></head><body><h1>隐私政策</h1>
<h2>附录：第三方SDK目录</h2>
<table>
<tr><th>SDK名称</th><th>第三方主体</th><th>收集个人信息类型</th><th>使用目的</th></tr>
<tr><td>极光推送SDK</td><td>深圳市和讯华谷信息技术有限公司</td><td>设备标识符（IMEI、OAID）</td><td>消息推送</td></tr>
<tr><td>推送服务</td><td>每日互动股份有限公司</td><td>设备信息</td><td>向您推送消息</td></tr>
<tr><td>崩溃分析</td><td>深圳市腾讯计算机系统有限公司</td><td>设备型号</td><td>统计崩溃</td></tr>
<tr><td>某某统计</td><td>不存在的科技有限公司</td><td>设备信息</td><td>统计分析</td></tr>
</table>
<h2>其他</h2>
<p>SDK名称：友盟统计SDK；提供方：友盟同欣（北京）科技有限公司；收集信息：设备标识符；使用目的：统计分析。</p>
<p>我们会收集您的设备信息：用于安全风控。</p>
</body></html>`
	a, err := Analyze("p.html", []byte(doc), "text/html", cat)
	if err != nil {
		t.Fatal(err)
	}
	rows := SDKList(a, cat.SDKs())
	got := map[string]SDKRow{}
	for _, r := range rows {
		got[r.Name] = r
	}
	for name, want := range map[string]string{
		"极光推送SDK": "jpush",           // by name
		"推送服务":    "getui_push",      // by vendor: 每日互动 has one push SDK
		"某某统计":    "",                // unknown vendor and name
		"友盟统计SDK": "umeng_analytics", // list form, by alias or vendor
	} {
		r, ok := got[name]
		if !ok {
			t.Errorf("row %s not read: %+v", name, rows)
			continue
		}
		if r.SDK != want {
			t.Errorf("row %s: sdk %q, want %q (%+v)", name, r.SDK, want, r)
		}
	}
	if r := got["极光推送SDK"]; r.Vendor != "深圳市和讯华谷信息技术有限公司" || r.Purpose != "消息推送" || r.PI != "设备标识符（IMEI、OAID）" || r.Section == "" {
		t.Errorf("jpush row fields: %+v", r)
	}
	// Tencent has several SDKs; a crash SDK of Tencent is Bugly only if the catalogue has one crash
	// SDK of that vendor: the row is matched or left alone, never given another kind's SDK
	if r := got["崩溃分析"]; r.SDK != "" {
		if s, ok := cat.SDK(r.SDK); !ok || s.Kind != "crash" {
			t.Errorf("crash row matched %q", r.SDK)
		}
	}
	if len(rows) != 5 {
		t.Errorf("%d rows, want 5 (a sentence with one key is no SDK entry): %+v", len(rows), rows)
	}

	// the observations: the sentence reader's records are completed, a vendor-only match added
	obs := SDKListObservations(Observations(a, "p.html", nil, "policies", "1"), a, cat.SDKs(), nil, "policies", "1")
	byID := map[string]map[string]any{}
	for _, o := range obs {
		if o.Kind == "policy.sdk_declared" {
			byID[o.Subject] = o.Attributes
		}
	}
	if at := byID["getui_push"]; at == nil || at["vendor"] != "每日互动股份有限公司" || at["sdk"] != "getui_push" {
		t.Errorf("getui_push: %v", at)
	}
	if at := byID["jpush"]; at == nil || at["purpose"] != "消息推送" {
		t.Errorf("jpush: %v", at)
	}
}

func FuzzSDKList(f *testing.F) {
	if d, err := os.ReadFile("testdata/zh_policy.html"); err == nil {
		f.Add(d)
	}
	f.Add([]byte("<table><tr><th>SDK名称</th><th>提供方</th></tr><tr><td>极光推送</td><td>深圳市和讯华谷信息技术有限公司</td></tr></table>"))
	f.Add([]byte("| SDK | vendor | purpose |\n|---|---|---|\n| Bugly | 腾讯 | crash |\n"))
	f.Add([]byte("SDK名称：友盟；提供方：友盟同欣（北京）科技有限公司；目的：统计"))
	sdks := fixedCatalogue{}.SDKs()
	sdks = append(sdks, rules.SDK{ID: "getui_push", Kind: "push", Vendor: "每日互动股份有限公司"})
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Analyze("f.html", data, "", fixedCatalogue{})
		if err != nil {
			t.Fatal(err)
		}
		rows := SDKList(a, sdks)
		if len(rows) > maxSDKRows {
			t.Fatalf("%d rows", len(rows))
		}
		for _, r := range rows {
			for _, s := range []string{r.Name, r.Vendor, r.PI, r.Purpose} {
				if len([]rune(s)) > maxCellRune {
					t.Fatalf("cell of %d runes", len([]rune(s)))
				}
			}
		}
	})
}

func FuzzClauses(f *testing.F) {
	ds, err := loadClauses()
	if err != nil {
		f.Fatal(err)
	}
	for _, d := range ds {
		for _, lang := range []string{"zh", "en"} {
			for _, s := range append(d.positive[lang], d.negative[lang]...) {
				f.Add([]byte(s))
			}
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		a, err := Analyze("f.txt", data, "", nil)
		if errors.Is(err, ErrNotText) {
			return // binary or structured content is refused as a policy before any clause is read
		}
		if err != nil {
			t.Fatal(err)
		}
		cs, err := Clauses(a)
		if err != nil {
			t.Fatal(err)
		}
		// every clause has a quote, a family never quotes one sentence twice, reports at most
		// maxClausesPerFamily and gives each of its clauses the same count of those cut
		perFamily, quoted, cut := map[string]int{}, map[string]bool{}, map[string]int{}
		for _, c := range cs {
			if c.Quote == "" || quoted[c.Clause+"\x00"+c.Quote] {
				t.Fatalf("clause %+v repeated or without quote", c)
			}
			quoted[c.Clause+"\x00"+c.Quote] = true
			if perFamily[c.Clause]++; perFamily[c.Clause] > maxClausesPerFamily {
				t.Fatalf("family %s: more than %d clauses", c.Clause, maxClausesPerFamily)
			}
			if n, ok := cut[c.Clause]; ok && n != c.Cut || c.Cut < 0 {
				t.Fatalf("family %s: cut %d and %d", c.Clause, n, c.Cut)
			}
			cut[c.Clause] = c.Cut
		}
	})
}
