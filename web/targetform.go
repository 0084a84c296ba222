package web

import (
	"cmp"
	"context"
	"io"
	"net/http"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"pilmon/evidence"
	"pilmon/scanner"
	"pilmon/targets"
)

// A newcomer registers a target in one form: what it is, its APK and privacy policy, and when to
// scan it, from presets or a cron spec. A mistake is shown beside its field with everything typed
// kept (files must be chosen again: a browser never refills a file input).

// schedulePreset is a schedule the form offers by name.
type schedulePreset struct {
	Value, Key string
}

// presetCustom selects the cron field.
const presetCustom = "custom"

var schedulePresets = []schedulePreset{
	{"", "t.preset.none"},
	{"0 3 * * *", "t.preset.daily"},
	{"0 3 * * 1", "t.preset.weekly"},
	{"0 */6 * * *", "t.preset.6h"},
	{"@hourly", "t.preset.hourly"},
	{presetCustom, "t.preset.custom"},
}

// targetForm is what the add form (and the schedule form) posted, to be shown again with the
// errors by field (catalogue keys).
type targetForm struct {
	ID, Kind, Name, Operator, Category, PolicyURL, H5URL string
	Preset, Schedule                                     string
	Errs                                                 map[string]string
}

func (f *targetForm) fail(field, key string) {
	if f.Errs == nil {
		f.Errs = map[string]string{}
	}
	if _, ok := f.Errs[field]; !ok {
		f.Errs[field] = key
	}
}

// presetOf is the preset a stored spec is shown under: its own, or custom.
func presetOf(spec string) string {
	for _, p := range schedulePresets {
		if p.Value == spec && p.Value != presetCustom {
			return p.Value
		}
	}
	return presetCustom
}

// resolveSchedule is the spec the form chose: the preset, or the cron field for "custom"; an
// unknown preset or a spec the scheduler cannot parse is an error on the schedule field.
func (f *targetForm) resolveSchedule() string {
	spec := ""
	switch {
	case f.Preset == presetCustom:
		spec = strings.TrimSpace(f.Schedule)
		if spec == "" {
			f.fail("schedule", "t.schedule.empty")
			return ""
		}
	default:
		known := false
		for _, p := range schedulePresets {
			known = known || p.Value == f.Preset
		}
		if !known {
			f.fail("schedule", "t.schedule.bad")
			return ""
		}
		spec = f.Preset
	}
	if spec != "" {
		if _, err := targets.ParseSchedule(spec); err != nil {
			f.fail("schedule", "t.schedule.bad")
			return ""
		}
	}
	return spec
}

// nextRun is the schedule's next tick after now, zero when there is none.
func nextRun(spec string, now time.Time) time.Time {
	if strings.TrimSpace(spec) == "" {
		return time.Time{}
	}
	runs, err := targets.NextRuns(spec, now, 1)
	if err != nil || len(runs) == 0 {
		return time.Time{}
	}
	return runs[0]
}

func formFrom(fields map[string]string) targetForm {
	g := func(k string) string { return strings.TrimSpace(fields[k]) }
	return targetForm{ID: g("id"), Kind: g("kind"), Name: g("name"), Operator: g("operator"), Category: g("category"),
		PolicyURL: g("policy_url"), H5URL: g("h5_url"), Preset: fields["schedule_preset"], Schedule: g("schedule")}
}

// check validates the text fields (before any file is read).
func (s *Server) checkTargetForm(ctx context.Context, f *targetForm) {
	if !idRE.MatchString(f.ID) {
		f.fail("id", "targets.badid")
	} else if _, err := s.cfg.Targets.Get(ctx, f.ID); err == nil {
		f.fail("id", "targets.exists")
	}
	switch scanner.TargetKind(f.Kind) {
	case scanner.TargetApp, scanner.TargetMiniProgram, scanner.TargetSite:
	default:
		f.fail("kind", "targets.badkind")
	}
	if f.Name == "" {
		f.fail("name", "targets.noname")
	}
	if f.Category != "" {
		if _, ok := s.cat.AppCategory(f.Category); !ok {
			f.fail("category", "targets.badcategory")
		}
	}
	for field, u := range map[string]string{"policy_url": f.PolicyURL, "h5_url": f.H5URL} {
		if u != "" && !strings.HasPrefix(u, "https://") && !strings.HasPrefix(u, "http://") {
			f.fail(field, "targets.badurl")
		}
	}
	// A bad spec stays as typed, to be corrected in place.
	if spec := f.resolveSchedule(); f.Errs["schedule"] == "" {
		f.Schedule = spec
	}
}

// targetAdd registers a target from the one form: text fields, then the APK and the policy file
// (the form puts the files last, so that nothing is stored when a field is wrong). An app needs
// its APK when uploads are on: its first scan would otherwise have nothing to read.
func (s *Server) targetAdd(c *echo.Context) error {
	if s.cfg.Targets == nil {
		return uerr(http.StatusServiceUnavailable, "targets.noregistry")
	}
	ctx := c.Request().Context()
	pr := current(c)
	var f targetForm
	checked := false
	var ups []formFile
	if mt := c.Request().Header.Get("Content-Type"); !strings.HasPrefix(mt, "multipart/") {
		// A form without files (scripts, the CLI's tests): the CSRF token is checked here, since
		// the route reads multipart bodies itself.
		if err := checkCSRF(c, pr.session.CSRF, ""); err != nil {
			return err
		}
		fields := map[string]string{}
		for _, k := range []string{"id", "kind", "name", "operator", "category", "policy_url", "h5_url", "schedule"} {
			fields[k] = postForm(c, k)
		}
		// Without the preset field, the schedule field is a cron spec (or none).
		fields["schedule_preset"] = postForm(c, "schedule_preset")
		if _, ok := c.Request().PostForm["schedule_preset"]; !ok && fields["schedule"] != "" {
			fields["schedule_preset"] = presetCustom
		}
		f, checked = formFrom(fields), true
		s.checkTargetForm(ctx, &f)
		return s.finishTargetAdd(c, &f, nil)
	}
	fields, err := s.readMultipart(c, func(sofar map[string]string, field, name string, r io.Reader) error {
		if !checked {
			f, checked = formFrom(sofar), true
			s.checkTargetForm(ctx, &f)
		}
		if len(f.Errs) > 0 || name == "" {
			_, err := io.Copy(io.Discard, io.LimitReader(r, s.cfg.MaxUpload+1))
			return err
		}
		kind := map[string]scanner.SourceKind{"apk": scanner.SourceAPK, "policy": scanner.SourcePolicyFile}[field]
		spec, ok := scanner.LookupKind(s.cfg.Kinds, kind)
		if !ok || spec.Upload == nil || s.cfg.UploadDir == "" {
			f.fail(field, "upload.disabled")
			return nil
		}
		ref, _, err := s.putUpload(ctx, pr.user.Name, r, "upload by "+pr.user.Name+" for target "+f.ID+": "+name, "")
		if err != nil {
			return err
		}
		if ref.Size > 0 {
			ups = append(ups, formFile{kind, ref, name})
		}
		return nil
	})
	if err != nil {
		return err
	}
	if !checked {
		f = formFrom(fields)
		s.checkTargetForm(ctx, &f)
	}
	return s.finishTargetAdd(c, &f, ups)
}

// formFile is one file the add form stored as evidence.
type formFile struct {
	kind scanner.SourceKind
	ref  evidence.Ref
	name string
}

// finishTargetAdd registers the target once its fields are checked and its files stored, or
// shows the form again with the errors.
func (s *Server) finishTargetAdd(c *echo.Context, f *targetForm, ups []formFile) error {
	ctx := c.Request().Context()
	pr := current(c)
	hasAPK := false
	for _, u := range ups {
		hasAPK = hasAPK || u.kind == scanner.SourceAPK
	}
	if len(f.Errs) == 0 && scanner.TargetKind(f.Kind) == scanner.TargetApp && s.cfg.UploadDir != "" && !hasAPK {
		f.fail("apk", "targets.needapk")
	}
	if len(f.Errs) > 0 {
		return s.renderTargets(c, http.StatusBadRequest, f)
	}
	t := scanner.Target{ID: f.ID, Kind: scanner.TargetKind(f.Kind), Name: f.Name, Operator: f.Operator, Category: f.Category,
		Schedule: f.Schedule, Sources: []scanner.Source{}}
	// The APK first, whatever order the browser sent the parts in: the target reads the same
	// however it was registered.
	slices.SortStableFunc(ups, func(a, b formFile) int {
		return cmp.Compare(b2i(a.kind != scanner.SourceAPK), b2i(b.kind != scanner.SourceAPK))
	})
	for _, u := range ups {
		spec, _ := scanner.LookupKind(s.cfg.Kinds, u.kind)
		dst := filepath.Join(s.cfg.UploadDir, u.ref.SHA256+spec.Upload.Ext(u.name))
		if err := s.copyEvidenceTo(u.ref.SHA256, dst); err != nil {
			return err
		}
		t.Sources = append(t.Sources, scanner.Source{Kind: u.kind, Locator: dst})
	}
	if f.PolicyURL != "" {
		t.Sources = append(t.Sources, scanner.Source{Kind: scanner.SourcePolicyURL, Locator: f.PolicyURL})
	}
	if f.H5URL != "" {
		t.Sources = append(t.Sources, scanner.Source{Kind: scanner.SourceH5URL, Locator: f.H5URL})
	}
	t, err := s.cfg.Targets.Put(ctx, t)
	if err != nil {
		f.fail("id", "targets.invalid")
		return s.renderTargets(c, http.StatusBadRequest, f)
	}
	s.audit(c, pr.actor(), "target.add", t.ID, map[string]string{"name": t.Name, "sources": strconv.Itoa(len(t.Sources))})
	return c.Redirect(http.StatusSeeOther, "/targets/"+t.ID+"?flash=saved")
}

func b2i(b bool) int {
	if b {
		return 1
	}
	return 0
}
