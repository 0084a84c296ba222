package web

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v5"

	"pilmon/cases"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/scanner"
	"pilmon/store"
)

// The case workspace: the list of cases with their deadlines, a case's page (facts, members,
// path, document register, deadlines, 整改复查), opening a case from findings or a target, and
// the JSON API over the same operations. The case model and its rules are package cases; this
// file only reads forms, calls it through the store and shows the result.

// pick returns the text of a (zh, en) pair in l's language.
func pick(l *Lang, zh, en string) string {
	if l.Code == LangEN {
		return en
	}
	return zh
}

func (s *Server) now() time.Time { return time.Now() }

type deadlineView struct {
	cases.Deadline
	Label, StatusLabel string
	DaysLeft           int
	Class              string // the colour: a status, or "superseded"
}

func (s *Server) deadlineViews(l *Lang, c cases.Case, now time.Time) []deadlineView {
	var out []deadlineView
	for _, d := range c.Deadlines(s.cfg.Deadlines, now) {
		zh, en := d.Kind.Label()
		v := deadlineView{Deadline: d, Label: pick(l, zh, en), StatusLabel: l.T("dl." + string(d.Status)), DaysLeft: d.DaysLeft(now), Class: string(d.Status)}
		if !d.Pending && d.Status != cases.StatusMet {
			// The case moved on without the awaited event (no reply before 未整改): the date
			// still says where the period stands, but nobody waits for it any more.
			v.StatusLabel, v.Class = l.T("dl.superseded", l.T("dl."+string(d.Status))), "superseded"
		}
		out = append(out, v)
	}
	return out
}

type caseRow struct {
	C                    cases.Case
	TypeLabel, StateText string
	Next                 *deadlineView // the most urgent pending deadline
	Worst                cases.DeadlineStatus
}

func (s *Server) caseRow(l *Lang, c cases.Case, now time.Time) caseRow {
	tz, te := c.Type.Label()
	sz, se := c.State.Label()
	r := caseRow{C: c, TypeLabel: pick(l, tz, te), StateText: pick(l, sz, se)}
	ds := s.deadlineViews(l, c, now)
	var raw []cases.Deadline
	for i := range ds {
		raw = append(raw, ds[i].Deadline)
		if ds[i].Pending && r.Next == nil {
			r.Next = &ds[i]
		}
	}
	r.Worst = cases.WorstStatus(raw)
	return r
}

// deadlineRank orders the list by urgency: overdue, due soon, open, then cases with nothing
// pending.
var deadlineRank = map[cases.DeadlineStatus]int{cases.StatusOverdue: 0, cases.StatusDueSoon: 1, cases.StatusOpen: 2, cases.StatusMet: 3, "": 4}

type casesData struct {
	Rows     []caseRow
	Deadline string // filter: a status, "none", or ""
	State    string
	Sort     string
	Statuses []string
	Sorts    []string
	States   []countRow
}

// casesPage lists cases, filtered by deadline status and step, sorted by deadline (default),
// creation or case number.
func (s *Server) casesPage(c *echo.Context) error {
	ctx := c.Request().Context()
	l := s.lang(c)
	all, err := s.st.Cases(ctx)
	if err != nil && len(all) == 0 {
		return err
	}
	now := s.now()
	d := casesData{Deadline: c.QueryParam("deadline"), State: c.QueryParam("state"), Sort: c.QueryParam("sort"),
		Statuses: []string{string(cases.StatusOverdue), string(cases.StatusDueSoon), string(cases.StatusOpen), string(cases.StatusMet), "none"},
		Sorts:    []string{"deadline", "created", "case_no"}}
	for _, st := range cases.AllStates {
		zh, en := st.Label()
		d.States = append(d.States, countRow{Key: string(st), Label: pick(l, zh, en)})
	}
	for _, cs := range all {
		r := s.caseRow(l, cs, now)
		if d.State != "" && string(cs.State) != d.State {
			continue
		}
		if d.Deadline == "none" && r.Worst != "" || d.Deadline != "" && d.Deadline != "none" && string(r.Worst) != d.Deadline {
			continue
		}
		d.Rows = append(d.Rows, r)
	}
	switch d.Sort {
	case "created":
		// Cases() is newest first already.
	case "case_no":
		sort.SliceStable(d.Rows, func(i, j int) bool { return d.Rows[i].C.CaseNo < d.Rows[j].C.CaseNo })
	default:
		d.Sort = "deadline"
		sort.SliceStable(d.Rows, func(i, j int) bool {
			a, b := d.Rows[i], d.Rows[j]
			if deadlineRank[a.Worst] != deadlineRank[b.Worst] {
				return deadlineRank[a.Worst] < deadlineRank[b.Worst]
			}
			if a.Next != nil && b.Next != nil && a.Next.Due != b.Next.Due {
				return a.Next.Due < b.Next.Due
			}
			return false
		})
	}
	return s.render(c, http.StatusOK, "cases", s.newPage(c, "cases", "title.cases", d))
}

type newCaseData struct {
	F      cases.Fields
	FPs    []memberView
	Types  []countRow
	Target string
	Error  string
}

// newCasePage is the form that opens a case, prefilled from selected findings (?fp=…) or a
// target (?target=…).
func (s *Server) newCasePage(c *echo.Context) error {
	ctx := c.Request().Context()
	q := c.QueryParams()
	f := cases.Fields{Type: cases.Administrative, Handler: current(c).user.Name, TargetID: q.Get("target")}
	fps := q["fp"]
	if len(fps) > maxBulk {
		return uerr(http.StatusBadRequest, "bulk.toomany", maxBulk)
	}
	return s.renderNewCase(c, ctx, f, fps, "", http.StatusOK)
}

func (s *Server) renderNewCase(c *echo.Context, ctx context.Context, f cases.Fields, fps []string, msg string, code int) error {
	l := s.lang(c)
	d := newCaseData{F: f, Error: msg}
	var valid []string
	for _, fp := range fps {
		if fpRE.MatchString(fp) {
			valid = append(valid, fp)
		}
	}
	fs, err := s.st.GetMany(ctx, valid)
	if err != nil {
		return err
	}
	for _, fd := range fs {
		d.FPs = append(d.FPs, memberView{Fingerprint: fd.Fingerprint, Title: l.Text(fd.Summary), Rule: fd.RuleID,
			Severity: l.Severity(fd.Severity), Sev: string(fd.Severity), State: l.State(fd.State)})
		if d.F.TargetID == "" {
			d.F.TargetID = fd.TargetID
		}
	}
	if d.F.TargetID != "" && d.F.Operator.Name == "" && s.cfg.Targets != nil {
		if t, err := s.cfg.Targets.Get(ctx, d.F.TargetID); err == nil {
			d.F.Operator.Name = t.Operator
		}
	}
	for _, t := range []cases.Type{cases.Administrative, cases.Civil} {
		zh, en := t.Label()
		d.Types = append(d.Types, countRow{Key: string(t), Label: pick(l, zh, en)})
	}
	p := s.newPage(c, "cases", "title.newcase", d)
	p.Error = msg
	return s.render(c, code, "casenew", p)
}

func formFields(get func(string) string) cases.Fields {
	n := func(k string) int64 {
		v, err := strconv.ParseInt(strings.TrimSpace(get(k)), 10, 64)
		if err != nil && strings.TrimSpace(get(k)) != "" {
			return -1 // refused by Validate, naming the field
		}
		return v
	}
	return cases.Fields{CaseNo: get("case_no"), Type: cases.Type(get("type")), Handler: get("handler"),
		Operator:   cases.Operator{Name: get("operator_name"), USCC: get("operator_uscc"), Address: get("operator_address")},
		Agency:     cases.Agency{Name: get("agency_name"), DutyBasis: get("agency_duty_basis")},
		LeadSource: get("lead_source"), Scale: cases.Scale{Users: n("users"), Downloads: n("downloads"), Source: get("scale_source")},
		TargetID: get("target")}
}

// caseCreate opens a case from the form: its facts and the findings selected.
func (s *Server) caseCreate(c *echo.Context) error {
	ctx := c.Request().Context()
	form, err := c.FormValues()
	if err != nil {
		return uerr(http.StatusBadRequest, "error.400")
	}
	f := formFields(form.Get)
	fps := form["fp"]
	cs, err := s.createCase(ctx, current(c).actor(), f, fps, form.Get("reason"))
	if err != nil {
		var ue *userError
		if errors.As(err, &ue) {
			return err
		}
		return s.renderNewCase(c, ctx, f, fps, s.lang(c).T("case.invalid")+" ("+err.Error()+")", http.StatusBadRequest)
	}
	s.audit(c, current(c).actor(), "case.create", cs.ID, map[string]string{"case_no": cs.CaseNo, "findings": strconv.Itoa(len(cs.Findings))})
	return c.Redirect(http.StatusSeeOther, "/cases/"+cs.ID+"?flash=casecreated")
}

// createCase checks the findings (they exist, none is dismissed) and stores the new case.
func (s *Server) createCase(ctx context.Context, actor string, f cases.Fields, fps []string, reason string) (cases.Case, error) {
	if len(fps) > maxBulk {
		return cases.Case{}, uerr(http.StatusBadRequest, "bulk.toomany", maxBulk)
	}
	if err := s.checkJoinable(ctx, fps...); err != nil {
		return cases.Case{}, err
	}
	if f.TargetID != "" {
		if _, _, err := s.loadTarget(ctx, f.TargetID); err != nil {
			return cases.Case{}, fmt.Errorf("target %.80q: not registered", f.TargetID)
		}
	}
	cs, evs, err := cases.New(f, fps, reason, actor, s.now())
	if err != nil {
		return cases.Case{}, err
	}
	return s.st.CreateCase(ctx, cs, evs)
}

// checkJoinable refuses findings that do not exist or were dismissed: a dismissed clue is taken
// back into review (its own history says so) before it can support a case.
func (s *Server) checkJoinable(ctx context.Context, fps ...string) error {
	for _, fp := range fps {
		if err := cases.CheckFingerprint(fp); err != nil {
			return err
		}
	}
	rs, err := s.st.ReadFindings(ctx, fps)
	if err != nil {
		return err
	}
	for i, r := range rs {
		if r.Err != nil {
			return fmt.Errorf("finding %s: %w", fps[i], r.Err)
		}
		if r.Finding.State == findings.StateDismissed {
			return fmt.Errorf("finding %s is dismissed (已排除); take it back into review first", fps[i])
		}
	}
	return nil
}

type memberView struct {
	Fingerprint, Title, Rule, Severity, Sev, State string
	Tier                                           string
	Reason, By                                     string
	JoinedAt                                       time.Time
	Check                                          *checkView
}

type checkView struct {
	cases.Check
	Label, Reason string
}

type docView struct {
	cases.Document
	StepLabel, Name string
}

type eventView struct {
	cases.Event
	KindLabel, FromLabel, ToLabel string
}

type moveView struct {
	To, Label, DocName string
	NeedNumber, Early  bool
	Closing            bool
	BaselineStep       bool
}

type caseData struct {
	Row       caseRow
	Deadlines []deadlineView
	Members   []memberView
	Docs      []docView
	History   []eventView
	Moves     []moveView
	Recheck   *recheckView
	// Early is set when a step was refused for being early: the page asks for confirmation.
	Early *earlyView
	// Policies are the target's policy versions at the baseline and now (with 整改复查).
	Policies []policyPair
	// CanExportCase is set when the configured exporter writes case files (CaseExporter).
	CanExportCase bool
}

type recheckView struct {
	Baseline, Recheck string
	RecheckAt         time.Time
	Pending           bool
	// Failed says why the re-scan failed (复查失败): the page shows it and offers to run again.
	Failed           string
	Still, Gone, Unk int
}

type earlyView struct {
	To, Label, Due, Kind string
	DaysLeft             int
	Number, Date, Note   string
	Evidence             string
}

func (s *Server) loadCase(ctx context.Context, id string) (cases.Case, error) {
	cs, err := s.st.Case(ctx, id)
	if errors.Is(err, store.ErrCaseNotFound) {
		return cases.Case{}, echo.ErrNotFound
	}
	return cs, err
}

func (s *Server) casePage(c *echo.Context) error {
	ctx := c.Request().Context()
	cs, err := s.loadCase(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	d, err := s.caseData(ctx, s.lang(c), cs, current(c))
	if err != nil {
		return err
	}
	_, d.CanExportCase = s.cfg.Export.(CaseExporter)
	return s.render(c, http.StatusOK, "case", s.newPage(c, "cases", "title.case", d))
}

func (s *Server) caseData(ctx context.Context, l *Lang, cs cases.Case, pr *principal) (caseData, error) {
	now := s.now()
	d := caseData{Row: s.caseRow(l, cs, now), Deadlines: s.deadlineViews(l, cs, now)}
	fs, err := s.st.GetMany(ctx, cs.Fingerprints())
	if err != nil {
		return d, err
	}
	byFP := map[string]findings.Finding{}
	for _, f := range fs {
		byFP[f.Fingerprint] = f
	}
	checks := map[string]cases.Check{}
	if cs.RecheckScan != "" {
		base := s.scanView(ctx, cs.BaselineScan)
		re := s.recheckScanView(ctx, cs)
		rv := &recheckView{Baseline: cs.BaselineScan, Recheck: cs.RecheckScan, RecheckAt: cs.RecheckAt, Pending: !re.Found && re.Failed == "",
			Failed: re.Failed}
		for _, ch := range cases.Compare(cs.Fingerprints(), base, re) {
			checks[ch.Fingerprint] = ch
			switch ch.Outcome {
			case cases.OutcomeStill:
				rv.Still++
			case cases.OutcomeGone:
				rv.Gone++
			case cases.OutcomeUnknown:
				rv.Unk++
			}
		}
		d.Recheck = rv
		d.Policies = s.casePolicyVersions(ctx, cs.TargetID, s.baselineTime(ctx, cs))
	}
	for _, m := range cs.Findings {
		mv := memberView{Fingerprint: m.Fingerprint, Reason: m.Reason, By: m.By, JoinedAt: m.JoinedAt, Title: m.Fingerprint}
		if f, ok := byFP[m.Fingerprint]; ok {
			mv.Title, mv.Rule, mv.Severity, mv.Sev, mv.State, mv.Tier = l.Text(f.Summary), f.RuleID, l.Severity(f.Severity), string(f.Severity), l.State(f.State), l.Tier(f.Tier)
		}
		if ch, ok := checks[m.Fingerprint]; ok {
			zh, en := ch.Outcome.Label()
			mv.Check = &checkView{Check: ch, Label: pick(l, zh, en), Reason: pick(l, ch.ReasonZH, ch.ReasonEN)}
		}
		d.Members = append(d.Members, mv)
	}
	for _, doc := range cs.Documents {
		sz, se := doc.Step.Label()
		nz, ne := cases.DocumentName(doc.Step)
		d.Docs = append(d.Docs, docView{Document: doc, StepLabel: pick(l, sz, se), Name: pick(l, nz, ne)})
	}
	h, err := s.st.CaseHistory(ctx, cs.ID)
	if err != nil {
		return d, err
	}
	for i := len(h) - 1; i >= 0; i-- {
		ev := h[i]
		fz, fe := ev.From.Label()
		tz, te := ev.To.Label()
		v := eventView{Event: ev, KindLabel: l.T("case.ev." + string(ev.Kind))}
		if ev.From != "" {
			v.FromLabel = pick(l, fz, fe)
		}
		if ev.To != "" {
			v.ToLabel = pick(l, tz, te)
		}
		d.History = append(d.History, v)
	}
	if pr != nil && can(pr.user.Role, PermCases) {
		for _, to := range cases.Next(cs.Type, cs.State) {
			zh, en := to.Label()
			nz, ne := cases.DocumentName(to)
			d.Moves = append(d.Moves, moveView{To: string(to), Label: pick(l, zh, en), DocName: pick(l, nz, ne),
				NeedNumber: cases.NeedsDocumentNumber(to), Early: to == cases.StateNotRectified || to == cases.StateSuit,
				Closing: to == cases.StateClosed})
		}
	}
	return d, nil
}

// scanView reads a scan record for the comparison; a missing one is "not found" (still running,
// or never recorded).
func (s *Server) scanView(ctx context.Context, id string) cases.ScanView {
	if id == "" {
		return cases.ScanView{}
	}
	r, err := s.st.GetScan(ctx, id)
	if err != nil {
		return cases.ScanView{ID: id}
	}
	return cases.ScanView{ID: id, Found: true, Complete: r.Complete, Fingerprints: r.Fingerprints}
}

// deadLetterSkew is how long before the 整改复查 was recorded its job's dead letter is looked
// for: the letter's time is the Redis server's clock, RecheckAt the web host's.
const deadLetterSkew = 10 * time.Minute

// recheckScanView is the 整改复查's scan for the comparison, with why it failed when it did: its
// job was dead-lettered (no record will ever come, so the page must not wait for one), or its
// record shows no source read.
func (s *Server) recheckScanView(ctx context.Context, cs cases.Case) cases.ScanView {
	id := cs.RecheckScan
	r, err := s.st.GetScan(ctx, id)
	if err != nil {
		v := cases.ScanView{ID: id}
		dead, found, derr := s.st.DeadJobFor(ctx, id, cs.RecheckAt.Add(-deadLetterSkew))
		if derr == nil && found {
			v.Failed = truncateText(dead.Error, 500)
		}
		return v
	}
	v := cases.ScanView{ID: id, Found: true, Complete: r.Complete, Fingerprints: r.Fingerprints}
	if r.Status == scanner.StatusFailed {
		var why []string
		for _, run := range r.Runs {
			for _, fe := range run.Errors {
				if len(why) < 3 {
					why = append(why, fe.Error())
				}
			}
		}
		v.Failed = truncateText(strings.Join(append([]string{"no source was read (没有来源扫描成功)"}, why...), "; "), 500)
	}
	return v
}

// truncateText cuts s to at most n bytes on a rune boundary, marking the cut.
func truncateText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}

// moveCase records a step with its document, uploaded as evidence (multipart: the CSRF token
// first, then the fields and at most one file).
func (s *Server) caseMove(c *echo.Context) error {
	ctx := c.Request().Context()
	cs, err := s.loadCase(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	pr := current(c)
	var ref *evidence.Ref
	var fileName string
	fields, err := s.readMultipart(c, func(_ map[string]string, field, name string, r io.Reader) error {
		if ref != nil {
			return uerr(http.StatusBadRequest, "upload.toomany", 1)
		}
		rf, _, err := s.putUpload(ctx, pr.user.Name, r, "case document by "+pr.user.Name+" for case "+cs.ID+": "+name, "")
		if err != nil {
			return err
		}
		if rf.Size > 0 {
			ref, fileName = &rf, name
		}
		return nil
	})
	if err != nil {
		return err
	}
	in := cases.MoveInput{Number: fields["number"], Date: fields["date"], Note: fields["note"], Reason: fields["reason"],
		Confirm: fields["confirm"] == "1"}
	if ref == nil && fields["evidence"] != "" {
		// The confirmation form carries the file uploaded with the refused first attempt.
		rec, err := s.ev.Stat(fields["evidence"])
		if err != nil {
			return uerr(http.StatusBadRequest, "error.badparam")
		}
		r := rec.Ref
		ref, fileName = &r, fields["file_name"]
	}
	if ref != nil {
		in.SHA256, in.SM3, in.FileName = ref.SHA256, ref.SM3, fileName
	}
	to := cases.State(fields["to"])
	_, err = s.moveCase(ctx, cs.ID, to, in, pr.actor())
	var early *cases.EarlyStepError
	if errors.As(err, &early) {
		l := s.lang(c)
		cur, lerr := s.loadCase(ctx, cs.ID)
		if lerr != nil {
			return lerr
		}
		d, derr := s.caseData(ctx, l, cur, pr)
		if derr != nil {
			return derr
		}
		_, d.CanExportCase = s.cfg.Export.(CaseExporter)
		zh, en := to.Label()
		kz, ke := early.Deadline.Kind.Label()
		d.Early = &earlyView{To: string(to), Label: pick(l, zh, en), Due: early.Deadline.Due, Kind: pick(l, kz, ke), DaysLeft: early.DaysLeft,
			Number: in.Number, Date: in.Date, Note: in.Note, Evidence: in.SHA256}
		p := s.newPage(c, "cases", "title.case", d)
		p.Error = l.T("case.early", pick(l, zh, en), early.DaysLeft, early.Deadline.Due)
		return s.render(c, http.StatusConflict, "case", p)
	}
	if err != nil {
		var ue *userError
		if errors.As(err, &ue) {
			return err
		}
		return &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
	}
	detail := map[string]string{"to": string(to), "number": in.Number, "date": in.Date, "sha256": in.SHA256}
	if in.Confirm {
		detail["early_reason"] = in.Reason
	}
	s.audit(c, pr.actor(), "case.move", cs.ID, detail)
	return c.Redirect(http.StatusSeeOther, "/cases/"+cs.ID+"?flash=casemoved")
}

// moveCase applies a step; entering the 检察建议 or the 诉前公告 records the target's newest scan
// as the baseline 整改复查 compares against.
func (s *Server) moveCase(ctx context.Context, id string, to cases.State, in cases.MoveInput, actor string) (cases.Case, error) {
	cur, err := s.loadCase(ctx, id)
	if err != nil {
		return cases.Case{}, err
	}
	if (to == cases.StateRecommendation || to == cases.StateAnnounced) && cur.TargetID != "" {
		recs, _, err := s.st.ScansForTarget(ctx, cur.TargetID, 0, 1)
		if err != nil {
			return cases.Case{}, err
		}
		if len(recs) > 0 {
			in.BaselineScan = recs[0].ID
		}
	}
	now := s.now()
	return s.st.UpdateCase(ctx, id, func(c *cases.Case) ([]cases.Event, error) {
		ev, err := c.Move(to, in, actor, s.cfg.Deadlines, now)
		return []cases.Event{ev}, err
	})
}

// caseJoin adds a finding (by fingerprint) with a reason.
func (s *Server) caseJoin(c *echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	fp := strings.TrimSpace(c.FormValue("fp"))
	reason := c.FormValue("reason")
	if err := s.joinCase(ctx, id, fp, reason, current(c).actor()); err != nil {
		return err
	}
	s.audit(c, current(c).actor(), "case.join", id, map[string]string{"finding": fp, "reason": reason})
	return c.Redirect(http.StatusSeeOther, "/cases/"+id+"?flash=casejoined")
}

func (s *Server) joinCase(ctx context.Context, id, fp, reason, actor string) error {
	if _, err := s.loadCase(ctx, id); err != nil {
		return err
	}
	if err := s.checkJoinable(ctx, fp); err != nil {
		return &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
	}
	now := s.now()
	_, err := s.st.UpdateCase(ctx, id, func(c *cases.Case) ([]cases.Event, error) {
		ev, err := c.Join(fp, reason, actor, now)
		return []cases.Event{ev}, err
	})
	if err != nil {
		return &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
	}
	return nil
}

// caseLeave removes a finding with a reason.
func (s *Server) caseLeave(c *echo.Context) error {
	ctx := c.Request().Context()
	id, fp := c.Param("id"), c.Param("fp")
	if _, err := s.loadCase(ctx, id); err != nil {
		return err
	}
	reason := c.FormValue("reason")
	now := s.now()
	actor := current(c).actor()
	if _, err := s.st.UpdateCase(ctx, id, func(cs *cases.Case) ([]cases.Event, error) {
		ev, err := cs.Leave(fp, reason, actor, now)
		return []cases.Event{ev}, err
	}); err != nil {
		return &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
	}
	s.audit(c, actor, "case.leave", id, map[string]string{"finding": fp, "reason": reason})
	return c.Redirect(http.StatusSeeOther, "/cases/"+id+"?flash=caseleft")
}

// caseRecheck is 整改复查: one scan of the target (every source it has) through the ordinary
// scan queue, recorded on the case so that its page compares it with the baseline when done.
func (s *Server) caseRecheck(c *echo.Context) error {
	ctx := c.Request().Context()
	scanID, err := s.recheckCase(ctx, c.Param("id"), current(c))
	if err != nil {
		return err
	}
	s.audit(c, current(c).actor(), "case.recheck", c.Param("id"), map[string]string{"scan": scanID})
	return c.Redirect(http.StatusSeeOther, "/cases/"+c.Param("id")+"?flash=recheckqueued#recheck")
}

func (s *Server) recheckCase(ctx context.Context, id string, pr *principal) (string, error) {
	cs, err := s.loadCase(ctx, id)
	if err != nil {
		return "", err
	}
	if cs.TargetID == "" {
		return "", uerr(http.StatusBadRequest, "case.notarget")
	}
	if _, _, err := s.loadTarget(ctx, cs.TargetID); err != nil {
		return "", err
	}
	scanID, err := s.enqueueScan(ctx, cs.TargetID, pr.user.Name)
	if err != nil {
		return "", err
	}
	now := s.now()
	if _, err := s.st.UpdateCase(ctx, id, func(c *cases.Case) ([]cases.Event, error) {
		ev, err := c.StartRecheck(scanID, pr.actor(), now)
		return []cases.Event{ev}, err
	}); err != nil {
		return "", &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
	}
	return scanID, nil
}

// newCaseURL is where the findings list's bulk form sends "open a case from these".
func newCaseURL(fps []string) string {
	v := url.Values{}
	for _, fp := range fps {
		if fpRE.MatchString(fp) {
			v.Add("fp", fp)
		}
	}
	return "/cases/new?" + v.Encode()
}

// attentionRows are the cases of all whose pending deadline is due soon or overdue (the
// overview's panel).
func (s *Server) attentionRows(l *Lang, all []cases.Case) []caseRow {
	now := s.now()
	var out []caseRow
	for _, a := range cases.NeedingAttention(all, s.cfg.Deadlines, now) {
		r := s.caseRow(l, a.Case, now)
		zh, en := a.Deadline.Kind.Label()
		r.Next = &deadlineView{Deadline: a.Deadline, Label: pick(l, zh, en), StatusLabel: l.T("dl." + string(a.Deadline.Status)),
			DaysLeft: a.Deadline.DaysLeft(now), Class: string(a.Deadline.Status)}
		out = append(out, r)
	}
	return out
}

// caseStateRows counts the cases of all by the step they are at, in path order: the overview's
// card beside the findings' own triage states.
func caseStateRows(l *Lang, all []cases.Case) []countRow {
	n := map[cases.State]int64{}
	for _, c := range all {
		n[c.State]++
	}
	rows := make([]countRow, 0, len(cases.AllStates))
	for _, st := range cases.AllStates {
		zh, en := st.Label()
		rows = append(rows, countRow{Key: string(st), Label: pick(l, zh, en), N: n[st]})
	}
	return rows
}

// ---- JSON API ----

// apiCase is a case as the API returns it: the stored record plus its deadlines as of now.
type apiCase struct {
	cases.Case
	Deadlines []cases.Deadline `json:"deadlines"`
}

func (s *Server) apiCaseOf(c cases.Case, now time.Time) apiCase {
	ds := c.Deadlines(s.cfg.Deadlines, now)
	if ds == nil {
		ds = []cases.Deadline{}
	}
	return apiCase{Case: c, Deadlines: ds}
}

func (s *Server) apiCases(c *echo.Context) error {
	all, err := s.st.Cases(c.Request().Context())
	if err != nil && len(all) == 0 {
		return err
	}
	now := s.now()
	out := make([]apiCase, 0, len(all))
	for _, cs := range all {
		out = append(out, s.apiCaseOf(cs, now))
	}
	return c.JSON(http.StatusOK, map[string]any{"cases": out})
}

func (s *Server) apiCase(c *echo.Context) error {
	ctx := c.Request().Context()
	cs, err := s.loadCase(ctx, c.Param("id"))
	if err != nil {
		return err
	}
	h, err := s.st.CaseHistory(ctx, cs.ID)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, map[string]any{"case": s.apiCaseOf(cs, s.now()), "history": h})
}

func decodeJSON(c *echo.Context, v any) error {
	dec := json.NewDecoder(io.LimitReader(c.Request().Body, 256<<10))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return &userError{code: http.StatusBadRequest, key: "error.400", err: err}
	}
	return nil
}

type apiCaseCreate struct {
	cases.Fields
	Findings []string `json:"findings"`
	Reason   string   `json:"reason"`
}

func (s *Server) apiCaseCreate(c *echo.Context) error {
	var req apiCaseCreate
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	pr := current(c)
	cs, err := s.createCase(c.Request().Context(), pr.actor(), req.Fields, req.Findings, req.Reason)
	if err != nil {
		var ue *userError
		if errors.As(err, &ue) {
			return err
		}
		return &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
	}
	s.audit(c, pr.actor(), "case.create", cs.ID, map[string]string{"case_no": cs.CaseNo})
	return c.JSON(http.StatusCreated, s.apiCaseOf(cs, s.now()))
}

type apiCaseMove struct {
	To     cases.State `json:"to"`
	Number string      `json:"number"`
	Date   string      `json:"date"`
	// Evidence is the SHA-256 of the document already in the evidence store (uploaded on the
	// page, or imported), optional.
	Evidence string `json:"evidence"`
	FileName string `json:"file_name"`
	Note     string `json:"note"`
	Reason   string `json:"reason"`
	Confirm  bool   `json:"confirm"`
}

func (s *Server) apiCaseMove(c *echo.Context) error {
	ctx := c.Request().Context()
	var req apiCaseMove
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	in := cases.MoveInput{Number: req.Number, Date: req.Date, Note: req.Note, Reason: req.Reason, Confirm: req.Confirm, FileName: req.FileName}
	if req.Evidence != "" {
		rec, err := s.ev.Stat(req.Evidence)
		if err != nil {
			return &userError{code: http.StatusBadRequest, key: "error.badparam", err: errors.New("evidence: no such artifact")}
		}
		in.SHA256, in.SM3 = rec.Ref.SHA256, rec.Ref.SM3
	}
	pr := current(c)
	cs, err := s.moveCase(ctx, c.Param("id"), req.To, in, pr.actor())
	var early *cases.EarlyStepError
	if errors.As(err, &early) {
		return c.JSON(http.StatusConflict, map[string]any{"error": err.Error(), "status": http.StatusConflict,
			"early": true, "deadline": early.Deadline, "days_left": early.DaysLeft})
	}
	if err != nil {
		if errors.Is(err, echo.ErrNotFound) {
			return err
		}
		return &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
	}
	s.audit(c, pr.actor(), "case.move", cs.ID, map[string]string{"to": string(req.To), "number": in.Number, "date": in.Date})
	return c.JSON(http.StatusOK, s.apiCaseOf(cs, s.now()))
}

type apiCaseMember struct {
	Fingerprint string `json:"fingerprint"`
	Reason      string `json:"reason"`
	Leave       bool   `json:"leave"`
}

// apiCaseFindings adds a finding to a case, or with "leave": true removes it; the reason is
// required either way.
func (s *Server) apiCaseFindings(c *echo.Context) error {
	ctx := c.Request().Context()
	var req apiCaseMember
	if err := decodeJSON(c, &req); err != nil {
		return err
	}
	id, pr := c.Param("id"), current(c)
	if req.Leave {
		if _, err := s.loadCase(ctx, id); err != nil {
			return err
		}
		now := s.now()
		if _, err := s.st.UpdateCase(ctx, id, func(cs *cases.Case) ([]cases.Event, error) {
			ev, err := cs.Leave(req.Fingerprint, req.Reason, pr.actor(), now)
			return []cases.Event{ev}, err
		}); err != nil {
			return &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
		}
	} else if err := s.joinCase(ctx, id, req.Fingerprint, req.Reason, pr.actor()); err != nil {
		return err
	}
	action := map[bool]string{false: "case.join", true: "case.leave"}[req.Leave]
	s.audit(c, pr.actor(), action, id, map[string]string{"finding": req.Fingerprint, "reason": req.Reason})
	cs, err := s.loadCase(ctx, id)
	if err != nil {
		return err
	}
	return c.JSON(http.StatusOK, s.apiCaseOf(cs, s.now()))
}

// editCase replaces a case's filed facts (the track only while the case is at 立案).
func (s *Server) editCase(ctx context.Context, id string, f cases.Fields, actor string) (cases.Case, error) {
	if _, err := s.loadCase(ctx, id); err != nil {
		return cases.Case{}, err
	}
	if f.TargetID != "" {
		if _, _, err := s.loadTarget(ctx, strings.TrimSpace(f.TargetID)); err != nil {
			return cases.Case{}, &userError{code: http.StatusBadRequest, key: "case.invalid", err: fmt.Errorf("target %.80q: not registered", f.TargetID)}
		}
	}
	now := s.now()
	cs, err := s.st.UpdateCase(ctx, id, func(c *cases.Case) ([]cases.Event, error) {
		ev, err := c.Edit(f, actor, now)
		return []cases.Event{ev}, err
	})
	if err != nil {
		return cases.Case{}, &userError{code: http.StatusBadRequest, key: "case.invalid", err: err}
	}
	return cs, nil
}

func (s *Server) caseEdit(c *echo.Context) error {
	form, err := c.FormValues()
	if err != nil {
		return uerr(http.StatusBadRequest, "error.400")
	}
	id := c.Param("id")
	if _, err := s.editCase(c.Request().Context(), id, formFields(form.Get), current(c).actor()); err != nil {
		return err
	}
	s.audit(c, current(c).actor(), "case.edit", id, nil)
	return c.Redirect(http.StatusSeeOther, "/cases/"+id+"?flash=caseedited")
}

func (s *Server) apiCaseEdit(c *echo.Context) error {
	var f cases.Fields
	if err := decodeJSON(c, &f); err != nil {
		return err
	}
	cs, err := s.editCase(c.Request().Context(), c.Param("id"), f, current(c).actor())
	if err != nil {
		return err
	}
	s.audit(c, current(c).actor(), "case.edit", cs.ID, nil)
	return c.JSON(http.StatusOK, s.apiCaseOf(cs, s.now()))
}
