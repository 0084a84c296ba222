package web

import (
	"bufio"
	"context"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/labstack/echo/v5"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

type targetRow struct {
	T        scanner.Target
	Known    bool // in the registry
	Findings int64
	Next     time.Time // the schedule's next run (zero: none)
}

func (s *Server) targetRows(ctx context.Context) ([]targetRow, error) {
	cn, err := s.st.Counts(ctx)
	if err != nil {
		return nil, err
	}
	var rows []targetRow
	seen := map[string]bool{}
	if s.cfg.Targets != nil {
		ts, err := s.cfg.Targets.List(ctx)
		if err != nil {
			return nil, err
		}
		for _, t := range ts {
			seen[t.ID] = true
			rows = append(rows, targetRow{T: t, Known: true, Findings: cn.ByTarget[t.ID]})
		}
	}
	for id, n := range cn.ByTarget {
		if !seen[id] {
			rows = append(rows, targetRow{T: scanner.Target{ID: id}, Findings: n})
		}
	}
	slices.SortFunc(rows, func(a, b targetRow) int { return strings.Compare(a.T.ID, b.T.ID) })
	return rows, nil
}

type targetsData struct {
	Rows       []targetRow
	Registry   bool
	Kinds      []scanner.TargetKind
	Categories []rules.AppCategory
	Presets    []schedulePreset
	Uploads    bool // the form takes the APK and the policy file
	// Form is what was posted, shown again with its errors; nil for an empty form.
	Form *targetForm
}

func (s *Server) targetsPage(c *echo.Context) error {
	return s.renderTargets(c, http.StatusOK, nil)
}

func (s *Server) renderTargets(c *echo.Context, code int, f *targetForm) error {
	rows, err := s.targetRows(c.Request().Context())
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range rows {
		rows[i].Next = nextRun(rows[i].T.Schedule, now)
	}
	if f == nil {
		f = &targetForm{Kind: string(scanner.TargetApp), Preset: "0 3 * * *"}
	}
	_, apkOK := scanner.LookupKind(s.cfg.Kinds, scanner.SourceAPK)
	d := targetsData{Rows: rows, Registry: s.cfg.Targets != nil,
		Kinds:      []scanner.TargetKind{scanner.TargetApp, scanner.TargetMiniProgram, scanner.TargetSite},
		Categories: s.cat.AppCategories(), Presets: schedulePresets, Uploads: s.cfg.UploadDir != "" && apkOK, Form: f}
	return s.render(c, code, "targets", s.newPage(c, "targets", "title.targets", d))
}

type targetData struct {
	T        scanner.Target
	Identity *appIdentity
	Next     time.Time
	Presets  []schedulePreset
	Form     *targetForm // the schedule form, as posted when it had an error
	Known    bool
	ByState  []countRow
	Total    int64
	Events   []store.EventMessage
	Kinds    []uploadKind
	Uploads  bool
	Scans    []store.ScanRecord
	NScans   int64
	Diff     *store.ScanDiff
	DiffRows map[string]findings.Finding
	Category rules.AppCategory
	// Versions are the packages the target's remote sources served, newest first.
	Versions []store.PackageVersion
}

func (s *Server) loadTarget(ctx context.Context, id string) (scanner.Target, bool, error) {
	if s.cfg.Targets != nil {
		t, err := s.cfg.Targets.Get(ctx, id)
		if err == nil {
			return t, true, nil
		}
	}
	ok, err := s.st.HasTargetFindings(ctx, id)
	if err != nil {
		return scanner.Target{}, false, err
	}
	if !ok {
		return scanner.Target{}, false, echo.ErrNotFound
	}
	return scanner.Target{ID: id}, false, nil
}

func (s *Server) targetPage(c *echo.Context) error {
	return s.renderTarget(c, http.StatusOK, c.Param("id"), nil)
}

func (s *Server) renderTarget(c *echo.Context, code int, id string, form *targetForm) error {
	ctx := c.Request().Context()
	t, known, err := s.loadTarget(ctx, id)
	if err != nil {
		return err
	}
	l := s.lang(c)
	d := targetData{T: t, Known: known, Kinds: s.uploadKinds(), Presets: schedulePresets, Form: form,
		Next: nextRun(t.Schedule, time.Now())}
	if d.Form == nil {
		d.Form = &targetForm{Preset: presetOf(t.Schedule), Schedule: t.Schedule}
	}
	d.Uploads = s.cfg.UploadDir != "" && known && len(d.Kinds) > 0
	d.Category, _ = s.cat.AppCategory(t.Category)
	byState, total, err := s.st.TargetStateCounts(ctx, id)
	if err != nil {
		return err
	}
	for _, st := range findings.AllStates {
		if n := byState[st]; n > 0 {
			d.ByState = append(d.ByState, countRow{string(st), l.State(st), n})
		}
	}
	d.Total = total
	if d.Scans, d.NScans, err = s.st.ScansForTarget(ctx, id, 0, 20); err != nil {
		return err
	}
	if d.Versions, err = s.st.Versions(ctx, id); err != nil {
		return err
	}
	d.Versions = d.Versions[:min(len(d.Versions), 100)]
	d.Identity = identityOf(d.Scans)
	// The diff between two scans (?from=&to=), by default the two newest.
	from, to := c.QueryParam("from"), c.QueryParam("to")
	if from != "" && to != "" && scanIDRE.MatchString(from) && scanIDRE.MatchString(to) {
		df, err := s.st.DiffScans(ctx, from, to)
		if err != nil {
			return &userError{code: http.StatusNotFound, key: "t.nodiff", err: err}
		}
		d.Diff = &df
	} else if df, ok, err := s.st.DiffLatestScans(ctx, id); err == nil && ok {
		d.Diff = &df
	}
	if d.Diff != nil {
		var fps []string
		for _, l := range [][]string{d.Diff.New, d.Diff.Gone, d.Diff.Still} {
			fps = append(fps, l[:min(len(l), 200)]...)
		}
		rows, err := s.st.GetMany(ctx, fps)
		if err != nil {
			return err
		}
		d.DiffRows = map[string]findings.Finding{}
		for _, r := range rows {
			d.DiffRows[r.Fingerprint] = r
		}
	}
	evs, err := s.st.RecentEvents(ctx, 500)
	if err != nil {
		return err
	}
	for _, e := range evs {
		if e.Event.TargetID == id && len(d.Events) < 30 {
			d.Events = append(d.Events, e)
		}
	}
	return s.render(c, code, "target", s.newPage(c, "targets", "title.target", d))
}

func (s *Server) targetScan(c *echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	if _, _, err := s.loadTarget(ctx, id); err != nil {
		return err
	}
	scanID, err := s.enqueueScan(ctx, id, current(c).user.Name)
	if err != nil {
		return err
	}
	s.audit(c, current(c).actor(), "scan.requested", id, map[string]string{"scan": scanID})
	return c.Redirect(http.StatusSeeOther, "/progress?flash=queued")
}

func (s *Server) enqueueScan(ctx context.Context, target, user string) (string, error) {
	scanID := scanner.NewScanID(time.Now())
	_, err := s.st.EnqueueJob(ctx, store.Job{ID: scanID, TargetID: target, RequestedBy: user})
	return scanID, err
}

// targetSchedule sets a target's schedule from a preset or a cron spec; a spec the scheduler
// cannot parse is shown on the target page beside the field, as typed.
func (s *Server) targetSchedule(c *echo.Context) error {
	if s.cfg.Targets == nil {
		return uerr(http.StatusServiceUnavailable, "targets.noregistry")
	}
	ctx := c.Request().Context()
	t, err := s.cfg.Targets.Get(ctx, c.Param("id"))
	if err != nil {
		return echo.ErrNotFound
	}
	f := targetForm{Preset: c.FormValue("schedule_preset"), Schedule: strings.TrimSpace(c.FormValue("schedule"))}
	if _, ok := c.Request().PostForm["schedule_preset"]; !ok {
		// A plain cron field (scripts, older pages).
		f.Preset = presetCustom
		if f.Schedule == "" {
			f.Preset = ""
		}
	}
	spec := f.resolveSchedule()
	if len(f.Errs) > 0 {
		return s.renderTarget(c, http.StatusBadRequest, t.ID, &f)
	}
	t.Schedule = spec
	if _, err := s.cfg.Targets.Put(ctx, t); err != nil {
		return &userError{code: http.StatusBadRequest, key: "targets.invalid", err: err}
	}
	s.audit(c, current(c).actor(), "target.schedule", t.ID, map[string]string{"schedule": t.Schedule})
	return c.Redirect(http.StatusSeeOther, "/targets/"+t.ID+"?flash=saved")
}

const (
	maxFormField = 64 << 10
	maxFiles     = 20
)

// readMultipart streams a multipart form whose first part is the CSRF token: nothing else is read
// before the token is verified. Text fields are bounded; each file part goes to onFile as a
// stream, never to a temporary file.
func (s *Server) readMultipart(c *echo.Context, onFile func(fields map[string]string, field, filename string, r io.Reader) error) (map[string]string, error) {
	pr := current(c)
	c.Request().Body = http.MaxBytesReader(c.Response(), c.Request().Body, s.cfg.MaxUpload*maxFiles+1<<20)
	mr, err := c.Request().MultipartReader()
	if err != nil {
		return nil, uerr(http.StatusBadRequest, "error.400")
	}
	first, err := mr.NextPart()
	if err != nil || first.FormName() != "_csrf" {
		return nil, uerr(http.StatusForbidden, "error.csrf")
	}
	tok, _ := io.ReadAll(io.LimitReader(first, 256))
	if subtle.ConstantTimeCompare(tok, []byte(pr.session.CSRF)) != 1 {
		return nil, uerr(http.StatusForbidden, "error.csrf")
	}
	fields := map[string]string{}
	files := 0
	for {
		p, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return fields, nil
		}
		if err != nil {
			return nil, uerr(http.StatusBadRequest, "error.400")
		}
		if p.FileName() == "" {
			b, _ := io.ReadAll(io.LimitReader(p, maxFormField+1))
			if len(b) > maxFormField || !utf8.Valid(b) {
				return nil, uerr(http.StatusBadRequest, "error.400")
			}
			fields[p.FormName()] = string(b)
			continue
		}
		files++
		if files > maxFiles {
			return nil, uerr(http.StatusBadRequest, "upload.toomany", maxFiles)
		}
		if err := onFile(fields, p.FormName(), cleanFileName(p.FileName()), p); err != nil {
			return nil, err
		}
	}
}

// cleanFileName keeps a client's file name only as a label for the record: base name, printable,
// bounded. It never becomes a path.
func cleanFileName(n string) string {
	n = filepath.Base(strings.ReplaceAll(n, "\\", "/"))
	if n == "/" || n == "." {
		n = ""
	}
	n = strings.Map(func(r rune) rune {
		if r < 0x20 || r == 0x7f {
			return -1
		}
		return r
	}, n)
	if len(n) > 200 {
		n = n[:200]
	}
	if !utf8.ValidString(n) {
		n = strings.ToValidUTF8(n, "")
	}
	return n
}

// methodUpload is the capture method of a file an analyst uploaded.
const methodUpload = "analyst_upload"

// putUpload stores one file uploaded by user in the evidence store, sniffing its media type. The
// size limit (Config.MaxUpload, and what is left of the user's Config.UploadQuota) is enforced by
// the store while it streams the bytes to a temporary file: a refused upload leaves nothing behind.
func (s *Server) putUpload(ctx context.Context, user string, r io.Reader, source, note string) (evidence.Ref, string, error) {
	limit, reserved := s.cfg.MaxUpload, int64(0)
	if q := s.cfg.UploadQuota; q > 0 {
		n, err := s.st.ReserveUpload(ctx, user, limit, q)
		if errors.Is(err, store.ErrQuotaExceeded) {
			return evidence.Ref{}, "", &userError{code: http.StatusInsufficientStorage, key: "upload.quota", args: []any{formatBytes(q)}, err: err}
		}
		if err != nil {
			return evidence.Ref{}, "", err
		}
		limit, reserved = n, n
	}
	br := bufio.NewReaderSize(r, 4096)
	head, _ := br.Peek(512)
	mt := http.DetectContentType(head)
	ref, err := s.ev.PutMax(br, evidence.Meta{
		CapturedAt: time.Now().UTC(), Method: methodUpload, Source: source, MediaType: mt, Note: note,
	}, limit)
	if reserved > 0 {
		unused := reserved - ref.Size
		if err != nil {
			unused = reserved
		}
		if rerr := s.st.ReleaseUpload(context.WithoutCancel(ctx), user, unused); rerr != nil {
			s.log.Error("upload quota not released", "user", user, "bytes", unused, "err", rerr)
		}
	}
	switch {
	case errors.Is(err, evidence.ErrTooLarge) && limit < s.cfg.MaxUpload:
		return evidence.Ref{}, mt, &userError{code: http.StatusInsufficientStorage, key: "upload.quota", args: []any{formatBytes(s.cfg.UploadQuota)}, err: err}
	case errors.Is(err, evidence.ErrTooLarge):
		return evidence.Ref{}, mt, &userError{code: http.StatusRequestEntityTooLarge, key: "upload.toolarge", err: err}
	case err != nil:
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			return evidence.Ref{}, mt, &userError{code: http.StatusRequestEntityTooLarge, key: "upload.toolarge", err: err}
		}
		return ref, mt, &userError{code: http.StatusBadRequest, key: "upload.failed", err: err}
	}
	return ref, mt, nil
}

// formatBytes writes a size for a message: whole MiB from 1 MiB up, else bytes.
func formatBytes(n int64) string {
	if n >= 1<<20 {
		return fmt.Sprintf("%d MiB", n>>20)
	}
	return fmt.Sprintf("%d B", n)
}

// uploadKind is a source kind the upload form offers.
type uploadKind struct {
	Kind  scanner.SourceKind
	Label rules.Text
}

// uploadKinds are the declared kinds that accept uploads, in the inspectors' order.
func (s *Server) uploadKinds() []uploadKind {
	var out []uploadKind
	for _, k := range s.cfg.Kinds {
		if k.Upload != nil && len(k.Upload.Exts) > 0 {
			out = append(out, uploadKind{Kind: k.Kind, Label: rules.Text{ZH: k.Label.ZH, EN: k.Label.EN}})
		}
	}
	return out
}

// targetUpload stores an uploaded file of a kind that accepts uploads (an APK, a .wxapkg, a HAR, a
// policy file…) as evidence, writes a copy named by its SHA-256 and the kind's extension into the
// upload folder (inside the registry's import folder) and adds it to the target's sources.
func (s *Server) targetUpload(c *echo.Context) error {
	if s.cfg.Targets == nil || s.cfg.UploadDir == "" {
		return uerr(http.StatusServiceUnavailable, "upload.disabled")
	}
	ctx := c.Request().Context()
	t, err := s.cfg.Targets.Get(ctx, c.Param("id"))
	if err != nil {
		return echo.ErrNotFound
	}
	pr := current(c)
	var refs []evidence.Ref
	var names []string
	fields, err := s.readMultipart(c, func(_ map[string]string, field, name string, r io.Reader) error {
		ref, _, err := s.putUpload(ctx, pr.user.Name, r, "upload by "+pr.user.Name+" for target "+t.ID+": "+name, "")
		if err != nil {
			return err
		}
		refs = append(refs, ref)
		names = append(names, name)
		return nil
	})
	if err != nil {
		return err
	}
	kind := scanner.SourceKind(fields["kind"])
	spec, ok := scanner.LookupKind(s.cfg.Kinds, kind)
	if !ok || spec.Upload == nil || len(spec.Upload.Exts) == 0 || len(refs) == 0 {
		return uerr(http.StatusBadRequest, "upload.badkind")
	}
	// Files recorded together on one test phone (a hook log and the traffic captured meanwhile)
	// are uploaded with the same session name.
	var opts map[string]string
	if sess := strings.TrimSpace(fields["session"]); sess != "" {
		if !sessionRE.MatchString(sess) {
			return uerr(http.StatusBadRequest, "upload.badsession")
		}
		opts = map[string]string{scanner.SessionOption: sess}
	}
	ext := spec.Upload.Ext(names[0])
	for _, ref := range refs {
		dst := filepath.Join(s.cfg.UploadDir, ref.SHA256+ext)
		if err := s.copyEvidenceTo(ref.SHA256, dst); err != nil {
			return err
		}
		t.Sources = append(t.Sources, scanner.Source{Kind: kind, Locator: dst, Options: opts})
		s.audit(c, pr.actor(), "upload", t.ID, map[string]string{"sha256": ref.SHA256, "kind": string(kind)})
	}
	if _, err := s.cfg.Targets.Put(ctx, t); err != nil {
		return &userError{code: http.StatusBadRequest, key: "targets.invalid", err: err}
	}
	return c.Redirect(http.StatusSeeOther, "/targets/"+t.ID+"?flash=uploaded")
}

// sessionRE is what a session name may be: short, and safe in keys, logs and file names.
var sessionRE = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$`)

// copyEvidenceTo writes a verified copy of an artifact to dst (a name the server chose) unless it
// is already there.
func (s *Server) copyEvidenceTo(h, dst string) error {
	if _, err := os.Stat(dst); err == nil {
		return nil
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o700); err != nil {
		return err
	}
	rc, _, err := s.ev.Get(h)
	if err != nil {
		return err
	}
	defer rc.Close()
	tmp, err := os.CreateTemp(filepath.Dir(dst), ".upload-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, rc); err != nil {
		tmp.Close()
		return err
	}
	if err := tmp.Close(); err != nil {
		return err
	}
	return os.Rename(tmp.Name(), dst)
}

type checkItem struct {
	V        rules.Violation
	Manual   bool
	Findings int64
	Entry    store.ChecklistEntry
	Has      bool
	Evidence []evidenceView
}

type checklistData struct {
	T        scanner.Target
	Items    []checkItem
	Results  []string
	Summary  map[string]int
	Statuses []string
	Status   string // filter: one of checkStatuses, "" = all
	Mode     string // filter: "manual", "auto", "" = all
	Shown    int
}

func (s *Server) checklistPage(c *echo.Context) error {
	ctx := c.Request().Context()
	id := c.Param("id")
	t, _, err := s.loadTarget(ctx, id)
	if err != nil {
		return err
	}
	vs := s.cat.Violations()
	ids := make([]string, len(vs))
	for i, v := range vs {
		ids[i] = v.ID
	}
	counts, err := s.st.TargetRuleCounts(ctx, id, ids)
	if err != nil {
		return err
	}
	entries, err := s.st.Checklist(ctx, id)
	if err != nil {
		return err
	}
	d := checklistData{T: t, Results: ChecklistResults, Summary: map[string]int{}, Statuses: checkStatuses}
	if st := c.QueryParam("status"); slices.Contains(checkStatuses, st) {
		d.Status = st
	}
	if m := c.QueryParam("mode"); m == "manual" || m == "auto" {
		d.Mode = m
	}
	for i, v := range vs {
		it := checkItem{V: v, Manual: v.Check.Mode == "manual", Findings: counts[i]}
		it.Entry, it.Has = entries[v.ID]
		st := itemStatus(it)
		d.Summary[st]++
		if (d.Status != "" && st != d.Status) || (d.Mode == "manual" && !it.Manual) || (d.Mode == "auto" && it.Manual) {
			continue
		}
		for _, h := range it.Entry.Evidence {
			it.Evidence = append(it.Evidence, s.evidenceView(h))
		}
		d.Items = append(d.Items, it)
	}
	d.Shown = len(d.Items)
	return s.render(c, http.StatusOK, "checklist", s.newPage(c, "targets", "title.checklist", d))
}

// checklistRecord records an analyst's result for one item, with uploaded screenshots or screen
// recordings stored in the evidence store (their hashes are kept with the result).
func (s *Server) checklistRecord(c *echo.Context) error {
	ctx := c.Request().Context()
	id, rule := c.Param("id"), c.Param("rule")
	if _, _, err := s.loadTarget(ctx, id); err != nil {
		return err
	}
	v, ok := s.cat.Violation(rule)
	if !ok {
		return echo.ErrNotFound
	}
	pr := current(c)
	var hashes []string
	fields, err := s.readMultipart(c, func(_ map[string]string, field, name string, r io.Reader) error {
		ref, _, err := s.putUpload(ctx, pr.user.Name, r, fmt.Sprintf("checklist %s/%s by %s: %s", id, rule, pr.user.Name, name), "")
		if err != nil {
			return err
		}
		if ref.Size > 0 {
			hashes = append(hashes, ref.SHA256)
		}
		return nil
	})
	if err != nil {
		return err
	}
	now := time.Now()
	e, err := s.checkChecklist(ctx, id, store.ChecklistEntry{Rule: rule, Result: fields["result"], Note: strings.TrimSpace(fields["note"]),
		Evidence: hashes, By: pr.user.Name, At: now.UTC()})
	if err != nil {
		return &userError{code: http.StatusBadRequest, key: "checklist.invalid", err: err}
	}
	// A violation is recorded only once its finding is: a refused one leaves the item as it was.
	if e.Result == ResultViolation {
		if e.Finding, err = s.recordViolation(ctx, id, v, e, now); err != nil {
			s.audit(c, pr.actor(), "checklist.refused", id+"/"+rule, map[string]string{"evidence": strings.Join(hashes, ",")})
			return err
		}
	}
	if err := s.st.RecordChecklist(ctx, id, e); err != nil {
		return err
	}
	detail := map[string]string{"result": e.Result, "evidence": strings.Join(hashes, ",")}
	if e.Finding != "" {
		detail["finding"] = e.Finding
	}
	s.audit(c, pr.actor(), "checklist", id+"/"+rule, detail)
	if e.Finding != "" {
		return c.Redirect(http.StatusSeeOther, "/findings/"+e.Finding+"?flash=checklist_finding")
	}
	return c.Redirect(http.StatusSeeOther, "/targets/"+id+"/checklist?flash=recorded#"+rule)
}
