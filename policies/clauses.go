package policies

import (
	"fmt"
	"regexp"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"pilmon/rules"
)

// clausesYAML is rules/data/policy_clauses.yaml; rules checks its ids and rules, this file compiles
// the patterns.
var clausesYAML = rules.EmbeddedPolicyClauses()

// maxClauseSentence bounds the text of one sentence the clause patterns look at: a clause is a
// sentence, and a run of text without punctuation (a hostile file, a flattened table) is cut here
// rather than matched a dozen times over its whole length.
const maxClauseSentence = 4 << 10

// clauseEnd ends the unit a clause pattern reads: the whole sentence, not its parts between
// semicolons, because a clause's parts are often so divided ("为提升体验，我们收集…；您须同意后方可
// 使用", "…we collect your data; you must consent as a condition of use"). A pattern that must stay
// inside one part says so with [^。；;] in its own window.
var clauseEnd = regexp.MustCompile(`[。！？!?]+|[.](\s+|$)`)

// clauseEnds returns what clauseEnd.FindAllStringIndex(s, -1) does, without the regexp engine
// (FuzzSentenceEnds holds the two to the same result).
func clauseEnds(s string) [][]int { return stopEnds(s, isClauseStop) }

func isClauseStop(r rune) bool { return r != '；' && r != ';' && isStop(r) }

// Clause is one clause of the policy that is itself a violation: its family (rules.ClauseIDs), the
// sentence that states it and the section it is in. Cut, on each clause of a family, is how many
// further clauses of that family the document holds that were not reported (maxClausesPerFamily).
type Clause struct {
	Clause  string `json:"clause"`
	Quote   string `json:"quote"`
	Section string `json:"section"`
	Cut     int    `json:"cut,omitempty"`
}

type clauseFile struct {
	Version int                          `yaml:"version"`
	Cues    map[string]map[string]string `yaml:"cues"` // name → language → pattern
	Clauses []struct {
		ID       string                `yaml:"id"`
		Rule     string                `yaml:"rule"`
		Name     rules.Text            `yaml:"name"`
		Match    map[string][][]string `yaml:"match"`
		Exclude  map[string][]string   `yaml:"exclude"`
		Positive map[string][]string   `yaml:"positive"`
		Negative map[string][]string   `yaml:"negative"`
	} `yaml:"clauses"`
}

// clauseDetector recognises one clause family: a sentence matches when every pattern of one
// shape matches and no exclusion does.
type clauseDetector struct {
	id       string
	eng      *clauseEngine
	shapes   map[string][]clauseShape // by language: alternatives
	exclude  map[string][]guarded
	positive map[string][]string
	negative map[string][]string
}

// clauseShape is one alternative of a detector: a conjunction of patterns (indexes into
// clauseEngine.res), with the literal condition every sentence matching all of them satisfies.
type clauseShape struct {
	sid  int // index of the shape in its engine (clauseText.cand)
	need cond
	run  []int // the patterns a sentence that meets need must still be matched against
	all  []int // every pattern, for the positions of the words that state the clause
}

// clauseEngine holds what the detectors share: one literal table per language and the distinct
// patterns, so that a pattern several families use ({{refusal}}, the policy's own name) runs at
// most once per sentence and all literals are found in one scan of it.
type clauseEngine struct {
	lits map[string]*litTable
	res  []*regexp.Regexp
	// anaphorNeed is the literal condition every sentence anaphor matches meets, by language
	anaphorNeed map[string]cond
	// shapes is the number of shapes of all detectors; gated[lang][lit] are the shapes that only a
	// sentence containing literal lit can match, ungated[lang] those no single literal gates
	shapes  int
	gated   map[string][][]int
	ungated map[string][]int
}

// gate indexes a shape by literals one of which every sentence it matches contains, so that a
// sentence is only tested against the shapes its literals could complete.
func (e *clauseEngine) gate(lang string, lt *litTable, sh clauseShape) {
	ids, ok := gateLits(lt, sh.need)
	if !ok {
		e.ungated[lang] = append(e.ungated[lang], sh.sid)
		return
	}
	g := e.gated[lang]
	for _, id := range ids {
		for len(g) <= id {
			g = append(g, nil)
		}
		g[id] = append(g[id], sh.sid)
	}
	e.gated[lang] = g
}

// gateLits returns literals one of which every text satisfying c contains: of a conjunction, the
// set of the part whose shortest literal is longest (likely the rarest); of a disjunction, the
// union of its parts' sets. A condition that always holds has none.
func gateLits(lt *litTable, c cond) ([]int, bool) {
	switch c.op {
	case condLit:
		return []int{c.lit}, true
	case condOr:
		var out []int
		for _, sub := range c.subs {
			ids, ok := gateLits(lt, sub)
			if !ok {
				return nil, false
			}
			out = append(out, ids...)
		}
		return out, true
	case condAnd:
		var best []int
		bestLen := -1
		for _, sub := range c.subs {
			ids, ok := gateLits(lt, sub)
			if !ok {
				continue
			}
			shortest := -1
			for _, id := range ids {
				if n := len(lt.lits[id].s); shortest < 0 || n < shortest {
					shortest = n
				}
			}
			if shortest > bestLen {
				best, bestLen = ids, shortest
			}
		}
		return best, best != nil
	}
	return nil, false
}

// refersBack reports whether t opens with words that refer to the sentence before it (anaphor).
func (e *clauseEngine) refersBack(lang string, t *clauseText) bool {
	if r, _ := utf8.DecodeRuneInString(t.s); strings.ContainsRune(anaphorFirst, r) && anaphorOpens.MatchString(t.s) {
		return true
	}
	if c, ok := e.anaphorNeed[lang]; ok && t.set != nil && !c.eval(t.set) {
		return false
	}
	return anaphor.MatchString(t.s)
}

// clauseText is one sentence as the detectors read it: cut to maxClauseSentence, in simplified
// characters for Chinese, with the literals it contains and what each pattern run on it gave.
type clauseText struct {
	s    string
	set  litSet
	cand []bool // by shape: the sentence has a literal of its gate
	memo []int8 // by pattern: 0 not run, 1 matches, 2 does not
}

func (e *clauseEngine) text(lang, s string) *clauseText {
	if len(s) > maxClauseSentence {
		s = s[:maxClauseSentence]
	}
	if lang == "zh" {
		// simplified maps characters to characters, so a rune offset in s is one in the original
		s = toSimplified(s)
	}
	t := &clauseText{s: s, memo: make([]int8, len(e.res))}
	if lt := e.lits[lang]; lt != nil {
		var found []int
		t.set, found = lt.scan(s)
		t.cand = make([]bool, e.shapes)
		for _, sid := range e.ungated[lang] {
			t.cand[sid] = true
		}
		g := e.gated[lang]
		for _, id := range found {
			if id < len(g) {
				for _, sid := range g[id] {
					t.cand[sid] = true
				}
			}
		}
	}
	return t
}

func (e *clauseEngine) matchString(t *clauseText, i int) bool {
	if t.memo[i] == 0 {
		t.memo[i] = 2
		if e.res[i].MatchString(t.s) {
			t.memo[i] = 1
		}
	}
	return t.memo[i] == 1
}

func (d *clauseDetector) matches(lang, s string) bool {
	ok, _ := d.match(lang, d.eng.text(lang, s), false)
	return ok
}

// match reports whether t shows the clause and, when it does and wantEnd, the rune offset in it at which the
// words stating it end (the furthest end of a match of a pattern of the shape, the last match of
// each counted: a sentence may state the clause twice, the second time more plainly): a long
// sentence is quoted up to there (quoteThrough), not cut before them.
func (d *clauseDetector) match(lang string, t *clauseText, wantEnd bool) (bool, int) {
	for _, shape := range d.shapes[lang] {
		// whether it matches first: most sentences lack the literals every match of the shape
		// needs, and a match without positions is the regexp engine's cheaper path
		if t.set != nil && (!t.cand[shape.sid] || !shape.need.eval(t.set)) {
			continue
		}
		all := true
		for _, i := range shape.run {
			if all = d.eng.matchString(t, i); !all {
				break
			}
		}
		if !all {
			continue
		}
		if matchAny(d.exclude[lang], t.s) {
			return false, 0
		}
		if !wantEnd {
			return true, 0
		}
		end := 0
		for _, i := range shape.all {
			if locs := d.eng.res[i].FindAllStringIndex(t.s, maxPatternMatches); len(locs) > 0 {
				end = max(end, locs[len(locs)-1][1])
			}
		}
		return true, utf8.RuneCountInString(t.s[:end])
	}
	return false, 0
}

// maxPatternMatches bounds the matches of one pattern read in one sentence (match looks for the
// last one).
const maxPatternMatches = 64

// minQuotedTail is how much of a long sentence a quote keeps after the words that state the clause.
const minQuotedTail = 40

// quoteThrough quotes a sentence whose clause ends at rune offset end. A sentence within the quote's
// length, or whose clause ends inside the first maxQuoteRunes runes, is quoted as every other quote
// is (from its start); otherwise the quote ends shortly after the clause and starts where it must to
// fit, marked with an ellipsis, because a quote cut before the words that state the clause does not
// show it.
func quoteThrough(s string, end int) string {
	t := strings.TrimLeftFunc(s, unicode.IsSpace)
	end -= utf8.RuneCountInString(s) - utf8.RuneCountInString(t)
	r := []rune(strings.TrimRightFunc(t, unicode.IsSpace))
	if len(r) <= maxQuoteRunes || end <= maxQuoteRunes {
		return quote(s)
	}
	stop := min(len(r), end+minQuotedTail)
	start := stop - (maxQuoteRunes - 2) // room for the two ellipses
	out := "…" + string(r[start:stop])
	if stop < len(r) {
		out += "…"
	}
	return out
}

// simplified maps the traditional forms of the characters the Chinese clause patterns use to their
// simplified forms, so that one pattern reads a policy written in either script (Taiwan, Hong Kong,
// Macao operators). It is a table of the patterns' own words, not a general converter: a character
// the patterns do not use may stay traditional.
var simplifiedPairs = []string{
	"蒐集", "收集", "私隱", "隐私", "接納", "接纳", "聲明", "声明", "預設", "默认", "資訊", "信息", "個人資料", "个人信息", "紀錄", "记录", "記錄", "记录", "個", "个", "別", "别", "視", "视", "為", "为", "與", "与", "權", "权", "務", "务", "將", "将",
	"無", "无", "須", "须", "隱", "隐", "僅", "仅", "於", "于", "後", "后", "經", "经", "條", "条", "議", "议",
	"規", "规", "則", "则", "變", "变", "訂", "订", "調", "调", "繼", "继", "續", "续", "開", "开", "啟", "启",
	"動", "动", "載", "载", "裝", "装", "錄", "录", "註", "注", "冊", "册", "訪", "访", "問", "问", "覽", "览",
	"進", "进", "購", "购", "買", "买", "傳", "传", "發", "发", "佈", "布", "們", "们", "態", "态", "認", "认",
	"構", "构", "當", "当", "預", "预", "設", "设", "顯", "显", "對", "对", "戶", "户", "見", "见", "體", "体",
	"驗", "验", "質", "质", "優", "优", "產", "产", "廣", "广", "絕", "绝", "讓", "让", "應", "应", "執", "执",
	"運", "运", "啓", "启", "遊", "游", "戲", "戏", "軟", "软", "臺", "台", "網", "网", "達", "达", "導", "导",
	"關", "关", "閉", "闭", "聯", "联", "繫", "系", "醫", "医", "療", "疗", "診", "诊", "處", "处", "歷", "历",
	"蹤", "踪", "證", "证", "識", "识", "財", "财", "銀", "银", "兒", "儿", "軌", "轨", "跡", "迹", "時", "时",
	"單", "单", "獨", "独", "專", "专", "門", "门", "誠", "诚", "謂", "谓", "嗎", "吗", "說", "说", "話", "话",
	"義", "义", "負", "负", "擔", "担", "責", "责", "該", "该", "項", "项", "種", "种", "類", "类", "屬", "属",
	"協", "协", "貸", "贷", "內", "内", "頁", "页", "請", "请", "徵", "征", "閣", "阁", "書", "书", "讀", "读",
	"閱", "阅", "確", "确", "點", "点", "擊", "击", "選", "选", "擇", "择", "簽", "签", "輸", "输", "區", "区",
	"圖", "图", "頻", "频", "費", "费", "價", "价", "額", "额", "車", "车", "輛", "辆", "機", "机", "電", "电",
	"標", "标", "準", "准", "範", "范", "圍", "围", "雙", "双", "轉", "转", "據", "据", "實", "实", "際", "际",
	"藥", "药", "會", "会", "資", "资", "終", "终", "壓", "压", "齊", "齐", "並", "并", "併", "并", "贊", "赞", "給", "给", "歸", "归", "響", "响", "帳", "账", "號", "号",
}

var (
	simplified = strings.NewReplacer(simplifiedPairs...)
	// tradStart marks the runes a key of simplifiedPairs starts with: a sentence with none of
	// them (almost every sentence of a mainland policy) is already in the patterns' script
	tradStart = func() *[1 << 16]bool {
		var m [1 << 16]bool
		for i := 0; i < len(simplifiedPairs); i += 2 {
			r, _ := utf8.DecodeRuneInString(simplifiedPairs[i])
			m[r] = true // every key starts in the Basic Multilingual Plane (TestToSimplified)
		}
		return &m
	}()
)

// toSimplified is simplified.Replace, without the replacer's work on a sentence it leaves as is.
func toSimplified(s string) string {
	for _, r := range s {
		if r >= 0x3400 && r < 1<<16 && tradStart[r] {
			return simplified.Replace(s)
		}
	}
	return s
}

var (
	clausesOnce sync.Once
	clauseSet   []clauseDetector
	clausesErr  error
)

func loadClauses() ([]clauseDetector, error) {
	clausesOnce.Do(func() { clauseSet, clausesErr = parseClauses(clausesYAML) })
	return clauseSet, clausesErr
}

func parseClauses(data []byte) ([]clauseDetector, error) {
	var f clauseFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("policies: %s: %w", rules.FilePolicyClauses, err)
	}
	compile := func(id, lang, p string) (*regexp.Regexp, error) {
		p, err := expandCues(f.Cues, lang, p)
		if err != nil {
			return nil, fmt.Errorf("policies: %s: clause %s (%s): %w", rules.FilePolicyClauses, id, lang, err)
		}
		// English patterns are case-insensitive: policies capitalise freely.
		if lang == "en" && !strings.HasPrefix(p, "(?i)") {
			p = "(?i)" + p
		}
		re, err := regexp.Compile(p)
		if err != nil {
			return nil, fmt.Errorf("policies: %s: clause %s (%s): %w", rules.FilePolicyClauses, id, lang, err)
		}
		return re, nil
	}
	eng := &clauseEngine{lits: map[string]*litTable{}, gated: map[string][][]int{}, ungated: map[string][]int{}}
	byExpr := map[string]int{} // a pattern several shapes use is one entry of eng.res
	var out []clauseDetector
	for _, c := range f.Clauses {
		d := clauseDetector{id: c.ID, eng: eng, shapes: map[string][]clauseShape{}, exclude: map[string][]guarded{},
			positive: c.Positive, negative: c.Negative}
		for lang, shapes := range c.Match {
			lt := eng.lits[lang]
			if lt == nil {
				lt = newLitTable()
				eng.lits[lang] = lt
			}
			for _, shape := range shapes {
				var sh clauseShape
				var need []cond
				for _, p := range shape {
					re, err := compile(c.ID, lang, p)
					if err != nil {
						return nil, err
					}
					i, ok := byExpr[re.String()]
					if !ok {
						i = len(eng.res)
						byExpr[re.String()] = i
						eng.res = append(eng.res, re)
					}
					need = append(need, patternCond(lt, re.String()))
					sh.all = append(sh.all, i)
					// a pattern that is nothing but literals matches exactly when need finds one
					if !newPrefilter(re.String()).exact {
						sh.run = append(sh.run, i)
					}
				}
				sh.need = and(need...)
				sh.sid = eng.shapes
				eng.shapes++
				eng.gate(lang, lt, sh)
				d.shapes[lang] = append(d.shapes[lang], sh)
			}
		}
		for lang, ps := range c.Exclude {
			for _, p := range ps {
				re, err := compile(c.ID, lang, p)
				if err != nil {
					return nil, err
				}
				d.exclude[lang] = append(d.exclude[lang], guard(re))
			}
		}
		out = append(out, d)
	}
	eng.anaphorNeed = map[string]cond{}
	for lang, lt := range eng.lits {
		eng.anaphorNeed[lang] = patternCond(lt, anaphor.String())
		lt.index()
	}
	return out, nil
}

// cueRef is a reference to a cue class in a pattern: {{name}}. Two braces never occur in RE2
// syntax, so a reference cannot be mistaken for a repetition count.
var cueRef = regexp.MustCompile(`\{\{([a-z_]+)\}\}`)

// maxCueDepth bounds the nesting of cues (a cue may be built of others); a cycle fails here
// instead of expanding forever.
const maxCueDepth = 4

// expandCues replaces every {{name}} in p with the cue class of that name for lang, as a group, so
// that a cue is declared once and composed into the patterns of several families. A cue unknown
// for the language, or nested deeper than maxCueDepth, is an error.
func expandCues(cues map[string]map[string]string, lang, p string) (string, error) {
	for depth := 0; cueRef.MatchString(p); depth++ {
		if depth == maxCueDepth {
			return "", fmt.Errorf("cues nested deeper than %d in %q", maxCueDepth, p)
		}
		var missing string
		p = cueRef.ReplaceAllStringFunc(p, func(ref string) string {
			name := cueRef.FindStringSubmatch(ref)[1]
			c, ok := cues[name][lang]
			if !ok {
				missing = name
				return ref
			}
			return "(?:" + c + ")"
		})
		if missing != "" {
			return "", fmt.Errorf("cue %q has no %s pattern", missing, lang)
		}
	}
	return p, nil
}

// maxClausesPerFamily bounds the clauses of one family reported for one document: a prosecutor
// wants every offending clause, but a policy that repeats one clause in every section does not
// need twenty records of it; the ones cut are counted (Clause.Cut).
const maxClausesPerFamily = 5

// Clauses returns, per clause family in the order of policy_clauses.yaml and within a family in
// document order, each distinct sentence of the analysed document that states it, at most
// maxClausesPerFamily of them. A sentence is reported once per family: a second detection that
// quotes a sentence already quoted for the family (the same sentence repeated, or read again with
// the one after it) is not another clause. Headings are not read: a heading names a topic, it
// states no clause.
func Clauses(a *Analysis) ([]Clause, error) {
	all, ds, err := detectClauses(a)
	if err != nil {
		return nil, err
	}
	out := []Clause{}
	quoted := map[string]map[string]bool{} // family → sentences already quoted
	kept, cut := map[string]int{}, map[string]int{}
	for _, d := range all {
		fam := d.Clause.Clause
		if quoted[fam] == nil {
			quoted[fam] = map[string]bool{}
		}
		// the quote itself is a key too: two long sentences cut to the same quote are one record
		// (their quote_id, the record's identity, would be the same)
		keys := append([]string{"\x00" + d.Quote}, d.parts...)
		dup := false
		for _, k := range keys {
			dup = dup || quoted[fam][k]
		}
		if dup {
			continue
		}
		for _, k := range keys {
			quoted[fam][k] = true
		}
		if kept[fam] >= maxClausesPerFamily {
			cut[fam]++
			continue
		}
		kept[fam]++
		out = append(out, d.Clause)
	}
	for i := range out {
		out[i].Cut = cut[out[i].Clause]
	}
	return sortClauses(out, ds), nil
}

// maxClauseDetections bounds the detections one document yields: a hostile or repetitive text
// (the same sentence ten thousand times) is read to its end, but its detections are not all kept.
const maxClauseDetections = 256

// anaphor opens a sentence that continues the one before it ("此类信息的收集是…前提条件", "This
// processing is a condition of using the App", "该用途无法单独关闭", "Consent to this processing is a
// condition of playing", "对上述用途的授权是…"): such a sentence is also read
// together with the previous one of its paragraph, because a clause is often stated across the two
// (the purpose in the first, the compulsion in the second) and neither alone shows it.
//
// It is two patterns, tried in turn: the words that open the sentence (anchored, so a sentence
// that does not open with them fails at its first rune), and the phrases that refer back wherever
// they stand (run only on a sentence holding their literals, anaphorNeed).
var (
	// anaphorFirst holds the first rune of every opening anaphorOpens matches, either case
	anaphorFirst = "此该这上前以這該您你对tTsSyYcCaA"
	anaphorOpens = regexp.MustCompile(`(?i)^(此|该|这|上述|前述|以上|此类|此项|这些|這|該)|^(this|these|such|that|the\s+(above|foregoing))\b|^(your\s+)?(consent|agreement)\s+to\s+(this|these|such|that|the\s+(above|foregoing))\b|^(您|你)?对(此|该|上述|前述|以上)`)
	anaphor      = regexp.MustCompile(`(前述|上述)(用途|目的|处理|收集|信息|权限|授权|提供)|该用途|(该等|此项|该项|这项)(处理|用途|目的|授权|收集|提供)`)
)

// fieldLabel opens a list item that gives one attribute of the thing its list describes ("可见范围：…",
// "Visibility: …"): such an item is also read together with the item before it, because the list
// states the clause across its items (what the profile holds in one, who sees it in the next) and
// neither alone shows it.
var fieldLabel = regexp.MustCompile(`^[^\s：:。，,；;.!?！？]{1,12}[：:]`)

// detection is one sentence (or a sentence read with the one before it) that a detector takes for
// its clause, with the sentences it quotes.
type detection struct {
	Clause
	parts []string
}

// detectClauses returns every sentence of the document that a detector takes for its clause, in
// document order; Clauses keeps the distinct ones, up to its bound per family.
func detectClauses(a *Analysis) ([]detection, []clauseDetector, error) {
	ds, err := loadClauses()
	if err != nil {
		return nil, nil, err
	}
	if a == nil || a.doc == nil {
		return nil, ds, nil
	}
	if len(ds) == 0 {
		return nil, ds, nil
	}
	lang, eng := a.Language, ds[0].eng
	var out []detection
	for _, s := range a.doc.Sections {
		title := s.Title()
		prevItem := "" // the last sentence of the block before, when that block is a list item
		var prevItemText *clauseText
		for _, b := range s.Blocks {
			var units []string
			if b.Kind == "row" {
				units = []string{b.Text}
			} else {
				units = splitAtEnds(clauseEnds(b.Text), b.Text)
			}
			var prev *clauseText
			for j, u := range units {
				var before, joined string
				var beforeText, joinedText *clauseText
				ut := eng.text(lang, u)
				long := utf8.RuneCountInString(u) > maxQuoteRunes
				switch {
				case j > 0 && eng.refersBack(lang, ut):
					before, beforeText = units[j-1], prev
				case j == 0 && b.Kind == "item" && prevItem != "" && fieldLabel.MatchString(strings.TrimSpace(u)):
					before, beforeText = prevItem, prevItemText
				}
				if before != "" {
					joined = before + sep(lang) + u
				}
				prev = ut
				// read together with the sentence before: a clause the pair states and the first alone
				// does not (the pair's text is built once, for the first detector that needs it)
				pairStates := func(d *clauseDetector) bool {
					if joined == "" {
						return false
					}
					if joinedText == nil {
						joinedText = eng.text(lang, joined)
					}
					if ok, _ := d.match(lang, joinedText, false); !ok {
						return false
					}
					ok, _ := d.match(lang, beforeText, false)
					return !ok
				}
				for i := range ds {
					d := &ds[i]
					// the end of the words stating the clause only matters to a quote that must be cut
					ok, end := d.match(lang, ut, long)
					switch {
					case ok:
						out = append(out, detection{Clause{Clause: d.id, Quote: quoteThrough(u, end), Section: title}, []string{strings.TrimSpace(u)}})
					case pairStates(d):
						out = append(out, detection{Clause{Clause: d.id, Quote: quoteJoined(before, sep(lang), u), Section: title},
							[]string{strings.TrimSpace(before), strings.TrimSpace(u)}})
					default:
						continue
					}
					if len(out) >= maxClauseDetections {
						return out, ds, nil
					}
				}
			}
			prevItem, prevItemText = "", nil
			if b.Kind == "item" && len(units) > 0 {
				prevItem, prevItemText = units[len(units)-1], prev
			}
		}
	}
	return out, ds, nil
}

// sep joins two sentences of a language as the text had them.
func sep(lang string) string {
	if lang == "en" {
		return " "
	}
	return ""
}

// minQuotedLead is the least of the first sentence a joined quote keeps: enough to show its
// purpose or its refusal.
const minQuotedLead = 80

// quoteJoined quotes a clause stated across two sentences. When the two are longer than a quote,
// the first is cut, not the second: the second is the one that refers back and usually holds what
// makes the pair a clause ("This collection … cannot be switched off"), so a quote cut at its end
// would lose the very words that state the clause. The cut is marked with an ellipsis.
func quoteJoined(first, sep, second string) string {
	if utf8.RuneCountInString(strings.TrimSpace(first+sep+second)) <= maxQuoteRunes {
		return quote(first + sep + second)
	}
	first, second = strings.TrimSpace(first), strings.TrimSpace(second)
	lead := max(maxQuoteRunes-utf8.RuneCountInString(sep+second)-1, minQuotedLead)
	r := []rune(first)
	if lead >= len(r) {
		return quote(first + sep + second)
	}
	head := string(r[:lead]) + "…" + sep
	rest := []rune(second)
	if room := maxQuoteRunes - utf8.RuneCountInString(head); len(rest) > room {
		return head + string(rest[:room]) + "…"
	}
	return head + second
}

// sortClauses puts clauses in the order of the detectors, so the report is stable.
func sortClauses(cs []Clause, ds []clauseDetector) []Clause {
	out := make([]Clause, 0, len(cs))
	for _, d := range ds {
		for _, c := range cs {
			if c.Clause == d.id {
				out = append(out, c)
			}
		}
	}
	return out
}
