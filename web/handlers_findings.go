package web

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io"
	"maps"
	"net/http"
	"net/url"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v5"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/store"
)

type countRow struct {
	Key   string
	Label string
	N     int64
}

type chartBar struct {
	X, Y, W, H float64
	N          int64
	Day        string
	Label      bool
	End        bool    // the last label is anchored at its end so it stays inside the chart
	TX         float64 // label position
}

type chart struct {
	W, H  int
	Bars  []chartBar
	Max   int64
	Total int64
	Base  float64
}

type overviewData struct {
	Total    int64
	Indexed  int
	States   []countRow
	Sevs     []countRow
	Rules    []countRow
	Targets  []countRow
	Chart    chart
	DeadJobs int
	// Attention are the cases whose pending deadline is due soon or overdue.
	Attention []caseRow
	// CaseStates count the cases by the step of the case path they are at (States count the
	// findings by their own triage state: a finding in a case keeps its own).
	CaseStates []countRow
	Cases      int64
}

const chartDays = 30

func (s *Server) overview(c *echo.Context) error {
	ctx := c.Request().Context()
	l := s.lang(c)
	cn, err := s.st.Counts(ctx)
	if err != nil {
		return err
	}
	d := overviewData{Total: cn.Total, Indexed: s.idx.Size()}
	for _, st := range findings.AllStates {
		d.States = append(d.States, countRow{string(st), l.State(st), cn.ByState[st]})
	}
	for _, sv := range findings.Severities {
		d.Sevs = append(d.Sevs, countRow{string(sv), l.Severity(sv), cn.BySeverity[sv]})
	}
	d.Rules = topRows(cn.ByRule, 15, func(id string) string {
		if v, ok := s.cat.Violation(id); ok {
			return l.Text(v.Title)
		}
		return id
	})
	d.Targets = topRows(cn.ByTarget, 15, func(id string) string { return id })
	if s.cfg.Targets != nil {
		names := map[string]string{}
		if ts, err := s.targets(ctx); err == nil {
			for _, t := range ts {
				names[t.ID] = t.Name
			}
		}
		for i := range d.Targets {
			if n := names[d.Targets[i].Key]; n != "" {
				d.Targets[i].Label = n
			}
		}
	}
	d.Chart, err = s.firstSeenChart(ctx, time.Now())
	if err != nil {
		return err
	}
	if n, err := s.st.DeadJobsLength(ctx); err == nil {
		d.DeadJobs = int(n)
	}
	all, err := s.st.Cases(ctx)
	if err != nil && len(all) == 0 {
		return err
	}
	d.Attention, d.CaseStates, d.Cases = s.attentionRows(l, all), caseStateRows(l, all), int64(len(all))
	return s.render(c, http.StatusOK, "overview", s.newPage(c, "overview", "title.overview", d))
}

func topRows(m map[string]int64, n int, label func(string) string) []countRow {
	rows := make([]countRow, 0, len(m))
	for k, v := range m {
		rows = append(rows, countRow{Key: k, N: v})
	}
	sort.Slice(rows, func(i, j int) bool {
		if rows[i].N != rows[j].N {
			return rows[i].N > rows[j].N
		}
		return rows[i].Key < rows[j].Key
	})
	if len(rows) > n {
		rows = rows[:n]
	}
	for i := range rows {
		rows[i].Label = label(rows[i].Key)
	}
	return rows
}

// firstSeenChart counts findings first seen on each of the last 30 days (Asia/Shanghai) and lays
// them out as SVG bars; the template only draws rectangles.
func (s *Server) firstSeenChart(ctx context.Context, now time.Time) (chart, error) {
	const w, h, pad = 720, 180, 24
	ch := chart{W: w, H: h + pad, Base: h}
	y, m, dd := now.In(Shanghai).Date()
	start := time.Date(y, m, dd, 0, 0, 0, 0, Shanghai).AddDate(0, 0, -(chartDays - 1))
	bounds := make([]int64, chartDays+1)
	for i := range bounds {
		bounds[i] = start.AddDate(0, 0, i).UnixMilli()
	}
	if err := s.idx.EnsureFresh(ctx); err != nil {
		return ch, err
	}
	counts := s.idx.Snapshot().CountFirstSeen(bounds)
	for _, n := range counts {
		ch.Max = max(ch.Max, n)
		ch.Total += n
	}
	bw := float64(w) / chartDays
	for i, n := range counts {
		bh := 0.0
		if ch.Max > 0 {
			bh = float64(n) / float64(ch.Max) * (h - 10)
		}
		b := chartBar{X: float64(i)*bw + 1, Y: h - bh, W: bw - 2, H: bh, N: n,
			Day: start.AddDate(0, 0, i).Format("01-02"), Label: i%5 == 0 || i == chartDays-1}
		b.TX, b.End = b.X, i == chartDays-1
		if b.End {
			b.TX = b.X + b.W
		}
		if i == chartDays-2 || i == chartDays-3 {
			b.Label = false
		}
		ch.Bars = append(ch.Bars, b)
	}
	return ch, nil
}

type listData struct {
	F      Filter
	R      listResult
	Opts   optionLists
	States []findings.State
	Sevs   []rules.Severity
	Titles map[string]rules.Text
	// LeadTitles are the titles shown for leads, where a rule has one
	LeadTitles map[string]rules.Text
	Moves      []findings.State // bulk transitions the user may choose
	Err        string
	Lang       *Lang
	// Describe puts a subject in words (findings.Describe with the catalogue).
	Describe func(string) rules.Text
	// From the page, for Content.
	CSRF, Path string
	CanExport  bool
	CanCases   bool // the bulk form offers "open a case from the selected"
}

func (s *Server) findingsList(c *echo.Context) error {
	ctx := c.Request().Context()
	f := parseFilter(c)
	r, err := s.list(ctx, s.lang(c), f)
	if err != nil {
		return err
	}
	d := listData{F: f, R: r, Opts: s.filterOptions(ctx, s.lang(c)), States: findings.AllStates, Sevs: findings.Severities,
		Titles: map[string]rules.Text{}, LeadTitles: map[string]rules.Text{}, Lang: s.lang(c),
		Describe: func(subject string) rules.Text { return findings.Describe(s.cat, subject) }}
	for _, it := range r.Items {
		if v, ok := s.cat.Violation(it.RuleID); ok {
			d.Titles[it.RuleID] = v.Title
			d.LeadTitles[it.RuleID] = v.TitleFor(rules.TierLead)
		}
	}
	pr := current(c)
	if can(pr.user.Role, PermTriage) {
		seen := map[findings.State]bool{}
		for _, from := range findings.AllStates {
			for _, to := range allowedMoves(pr.user.Role, from) {
				if !seen[to] {
					seen[to] = true
					d.Moves = append(d.Moves, to)
				}
			}
		}
		slices.SortFunc(d.Moves, func(a, b findings.State) int { return stateIndex(a) - stateIndex(b) })
	}
	p := s.newPage(c, "findings", "title.findings", nil)
	if m := bulkOutcome(c, p.L); m != "" {
		p.Flash = m
	}
	d.CSRF, d.Path, d.CanExport, d.CanCases = p.CSRF, p.Path, p.Can(string(PermExport)), p.Can(string(PermCases))
	p.D = d
	return s.renderContent(c, http.StatusOK, "findings", p, d.writeContent)
}

// The filter form's long option lists, pre-escaped (see renderOptions).
func (d listData) RuleOptions() template.HTML   { return d.Opts.render(0, d.F.Rule) }
func (d listData) BasisOptions() template.HTML  { return d.Opts.render(1, d.F.Basis) }
func (d listData) TargetOptions() template.HTML { return d.Opts.render(2, d.F.Target) }
func (d listData) CategoryOptions() template.HTML {
	return d.Opts.render(3, d.F.Category)
}
func (d listData) SDKOptions() template.HTML { return d.Opts.render(4, d.F.SDK) }

func stateIndex(s findings.State) int { return slices.Index(findings.AllStates, s) }

// docStates are the transitions that issue a document (findings.Transition requires its number
// and date for them).
var docStates = map[findings.State]bool{
	findings.StateRecommendationIssued:  true,
	findings.StateAnnouncementPublished: true,
	findings.StateSuitFiled:             true,
}

type citationView struct {
	Citation rules.Citation
	// Label is the citation as people read it (rules.Catalogue.CiteLabel), in both languages.
	Label      rules.Text
	Instrument rules.Text
	DocNo      string
	Article    rules.Article
	Found      bool
}

type evidenceView struct {
	Hash      string
	Record    evidence.Record
	Err       string
	IsImage   bool
	IsHTML    bool
	IsHAR     bool
	MediaType string
	// Text is shown inline: a session timeline pilmon derived (never a captured artifact, which
	// comes from the investigated party).
	Text string
	// Name is the name the file had on the analyst's computer, for an upload.
	Name string
	// Linked is set on a screenshot the finding does not cite but that the same capture took
	// (same URL, same scan): the consent banner before and after the click, a full-page policy.
	Linked bool
}

// maxInlineText bounds the text shown inline on a finding's page.
const maxInlineText = 256 << 10

type move struct {
	To      findings.State
	NeedDoc bool
	// A dismissal asks for the reason, and for a high or critical finding the confirmation.
	NeedReason, NeedConfirm bool
}

type findingData struct {
	F         findings.Finding
	Rule      rules.Violation
	RuleFound bool
	Basis     []citationView
	Evidence  []evidenceView
	History   []findings.Transition
	Notes     []store.Note
	Moves     []move
	Reasons   []string // dismissal reasons (findings.DismissReasons)
	Target    string   // target name when the registry knows it
	Operator  string
	Category  string
}

func (s *Server) findingPage(c *echo.Context) error {
	ctx := c.Request().Context()
	fp := c.Param("fp")
	f, err := s.st.Get(ctx, fp)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return echo.ErrNotFound
		}
		return err
	}
	d := findingData{F: f, Reasons: findings.DismissReasons}
	d.Rule, d.RuleFound = s.cat.Violation(f.RuleID)
	basis := f.LegalBasis
	if len(basis) == 0 && d.RuleFound {
		basis = d.Rule.LegalBasis
	}
	for _, cit := range basis {
		cv := citationView{Citation: cit, Label: rules.Text{ZH: s.cat.CiteLabel(cit, "zh"), EN: s.cat.CiteLabel(cit, "en")}}
		if in, ok := s.cat.Instrument(cit.Instrument); ok {
			cv.Instrument, cv.DocNo = in.Title, in.DocNo
		}
		cv.Article, cv.Found = s.cat.Article(cit)
		d.Basis = append(d.Basis, cv)
	}
	refs := slices.Clone(f.EvidenceRefs)
	for _, o := range f.Observations {
		for _, r := range o.EvidenceRefs {
			if !slices.Contains(refs, r) {
				refs = append(refs, r)
			}
		}
	}
	for _, h := range refs {
		d.Evidence = append(d.Evidence, s.evidenceView(h))
	}
	d.Evidence = append(d.Evidence, s.captureScreenshots(ctx, f.LastScanID, d.Evidence)...)
	if d.History, err = s.st.History(ctx, fp); err != nil {
		return err
	}
	if d.Notes, err = s.st.Notes(ctx, fp); err != nil {
		return err
	}
	for _, to := range allowedMoves(current(c).user.Role, f.State) {
		d.Moves = append(d.Moves, move{To: to, NeedDoc: docStates[to], NeedReason: to == findings.StateDismissed,
			NeedConfirm: to == findings.StateDismissed && findings.SeverityRank(f.Severity) >= highRank})
	}
	if s.cfg.Targets != nil {
		if t, err := s.cfg.Targets.Get(ctx, f.TargetID); err == nil {
			d.Target, d.Operator, d.Category = t.Name, t.Operator, t.Category
		}
	}
	return s.render(c, http.StatusOK, "finding", s.newPage(c, "findings", "title.finding", d))
}

func (s *Server) evidenceView(h string) evidenceView {
	ev := evidenceView{Hash: h}
	if evidence.CheckHash(h) != nil {
		ev.Err = "error.badhash"
		return ev
	}
	rec, err := s.ev.Stat(h)
	if err != nil {
		if errors.Is(err, evidence.ErrNotFound) {
			ev.Err = "evidence.missing"
		} else {
			ev.Err = "evidence.tampered"
		}
		return ev
	}
	ev.Record = rec
	ev.MediaType = rec.First().MediaType
	ev.Name = uploadName(rec)
	ev.IsImage = isImageType(ev.MediaType)
	ev.IsHTML = isHTMLType(ev.MediaType)
	ev.IsHAR = isHAR(rec)
	if rec.First().Method == evidence.MethodSessionTimeline && strings.HasPrefix(ev.MediaType, "text/plain") && rec.Ref.Size <= maxInlineText {
		if rc, _, err := s.ev.Get(h); err == nil {
			b, err := io.ReadAll(io.LimitReader(rc, maxInlineText))
			rc.Close()
			if err == nil && utf8.Valid(b) {
				ev.Text = string(b)
			}
		}
	}
	return ev
}

// uploadName is the original file name of an analyst's upload (putUpload ends its source with
// ": " and the cleaned name; what comes before holds no ": "), or "".
func uploadName(rec evidence.Record) string {
	for _, c := range rec.Captures {
		if c.Method == methodUpload {
			if _, name, ok := strings.Cut(c.Source, ": "); ok {
				return name
			}
		}
	}
	return ""
}

// maxScanArtifacts bounds how many of a scan's artifacts are looked at for screenshots.
const maxScanArtifacts = 2000

// captureScreenshots finds the screenshots Chromium took during the captures a finding's evidence
// came from: artifacts of the finding's last scan that are images captured by the browser from
// the same URL as one of the finding's browser-captured artifacts. The finding's record does not
// cite them (its observations were read from the page or the HAR), so they are listed as linked.
func (s *Server) captureScreenshots(ctx context.Context, scanID string, cited []evidenceView) []evidenceView {
	sources := map[string]bool{}
	have := map[string]bool{}
	for _, ev := range cited {
		have[ev.Hash] = true
		for _, c := range ev.Record.Captures {
			if c.Method == "browser_capture" && c.Source != "" {
				sources[c.Source] = true
			}
		}
	}
	if len(sources) == 0 || scanID == "" || strings.HasPrefix(scanID, store.ManualScanPrefix) {
		return nil
	}
	sc, err := s.st.GetScan(ctx, scanID)
	if err != nil {
		return nil
	}
	var out []evidenceView
	for _, h := range sc.Evidence[:min(len(sc.Evidence), maxScanArtifacts)] {
		if have[h] || evidence.CheckHash(h) != nil {
			continue
		}
		rec, err := s.ev.Stat(h)
		if err != nil || !isImageType(rec.First().MediaType) {
			continue
		}
		for _, c := range rec.Captures {
			if (c.Method == "browser_capture" || c.Method == "browser_screenshot") && sources[c.Source] {
				ev := s.evidenceView(h)
				ev.Linked = true
				out = append(out, ev)
				break
			}
		}
	}
	return out
}

func isImageType(mt string) bool {
	switch strings.ToLower(strings.TrimSpace(strings.Split(mt, ";")[0])) {
	case "image/png", "image/jpeg", "image/gif", "image/webp":
		return true
	}
	return false
}

func isHTMLType(mt string) bool {
	m := strings.ToLower(strings.TrimSpace(strings.Split(mt, ";")[0]))
	return m == "text/html" || m == "application/xhtml+xml"
}

// transitionRequest is a move as a form or the API asks for it.
type transitionRequest struct {
	To findings.State
	In findings.TransitionInput
	// ConfirmHigh is the user's confirmation that a high or critical finding is to be dismissed.
	ConfirmHigh bool
}

// readTransition reads a move from a form: the target state, the dismissal reason, the note and
// the document.
func readTransition(c *echo.Context) transitionRequest {
	return transitionRequest{To: findings.State(c.FormValue("to")), ConfirmHigh: c.FormValue("confirm_high") == "1",
		In: findings.TransitionInput{Reason: c.FormValue("reason"), Note: strings.TrimSpace(c.FormValue("note")),
			DocumentNo: strings.TrimSpace(c.FormValue("document_no")), DocumentDate: strings.TrimSpace(c.FormValue("document_date"))}}
}

// highRank is the severity rank from which a dismissal must be confirmed.
var highRank = findings.SeverityRank("high")

// applyTransition checks the role's right to this move and makes it. A dismissal needs one of
// the structured reasons (the note says what "other" is) and, for a high or critical finding, the
// user's confirmation; the reason is recorded in the history entry.
func (s *Server) applyTransition(c *echo.Context, fp string, req transitionRequest) (findings.Transition, error) {
	ctx := c.Request().Context()
	pr := current(c)
	to, in := req.To, req.In
	if !to.Valid() {
		return findings.Transition{}, uerr(http.StatusBadRequest, "error.badstate")
	}
	if to != findings.StateDismissed {
		in.Reason = ""
	}
	f, err := s.st.Get(ctx, fp)
	if err != nil {
		if errors.Is(err, store.ErrNotFound) {
			return findings.Transition{}, echo.ErrNotFound
		}
		return findings.Transition{}, err
	}
	if !canTransition(pr.user.Role, f.State, to) {
		s.audit(c, pr.actor(), "denied", "transition "+fp, map[string]string{"from": string(f.State), "to": string(to)})
		return findings.Transition{}, uerr(http.StatusForbidden, "error.role.transition")
	}
	if to == findings.StateDismissed {
		if !slices.Contains(findings.DismissReasons, in.Reason) {
			return findings.Transition{}, uerr(http.StatusBadRequest, "dismiss.reason.required")
		}
		if in.Reason == findings.ReasonOther && in.Note == "" {
			return findings.Transition{}, uerr(http.StatusBadRequest, "dismiss.reason.other")
		}
		if findings.SeverityRank(f.Severity) >= highRank && !req.ConfirmHigh {
			return findings.Transition{}, uerr(http.StatusConflict, "dismiss.confirm.high")
		}
	}
	tr, err := s.st.Transition(ctx, fp, to, pr.actor(), in)
	if err != nil {
		var ill *findings.IllegalTransitionError
		switch {
		case errors.As(err, &ill):
			return tr, &userError{code: http.StatusConflict, key: "error.illegal", err: err}
		case errors.Is(err, store.ErrConflict):
			return tr, uerr(http.StatusConflict, "error.conflict")
		case errors.Is(err, store.ErrNotFound):
			return tr, echo.ErrNotFound
		}
		return tr, &userError{code: http.StatusBadRequest, key: "error.transition", err: err}
	}
	detail := map[string]string{"from": string(tr.From), "to": string(tr.To)}
	if tr.DocumentNo != "" {
		detail["document_no"], detail["document_date"] = tr.DocumentNo, tr.DocumentDate
	}
	if tr.Reason != "" {
		detail["reason"] = tr.Reason
	}
	if tr.Note != "" {
		detail["note"] = tr.Note
	}
	s.audit(c, pr.actor(), "transition", fp, detail)
	return tr, nil
}

func (s *Server) transition(c *echo.Context) error {
	fp := c.Param("fp")
	if _, err := s.applyTransition(c, fp, readTransition(c)); err != nil {
		return err
	}
	return c.Redirect(http.StatusSeeOther, "/findings/"+fp+"?flash=moved")
}

const (
	maxBulk = 500
	// maxBulkWhy bounds the failure reasons a bulk outcome names.
	maxBulkWhy = 6
)

// bulkTransition moves every selected finding and reports the outcome on the list: how many
// moved, how many did not, and why (by reason, most frequent first).
func (s *Server) bulkTransition(c *echo.Context) error {
	form, err := c.FormValues()
	if err != nil {
		return uerr(http.StatusBadRequest, "error.400")
	}
	fps := form["fp"]
	if len(fps) == 0 {
		return uerr(http.StatusBadRequest, "bulk.none")
	}
	if len(fps) > maxBulk {
		return uerr(http.StatusBadRequest, "bulk.toomany", maxBulk)
	}
	if c.FormValue("action") == "case" {
		// Opening a case is not a transition: the selected findings go to the case form.
		if !can(current(c).user.Role, PermCases) {
			return uerr(http.StatusForbidden, "error.403")
		}
		return c.Redirect(http.StatusSeeOther, newCaseURL(fps))
	}
	req := readTransition(c)
	if req.To == findings.StateDismissed {
		if !slices.Contains(findings.DismissReasons, req.In.Reason) {
			return uerr(http.StatusBadRequest, "dismiss.reason.required")
		}
		if req.In.Reason == findings.ReasonOther && req.In.Note == "" {
			return uerr(http.StatusBadRequest, "dismiss.reason.other")
		}
	}
	ok := 0
	why := map[string]int{}
	for _, fp := range fps {
		if !fpRE.MatchString(fp) {
			why["error.badparam"]++
			continue
		}
		if _, err := s.applyTransition(c, fp, req); err != nil {
			why[failureKey(err)]++
			continue
		}
		ok++
	}
	back := safeNext(c.FormValue("back"))
	if !strings.HasPrefix(back, "/findings") {
		back = "/findings"
	}
	u, _ := url.Parse(back)
	q := u.Query()
	for _, k := range []string{"bulk_ok", "bulk_failed", "bulk_why", "flash"} {
		q.Del(k)
	}
	q.Set("bulk_ok", strconv.Itoa(ok))
	q.Set("bulk_failed", strconv.Itoa(len(fps)-ok))
	if w := encodeWhy(why); w != "" {
		q.Set("bulk_why", w)
	}
	u.RawQuery = q.Encode()
	return c.Redirect(http.StatusSeeOther, u.String())
}

// failureKey is the catalogue key that says why one move failed.
func failureKey(err error) string {
	var ue *userError
	var he *echo.HTTPError
	switch {
	case errors.As(err, &ue):
		return ue.key
	case errors.As(err, &he) && he.Code == http.StatusNotFound:
		return "error.404"
	}
	return "error.500"
}

// encodeWhy writes failure counts as "key:n,key:n", most frequent first.
func encodeWhy(why map[string]int) string {
	keys := slices.Collect(maps.Keys(why))
	slices.SortFunc(keys, func(a, b string) int {
		if why[a] != why[b] {
			return why[b] - why[a]
		}
		return strings.Compare(a, b)
	})
	var parts []string
	for _, k := range keys[:min(len(keys), maxBulkWhy)] {
		parts = append(parts, k+":"+strconv.Itoa(why[k]))
	}
	return strings.Join(parts, ",")
}

// bulkOutcome is the message a bulk action leaves on the list (成功 N 条，失败 M 条：reasons), read
// back from the query; only catalogue keys are shown, so a crafted link cannot put words there.
func bulkOutcome(c *echo.Context, l *Lang) string {
	okS, failS := c.QueryParam("bulk_ok"), c.QueryParam("bulk_failed")
	if okS == "" && failS == "" {
		return ""
	}
	ok, err1 := strconv.Atoi(okS)
	failed, err2 := strconv.Atoi(failS)
	if err1 != nil || err2 != nil || ok < 0 || failed < 0 || ok > maxBulk || failed > maxBulk {
		return ""
	}
	msg := l.T("bulk.outcome", ok, failed)
	var reasons []string
	for i, part := range strings.Split(c.QueryParam("bulk_why"), ",") {
		k, n, found := strings.Cut(part, ":")
		cnt, err := strconv.Atoi(n)
		if i >= maxBulkWhy || !found || err != nil || cnt <= 0 || cnt > maxBulk || !l.Has(k) || !bulkWhyKey(k) {
			continue
		}
		reasons = append(reasons, l.T("bulk.why", stripArgs(l.T(k)), cnt))
	}
	if len(reasons) > 0 && failed > 0 {
		msg += l.T("bulk.because") + strings.Join(reasons, l.T("bulk.sep"))
	}
	return msg
}

// bulkWhyKey limits a shown reason to error keys (never flash or page texts).
func bulkWhyKey(k string) bool {
	return strings.HasPrefix(k, "error.") || strings.HasPrefix(k, "dismiss.") || strings.HasPrefix(k, "bulk.")
}

// stripArgs drops a message's format verbs and closing stop (a reason shown in a list).
func stripArgs(s string) string {
	for _, v := range []string{"%d", "%s", "%v"} {
		s = strings.ReplaceAll(s, v, "")
	}
	return strings.TrimRight(s, "。. ")
}

func (s *Server) addNote(c *echo.Context) error {
	ctx := c.Request().Context()
	fp := c.Param("fp")
	if ok, err := s.st.Exists(ctx, fp); err != nil || !ok {
		return echo.ErrNotFound
	}
	pr := current(c)
	if err := s.appendNote(ctx, fp, store.Note{At: time.Now().UTC(), Author: pr.actor(), Text: c.FormValue("text")}); err != nil {
		return err
	}
	s.audit(c, pr.actor(), "note", fp, nil)
	return c.Redirect(http.StatusSeeOther, "/findings/"+fp+"?flash=noted#notes")
}

// exportFindings hands the selected findings to the case-file exporter when one is configured.
func (s *Server) exportFindings(c *echo.Context) error {
	if s.cfg.Export == nil {
		return uerr(http.StatusServiceUnavailable, "export.unavailable")
	}
	form, err := c.FormValues()
	if err != nil {
		return uerr(http.StatusBadRequest, "error.400")
	}
	var fps []string
	for _, fp := range form["fp"] {
		if fpRE.MatchString(fp) {
			fps = append(fps, fp)
		}
	}
	target := c.FormValue("target")
	if target != "" && !idRE.MatchString(target) {
		return uerr(http.StatusBadRequest, "error.badparam")
	}
	if len(fps) == 0 && target == "" {
		return uerr(http.StatusBadRequest, "bulk.none")
	}
	pr := current(c)
	s.audit(c, pr.actor(), "export", fmt.Sprintf("target=%s findings=%d", target, len(fps)), nil)
	name := "pilmon-casefile-" + time.Now().In(Shanghai).Format("20060102-150405") + ".zip"
	if target != "" {
		name = "pilmon-casefile-" + target + "-" + time.Now().In(Shanghai).Format("20060102-150405") + ".zip"
	}
	h := c.Response().Header()
	h.Set("Content-Type", "application/zip")
	h.Set("Content-Disposition", "attachment; filename=\"casefile.zip\"; filename*=UTF-8''"+url.PathEscape(name))
	h.Set("Cache-Control", "no-store")
	// The bundle streams; an error after the first byte can only abort the connection, so that the
	// browser reports a failed download instead of saving a truncated zip.
	w := &lazyWriter{c: c}
	if err := s.cfg.Export.Export(c.Request().Context(), w, target, fps, pr.user.Name); err != nil {
		if !w.started {
			h.Del("Content-Disposition")
			return &userError{code: http.StatusBadRequest, key: "export.failed", err: err}
		}
		s.log.Error("export failed mid-stream", "err", err)
		panic(http.ErrAbortHandler)
	}
	if !w.started {
		c.Response().WriteHeader(http.StatusOK)
	}
	return nil
}

// lazyWriter sends the status line with the first byte.
type lazyWriter struct {
	c       *echo.Context
	started bool
}

func (w *lazyWriter) Write(p []byte) (int, error) {
	if !w.started {
		w.started = true
		w.c.Response().WriteHeader(http.StatusOK)
	}
	return w.c.Response().Write(p)
}
