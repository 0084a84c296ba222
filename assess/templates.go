package assess

import (
	"bytes"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"text/template"
	"unicode/utf8"

	"pilmon/rules"
	"pilmon/scanner"
)

type compiled struct{ zh, en *template.Template }

// templateSet holds the summary templates of every rule (violations.yaml, summaries) and the names
// of the policy elements (policy_elements.yaml).
type templateSet struct {
	elements map[string]rules.Text
	byKey    map[string]compiled // rule + "|" + kind + "|" + grade ("" for any grade)
}

func loadTemplates(cat *rules.Catalogue) (*templateSet, error) {
	ts := &templateSet{elements: map[string]rules.Text{}, byKey: map[string]compiled{}}
	for _, e := range cat.PolicyElements() {
		ts.elements[e.ID] = e.Name
	}
	for _, v := range cat.Violations() {
		for _, e := range v.Summaries {
			name := v.ID + "|" + e.Kind + "|" + e.Grade
			zh, err := template.New(name + "/zh").Funcs(ts.funcs("zh")).Option("missingkey=error").Parse(e.ZH)
			if err != nil {
				return nil, fmt.Errorf("violation %s: summary for %s zh: %w", v.ID, e.Kind, err)
			}
			en, err := template.New(name + "/en").Funcs(ts.funcs("en")).Option("missingkey=error").Parse(e.EN)
			if err != nil {
				return nil, fmt.Errorf("violation %s: summary for %s en: %w", v.ID, e.Kind, err)
			}
			ts.byKey[name] = compiled{zh, en}
		}
	}
	return ts, nil
}

// lookup finds the template for a rule, the kind of its triggering observation and the grade of
// the record: the kind's template for the grade, any kind's for the grade, the kind's for every
// grade, any kind's for every grade.
func (ts *templateSet) lookup(rule, kind, grade string) (compiled, bool) {
	for _, k := range []string{kind + "|" + grade, "*|" + grade, kind + "|", "*|"} {
		if c, ok := ts.byKey[rule+"|"+k]; ok {
			return c, true
		}
	}
	return compiled{}, false
}

// catalogue is set per render; funcs read it through the data (templates are shared).
func (ts *templateSet) funcs(lang string) template.FuncMap {
	sep := "、"
	if lang == "en" {
		sep = ", "
	}
	return template.FuncMap{
		"list": func(s []string) string { return strings.Join(s, sep) },
		"pi": func(d *tmplData, ids []string) string {
			return piNames(d.cat, ids, lang)
		},
		"sdk": func(d *tmplData, ids []string) string {
			var out []string
			for _, id := range ids {
				name := id
				if s, ok := d.cat.SDK(id); ok {
					name = pick(s.Name, lang)
					if name == "" {
						name = id
					}
				}
				out = append(out, name)
			}
			return strings.Join(out, sep)
		},
		"perm": func(s []string) string {
			out := make([]string, len(s))
			for i, p := range s {
				out[i] = strings.TrimPrefix(p, "android.permission.")
			}
			return strings.Join(out, sep)
		},
		"elem": func(id string) string {
			if t, ok := ts.elements[id]; ok {
				return pick(t, lang)
			}
			return id
		},
		"secs": func(ms int) string {
			if ms < 0 {
				ms = -ms
			}
			return fmt.Sprintf("%.1f", float64(ms)/1000)
		},
		"quote": func(s string) string {
			s = strings.Join(strings.Fields(s), " ")
			if utf8.RuneCountInString(s) > 60 {
				r := []rune(s)
				s = string(r[:60]) + "…"
			}
			return s
		},
		"more": func(s []string, n int) []string {
			if len(s) > n {
				return s[:n]
			}
			return s
		},
		"rest": func(s []string, n int) int { return max(0, len(s)-n) },
		"first": func(s []string) string {
			if len(s) == 0 {
				return ""
			}
			return s[0]
		},
		"has": func(s []string, v string) bool { return slices.Contains(s, v) },
		// vendor names the company behind each SDK as the catalogue records it; a name the
		// catalogue marks as recalled is said to be unverified.
		"vendor": func(d *tmplData, ids []string) string {
			var out []string
			for _, id := range ids {
				if s, ok := d.cat.SDK(id); ok {
					if v := vendorName(s.Vendor, lang); v != "" && !slices.Contains(out, v) {
						out = append(out, v)
					}
				}
			}
			return strings.Join(out, sep)
		},
		// party names whose code it is: the app's own, a catalogued SDK or library by name, or code
		// of unidentified ownership.
		"party": func(d *tmplData, parties []string) string {
			out := make([]string, 0, len(parties))
			for _, p := range parties {
				out = append(out, partyName(d.cat, p, lang))
			}
			return strings.Join(out, sep)
		},
	}
}

// vendorName is a catalogue vendor string for a summary: the entity names without the
// catalogue's note in parentheses ("(recall)", "(Alibaba group; …, recall)"), marked unverified
// when the note says the name was recalled rather than checked.
func vendorName(v, lang string) string {
	name, note, _ := strings.Cut(v, " (")
	name = strings.TrimSpace(name)
	if name == "" {
		return ""
	}
	if strings.Contains(note, "recall") || strings.Contains(note, "unverified") {
		if lang == "en" {
			return name + " (catalogue entry, unverified)"
		}
		return name + "（目录记载，未经核实）"
	}
	return name
}

// partyName is how a record names a party (apkinspect's and hooklog's party strings).
func partyName(cat *rules.Catalogue, party, lang string) string {
	en := lang == "en"
	kind, id, _ := strings.Cut(party, ":")
	switch kind {
	case "app":
		if en {
			return "the app's own code"
		}
		return "App 自有代码"
	case "sdk":
		name := id
		if s, ok := cat.SDK(id); ok && pick(s.Name, lang) != "" {
			name = pick(s.Name, lang)
		}
		if en {
			return "the SDK " + name
		}
		return name + " SDK"
	case "library":
		name := id
		if l, ok := cat.Library(id); ok && l.Name != "" {
			name = l.Name
		}
		if en {
			return "the library " + name
		}
		return "开源库 " + name
	}
	if en {
		return "code of unidentified ownership"
	}
	return "归属未识别的代码"
}

func pick(t rules.Text, lang string) string {
	if lang == "en" {
		return t.EN
	}
	return t.ZH
}

// piNames renders PI category ids by their names in one language.
func piNames(cat *rules.Catalogue, ids []string, lang string) string {
	sep := "、"
	if lang == "en" {
		sep = ", "
	}
	out := make([]string, 0, len(ids))
	for _, id := range ids {
		name := id
		if cat != nil {
			if p, ok := cat.PICategory(id); ok && pick(p.Name, lang) != "" {
				name = pick(p.Name, lang)
			}
		}
		out = append(out, name)
	}
	return strings.Join(out, sep)
}

// tmplData is what a summary template sees: the triggering observations and the attributes
// collected from them (sorted, unique), the category, and a little of the rest of the scan.
type tmplData struct {
	cat   *rules.Catalogue
	D     *tmplData // the data itself, for funcs that need the catalogue: {{pi .D .PI}}
	Rule  string
	Kind  string
	Count int
	Obs   []scanner.Observation

	Subject     string
	PI          []string
	OutsidePI   []string // PI not among the category's necessary PI
	SensitivePI []string
	Undeclared  []string // PI the policy does not declare
	NoSeparate  []string // sensitive PI the policy has no separate consent for
	Hosts       []string
	SDKs        []string
	APIs        []string
	Permissions []string
	Callers     []string
	Files       []string
	Phases      []string
	Detectors   []string
	Elements    []string
	Settings    []string
	Components  []string
	Actions     []string
	Flags       []string
	Quotes      []string
	Titles      []string
	Via         []string
	// PersistentPI are the non-resettable identifiers and the app list among PI.
	PersistentPI []string
	KnownValue   bool
	// OwnCode: a sensitive API called from the app's own code (apk.sensitive_api party "app") or
	// the mini-program's (mp.api_call without SDK). Unidentified: called from code outside the
	// app's packages that no catalogue names (party "unidentified"), and none from the app's own.
	OwnCode      bool
	Unidentified bool
	// NotAtStart: the call graph placed every call site of the record's apk.sensitive_api
	// observations and none is reached at app start (reach.go); "may run before consent" is then
	// not said.
	NotAtStart bool
	// WeakSDKs are the SDKs of the record's apk.sdk observations whose detection is weak.
	WeakSDKs []string
	// Unresolved are the APIs whose every call site in the record has an argument that is not a
	// constant (apk.sensitive_api argument "unresolved"); AllUnresolved says every API is one.
	Unresolved    []string
	AllUnresolved bool
	HasOffset     bool
	OffsetMS      int // the offset furthest before (or after) consent
	Line          int

	// Runtime evidence (runtime.api_call, runtime.frequency): the parties whose code made the calls
	// (app | sdk:<id> | library:<id> | unidentified; shown with {{party .D .Parties}}), the calls
	// counted, the most within one second, whether the phase rests on a flag set on the host
	// computer, the hook tool's format, and the rows of the first calls.
	Parties   []string
	Calls     int
	PerSecond int
	HostFlag  bool
	Formats   []string
	Rows      []string
	// Threshold describes the frequency thresholds applied (runtime.frequency).
	ThresholdPerSecond, ThresholdPerSession int
	// Read* link a value sent in traffic to its read in the session's hook log
	// (traffic.pi_sent known_source hooklog): the API, the party, the device time and the row.
	ReadAPIs    []string
	ReadParties []string
	ReadAt      string
	ReadRows    []string

	Category          string
	CategoryZH        string
	CategoryEN        string
	CategorySuggested bool
	NoPICategory      bool

	PolicyTitle string
	ScanSDKs    []string // every SDK the package embeds
	// ScanWeakSDKs are those of ScanSDKs detected only weakly (apk.sdk strength "weak").
	ScanWeakSDKs []string
	// ScanSensitive is the sensitive PI the scan saw reached (permissions, APIs, traffic).
	ScanSensitive []string
	// ScanPractice: the scan looked at an app, a mini-program or traffic, not only a policy.
	ScanPractice bool
	TargetSDK    int
	// Grade is the record's grade and Lead whether it is a lead (for templates shared by grades).
	Grade string
	Lead  bool
}

func (ts *templateSet) render(sc *scanCtx, v *rules.Violation, subject, grade, tier string, obs []scanner.Observation) rules.Text {
	d := buildData(sc, v, subject, obs)
	d.Grade, d.Lead = grade, tier == rules.TierLead
	c, ok := ts.lookup(v.ID, d.Kind, grade)
	if !ok {
		return fallbackLeadSummary(v, subject, tier)
	}
	var zh, en bytes.Buffer
	if err := c.zh.Execute(&zh, d); err != nil {
		return fallbackLeadSummary(v, subject, tier)
	}
	if err := c.en.Execute(&en, d); err != nil {
		return fallbackLeadSummary(v, subject, tier)
	}
	out := rules.Text{ZH: strings.TrimSpace(zh.String()), EN: strings.TrimSpace(en.String())}
	if seen := seenAtRuntime(sc, obs); len(seen) > 0 {
		// A static reference the same scan's runtime log saw called: the check the lead asks for
		// has been made; say where its result is.
		out.ZH += "同一扫描的测试机运行时记录已观察到 " + strings.Join(seen, "、") + " 的调用，见相应的运行时记录。"
		out.EN += " The same scan's runtime log from the test phone shows " + strings.Join(seen, ", ") + " being called: see the runtime records."
	}
	return out
}

// seenAtRuntime lists the APIs of the record's static references (apk.sensitive_api) that the
// same party was seen calling in the scan's runtime log.
func seenAtRuntime(sc *scanCtx, obs []scanner.Observation) []string {
	out := set{}
	for i := range obs {
		o := &obs[i]
		if o.Kind == "apk.sensitive_api" && sc.atRuntime[str(o, "api")+"@"+str(o, "party")] {
			out.add(str(o, "api"))
		}
	}
	return out.sorted()
}

// fallbackSummary is used when no template fits; a test makes sure the catalogue's examples never
// need it.
func fallbackSummary(v *rules.Violation, subject string) rules.Text {
	return rules.Text{ZH: v.Title.ZH + "：" + subject, EN: v.Title.EN + ": " + subject}
}

// fallbackLeadSummary is fallbackSummary for a lead: the lead title when the rule has one.
func fallbackLeadSummary(v *rules.Violation, subject, tier string) rules.Text {
	t := v.TitleFor(tier)
	return rules.Text{ZH: t.ZH + "：" + subject, EN: t.EN + ": " + subject}
}

type set map[string]bool

func (s set) add(v ...string) {
	for _, x := range v {
		if x != "" {
			s[x] = true
		}
	}
}

func (s set) sorted() []string {
	out := make([]string, 0, len(s))
	for k := range s {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func buildData(sc *scanCtx, v *rules.Violation, subject string, obs []scanner.Observation) *tmplData {
	d := &tmplData{cat: sc.cat, Rule: v.ID, Count: len(obs), Obs: obs, Subject: subject, TargetSDK: sc.targetSDK}
	d.D = d
	if len(obs) > 0 {
		d.Kind = obs[0].Kind
	}
	pi, hosts, sdks, apis, perms, callers, files, phases, dets, elems, settings, comps, actions, flags, quotes :=
		set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}, set{}
	titles, via, weak := set{}, set{}, set{}
	parties, formats, rows, readAPIs, readParties, readRows := set{}, set{}, []string{}, set{}, set{}, []string{}
	unidentified := false
	first := true
	for i := range obs {
		o := &obs[i]
		pi.add(strs(o, "pi")...)
		hosts.add(str(o, "host"))
		sdks.add(str(o, "sdk"))
		apis.add(str(o, "api"))
		callers.add(str(o, "caller_class"))
		files.add(str(o, "file"))
		phases.add(str(o, "phase"))
		dets.add(str(o, "detector"))
		elems.add(str(o, "element"))
		settings.add(str(o, "setting"))
		flags.add(str(o, "flag"))
		quotes.add(str(o, "quote"))
		titles.add(str(o, "title"))
		via.add(strs(o, "via")...)
		actions.add(strs(o, "actions")...)
		switch o.Kind {
		case "apk.permission":
			perms.add(firstNonEmpty(str(o, "permission"), o.Subject))
		case "apk.component":
			comps.add(o.Subject)
		case "apk.sensitive_api":
			switch party := str(o, "party"); {
			case party == "app":
				d.OwnCode = true
			case party == "unidentified":
				unidentified = true
			case party == "" && str(o, "sdk") == "" && str(o, "library") == "":
				d.OwnCode = true // an observation from before parties: neither SDK nor library
			}
		case "apk.sdk":
			if str(o, "strength") == "weak" {
				weak.add(str(o, "sdk"))
			}
		case "mp.api_call":
			if str(o, "sdk") == "" {
				d.OwnCode = true
			}
			if n, ok := intAttr(o, "line"); ok && d.Line == 0 {
				d.Line = n
			}
		}
		if kv, _ := boolAttr(o, "known_value"); kv {
			d.KnownValue = true
		}
		switch o.Kind {
		case "runtime.api_call", "runtime.frequency":
			parties.add(str(o, "party"))
			formats.add(str(o, "format"))
			if n, ok := intAttr(o, "count"); ok {
				d.Calls += n
			}
			if n, ok := intAttr(o, "max_per_second"); ok && n > d.PerSecond {
				d.PerSecond = n
			}
			if n, ok := intAttr(o, "threshold_per_second"); ok {
				d.ThresholdPerSecond = n
			}
			if n, ok := intAttr(o, "threshold_per_session"); ok {
				d.ThresholdPerSession = n
			}
			if str(o, "phase_source") == "host_flag" {
				d.HostFlag = true
			}
			if len(rows) < 5 {
				rows = append(rows, strs(o, "rows")...)
			}
		case "traffic.pi_sent":
			if str(o, "known_source") == "hooklog" {
				readAPIs.add(str(o, "read_api"))
				readParties.add(str(o, "read_party"))
				if at := str(o, "read_at"); at != "" && (d.ReadAt == "" || at < d.ReadAt) {
					d.ReadAt = at
				}
				if n, ok := intAttr(o, "read_row"); ok && len(readRows) < 5 {
					readRows = append(readRows, strconv.Itoa(n))
				}
			}
		}
		off, ok := intAttr(o, "offset_ms")
		if !ok {
			off, ok = intAttr(o, "first_ms_from_consent")
		}
		if ok {
			if first || abs(off) > abs(d.OffsetMS) {
				d.OffsetMS = off
			}
			d.HasOffset, first = true, false
		}
	}
	d.PI, d.Hosts, d.SDKs, d.APIs, d.Permissions = pi.sorted(), hosts.sorted(), sdks.sorted(), apis.sorted(), perms.sorted()
	d.Callers, d.Files, d.Phases, d.Detectors, d.Elements = callers.sorted(), files.sorted(), phases.sorted(), dets.sorted(), elems.sorted()
	d.Settings, d.Components, d.Actions, d.Flags, d.Quotes = settings.sorted(), comps.sorted(), actions.sorted(), flags.sorted(), quotes.sorted()
	d.Titles, d.Via, d.WeakSDKs = titles.sorted(), via.sorted(), weak.sorted()
	d.Parties, d.Formats, d.Rows = parties.sorted(), formats.sorted(), rows
	if len(d.Rows) > 5 {
		d.Rows = d.Rows[:5]
	}
	d.ReadAPIs, d.ReadParties, d.ReadRows = readAPIs.sorted(), readParties.sorted(), readRows
	d.Unidentified = unidentified && !d.OwnCode
	if r := reachRank(obs); r != reachNone && r != reachAppStart {
		d.NotAtStart = true
	}
	unresolved, resolved := set{}, set{}
	for i := range obs {
		if obs[i].Kind != "apk.sensitive_api" {
			continue
		}
		if str(&obs[i], "argument") == "unresolved" {
			unresolved.add(str(&obs[i], "api"))
		} else {
			resolved.add(str(&obs[i], "api"))
		}
	}
	for _, a := range unresolved.sorted() {
		if !resolved[a] {
			d.Unresolved = append(d.Unresolved, a)
		}
	}
	d.AllUnresolved = len(d.Unresolved) > 0 && len(resolved) == 0
	for _, p := range d.PI {
		switch p {
		case "device_id_hw", "device_id_sim", "mac_address", "app_list":
			d.PersistentPI = append(d.PersistentPI, p)
		}
	}
	d.ScanSensitive = sc.sensitiveSeen
	d.ScanPractice = sc.scanPractice()

	if ac, ok := sc.cat.AppCategory(sc.category.Key); ok {
		d.Category, d.CategoryZH, d.CategoryEN = ac.Key, strings.TrimSuffix(ac.Name.ZH, "类")+"类", ac.Name.EN
		d.CategorySuggested = sc.category.Suggested
		d.NoPICategory = ac.NoPIRequired
		for _, p := range d.PI {
			if !sc.cat.IsNecessaryPI(ac.Key, p) {
				d.OutsidePI = append(d.OutsidePI, p)
			}
		}
	}
	for _, p := range d.PI {
		if sc.cat.IsSensitive(p) {
			d.SensitivePI = append(d.SensitivePI, p)
			if !sc.separate[p] {
				d.NoSeparate = append(d.NoSeparate, p)
			}
		}
		if !sc.declared[p] {
			d.Undeclared = append(d.Undeclared, p)
		}
	}
	d.PolicyTitle, d.ScanSDKs, d.ScanWeakSDKs = sc.policyTitle, sc.scanSDKs, sc.scanWeakSDKs
	return d
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}

// templateKeys lists the (rule, kind) keys the set holds, for tests.
func (ts *templateSet) templateKeys() []string {
	var out []string
	for k := range ts.byKey {
		out = append(out, k)
	}
	slices.Sort(out)
	return out
}
