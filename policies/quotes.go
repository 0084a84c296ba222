package policies

import (
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// A policy states most elements more than once: the introduction announces that it "will explain
// how we collect, use and share", a table of contents lists the sections, a negation says what is
// not shared, and the section about the element states it with content. The first sentence that
// matches is usually one of the former; a prosecutor needs the latter as the quote. The element
// loop of AnalyzeDocument therefore collects every sentence that shows the element and bestQuote
// picks one by the ranking below. Presence does not depend on the choice: any of them shows it.

// quotePattern is one reading of quote_choice or of an element's section/weak patterns, with the
// sentences (or headings) that show it and that do not.
type quotePattern struct {
	ZH       string              `yaml:"zh"`
	EN       string              `yaml:"en"`
	Positive map[string][]string `yaml:"positive"`
	Negative map[string][]string `yaml:"negative"`
}

// quoteChoiceFile is quote_choice in policy_patterns.yaml.
type quoteChoiceFile struct {
	// IntroSection: a heading that opens an introduction or overview (引言, 概述).
	IntroSection quotePattern `yaml:"intro_section"`
	// Overview: a sentence about the policy itself or a promise ("本政策将帮助您了解…", "我们非常
	// 重视…"), not a statement of what is done.
	Overview quotePattern `yaml:"overview"`
	// Exception: a list of cases where the operator acts without consent or does not do
	// something ("以下情形除外", "无需征得您的同意").
	Exception quotePattern `yaml:"exception"`
	// Topics: words of the policy's topics; a sentence with MinTopics distinct ones lists the
	// policy's contents rather than stating one of them.
	Topics    quotePattern `yaml:"topics"`
	MinTopics int          `yaml:"min_topics"`
}

// quoteChoice is quoteChoiceFile compiled, by language.
type quoteChoice struct {
	introSection, overview, exception, topics map[string]*regexp.Regexp
	// overview and exception as sentenceReads runs them, on every sentence an element matches
	overviewG, exceptionG map[string]guarded
	minTopics             int
}

func compileQuotePattern(where string, p quotePattern) (map[string]*regexp.Regexp, error) {
	out := map[string]*regexp.Regexp{}
	for lang, src := range map[string]string{"zh": p.ZH, "en": p.EN} {
		if src == "" {
			continue
		}
		if lang == "en" && !strings.HasPrefix(src, "(?-i)") {
			src = "(?i)" + src
		}
		re, err := regexp.Compile(src)
		if err != nil {
			return nil, fmt.Errorf("policies: policy_patterns.yaml: %s: %w", where, err)
		}
		out[lang] = re
	}
	for _, ex := range []map[string][]string{p.Positive, p.Negative} {
		for lang := range ex {
			if out[lang] == nil {
				return nil, fmt.Errorf("policies: policy_patterns.yaml: %s: examples in %q but no %s pattern", where, lang, lang)
			}
		}
	}
	return out, nil
}

func compileQuoteChoice(f quoteChoiceFile) (quoteChoice, error) {
	var qc quoteChoice
	var err error
	for _, part := range []struct {
		name string
		src  quotePattern
		dst  *map[string]*regexp.Regexp
	}{{"quote_choice.intro_section", f.IntroSection, &qc.introSection}, {"quote_choice.overview", f.Overview, &qc.overview},
		{"quote_choice.exception", f.Exception, &qc.exception}, {"quote_choice.topics", f.Topics, &qc.topics}} {
		if *part.dst, err = compileQuotePattern(part.name, part.src); err != nil {
			return qc, err
		}
		if part.dst != &qc.topics && (part.src.ZH == "" || part.src.EN == "") {
			return qc, fmt.Errorf("policies: policy_patterns.yaml: %s needs a zh and an en pattern", part.name)
		}
	}
	qc.overviewG, qc.exceptionG = map[string]guarded{}, map[string]guarded{}
	for lang, re := range qc.overview {
		qc.overviewG[lang] = guard(re)
	}
	for lang, re := range qc.exception {
		qc.exceptionG[lang] = guard(re)
	}
	qc.minTopics = f.MinTopics
	if qc.minTopics < 2 {
		return qc, fmt.Errorf("policies: policy_patterns.yaml: quote_choice.min_topics is %d, want at least 2", f.MinTopics)
	}
	return qc, nil
}

// listsTopics reports whether s names at least minTopics distinct topic words ("我们如何收集、
// 使用、存储、共享和保护您的个人信息"): a table of contents or an overview.
func (qc *quoteChoice) listsTopics(lang, s string) bool {
	re := qc.topics[lang]
	if re == nil {
		return false
	}
	seen := map[string]bool{}
	for _, m := range re.FindAllString(s, 32) {
		seen[strings.ToLower(m)] = true
	}
	return len(seen) >= qc.minTopics
}

// sectionContext is what the ranking needs to know of a section: whether it belongs to the
// introduction, and its heading with those of the sections it is under.
type sectionContext struct {
	intro bool
	path  string
}

// sectionContexts reads, for each section of doc, its context. The introduction is what comes
// before the first numbered section, and any section (with its subsections) whose heading is
// an introduction's. Without numbered sections only the headings decide.
func sectionContexts(secs []Section, qc *quoteChoice, lang string) []sectionContext {
	out := make([]sectionContext, len(secs))
	firstNumbered := 0 // no numbered section: no introduction by position
	for i, s := range secs {
		if s.Number != "" {
			firstNumbered = i
			break
		}
	}
	type open struct {
		level int
		title string
		intro bool
	}
	var stack []open
	introRe := qc.introSection[lang]
	for i, s := range secs {
		for len(stack) > 0 && stack[len(stack)-1].level >= s.Level {
			stack = stack[:len(stack)-1]
		}
		title := s.Title()
		intro := i < firstNumbered || (introRe != nil && s.Heading != "" && introRe.MatchString(title))
		var path strings.Builder
		for _, o := range stack {
			intro = intro || o.intro
			path.WriteString(o.title)
			path.WriteByte('\n')
		}
		path.WriteString(title)
		out[i] = sectionContext{intro: intro, path: path.String()}
		if s.Heading != "" {
			stack = append(stack, open{level: s.Level, title: title, intro: intro})
		}
	}
	return out
}

// Demerits of a quote, most serious first; a quote with fewer serious ones wins.
const (
	// the introduction, an overview, a promise or a table of contents: it announces the
	// element, it does not state it
	demeritOverview = 1 << 4
	// the element negated ("我们不会与第三方共享"), an exception list, or the element's weak
	// reading (data received from a third party read as sharing out)
	demeritReversed = 1 << 3
	// a heading set as a paragraph ("我们收集的信息"): names the topic only
	demeritHeading = 1 << 2
	// outside the sections whose headings are about the element
	demeritElsewhere = 1 << 1
	// without the concrete content of the element's concrete pattern (a list of data, a
	// function, a named recipient, a way to do it)
	demeritVague = 1 << 0
)

// Sentence-level readings that do not depend on the element, cached per sentence.
const (
	sentRead      = 1 << 0
	sentOverview  = 1 << 1 // overview sentence or a list of the policy's topics
	sentException = 1 << 2
	sentHeading   = 1 << 3
)

// quoteChooser keeps the best quote of one element while the element loop finds its hits, in
// pattern order and then document order. A hit without demerits ends the search: every later
// hit has a later pattern or a later sentence, so none can beat it.
type quoteChooser struct {
	ps    *patternSet
	lang  string
	sents []sentence
	ctxs  []sectionContext
	reads []uint8 // per sentence: sent* bits, shared by all elements

	ep          *elementPatterns
	best, bestD int
	seen        []int32 // per sentence: the element stamp when it was already a hit
	stamp       int32
}

func newQuoteChooser(ps *patternSet, lang string, sents []sentence, ctxs []sectionContext) *quoteChooser {
	return &quoteChooser{ps: ps, lang: lang, sents: sents, ctxs: ctxs, reads: make([]uint8, len(sents)), seen: make([]int32, len(sents))}
}

// start begins the choice for one element.
func (qc *quoteChooser) start(ep *elementPatterns) {
	qc.ep, qc.best, qc.bestD = ep, -1, 0
	qc.stamp++
}

// seenBefore reports whether sentence j is already a hit of this element (by an earlier pattern).
func (qc *quoteChooser) seenBefore(j int) bool { return qc.seen[j] == qc.stamp }

// add records sentence j, shown by the element's pattern; it reports whether the search is over.
func (qc *quoteChooser) add(j, pattern int) bool {
	qc.seen[j] = qc.stamp
	d := qc.demerits(j, pattern)
	if qc.best < 0 || d < qc.bestD {
		qc.best, qc.bestD = j, d
	}
	return d == 0
}

// chosen is the best sentence so far, or nil.
func (qc *quoteChooser) chosen() *sentence {
	if qc.best < 0 {
		return nil
	}
	return &qc.sents[qc.best]
}

// sentenceReads computes (once) the element-independent readings of sentence j.
func (qc *quoteChooser) sentenceReads(j int) uint8 {
	r := qc.reads[j]
	if r&sentRead != 0 {
		return r
	}
	s, q := &qc.sents[j], &qc.ps.quote
	r = sentRead
	if matchGuarded(q.overviewG, qc.lang, s.text) || q.listsTopics(qc.lang, s.text) {
		r |= sentOverview
	}
	if matchGuarded(q.exceptionG, qc.lang, s.text) {
		r |= sentException
	}
	if s.heading || headingLike(s.text) {
		r |= sentHeading
	}
	qc.reads[j] = r
	return r
}

// demerits scores one hit; see the demerit constants.
func (qc *quoteChooser) demerits(j, pattern int) int {
	s, ep, lang := &qc.sents[j], qc.ep, qc.lang
	var ctx sectionContext
	if s.sec >= 0 && s.sec < len(qc.ctxs) {
		ctx = qc.ctxs[s.sec]
	}
	r := qc.sentenceReads(j)
	d := 0
	if !ep.inIntroduction && (ctx.intro || r&sentOverview != 0) {
		d |= demeritOverview
	}
	if r&sentException != 0 || matchRe(ep.weak[lang], s.text) || (!ep.negationStates && qc.ps.negatedAt(ep, lang, s.text, pattern)) {
		d |= demeritReversed
	}
	if r&sentHeading != 0 {
		d |= demeritHeading
	}
	if re := ep.section[lang]; re != nil && !re.MatchString(ctx.path) {
		d |= demeritElsewhere
	}
	if re := ep.concrete[lang]; re != nil && !re.MatchString(s.text) {
		d |= demeritVague
	}
	return d
}

// negatedAt reports whether the words right before the element's match, back to the previous
// clause break, negate it (the not_declaring negation: "我们不会与第三方共享").
func (ps *patternSet) negatedAt(ep *elementPatterns, lang, text string, pattern int) bool {
	neg := ps.not.negation[lang]
	if neg.re == nil || pattern >= len(ep.res[lang]) {
		return false
	}
	m := ep.res[lang][pattern].FindStringIndex(text)
	if m == nil {
		return false
	}
	start := max(0, m[0]-90)
	for start < m[0] && !utf8.RuneStart(text[start]) {
		start++
	}
	before := text[start:m[0]]
	if i := strings.LastIndexAny(before, "，,；;：:。"); i >= 0 {
		before = before[i+1:]
	}
	return neg.re.MatchString(before)
}

// headingLike reports whether a sentence is a heading set as a paragraph: a numbered outline
// heading, or a short line without clause punctuation or a sentence end.
func headingLike(t string) bool {
	if outlineHeading(t) {
		return true
	}
	t = strings.TrimSpace(t)
	// a title in 《》 names a document (an SDK list annex): a reference, not a heading
	if strings.HasPrefix(t, "《") {
		return false
	}
	return utf8.RuneCountInString(t) <= 16 && !strings.ContainsAny(t, "，。；：,;:！？!?.")
}

func matchRe(re *regexp.Regexp, s string) bool { return re != nil && re.MatchString(s) }

func matchGuarded(gs map[string]guarded, lang, s string) bool {
	g, ok := gs[lang]
	return ok && g.MatchString(s)
}
