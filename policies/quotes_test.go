package policies

import (
	"regexp"
	"strings"
	"testing"
)

// TestQuoteChoiceExamples runs the examples of the quote-choice patterns in
// rules/data/policy_patterns.yaml: each element's section, weak and concrete patterns, and
// quote_choice's readings.
func TestQuoteChoiceExamples(t *testing.T) {
	ps, err := loadPatterns()
	if err != nil {
		t.Fatal(err)
	}
	check := func(where string, res map[string]*regexp.Regexp, ex quotePattern, match func(lang, s string) bool) {
		t.Helper()
		for lang := range res {
			if len(ex.Positive[lang]) == 0 || len(ex.Negative[lang]) == 0 {
				t.Errorf("%s/%s: needs positive and negative examples", where, lang)
			}
		}
		for lang, list := range ex.Positive {
			for _, s := range list {
				if !match(lang, s) {
					t.Errorf("%s/%s: positive example not matched: %q", where, lang, s)
				}
			}
		}
		for lang, list := range ex.Negative {
			for _, s := range list {
				if match(lang, s) {
					t.Errorf("%s/%s: negative example matched: %q", where, lang, s)
				}
			}
		}
	}
	sections := 0
	for _, ep := range ps.elements {
		for _, part := range []struct {
			name string
			res  map[string]*regexp.Regexp
			ex   quotePattern
		}{{"section", ep.section, ep.sectionExamples}, {"weak", ep.weak, ep.weakExamples}, {"concrete", ep.concrete, ep.concreteExamples}} {
			res := part.res
			check(ep.id+" "+part.name, res, part.ex, func(lang, s string) bool { return matchRe(res[lang], s) })
		}
		if len(ep.section) > 0 {
			sections++
		}
	}
	if sections < 10 {
		t.Errorf("only %d elements have a section pattern", sections)
	}
	qc, ex := &ps.quote, ps.quoteExamples
	check("quote_choice.intro_section", qc.introSection, ex.IntroSection, func(lang, s string) bool { return matchRe(qc.introSection[lang], s) })
	check("quote_choice.overview", qc.overview, ex.Overview, func(lang, s string) bool { return matchRe(qc.overview[lang], s) })
	check("quote_choice.exception", qc.exception, ex.Exception, func(lang, s string) bool { return matchRe(qc.exception[lang], s) })
	check("quote_choice.topics", qc.topics, ex.Topics, qc.listsTopics)
}

// quoteDoc builds a document from sections written as "number|heading|sentence。sentence…"; a
// section without a number or heading leaves those parts empty.
func quoteDoc(secs ...string) *Document {
	d := &Document{}
	for _, s := range secs {
		p := strings.SplitN(s, "|", 3)
		sec := Section{Number: p[0], Heading: p[1], Level: 1}
		if sec.Number != "" && !strings.Contains(sec.Number, "、") {
			sec.Level = 2
		}
		if p[2] != "" {
			sec.Blocks = []Block{{Kind: "paragraph", Text: p[2]}}
		}
		d.Sections = append(d.Sections, sec)
	}
	return d
}

// TestQuoteRanking shows each rule of the ranking with a document where it decides the quote
// (positive) and one where the only sentence it demotes is still the quote, the element still
// present (negative: the ranking chooses, it never removes).
func TestQuoteRanking(t *testing.T) {
	cat := catalogue(t)
	cases := []struct {
		name, element, want string
		doc                 *Document
	}{
		{"an introduction loses to a section sentence", "third_party_sharing", "我们会与物流服务商共享您的收货地址",
			quoteDoc("||本政策将帮助您了解以下内容：我们如何收集、使用、共享和转让您的个人信息。",
				"一、|我们如何收集和使用您的个人信息|我们会收集您的手机号码用于注册。",
				"二、|我们如何共享、转让您的个人信息|我们会与物流服务商共享您的收货地址，以便配送商品。")},
		{"an introduction alone is still the quote", "third_party_sharing", "本政策将帮助您了解",
			quoteDoc("||本政策将帮助您了解以下内容：我们如何收集、使用、共享和转让您的个人信息。",
				"一、|我们如何收集和使用您的个人信息|我们会收集您的手机号码用于注册。")},
		{"a section titled 引言 is an introduction", "pi_collected", "我们会收集您的手机号码",
			quoteDoc("一、|引言|我们会收集和使用您的相关信息，并保护您的个人信息。",
				"二、|我们如何收集您的个人信息|我们会收集您的手机号码用于注册。")},
		{"a negation loses", "third_party_sharing", "我们会与授权合作伙伴共享您的订单信息",
			quoteDoc("一、|我们如何共享您的个人信息|我们不会向第三方披露您的个人信息。我们会与授权合作伙伴共享您的订单信息，以完成支付。")},
		{"a negation alone is still the quote", "third_party_sharing", "我们不会向第三方披露您的个人信息",
			quoteDoc("一、|我们如何共享您的个人信息|我们不会向第三方披露您的个人信息。")},
		{"an exception list loses", "third_party_sharing", "我们会与授权合作伙伴共享",
			quoteDoc("一、|我们如何共享您的个人信息|以下情形中，我们共享您的个人信息无需征得您的授权同意：与国家安全有关的。我们会与授权合作伙伴共享您的订单信息。")},
		{"a heading set as a paragraph loses", "pi_collected", "我们会收集您的手机号码",
			quoteDoc("一、|个人信息|我们收集的信息\n我们会收集您的手机号码用于注册。")},
		{"data coming in from a third party loses to sharing out", "third_party_sharing", "我们会与支付机构共享您的订单号",
			quoteDoc("一、|我们如何共享您的个人信息|第三方合作伙伴会向我们提供您的公开信息。我们会与支付机构共享您的订单号，以完成支付。")},
		{"a sentence outside the element's sections loses", "third_party_sharing", "我们会与快递公司共享您的地址",
			quoteDoc("一、|我们如何收集和使用您的个人信息|我们会收集您的地址，并提供给配送员。",
				"二、|我们如何共享您的个人信息|我们会与快递公司共享您的地址，以便配送。")},
		{"a vague sentence loses to a concrete one", "pi_collected", "我们会收集您的手机号码",
			quoteDoc("一、|我们如何收集您的个人信息|我们可能会收集和使用您的相关信息。我们会收集您的手机号码用于注册。")},
		{"the operator stays in the introduction", "operator_identity", "某某科技有限公司",
			quoteDoc("||本应用由某某科技有限公司运营。",
				"一、|我们如何收集您的个人信息|我们会收集您的手机号码。某某数据有限公司为我们提供短信服务。")},
		{"a negation states the minors element", "minors", "not intended for children under 13",
			quoteDoc("1.|Information We Collect|We collect your email address to create your account.",
				"2.|Children|Our services are not intended for children under 13. We care about the privacy of children and parents or guardians.")},
	}
	for _, c := range cases {
		a, err := AnalyzeDocument(c.doc, cat)
		if err != nil {
			t.Fatal(err)
		}
		el := a.Elements[c.element]
		if !el.Present || !strings.Contains(el.Quote, c.want) {
			t.Errorf("%s: %s = %+v, want a quote containing %q", c.name, c.element, el, c.want)
		}
	}
}

// TestSectionContexts checks how the introduction and the section paths are read.
func TestSectionContexts(t *testing.T) {
	ps, err := loadPatterns()
	if err != nil {
		t.Fatal(err)
	}
	secs := []Section{{Heading: ""}, {Number: "一、", Heading: "引言", Level: 1}, {Number: "（一）", Heading: "适用范围", Level: 2},
		{Number: "二、", Heading: "我们如何共享您的个人信息", Level: 1}, {Number: "（一）", Heading: "委托处理", Level: 2}}
	ctx := sectionContexts(secs, &ps.quote, "zh")
	wantIntro := []bool{true, true, true, false, false}
	for i, w := range wantIntro {
		if ctx[i].intro != w {
			t.Errorf("section %d %q: intro = %v, want %v", i, secs[i].Title(), ctx[i].intro, w)
		}
	}
	if p := ctx[4].path; !strings.Contains(p, "共享") || !strings.Contains(p, "委托处理") {
		t.Errorf("path of a subsection = %q, want its parent's heading and its own", p)
	}
	// without numbered sections only the headings decide
	plain := sectionContexts([]Section{{Heading: ""}, {Heading: "Information We Share", Level: 1}}, &ps.quote, "en")
	if plain[0].intro || plain[1].intro {
		t.Errorf("no numbered sections: %+v, want no introduction", plain)
	}
}
