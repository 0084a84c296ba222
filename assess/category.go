package assess

import (
	"fmt"
	"slices"
	"sort"
	"strings"
	"unicode"

	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
)

// CategoryChoice is the app category a scan was judged against: the analyst's, or one pilmon
// suggested from the package metadata (never silently: Suggested and Reason say so).
type CategoryChoice = findings.CategoryChoice

// scanCtx is what the rule families may look at beyond the triggering observation.
type scanCtx struct {
	cat      *rules.Catalogue
	target   scanner.Target
	obs      []scanner.Observation
	byKind   map[string][]int
	category CategoryChoice
	prov     *Provenance // where the observations came from, to date findings

	sensitiveSeen []string // sensitive PI reached by permissions, APIs, mini-program calls or traffic
	targetSDK     int
	minors        string // why the target suggests minors, "" when nothing does

	// scan-level facts the summaries use
	declared    set // PI the policy declares
	separate    set // sensitive PI the policy asks separate consent for
	policyTitle string
	scanSDKs    []string // every SDK the package embeds
	// scanWeakSDKs are those of scanSDKs whose apk.sdk detection is weak.
	scanWeakSDKs []string
	appKinds     []string // observation kinds that show an app or mini-program was inspected
	// requested holds the permissions the manifest requests and "pi:"+id for the PI they reach;
	// nil when no manifest was read.
	requested set
	// atRuntime holds api+"@"+party of every runtime.api_call of the scan: a static reference the
	// test phone was seen calling says so.
	atRuntime set
}

func newScanCtx(cat *rules.Catalogue, t scanner.Target, obs []scanner.Observation) *scanCtx {
	sc := &scanCtx{cat: cat, target: t, obs: obs, byKind: map[string][]int{}}
	for i := range obs {
		sc.byKind[obs[i].Kind] = append(sc.byKind[obs[i].Kind], i)
	}
	sc.category = chooseCategory(cat, t, obs)
	sens := map[string]bool{}
	for _, k := range []string{"apk.permission", "apk.sensitive_api", "mp.api_call", "traffic.pi_sent"} {
		for _, i := range sc.byKind[k] {
			o := &obs[i]
			if k == "apk.permission" && str(o, "protection") != "runtime" {
				continue
			}
			for _, p := range strs(o, "pi") {
				if cat.IsSensitive(p) {
					sens[p] = true
				}
			}
		}
	}
	for p := range sens {
		sc.sensitiveSeen = append(sc.sensitiveSeen, p)
	}
	sort.Strings(sc.sensitiveSeen)
	for _, i := range sc.byKind["apk.identity"] {
		if n, ok := intAttr(&obs[i], "target_sdk"); ok && n > sc.targetSDK {
			sc.targetSDK = n
		}
	}
	sc.minors = minorsSignal(sc)
	sc.atRuntime = set{}
	for _, i := range sc.byKind["runtime.api_call"] {
		if a := str(&obs[i], "api"); a != "" {
			sc.atRuntime.add(a + "@" + str(&obs[i], "party"))
		}
	}
	sc.declared, sc.separate = set{}, set{}
	for _, i := range sc.byKind["policy.pi_declared"] {
		sc.declared.add(strs(&obs[i], "pi")...)
	}
	for _, i := range sc.byKind["policy.separate_consent"] {
		if b, _ := boolAttr(&obs[i], "present"); b {
			sc.separate.add(strs(&obs[i], "pi")...)
		}
	}
	for _, i := range sc.byKind["policy.document"] {
		if t := str(&obs[i], "title"); t != "" && sc.policyTitle == "" {
			sc.policyTitle = t
		}
	}
	sdks, weak := set{}, set{}
	for _, k := range []string{"apk.sdk", "mp.sdk"} {
		for _, i := range sc.byKind[k] {
			sdks.add(str(&obs[i], "sdk"))
			if str(&obs[i], "strength") == "weak" {
				weak.add(str(&obs[i], "sdk"))
			}
		}
	}
	sc.scanSDKs, sc.scanWeakSDKs = sdks.sorted(), weak.sorted()
	if sc.has("apk.identity") || sc.has("apk.permission") {
		sc.requested = set{}
		for _, i := range sc.byKind["apk.permission"] {
			o := &obs[i]
			sc.requested.add(firstNonEmpty(str(o, "permission"), o.Subject))
			for _, p := range strs(o, "pi") {
				sc.requested.add("pi:" + p)
			}
		}
	}
	return sc
}

// staticReadPossible vetoes code references that cannot be the collection a rule speaks of:
//   - a generic ContentResolver query, which apkinspect matches to every content provider
//     (contacts, SMS, call log, calendar…) because the URI is not tied to the call;
//   - a single-package probe (pm.probePackage);
//   - a read whose runtime permission the manifest does not request (and no requested runtime
//     permission reaches the same PI): the call fails, so it shows no capability.
//
// Only apk.sensitive_api observations of a scan that read a manifest are judged.
func (sc *scanCtx) staticReadPossible(o *scanner.Observation) bool {
	if o.Kind != "apk.sensitive_api" {
		return true
	}
	api, ok := sc.cat.SensitiveAPI(str(o, "api"))
	if !ok {
		return true
	}
	if api.Kind == "provider" && strings.HasPrefix(str(o, "descriptor"), "Landroid/content/ContentResolver;->") {
		return false
	}
	if api.ID == "pm.probePackage" {
		// getPackageInfo & co. on one package name: nearly every app reads its own version this
		// way; a single-package probe is not the app list (the catalogue's own negative example)
		return false
	}
	if sc.requested == nil || api.Permission == "" {
		return true
	}
	if p, ok := sc.cat.Permission(api.Permission); !ok || p.Kind != "runtime" {
		return true // normal or install-time permissions (QUERY_ALL_PACKAGES) depend on the API level
	}
	if sc.requested[api.Permission] {
		return true
	}
	for _, pi := range api.PI {
		if sc.requested["pi:"+pi] {
			return true
		}
	}
	return false
}

// has reports whether the scan has an observation of the kind.
func (sc *scanCtx) has(kind string) bool { return len(sc.byKind[kind]) > 0 }

// hasApp reports whether an app or mini-program was inspected (from scan.inventory, or from the
// presence of observations of a kind observation_kinds.yaml marks app_evidence when there is no
// inventory).
func (sc *scanCtx) hasApp() bool {
	for _, i := range sc.byKind["scan.inventory"] {
		if b, ok := boolAttr(&sc.obs[i], "has_app"); ok {
			return b
		}
	}
	return slices.ContainsFunc(sc.appKinds, sc.has)
}

// scanPractice reports whether the scan looked at practice (an app, a mini-program or traffic),
// not only at a policy.
func (sc *scanCtx) scanPractice() bool { return sc.hasApp() || sc.has("traffic.pi_sent") }

// SuggestCategory returns the category the assessor would judge a scan against: the target's own
// when set, else one suggested from package names, labels, mini-program names and policy titles
// matched against the hints of app_categories.yaml, with the words that matched.
func (a *Assessor) SuggestCategory(t scanner.Target, obs []scanner.Observation) CategoryChoice {
	return chooseCategory(a.cat, t, obs)
}

func chooseCategory(cat *rules.Catalogue, t scanner.Target, obs []scanner.Observation) CategoryChoice {
	if t.Category != "" {
		c := CategoryChoice{Key: t.Category}
		if ac, ok := cat.AppCategory(t.Category); ok {
			c.Reason = rules.Text{ZH: "类别由分析人员确定：" + ac.Name.ZH, EN: "category set by the analyst: " + ac.Name.EN}
		} else {
			c.Reason = rules.Text{ZH: "分析人员给出的类别 " + t.Category + " 不在目录中", EN: "the analyst's category " + t.Category + " is not in the catalogue"}
		}
		return c
	}
	// Evidence words, each with its provenance.
	type clue struct {
		what rules.Text // "包名 com.x.y" / "package com.x.y"
		text string
		// tokens are lower-case ASCII words (package segments, label words); Han text is
		// matched by substring.
		tokens map[string]bool
	}
	var clues []clue
	addClue := func(zh, en, text string) {
		text = strings.TrimSpace(text)
		if text == "" {
			return
		}
		toks := map[string]bool{}
		for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool {
			return !(r < unicode.MaxASCII && (unicode.IsLetter(r) || unicode.IsDigit(r)))
		}) {
			toks[w] = true
		}
		clues = append(clues, clue{rules.Text{ZH: zh + " " + text, EN: en + " " + text}, text, toks})
	}
	for i := range obs {
		o := &obs[i]
		switch o.Kind {
		case "apk.identity":
			addClue("包名", "package", firstNonEmpty(str(o, "package"), o.Subject))
			addClue("应用名称", "label", str(o, "label"))
		case "mp.identity":
			addClue("小程序", "mini-program", o.Subject)
		case "policy.document":
			addClue("隐私政策标题", "policy title", str(o, "title"))
		}
	}
	addClue("对象名称", "target name", t.Name)
	type score struct {
		key     string
		n       int
		matched []string
		name    rules.Text
	}
	var scores []score
	for _, ac := range cat.AppCategories() {
		s := score{key: ac.Key, name: ac.Name}
		for _, h := range ac.Hints {
			hl := strings.ToLower(h)
			for _, c := range clues {
				hit := false
				if isASCII(hl) {
					hit = c.tokens[hl]
				} else {
					hit = strings.Contains(c.text, h)
				}
				if hit {
					w := 1
					if !isASCII(hl) {
						w = 2 // a Chinese word in a label or title says more than a package segment
					}
					s.n += w
					s.matched = append(s.matched, fmt.Sprintf("%s「%s」", c.what.ZH, h)+"\x00"+fmt.Sprintf("%s %q", c.what.EN, h))
				}
			}
		}
		if s.n > 0 {
			scores = append(scores, s)
		}
	}
	if len(scores) == 0 {
		return CategoryChoice{Reason: rules.Text{ZH: "未确定 App 类别，必要个人信息范围类规则未适用", EN: "no app category known; the necessary-scope rules were not applied"}}
	}
	sort.SliceStable(scores, func(i, j int) bool { return scores[i].n > scores[j].n })
	top := scores[0]
	var ties []string
	for _, s := range scores[1:] {
		if s.n == top.n {
			ties = append(ties, s.key)
		}
	}
	if len(ties) > 0 {
		return CategoryChoice{Candidates: append([]string{top.key}, ties...), Reason: rules.Text{
			ZH: "元数据同时提示多个类别（" + top.key + "、" + strings.Join(ties, "、") + "），未建议类别；请用 --category 指定",
			EN: "the metadata points at several categories (" + top.key + ", " + strings.Join(ties, ", ") + "); none suggested: set --category"}}
	}
	var zh, en []string
	for _, m := range top.matched {
		z, e, _ := strings.Cut(m, "\x00")
		zh, en = append(zh, z), append(en, e)
	}
	c := CategoryChoice{Key: top.key, Suggested: true, Reason: rules.Text{
		ZH: "类别“" + top.name.ZH + "”为 pilmon 根据" + strings.Join(zh, "、") + "建议，未经分析人员确认",
		EN: "category \"" + top.name.EN + "\" suggested by pilmon from " + strings.Join(en, ", ") + "; not confirmed by an analyst"}}
	for _, s := range scores[1:] {
		c.Candidates = append(c.Candidates, s.key)
	}
	return c
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= 0x80 {
			return false
		}
	}
	return true
}

// Categories whose users are mostly minors, and words in names or titles that suggest minors.
var (
	minorsCategories = map[string]bool{"education": true, "online_games": true}
	minorsWords      = []string{"儿童", "少儿", "幼儿", "未成年", "学生", "小学", "中学", "作业", "宝宝", "早教", "青少年", "童"}
	minorsTokens     = map[string]bool{"kid": true, "kids": true, "child": true, "children": true, "junior": true, "student": true, "students": true, "homework": true, "baby": true, "teen": true}
)

// minorsSignal says why the target suggests its users include minors, or "" when nothing does.
func minorsSignal(sc *scanCtx) string {
	if minorsCategories[sc.category.Key] {
		return "category:" + sc.category.Key
	}
	check := func(where, text string) string {
		for _, w := range minorsWords {
			if strings.Contains(text, w) {
				return where + ":" + w
			}
		}
		for _, w := range strings.FieldsFunc(strings.ToLower(text), func(r rune) bool { return !unicode.IsLetter(r) || r >= unicode.MaxASCII }) {
			if minorsTokens[w] {
				return where + ":" + w
			}
		}
		return ""
	}
	if s := check("name", sc.target.Name); s != "" {
		return s
	}
	for _, k := range []string{"apk.identity", "mp.identity", "policy.document"} {
		for _, i := range sc.byKind[k] {
			o := &sc.obs[i]
			for _, text := range []string{str(o, "label"), str(o, "package"), str(o, "title"), o.Subject} {
				if k == "policy.document" && text == o.Subject {
					continue // a locator, not a name
				}
				if s := check(k, text); s != "" {
					return s
				}
			}
		}
	}
	return ""
}
