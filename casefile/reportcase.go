package casefile

import (
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"

	"pilmon/rules"
	"pilmon/scanner"
)

// coverView is the cover's case and app identity block.
type coverView struct {
	ReportNo, CaseNo, CaseType, Procuratorate, Handlers, Analysts, LeadSource string
	Operator                                                                  Party
	Agency                                                                    Agency
	Scale                                                                     []ScaleFact
	App                                                                       appView
	Env                                                                       envView
	Documents                                                                 []docView
	Deadlines                                                                 []deadlineView
}

// appView is the app's identity as the scan's observations and the APK's evidence record give it.
type appView struct {
	Present                                 bool
	Name, Package, VersionName, VersionCode string
	SHA256, SM3, Size                       string
	SignerSubject, SignerSHA256             string
	// Obtained says where the APK came from: the download (URL, final URL, time, TLS chain) or
	// the local file and its upload record.
	Obtained, ObtainedAt, FinalURL, TLS string
}

type envView struct {
	Device, OS string
	Tools      []string
	Sessions   []string
}

type docView struct {
	Kind, Number, Date, SHA256 string
}

type deadlineView struct {
	Kind, Due, Status, StatusKey, DocumentNo string
}

// maxItemRefs bounds the record numbers one row of the summary table lists.
const maxItemRefs = 40

// itemRow is one row of the 违法事实汇总表: a 认定方法 item or a PIPL article with its mark.
type itemRow struct {
	Ref, Title, Mark, MarkKey, Note string
	Findings                        []itemRef
	// More is how many records behind the row are not listed (see maxItemRefs).
	More int
}

type itemRef struct {
	No     int
	Anchor string
	Lead   bool
}

// Marks of the summary table.
const (
	markBreach   = "breach"   // 不符合: an established finding (认定事实) stands behind the item
	markComplies = "complies" // 符合: assessed, and nothing fired
	markUntested = "untested" // 未检测: everything else
)

var markLabels = map[string]rules.Text{
	markBreach:   {ZH: "不符合", EN: "not compliant"},
	markComplies: {ZH: "符合", EN: "compliant"},
	markUntested: {ZH: "未检测", EN: "not tested"},
}

// rdffItemID matches the ids of the 31 认定方法 items' own rules (rdff-3.1); rules derived from an
// item carry a suffix (rdff-4.4-frequency-observed) and count for it.
var rdffItemID = regexp.MustCompile(`^rdff-(\d+\.\d+)(?:-.*)?$`)

// itemOf is the 认定方法 item a finding is pleaded under: its rule's item, else the first item it
// cites; "" when it cites none.
func itemOf(ruleID string, basis []rules.Citation) string {
	if m := rdffItemID.FindStringSubmatch(ruleID); m != nil {
		return m[1]
	}
	for _, c := range basis {
		if c.Instrument == "rdff2019" {
			return c.Article
		}
	}
	return ""
}

// groupKey orders findings by the legal item they are pleaded under: 认定方法 items in their
// order, then the anchor citation of the rest.
func groupKey(ruleID string, basis []rules.Citation) string {
	if it := itemOf(ruleID, basis); it != "" {
		a, b, _ := strings.Cut(it, ".")
		x, _ := strconv.Atoi(a)
		y, _ := strconv.Atoi(b)
		return fmt.Sprintf("0:%03d.%03d", x, y)
	}
	if len(basis) > 0 {
		c := basis[0]
		n, err := strconv.Atoi(c.Article)
		if err == nil {
			return fmt.Sprintf("1:%s:%06d", c.Instrument, n)
		}
		return "1:" + c.Instrument + ":" + c.Article
	}
	return "2:"
}

// groupTitle is the heading of a legal-item group in the findings section.
func (j *job) groupTitle(ruleID string, basis []rules.Citation) string {
	if it := itemOf(ruleID, basis); it != "" {
		label := j.cat.CiteLabel(rules.Citation{Instrument: "rdff2019", Article: it}, j.opts.Lang)
		if v, ok := j.cat.Violation("rdff-" + it); ok {
			return label + " " + j.text(v.Title)
		}
		return label
	}
	if len(basis) > 0 {
		return j.cat.CiteLabel(basis[0], j.opts.Lang)
	}
	return j.text(rules.Text{ZH: "其他", EN: "Other"})
}

// summaryTable builds the 违法事实汇总表 over d.All: every 认定方法 item and every PIPL article the
// items or the findings cite. An item is 不符合 when an established finding stands behind it,
// 符合 only when its rule is automated, declares the inputs it needs, the scan had them (Coverage
// given, the rule not in not_assessed) and no record of it exists, in or out of the export;
// everything else is 未检测 with the reason.
func (j *job) summaryTable(d *reportData) (items, articles []itemRow) {
	byItem, byArticle := map[string]*hit{}, map[string]*hit{}
	add := func(m map[string]*hit, k string, fv findingView) {
		h := m[k]
		if h == nil {
			h = &hit{}
			m[k] = h
		}
		lead := fv.TierKey != rules.TierFinding
		// A row names at most maxItemRefs records and counts the rest: an article cited by
		// thousands of findings would otherwise be one row taller than a page.
		if len(h.refs) < maxItemRefs {
			h.refs = append(h.refs, itemRef{No: fv.No, Anchor: fv.Anchor, Lead: lead})
		}
		if lead {
			h.leads++
		} else {
			h.findings++
		}
	}
	for i, fv := range d.All {
		f := j.items[i].f
		if it := itemOf(f.RuleID, f.LegalBasis); it != "" {
			add(byItem, it, fv)
		}
		seen := map[string]bool{}
		for _, c := range f.LegalBasis {
			if c.Instrument == "pipl" && !seen[c.Article] {
				seen[c.Article] = true
				add(byArticle, c.Article, fv)
			}
		}
	}
	notAssessed := map[string]rules.Text{}
	if j.opts.Coverage != nil {
		for _, n := range j.opts.Coverage.NotAssessed {
			notAssessed[n.RuleID] = n.Reason
		}
	}
	excludedFor := func(item string) int {
		n := 0
		for r, c := range j.excluded {
			if m := rdffItemID.FindStringSubmatch(r); m != nil && m[1] == item {
				n += c
			}
		}
		return n
	}
	T := func(zh, en string) string { return j.text(rules.Text{ZH: zh, EN: en}) }
	articleSet := map[string]bool{}
	for _, v := range j.cat.Violations() {
		m := rdffItemID.FindStringSubmatch(v.ID)
		if m == nil || v.ID != "rdff-"+m[1] {
			continue
		}
		it := m[1]
		row := itemRow{Ref: it, Title: j.text(v.Title)}
		for _, c := range v.LegalBasis {
			if c.Instrument == "pipl" {
				articleSet[c.Article] = true
			}
		}
		h := byItem[it]
		reason, na := notAssessed[v.ID]
		switch {
		case h != nil:
			row.marked(h, T)
		case excludedFor(it) > 0:
			row.MarkKey = markUntested
			row.Note = fmt.Sprintf(T("另有 %d 条记录未纳入本报告（已排除或未分诊）", "%d record(s) left out of this report (dismissed or untriaged)"), excludedFor(it))
		case v.Check.Mode != "automated":
			row.MarkKey = markUntested
			row.Note = T("需人工检查（测试机），自动检测不判断此项", "checked by hand on a test phone; not decided automatically")
		case v.Inputs == nil:
			row.MarkKey = markUntested
			row.Note = T("规则未声明所需输入，未触发不等于符合", "the rule declares no inputs: not firing does not show compliance")
		case j.opts.Coverage == nil:
			row.MarkKey = markUntested
			row.Note = T("本报告未附扫描的检测范围，不判断是否符合", "the scan's coverage was not given: compliance is not judged")
		case na:
			row.MarkKey = markUntested
			row.Note = j.text(reason)
		default:
			row.MarkKey = markComplies
			row.Note = T("自动检测具备所需输入且未发现问题（仅限自动检测范围）", "the automated check had its inputs and found nothing (within what it checks)")
		}
		if h != nil {
			row.Findings, row.More = h.refs, h.findings+h.leads-len(h.refs)
		}
		row.Mark = j.text(markLabels[row.MarkKey])
		items = append(items, row)
	}
	for a := range byArticle {
		articleSet[a] = true
	}
	arts := slices.SortedFunc(func(yield func(string) bool) {
		for a := range articleSet {
			if !yield(a) {
				return
			}
		}
	}, func(a, b string) int {
		x, errA := strconv.Atoi(a)
		y, errB := strconv.Atoi(b)
		if errA == nil && errB == nil {
			return x - y
		}
		return strings.Compare(a, b)
	})
	for _, a := range arts {
		c := rules.Citation{Instrument: "pipl", Article: a}
		row := itemRow{Ref: j.cat.CiteLabel(c, j.opts.Lang)}
		if bv := j.cite(c); bv.Text != "" {
			row.Title = bv.Text
		}
		h := byArticle[a]
		switch {
		case h != nil:
			row.marked(h, T)
		default:
			// An article is wider than any rule that cites it: no scan shows it is complied with.
			row.MarkKey = markUntested
			row.Note = T("未发现援引本条的记录；条文层面是否符合不由自动检测判断", "no record cites it; compliance with an article is not decided by automated checks")
		}
		if h != nil {
			row.Findings, row.More = h.refs, h.findings+h.leads-len(h.refs)
		}
		row.Mark = j.text(markLabels[row.MarkKey])
		articles = append(articles, row)
	}
	return items, articles
}

// hit is what a summary row rests on: the records that name it (at most maxItemRefs) and how
// many are findings and leads.
type hit struct {
	refs     []itemRef
	findings int
	leads    int
}

// marked sets the row's mark from the records behind it: 不符合 with an established finding,
// else 未检测 with leads only (they need a test phone).
func (row *itemRow) marked(h *hit, T func(zh, en string) string) {
	if h.findings == 0 {
		row.MarkKey = markUntested
		row.Note = fmt.Sprintf(T("仅有待核实线索 %d 条，需在测试机上核实", "%d lead(s) only: to verify on a test phone"), h.leads)
		return
	}
	row.MarkKey = markBreach
	row.Note = fmt.Sprintf(T("认定事实 %d 条", "%d established finding(s)"), h.findings)
	if h.leads > 0 {
		row.Note += fmt.Sprintf(T("，待核实线索 %d 条", "; %d lead(s)"), h.leads)
	}
}

// cover builds the cover's case, app and environment blocks.
func (j *job) cover(product string) coverView {
	lang := j.opts.Lang
	var cv coverView
	if c := j.opts.Case; c != nil {
		cv.ReportNo, cv.CaseNo, cv.Procuratorate, cv.LeadSource = c.ReportNo, c.CaseNo, c.Procuratorate, c.LeadSource
		cv.CaseType = caseTypeLabel(c.Type, lang)
		cv.Handlers, cv.Analysts = strings.Join(c.Handlers, "、"), strings.Join(c.Analysts, "、")
		cv.Operator, cv.Agency, cv.Scale = c.Operator, c.Agency, c.Scale
		for _, d := range c.Documents {
			cv.Documents = append(cv.Documents, docView{Kind: d.Kind, Number: d.Number, Date: fmtDate(d.Date), SHA256: d.SHA256})
		}
		for _, d := range c.Deadlines {
			cv.Deadlines = append(cv.Deadlines, deadlineView{Kind: d.Kind, Due: fmtDate(d.Due), StatusKey: d.Status,
				Status: j.text(deadlineStatus(d.Status)), DocumentNo: d.DocumentNo})
		}
		cv.Env.Device, cv.Env.OS = c.Environment.Device, c.Environment.OSVersion
		cv.Env.Tools = append(cv.Env.Tools, c.Environment.Tools...)
	}
	if cv.Operator.Name == "" {
		cv.Operator.Name = j.target.Operator
	}
	ctxObs := contextObservations(j.opts.Observations, j.items)
	app := &cv.App
	str := func(o scanner.Observation, k string) string {
		if v, ok := o.Attributes[k]; ok && v != nil {
			return fmt.Sprint(v)
		}
		return ""
	}
	var apkRefs []string
	for _, o := range ctxObs {
		switch o.Kind {
		case "apk.identity":
			if app.Package == "" {
				app.Present = true
				app.Package, app.VersionName, app.VersionCode, app.Name = str(o, "package"), str(o, "version_name"), str(o, "version_code"), str(o, "label")
				apkRefs = append(apkRefs, o.EvidenceRefs...)
			}
		case "apk.certificate":
			if app.SignerSHA256 == "" {
				app.Present = true
				app.SignerSubject, app.SignerSHA256 = str(o, "subject_dn"), str(o, "sha256")
			}
		case "apk.provenance":
			if app.Obtained == "" {
				app.Present = true
				app.Obtained, app.FinalURL, app.TLS = str(o, "url"), str(o, "final_url"), attrList(o.Attributes["tls_chain"])
				if at := str(o, "fetched_at"); at != "" {
					app.ObtainedAt = at
					if t, err := parseTime(at); err == nil {
						app.ObtainedAt = j.fmtTime(t)
					}
				}
				apkRefs = append(apkRefs, o.EvidenceRefs...)
			}
		case "runtime.session":
			if dev := str(o, "device"); dev != "" && cv.Env.Device == "" {
				cv.Env.Device = dev
			}
			s := str(o, "format")
			if sc := str(o, "script"); sc != "" {
				s += " · " + sc
			}
			if len(cv.Env.Sessions) < 20 && !slices.Contains(cv.Env.Sessions, s) {
				cv.Env.Sessions = append(cv.Env.Sessions, s)
			}
		}
	}
	// The APK itself: an application/vnd.android.package-archive artifact, the one the identity
	// observation cites when it cites one.
	apk := ""
	for _, h := range apkRefs {
		if _, ok := j.records[h]; ok && baseType(j.records[h].First().MediaType) == "application/vnd.android.package-archive" {
			apk = h
			break
		}
	}
	if apk == "" {
		for _, h := range j.refs {
			if baseType(j.records[h].First().MediaType) == "application/vnd.android.package-archive" {
				apk = h
				break
			}
		}
	}
	if apk != "" {
		app.Present = true
		rec := j.records[apk]
		app.SHA256, app.SM3, app.Size = apk, rec.Ref.SM3, humanSize(rec.Ref.Size)
		if app.Obtained == "" {
			// Without a download record the APK was a local file: its upload record says when
			// (and under which name) it came in.
			m := rec.First()
			app.Obtained = displaySource(m.Source, lang)
			if !isURL(m.Source) {
				app.Obtained = strings.TrimSpace(j.text(rules.Text{ZH: "本地文件（上传）", EN: "local file (uploaded)"}) + " " + fileName(m.Source))
			}
			app.ObtainedAt = j.fmtTime(m.CapturedAt)
		}
	}
	if app.Name == "" {
		app.Name = j.target.Name
	}
	cv.Env.Tools = append([]string{j.opts.Tool}, cv.Env.Tools...)
	if product != "" {
		cv.Env.Tools = append(cv.Env.Tools, product)
	}
	return cv
}

var deadlineStatuses = map[string]rules.Text{
	"open":     {ZH: "未到期", EN: "open"},
	"due_soon": {ZH: "即将到期", EN: "due soon"},
	"overdue":  {ZH: "已逾期", EN: "overdue"},
	"met":      {ZH: "已完成", EN: "met"},
}

func deadlineStatus(s string) rules.Text {
	if t, ok := deadlineStatuses[s]; ok {
		return t
	}
	return rules.Text{ZH: s, EN: s}
}

// attrList prints a list attribute (a TLS chain) one entry a line, at most 10 entries.
func attrList(v any) string {
	switch l := v.(type) {
	case []any:
		var parts []string
		for i, e := range l {
			if i == 10 {
				parts = append(parts, "…")
				break
			}
			parts = append(parts, fmt.Sprint(e))
		}
		return strings.Join(parts, "\n")
	case []string:
		return attrList(func() []any {
			out := make([]any, len(l))
			for i, s := range l {
				out[i] = s
			}
			return out
		}())
	case nil:
		return ""
	}
	return fmt.Sprint(v)
}

// methodLabels name the evidence methods (evidence.Meta.Method) in words.
var methodLabels = map[string]rules.Text{
	"http_fetch":               {ZH: "网络下载", EN: "HTTP fetch"},
	"file_import":              {ZH: "文件导入", EN: "file import"},
	"browser_capture":          {ZH: "浏览器采集", EN: "browser capture"},
	"browser_screenshot":       {ZH: "浏览器截图", EN: "browser screenshot"},
	"har_import":               {ZH: "抓包文件导入", EN: "HAR import"},
	"derived":                  {ZH: "系统生成", EN: "derived"},
	"derived_session_timeline": {ZH: "会话时间线（系统生成）", EN: "session timeline (derived)"},
	"analyst_upload":           {ZH: "办案人员上传", EN: "analyst upload"},
}

// method names an evidence method in the report's language; an unknown one is printed as it is.
func (j *job) method(m string) string { return j.label(methodLabels, m) }

// label names key from labels in the report's language; an unknown key is printed as it is.
func (j *job) label(labels map[string]rules.Text, key string) string {
	if t, ok := labels[key]; ok {
		return j.text(t)
	}
	return key
}

// kindLabel names an observation kind by its catalogue description ("APK 基本信息"), so that the
// Chinese report shows no identifiers.
func (j *job) kindLabel(kind string) string {
	if k, ok := j.cat.ObservationKind(kind); ok && k.Description.ZH != "" {
		return j.text(k.Description)
	}
	return kind
}

var confidenceLabels = map[string]rules.Text{
	"high":   {ZH: "高", EN: "high"},
	"medium": {ZH: "中", EN: "medium"},
	"low":    {ZH: "低", EN: "low"},
}

func (j *job) confidence(c string) string { return j.label(confidenceLabels, c) }

// excerpt is one request a finding rests on, with the matched value marked: the template prints
// Before, Match (highlighted) and After, each escaped.
type excerpt struct {
	Where, Before, Match, After string
}

// Excerpt limits: the URL is cut around the match.
const (
	maxExcerpts      = 3
	excerptContext   = 120
	excerptMatchRune = 200
)

var locationLabels = map[string]rules.Text{
	"url": {ZH: "网址", EN: "URL"}, "query": {ZH: "查询参数", EN: "query"}, "header": {ZH: "请求头", EN: "header"},
	"cookie": {ZH: "Cookie", EN: "cookie"}, "body": {ZH: "请求体", EN: "body"},
}

// excerpts builds the request excerpts of a finding from its traffic.pi_sent observations: the
// request URL with the value under the matched key marked when the value travels in the URL, else
// the key with the masked value the inspector kept. The observation holds the evidence pointer
// (HAR entry and time), so the excerpt can be found in the capture.
func (j *job) excerpts(obs []scanner.Observation) []excerpt {
	var out []excerpt
	for _, o := range obs {
		if o.Kind != "traffic.pi_sent" || len(out) == maxExcerpts {
			continue
		}
		get := func(k string) string {
			if v, ok := o.Attributes[k]; ok && v != nil {
				return fmt.Sprint(v)
			}
			return ""
		}
		u, key, loc, sample := get("url"), get("key"), get("location"), get("sample")
		if u == "" && sample == "" {
			continue
		}
		e := excerpt{Where: get("host")}
		if l, ok := locationLabels[loc]; ok {
			e.Where += " · " + j.text(l)
		}
		if n := get("entry_index"); n != "" {
			e.Where += " · " + fmt.Sprintf(j.text(rules.Text{ZH: "抓包第 %s 条请求", EN: "capture entry %s"}), n)
		}
		if t, err := parseTime(get("entry_time")); err == nil {
			e.Where += " · " + j.fmtTime(t)
		}
		if start, end, ok := valueInURL(u, key); ok && (loc == "url" || loc == "query") {
			e.Before, e.Match, e.After = clipLeft(u[:start], excerptContext), clipRight(u[start:end], excerptMatchRune), clipRight(u[end:], excerptContext)
		} else {
			e.Before, e.Match = clipRight(u, 2*excerptContext), sample
			if key != "" {
				e.Before = strings.TrimSpace(e.Before + "  " + key + "：")
			}
		}
		out = append(out, e)
	}
	return out
}

// valueInURL finds the value of parameter key in u (key=value, up to & or #).
func valueInURL(u, key string) (start, end int, ok bool) {
	if key == "" {
		return 0, 0, false
	}
	for from := 0; from < len(u); {
		i := strings.Index(u[from:], key+"=")
		if i < 0 {
			return 0, 0, false
		}
		i += from
		if i == 0 || strings.ContainsRune("?&;/", rune(u[i-1])) {
			start = i + len(key) + 1
			end = start
			for end < len(u) && u[end] != '&' && u[end] != '#' && u[end] != ';' {
				end++
			}
			return start, end, end > start
		}
		from = i + 1
	}
	return 0, 0, false
}

func clipLeft(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return "…" + string(r[len(r)-n:])
}

func clipRight(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n]) + "…"
}
