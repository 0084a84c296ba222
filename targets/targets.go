// Package targets is the registry of what pilmon watches: apps, mini-programs and sites with their
// sources and scan schedules, kept by the store (one hash, canonical JSON per target) and
// importable from YAML. Every target is validated before it is stored and again before it is scanned, because
// a source locator is a path or URL that a worker will open.
package targets

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"time"
	"unicode/utf8"

	"gopkg.in/yaml.v3"

	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

// Limits on what one target and one import may hold.
const (
	MaxSources     = 64
	MaxTargets     = 10000 // per import
	MaxImportBytes = 4 << 20
	maxNameLen     = 200
	maxLocatorLen  = 2048
	maxOptions     = 16
	maxOptionLen   = 1024
)

// ErrNotFound is returned (wrapped) for a target id the registry does not hold.
var ErrNotFound = store.ErrTargetNotFound

// ErrInvalid wraps every validation error, so callers can tell a bad target (never retried) from
// a Redis failure.
var ErrInvalid = errors.New("invalid target")

var idPattern = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}$`)

// Options configure a Registry.
type Options struct {
	// ImportRoot is the only folder local sources (APK, .wxapkg, mini-program folders, policy
	// files, HAR, device-values files) may live in; relative locators are taken relative to it.
	// Empty refuses every local source.
	ImportRoot string
	// Catalogue resolves app category keys; nil skips that check (unit tests only).
	Catalogue *rules.Catalogue
	// Kinds are the source kinds of this build (pipeline.Kinds): a source of another kind, or
	// with an option its kind does not declare, is refused. None: every source is refused.
	Kinds []scanner.KindSpec
}

// Registry validates targets and keeps them in the store.
type Registry struct {
	st   *store.Store
	opts Options
}

// New returns a registry kept in st (under the store's key prefix).
func New(st *store.Store, opts Options) *Registry {
	if opts.ImportRoot != "" {
		if abs, err := filepath.Abs(opts.ImportRoot); err == nil {
			opts.ImportRoot = abs
		}
	}
	return &Registry{st: st, opts: opts}
}

// ImportRoot returns the absolute import folder ("" when local sources are refused).
func (r *Registry) ImportRoot() string { return r.opts.ImportRoot }

func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: %s", ErrInvalid, fmt.Sprintf(format, a...))
}

// Validate checks t and returns it normalised: trimmed strings, local locators made absolute
// inside the import folder, empty option maps dropped.
func (r *Registry) Validate(t scanner.Target) (scanner.Target, error) {
	t.ID = strings.TrimSpace(t.ID)
	t.Name = strings.TrimSpace(t.Name)
	t.Operator = strings.TrimSpace(t.Operator)
	t.Category = strings.TrimSpace(t.Category)
	t.Schedule = strings.TrimSpace(t.Schedule)
	if !idPattern.MatchString(t.ID) {
		return t, invalid("id %.80q: want 1-128 of A-Z a-z 0-9 . _ : @ -, starting with a letter or digit", t.ID)
	}
	where := "target " + t.ID
	switch t.Kind {
	case scanner.TargetApp, scanner.TargetMiniProgram, scanner.TargetSite:
	default:
		return t, invalid("%s: kind %q: want app, miniprogram or site", where, t.Kind)
	}
	if t.Name == "" {
		t.Name = t.ID
	}
	for _, s := range []struct{ what, v string }{{"name", t.Name}, {"operator", t.Operator}} {
		if len(s.v) > maxNameLen || !utf8.ValidString(s.v) || strings.ContainsFunc(s.v, isControl) {
			return t, invalid("%s: %s: want up to %d bytes of UTF-8 without control characters", where, s.what, maxNameLen)
		}
	}
	if t.Category != "" && r.opts.Catalogue != nil {
		if _, ok := r.opts.Catalogue.AppCategory(t.Category); !ok {
			return t, invalid("%s: unknown app category %q (see `pilmon rules list --section categories`)", where, t.Category)
		}
	}
	if t.Schedule != "" {
		if _, err := ParseSchedule(t.Schedule); err != nil {
			return t, invalid("%s: %v", where, err)
		}
	}
	if len(t.Sources) == 0 {
		return t, invalid("%s: no sources", where)
	}
	if len(t.Sources) > MaxSources {
		return t, invalid("%s: %d sources, limit %d", where, len(t.Sources), MaxSources)
	}
	out := make([]scanner.Source, len(t.Sources))
	for i, s := range t.Sources {
		ns, err := r.validateSource(s)
		if err != nil {
			return t, invalid("%s, source %d: %v", where, i+1, err)
		}
		out[i] = ns
	}
	t.Sources = out
	return t, nil
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

func (r *Registry) validateSource(s scanner.Source) (scanner.Source, error) {
	spec, ok := scanner.LookupKind(r.opts.Kinds, s.Kind)
	if !ok {
		return s, fmt.Errorf("kind %q: want one of %v", s.Kind, scanner.KindNames(r.opts.Kinds))
	}
	s.Locator = strings.TrimSpace(s.Locator)
	if s.Locator == "" || len(s.Locator) > maxLocatorLen || !utf8.ValidString(s.Locator) || strings.ContainsFunc(s.Locator, isControl) {
		return s, fmt.Errorf("locator %.80q: want 1-%d bytes of UTF-8 without control characters", s.Locator, maxLocatorLen)
	}
	if spec.URL {
		if err := checkURL(s.Locator); err != nil {
			return s, err
		}
	} else {
		p, err := r.LocalPath(s.Locator)
		if err != nil {
			return s, err
		}
		s.Locator = p
	}
	if len(s.Options) > maxOptions {
		return s, fmt.Errorf("%d options, limit %d", len(s.Options), maxOptions)
	}
	opts := map[string]string{}
	for k, v := range s.Options {
		if k == "" || len(k) > 64 || len(v) > maxOptionLen || strings.ContainsFunc(k+v, isControl) {
			return s, fmt.Errorf("option %.40q: bad key or value", k)
		}
		o, ok := spec.Option(k)
		if !ok {
			return s, fmt.Errorf("option %.40q: a %s source has %s", k, s.Kind, optionNames(spec))
		}
		if o.Date && v != "" {
			if _, err := time.Parse(time.DateOnly, v); err != nil {
				return s, fmt.Errorf("option %s %.40q: want a date YYYY-MM-DD", k, v)
			}
		}
		if o.Path && v != "" {
			p, err := r.LocalPath(v)
			if err != nil {
				return s, fmt.Errorf("option %s: %w", k, err)
			}
			v = p
		}
		opts[k] = v
	}
	s.Options = nil
	if len(opts) > 0 {
		s.Options = opts
	}
	return s, nil
}

// optionNames words the options a kind declares, for the error refusing another.
func optionNames(spec scanner.KindSpec) string {
	var names []string
	for _, o := range append(slices.Clip(spec.Options), scanner.CommonOptions...) {
		names = append(names, o.Name)
	}
	return "only the options " + strings.Join(names, ", ")
}

func checkURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("url %.80q: %v", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("url %.80q: only http and https are allowed", raw)
	}
	if u.Hostname() == "" {
		return fmt.Errorf("url %.80q: no host", raw)
	}
	return nil
}

// LocalPath resolves a local locator: relative ones are taken inside the import folder; the result
// must exist and stay inside the import folder after every symbolic link is followed. A ".." in
// the locator is refused outright.
func (r *Registry) LocalPath(loc string) (string, error) {
	root := r.opts.ImportRoot
	if root == "" {
		return "", fmt.Errorf("%.80q: local sources need an import folder (--import-root); none is configured", loc)
	}
	for _, part := range strings.FieldsFunc(loc, func(c rune) bool { return c == '/' || c == '\\' }) {
		if part == ".." {
			return "", fmt.Errorf("%.80q: \"..\" is not allowed in a local path", loc)
		}
	}
	p := loc
	if !filepath.IsAbs(p) {
		p = filepath.Join(root, p)
	}
	p = filepath.Clean(p)
	if !within(root, p) {
		return "", fmt.Errorf("%.80q: outside the import folder %s", loc, root)
	}
	realRoot, err := filepath.EvalSymlinks(root)
	if err != nil {
		return "", fmt.Errorf("import folder %s: %w", root, err)
	}
	real, err := filepath.EvalSymlinks(p)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "", fmt.Errorf("%.80q: no such file in the import folder", loc)
		}
		return "", fmt.Errorf("%.80q: %w", loc, err)
	}
	if !within(realRoot, real) {
		return "", fmt.Errorf("%.80q: a symbolic link leads outside the import folder %s", loc, root)
	}
	return p, nil
}

func within(root, p string) bool {
	rel, err := filepath.Rel(root, p)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator)) && !filepath.IsAbs(rel)
}

// Canonical returns the stored form of a target: JSON with the fields in declaration order, map
// keys sorted, no HTML escaping.
func Canonical(t scanner.Target) ([]byte, error) { return store.CanonicalTarget(t) }

// Put validates and stores t (replacing a target with the same id) and returns what was stored.
func (r *Registry) Put(ctx context.Context, t scanner.Target) (scanner.Target, error) {
	t, err := r.Validate(t)
	if err != nil {
		return t, err
	}
	if err := r.st.PutTargets(ctx, t); err != nil {
		return t, fmt.Errorf("store target %s: %w", t.ID, err)
	}
	return t, nil
}

// Version counts the changes to the registry: every Put, Delete and Import increments it in the
// same transaction, so that a reader holding a copy of the targets knows when to read them again
// (0 when nothing was ever stored).
func (r *Registry) Version(ctx context.Context) (int64, error) { return r.st.TargetsVersion(ctx) }

// Get returns the target with the given id, or an error wrapping ErrNotFound.
func (r *Registry) Get(ctx context.Context, id string) (scanner.Target, error) {
	return r.st.Target(ctx, id)
}

// List returns every target sorted by id. Entries that do not decode are skipped and named in
// the returned error, with the rest still returned.
func (r *Registry) List(ctx context.Context) ([]scanner.Target, error) { return r.st.Targets(ctx) }

// Delete removes the target and reports whether it existed. Its findings and scan history stay.
func (r *Registry) Delete(ctx context.Context, id string) (bool, error) {
	return r.st.DeleteTarget(ctx, id)
}

// importFile is the YAML form of an import: either a list of targets or {targets: [...]}.
type importFile struct {
	Targets []scanner.Target `yaml:"targets"`
}

// ParseYAML reads targets from YAML without validating them: a document that is either a list of
// targets or a mapping with a "targets" list. Unknown keys are errors (a typo must not silently
// drop a source).
func ParseYAML(data []byte) ([]scanner.Target, error) {
	if len(data) > MaxImportBytes {
		return nil, fmt.Errorf("%w: import of %d bytes, limit %d", ErrInvalid, len(data), MaxImportBytes)
	}
	var probe yaml.Node
	if err := yaml.Unmarshal(data, &probe); err != nil {
		return nil, fmt.Errorf("%w: YAML: %v", ErrInvalid, err)
	}
	if len(probe.Content) == 0 {
		return nil, nil
	}
	var ts []scanner.Target
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var err error
	if probe.Content[0].Kind == yaml.SequenceNode {
		err = dec.Decode(&ts)
	} else {
		var f importFile
		err = dec.Decode(&f)
		ts = f.Targets
	}
	if err != nil {
		return nil, fmt.Errorf("%w: YAML: %v", ErrInvalid, err)
	}
	if len(ts) > MaxTargets {
		return nil, fmt.Errorf("%w: %d targets, limit %d per import", ErrInvalid, len(ts), MaxTargets)
	}
	return ts, nil
}

// Import parses YAML, validates every target and stores them all in one command, so an import is
// all or nothing. Duplicate ids within one file are refused.
func (r *Registry) Import(ctx context.Context, data []byte) ([]scanner.Target, error) {
	ts, err := ParseYAML(data)
	if err != nil {
		return nil, err
	}
	if len(ts) == 0 {
		return nil, fmt.Errorf("%w: the file holds no targets", ErrInvalid)
	}
	seen := map[string]int{}
	for i, t := range ts {
		v, err := r.Validate(t)
		if err != nil {
			return nil, fmt.Errorf("target %d of the import: %w", i+1, err)
		}
		if j, dup := seen[v.ID]; dup {
			return nil, invalid("targets %d and %d of the import share the id %q", j+1, i+1, v.ID)
		}
		seen[v.ID] = i
		ts[i] = v
	}
	if err := r.st.PutTargets(ctx, ts...); err != nil {
		return nil, fmt.Errorf("import targets: %w", err)
	}
	return ts, nil
}
