package policies

import (
	"fmt"
	"regexp"
	"slices"
	"sort"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"pilmon/rules"
)

// patternsYAML is rules/data/policy_patterns.yaml; the rules package embeds it and checks its element
// ids, this package compiles the patterns.
var patternsYAML = rules.EmbeddedPolicyPatterns()

// ElementIDs are the mandated elements, in report order (ids of issue 5).
var ElementIDs = []string{"operator_identity", "contact", "effective_date", "purposes_by_function", "pi_collected",
	"sensitive_pi_marked", "third_party_sharing", "sdk_list", "retention_period", "storage_location", "user_rights",
	"account_cancellation", "withdraw_consent", "complaint_channel", "response_time", "minors", "change_notification",
	"separate_consent"}

type patternFile struct {
	Version  int `yaml:"version"`
	Elements []struct {
		ID      string              `yaml:"id"`
		ZH      []string            `yaml:"zh"`
		EN      []string            `yaml:"en"`
		Exclude map[string][]string `yaml:"exclude"`
		// SentencesOnly: a heading alone does not show the element (e.g. "政策修改" says
		// nothing about how users learn of a change).
		SentencesOnly bool `yaml:"sentences_only"`
		// States: a sentence that matches the element shows it only if it also matches one of
		// these (a complaint channel names a way to complain); otherwise it is a candidate and
		// the element is "unclear" unless another sentence shows it.
		States map[string][]string `yaml:"states"`
		// NoDefinitions: definitions and other non-declaring sentences never show the element
		// (a definition of sensitive PI marks nothing the app processes as sensitive).
		NoDefinitions bool                `yaml:"no_definitions"`
		Positive      map[string][]string `yaml:"positive"`
		Negative      map[string][]string `yaml:"negative"`
		// Section, Weak and InIntroduction steer the choice of the quote (quotes.go): a heading
		// about the element, a reading that shows the element only weakly, an element whose
		// place is the introduction (who the operator is).
		Section        quotePattern `yaml:"section"`
		Weak           quotePattern `yaml:"weak"`
		Concrete       quotePattern `yaml:"concrete"`
		InIntroduction bool         `yaml:"in_introduction"`
		// NegationStates: a negation is how the element is stated ("not intended for children
		// under 13", "未经您的明确同意，不会…"), so a negated match does not lose.
		NegationStates bool `yaml:"negation_states"`
	} `yaml:"elements"`
	QuoteChoice quoteChoiceFile     `yaml:"quote_choice"`
	Collect     map[string]string   `yaml:"collect"`
	Purpose     map[string][]string `yaml:"purpose"`
	PI          []struct {
		ID string   `yaml:"id"`
		ZH []string `yaml:"zh"`
		EN []string `yaml:"en"`
		// Exclude: a sentence matching one of these does not declare this category (a
		// customer-service call record is not the phone's call log).
		Exclude map[string][]string `yaml:"exclude"`
		// NotIn: longer words inside which a term is not this category's word (征信 in 特征信息,
		// 步数 in 同步数据, 指纹 in 设备指纹): Chinese has no spaces, so a substring may straddle two
		// words, and some compounds name something else.
		NotIn map[string][]string `yaml:"not_in"`
		// Unqualified: terms that name the category without the quality that makes it this
		// category (location data without its precision). UnqualifiedSense: sentences by which a
		// document says its own processing lacks that quality ("we infer your city from your IP
		// address"); in a document that has one, the unqualified terms take the document's sense
		// and only the other terms name the category.
		Unqualified      map[string][]string `yaml:"unqualified"`
		UnqualifiedSense map[string][]string `yaml:"unqualified_sense"`
		// Positive and Negative: sentences that declare, and that do not declare, this category
		// (TestPIExamples runs them).
		Positive map[string][]string `yaml:"positive"`
		Negative map[string][]string `yaml:"negative"`
	} `yaml:"pi"`
	// NotDeclaring are the readings under which a sentence with a collection verb declares
	// nothing; see declares.
	NotDeclaring struct {
		Negation          map[string]string   `yaml:"negation"`
		Definition        map[string]string   `yaml:"definition"`
		DefinitionSection map[string]string   `yaml:"definition_section"`
		Hypothetical      map[string]string   `yaml:"hypothetical"`
		OtherParty        map[string]string   `yaml:"other_party"`
		Operator          map[string]string   `yaml:"operator"`
		UserAction        map[string]string   `yaml:"user_action"`
		OnDevice          map[string]string   `yaml:"on_device"`
		Instruction       map[string]string   `yaml:"instruction"`
		Mechanism         map[string]string   `yaml:"mechanism"`
		MechanismSection  map[string]string   `yaml:"mechanism_section"`
		Positive          map[string][]string `yaml:"positive"` // declare
		Negative          map[string][]string `yaml:"negative"` // declare nothing
	} `yaml:"not_declaring"`
	SDKAliases  map[string][]string `yaml:"sdk_aliases"`
	PolicyTitle map[string]string   `yaml:"policy_title"`
}

type elementPatterns struct {
	id            string
	res           map[string][]*regexp.Regexp // by language
	pre           map[string][]prefilter      // res[lang][i] can only match where pre[lang][i] does
	exclude       map[string][]guarded        // a sentence matching one of these never counts
	states        map[string][]guarded        // a match shows the element only if one of these matches too
	sentencesOnly bool
	noDefinitions bool
	positive      map[string][]string
	negative      map[string][]string
	// quote choice (quotes.go)
	section, weak, concrete map[string]*regexp.Regexp
	sectionExamples         quotePattern
	weakExamples            quotePattern
	concreteExamples        quotePattern
	inIntroduction          bool
	negationStates          bool
}

// presence is what one sentence says of an element.
type presence int

const (
	absent    presence = iota
	candidate          // matches the element's words but does not state it (see States)
	shown
)

// matches reports whether sentence s shows the element in language lang.
func (ep *elementPatterns) matches(lang, s string) bool { return ep.reads(lang, s) == shown }

// reads says whether sentence s shows the element, is only a candidate, or says nothing of it.
func (ep *elementPatterns) reads(lang, s string) presence {
	s = normDigits(s)
	lower := foldLower(s)
	for i, re := range ep.res[lang] {
		if ep.pre[lang][i].mayMatch(s, lower) && re.MatchString(s) {
			if matchAny(ep.exclude[lang], s) {
				return absent
			}
			if len(ep.states[lang]) > 0 && !matchAny(ep.states[lang], s) {
				return candidate
			}
			return shown
		}
	}
	return absent
}

type piTerms struct {
	id      string
	terms   map[string][]string // lower-cased for en
	sigs    map[string][]keySig // of terms, index for index
	exclude map[string][]guarded
	notIn   map[string][]string // lower-cased for en
	// qualified is this category without its unqualified terms (nil when it has none), and
	// unqualifiedSense the sentences that make a document read those terms in its own sense
	qualified        *piTerms
	unqualifiedSense map[string][]guarded

	positive, negative map[string][]string
}

// in reports whether a sentence names the category: one of its terms occurs outside every
// longer word of notIn.
func (p *piTerms) in(s, lower, lang string, keep func(int) bool) bool {
	if !containsTermIf(s, lower, p.terms[lang], lang, keep) {
		return false
	}
	masked, mlower, hit := s, lower, false
	for _, w := range p.notIn[lang] {
		if lang == "en" {
			if strings.Contains(mlower, w) {
				mlower, hit = strings.ReplaceAll(mlower, w, strings.Repeat("\x00", len(w))), true
			}
		} else if strings.Contains(masked, w) {
			masked, hit = strings.ReplaceAll(masked, w, strings.Repeat("\x00", len(w))), true
		}
	}
	return !hit || containsTerm(masked, mlower, p.terms[lang], lang)
}

// notDeclaring holds the compiled readings of NotDeclaring, by language.
type notDeclaring struct {
	negation, definition, definitionSection, hypothetical, otherParty, operator, userAction, onDevice map[string]filtered
	instruction, mechanism, mechanismSection                                                          map[string]filtered
	positive, negative                                                                                map[string][]string
}

// filtered is a pattern with the prefilter derived from it: most sentences fail the literal check
// and never reach the regexp.
type filtered struct {
	re  *regexp.Regexp
	pre prefilter
}

func (f filtered) match(s string) bool {
	if f.re == nil {
		return false
	}
	return f.pre.mayMatch(s, foldLower(s)) && f.re.MatchString(s)
}

// matchSent is match for a sentence whose foldLower and sigs are at hand.
func (f filtered) matchSent(s *sentence) bool {
	return f.re != nil && f.pre.mayMatchSent(s) && (f.pre.exact || f.re.MatchString(s.text))
}

type patternSet struct {
	elements []elementPatterns
	collect  map[string]*regexp.Regexp
	collectF map[string]filtered
	purpose  map[string][]*regexp.Regexp
	pi       []piTerms
	aliases  map[string][]string
	title    map[string]*regexp.Regexp
	not      notDeclaring
	quote    quoteChoice
	// quoteExamples are the quote_choice patterns with their examples, for the tests
	quoteExamples quoteChoiceFile
}

var (
	patternsOnce sync.Once
	patterns     *patternSet
	patternsErr  error
)

func loadPatterns() (*patternSet, error) {
	patternsOnce.Do(func() { patterns, patternsErr = parsePatterns(patternsYAML) })
	return patterns, patternsErr
}

func parsePatterns(data []byte) (*patternSet, error) {
	var f patternFile
	if err := yaml.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("policies: policy_patterns.yaml: %w", err)
	}
	ps := &patternSet{collect: map[string]*regexp.Regexp{}, collectF: map[string]filtered{}, purpose: map[string][]*regexp.Regexp{},
		aliases: f.SDKAliases, title: map[string]*regexp.Regexp{}}
	compile := func(where, s string) (*regexp.Regexp, error) {
		re, err := regexp.Compile(s)
		if err != nil {
			return nil, fmt.Errorf("policies: policy_patterns.yaml: %s: %w", where, err)
		}
		return re, nil
	}
	seen := map[string]bool{}
	for _, e := range f.Elements {
		ep := elementPatterns{id: e.ID, res: map[string][]*regexp.Regexp{}, pre: map[string][]prefilter{},
			exclude: map[string][]guarded{}, states: map[string][]guarded{}, sentencesOnly: e.SentencesOnly,
			noDefinitions: e.NoDefinitions, positive: e.Positive, negative: e.Negative,
			sectionExamples: e.Section, weakExamples: e.Weak, concreteExamples: e.Concrete, inIntroduction: e.InIntroduction, negationStates: e.NegationStates}
		var err error
		if ep.section, err = compileQuotePattern(e.ID+" section", e.Section); err != nil {
			return nil, err
		}
		if ep.weak, err = compileQuotePattern(e.ID+" weak", e.Weak); err != nil {
			return nil, err
		}
		if ep.concrete, err = compileQuotePattern(e.ID+" concrete", e.Concrete); err != nil {
			return nil, err
		}
		// English patterns are case-insensitive unless they start with (?-i) (proper names).
		add := func(dst map[string][]*regexp.Regexp, pre map[string][]prefilter, lang string, list []string) error {
			for _, p := range list {
				if lang == "en" && !strings.HasPrefix(p, "(?i)") && !strings.HasPrefix(p, "(?-i)") {
					p = "(?i)" + p
				}
				re, err := compile(e.ID, p)
				if err != nil {
					return err
				}
				dst[lang] = append(dst[lang], re)
				if pre != nil {
					pre[lang] = append(pre[lang], newPrefilter(p))
				}
			}
			return nil
		}
		for lang, list := range map[string][]string{"zh": e.ZH, "en": e.EN} {
			if err := add(ep.res, ep.pre, lang, list); err != nil {
				return nil, err
			}
		}
		addGuarded := func(dst map[string][]guarded, lang string, list []string) error {
			res := map[string][]*regexp.Regexp{}
			if err := add(res, nil, lang, list); err != nil {
				return err
			}
			for _, re := range res[lang] {
				dst[lang] = append(dst[lang], guard(re))
			}
			return nil
		}
		for lang, list := range e.Exclude {
			if lang != "zh" && lang != "en" {
				return nil, fmt.Errorf("policies: policy_patterns.yaml: %s: exclude language %q", e.ID, lang)
			}
			if err := addGuarded(ep.exclude, lang, list); err != nil {
				return nil, err
			}
		}
		for lang, list := range e.States {
			if lang != "zh" && lang != "en" {
				return nil, fmt.Errorf("policies: policy_patterns.yaml: %s: states language %q", e.ID, lang)
			}
			if err := addGuarded(ep.states, lang, list); err != nil {
				return nil, err
			}
		}
		seen[e.ID] = true
		ps.elements = append(ps.elements, ep)
	}
	for _, id := range ElementIDs {
		if !seen[id] {
			return nil, fmt.Errorf("policies: policy_patterns.yaml: element %s has no patterns", id)
		}
	}
	for lang, p := range f.Collect {
		if lang == "en" {
			p = "(?i)" + p
		}
		re, err := compile("collect."+lang, p)
		if err != nil {
			return nil, err
		}
		ps.collect[lang] = re
		ps.collectF[lang] = filtered{re: re, pre: newPrefilter(p)}
	}
	for lang, list := range f.Purpose {
		for _, p := range list {
			re, err := compile("purpose."+lang, p)
			if err != nil {
				return nil, err
			}
			ps.purpose[lang] = append(ps.purpose[lang], re)
		}
	}
	for lang, p := range f.PolicyTitle {
		re, err := compile("policy_title."+lang, p)
		if err != nil {
			return nil, err
		}
		ps.title[lang] = re
	}
	for _, p := range f.PI {
		t := piTerms{id: p.ID, terms: map[string][]string{"zh": p.ZH}, exclude: map[string][]guarded{},
			notIn: map[string][]string{"zh": p.NotIn["zh"]}, positive: p.Positive, negative: p.Negative}
		for _, e := range p.EN {
			t.terms["en"] = append(t.terms["en"], strings.ToLower(e))
		}
		for _, e := range p.NotIn["en"] {
			t.notIn["en"] = append(t.notIn["en"], strings.ToLower(e))
		}
		for lang := range p.NotIn {
			if lang != "zh" && lang != "en" {
				return nil, fmt.Errorf("policies: policy_patterns.yaml: pi %s: not_in language %q", p.ID, lang)
			}
		}
		t.sigs = map[string][]keySig{"zh": keySigs(t.terms["zh"]), "en": keySigs(t.terms["en"])}
		for lang, list := range p.Exclude {
			for _, x := range list {
				if lang == "en" {
					x = "(?i)" + x
				}
				re, err := compile("pi "+p.ID+" exclude", x)
				if err != nil {
					return nil, err
				}
				t.exclude[lang] = append(t.exclude[lang], guard(re))
			}
		}
		if len(p.Unqualified) > 0 {
			q, err := qualifiedTerms(t, p.Unqualified, p.UnqualifiedSense)
			if err != nil {
				return nil, err
			}
			t.qualified, t.unqualifiedSense = q, q.unqualifiedSense
		}
		ps.pi = append(ps.pi, t)
	}
	qc, err := compileQuoteChoice(f.QuoteChoice)
	if err != nil {
		return nil, err
	}
	ps.quote, ps.quoteExamples = qc, f.QuoteChoice
	nd := f.NotDeclaring
	ps.not = notDeclaring{positive: nd.Positive, negative: nd.Negative}
	for _, part := range []struct {
		name string
		src  map[string]string
		dst  *map[string]filtered
	}{{"negation", nd.Negation, &ps.not.negation}, {"definition", nd.Definition, &ps.not.definition},
		{"definition_section", nd.DefinitionSection, &ps.not.definitionSection}, {"hypothetical", nd.Hypothetical, &ps.not.hypothetical},
		{"other_party", nd.OtherParty, &ps.not.otherParty}, {"operator", nd.Operator, &ps.not.operator},
		{"user_action", nd.UserAction, &ps.not.userAction}, {"on_device", nd.OnDevice, &ps.not.onDevice},
		{"instruction", nd.Instruction, &ps.not.instruction}, {"mechanism", nd.Mechanism, &ps.not.mechanism},
		{"mechanism_section", nd.MechanismSection, &ps.not.mechanismSection}} {
		*part.dst = map[string]filtered{}
		for _, lang := range []string{"zh", "en"} {
			p, ok := part.src[lang]
			if !ok {
				return nil, fmt.Errorf("policies: policy_patterns.yaml: not_declaring.%s has no %s pattern", part.name, lang)
			}
			if lang == "en" {
				p = "(?i)" + p
			}
			re, err := compile("not_declaring."+part.name+"."+lang, p)
			if err != nil {
				return nil, err
			}
			(*part.dst)[lang] = filtered{re: re, pre: newPrefilter(p)}
		}
	}
	return ps, nil
}

// qualifiedTerms is t without its unqualified terms, carrying the compiled sentences that give
// those terms a document's own sense. Every unqualified term must be one of t's terms, and a
// language with unqualified terms needs a sense pattern: otherwise the entry cannot work.
func qualifiedTerms(t piTerms, unqualified, sense map[string][]string) (*piTerms, error) {
	q := t
	q.terms, q.sigs, q.unqualifiedSense = map[string][]string{}, map[string][]keySig{}, map[string][]guarded{}
	for lang, terms := range t.terms {
		drop := map[string]bool{}
		for _, u := range unqualified[lang] {
			if lang == "en" {
				u = strings.ToLower(u)
			}
			if !slices.Contains(terms, u) {
				return nil, fmt.Errorf("policies: policy_patterns.yaml: pi %s: unqualified term %q is not one of its %s terms", t.id, u, lang)
			}
			drop[u] = true
		}
		for _, term := range terms {
			if !drop[term] {
				q.terms[lang] = append(q.terms[lang], term)
			}
		}
		q.sigs[lang] = keySigs(q.terms[lang])
		if len(drop) > 0 && len(sense[lang]) == 0 {
			return nil, fmt.Errorf("policies: policy_patterns.yaml: pi %s: unqualified %s terms without an unqualified_sense pattern", t.id, lang)
		}
		for _, x := range sense[lang] {
			if lang == "en" {
				x = "(?i)" + x
			}
			re, err := regexp.Compile(x)
			if err != nil {
				return nil, fmt.Errorf("policies: policy_patterns.yaml: pi %s unqualified_sense: %w", t.id, err)
			}
			q.unqualifiedSense[lang] = append(q.unqualifiedSense[lang], guard(re))
		}
	}
	return &q, nil
}

// Catalogue is what the analysis needs of the rule catalogue; *rules.Catalogue implements it.
type Catalogue interface {
	SDKs() []rules.SDK
	IsSensitive(piID string) bool
}

// Element is one mandated element of the report.
type Element struct {
	Present bool `json:"present"`
	// Unclear: a sentence uses the element's words without stating it (a court clause for a
	// complaint channel); Quote is that candidate. Present is false: an unclear element is not
	// shown, and not shown to be absent either.
	Unclear bool   `json:"unclear,omitempty"`
	Quote   string `json:"quote"`
	Section string `json:"section"`
}

// Presence is the element's present attribute: true, false or "unclear".
func (e Element) Presence() any {
	if e.Unclear && !e.Present {
		return rules.TristateUnclear
	}
	return e.Present
}

// PIDeclared is a PI category the policy says it collects.
type PIDeclared struct {
	PI      string `json:"pi"`
	Quote   string `json:"quote"`
	Purpose string `json:"purpose,omitempty"`
	Section string `json:"section"`
}

// SDKDeclared is a catalogue SDK the policy names.
type SDKDeclared struct {
	SDK     string `json:"sdk"`
	Quote   string `json:"quote"`
	Section string `json:"section"`
}

// SeparateConsent says whether the policy asks separate consent for one sensitive PI category.
type SeparateConsent struct {
	PI      string `json:"pi"`
	Present bool   `json:"present"`
	Quote   string `json:"quote"`
}

// Readability are the plain signals a court looks at.
type Readability struct {
	Chars            int `json:"chars"`
	Sections         int `json:"sections"`
	Sentences        int `json:"sentences"`
	AvgSentenceChars int `json:"avg_sentence_chars"`
}

// Analysis is the JSON report of one policy.
type Analysis struct {
	Locator         string             `json:"locator"`
	Format          Format             `json:"format"`
	Charset         string             `json:"charset"`
	Language        string             `json:"language"`
	Title           string             `json:"title"`
	DocType         DocType            `json:"doc_type"`
	DocTypeReason   string             `json:"doc_type_reason"`
	IsPrivacyPolicy bool               `json:"is_privacy_policy"`
	EffectiveDate   string             `json:"effective_date"`         // YYYY-MM-DD: of effect, else of publication
	UpdatedDate     string             `json:"updated_date,omitempty"` // YYYY-MM-DD: of the last update
	Readability     Readability        `json:"readability"`
	Elements        map[string]Element `json:"elements"`
	PIDeclared      []PIDeclared       `json:"pi_declared"`
	SDKsDeclared    []SDKDeclared      `json:"sdks_declared"`
	SeparateConsent []SeparateConsent  `json:"separate_consent"`
	Sections        []SectionSummary   `json:"sections"`
	Truncated       bool               `json:"truncated,omitempty"`
	doc             *Document
}

// SectionSummary lists a section in the report; Hash lets versions be compared.
type SectionSummary struct {
	Number  string `json:"number,omitempty"`
	Heading string `json:"heading"`
	Level   int    `json:"level"`
	Chars   int    `json:"chars"`
}

// Document returns the extracted text behind the analysis.
func (a *Analysis) Document() *Document { return a.doc }

// sentence is one unit of matching with where it was found.
type sentence struct {
	heading bool
	header  bool   // a table's header row: names columns, declares nothing
	orig    string // as written, for quotes
	text    string // normDigits(orig), for matching
	lower   string
	section string
	row     bool
	collect bool // has a collection verb
	// textSig and lowerSig rule out keys that cannot occur in text and lower (see sig); sigged
	// says they are built
	textSig, lowerSig sig
	sigged            bool
	sec               int // index of its section in the document
	// declared: 0 not yet read, 1 states that the operator or a named party collects, uses or
	// shares, 2 does not (see declares; read only for sentences that name a PI category)
	declared int8
}

// DetectLanguage returns "zh" when Han characters make up a real share of the letters.
func DetectLanguage(s string) string {
	han, latin := 0, 0
	for i, r := range s {
		if i > 200000 {
			break
		}
		switch {
		case unicode.Is(unicode.Han, r):
			han++
		case r < 128 && unicode.IsLetter(r):
			latin++
		}
	}
	if han > 0 && han*4 >= latin/2 {
		return "zh"
	}
	return "en"
}

// sentenceEnd is where a sentence ends; sentenceEnds finds its matches without the regexp engine
// (a long policy has tens of thousands of sentences), and FuzzSentenceEnds holds the two equal.
var sentenceEnd = regexp.MustCompile(`[。！？；!?;]+|[.](\s+|$)`)

func splitSentences(s string) []string { return splitAtEnds(sentenceEnds(s), s) }

// sentenceEnds returns what sentenceEnd.FindAllStringIndex(s, -1) returns: runs of 。！？；!?;,
// and a full stop with the white space after it or at the end of s.
func sentenceEnds(s string) [][]int { return stopEnds(s, isStop) }

// stopEnds finds runs of the runes stop accepts, and a full stop followed by white space or the
// end of s.
func stopEnds(s string, isStop func(rune) bool) [][]int {
	var out [][]int
	for i := 0; i < len(s); {
		// every stop is ASCII or a three-byte rune starting E3 (。) or EF (！？；), and neither is a
		// continuation byte: any other byte is stepped over without decoding
		if c := s[i]; c != 0xE3 && c != 0xEF && c != '.' && c != '!' && c != '?' && c != ';' {
			i++
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		switch {
		case isStop(r):
			j := i + n
			for j < len(s) {
				r, n := utf8.DecodeRuneInString(s[j:])
				if !isStop(r) {
					break
				}
				j += n
			}
			out = append(out, []int{i, j})
			i = j
		case r == '.':
			j := i + 1
			for j < len(s) && isPerlSpace(s[j]) {
				j++
			}
			if j > i+1 || j == len(s) {
				out = append(out, []int{i, j})
			}
			i = j
		default:
			i += n
		}
	}
	return out
}

func isStop(r rune) bool {
	switch r {
	case '。', '！', '？', '；', '!', '?', ';':
		return true
	}
	return false
}

// isPerlSpace is the regexp package's \s.
func isPerlSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\f' || c == '\r' }

func splitAt(end *regexp.Regexp, s string) []string {
	return splitAtEnds(end.FindAllStringIndex(s, -1), s)
}

func splitAtEnds(ends [][]int, s string) []string {
	var out []string
	last := 0
	for _, m := range ends {
		// keep "Inc." and "e.g." inside English sentences
		if s[m[0]] == '.' && m[0] >= 2 {
			prev := s[max(0, m[0]-4):m[0]]
			if strings.HasSuffix(prev, "Inc") || strings.HasSuffix(prev, "e.g") || strings.HasSuffix(prev, "i.e") ||
				strings.HasSuffix(prev, "Ltd") || strings.HasSuffix(prev, "Co") || strings.HasSuffix(prev, "B.V") {
				continue
			}
		}
		if t := strings.TrimSpace(s[last:m[1]]); t != "" {
			out = append(out, t)
		}
		last = m[1]
	}
	if t := strings.TrimSpace(s[last:]); t != "" {
		out = append(out, t)
	}
	return out
}

// maxQuoteRunes is the length of a quote before it is cut.
const maxQuoteRunes = 300

func quote(s string) string {
	s = strings.TrimSpace(s)
	if utf8.RuneCountInString(s) > maxQuoteRunes {
		s = string([]rune(s)[:maxQuoteRunes]) + "…"
	}
	return s
}

// Analyze reads a policy's bytes (any charset, HTML/Markdown/text) and reports what it says. Content
// that is not text or HTML (JSON, a HAR capture, binary data) is refused with an error naming the
// input, whatever it is called.
func Analyze(locator string, data []byte, mediaType string, cat Catalogue) (*Analysis, error) {
	if err := refuseContent(data); err != nil {
		return nil, fmt.Errorf("policies: %s: %w", locator, err)
	}
	if len(data) > maxInputBytes {
		data = data[:maxInputBytes]
	}
	format := DetectFormat(locator, mediaType, data)
	text, cs := DecodeCharset(data, mediaType, format)
	doc := Extract(text, format)
	a, err := AnalyzeDocument(doc, cat)
	if err != nil {
		return nil, errorf(locator, "%v", err)
	}
	a.Locator, a.Format, a.Charset = locator, format, cs
	return a, nil
}

// AnalyzeDocument analyses extracted text.
func AnalyzeDocument(doc *Document, cat Catalogue) (*Analysis, error) {
	ps, err := loadPatterns()
	if err != nil {
		return nil, err
	}
	full := doc.Text()
	lang := DetectLanguage(full)
	a := &Analysis{Language: lang, Title: doc.Title, Elements: map[string]Element{}, doc: doc, Truncated: doc.Truncated,
		PIDeclared: []PIDeclared{}, SDKsDeclared: []SDKDeclared{}, SeparateConsent: []SeparateConsent{}, Sections: []SectionSummary{}}

	var sents []sentence
	for k, s := range doc.Sections {
		title := s.Title()
		chars := 0
		if s.Heading != "" {
			sents = append(sents, sentence{orig: title, section: title, heading: true, sec: k})
		}
		for _, b := range s.Blocks {
			chars += utf8.RuneCountInString(b.Text)
			if b.Kind == "row" {
				sents = append(sents, sentence{orig: b.Text, section: title, row: true, header: b.Header, sec: k})
				continue
			}
			for _, t := range splitSentences(b.Text) {
				sents = append(sents, sentence{orig: t, section: title, sec: k})
			}
		}
		a.Sections = append(a.Sections, SectionSummary{Number: s.Number, Heading: s.Heading, Level: s.Level, Chars: chars})
	}
	chars := utf8.RuneCountInString(full)
	a.Readability = Readability{Chars: chars, Sections: len(doc.Sections), Sentences: len(sents)}
	if len(sents) > 0 {
		a.Readability.AvgSentenceChars = chars / len(sents)
	}

	collect, hasCollect := ps.collectF[lang]
	for i := range sents {
		sents[i].text = normDigits(sents[i].orig)
		sents[i].lower = foldLower(sents[i].text)
		sents[i].setSigs()
		sents[i].collect = !sents[i].header && (!hasCollect || sents[i].row || collect.matchSent(&sents[i]))
	}
	// Every sentence that shows the element is a hit, and the quoteChooser keeps the best quote
	// among them (quotes.go); sentences are preferred to headings. A sentence that only uses the element's
	// words is kept as the candidate of an unclear element.
	qc := newQuoteChooser(ps, lang, sents, sectionContexts(doc.Sections, &ps.quote, lang))
	for e := range ps.elements {
		ep := &ps.elements[e]
		el, cand := Element{}, Element{}
	search:
		for _, headings := range []bool{false, true} {
			qc.start(ep)
			if headings && ep.sentencesOnly {
				break
			}
			for i, re := range ep.res[lang] {
				pre := ep.pre[lang][i]
				for j := range sents {
					s := &sents[j]
					if s.heading != headings || qc.seenBefore(j) || s.header || !pre.mayMatchSent(s) || (!pre.exact && !re.MatchString(s.text)) || matchAny(ep.exclude[lang], s.text) {
						continue
					}
					if ep.noDefinitions && !s.heading && ps.not.nonDeclaring(lang, s) {
						continue
					}
					if len(ep.states[lang]) > 0 && !matchAny(ep.states[lang], s.text) {
						if cand.Quote == "" {
							cand = Element{Unclear: true, Quote: quote(s.orig), Section: s.section}
						}
						continue
					}
					if qc.add(j, i) {
						break search
					}
				}
			}
			if qc.chosen() != nil {
				break
			}
		}
		if s := qc.chosen(); s != nil {
			el = Element{Present: true, Quote: quote(s.orig), Section: s.section}
		}
		if !el.Present {
			el = cand
		}
		a.Elements[ep.id] = el
	}
	// A table with a purpose column states purposes row by row.
	if !a.Elements["purposes_by_function"].Present {
		if q, sec := purposeRow(sents); q != "" {
			a.Elements["purposes_by_function"] = Element{Present: true, Quote: quote(q), Section: sec}
		}
	}
	// Dates: of effect and of the last update, from sentences, table rows and the footer.
	var dated []string
	for _, s := range sents {
		dated = append(dated, s.text)
	}
	dated = append(dated, doc.Footer...)
	a.EffectiveDate, a.UpdatedDate = docDates(dated)
	if e := a.Elements["effective_date"]; !e.Present && (a.EffectiveDate != "" || a.UpdatedDate != "") {
		// a date in a table or the footer: the element is shown by that line
		for _, s := range dated {
			if eff, upd := docDates([]string{s}); eff != "" || upd != "" {
				a.Elements["effective_date"] = Element{Present: true, Quote: quote(s), Section: sectionOf(sents, s)}
				break
			}
		}
	}

	// PI declared: the first sentence naming the category that declares collection.
	var whole, wholeLower strings.Builder
	size := 0
	for _, s := range sents {
		size += len(s.text) + 1
	}
	whole.Grow(size)
	wholeLower.Grow(size)
	for _, s := range sents {
		whole.WriteString(s.text)
		whole.WriteByte('\n')
		wholeLower.WriteString(s.lower)
		wholeLower.WriteByte('\n')
	}
	docText, docLower := whole.String(), wholeLower.String()
	// The gram sets rule out, without a scan, the terms and names the text does not contain.
	lowerGrams := newGramSet(docLower)
	termGrams := lowerGrams // containsTerm reads English lower-cased
	if lang != "en" && docText != docLower {
		termGrams = newGramSet(docText)
	}
	for pi := range ps.pi {
		p := &ps.pi[pi]
		terms, sigs := p.terms[lang], p.sigs[lang]
		inDoc := func(i int) bool { return termGrams.mayContain(terms[i]) }
		if !containsTermIf(docText, docLower, terms, lang, inDoc) {
			continue // no term of this category anywhere: no sentence to look at
		}
		// A document that says its own processing lacks the category's quality (location
		// inferred from the IP address at city level) gives its unqualified terms that sense.
		if p.qualified != nil && len(p.unqualifiedSense[lang]) > 0 {
			for i := range sents {
				if matchAny(p.unqualifiedSense[lang], sents[i].text) {
					p, terms, sigs = p.qualified, p.qualified.terms[lang], p.qualified.sigs[lang]
					break
				}
			}
		}
		for i := range sents {
			s := &sents[i]
			if !s.collect || !p.in(s.text, s.lower, lang, s.termFilter(sigs, lang)) || !ps.not.declaresOnce(lang, s) || matchAny(p.exclude[lang], s.text) {
				continue
			}
			{
				a.PIDeclared = append(a.PIDeclared, PIDeclared{PI: p.id, Quote: quote(s.orig), Purpose: purposeOf(ps.purpose[lang], s.text), Section: s.section})
				break
			}
		}
	}
	if len(a.PIDeclared) > 0 && !a.Elements["pi_collected"].Present {
		d := a.PIDeclared[0]
		a.Elements["pi_collected"] = Element{Present: true, Quote: d.Quote, Section: d.Section}
	}

	if cat != nil {
		a.SDKsDeclared = declaredSDKs(sents, docText, docLower, lowerGrams, cat.SDKs(), ps.aliases)
		if len(a.SDKsDeclared) > 0 && !a.Elements["sdk_list"].Present {
			d := a.SDKsDeclared[0]
			a.Elements["sdk_list"] = Element{Present: true, Quote: d.Quote, Section: d.Section}
		}
		// Separate consent per sensitive PI declared.
		var sep *elementPatterns
		for i := range ps.elements {
			if ps.elements[i].id == "separate_consent" {
				sep = &ps.elements[i]
			}
		}
		for _, d := range a.PIDeclared {
			if !cat.IsSensitive(d.PI) {
				continue
			}
			sc := SeparateConsent{PI: d.PI}
			var terms []string
			var sigs []keySig
			for _, p := range ps.pi {
				if p.id == d.PI {
					terms, sigs = p.terms[lang], p.sigs[lang]
				}
			}
			for i := range sents {
				s := &sents[i]
				if sep != nil && containsTermIf(s.text, s.lower, terms, lang, s.termFilter(sigs, lang)) && sep.matches(lang, s.text) {
					sc.Present, sc.Quote = true, quote(s.orig)
					break
				}
			}
			a.SeparateConsent = append(a.SeparateConsent, sc)
		}
	}

	a.DocType, a.DocTypeReason = classify(doc, a)
	a.IsPrivacyPolicy = a.DocType.IsPolicy()
	return a, nil
}

var purposeColumn = regexp.MustCompile(`(?i)目的|用途|\bpurpose`)

// purposeRow returns the first row under a table header that names a purpose column, when that
// row names something collected beside its purpose (more than two cells).
func purposeRow(sents []sentence) (string, string) {
	inTable := false
	for _, s := range sents {
		switch {
		case s.header:
			inTable = purposeColumn.MatchString(s.text)
		case s.row && inTable:
			if strings.Count(s.text, " | ") >= 2 {
				return s.orig, s.section
			}
		case !s.row:
			inTable = false
		}
	}
	return "", ""
}

// sectionOf is the section of the sentence whose text is s ("" for the footer).
func sectionOf(sents []sentence, s string) string {
	for _, x := range sents {
		if x.text == s {
			return x.section
		}
	}
	return ""
}

// nonDeclaring reports whether a sentence, whatever verb it has, declares nothing: a definition,
// a hypothetical about the future, a sentence of a definitions section or about another party
// that does not have the operator as its subject.
func (nd *notDeclaring) nonDeclaring(lang string, s *sentence) bool {
	if nd.definition[lang].matchSent(s) || nd.hypothetical[lang].matchSent(s) {
		return true
	}
	if nd.mechanismSection[lang].match(s.section) && s.row && !nd.verbDeclares(lang, s) {
		return true
	}
	// Processing that stays on the user's device is the software's, not a collection by the
	// operator ("Firefox processes … browsing history … on your device").
	if nd.onDevice[lang].matchSent(s) {
		return true
	}
	// In a definitions section, or beside another party, a sentence declares only with the
	// operator as its subject ("Authentication data | We receive data to secure your account");
	// a sentence about what the user may do (switch off a permission, clear the history) states
	// no processing unless the operator is its subject too.
	operator := nd.operator[lang].matchSent(s)
	// Likewise an instruction to the user (bring your ID card to the clinic) is the user's act,
	// and an explanation of what a protocol or technology is describes a mechanism, not the
	// operator's processing.
	return !operator && (nd.definitionSection[lang].match(s.section) || nd.otherParty[lang].matchSent(s) ||
		nd.userAction[lang].matchSent(s) || nd.instruction[lang].matchSent(s) || nd.mechanism[lang].matchSent(s))
}

// declaresOnce is declares, read once per sentence.
func (nd *notDeclaring) declaresOnce(lang string, s *sentence) bool {
	if s.declared == 0 {
		s.declared = 2
		if nd.declares(lang, s) {
			s.declared = 1
		}
	}
	return s.declared == 1
}

// declares reports whether a sentence with a collection verb states that the operator (or a
// named third party) collects, uses or shares something: not a definition, a hypothetical or
// another party's act, and at least one of its collection verbs not negated ("我们不会收集您的
// 通讯录" declares nothing; "我们不会出售您的信息，但会收集您的手机号码" declares the number).
// Table rows other than headers are declarations by their place in the table.
func (nd *notDeclaring) declares(lang string, s *sentence) bool {
	if s.header || (!s.row && outlineHeading(s.text)) {
		return false
	}
	if nd.nonDeclaring(lang, s) {
		return false
	}
	if s.row {
		return true
	}
	return nd.verbDeclares(lang, s)
}

// verbDeclares reports whether one of the sentence's collection verbs is not negated.
func (nd *notDeclaring) verbDeclares(lang string, s *sentence) bool {
	verbs := patternsCollect(lang)
	neg := nd.negation[lang]
	if verbs == nil || neg.re == nil {
		return true
	}
	for _, m := range verbs.FindAllStringIndex(s.text, -1) {
		// the words right before the verb, back to the previous clause break
		start := max(0, m[0]-90)
		for start < m[0] && !utf8.RuneStart(s.text[start]) {
			start++
		}
		before := s.text[start:m[0]]
		if i := strings.LastIndexAny(before, "，,；;：:。"); i >= 0 {
			before = before[i+1:]
		}
		if i := strings.LastIndex(before, " but "); i >= 0 {
			before = before[i+5:]
		}
		if !neg.re.MatchString(before) {
			return true
		}
	}
	return false
}

// outlineRe is the number that opens a numbered heading: 1.2, 3、, 三、, （二）.
var outlineRe = regexp.MustCompile(`^\s*(\d+(\.\d+)+\.?|\d+[、.．]|[一二三四五六七八九十]+[、.．]|[（(][一二三四五六七八九十\d]+[）)])\s*`)

// outlineHeading reports whether a sentence is a numbered heading set as a paragraph ("1.2
// 心律失常筛查和就诊建议提供"): short, opened by an outline number, with no clause punctuation. A
// heading names a topic; it declares no processing.
func outlineHeading(t string) bool {
	if utf8.RuneCountInString(t) > 30 || strings.ContainsAny(t, "，。；：,;:！？!?") {
		return false
	}
	return outlineRe.MatchString(t)
}

// patternsCollect is the collection-verb pattern of a language.
func patternsCollect(lang string) *regexp.Regexp {
	ps, err := loadPatterns()
	if err != nil {
		return nil
	}
	return ps.collect[lang]
}

func matchAny(res []guarded, s string) bool {
	for _, re := range res {
		if re.MatchString(s) {
			return true
		}
	}
	return false
}

func containsTerm(s, lower string, terms []string, lang string) bool {
	return containsTermIf(s, lower, terms, lang, nil)
}

// containsTermIf is containsTerm reading only the terms may admits (nil: all); may must admit
// every term that occurs, so the answer is containsTerm's.
func containsTermIf(s, lower string, terms []string, lang string, may func(int) bool) bool {
	if lang == "en" {
		s = lower
	}
	for j, t := range terms {
		if may != nil && !may(j) {
			continue
		}
		if i := strings.Index(s, t); i >= 0 {
			if lang == "en" {
				// whole words only
				before, _ := utf8.DecodeLastRuneInString(s[:i])
				after, _ := utf8.DecodeRuneInString(s[i+len(t):])
				if (i > 0 && unicode.IsLetter(before)) || unicode.IsLetter(after) && after != 's' {
					continue
				}
			}
			return true
		}
	}
	return false
}

func purposeOf(res []*regexp.Regexp, s string) string {
	for _, re := range res {
		if m := re.FindStringSubmatch(s); m != nil {
			return strings.TrimSpace(m[1])
		}
	}
	return ""
}

// declaredSDKs matches catalogue SDKs by class prefix, name and alias; table rows are preferred as
// quotes because SDK lists are usually tables.
// lowerGrams is the gram set of docLower; one serves both texts: a key found in the text is found,
// lower-cased, in the lower-cased text (case maps rune by rune).
func declaredSDKs(sents []sentence, docText, docLower string, lowerGrams gramSet, sdks []rules.SDK, aliases map[string][]string) []SDKDeclared {
	var out []SDKDeclared
	for _, sdk := range sdks {
		// Class prefixes match case-insensitively; names and aliases are proper nouns and match
		// as written ("Adjust" the SDK, not "adjust your settings").
		// weak: names that count only where the sentence speaks of SDKs (see plainHan)
		var keys, names, weak []string
		for _, p := range sdk.ClassPrefixes {
			if strings.Count(p, ".") >= 1 && len(p) >= 6 {
				keys = append(keys, strings.ToLower(p))
			}
		}
		for _, n := range []string{sdk.Name.ZH, sdk.Name.EN} {
			if core := nameCore(n); utf8.RuneCountInString(core) >= 4 && !(sdk.Origin == rules.OriginDerived && plainWord(core)) {
				if sdk.Origin == rules.OriginDerived && plainHan(core) {
					weak = append(weak, core)
				} else {
					names = append(names, core)
				}
			}
		}
		names = append(names, aliases[sdk.ID]...)
		// Most SDKs are named nowhere in a policy: look for each key in the whole text once.
		// The gram sets rule out almost every key without scanning the text.
		keys = slices.DeleteFunc(keys, func(k string) bool { return !lowerGrams.mayContain(k) || !containsKey(docLower, k) })
		names = slices.DeleteFunc(names, func(k string) bool { return !lowerGrams.mayContain(foldLower(k)) || !containsKey(docText, k) })
		weak = slices.DeleteFunc(weak, func(k string) bool { return !lowerGrams.mayContain(foldLower(k)) || !containsKey(docText, k) })
		if len(keys) == 0 && len(names) == 0 && len(weak) == 0 {
			continue
		}
		ks, ns, ws := keySigs(keys), keySigs(names), keySigs(weak)
		var found *SDKDeclared
		for j := range sents {
			s := &sents[j]
			hit := false
			for i, k := range keys {
				hit = hit || (s.mayHave(&ks[i], true) && containsKey(s.lower, k))
			}
			for i, k := range names {
				hit = hit || (s.mayHave(&ns[i], false) && containsKey(s.text, k))
			}
			for i, k := range weak {
				hit = hit || (s.mayHave(&ws[i], false) && containsKey(s.text, k) && sdkContext.MatchString(s.text))
			}
			if hit && (found == nil || (s.row && !strings.Contains(found.Quote, "|"))) {
				found = &SDKDeclared{SDK: sdk.ID, Quote: quote(s.orig), Section: s.section}
			}
			if found != nil && strings.Contains(found.Quote, "|") {
				break
			}
		}
		if found != nil {
			out = append(out, *found)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].SDK < out[j].SDK })
	return out
}

// plainWord reports whether a name is one capitalised Latin word ("Payment", "Smart", "Branch"):
// the derived catalogue's names come from tracker lists unreviewed, and such a name is as often
// the ordinary word in a policy as the SDK, so it is matched by the SDK's packages only.
func plainWord(name string) bool {
	for i, r := range name {
		switch {
		case r >= utf8.RuneSelf, r == ' ', r >= '0' && r <= '9':
			return false
		case i > 0 && unicode.IsUpper(r):
			return false // AppsFlyer, OneSignal: brand casing
		}
	}
	return true
}

// gramSet is a bit set of the hashed 4-byte windows of a text: a string whose every 4-byte window
// is in the set may occur in the text, one with a window missing does not. Its size is fixed, so
// a long text costs one pass and 512 KiB, and checking a key costs a few bit reads instead of a
// scan of the whole text (a policy is checked against thousands of SDK names).
type gramSet []uint64

const gramBits = 1 << 22

func newGramSet(s string) gramSet {
	g := make(gramSet, gramBits/64)
	for i := 0; i+4 <= len(s); i++ {
		h := gramHash(s[i : i+4])
		g[h/64] |= 1 << (h % 64)
	}
	return g
}

func gramHash(w string) uint32 {
	h := uint32(w[0]) | uint32(w[1])<<8 | uint32(w[2])<<16 | uint32(w[3])<<24
	h *= 2654435761 // Knuth's multiplicative hash
	return h >> (32 - 22)
}

// mayContain is false only when k cannot occur in the text; keys shorter than a window are
// always checked by a scan.
func (g gramSet) mayContain(k string) bool {
	for i := 0; i+4 <= len(k); i++ {
		h := gramHash(k[i : i+4])
		if g[h/64]&(1<<(h%64)) == 0 {
			return false
		}
	}
	return true
}

// sdkContext: a sentence that speaks of third-party code, where a weak name is the SDK's.
var sdkContext = regexp.MustCompile(`(?i)SDK|插件|第三方|提供方|服务商|合作方`)

// plainHan reports whether a name is a short all-Han phrase ("人脸识别"): in the unreviewed derived
// catalogue such a name is a function's common name as often as an SDK's ("友盟反馈" is a brand),
// so it declares the SDK only in a sentence that speaks of SDKs.
func plainHan(name string) bool {
	n := 0
	for _, r := range name {
		if !unicode.Is(unicode.Han, r) {
			return false
		}
		n++
	}
	return n <= 4
}

// containsKey finds k in s; an ASCII key must stand as a word ("Adjust" is not "adjusting").
func containsKey(s, k string) bool {
	ascii := true
	for i := 0; i < len(k); i++ {
		ascii = ascii && k[i] < utf8.RuneSelf
	}
	for off := 0; off < len(s); {
		i := strings.Index(s[off:], k)
		if i < 0 {
			return false
		}
		i += off
		if !ascii {
			return true
		}
		before, _ := utf8.DecodeLastRuneInString(s[:i])
		after, _ := utf8.DecodeRuneInString(s[i+len(k):])
		isWord := func(r rune) bool { return r < utf8.RuneSelf && (unicode.IsLetter(r) || unicode.IsDigit(r)) }
		if (i == 0 || !isWord(before)) && (i+len(k) == len(s) || !isWord(after)) {
			return true
		}
		off = i + 1
	}
	return false
}

// nameCore drops parenthesised qualifiers: "友盟+ 统计分析 (U-App)" -> "友盟+ 统计分析".
func nameCore(n string) string {
	if i := strings.IndexAny(n, "(（"); i > 0 {
		n = n[:i]
	}
	return strings.TrimSpace(n)
}
