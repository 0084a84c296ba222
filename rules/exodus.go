package rules

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"reflect"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"

	"gopkg.in/yaml.v3"
)

// Overlay is a local, user-refreshable addition to the SDK signatures, written by
// `pilmon rules import-exodus` and merged by LoadWithOverlay. New trackers become SDK entries with
// origin "exodus-overlay" and id "exodus-<tracker id>"; trackers whose code signatures the
// catalogue already covers become Extensions of the catalogue entry (its reviewed data is never
// replaced).
type Overlay struct {
	Version    int            `yaml:"version" json:"version"`
	Source     string         `yaml:"source,omitempty" json:"source,omitempty"`
	SDKs       []SDK          `yaml:"sdks" json:"sdks"`
	Extensions []SDKExtension `yaml:"extensions,omitempty" json:"extensions,omitempty"`
	// Signals are native-library (and asset) signals, written by the LibChecker import.
	Signals []SDKSignal `yaml:"signals,omitempty" json:"signals,omitempty"`
}

// SDKExtension adds signatures to a catalogue SDK (in an overlay, or in sdks_derived.yaml where
// it extends a hand-written entry).
type SDKExtension struct {
	SDK           string   `yaml:"sdk" json:"sdk"`
	Exodus        []string `yaml:"exodus,omitempty" json:"exodus,omitempty"`
	ClassPrefixes []string `yaml:"class_prefixes,omitempty" json:"class_prefixes,omitempty"`
	Domains       []string `yaml:"domains,omitempty" json:"domains,omitempty"`
	// The fields below are used by sdks_derived.yaml only.
	ManifestKeys []string     `yaml:"manifest_keys,omitempty" json:"manifest_keys,omitempty"`
	Camille      []string     `yaml:"camille,omitempty" json:"camille,omitempty"`
	Sources      []string     `yaml:"sources,omitempty" json:"sources,omitempty"`
	Examples     *SDKExamples `yaml:"examples,omitempty" json:"examples,omitempty"`
}

// ImportStats summarises an import.
type ImportStats struct {
	Trackers        int      `json:"trackers"`
	NewSDKs         int      `json:"new_sdks"`
	Extended        int      `json:"extended"`         // trackers folded into catalogue SDKs
	Skipped         int      `json:"skipped"`          // trackers without a usable signature
	PrefixesCovered int      `json:"prefixes_covered"` // code signatures the catalogue already had
	BadSignatures   int      `json:"bad_signatures"`   // alternatives that are not a plain package or host
	BroadPrefixes   int      `json:"broad_prefixes"`   // packages too broad to name one SDK (com.bytedance)
	Warnings        []string `json:"warnings,omitempty"`
}

// Limits on an Exodus export: it is downloaded by users and may be hostile.
const (
	MaxExodusBytes     = 32 << 20
	maxExodusDepth     = 16
	maxExodusTrackers  = 20000
	maxSignatureLen    = 8192
	maxAlternatives    = 512
	maxAlternativeLen  = 256
	maxImportWarnings  = 100
	maxOverlaySDKs     = 50000
	exodusIDPrefix     = "exodus-"
	overlayFileVersion = 1
)

type exodusTracker struct {
	Name             string   `json:"name"`
	CodeSignature    string   `json:"code_signature"`
	NetworkSignature string   `json:"network_signature"`
	Categories       []string `json:"categories"`
	Website          string   `json:"website"`
}

var trackerIDRe = regexp.MustCompile(`^[A-Za-z0-9_-]{1,32}$`)

// ImportExodus parses an Exodus Privacy tracker export ({"trackers": {id: {name, code_signature,
// network_signature, categories, website}}}) into an overlay. Signatures are regular expressions
// of `|`-separated alternatives; only alternatives that are plain Java package/class names or host
// names are used (the matcher works on package boundaries and domain suffixes, not regexes). A
// code signature the existing catalogue already covers is not added again. existing may be nil.
func ImportExodus(r io.Reader, existing *Catalogue) (Overlay, ImportStats, error) {
	var st ImportStats
	data, err := readImport(r, "exodus", MaxExodusBytes)
	if err != nil {
		return Overlay{}, st, err
	}
	if err := checkJSONDepth(data, maxExodusDepth); err != nil {
		return Overlay{}, st, fmt.Errorf("exodus: %w", err)
	}
	var top struct {
		Trackers map[string]json.RawMessage `json:"trackers"`
	}
	if err := json.Unmarshal(data, &top); err != nil {
		return Overlay{}, st, fmt.Errorf("exodus: not an Exodus tracker export: %w", err)
	}
	if top.Trackers == nil {
		return Overlay{}, st, errors.New(`exodus: no "trackers" object (expected {"trackers": {id: {...}}})`)
	}
	if len(top.Trackers) > maxExodusTrackers {
		return Overlay{}, st, fmt.Errorf("exodus: %d trackers, more than the limit of %d", len(top.Trackers), maxExodusTrackers)
	}
	if existing == nil {
		existing = &Catalogue{}
		existing.buildIndexes()
	}
	warn := func(format string, args ...any) {
		if len(st.Warnings) < maxImportWarnings {
			st.Warnings = append(st.Warnings, fmt.Sprintf(format, args...))
		}
	}
	ids := make([]string, 0, len(top.Trackers))
	for id := range top.Trackers {
		ids = append(ids, id)
	}
	sortTrackerIDs(ids)

	ov := Overlay{Version: overlayFileVersion}
	ext := map[string]*SDKExtension{}
	claimedPrefix := map[string]string{}
	for _, id := range ids {
		st.Trackers++
		if !trackerIDRe.MatchString(id) {
			st.Skipped++
			warn("tracker %.40q: id is not a short alphanumeric key; skipped", id)
			continue
		}
		var tr exodusTracker
		if err := json.Unmarshal(top.Trackers[id], &tr); err != nil {
			st.Skipped++
			warn("tracker %s: %v; skipped", id, err)
			continue
		}
		name := cleanText(tr.Name, 200)
		if name == "" {
			name = "Exodus tracker " + id
		}
		prefixes, bad := splitSignature(tr.CodeSignature, derivePrefix, nil)
		st.BadSignatures += bad
		domains, bad := splitSignature(tr.NetworkSignature, deriveDomain, nil)
		st.BadSignatures += bad
		if len(tr.CodeSignature) > maxSignatureLen || len(tr.NetworkSignature) > maxSignatureLen {
			warn("tracker %s: signature longer than %d characters truncated", id, maxSignatureLen)
		}
		if len(prefixes) == 0 && len(domains) == 0 {
			st.Skipped++
			continue
		}
		var fresh []string
		coveredBy := map[string]bool{}
		prefixes = slices.DeleteFunc(prefixes, func(p string) bool {
			if why := existing.tooBroad(p); why != "" {
				st.BroadPrefixes++
				warn("tracker %s: prefix %s rejected: %s", id, p, why)
				return true
			}
			return false
		})
		for _, p := range prefixes {
			if sdk, ok := existing.SDKForClass(p); ok && sdk.Origin != OriginExodusOverlay {
				coveredBy[sdk.ID] = true
				st.PrefixesCovered++
				continue
			}
			if owner, dup := claimedPrefix[p]; dup {
				warn("tracker %s: prefix %s already imported for %s", id, p, owner)
				continue
			}
			fresh = append(fresh, p)
		}
		if len(fresh) == 0 && len(coveredBy) > 0 {
			// every code signature is already in the catalogue: record the tracker on those SDKs and,
			// when one SDK covers it all, add its domains there.
			st.Extended++
			owners := sortedKeys(coveredBy)
			for _, o := range owners {
				e := ext[o]
				if e == nil {
					e = &SDKExtension{SDK: o}
					ext[o] = e
				}
				e.Exodus = appendNew(e.Exodus, name)
				if len(owners) == 1 {
					have, _ := existing.SDK(o)
					for _, d := range domains {
						if !slices.Contains(have.Domains, d) {
							e.Domains = appendNew(e.Domains, d)
						}
					}
				}
			}
			continue
		}
		if len(fresh) == 0 && len(prefixes) > 0 {
			st.Skipped++ // only duplicates of earlier trackers
			continue
		}
		for _, p := range fresh {
			claimedPrefix[p] = exodusIDPrefix + strings.ToLower(id)
		}
		ov.SDKs = append(ov.SDKs, SDK{
			ID:            exodusIDPrefix + strings.ToLower(id),
			Name:          Text{ZH: name, EN: name},
			Vendor:        cleanText(tr.Website, 200),
			Kind:          exodusKind(tr.Categories),
			ClassPrefixes: fresh,
			Domains:       domains,
			PI:            []string{},
			PISource:      "exodus",
			Origin:        OriginExodusOverlay,
			Exodus:        []string{name},
			Verification:  "imported from an Exodus Privacy tracker export (tracker " + id + "); not reviewed",
		})
		st.NewSDKs++
	}
	for _, o := range sortedKeys(ext) {
		ov.Extensions = append(ov.Extensions, *ext[o])
	}
	return ov, st, nil
}

func appendNew(s []string, v string) []string {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}

// sortTrackerIDs orders numeric ids numerically, then the rest lexically, so that the overlay is
// the same for the same input.
func sortTrackerIDs(ids []string) {
	sort.Slice(ids, func(i, j int) bool {
		a, errA := strconv.Atoi(ids[i])
		b, errB := strconv.Atoi(ids[j])
		switch {
		case errA == nil && errB == nil:
			return a < b
		case errA == nil:
			return true
		case errB == nil:
			return false
		}
		return ids[i] < ids[j]
	})
}

func exodusKind(categories []string) string {
	has := func(s string) bool {
		for _, c := range categories {
			if strings.EqualFold(strings.TrimSpace(c), s) {
				return true
			}
		}
		return false
	}
	switch {
	case has("Advertisement"):
		return "ads"
	case has("Crash reporting"):
		return "crash"
	case has("Analytics"), has("Profiling"):
		return "analytics"
	case has("Identification"):
		return "login"
	case has("Location"):
		return "map"
	}
	return "other"
}

func cleanText(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if len(s) > max {
		s = strings.ToValidUTF8(s[:max], "")
	}
	return s
}

var reflectTypeOverlay = reflect.TypeOf(Overlay{})

// readImport reads an import file of at most max bytes; what names the import in errors.
func readImport(r io.Reader, what string, max int) ([]byte, error) {
	data, err := io.ReadAll(io.LimitReader(r, int64(max)+1))
	if err != nil {
		return nil, fmt.Errorf("%s: read: %w", what, err)
	}
	if len(data) > max {
		return nil, fmt.Errorf("%s: input larger than %d MiB", what, max>>20)
	}
	return data, nil
}

// splitSignature splits a regex of alternatives and keeps those derive accepts (deduplicated, in
// order); it returns how many alternatives it rejected, and hands each rejected one (too long, or
// not accepted by derive) to rejected when it is not nil.
func splitSignature(sig string, derive func(string) (string, bool), rejected func(alt string)) ([]string, int) {
	if len(sig) > maxSignatureLen {
		sig = sig[:maxSignatureLen]
	}
	var out []string
	bad := 0
	for i, alt := range strings.Split(sig, "|") {
		if i >= maxAlternatives {
			bad++
			break
		}
		alt = strings.TrimSpace(alt)
		if alt == "" {
			continue
		}
		v, ok := "", len(alt) <= maxAlternativeLen
		if ok {
			v, ok = derive(alt)
		}
		if !ok {
			bad++
			if rejected != nil {
				rejected(alt)
			}
			continue
		}
		out = appendNew(out, v)
	}
	return out, bad
}

// derivePrefix turns a code-signature alternative ("com.appsflyer.", `com\.umeng\.analytics`,
// "^com.flurry") into a package prefix; regexes other than escaped dots are rejected.
func derivePrefix(alt string) (string, bool) {
	s := strings.TrimPrefix(alt, "^")
	s = strings.ReplaceAll(s, `\.`, ".")
	s = strings.TrimSuffix(s, "$")
	s = strings.TrimSuffix(s, ".*")
	s = strings.TrimSuffix(s, ".")
	if !javaPrefixRe.MatchString(s) || strings.Count(s, ".") < 1 {
		return "", false
	}
	return s, true
}

// deriveDomain turns a network-signature alternative (`umeng\.com`, `.*\.jiguang\.cn`,
// `\.facebook\.com`) into a lower-case host name.
func deriveDomain(alt string) (string, bool) {
	s := strings.TrimPrefix(alt, "^")
	s = strings.TrimPrefix(s, ".*")
	s = strings.ReplaceAll(s, `\.`, ".")
	s = strings.ReplaceAll(s, `\-`, "-")
	s = strings.TrimSuffix(s, "$")
	s = strings.TrimPrefix(s, ".")
	s = strings.ToLower(s)
	if len(s) > 253 || !hostRe.MatchString(s) {
		return "", false
	}
	return s, true
}

// checkJSONDepth rejects nesting deeper than max without decoding.
func checkJSONDepth(data []byte, max int) error {
	depth := 0
	inStr, esc := false, false
	for _, b := range data {
		if inStr {
			switch {
			case esc:
				esc = false
			case b == '\\':
				esc = true
			case b == '"':
				inStr = false
			}
			continue
		}
		switch b {
		case '"':
			inStr = true
		case '{', '[':
			depth++
			if depth > max {
				return fmt.Errorf("JSON nested deeper than %d levels", max)
			}
		case '}', ']':
			depth--
		}
	}
	return nil
}

// Canonical returns the overlay in canonical order: SDKs by id, extensions by SDK, every list
// sorted and deduplicated.
func (o Overlay) Canonical() Overlay {
	out := Overlay{Version: overlayFileVersion, Source: o.Source}
	for _, d := range o.SDKs {
		d.ClassPrefixes = sortedUnique(d.ClassPrefixes)
		d.Domains = sortedUnique(d.Domains)
		d.ManifestKeys = sortedUnique(d.ManifestKeys)
		d.MiniProgramMarkers = sortedUnique(d.MiniProgramMarkers)
		d.PI = sortedUnique(d.PI)
		if d.PI == nil {
			d.PI = []string{}
		}
		d.Exodus = sortedUnique(d.Exodus)
		d.Sources = sortedUnique(d.Sources)
		out.SDKs = append(out.SDKs, d)
	}
	sort.SliceStable(out.SDKs, func(i, j int) bool { return out.SDKs[i].ID < out.SDKs[j].ID })
	for _, e := range o.Extensions {
		e.Exodus = sortedUnique(e.Exodus)
		e.ClassPrefixes = sortedUnique(e.ClassPrefixes)
		e.Domains = sortedUnique(e.Domains)
		out.Extensions = append(out.Extensions, e)
	}
	sort.SliceStable(out.Extensions, func(i, j int) bool { return out.Extensions[i].SDK < out.Extensions[j].SDK })
	out.Signals = slices.Clone(o.Signals)
	sort.SliceStable(out.Signals, func(i, j int) bool {
		a, b := out.Signals[i], out.Signals[j]
		if a.SDK != b.SDK {
			return a.SDK < b.SDK
		}
		return a.Glob < b.Glob
	})
	if out.SDKs == nil {
		out.SDKs = []SDK{}
	}
	return out
}

func sortedUnique(s []string) []string {
	if len(s) == 0 {
		return nil
	}
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
}

// MarshalCanonical returns the overlay's canonical YAML.
func (o Overlay) MarshalCanonical() ([]byte, error) {
	var buf bytes.Buffer
	cmd := "import-exodus"
	if o.Source == "libchecker" {
		cmd = "import-libchecker"
	}
	buf.WriteString("# pilmon SDK overlay: imported tracker signatures, not reviewed. Regenerate with\n# `pilmon rules " + cmd + " FILE`; edit with care.\n")
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(o.Canonical()); err != nil {
		return nil, err
	}
	if err := enc.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// SaveOverlay writes the overlay as canonical YAML, atomically (temp file + rename).
func SaveOverlay(path string, o Overlay) error {
	data, err := o.MarshalCanonical()
	if err != nil {
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	dir := filepath.Dir(path)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	tmp, err := os.CreateTemp(dir, ".overlay-*.yaml")
	if err != nil {
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o644); err != nil {
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("overlay %s: %w", path, err)
	}
	return nil
}

// LoadWithOverlay loads the embedded catalogue and merges the overlay file at overlayPath. An
// empty path, or a path that does not exist (no import done yet), gives the plain catalogue.
// The result is a new catalogue; Default's cached one is not changed.
func LoadWithOverlay(overlayPath string) (*Catalogue, error) {
	return LoadWithOverlays(overlayPath)
}

// LoadWithOverlays is LoadWithOverlay for several overlay files (the Exodus and the LibChecker
// imports), merged in order: an entry of a later overlay never takes a prefix, key or id an
// earlier one has.
func LoadWithOverlays(paths ...string) (*Catalogue, error) {
	return loadWithOverlays(nil, paths...)
}

// loadWithOverlays merges the overlays into the catalogue of fsys (nil: the embedded one).
func loadWithOverlays(fsys fs.FS, paths ...string) (*Catalogue, error) {
	type file struct {
		path string
		data []byte
	}
	var files []file
	for _, p := range paths {
		if p == "" {
			continue
		}
		f, err := os.Open(p)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return nil, fmt.Errorf("overlay: %w", err)
		}
		data, err := io.ReadAll(io.LimitReader(f, MaxExodusBytes+1))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("overlay %s: %w", p, err)
		}
		if len(data) > MaxExodusBytes {
			return nil, fmt.Errorf("overlay %s: larger than %d MiB", p, MaxExodusBytes>>20)
		}
		files = append(files, file{p, data})
	}
	if fsys == nil {
		if len(files) == 0 {
			return Default()
		}
		fsys = embeddedData()
	}
	c, err := Load(fsys)
	if err != nil {
		return nil, err
	}
	var names []string
	for _, f := range files {
		if err := c.mergeOverlay(filepath.Base(f.path), f.data); err != nil {
			return nil, err
		}
		names = append(names, f.path)
	}
	c.overlay = strings.Join(names, ", ")
	return c, nil
}

// mergeOverlay validates overlay YAML against the catalogue and merges it in.
func (c *Catalogue) mergeOverlay(name string, data []byte) error {
	l := &loader{nodes: map[string][]*yaml.Node{}}
	var doc yaml.Node
	if err := safeUnmarshal(data, &doc); err != nil {
		l.addYAMLError(name, nil, err)
		return &LoadError{Problems: l.problems}
	}
	if len(doc.Content) == 0 || doc.Content[0].Kind != yaml.MappingNode {
		l.add(name, &doc, "overlay must be a mapping with version, sdks and extensions")
		return &LoadError{Problems: l.problems}
	}
	root := doc.Content[0]
	if depth(root, 0) > maxYAMLDepth {
		l.add(name, root, "nesting deeper than %d levels", maxYAMLDepth)
		return &LoadError{Problems: l.problems}
	}
	l.checkFields(name, root, reflectTypeOverlay)
	var ov Overlay
	if err := safeDecode(root, &ov); err != nil {
		l.addYAMLError(name, root, err)
	}
	if len(l.problems) > 0 {
		return &LoadError{Problems: l.problems}
	}
	if ov.Version != overlayFileVersion {
		l.add(name, at(root, "version"), "unsupported overlay version %d (want %d)", ov.Version, overlayFileVersion)
	}
	if len(ov.SDKs) > maxOverlaySDKs {
		l.add(name, at(root, "sdks"), "%d SDKs, more than the limit of %d", len(ov.SDKs), maxOverlaySDKs)
		return &LoadError{Problems: l.problems}
	}
	sdkNodes := make([]*yaml.Node, len(ov.SDKs))
	for i := range ov.SDKs {
		sdkNodes[i] = at(root, "sdks", i)
	}
	// Overlay entries must not clash with the catalogue; a prefix the catalogue has since gained is
	// dropped (the reviewed entry wins) rather than refused, so a release does not break overlays.
	var kept []SDK
	var keptNodes []*yaml.Node
	signalSDK := map[string]bool{}
	for _, s := range ov.Signals {
		signalSDK[s.SDK] = true
	}
	for i, d := range ov.SDKs {
		n := sdkNodes[i]
		switch {
		case d.Origin == OriginLibCheckerOverlay:
			if !strings.HasPrefix(d.ID, libCheckerIDPrefix) {
				l.add(name, at(n, "id"), "overlay SDK id %q must start with %q", d.ID, libCheckerIDPrefix)
			}
		case d.Origin != OriginExodusOverlay:
			l.add(name, at(n, "origin"), "overlay SDK %s: origin must be %q or %q", d.ID, OriginExodusOverlay, OriginLibCheckerOverlay)
		case !strings.HasPrefix(d.ID, exodusIDPrefix):
			l.add(name, at(n, "id"), "overlay SDK id %q must start with %q", d.ID, exodusIDPrefix)
		}
		if _, clash := c.sdkByID[d.ID]; clash {
			l.add(name, at(n, "id"), "overlay SDK id %q already in the catalogue", d.ID)
		}
		var pre []string
		for _, p := range d.ClassPrefixes {
			if _, taken := c.sdkByPrefix[p]; !taken {
				pre = append(pre, p)
			}
		}
		d.ClassPrefixes = pre
		var keys []string
		for _, k := range d.ManifestKeys {
			if _, taken := c.sdkByKey[k]; !taken {
				keys = append(keys, k)
			}
		}
		d.ManifestKeys = keys
		if len(d.ClassPrefixes)+len(d.Domains)+len(d.ManifestKeys)+len(d.MiniProgramMarkers) == 0 && !signalSDK[d.ID] {
			continue // nothing left that the catalogue does not already have
		}
		kept = append(kept, d)
		keptNodes = append(keptNodes, n)
	}
	l.signalOnly = signalSDK
	l.validateSDKs(c, name, kept, keptNodes)
	keptIDs := map[string]bool{}
	for _, d := range kept {
		keptIDs[d.ID] = true
	}
	for j, sg := range ov.Signals {
		n := at(root, "signals", j)
		who := "signal " + sg.Kind + " " + sg.Glob
		_, inCatalogue := c.sdkByID[sg.SDK]
		switch {
		case sg.SDK == "" || sg.Glob == "" || sg.Example == "" || sg.Source == "":
			l.add(name, n, "%s: sdk, glob, example and source are required", who)
		case sg.Kind != "lib" && sg.Kind != "asset":
			l.add(name, at(n, "kind"), "%s: kind %q is not lib or asset", who, sg.Kind)
		case !inCatalogue && !keptIDs[sg.SDK]:
			l.add(name, at(n, "sdk"), "%s names unknown SDK %q", who, sg.SDK)
		default:
			key := sg.Example
			if sg.Kind == "lib" {
				key = path.Base(key)
			} else {
				key = strings.TrimPrefix(key, "assets/")
			}
			if m, err := path.Match(sg.Glob, key); err != nil || !m {
				l.add(name, at(n, "example"), "%s: example %q does not match", who, sg.Example)
			}
		}
	}
	for j, e := range ov.Extensions {
		n := at(root, "extensions", j)
		i, ok := c.sdkByID[e.SDK]
		if !ok {
			l.add(name, at(n, "sdk"), "extension names unknown catalogue SDK %q (re-run the import)", e.SDK)
			continue
		}
		for k, p := range e.ClassPrefixes {
			if !javaPrefixRe.MatchString(p) || !strings.Contains(p, ".") {
				l.add(name, at(n, "class_prefixes", k), "extension of %s: class prefix %q is not a dotted Java name", e.SDK, p)
			}
		}
		for k, d := range e.Domains {
			if !hostRe.MatchString(d) {
				l.add(name, at(n, "domains", k), "extension of %s: domain %q is not a lower-case host name", e.SDK, d)
			}
		}
		if len(l.problems) > 0 {
			continue
		}
		sdk := c.sdks[i]
		sdk.ClassPrefixes = slices.Clone(sdk.ClassPrefixes)
		sdk.Domains = slices.Clone(sdk.Domains)
		sdk.Exodus = slices.Clone(sdk.Exodus)
		for _, p := range e.ClassPrefixes {
			if _, taken := c.sdkByPrefix[p]; !taken {
				sdk.ClassPrefixes = append(sdk.ClassPrefixes, p)
				c.sdkByPrefix[p] = i
			}
		}
		for _, d := range e.Domains {
			sdk.Domains = appendNew(sdk.Domains, d)
		}
		for _, x := range e.Exodus {
			sdk.Exodus = appendNew(sdk.Exodus, cleanText(x, 200))
		}
		c.sdks[i] = sdk
	}
	if len(l.problems) > 0 {
		return &LoadError{Problems: l.problems}
	}
	c.sdks = append(c.sdks, kept...)
	c.signals = append(c.signals, ov.Signals...)
	c.buildIndexes()
	return nil
}
