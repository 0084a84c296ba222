package policies

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"unicode/utf8"

	"pilmon/rules"
)

// TestClauseExamples runs every positive and negative sentence of policy_clauses.yaml through its
// detector: a positive must be recognised and a negative (the near-misses) must not, and no other
// family may take a negative of this one for itself by accident of a shared word.
func TestClauseExamples(t *testing.T) {
	ds, err := loadClauses()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, d := range ds {
		ids = append(ids, d.id)
		for _, lang := range []string{"zh", "en"} {
			if len(d.positive[lang]) == 0 || len(d.negative[lang]) == 0 {
				t.Errorf("clause %s: no %s positive or negative examples", d.id, lang)
			}
			for _, s := range d.positive[lang] {
				if !d.matches(lang, s) {
					t.Errorf("clause %s: positive %s example not recognised: %s", d.id, lang, s)
				}
			}
			for _, s := range d.negative[lang] {
				if d.matches(lang, s) {
					t.Errorf("clause %s: negative %s example recognised: %s", d.id, lang, s)
				}
			}
		}
	}
	if !slices.Equal(ids, rules.ClauseIDs) {
		t.Errorf("clause families %v, want %v", ids, rules.ClauseIDs)
	}
}

// TestClausesInDocument reads clauses from a whole document: the first sentence of each family is
// quoted with its section, headings state nothing, and a document without such clauses yields none.
func TestClausesInDocument(t *testing.T) {
	doc := "# 隐私政策\n\n## 引言\n\n一旦您开始使用本平台服务，即表示您认可并接受本政策。我们会收集您的手机号码。\n\n" +
		"## 本政策如何更新\n\n本政策发生变更时，我们会通过弹窗通知您。更新后的条款一经公布即时生效，恕不另行通知。\n"
	_, cs := analyzeClauses(t, doc)
	want := []Clause{
		{Clause: "deemed_consent", Quote: "一旦您开始使用本平台服务，即表示您认可并接受本政策。", Section: "引言"},
		{Clause: "no_notice_change", Quote: "更新后的条款一经公布即时生效，恕不另行通知。", Section: "本政策如何更新"},
	}
	if !slices.Equal(cs, want) {
		t.Errorf("clauses = %+v, want %+v", cs, want)
	}
	clean := "# 隐私政策\n\n## 本政策如何更新\n\n本政策发生变更时，我们会通过弹窗通知您，并在您同意后生效。\n"
	if _, cs := analyzeClauses(t, clean); len(cs) != 0 {
		t.Errorf("clean policy: clauses = %+v", cs)
	}
}

// TestClausesAcrossSentences: a sentence that refers back to the one before it ("This processing
// …", "Consent to this processing …", "此类信息的收集…", "对上述用途的授权…") is read with it, and the quote is both sentences; a sentence that does not
// refer back is read alone, so two unrelated sentences never make a clause between them.
func TestClausesAcrossSentences(t *testing.T) {
	for _, tc := range []struct {
		name, doc string
		want      []Clause
	}{
		{"en anaphor", "# Privacy Notice\n\n## Improvement\n\nTo improve our services and develop new features, we collect your consultation history. " +
			"This processing is a condition of using the App and cannot be switched off.\n",
			[]Clause{
				{Clause: "refuse_then_deny", Quote: "This processing is a condition of using the App and cannot be switched off.", Section: "Improvement"},
				{Clause: "forced_purpose", Quote: "To improve our services and develop new features, we collect your consultation history. This processing is a condition of using the App and cannot be switched off.", Section: "Improvement"},
			}},
		{"zh anaphor", "# 隐私政策\n\n## 改进\n\n我们会将您的学习记录用于研发新产品。您同意本政策即表示同意前述用途，该用途无法在App内单独关闭。\n",
			[]Clause{{Clause: "forced_purpose", Quote: "我们会将您的学习记录用于研发新产品。您同意本政策即表示同意前述用途，该用途无法在App内单独关闭。", Section: "改进"}}},
		{"en consent to this", "# Privacy Notice\n\n## Research\n\nWe use your gameplay telemetry for the development of new titles. " +
			"Consent to this processing is a condition of playing.\n",
			[]Clause{
				{Clause: "refuse_then_deny", Quote: "Consent to this processing is a condition of playing.", Section: "Research"},
				{Clause: "forced_purpose", Quote: "We use your gameplay telemetry for the development of new titles. Consent to this processing is a condition of playing.", Section: "Research"},
			}},
		{"zh 对上述", "# 隐私政策\n\n## 研发\n\n我们会将您的驾驶数据用于研发新车型。对上述用途的授权是您使用本App的前提条件。\n",
			[]Clause{
				{Clause: "refuse_then_deny", Quote: "对上述用途的授权是您使用本App的前提条件。", Section: "研发"},
				{Clause: "forced_purpose", Quote: "我们会将您的驾驶数据用于研发新车型。对上述用途的授权是您使用本App的前提条件。", Section: "研发"},
			}},
		{"no anaphor", "# Privacy Notice\n\n## Improvement\n\nTo improve our services and develop new features, we collect your consultation history. " +
			"Crash reports cannot be switched off in this version.\n", []Clause{}},
		{"other paragraph", "# 隐私政策\n\n## 改进\n\n我们会将您的学习记录用于研发新产品。\n\n该用途无法在App内单独关闭。\n", []Clause{}},
	} {
		a, err := Analyze("p.md", []byte(tc.doc), "text/markdown", nil)
		if err != nil {
			t.Fatal(err)
		}
		cs, err := Clauses(a)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(cs, tc.want) {
			t.Errorf("%s: clauses = %+v, want %+v", tc.name, cs, tc.want)
		}
	}
}

// TestClausesEveryOne: every distinct clause of a family is reported, in document order, each
// with its own quote and section; the same sentence repeated is one clause; past
// maxClausesPerFamily the rest are counted on each reported clause of the family (Cut), and the
// observations keep the family's identity for the first and tell the others apart by sentence.
func TestClausesEveryOne(t *testing.T) {
	doc := "# 隐私政策\n\n## 引言\n\n一旦您开始使用本平台服务，即表示您认可并接受本政策。\n\n" +
		"## 更新\n\n若您继续使用我们的产品，即表示您接受更新后的本政策。一旦您开始使用本平台服务，即表示您认可并接受本政策。\n"
	a, cs := analyzeClauses(t, doc)
	want := []Clause{
		{Clause: "deemed_consent", Quote: "一旦您开始使用本平台服务，即表示您认可并接受本政策。", Section: "引言"},
		{Clause: "deemed_consent", Quote: "若您继续使用我们的产品，即表示您接受更新后的本政策。", Section: "更新"},
	}
	if !slices.Equal(cs, want) {
		t.Errorf("clauses = %+v, want %+v", cs, want)
	}
	obs := Observations(a, "p.md", nil, "policies", "test")
	var ids []any
	for _, o := range obs {
		if o.Kind == "policy.clause" {
			ids = append(ids, o.Attributes["quote_id"])
			if _, ok := o.Attributes["cut"]; ok {
				t.Errorf("cut on %v though nothing was cut", o.Attributes)
			}
		}
	}
	if len(ids) != 2 || ids[0] != nil || ids[1] != clauseQuoteID(want[1].Quote) {
		t.Errorf("quote_ids = %v, want [<nil> %s]", ids, clauseQuoteID(want[1].Quote))
	}

	// eight different deeming sentences: five reported, three cut
	var b strings.Builder
	b.WriteString("# 隐私政策\n\n## 附则\n\n")
	for i := range 8 {
		fmt.Fprintf(&b, "您使用第%d项服务，即视为您同意本政策。", i+1)
	}
	a, cs = analyzeClauses(t, b.String())
	if len(cs) != maxClausesPerFamily {
		t.Fatalf("%d clauses, want %d: %+v", len(cs), maxClausesPerFamily, cs)
	}
	for i, c := range cs {
		if c.Cut != 8-maxClausesPerFamily || !strings.Contains(c.Quote, fmt.Sprintf("第%d项", i+1)) {
			t.Errorf("clause %d: %+v", i, c)
		}
	}
	for _, o := range Observations(a, "q.md", nil, "policies", "test") {
		if o.Kind == "policy.clause" && o.Attributes["cut"] != 8-maxClausesPerFamily {
			t.Errorf("cut = %v on %v", o.Attributes["cut"], o.Attributes["quote"])
		}
	}
}

// TestClausesNoSharedSentence: a sentence read together with the one before it and again with the
// one after it (the purpose between a compulsion stated before and one stated after) is quoted in
// one clause of the family, not in two.
func TestClausesNoSharedSentence(t *testing.T) {
	doc := "# Privacy Notice\n\n## Research\n\nYou must consent to the processing described below. " +
		"This processing serves to improve our services. This processing cannot be switched off.\n"
	a, err := Analyze("p.md", []byte(doc), "text/markdown", nil)
	if err != nil {
		t.Fatal(err)
	}
	all, _, err := detectClauses(a)
	if err != nil {
		t.Fatal(err)
	}
	var detected []string
	for _, d := range all {
		if d.Clause.Clause == "forced_purpose" {
			detected = append(detected, d.Quote)
		}
	}
	if len(detected) != 2 {
		t.Fatalf("forced_purpose detections %q, want the two overlapping ones", detected)
	}
	cs, _ := Clauses(a)
	want := []Clause{{Clause: "forced_purpose", Quote: "You must consent to the processing described below. This processing serves to improve our services.", Section: "Research"}}
	if !slices.Equal(cs, want) {
		t.Errorf("clauses = %+v, want %+v", cs, want)
	}
}

// TestClauseCues checks the composition of patterns from cue classes: a cue is spliced in as a
// group (so an alternation inside it does not leak into the pattern around it), may be built of
// other cues, and a cue that is unknown for the pattern's language, or a cycle, is a load error
// naming the file and the clause rather than a pattern left with a literal {{name}} in it.
func TestClauseCues(t *testing.T) {
	const head = "version: 1\ncues:\n  act: {zh: '点击|勾选'}\n  ack: {zh: '{{act}}即同意'}\n  loop: {zh: 'a{{loop}}'}\n"
	clause := func(p string) string {
		return head + "clauses:\n  - id: bundled_consent\n    match:\n      zh:\n        - ['" + p + "']\n"
	}
	ds, err := parseClauses([]byte(clause("您{{ack}}本政策")))
	if err != nil {
		t.Fatal(err)
	}
	for s, want := range map[string]bool{"您勾选即同意本政策": true, "您点击即同意本政策": true, "勾选即同意本政策": false, "您点击": false} {
		if got := ds[0].matches("zh", s); got != want {
			t.Errorf("%s: matched %v, want %v", s, got, want)
		}
	}
	for _, p := range []string{"{{nosuch}}", "{{loop}}"} {
		_, err := parseClauses([]byte(clause(p)))
		if err == nil || !strings.Contains(err.Error(), rules.FilePolicyClauses) || !strings.Contains(err.Error(), "bundled_consent") {
			t.Errorf("%s: error %v, want one naming %s and the clause", p, err, rules.FilePolicyClauses)
		}
	}
	// a cue declared for Chinese only is an error in an English pattern
	_, err = parseClauses([]byte(head + "clauses:\n  - id: bundled_consent\n    match:\n      en:\n        - ['{{act}}']\n"))
	if err == nil {
		t.Error("a zh-only cue in an en pattern: no error")
	}
}

// TestQuoteJoined: a clause stated across two sentences that together exceed a quote keeps the
// second sentence, the one that refers back and states the compulsion, and cuts the first, marking
// the cut; a pair that fits is quoted whole, as the text has it.
func TestQuoteJoined(t *testing.T) {
	long := "To improve our services and develop future titles, we collect " + strings.Repeat("telemetry, ", 30) + "and location."
	second := "This collection is an integral part of the Services and cannot be switched off in the settings."
	q := quoteJoined(long, " ", second)
	if !strings.HasSuffix(q, second) || !strings.Contains(q, "… ") || !strings.HasPrefix(q, "To improve our services") {
		t.Errorf("long pair quoted %q", q)
	}
	if n := utf8.RuneCountInString(q); n > maxQuoteRunes+1 {
		t.Errorf("quote of %d runes, want at most %d", n, maxQuoteRunes+1)
	}
	if q := quoteJoined("为提升体验，我们收集设备信息。", "", "该用途无法单独关闭。"); q != "为提升体验，我们收集设备信息。该用途无法单独关闭。" {
		t.Errorf("short pair quoted %q", q)
	}
	// a second sentence longer than a quote on its own is cut at its end, after the first's lead
	q = quoteJoined(long, " ", strings.Repeat("This is required. ", 40))
	if n := utf8.RuneCountInString(q); n > maxQuoteRunes+1 || !strings.HasPrefix(q, long[:minQuotedLead]) || !strings.HasSuffix(q, "…") {
		t.Errorf("overlong pair quoted %q (%d runes)", q, n)
	}
}

// analyzeClauses analyses a Markdown policy and reads its clauses, failing the test on an error.
func analyzeClauses(t *testing.T, doc string) (*Analysis, []Clause) {
	t.Helper()
	a, err := Analyze("p.md", []byte(doc), "text/markdown", nil)
	if err != nil {
		t.Fatal(err)
	}
	cs, err := Clauses(a)
	if err != nil {
		t.Fatal(err)
	}
	return a, cs
}

// TestClausesAcrossListItems: a list item that opens with a field label ("可见范围：") is read with
// the item before it, because the list states the clause across its items (what a profile holds,
// then who sees it); an item without a label, a paragraph after a list, or items whose second says
// the data stays private make no clause between them.
func TestClausesAcrossListItems(t *testing.T) {
	holds := "· 档案内容：包括昵称、所在城市，以及您自愿填写的既往病史；\n"
	for _, tc := range []struct {
		name, doc string
		want      []Clause
	}{
		{"labelled items", "# 隐私政策\n\n## 健康档案\n\n" + holds + "· 可见范围：档案创建后默认设为“公开”，所有注册用户均可查看；\n· 修改方式：可在设置中修改。\n",
			[]Clause{{Clause: "publish_sensitive", Quote: "档案内容：包括昵称、所在城市，以及您自愿填写的既往病史；可见范围：档案创建后默认设为“公开”，所有注册用户均可查看；", Section: "健康档案"}}},
		{"• bullets", "# 隐私政策\n\n## 健康档案\n\n• 档案内容：包括昵称和既往病史\n• 可见范围：默认对所有用户公开\n",
			[]Clause{{Clause: "publish_sensitive", Quote: "档案内容：包括昵称和既往病史可见范围：默认对所有用户公开", Section: "健康档案"}}},
		{"no label", "# 隐私政策\n\n## 健康档案\n\n" + holds + "· 档案创建后默认设为“公开”，所有注册用户均可查看。\n", []Clause{}},
		{"paragraph after a list", "# 隐私政策\n\n## 健康档案\n\n" + holds + "\n可见范围：档案创建后默认设为“公开”，所有注册用户均可查看。\n", []Clause{}},
		{"private", "# 隐私政策\n\n## 健康档案\n\n" + holds + "· 可见范围：档案默认设为“公开”前须经您确认，仅您本人可见；\n", []Clause{}},
	} {
		_, cs := analyzeClauses(t, tc.doc)
		if !slices.Equal(cs, tc.want) {
			t.Errorf("%s: clauses = %+v, want %+v", tc.name, cs, tc.want)
		}
	}
}

// TestQuoteThrough: a long sentence whose clause is stated past the first maxQuoteRunes runes is
// quoted through the words that state it, not cut before them; a short one, or one whose clause is
// stated early, is quoted from its start like every other quote.
func TestQuoteThrough(t *testing.T) {
	long := "The Bank may amend, supplement or replace this Privacy Notice, including " + strings.Repeat("the categories of information, ", 12) +
		"and an amendment shall take effect on the date set by the Bank, without any obligation on the part of the Bank to notify you individually, as the Bank decides."
	_, cs := analyzeClauses(t, "# Privacy Notice\n\n## Changes\n\n"+long+"\n")
	if len(cs) != 1 || cs[0].Clause != "no_notice_change" {
		t.Fatalf("clauses = %+v, want one no_notice_change", cs)
	}
	q := cs[0].Quote
	if !strings.Contains(q, "without any obligation on the part of the Bank to notify you") || !strings.HasPrefix(q, "…") {
		t.Errorf("long sentence quoted %q", q)
	}
	if n := utf8.RuneCountInString(q); n > maxQuoteRunes {
		t.Errorf("quote of %d runes, want at most %d", n, maxQuoteRunes)
	}
	if !strings.Contains(long, strings.Trim(q, "…")) {
		t.Errorf("quote %q is not a part of the sentence", q)
	}
	early := "We may change this policy at any time without notice, " + strings.Repeat("and so on, ", 40) + "as we decide."
	if q := quoteThrough(early, 60); q != quote(early) {
		t.Errorf("early clause quoted %q, want %q", q, quote(early))
	}
	if q := quoteThrough("  本政策修订后，恕不另行通知。", 14); q != "本政策修订后，恕不另行通知。" {
		t.Errorf("short sentence quoted %q", q)
	}
}
