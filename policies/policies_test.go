package policies

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"

	"pilmon/evidence"
	"pilmon/rules"
	"pilmon/scanner"
)

var update = flag.Bool("update", false, "rewrite golden files")

// fixedCatalogue is a small stand-in for the rule catalogue in unit tests.
type fixedCatalogue struct{}

func (fixedCatalogue) SDKs() []rules.SDK {
	return []rules.SDK{
		{ID: "umeng_analytics", Name: rules.Text{ZH: "友盟+ 统计分析 (U-App)", EN: "Umeng+ U-App Analytics"}, ClassPrefixes: []string{"com.umeng.analytics"}},
		{ID: "jpush", Name: rules.Text{ZH: "极光推送 JPush", EN: "JPush"}, ClassPrefixes: []string{"cn.jpush.android"}},
		{ID: "firebase_analytics", Name: rules.Text{ZH: "Firebase 分析", EN: "Firebase Analytics"}, ClassPrefixes: []string{"com.google.firebase.analytics"}},
		{ID: "bugly", Name: rules.Text{ZH: "腾讯 Bugly", EN: "Tencent Bugly"}, ClassPrefixes: []string{"com.tencent.bugly"}},
	}
}

func (fixedCatalogue) IsSensitive(pi string) bool {
	switch pi {
	case "location_precise", "identity_document", "health", "biometric", "financial_account", "contacts":
		return true
	}
	return false
}

func TestPatternExamples(t *testing.T) {
	ps, err := loadPatterns()
	if err != nil {
		t.Fatal(err)
	}
	for _, ep := range ps.elements {
		for _, lang := range []string{"zh", "en"} {
			if len(ep.positive[lang]) == 0 || len(ep.negative[lang]) == 0 {
				t.Errorf("%s/%s: needs positive and negative examples", ep.id, lang)
			}
			for _, s := range ep.positive[lang] {
				if !ep.matches(lang, s) {
					t.Errorf("%s/%s: positive example not matched: %q", ep.id, lang, s)
				}
			}
			for _, s := range ep.negative[lang] {
				if ep.matches(lang, s) {
					t.Errorf("%s/%s: negative example matched: %q", ep.id, lang, s)
				}
			}
		}
	}
}

// The PI ids in rules/data/policy_patterns.yaml must be catalogue ids; aliases should name catalogue SDKs.
func TestPatternIDsInCatalogue(t *testing.T) {
	cat := catalogue(t)
	ps, _ := loadPatterns()
	for _, p := range ps.pi {
		if _, ok := cat.PICategory(p.id); !ok {
			t.Errorf("pi id %q not in the catalogue", p.id)
		}
	}
	for id := range ps.aliases {
		if _, ok := cat.SDK(id); !ok {
			t.Errorf("sdk_aliases: %q is not a catalogue SDK", id)
		}
	}
}

// Observations use only the kinds and attributes of observation_kinds.yaml.
func TestObservationsMatchVocabulary(t *testing.T) {
	cat := catalogue(t)
	data, _ := os.ReadFile("testdata/zh_policy.html")
	a, err := Analyze("zh_policy.html", data, "", cat)
	if err != nil {
		t.Fatal(err)
	}
	obs := Observations(a, "zh_policy.html", []string{"x"}, "policies", "1")
	kinds := map[string]bool{}
	for _, o := range obs {
		kinds[o.Kind] = true
		spec, ok := cat.ObservationKind(o.Kind)
		if !ok {
			t.Fatalf("kind %s not declared", o.Kind)
		}
		declared := map[string]bool{}
		for _, at := range spec.Attributes {
			declared[at.Name] = true
		}
		for name := range o.Attributes {
			if !declared[name] {
				t.Errorf("%s: attribute %s not declared", o.Kind, name)
			}
		}
		if o.Kind == "policy.element" {
			var el rules.AttributeSpec
			for _, at := range spec.Attributes {
				if at.Name == "element" {
					el = at
				}
			}
			if !strings.Contains(el.Description, o.Subject) {
				t.Errorf("element id %s not in the vocabulary's list", o.Subject)
			}
		}
	}
	if len(kinds) != 5 {
		t.Errorf("kinds emitted: %v", kinds)
	}
}

func TestExtractStructure(t *testing.T) {
	data, err := os.ReadFile("testdata/zh_policy.html")
	if err != nil {
		t.Fatal(err)
	}
	doc := Extract(string(data), FormatHTML)
	var heads []string
	for _, s := range doc.Sections {
		heads = append(heads, s.Number+"|"+s.Heading)
	}
	got := strings.Join(heads, "\n")
	for _, want := range []string{"|示例出行隐私政策", "一、|我们如何收集和使用您的个人信息", "（二）|叫车服务", "（三）|第三方SDK", "七、|如何联系我们"} {
		if !strings.Contains(got, want) {
			t.Errorf("section %q missing in:\n%s", want, got)
		}
	}
	text := doc.Text()
	for _, banned := range []string{"首页", "ICP", "tracking", "color:red"} {
		if strings.Contains(text, banned) {
			t.Errorf("boilerplate %q kept", banned)
		}
	}
	var rows, items int
	for _, s := range doc.Sections {
		for _, b := range s.Blocks {
			switch b.Kind {
			case "row":
				rows++
				if rows == 2 && (len(b.Cells) != 4 || b.Cells[0] != "友盟统计") {
					t.Errorf("table row cells %q", b.Cells)
				}
			case "item":
				items++
			}
		}
	}
	if rows != 3 || items != 3 {
		t.Errorf("rows %d items %d, want 3 and 3", rows, items)
	}
	if doc.Title != "示例出行隐私政策" {
		t.Errorf("title %q", doc.Title)
	}
}

func TestExtractPlainTextNumbering(t *testing.T) {
	txt := "某某App隐私政策\n第一条 总则\n本政策适用于某某App。\n1.1 收集的信息\n我们会收集您的手机号码。\n1.\n我们如何使用信息\n（1）用于登录。\n"
	doc := Extract(txt, FormatText)
	var got []string
	for _, s := range doc.Sections {
		got = append(got, s.Number+"|"+s.Heading)
	}
	want := "|\n第一条|总则\n1.1|收集的信息\n1.|我们如何使用信息"
	if strings.Join(got, "\n") != want {
		t.Errorf("sections:\n%s\nwant:\n%s", strings.Join(got, "\n"), want)
	}
}

func TestDecodeCharsets(t *testing.T) {
	src := "<html><head><meta charset=\"gbk\"></head><body><p>我们会收集您的手机号码。</p></body></html>"
	gbk, _ := simplifiedchinese.GBK.NewEncoder().String(src)
	out, cs := DecodeCharset([]byte(gbk), "", FormatHTML)
	if cs != "gbk" || !strings.Contains(out, "手机号码") {
		t.Errorf("declared GBK: %s %q", cs, out)
	}
	// undeclared GB18030 text file
	plain, _ := simplifiedchinese.GB18030.NewEncoder().String("我们会收集您的位置信息，用于导航服务。个人信息保护政策")
	out, cs = DecodeCharset([]byte(plain), "", FormatText)
	if cs != "gb18030" || !strings.Contains(out, "位置信息") {
		t.Errorf("undeclared GB18030: %s %q", cs, out)
	}
	big5, _ := traditionalchinese.Big5.NewEncoder().String("我們會蒐集您的個人資料，包括電話號碼與電子郵件地址。")
	out, cs = DecodeCharset([]byte(big5), "", FormatText)
	if cs != "big5" || !strings.Contains(out, "個人資料") {
		t.Errorf("undeclared Big5: %s %q", cs, out)
	}
	out, cs = DecodeCharset([]byte("\xef\xbb\xbf隐私政策"), "", FormatText)
	if cs != "utf-8" || out != "隐私政策" {
		t.Errorf("BOM: %s %q", cs, out)
	}
	// A server header wins over the bytes.
	out, cs = DecodeCharset([]byte(gbk), "text/html; charset=GB2312", FormatHTML)
	if cs != "gbk" || !strings.Contains(out, "手机号码") {
		t.Errorf("header GB2312: %s", cs)
	}
}

func TestGolden(t *testing.T) {
	for _, name := range []string{"zh_policy.html", "en_policy.md"} {
		t.Run(name, func(t *testing.T) {
			data, err := os.ReadFile(filepath.Join("testdata", name))
			if err != nil {
				t.Fatal(err)
			}
			a, err := Analyze(name, data, "", fixedCatalogue{})
			if err != nil {
				t.Fatal(err)
			}
			for _, id := range ElementIDs {
				if !a.Elements[id].Present {
					t.Errorf("element %s missing in a policy written to contain it", id)
				}
			}
			if !a.IsPrivacyPolicy {
				t.Error("not recognised as a privacy policy")
			}
			got, err := a.JSON()
			if err != nil {
				t.Fatal(err)
			}
			golden := filepath.Join("testdata", strings.TrimSuffix(name, filepath.Ext(name))+".golden.json")
			if *update {
				if err := os.WriteFile(golden, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatalf("%v (run go test ./policies -update)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("report differs from %s (run with -update and review the diff):\n%s", golden, got)
			}
		})
	}
}

func TestGBKFileMatchesUTF8(t *testing.T) {
	data, _ := os.ReadFile("testdata/zh_policy.html")
	gbk, err := encoding.ReplaceUnsupported(simplifiedchinese.GBK.NewEncoder()).Bytes(bytes.Replace(data, []byte(`charset="utf-8"`), []byte(`charset="gbk"`), 1))
	if err != nil {
		t.Fatal(err)
	}
	a1, _ := Analyze("u.html", data, "", fixedCatalogue{})
	a2, _ := Analyze("g.html", gbk, "", fixedCatalogue{})
	if a2.Charset != "gbk" || a1.Elements["contact"] != a2.Elements["contact"] || len(a1.PIDeclared) != len(a2.PIDeclared) {
		t.Errorf("GBK analysis differs: %s %+v vs %+v", a2.Charset, a1.Elements["contact"], a2.Elements["contact"])
	}
}

func TestAnalyzeDeclarations(t *testing.T) {
	data, _ := os.ReadFile("testdata/zh_policy.html")
	a, err := Analyze("zh_policy.html", data, "", fixedCatalogue{})
	if err != nil {
		t.Fatal(err)
	}
	pis := map[string]PIDeclared{}
	for _, p := range a.PIDeclared {
		pis[p.PI] = p
	}
	for _, want := range []string{"phone_number", "location_precise", "identity_document", "device_info"} {
		if _, ok := pis[want]; !ok {
			t.Errorf("PI %s not declared; got %v", want, a.PIDeclared)
		}
	}
	if !strings.Contains(pis["location_precise"].Purpose, "叫车服务") {
		t.Errorf("purpose of location: %q", pis["location_precise"].Purpose)
	}
	sdks := map[string]string{}
	for _, s := range a.SDKsDeclared {
		sdks[s.SDK] = s.Quote
	}
	if !strings.Contains(sdks["umeng_analytics"], "|") || sdks["jpush"] == "" || sdks["bugly"] != "" {
		t.Errorf("SDKs: %v", sdks)
	}
	sep := map[string]bool{}
	for _, s := range a.SeparateConsent {
		sep[s.PI] = s.Present
	}
	if !sep["location_precise"] || !sep["identity_document"] {
		t.Errorf("separate consent: %+v", a.SeparateConsent)
	}
	if a.EffectiveDate != "2024-03-08" || a.UpdatedDate != "2024-03-01" || a.Language != "zh" {
		t.Errorf("dates %q %q lang %s", a.EffectiveDate, a.UpdatedDate, a.Language)
	}
}

func TestContainsKey(t *testing.T) {
	for _, c := range []struct {
		s, k string
		want bool
	}{{"mozilla shares this with adjust, but", "adjust", true}, {"adjusting privacy settings", "adjust", false},
		{"集成友盟+sdk", "友盟+", true}, {"bugly sdk", "bugly", true}, {"xbugly", "bugly", false}, {"腾讯bugly", "bugly", true}} {
		if got := containsKey(c.s, c.k); got != c.want {
			t.Errorf("containsKey(%q, %q) = %v", c.s, c.k, got)
		}
	}
}

func TestNotAPolicy(t *testing.T) {
	home := `<html><head><title>示例商城 - 首页</title></head><body><h1>欢迎来到示例商城</h1><p>今日特价：手机、电脑、家电。</p><p>客服电话：400-123-4567</p></body></html>`
	tos := "# Terms of Service\n\nBy using the service you agree to these terms. You may not misuse the service. We may suspend accounts that violate these terms. These terms are governed by the laws of Delaware.\n"
	for name, s := range map[string]string{"home.html": home, "tos.md": tos} {
		a, err := Analyze(name, []byte(s), "", fixedCatalogue{})
		if err != nil {
			t.Fatal(err)
		}
		if a.IsPrivacyPolicy {
			t.Errorf("%s recognised as a privacy policy", name)
		}
	}
}

func TestDiff(t *testing.T) {
	data, _ := os.ReadFile("testdata/zh_policy.html")
	old, _ := Analyze("v1", data, "", fixedCatalogue{})
	changed := bytes.Replace(data, []byte("<p><strong>五、未成年人的个人信息保护</strong></p>\n<p>若您是未满14周岁的未成年人，请在监护人的陪同下阅读本政策。</p>"), nil, 1)
	changed = bytes.Replace(changed, []byte("保存期限为账号注销后三年"), []byte("保存期限为账号注销后五年"), 1)
	changed = bytes.Replace(changed, []byte("</body>"), []byte("<h2>八、其他</h2><p>本政策以中文版本为准。</p></body>"), 1)
	neu, _ := Analyze("v2", changed, "", fixedCatalogue{})
	d := Diff(old, neu)
	kinds := map[string]string{}
	for _, s := range d.Sections {
		kinds[s.Heading] = s.Change
	}
	if kinds["未成年人的个人信息保护"] != "removed" || kinds["我们如何存储您的个人信息"] != "changed" || kinds["其他"] != "added" || len(kinds) != 3 {
		t.Errorf("section changes %v", kinds)
	}
	var minors bool
	for _, e := range d.Elements {
		minors = minors || (e.Element == "minors" && e.Old.Present && !e.New.Present)
	}
	if !minors {
		t.Errorf("element changes %+v", d.Elements)
	}
}

type memSink struct{ metas []evidence.Meta }

func (s *memSink) Put(r io.Reader, m evidence.Meta) (evidence.Ref, error) {
	b, err := io.ReadAll(r)
	if err != nil {
		return evidence.Ref{}, err
	}
	s.metas = append(s.metas, m)
	sum := sha256.Sum256(b)
	return evidence.Ref{SHA256: hex.EncodeToString(sum[:]), Size: int64(len(b))}, nil
}

func TestInspectorFile(t *testing.T) {
	in := New(fixedCatalogue{}, nil, Options{})
	sink := &memSink{}
	rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourcePolicyFile, Locator: "testdata/zh_policy.html"}, sink)
	if rep.Status != scanner.StatusSucceeded || len(rep.Evidence) != 1 || sink.metas[0].Method != "file_import" {
		t.Fatalf("report %+v", rep)
	}
	kinds := map[string]int{}
	for _, o := range rep.Observations {
		kinds[o.Kind]++
		if len(o.EvidenceRefs) != 1 || o.EvidenceRefs[0] != rep.Evidence[0].SHA256 {
			t.Errorf("observation without the stored file as evidence: %+v", o)
		}
	}
	if kinds["policy.document"] != 1 || kinds["policy.element"] != len(ElementIDs) || kinds["policy.pi_declared"] == 0 ||
		kinds["policy.sdk_declared"] != 2 || kinds["policy.separate_consent"] == 0 {
		t.Errorf("observation kinds %v", kinds)
	}
	rep = scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourcePolicyFile, Locator: "testdata/does-not-exist.html"}, sink)
	if rep.Status != scanner.StatusFailed || !strings.Contains(scanner.JoinErrors(rep.Errors, ""), "does-not-exist.html") {
		t.Errorf("missing file: %+v", rep)
	}
	rep = scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourcePolicyURL, Locator: "http://example.org/"}, sink)
	if rep.Status != scanner.StatusFailed {
		t.Errorf("URL without browser: %+v", rep)
	}
}

func TestHostileHTML(t *testing.T) {
	deep := strings.Repeat("<div>", 100000) + "隐私政策" + strings.Repeat("</div>", 100000)
	for _, s := range []string{deep, "<table><tr><td><table><tr><td>x", "<pre>\x00\xff\xfe", strings.Repeat("<li>", 60000), "<h1><h2><h3>"} {
		doc := Extract(s, FormatHTML)
		if _, err := AnalyzeDocument(doc, fixedCatalogue{}); err != nil {
			t.Error(err)
		}
	}
}
