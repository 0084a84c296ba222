package rules

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path"
	"reflect"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"sync"

	"gopkg.in/yaml.v3"
)

//go:embed data/*.yaml
var embedded embed.FS

// Check modes, origins and file names.
const (
	ModeAutomated       = "automated"
	ModeManual          = "manual"
	OriginCatalogue     = "catalogue"
	OriginExodusOverlay = "exodus-overlay"

	FilePICategories     = "pi_categories.yaml"
	FilePermissions      = "permissions.yaml"
	FileSensitiveAPIs    = "sensitive_apis.yaml"
	FileSDKs             = "sdks.yaml"
	FileAppCategories    = "app_categories.yaml"
	FileInstruments      = "legal_instruments.yaml"
	FileObservationKinds = "observation_kinds.yaml"
	FileViolations       = "violations.yaml"
)

// catalogueFiles is the load order and each file's list key.
var catalogueFiles = []struct{ name, key string }{
	{FilePICategories, "categories"},
	{FilePermissions, "permissions"},
	{FileSensitiveAPIs, "apis"},
	{FileSDKs, "sdks"},
	{FileAppCategories, "categories"},
	{FileInstruments, "instruments"},
	{FileObservationKinds, "kinds"},
	{FileViolations, "violations"},
	{FileFamilies, "families"},
	{FileSDKSignals, "signals"},
	{FileCrossBorder, "trackers"},
	{FilePolicyElements, "elements"},
	{FileLibraries, "libraries"},
}

// Limits on catalogue and overlay files: they are reviewed data, but an overlay is user input and
// the loader is fuzzed.
const (
	maxFileBytes = 8 << 20
	maxProblems  = 200
	maxYAMLDepth = 32
)

// Problem is one validation error, located in a file.
type Problem struct {
	File string `json:"file"`
	Line int    `json:"line"`
	Msg  string `json:"msg"`
}

func (p Problem) String() string {
	if p.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", p.File, p.Line, p.Msg)
	}
	return p.File + ": " + p.Msg
}

// LoadError lists every problem found while loading; its message has one "file:line: reason"
// per line.
type LoadError struct {
	Problems []Problem `json:"problems"`
}

func (e *LoadError) Error() string {
	var b strings.Builder
	for i, p := range e.Problems {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(p.String())
	}
	return b.String()
}

var (
	defaultOnce sync.Once
	defaultCat  *Catalogue
	defaultErr  error
)

// Default returns the embedded catalogue, loaded and validated once.
func Default() (*Catalogue, error) {
	defaultOnce.Do(func() {
		defaultCat, defaultErr = Load(embeddedData())
	})
	return defaultCat, defaultErr
}

func embeddedData() fs.FS {
	sub, err := fs.Sub(embedded, "data")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

// EmbeddedFS returns the embedded data folder (for tests and `pilmon rules validate`).
func EmbeddedFS() fs.FS { return embeddedData() }

// loader carries the parsed files and collects problems.
type loader struct {
	problems []Problem
	nodes    map[string][]*yaml.Node // file → item nodes, parallel to the entry slices
}

func (l *loader) add(file string, n *yaml.Node, format string, args ...any) {
	if len(l.problems) >= maxProblems {
		return
	}
	line := 0
	if n != nil {
		line = n.Line
	}
	l.problems = append(l.problems, Problem{File: file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// Load reads and validates the catalogue files at the root of fsys. A missing file leaves its
// section empty (cross-references into it then fail); any other problem is reported in a
// *LoadError naming file and line.
func Load(fsys fs.FS) (*Catalogue, error) {
	c := &Catalogue{}
	l := &loader{nodes: map[string][]*yaml.Node{}}
	known := map[string]bool{}
	for _, f := range catalogueFiles {
		known[f.name] = true
		data, err := readLimited(fsys, f.name)
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			l.add(f.name, nil, "%v", err)
			continue
		}
		c.files = append(c.files, f.name)
		items := l.parseFile(f.name, f.key, data)
		l.nodes[f.name] = items
		switch f.name {
		case FilePICategories:
			c.piCategories = decodeItems[PICategory](l, f.name, items)
		case FilePermissions:
			c.permissions = decodeItems[Permission](l, f.name, items)
		case FileSensitiveAPIs:
			c.apis = decodeItems[SensitiveAPI](l, f.name, items)
		case FileSDKs:
			c.sdks = decodeItems[SDK](l, f.name, items)
			for i := range c.sdks {
				if c.sdks[i].Origin == "" {
					c.sdks[i].Origin = OriginCatalogue
				}
			}
		case FileAppCategories:
			c.appCategories = decodeItems[AppCategory](l, f.name, items)
		case FileInstruments:
			c.instruments = decodeItems[Instrument](l, f.name, items)
		case FileObservationKinds:
			c.kinds = decodeItems[ObservationKind](l, f.name, items)
		case FileViolations:
			c.violations = decodeItems[Violation](l, f.name, items)
		case FileFamilies:
			c.families = decodeItems[Family](l, f.name, items)
		case FileSDKSignals:
			c.signals = decodeItems[SDKSignal](l, f.name, items)
		case FileCrossBorder:
			c.trackers = decodeItems[CrossBorderTracker](l, f.name, items)
		case FilePolicyElements:
			c.elements = decodeItems[PolicyElement](l, f.name, items)
		case FileLibraries:
			c.libraries = decodeItems[Library](l, f.name, items)
		}
	}
	known[FilePolicyPatterns] = true
	if data, err := readLimited(fsys, FilePolicyPatterns); err == nil {
		c.files = append(c.files, FilePolicyPatterns)
		c.policyPatterns = data
	} else if !errors.Is(err, fs.ErrNotExist) {
		l.add(FilePolicyPatterns, nil, "%v", err)
	}
	if entries, err := fs.ReadDir(fsys, "."); err == nil {
		for _, e := range entries {
			if !e.IsDir() && path.Ext(e.Name()) == ".yaml" && !known[e.Name()] {
				l.add(e.Name(), nil, "unknown catalogue file (expected one of %s)", strings.Join(fileNames(), ", "))
			}
		}
	}
	c.buildIndexes()
	l.validate(c)
	if c.policyPatterns != nil {
		l.checkPolicyPatterns(c, c.policyPatterns)
	}
	if len(l.problems) > 0 {
		return nil, &LoadError{Problems: l.problems}
	}
	return c, nil
}

func fileNames() []string {
	var s []string
	for _, f := range catalogueFiles {
		s = append(s, f.name)
	}
	return append(s, FilePolicyPatterns)
}

func readLimited(fsys fs.FS, name string) ([]byte, error) {
	f, err := fsys.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxFileBytes+1))
	if err != nil {
		return nil, err
	}
	if len(data) > maxFileBytes {
		return nil, fmt.Errorf("file larger than %d bytes", maxFileBytes)
	}
	return data, nil
}

// parseFile checks the top level ("version: 1" and the list key) and returns the list's items.
func (l *loader) parseFile(file, key string, data []byte) []*yaml.Node {
	var doc yaml.Node
	if err := safeUnmarshal(data, &doc); err != nil {
		l.addYAMLError(file, nil, err)
		return nil
	}
	if doc.Kind == 0 || len(doc.Content) == 0 {
		l.add(file, nil, "empty file")
		return nil
	}
	root := doc.Content[0]
	if depth(root, 0) > maxYAMLDepth {
		l.add(file, root, "nesting deeper than %d levels", maxYAMLDepth)
		return nil
	}
	if root.Kind != yaml.MappingNode {
		l.add(file, root, "top level must be a mapping with \"version\" and %q", key)
		return nil
	}
	var items []*yaml.Node
	seenVersion, seenKey := false, false
	for i := 0; i+1 < len(root.Content); i += 2 {
		k, v := root.Content[i], root.Content[i+1]
		switch k.Value {
		case "version":
			seenVersion = true
			if v.Kind != yaml.ScalarNode || v.Value != "1" {
				l.add(file, v, "unsupported version %q (want 1)", v.Value)
			}
		case key:
			seenKey = true
			if v.Kind != yaml.SequenceNode {
				if !(v.Kind == yaml.ScalarNode && v.Tag == "!!null") {
					l.add(file, v, "%q must be a list", key)
				}
				continue
			}
			items = v.Content
		default:
			l.add(file, k, "unknown top-level key %q (want \"version\" and %q)", k.Value, key)
		}
	}
	if !seenVersion {
		l.add(file, root, "missing \"version: 1\"")
	}
	if !seenKey {
		l.add(file, root, "missing %q list", key)
	}
	return items
}

// safeUnmarshal turns a panic inside the YAML library into an error: the loader must not crash
// on a hostile overlay.
func safeUnmarshal(data []byte, out *yaml.Node) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return yaml.Unmarshal(data, out)
}

func depth(n *yaml.Node, d int) int {
	if d > maxYAMLDepth {
		return d
	}
	m := d
	for _, c := range n.Content {
		if x := depth(c, d+1); x > m {
			m = x
		}
	}
	return m
}

// decodeItems decodes each list item into T, reporting unknown fields and type errors with
// their line. An item that fails to decode is dropped from the result and its node replaced by
// nil so that entries and nodes stay parallel.
func decodeItems[T any](l *loader, file string, items []*yaml.Node) []T {
	out := make([]T, 0, len(items))
	kept := make([]*yaml.Node, 0, len(items))
	var zero T
	t := reflect.TypeOf(zero)
	for _, n := range items {
		if n.Kind != yaml.MappingNode {
			l.add(file, n, "list item must be a mapping")
			continue
		}
		before := len(l.problems)
		l.checkFields(file, n, t)
		var v T
		if err := safeDecode(n, &v); err != nil {
			l.addYAMLError(file, n, err)
		}
		if len(l.problems) > before {
			continue
		}
		out = append(out, v)
		kept = append(kept, n)
	}
	l.nodes[file] = kept
	return out
}

func safeDecode(n *yaml.Node, v any) (err error) {
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("yaml: %v", r)
		}
	}()
	return n.Decode(v)
}

var yamlLineRe = regexp.MustCompile(`^(?:yaml: )?line (\d+): (.*)$`)

// addYAMLError splits a yaml.v3 error ("line 12: cannot unmarshal …") into located problems.
func (l *loader) addYAMLError(file string, n *yaml.Node, err error) {
	var pe *posError
	if errors.As(err, &pe) {
		l.problems = append(l.problems, Problem{File: file, Line: pe.line, Msg: pe.msg})
		return
	}
	var msgs []string
	var te *yaml.TypeError
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{err.Error()}
	}
	for _, m := range msgs {
		if len(l.problems) >= maxProblems {
			return
		}
		if mm := yamlLineRe.FindStringSubmatch(m); mm != nil {
			line, _ := strconv.Atoi(mm[1])
			l.problems = append(l.problems, Problem{File: file, Line: line, Msg: mm[2]})
			continue
		}
		l.add(file, n, "%s", strings.TrimPrefix(m, "yaml: "))
	}
}

// posError is an error with a line, returned by custom unmarshalers.
type posError struct {
	line int
	msg  string
}

func (e *posError) Error() string { return fmt.Sprintf("line %d: %s", e.line, e.msg) }

var fieldCache sync.Map // reflect.Type → map[string]reflect.Type

// yamlFields maps a struct's YAML keys to their field types.
func yamlFields(t reflect.Type) map[string]reflect.Type {
	if m, ok := fieldCache.Load(t); ok {
		return m.(map[string]reflect.Type)
	}
	m := map[string]reflect.Type{}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.IsExported() {
			continue
		}
		name, _, _ := strings.Cut(f.Tag.Get("yaml"), ",")
		if name == "-" {
			continue
		}
		if name == "" {
			name = strings.ToLower(f.Name)
		}
		m[name] = f.Type
	}
	fieldCache.Store(t, m)
	return m
}

var citationType = reflect.TypeOf(Citation{})

// checkFields reports mapping keys that name no field (typos such as "outside_necesary_scope"
// would otherwise be ignored silently) and duplicate keys.
func (l *loader) checkFields(file string, n *yaml.Node, t reflect.Type) {
	for t.Kind() == reflect.Pointer {
		t = t.Elem()
	}
	switch t.Kind() {
	case reflect.Struct:
		if t == citationType || n.Kind != yaml.MappingNode {
			return
		}
		fields := yamlFields(t)
		seen := map[string]bool{}
		for i := 0; i+1 < len(n.Content); i += 2 {
			k := n.Content[i]
			ft, ok := fields[k.Value]
			if !ok {
				l.add(file, k, "unknown field %q in %s (known: %s)", k.Value, t.Name(), strings.Join(sortedKeys(fields), ", "))
				continue
			}
			if seen[k.Value] {
				l.add(file, k, "duplicate field %q", k.Value)
			}
			seen[k.Value] = true
			l.checkFields(file, n.Content[i+1], ft)
		}
	case reflect.Slice:
		if n.Kind != yaml.SequenceNode {
			return
		}
		for _, c := range n.Content {
			l.checkFields(file, c, t.Elem())
		}
	}
}

func sortedKeys[V any](m map[string]V) []string {
	s := make([]string, 0, len(m))
	for k := range m {
		s = append(s, k)
	}
	sort.Strings(s)
	return s
}

// at walks from n along mapping keys (string) and sequence indexes (int) and returns the deepest
// node reached, so a problem always has a line even when the field is missing.
func at(n *yaml.Node, pathElems ...any) *yaml.Node {
	cur := n
	for _, p := range pathElems {
		if cur == nil {
			return n
		}
		var next *yaml.Node
		switch k := p.(type) {
		case string:
			if cur.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(cur.Content); i += 2 {
					if cur.Content[i].Value == k {
						next = cur.Content[i+1]
						break
					}
				}
			}
		case int:
			if cur.Kind == yaml.SequenceNode && k >= 0 && k < len(cur.Content) {
				next = cur.Content[k]
			}
		}
		if next == nil {
			return cur
		}
		cur = next
	}
	return cur
}

// keyNode returns the key node of a mapping entry (for "where: {bogus: x}" problems).
func keyNode(n *yaml.Node, key string) *yaml.Node {
	if n != nil && n.Kind == yaml.MappingNode {
		for i := 0; i+1 < len(n.Content); i += 2 {
			if n.Content[i].Value == key {
				return n.Content[i]
			}
		}
	}
	return n
}

// UnmarshalYAML reads a citation written as "instrument:article" ("pipl:17", "rdff2019:3.1").
func (c *Citation) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return &posError{n.Line, "legal citation must be a string \"instrument:article\""}
	}
	in, art, ok := strings.Cut(strings.TrimSpace(n.Value), ":")
	in, art = strings.TrimSpace(in), strings.TrimSpace(art)
	if !ok || in == "" || art == "" {
		return &posError{n.Line, fmt.Sprintf("legal citation %q must be \"instrument:article\"", n.Value)}
	}
	art, ver, _ := strings.Cut(art, "@")
	art, ver = strings.TrimSpace(art), strings.TrimSpace(ver)
	if art == "" || (strings.Contains(n.Value, "@") && ver == "") {
		return &posError{n.Line, fmt.Sprintf("legal citation %q must be \"instrument:article\" or \"instrument:article@version\"", n.Value)}
	}
	c.Instrument, c.Article, c.Version = in, art, ver
	return nil
}

// MarshalYAML writes the citation back as "instrument:article".
func (c Citation) MarshalYAML() (any, error) { return c.String(), nil }

// String returns "instrument:article" or "instrument:article@version".
func (c Citation) String() string {
	if c.Version != "" {
		return c.Instrument + ":" + c.Article + "@" + c.Version
	}
	return c.Instrument + ":" + c.Article
}
