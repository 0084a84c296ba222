package policies

import (
	"context"
	"errors"
	"fmt"
	"html"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"pilmon/assess"
	"pilmon/internal/corpus"
	"pilmon/scanner"
)

func analyzeFile(t *testing.T, path string) *Analysis {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	a, err := Analyze(filepath.Base(path), data, "", catalogue(t))
	if err != nil {
		t.Fatal(err)
	}
	return a
}

// The CMBC credit-card policy is a privacy policy, and its "个人身份信息" (name, e-mail, birth
// date…) is not an ID-document number.
func TestCMBCIsPolicy(t *testing.T) {
	p := filepath.Join(corpus.SharedDir(), "corpus", "policies", "zh", "ca4p483_0604_com.cmbc.cc.mbank.html")
	if _, err := os.Stat(p); err != nil {
		t.Skipf("corpus file %s absent", p)
	}
	a := analyzeFile(t, p)
	if a.DocType != DocPrivacyPolicy || !a.IsPrivacyPolicy || a.DocTypeReason == "" {
		t.Errorf("CMBC: %s (%s)", a.DocType, a.DocTypeReason)
	}
	for _, d := range a.PIDeclared {
		if d.PI == "identity_document" {
			t.Errorf("CMBC declares identity_document from %q", d.Quote)
		}
	}
}

// A terms-of-service page is classified as such and yields no policy observation beyond the
// document, so no finding about policy elements, PI or SDKs; the only record is the lead that the
// document given as the policy is not one.
func TestTermsOfServiceYieldsNoPolicyFindings(t *testing.T) {
	asr := assess.New(catalogue(t))
	for _, f := range []string{"zh_tos_shop.txt", "en_terms_of_service.md"} {
		a := analyzeFile(t, filepath.Join(labelledDir, "texts", f))
		if a.DocType != DocTermsOfService || a.IsPrivacyPolicy {
			t.Errorf("%s: %s (%s)", f, a.DocType, a.DocTypeReason)
			continue
		}
		obs := Observations(a, f, []string{"sha"}, "policies", "1")
		if len(obs) != 1 || obs[0].Kind != "policy.document" || obs[0].Attributes["doc_type"] != "terms_of_service" {
			t.Errorf("%s: observations %+v", f, obs)
		}
		tg := scanner.Target{ID: "app:tos", Kind: scanner.TargetApp, Name: "tos", Sources: []scanner.Source{{Kind: scanner.SourcePolicyFile, Locator: f}}}
		for _, fd := range asr.Assess(tg, "scan-1", obs, time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)) {
			if strings.HasPrefix(fd.Subject, "element:") || strings.HasPrefix(fd.Subject, "pi:") || strings.HasPrefix(fd.Subject, "sdk:") {
				t.Errorf("%s: policy finding %s on %s", f, fd.RuleID, fd.Subject)
			}
		}
	}
	// the privacy policy beside it does yield elements
	a := analyzeFile(t, filepath.Join(labelledDir, "texts", "zh_court_not_complaint.txt"))
	if n := len(Observations(a, "p", nil, "policies", "1")); a.DocType != DocPrivacyPolicy || n < 1+len(ElementIDs) {
		t.Errorf("policy: %s, %d observations", a.DocType, n)
	}
}

// JSON, a HAR capture (whole or cut short) and binary files are refused as policies by content,
// with an error naming the file; the inspector reports the file failed, so the scan is not
// "succeeded"; detection by content does not take them for policies. Text and HTML are read.
func TestRefusedByContent(t *testing.T) {
	refused := map[string][]byte{
		"capture.har":  []byte(`{"log": {"version": "1.2", "entries": [{"request": {"url": "https://a.example/"}}]}}`),
		"corrupt.har":  []byte("{\n  \"log\": {\n    \"entries\": [ {\"request\": {\"url\": \"https://a.exa"),
		"policy.html":  []byte(`[{"title": "隐私政策", "text": "我们会收集您的手机号码"}]`),
		"policy.txt":   []byte("PK\x03\x04\x14\x00\x00\x00隐私政策"),
		"image.html":   []byte("\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR"),
		"nul.txt":      append([]byte("隐私政策"), 0, 1, 2, 3),
		"controls.txt": []byte(strings.Repeat("\x01\x02\x03隐私", 40)),
		"policy.pdf":   []byte("%PDF-1.7\n1 0 obj"),
	}
	dir := t.TempDir()
	in := New(fixedCatalogue{}, nil, Options{})
	for name, data := range refused {
		_, err := Analyze(name, data, "", fixedCatalogue{})
		if !errors.Is(err, ErrNotText) || !strings.Contains(err.Error(), name) {
			t.Errorf("%s: error %v, want a refusal naming the file", name, err)
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, data, 0o600); err != nil {
			t.Fatal(err)
		}
		rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourcePolicyFile, Locator: p}, &memSink{})
		if rep.Status == scanner.StatusSucceeded || len(rep.Observations) != 0 || !strings.Contains(scanner.JoinErrors(rep.Errors, ""), "not a policy text") {
			t.Errorf("%s: inspected as %s with %d observations, errors %v", name, rep.Status, len(rep.Observations), rep.Errors)
		}
		if kind, err := scanner.DetectKind(p, in.Kinds()); err == nil {
			t.Errorf("%s: detected as %s", name, kind)
		}
	}
	for name, data := range map[string][]byte{
		"p.html":  []byte("<html><body><h1>隐私政策</h1><p>我们会收集您的手机号码。</p></body></html>"),
		"p.md":    []byte("# Privacy Policy\n\nWe collect your email address.\n"),
		"p.txt":   []byte("{隐私政策}\n我们会收集您的手机号码。"),
		"gbk.txt": {0xd2, 0xfe, 0xcb, 0xbd, 0xd5, 0xfe, 0xb2, 0xdf}, // 隐私政策 in GBK
		"u16.txt": {0xff, 0xfe, 0x90, 0x96, 0xc1, 0x79},
	} {
		if _, err := Analyze(name, data, "", fixedCatalogue{}); err != nil {
			t.Errorf("%s: refused: %v", name, err)
		}
	}
}

// The readings under which a sentence declares nothing, from the rule data's own examples.
func TestNotDeclaringExamples(t *testing.T) {
	ps, err := loadPatterns()
	if err != nil {
		t.Fatal(err)
	}
	for _, lang := range []string{"zh", "en"} {
		if len(ps.not.positive[lang]) == 0 || len(ps.not.negative[lang]) == 0 {
			t.Errorf("not_declaring/%s: needs positive and negative examples", lang)
		}
		for want, list := range map[bool][]string{true: ps.not.positive[lang], false: ps.not.negative[lang]} {
			for _, ex := range list {
				s := sentence{orig: ex, text: normDigits(ex), section: "二、我们如何收集您的个人信息"}
				s.lower = foldLower(s.text)
				if got := ps.collect[lang].MatchString(s.text) && ps.not.declares(lang, &s); got != want {
					t.Errorf("%s: declares(%q) = %v, want %v", lang, ex, got, want)
				}
			}
		}
	}
}

// Negated, definitional, hypothetical and other parties' sentences, and a table's header row,
// declare nothing; the operator's own sentences and the table's rows do.
func TestSentenceSemantics(t *testing.T) {
	doc := `<html><body><h1>示例隐私政策</h1>
<h2>一、定义</h2><p>金融账户：是指您的银行卡号等信息。</p>
<h2>二、我们收集的信息</h2>
<p>我们会收集您的手机号码，用于注册。</p>
<p>我们不会收集您的通讯录、通话记录或短信内容。</p>
<p>我们不会根据您的浏览记录向您推送广告。</p>
<p>若未来我们需要收集您的位置信息，我们将另行征得您的同意。</p>
<p>例如，其他机构可能会收集您的人脸信息。</p>
<p>我们会保存您与客服的通话记录，用于处理投诉。</p>
<table><tr><th>功能</th><th>个人信息</th><th>目的</th></tr><tr><td>拍照识别</td><td>相机</td><td>识别题目</td></tr></table>
</body></html>`
	a, err := Analyze("p.html", []byte(doc), "", fixedCatalogue{})
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]string{}
	for _, d := range a.PIDeclared {
		got[d.PI] = d.Quote
	}
	for _, pi := range []string{"phone_number", "camera"} {
		if got[pi] == "" {
			t.Errorf("%s not declared; declared %v", pi, got)
		}
	}
	for _, pi := range []string{"financial_account", "contacts", "call_log", "sms", "browsing_history", "app_usage", "location_precise", "biometric"} {
		if q, ok := got[pi]; ok {
			t.Errorf("%s declared from %q", pi, q)
		}
	}
	if q := got["camera"]; !strings.Contains(q, "拍照识别") {
		t.Errorf("camera quoted from %q, want the table row", q)
	}
}

// Dates in every common form: brackets, full-width digits, dots and slashes, English forms,
// tables and the page footer; the later update wins over publication.
func TestDateForms(t *testing.T) {
	for _, c := range []struct {
		in       []string
		eff, upd string
	}{
		{[]string{"生效时间：2021年【10】月【8】日"}, "2021-10-08", ""},
		{[]string{"更新日期：２０２２年３月１日"}, "", "2022-03-01"},
		{[]string{"本规则生效日期：2021.10.8"}, "2021-10-08", ""},
		{[]string{"生效日期：2021/10/08"}, "2021-10-08", ""},
		{[]string{"生效日期 | 2023/05/20"}, "2023-05-20", ""},
		{[]string{"Effective date: October 8, 2021"}, "2021-10-08", ""},
		{[]string{"Effective: 8 Oct 2021"}, "2021-10-08", ""},
		{[]string{"Last updated: Sept. 3, 2020"}, "", "2020-09-03"},
		{[]string{"本政策于2020年1月15日发布，最近更新于2023年07月01日。"}, "2020-01-15", "2023-07-01"},
		{[]string{"2020年12月29日生效"}, "2020-12-29", ""},
		{[]string{"我们将在2021年2月30日生效"}, "", ""},        // no such day
		{[]string{"我们将保存您的信息3年，或15个工作日内答复。"}, "", ""}, // no date
		{[]string{"© 2023 示例公司"}, "", ""},             // a year alone
	} {
		eff, upd := docDates(c.in)
		if eff != c.eff || upd != c.upd {
			t.Errorf("%q: effective %q updated %q, want %q %q", c.in, eff, upd, c.eff, c.upd)
		}
	}
	// in the footer of a page
	a, err := Analyze("p.html", []byte(`<html><body><h1>隐私政策</h1><p>我们会收集您的手机号码。</p><footer><p>更新于 2023年5月20日</p></footer></body></html>`), "", fixedCatalogue{})
	if err != nil {
		t.Fatal(err)
	}
	if a.UpdatedDate != "2023-05-20" || !a.Elements["effective_date"].Present {
		t.Errorf("footer date: updated %q, element %+v", a.UpdatedDate, a.Elements["effective_date"])
	}
}

// A court clause is no complaint channel and a retention sentence that mentions 注销 no
// cancellation route: the element is "unclear" with the candidate quote, or absent; a sentence
// that gives the way is present.
func TestElementNeedsAQuoteThatStatesIt(t *testing.T) {
	a := analyzeFile(t, filepath.Join(labelledDir, "texts", "zh_court_not_complaint.txt"))
	for _, id := range []string{"complaint_channel", "account_cancellation", "user_rights"} {
		if e := a.Elements[id]; e.Present {
			t.Errorf("%s present from %q", id, e.Quote)
		}
	}
	if e := a.Elements["account_cancellation"]; !e.Unclear || !strings.Contains(e.Quote, "注销账号后") {
		t.Errorf("account_cancellation: %+v, want unclear with the retention sentence", e)
	}
	var present any
	for _, o := range Observations(a, "p", nil, "policies", "1") {
		if o.Kind == "policy.element" && o.Subject == "account_cancellation" {
			present = o.Attributes["present"]
			if o.Attributes["quote"] == "" || o.Attributes["section"] == "" {
				t.Errorf("unclear element without its quote and section: %+v", o.Attributes)
			}
		}
	}
	if present != "unclear" {
		t.Errorf("present = %v, want \"unclear\"", present)
	}
	b := analyzeFile(t, filepath.Join(labelledDir, "texts", "zh_complaint_variants.txt"))
	for _, id := range []string{"complaint_channel", "account_cancellation", "user_rights"} {
		if e := b.Elements[id]; !e.Present || e.Unclear {
			t.Errorf("%s not shown: %+v", id, e)
		}
	}
}

// An SDK-list annex is read for what it lists, as part of the policy; it yields no elements.
func TestAnnexObservations(t *testing.T) {
	a := analyzeFile(t, filepath.Join(labelledDir, "texts", "zh_sdk_list.html"))
	if a.DocType != DocSDKList {
		t.Fatalf("annex: %s (%s)", a.DocType, a.DocTypeReason)
	}
	kinds := map[string]int{}
	for _, o := range Observations(a, "annex", nil, "policies", "1") {
		kinds[o.Kind]++
	}
	if kinds["policy.element"] != 0 || kinds["policy.sdk_declared"] < 2 || kinds["policy.document"] != 1 {
		t.Errorf("annex observations %v", kinds)
	}
	p := analyzeFile(t, filepath.Join(labelledDir, "texts", "zh_permission_list.txt"))
	if p.DocType != DocPermissionList {
		t.Errorf("permission list: %s (%s)", p.DocType, p.DocTypeReason)
	}
}

func TestClassify(t *testing.T) {
	for _, c := range []struct {
		text string
		want DocType
	}{
		{"# 某某App隐私政策\n\n我们会收集您的手机号码。", DocPrivacyPolicy},
		{"# 儿童个人信息保护规则\n\n我们会收集儿童的昵称。", DocChildrenPolicy},
		{"# 墨迹天气服务及隐私协议\n\n本协议…", DocPrivacyPolicy},
		{"# 用户服务协议\n\n本协议是您与我们之间的协议。您的个人信息按隐私政策处理。", DocTermsOfService},
		{"# Terms of Service\n\nBy using the app you agree to these terms.", DocTermsOfService},
		{"# 第三方SDK目录\n\n| SDK名称 | 公司 |\n|---|---|\n| 极光推送SDK | 和讯华谷 |", DocSDKList},
		{"# 应用权限说明\n\n| 权限 | 目的 |\n|---|---|\n| 相机 | 拍照 |", DocPermissionList},
		{"# Children's Privacy Notice\n\nWe do not knowingly collect data of children under 13.", DocChildrenPolicy},
		{"关于系统升级维护的公告\n\n维护期间暂停服务。", DocOther},
		{"欢迎使用本软件。本协议约定双方权利义务。本协议自您点击同意时生效。本协议的解释权归公司。", DocTermsOfService},
		{"本软件会按照本隐私权政策处理信息。本政策适用于本软件。我们会收集您的设备信息。", DocPrivacyPolicy},
	} {
		a, err := Analyze("x.md", []byte(c.text), "", fixedCatalogue{})
		if err != nil {
			t.Fatal(err)
		}
		if a.DocType != c.want || a.DocTypeReason == "" {
			t.Errorf("%q: %s (%s), want %s", c.text, a.DocType, a.DocTypeReason, c.want)
		}
	}
}

// Each PI category's own examples: its positive sentences declare it, its negative ones (a word
// inside a longer word, another sense of the word, a coarse location, a customer-service call)
// do not. A category with exclusions or not_in words has both kinds.
func TestPIExamples(t *testing.T) {
	ps, err := loadPatterns()
	if err != nil {
		t.Fatal(err)
	}
	wrap := map[string]string{
		"zh": "<html><body><h1>示例隐私政策</h1><h2>二、我们如何收集和使用您的个人信息</h2><p>%s</p></body></html>",
		"en": "<html><body><h1>Example Privacy Policy</h1><h2>2. Information we collect</h2><p>%s</p></body></html>",
	}
	runs := 0
	for _, p := range ps.pi {
		needs := len(p.exclude["zh"])+len(p.exclude["en"])+len(p.notIn["zh"])+len(p.notIn["en"]) > 0
		if needs && (len(p.positive["zh"])+len(p.positive["en"]) == 0 || len(p.negative["zh"])+len(p.negative["en"]) == 0) {
			t.Errorf("pi %s: has exclusions but not both positive and negative examples", p.id)
		}
		for _, lang := range []string{"zh", "en"} {
			for want, list := range map[bool][]string{true: p.positive[lang], false: p.negative[lang]} {
				for _, ex := range list {
					runs++
					a, err := Analyze("p.html", []byte(fmt.Sprintf(wrap[lang], html.EscapeString(ex))), "", fixedCatalogue{})
					if err != nil {
						t.Fatal(err)
					}
					got := false
					for _, d := range a.PIDeclared {
						got = got || d.PI == p.id
					}
					if got != want {
						t.Errorf("pi %s (%s): %q declares it = %v, want %v", p.id, lang, ex, got, want)
					}
				}
			}
		}
	}
	if runs == 0 {
		t.Fatal("no PI examples in the rule data")
	}
}

// A table row declares by its place in a table of data, but not in a section that describes
// cookies (its rows say what kinds of cookies do: only a collection verb of the row's own
// declares) nor in a glossary of data types (a definition, unless the operator is its subject).
func TestTableRowReadings(t *testing.T) {
	doc := func(section, rows string) string {
		return "<html><body><h1>Example Privacy Policy</h1><h2>" + section + "</h2>" +
			"<table><tr><th>Purpose</th><th>Description</th></tr>" + rows + "</table></body></html>"
	}
	for _, c := range []struct {
		name, html, pi string
		want           bool
	}{
		{"cookie row describing a mechanism", doc("How we and our partners use cookies",
			"<tr><td>Advertising</td><td>Third parties use advertising cookies to show you ads based on your website browsing history.</td></tr>"),
			"browsing_history", false},
		{"cookie row with a collection verb", doc("How we use cookies",
			"<tr><td>Analytics</td><td>Analytics cookies collect your browsing history on our site to count visits.</td></tr>"),
			"browsing_history", true},
		{"data table row", doc("Information we collect",
			"<tr><td>Personalisation</td><td>Browsing history</td></tr>"),
			"browsing_history", true},
		{"glossary row", doc("Types of data defined",
			"<tr><td>Precise location</td><td>Your precise location (within a few metres).</td></tr>"),
			"location_precise", false},
		{"the same row where data is listed", doc("Data we process",
			"<tr><td>Precise location</td><td>Your precise location (within a few metres).</td></tr>"),
			"location_precise", true},
	} {
		a, err := Analyze("p.html", []byte(c.html), "", fixedCatalogue{})
		if err != nil {
			t.Fatal(err)
		}
		got := false
		for _, d := range a.PIDeclared {
			got = got || d.PI == c.pi
		}
		if got != c.want {
			t.Errorf("%s: declares %s = %v, want %v (%+v)", c.name, c.pi, got, c.want, a.PIDeclared)
		}
	}
}

// A document that says the location it processes is inferred from the IP address gives its
// unqualified "location data" that sense; words that state precision still declare precise
// location, and in a document without such a sentence "location data" is read as an app's
// device location.
func TestUnqualifiedLocationTakesTheDocumentsSense(t *testing.T) {
	const coarse = "<p>We infer your location from your IP address at the level of your country or city.</p>"
	for _, c := range []struct {
		body string
		want bool
	}{
		{coarse + "<p>We use location data to show you local news.</p>", false},
		{coarse + "<p>When you use the map, we collect your GPS coordinates.</p>", true},
		{"<p>We collect location data to show you stores nearby.</p>", true},
	} {
		html := "<html><body><h1>Example Privacy Policy</h1><h2>Information we collect</h2>" + c.body + "</body></html>"
		a, err := Analyze("p.html", []byte(html), "", fixedCatalogue{})
		if err != nil {
			t.Fatal(err)
		}
		got := false
		for _, d := range a.PIDeclared {
			got = got || d.PI == "location_precise"
		}
		if got != c.want {
			t.Errorf("%q: declares precise location = %v, want %v", c.body, got, c.want)
		}
	}
}

// The unqualified terms of a category must be among its terms and come with the sentences that
// give them a document's sense.
func TestUnqualifiedTermsChecked(t *testing.T) {
	terms := piTerms{id: "x", terms: map[string][]string{"en": {"location data", "gps"}}}
	for _, c := range []struct{ unqualified, sense map[string][]string }{
		{map[string][]string{"en": {"geodata"}}, map[string][]string{"en": {"city"}}},
		{map[string][]string{"en": {"location data"}}, nil},
	} {
		if _, err := qualifiedTerms(terms, c.unqualified, c.sense); err == nil || !strings.Contains(err.Error(), "unqualified") {
			t.Errorf("%v: accepted or wrong error: %v", c.unqualified, err)
		}
	}
	q, err := qualifiedTerms(terms, map[string][]string{"en": {"Location data"}}, map[string][]string{"en": {"city"}})
	if err != nil || !slices.Equal(q.terms["en"], []string{"gps"}) || len(q.unqualifiedSense["en"]) != 1 {
		t.Errorf("qualified terms %v, %v", q, err)
	}
}
