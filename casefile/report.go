package casefile

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/ed25519"
	"embed"
	"fmt"
	"html/template"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"pilmon/browser"
	"pilmon/findings"
	"pilmon/rules"
)

//go:embed templates/report.html.tmpl
var templateFS embed.FS

var reportTmpl = template.Must(template.New("report.html.tmpl").Funcs(template.FuncMap{
	"group": GroupFingerprint,
	"page": func(d *reportData, anchor string) template.HTML {
		if d.Pages == nil {
			// The first printing reserves the number's width, so that the second breaks
			// lines, and so pages, the same way.
			return `<span class="pg">0000</span>`
		}
		if n := d.Pages[anchor]; n > 0 {
			return template.HTML(fmt.Sprintf(`<span class="pg">%d</span>`, n))
		}
		return ""
	},
}).ParseFS(templateFS, "templates/report.html.tmpl"))

// Volumes keep each PDF (and the memory printing it takes) bounded; variables so tests can shrink them.
var (
	volumeSize         = 250
	evidenceVolumeSize = 1000
	inlineArticleLimit = 200
)

// Screenshot limits: PNG evidence is inlined into the PDF up to these sizes; the rest is listed.
const (
	maxScreenshotBytes   = 4 << 20
	maxScreenshotTotal   = 24 << 20
	maxScreenshotsPerF   = 2
	maxObservationsShown = 20
)

// reportData is what the PDF template and the spreadsheet show.
type reportData struct {
	Lang           string
	L              labels
	Target         ManifestTarget
	TargetLabel    string
	ScanID         string
	ScanFrom       string
	ScanTo         string
	ExportedAt     string
	ExportedBy     string
	Tool           string
	KeyFingerprint string
	Severities     []countRow
	States         []countRow
	// Findings are this volume's sections; All are every finding (summary, custody).
	Findings []findingView
	All      []findingView
	Evidence []evidenceView
	// A large export is printed in volumes (writeReports); Main is the one with the summary,
	// the history and the cited provisions; Custody is this volume's part of the evidence list.
	Volume, Volumes, FirstNo, LastNo int
	Main                             bool
	VolumeLabel                      string
	// InlineArticles prints each article's text in every finding that cites it; above
	// inlineArticleLimit findings the texts are printed once, in Articles.
	InlineArticles bool
	Articles       []basisView
	Custody        []custodyGroup
	Verify         []string
	// Cover is the case and the app's identity; Items and PIPL the 违法事实汇总表.
	Cover coverView
	Items []itemRow
	PIPL  []itemRow
	// HasCase is true when the export was given a CaseInfo; Recommendations are its measures
	// for the draft 检察建议书.
	HasCase         bool
	Recommendations []string
	// Pages are the page numbers of the headings (by anchor) that the contents page shows,
	// learnt from a first printing (renderPDF); nil on that first printing.
	Pages map[string]int
	// PolicyDiffs are the target's privacy-policy changes (policydiff.go), in the main volume.
	PolicyDiffs []policyDiffView
	// Draft is the first printing: screenshots are empty boxes of their size, so that pages
	// break where they will with the images, which Chromium then need not load twice.
	Draft bool
}

type countRow struct {
	Label string
	N     int
}

type findingView struct {
	No          int
	Anchor      string
	Fingerprint string
	TargetID    string
	RuleID      string
	RuleVersion int
	Title       string
	TitleZH     string
	Subject     string
	Severity    string
	SeverityKey string
	Tier        string // 认定事实 / 待核实线索 in the report's language
	TierKey     string
	Grade       string
	// TierHeading opens the findings section's part for the item's tier (on its first item);
	// GroupHeading the legal item's group within it.
	TierHeading  string
	GroupHeading string
	Lead         bool
	State        string
	Confidence   string
	Summary      string
	Caveat       string
	FirstSeen    string
	LastSeen     string
	LastScanID   string
	NotReobs     string
	Basis        []basisView
	BasisShort   string
	Observations []obsView
	MoreObs      int
	Evidence     []evidenceView
	Screenshots  []shot
	// MoreShots counts the screenshots among the evidence that are not shown (the per-finding
	// cap, the report's budget, or too large to reproduce); the evidence list names them.
	MoreShots int
	Excerpts  []excerpt
	History   []histView
	// Deadline and DocumentNo are the spreadsheet's 期限 and 文书编号: the finding's own from
	// its history, else the case's.
	Deadline, DocumentNo string
}

type basisView struct {
	Cite         string
	Text         string
	Verification string
}

type obsView struct {
	Kind, Subject, Attrs, Inspector string
}

type evidenceView struct {
	SHA256, SM3, Path, MediaType, Size string
	Bytes                              int64
	CapturedAt, Method, Source, Tool   string
	Inspector                          string
	Captures                           int
	Findings                           []string
}

// shot is a screenshot the report shows (shots.go): the original's pixels, its box on the page
// in CSS pixels, and the pixels of the copy printed there.
type shot struct {
	SHA256     string
	URI        string
	W, H       int
	BoxW, BoxH int
	PxW, PxH   int
	Reduced    bool
}

type histView struct {
	At, Actor, From, To, Note, Document, Deadline string
}

type custodyGroup struct {
	SHA256, SM3, Path, Size, MediaType string
	Rows                               []custodyRow
	// Rendered are the members holding a rendering of a captured page (FileEntry.Rendered).
	Rendered []string
}

type custodyRow struct {
	Seq, At, Method, Source, Tool, Inspector string
}

// fmtTime prints a time in Beijing time with its zone (北京时间 / UTC+8): a court reads local time.
func (j *job) fmtTime(t time.Time) string { return fmtTimeLang(t, j.opts.Lang) }

func (j *job) text(t rules.Text) string {
	if j.opts.Lang == "en" && t.EN != "" {
		return t.EN
	}
	if t.ZH == "" {
		return t.EN
	}
	return t.ZH
}

// cite formats a citation (rules.Catalogue.CiteLabel: 《个人信息保护法》第17条 / PIPL, Art. 17, with
// its version and 参考 / for reference on recommended standards) with the article's text.
// Only an article the catalogue marks verified is quoted: a summary or a text typed from memory
// must not reach a court as the law's words, so those are cited without text.
func (j *job) cite(c rules.Citation) basisView {
	bv := basisView{Cite: j.cat.CiteLabel(c, j.opts.Lang)}
	if a, ok := j.cat.Article(c); ok && a.Verification == "verified" {
		bv.Text = j.text(a.Text)
		bv.Verification = a.Verification
	}
	return bv
}

func (j *job) evidenceView(h string) evidenceView {
	rec := j.records[h]
	m := rec.First()
	return evidenceView{SHA256: h, SM3: rec.Ref.SM3, Path: evidencePath(h, m.MediaType), MediaType: m.MediaType,
		Size: humanSize(rec.Ref.Size), Bytes: rec.Ref.Size, CapturedAt: j.fmtTime(m.CapturedAt), Method: j.method(m.Method),
		Source: displaySource(m.Source, j.opts.Lang), Tool: m.Tool, Inspector: m.Inspector, Captures: len(rec.Captures), Findings: j.citedBy[h]}
}

func humanSize(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	}
	return fmt.Sprintf("%d B", n)
}

// reportData builds the view of the export. Screenshots are read (and verified) here.
func (j *job) reportData(product string) *reportData {
	L := labelsFor(j.opts.Lang)
	pub := j.opts.Key.Public()
	d := &reportData{Lang: j.opts.Lang, L: L, ScanID: j.scanID, ExportedAt: j.fmtTime(j.now), ExportedBy: j.user,
		Tool: j.opts.Tool, Verify: strings.Split(strings.TrimSpace(verifyParagraph(j.opts.Lang)), "\n")}
	d.KeyFingerprint = KeyFingerprint(pub.(ed25519.PublicKey))
	d.Target = ManifestTarget{ID: j.target.ID, Kind: string(j.target.Kind), Name: j.target.Name,
		Operator: j.target.Operator, Category: j.target.Category}
	if d.Target.ID == "" {
		d.Target.ID = L.Mixed
	}
	d.TargetLabel = d.Target.ID
	if d.Target.Name != "" {
		d.TargetLabel = d.Target.Name + " (" + d.Target.ID + ")"
	}
	if ac, ok := j.cat.AppCategory(j.target.Category); ok {
		d.Target.Category = j.text(ac.Name) + " (" + ac.Key + ")"
	}
	d.InlineArticles = len(j.items) <= inlineArticleLimit
	seenArticle := map[rules.Citation]bool{}
	from, to := j.started, j.finished
	sevCount, stateCount := map[string]int{}, map[string]int{}
	shotBudget := int64(maxScreenshotTotal)
	for i, it := range j.items {
		f := it.f
		if from.IsZero() || (!f.FirstSeen.IsZero() && f.FirstSeen.Before(from)) {
			if j.started.IsZero() {
				from = f.FirstSeen
			}
		}
		if j.finished.IsZero() && f.LastSeen.After(to) {
			to = f.LastSeen
		}
		fv := findingView{No: i + 1, Anchor: "f" + f.Fingerprint, Fingerprint: f.Fingerprint, TargetID: f.TargetID,
			RuleID: f.RuleID, RuleVersion: f.RuleVersion, Subject: f.Subject, SeverityKey: string(f.Severity),
			Severity: j.text(severityLabel(f.Severity)), State: j.text(f.State.Label()), Summary: j.text(f.Summary),
			Caveat: j.text(f.Caveat), FirstSeen: j.fmtTime(f.FirstSeen), LastSeen: j.fmtTime(f.LastSeen),
			LastScanID: f.LastScanID, NotReobs: f.NotReobservedSince, Confidence: j.confidence(f.Confidence)}
		fv.Title, fv.TitleZH = f.RuleID, f.RuleID
		if v, ok := j.cat.Violation(f.RuleID); ok {
			t := v.TitleFor(f.Tier)
			fv.Title, fv.TitleZH = j.text(t), t.ZH
		}
		fv.TierKey, fv.Tier, fv.Grade = f.Tier, j.text(tierLabel(f.Tier)), j.text(gradeLabel(f.Grade))
		fv.Lead = f.Tier != rules.TierFinding
		if i == 0 || f.Tier != j.items[i-1].f.Tier {
			fv.TierHeading = j.text(tierHeading(f.Tier))
		}
		if i == 0 || fv.TierHeading != "" || groupKey(f.RuleID, f.LegalBasis) != groupKey(j.items[i-1].f.RuleID, j.items[i-1].f.LegalBasis) {
			fv.GroupHeading = j.groupTitle(f.RuleID, f.LegalBasis)
		}
		var short []string
		for _, c := range f.LegalBasis {
			b := j.cite(c)
			fv.Basis = append(fv.Basis, b)
			if !seenArticle[c] {
				seenArticle[c] = true
				d.Articles = append(d.Articles, b)
			}
			short = append(short, b.Cite)
		}
		fv.BasisShort = strings.Join(short, "；")
		for k, o := range f.Observations {
			if k == maxObservationsShown {
				fv.MoreObs = len(f.Observations) - k
				break
			}
			fv.Observations = append(fv.Observations, obsView{Kind: j.kindLabel(o.Kind), Subject: o.Subject,
				Attrs: attrString(o.Attributes, j.opts.Lang), Inspector: o.Inspector + "/" + o.InspectorVersion})
		}
		fv.Excerpts = j.excerpts(f.Observations)
		refs := map[string]bool{}
		for _, h := range f.EvidenceRefs {
			refs[h] = true
		}
		for _, o := range f.Observations {
			for _, h := range o.EvidenceRefs {
				refs[h] = true
			}
		}
		for _, h := range slices.Sorted(maps.Keys(refs)) {
			ev := j.evidenceView(h)
			fv.Evidence = append(fv.Evidence, ev)
			if !strings.HasPrefix(strings.ToLower(ev.MediaType), "image/png") {
				continue
			}
			if len(fv.Screenshots) < maxScreenshotsPerF && ev.Bytes <= maxScreenshotBytes && ev.Bytes <= shotBudget {
				if s, err := j.shotFor(h); err == nil {
					shotBudget -= ev.Bytes
					fv.Screenshots = append(fv.Screenshots, s)
					continue
				}
			}
			fv.MoreShots++
		}
		for _, t := range it.history {
			hv := histView{At: j.fmtTime(t.At), Actor: t.Actor, From: j.text(t.From.Label()), To: j.text(t.To.Label()),
				Note: t.Note, Deadline: t.Deadline}
			if t.From == "" {
				hv.From = "—"
			}
			if t.DocumentNo != "" {
				hv.Document = strings.TrimSpace(t.DocumentNo + " " + t.DocumentDate)
			}
			fv.History = append(fv.History, hv)
		}
		for _, t := range it.history {
			if t.Deadline != "" {
				fv.Deadline = t.Deadline
			}
			if t.DocumentNo != "" {
				fv.DocumentNo = t.DocumentNo
			}
		}
		if c := j.opts.Case; c != nil {
			if fv.Deadline == "" {
				fv.Deadline = caseDeadlines(c, j.opts.Lang)
			}
			if fv.DocumentNo == "" {
				fv.DocumentNo = caseDocNumbers(c)
			}
		} else if cs := j.opts.MemberOf[f.Fingerprint]; len(cs) > 0 {
			// each line names its case: a finding may belong to more than one
			var dls, dns []string
			for _, c := range cs {
				for _, l := range strings.Split(caseDeadlines(c, j.opts.Lang), "\n") {
					if l != "" {
						dls = append(dls, strings.TrimSpace(c.CaseNo+" "+l))
					}
				}
				if n := caseDocNumbers(c); n != "" {
					dns = append(dns, n)
				}
			}
			if fv.Deadline == "" {
				fv.Deadline = strings.Join(dls, "\n")
			}
			if fv.DocumentNo == "" {
				fv.DocumentNo = strings.Join(dns, "\n")
			}
		}
		sevCount[string(f.Severity)]++
		stateCount[string(f.State)]++
		d.Findings = append(d.Findings, fv)
	}
	d.ScanFrom, d.ScanTo = j.fmtTime(from), j.fmtTime(to)
	d.All = d.Findings
	d.Items, d.PIPL = j.summaryTable(d)
	d.Cover = j.cover(product)
	if j.opts.Case != nil {
		d.HasCase, d.Recommendations = true, j.opts.Case.Recommendations
	}
	slices.SortFunc(d.Articles, func(a, b basisView) int { return strings.Compare(a.Cite, b.Cite) })
	for _, s := range findings.Severities {
		if n := sevCount[string(s)]; n > 0 {
			d.Severities = append(d.Severities, countRow{j.text(severityLabel(s)), n})
		}
	}
	for _, s := range findings.AllStates {
		if n := stateCount[string(s)]; n > 0 {
			d.States = append(d.States, countRow{j.text(s.Label()), n})
		}
	}
	for _, h := range j.refs {
		ev := j.evidenceView(h)
		d.Evidence = append(d.Evidence, ev)
		g := custodyGroup{SHA256: h, SM3: ev.SM3, Path: ev.Path, Size: ev.Size, MediaType: ev.MediaType, Rendered: j.renderedCopies(h)}
		for _, c := range j.records[h].Captures {
			g.Rows = append(g.Rows, custodyRow{Seq: fmt.Sprint(c.Seq), At: j.fmtTime(c.CapturedAt),
				Method: j.method(c.Method), Source: displaySource(c.Source, j.opts.Lang), Tool: c.Tool, Inspector: c.Inspector})
		}
		d.Custody = append(d.Custody, g)
	}
	return d
}

// attrString prints an observation's attributes; a time among them (a HAR entry's, in UTC) is
// printed in Beijing time like every other time of the report.
func attrString(m map[string]any, lang string) string {
	if len(m) == 0 {
		return ""
	}
	keys := slices.Sorted(maps.Keys(m))
	var b strings.Builder
	for i, k := range keys {
		if i > 0 {
			b.WriteString("; ")
		}
		s := fmt.Sprint(m[k])
		if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
			s = fmtTimeLang(t, lang)
		}
		if len([]rune(s)) > 200 {
			s = string([]rune(s)[:200]) + "…"
		}
		b.WriteString(k + "=" + s)
		if b.Len() > 1000 {
			b.WriteString(" …")
			break
		}
	}
	return b.String()
}

var severityLabels = map[rules.Severity]rules.Text{
	"critical": {ZH: "严重", EN: "critical"},
	"high":     {ZH: "高", EN: "high"},
	"medium":   {ZH: "中", EN: "medium"},
	"low":      {ZH: "低", EN: "low"},
	"info":     {ZH: "提示", EN: "info"},
}

func severityLabel(s rules.Severity) rules.Text {
	if l, ok := severityLabels[s]; ok {
		return l
	}
	return rules.Text{ZH: string(s), EN: string(s)}
}

// renderHTML executes the report template. The HTML is a string because the DevTools message
// that carries it takes one (browser.PrintPDFTo); screenshots are not in it (shots.go).
func renderHTML(d *reportData) (string, error) {
	var buf strings.Builder
	if err := reportTmpl.Execute(&buf, d); err != nil {
		return "", fmt.Errorf("casefile: report template: %w", err)
	}
	return buf.String(), nil
}

// renderPDF prints the report with Chromium into w as it streams: page numbers in the footer, the
// target in the header.
func renderPDF(ctx context.Context, b *browser.Browser, d *reportData, shots func(context.Context, string) ([]byte, string, error), w io.Writer) error {
	header := `<div style="font-family:'Noto Sans CJK SC',sans-serif;font-size:8px;width:100%;margin:0 12mm;color:#555;display:flex;justify-content:space-between;">` +
		`<span>` + template.HTMLEscapeString(d.L.ReportTitle) + `</span><span>` + template.HTMLEscapeString(d.TargetLabel) + `</span></div>`
	footer := `<div style="font-family:'Noto Sans CJK SC',sans-serif;font-size:8px;width:100%;text-align:center;color:#555;">` +
		template.HTMLEscapeString(d.L.PageBefore) + `<span class="pageNumber"></span>` + template.HTMLEscapeString(d.L.PageOf) +
		`<span class="totalPages"></span>` + template.HTMLEscapeString(d.L.PageAfter) + `</div>`
	// Chromium lays out every table row; allow for the biggest volume on a slow, busy machine.
	rows := 3*len(d.Findings) + 4*len(d.Custody)
	if d.Main {
		rows += 2 * len(d.All)
	}
	timeout := 2*time.Minute + time.Duration(rows)*100*time.Millisecond
	opts := browser.PDFOptions{HeaderTemplate: header, FooterTemplate: footer, Timeout: timeout}
	if d.Pages == nil {
		// First printing: only to learn on which page each heading falls (pdfpages.go). It goes
		// to a temporary file, not to memory; a PDF that cannot be read leaves the numbers out.
		// Its screenshots are empty boxes of their size (Draft): the layout is the same.
		d.Draft = true
		html, err := renderHTML(d)
		d.Draft = false
		if err != nil {
			return err
		}
		pages, err := firstPrinting(ctx, b, html, opts)
		if err != nil {
			return err
		}
		d.Pages = pages
	}
	html, err := renderHTML(d)
	if err != nil {
		return err
	}
	opts.Resources = shots
	if err := b.PrintPDFTo(ctx, w, html, opts); err != nil {
		return fmt.Errorf("casefile: pdf: %w", err)
	}
	return nil
}

// firstPrinting prints html into a temporary file and reads the page of every link target.
func firstPrinting(ctx context.Context, b *browser.Browser, html string, opts browser.PDFOptions) (map[string]int, error) {
	tmp, err := os.CreateTemp("", "pilmon-pdf-*.pdf")
	if err != nil {
		return nil, fmt.Errorf("casefile: pdf: %w", err)
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if err := b.PrintPDFTo(ctx, bw, html, opts); err != nil {
		return nil, fmt.Errorf("casefile: pdf: %w", err)
	}
	if err := bw.Flush(); err != nil {
		return nil, fmt.Errorf("casefile: pdf: %w", err)
	}
	if _, err := tmp.Seek(0, io.SeekStart); err != nil {
		return nil, fmt.Errorf("casefile: pdf: %w", err)
	}
	pages, err := destPages(tmp)
	if err != nil {
		return map[string]int{}, nil
	}
	return pages, nil
}

// writeReports prints the report and writes each PDF into the bundle as soon as it is printed, so
// that only one is ever in memory. A small export is one report.pdf. A larger one is printed in
// volumes report-NN.pdf: the first holds the cover, summary, history, verification and cited
// provisions, then come the findings volumeSize at a time and the evidence list
// evidenceVolumeSize artifacts at a time.
func (j *job) writeReports(ctx context.Context, zw *zip.Writer, b *browser.Browser, rep *reportData) error {
	type volume struct {
		main            bool
		findings        []findingView
		custody         []custodyGroup
		firstNo, lastNo int
		content         string
	}
	var vols []volume
	if len(rep.All) <= volumeSize && len(rep.Custody) <= evidenceVolumeSize {
		vols = []volume{{main: true, findings: rep.All, custody: rep.Custody, firstNo: 1, lastNo: len(rep.All)}}
	} else {
		vols = append(vols, volume{main: true, content: rep.L.VolMain})
		for lo := 0; lo < len(rep.All); lo += volumeSize {
			hi := min(len(rep.All), lo+volumeSize)
			vols = append(vols, volume{findings: rep.All[lo:hi], firstNo: lo + 1, lastNo: hi,
				content: fmt.Sprintf(rep.L.VolFindings, lo+1, hi)})
		}
		for lo := 0; lo < len(rep.Custody); lo += evidenceVolumeSize {
			hi := min(len(rep.Custody), lo+evidenceVolumeSize)
			vols = append(vols, volume{custody: rep.Custody[lo:hi], content: fmt.Sprintf(rep.L.VolEvidence, lo+1, hi)})
		}
	}
	for i, v := range vols {
		vd := *rep
		vd.Findings, vd.Custody, vd.Main, vd.FirstNo, vd.LastNo = v.findings, v.custody, v.main, v.firstNo, v.lastNo
		vd.Volume, vd.Volumes = i+1, len(vols)
		name := ReportName
		if len(vols) > 1 {
			name = fmt.Sprintf("report-%02d.pdf", i+1)
			vd.VolumeLabel = fmt.Sprintf(rep.L.VolumeFmt, i+1, len(vols), v.content)
		}
		// Chromium's PDF stream goes straight into the zip member (and its digests).
		if err := j.member(zw, name, RoleReport, "application/pdf", zip.Deflate, func(w io.Writer) error {
			return renderPDF(ctx, b, &vd, j.reportShots(shotsShown(vd.Findings)), w)
		}); err != nil {
			return fmt.Errorf("%s: %w", name, err)
		}
	}
	return nil
}

// Tiers in the report: what the record alone establishes (认定事实) and what needs confirmation
// (待核实线索); records from before tiers are shown as not graded.
var tierLabels = map[string]rules.Text{
	rules.TierFinding: {ZH: "认定事实", EN: "Established finding"},
	rules.TierLead:    {ZH: "待核实线索", EN: "Lead to verify"},
}

var tierHeadings = map[string]rules.Text{
	rules.TierFinding: {ZH: "（一）认定事实：记录本身即可证明标题所述事实", EN: "3.1 Established findings: the record alone shows what the title states"},
	rules.TierLead:    {ZH: "（二）待核实线索：需在测试机上或通过阅读核实", EN: "3.2 Leads: to verify on a test phone or by reading"},
}

var gradeLabels = map[string]rules.Text{
	rules.GradeObserved: {ZH: "运行时观察", EN: "observed at run time"},
	rules.GradeDeclared: {ZH: "运营者自身声明", EN: "the operator's own declaration"},
	rules.GradeStatic:   {ZH: "代码静态分析", EN: "static code analysis"},
	rules.GradeInferred: {ZH: "推断", EN: "inferred"},
}

func tierLabel(t string) rules.Text {
	if l, ok := tierLabels[t]; ok {
		return l
	}
	return rules.Text{ZH: "未分级", EN: "not graded"}
}

func tierHeading(t string) rules.Text {
	if l, ok := tierHeadings[t]; ok {
		return l
	}
	return rules.Text{ZH: "（三）未分级记录", EN: "3.3 Records without a tier"}
}

func gradeLabel(g string) rules.Text {
	if l, ok := gradeLabels[g]; ok {
		return l
	}
	return rules.Text{ZH: "—", EN: "—"}
}
