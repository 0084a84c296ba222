package scanner

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime/debug"
	"strings"
	"time"

	"pilmon/evidence"
)

// FileError is one input that could not be read, or read only in part: the file (or URL) and the
// reason in words a user can act on. Stacks of recovered panics go to the debug log, never here.
type FileError struct {
	Path   string `json:"path"`
	Reason string `json:"reason"`
}

// Error formats the record as "path: reason".
func (e FileError) Error() string {
	if e.Path == "" {
		return e.Reason
	}
	return e.Path + ": " + e.Reason
}

// UnmarshalJSON also reads the plain "path: reason" strings of records written before errors
// were structured, keeping the whole string as the reason.
func (e *FileError) UnmarshalJSON(b []byte) error {
	if len(b) > 0 && b[0] == '"' {
		var s string
		if err := json.Unmarshal(b, &s); err != nil {
			return err
		}
		*e = FileError{Reason: s}
		return nil
	}
	type plain FileError
	return json.Unmarshal(b, (*plain)(e))
}

// Errorf returns a FileError for path with a formatted reason.
func Errorf(path, format string, args ...any) FileError {
	return FileError{Path: path, Reason: fmt.Sprintf(format, args...)}
}

// StatusFrom is the one place a report's status is derived: no errors is success, errors beside
// some observations a partial success, errors and nothing observed a failure.
func StatusFrom(errs []FileError, observations int) Status {
	switch {
	case len(errs) == 0:
		return StatusSucceeded
	case observations > 0:
		return StatusPartial
	default:
		return StatusFailed
	}
}

// KindSpec declares one source kind an inspector reads and how the core opens it. Exactly the
// layouts set are accepted: a locator of another layout is refused with a FileError.
//
// Besides how it is opened, a kind declares everything the rest of pilmon needs to know about it:
// its label, the target kind it implies, how it is recognised by content, whether the dashboard
// accepts uploads of it, and the source options it reads. Detection (DetectKind), validation
// (targets), the CLI and the dashboard read these declarations; none of them lists kinds itself.
type KindSpec struct {
	Kind SourceKind
	// Label names the kind for people (the dashboard's upload form, errors, help texts).
	Label Label
	// Target is the kind of target a source of this kind implies (TargetMiniProgram for a
	// mini-program package); empty when it implies none (a policy or a capture may belong to any).
	Target TargetKind
	// Detect recognises a file or folder of this kind by its content; nil: never detected, the
	// kind is given explicitly.
	Detect *DetectSpec
	// Upload lets the dashboard accept files of this kind; nil: not uploadable.
	Upload *UploadSpec
	// Options are the source options the kind reads; targets refuse any other.
	Options []OptionSpec
	// File accepts a regular file: the core opens it, applies the limit, stores it and hands it over.
	File *FileSpec
	// Members accepts a folder of files of this kind (such as the packages of one mini-program side
	// by side); each member is opened, limited and stored as File says.
	Members *MembersSpec
	// Tree accepts a folder whose regular files together are one input (a source tree): the core
	// reads them within the limits and stores them as one deterministic zip.
	Tree *TreeSpec
	// URL accepts a URL the inspector captures itself (through the browser) and stores through
	// Input.Sink; the core only times, recovers and records it.
	URL bool
	// Inventory is the scan.inventory flag a usable report of this kind sets ("has_app",
	// "has_policy", "has_traffic").
	Inventory string
	// Signals set further scan.inventory flags when an observation of this kind's reports matches.
	Signals []Signal
	// ProvidesKnown: sources of this kind report device values the app was seen reading
	// (Output.Known). In a scan they run before the other sources of their session, which receive
	// those values in Input.Known.
	ProvidesKnown bool
}

// Label is a name in Chinese and English.
type Label struct {
	ZH string `json:"zh"`
	EN string `json:"en"`
}

// String gives both names, "zh / en".
func (l Label) String() string {
	switch {
	case l.ZH == "":
		return l.EN
	case l.EN == "":
		return l.ZH
	}
	return l.ZH + " / " + l.EN
}

// UploadSpec describes how the dashboard stores an uploaded file of a kind.
type UploadSpec struct {
	// Exts are the file extensions an uploaded copy may be named with (".apk"); the first is the
	// default, another is kept when the uploaded file's name ends with it (".txt" for a policy).
	Exts []string
}

// Ext is the extension for an uploaded file of this name.
func (u UploadSpec) Ext(name string) string {
	lower := strings.ToLower(name)
	for _, e := range u.Exts[1:] {
		if strings.HasSuffix(lower, strings.ToLower(e)) {
			return e
		}
	}
	return u.Exts[0]
}

// OptionSpec declares one source option of a kind.
type OptionSpec struct {
	Name string
	// Help says what the option means, for help texts and errors.
	Help string
	// Path options name a local file: they are resolved inside the import folder as locators are.
	Path bool
	// Date options hold a calendar date, YYYY-MM-DD.
	Date bool
}

// CommonOptions are the options every source kind takes besides its own.
var CommonOptions = []OptionSpec{
	// The law a finding cites is the law in force on the date its evidence speaks for; an analyst
	// who knows that date better than pilmon (an archived copy, a saved page) gives it here.
	{Name: "as_of", Date: true, Help: "证据所反映的日期 YYYY-MM-DD，决定适用的法律版本 / the date the source shows the app as of (YYYY-MM-DD); chooses the law in force"},
	// Sources recorded together on one test phone (a hook log and the traffic captured meanwhile)
	// share a session name: what the hook log saw the app read is then looked for in the traffic.
	{Name: SessionOption, Help: "同一测试会话的名称：同名来源（挂钩日志、同时抓取的流量）互相关联 / the test session the source was recorded in: sources with the same name (hook log, traffic captured meanwhile) are joined"},
}

// Option returns the kind's declaration of the option name, or the common option of that name.
func (k KindSpec) Option(name string) (OptionSpec, bool) {
	for _, o := range k.Options {
		if o.Name == name {
			return o, true
		}
	}
	for _, o := range CommonOptions {
		if o.Name == name {
			return o, true
		}
	}
	return OptionSpec{}, false
}

// KindsOf returns the kinds the inspectors declare, in the order they are asked; a kind declared
// twice is the first inspector's (the one the scan hands such sources to).
func KindsOf(ins []Inspector) []KindSpec {
	var out []KindSpec
	seen := map[SourceKind]bool{}
	for _, in := range ins {
		for _, k := range in.Kinds() {
			if !seen[k.Kind] {
				seen[k.Kind] = true
				out = append(out, k)
			}
		}
	}
	return out
}

// LookupKind returns the declaration of kind among kinds.
func LookupKind(kinds []KindSpec, kind SourceKind) (KindSpec, bool) {
	for _, k := range kinds {
		if k.Kind == kind {
			return k, true
		}
	}
	return KindSpec{}, false
}

// KindNames lists the kinds' names, for help texts and errors.
func KindNames(kinds []KindSpec) []string {
	out := make([]string, len(kinds))
	for i, k := range kinds {
		out[i] = string(k.Kind)
	}
	return out
}

// Signal sets the scan.inventory flag Flag when an observation has kind Kind and every attribute
// of Attrs with an equal value.
type Signal struct {
	Flag  string
	Kind  string
	Attrs map[string]any
}

func (s Signal) matches(o Observation) bool {
	if o.Kind != s.Kind {
		return false
	}
	for k, v := range s.Attrs {
		if o.Attributes[k] != v {
			return false
		}
	}
	return true
}

// FileSpec bounds a file input and describes it as evidence.
type FileSpec struct {
	// MaxBytes refuses larger files before anything is stored (required).
	MaxBytes int64
	// KeepStart stores and inspects the first MaxBytes of a larger file, with a FileError saying
	// so, instead of refusing it.
	KeepStart bool
	Store     StoreSpec
}

// MembersSpec selects the members of a folder of files of one kind.
type MembersSpec struct {
	// Suffix selects the member files (case-insensitive), e.g. ".wxapkg".
	Suffix string
	// Max bounds the members read; the rest are reported.
	Max int
}

// TreeSpec bounds a source folder. Symlinks are never followed and nothing outside the folder is
// opened.
type TreeSpec struct {
	MaxFiles      int
	MaxFileBytes  int64 // a larger file is skipped and reported
	MaxTotalBytes int64
	// SkipDirs are folder names not descended into (node_modules, .git).
	SkipDirs []string
	Store    StoreSpec
}

// StoreSpec is the evidence metadata of a stored input.
type StoreSpec struct {
	Method    string // default "file_import"
	MediaType string
	// MediaTypeOf, when set, decides the media type from the name and the first 64 KiB.
	MediaTypeOf func(name string, head []byte) string
	Note        string
	Tool        string // default "pilmon"
}

// Input is an opened source: what the inspector analyses. The core closes it after Inspect.
type Input struct {
	Source Source
	// Path is the file or folder (the locator, or a member's path).
	Path string
	// Reader and Size give a file's content (the first Size bytes when cut at the limit).
	Reader io.ReaderAt
	Size   int64
	// Ref is the stored input; zero for URL sources.
	Ref evidence.Ref
	// Members are the opened member files of a folder of this kind, in name order.
	Members []*Input
	// Files are the regular files of a source folder, sorted by path.
	Files []TreeFile
	// Sink stores what the inspector derives or captures (decrypted packages, browser captures).
	Sink EvidenceSink
	// Now is the clock for evidence the inspector stores.
	Now func() time.Time
	// Known are the device values the sources of this source's session that provide them
	// (KindSpec.ProvidesKnown) saw the app read; empty outside a session.
	Known []KnownValue
	// Session are the observations of those providing sources (a hook log's calls, consent and
	// refusal), for a source that puts the session's events on one timeline.
	Session []Observation
	// SessionName is the source's session, "" outside one.
	SessionName string
	// Prior is the newest package an earlier scan of the target fetched from this source (URL
	// sources of packages only; nil when none is known or the scan keeps no versions).
	Prior *PackageVersion
}

// Bytes reads the whole file input (the core has already bounded Size).
func (in *Input) Bytes() ([]byte, error) {
	if in.Reader == nil {
		return nil, fmt.Errorf("%s: not a file input", in.Path)
	}
	b := make([]byte, in.Size)
	n, err := in.Reader.ReadAt(b, 0)
	if int64(n) == in.Size {
		return b, nil
	}
	if err == nil || errors.Is(err, io.EOF) {
		err = io.ErrUnexpectedEOF
	}
	return b[:n], err
}

// Output is what an inspector observed in one input.
type Output struct {
	Observations []Observation
	// Artifacts are what the inspector stored through Input.Sink, after the input itself.
	Artifacts []evidence.Ref
	Errors    []FileError
	// Known are device values the app was seen reading, for the other sources of the session
	// (kinds with ProvidesKnown only).
	Known []KnownValue
	// Package is what a remote package source fetched (see PackageVersion).
	Package *PackageVersion
}

// Inspector reads one or more kinds of input. The core opens, limits, stores and recovers; an
// inspector only analyses what it is handed, and reports what it could not read as FileErrors.
type Inspector interface {
	// Name is a short stable identifier such as "apkinspect".
	Name() string
	// Version changes whenever the inspector's output for the same input can change.
	Version() string
	// Kinds declares the source kinds the inspector reads; the core hands it no other.
	Kinds() []KindSpec
	// Inspect analyses one opened input.
	Inspect(ctx context.Context, in *Input) Output
}

// SpecFor returns insp's declaration of kind, if it reads that kind.
func SpecFor(insp Inspector, kind SourceKind) (KindSpec, bool) {
	for _, k := range insp.Kinds() {
		if k.Kind == kind {
			return k, true
		}
	}
	return KindSpec{}, false
}

// InspectSource runs insp on one source through the core's frame with a background clock: the
// entry point for tests and benchmarks of a single inspector.
func InspectSource(ctx context.Context, insp Inspector, src Source, sink EvidenceSink) Report {
	return runOne(ctx, insp, src, sink, 0, time.Now, nil, nil)
}

// runOne opens src, lets insp analyse it with a timeout, and turns a panic into a FileError, so a
// hostile input can never take down a worker.
func runOne(ctx context.Context, insp Inspector, src Source, sink EvidenceSink, timeout time.Duration, now func() time.Time, sess *sessionData, prior *PackageVersion) (rep Report) {
	rep = Report{Inspector: insp.Name(), InspectorVersion: insp.Version(), Source: src,
		Observations: []Observation{}, Evidence: []evidence.Ref{}}
	spec, ok := SpecFor(insp, src.Kind)
	if !ok {
		rep.Status = StatusSkipped
		rep.Errors = []FileError{Errorf(src.Locator, "inspector %s does not read sources of kind %q", insp.Name(), src.Kind)}
		return rep
	}
	if timeout > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, timeout)
		defer cancel()
	}
	in, closeInput, errs := open(src, spec, sink, insp, now)
	defer closeInput()
	rep.Errors = append(rep.Errors, errs...)
	if in == nil {
		rep.Status = StatusFailed
		return rep
	}
	rep.Evidence = append(rep.Evidence, stored(in)...)
	if sess != nil {
		in.Known, in.Session, in.SessionName = sess.known, sess.obs, sessionOf(src)
	}
	in.Prior = prior
	out, panicked := inspect(ctx, insp, in)
	if spec.ProvidesKnown {
		rep.known = out.Known
	}
	rep.Errors = append(rep.Errors, out.Errors...)
	if panicked {
		rep.Errors = append(rep.Errors, Errorf(src.Locator, "inspector %s/%s failed on this input (internal error; the debug log has the details, please report the input)", insp.Name(), insp.Version()))
	}
	if err := ctx.Err(); err != nil && len(rep.Errors) == 0 {
		rep.Errors = append(rep.Errors, Errorf(src.Locator, "inspection stopped before the end: %v", err))
	}
	rep.Observations = append(rep.Observations, out.Observations...)
	rep.Evidence = append(rep.Evidence, out.Artifacts...)
	rep.Status = StatusFrom(rep.Errors, len(rep.Observations))
	if out.Package != nil && !panicked {
		rep.Package = out.Package
		if out.Package.Unchanged && len(rep.Errors) == 0 {
			rep.Status = StatusUnchanged
		}
	}
	for _, o := range rep.Observations {
		for _, s := range spec.Signals {
			if s.matches(o) {
				rep.inventory = appendUnique(rep.inventory, s.Flag)
			}
		}
	}
	if spec.Inventory != "" && rep.Status != StatusFailed {
		rep.inventory = appendUnique(rep.inventory, spec.Inventory)
	}
	return rep
}

func appendUnique(s []string, v string) []string {
	for _, x := range s {
		if x == v {
			return s
		}
	}
	return append(s, v)
}

// inspect calls insp and recovers a panic; the stack goes to the debug log only.
func inspect(ctx context.Context, insp Inspector, in *Input) (out Output, panicked bool) {
	defer func() {
		if p := recover(); p != nil {
			out, panicked = Output{}, true
			slog.Debug("inspector panicked", "inspector", insp.Name(), "version", insp.Version(),
				"source", in.Source.Locator, "panic", fmt.Sprint(p), "stack", string(debug.Stack()))
		}
	}()
	return insp.Inspect(ctx, in), false
}

// stored lists the stored inputs: the file, or each member in order, or the tree's archive.
func stored(in *Input) []evidence.Ref {
	var out []evidence.Ref
	if in.Ref.SHA256 != "" {
		out = append(out, in.Ref)
	}
	for _, m := range in.Members {
		out = append(out, m.Ref)
	}
	return out
}

// open opens src as spec declares and stores it. A nil Input means there is nothing to inspect;
// the returned function closes what was opened.
func open(src Source, spec KindSpec, sink EvidenceSink, insp Inspector, now func() time.Time) (*Input, func(), []FileError) {
	if sink == nil {
		sink = discardSink{}
	}
	in := &Input{Source: src, Path: src.Locator, Sink: sink, Now: now}
	nop := func() {}
	if spec.URL {
		return in, nop, nil
	}
	st, err := os.Stat(src.Locator)
	if err != nil {
		return nil, nop, []FileError{{Path: src.Locator, Reason: reasonOf(err)}}
	}
	switch {
	case st.IsDir() && spec.Tree != nil:
		files, errs, err := ReadTree(context.Background(), src.Locator, *spec.Tree)
		if err != nil {
			return nil, nop, append(errs, FileError{Path: src.Locator, Reason: reasonOf(err)})
		}
		archive, err := TreeArchive(files)
		if err != nil {
			return nil, nop, append(errs, Errorf(src.Locator, "archiving the folder: %v", err))
		}
		ref, err := put(sink, bytesReader(archive), spec.Tree.Store, src.Locator, "application/zip", nil, insp, now)
		if err != nil {
			return nil, nop, append(errs, Errorf(src.Locator, "storing evidence: %v", err))
		}
		in.Ref, in.Files = ref, files
		if in.Files == nil {
			in.Files = []TreeFile{}
		}
		return in, nop, errs
	case st.IsDir() && spec.Members != nil:
		return openMembers(in, spec, sink, insp, now)
	case st.IsDir():
		return nil, nop, []FileError{Errorf(src.Locator, "is a folder; a %s source is a file", src.Kind)}
	case spec.File == nil:
		return nil, nop, []FileError{Errorf(src.Locator, "is a file; a %s source is a folder", src.Kind)}
	}
	f, errs := openFile(in, *spec.File, sink, insp, now)
	if f == nil {
		return nil, nop, errs
	}
	return in, func() { f.Close() }, errs
}

func openMembers(in *Input, spec KindSpec, sink EvidenceSink, insp Inspector, now func() time.Time) (*Input, func(), []FileError) {
	var files []*os.File
	closeAll := func() {
		for _, f := range files {
			f.Close()
		}
	}
	entries, err := os.ReadDir(in.Path)
	if err != nil {
		return nil, closeAll, []FileError{{Path: in.Path, Reason: reasonOf(err)}}
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(strings.ToLower(e.Name()), strings.ToLower(spec.Members.Suffix)) {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, closeAll, []FileError{Errorf(in.Path, "no %s file in the folder", spec.Members.Suffix)}
	}
	var errs []FileError
	if spec.Members.Max > 0 && len(names) > spec.Members.Max {
		errs = append(errs, Errorf(in.Path, "%d %s files, only the first %d read", len(names), spec.Members.Suffix, spec.Members.Max))
		names = names[:spec.Members.Max]
	}
	for _, n := range names {
		m := &Input{Source: in.Source, Path: filepath.Join(in.Path, n), Sink: in.Sink, Now: in.Now}
		f, merrs := openFile(m, *spec.File, sink, insp, now)
		errs = append(errs, merrs...)
		if f == nil {
			continue
		}
		files = append(files, f)
		in.Members = append(in.Members, m)
	}
	if len(in.Members) == 0 {
		return nil, closeAll, errs
	}
	return in, closeAll, errs
}

// openFile opens, limits and stores one file input; on success the caller closes the file.
func openFile(in *Input, spec FileSpec, sink EvidenceSink, insp Inspector, now func() time.Time) (*os.File, []FileError) {
	f, err := os.Open(in.Path)
	if err != nil {
		return nil, []FileError{{Path: in.Path, Reason: reasonOf(err)}}
	}
	st, err := f.Stat()
	switch {
	case err != nil:
		f.Close()
		return nil, []FileError{{Path: in.Path, Reason: reasonOf(err)}}
	case !st.Mode().IsRegular():
		f.Close()
		return nil, []FileError{Errorf(in.Path, "not a regular file")}
	}
	var errs []FileError
	size := st.Size()
	if spec.MaxBytes > 0 && size > spec.MaxBytes {
		if !spec.KeepStart {
			f.Close()
			return nil, []FileError{Errorf(in.Path, "%d bytes, over the %d-byte limit", size, spec.MaxBytes)}
		}
		errs = append(errs, Errorf(in.Path, "larger than %d bytes, only the start was analysed", spec.MaxBytes))
		size = spec.MaxBytes
	}
	head := make([]byte, min(size, 64<<10))
	if _, err := f.ReadAt(head, 0); err != nil && !errors.Is(err, io.EOF) {
		f.Close()
		return nil, []FileError{{Path: in.Path, Reason: reasonOf(err)}}
	}
	ref, err := put(sink, io.NewSectionReader(f, 0, size), spec.Store, in.Path, "", head, insp, now)
	if err != nil {
		f.Close()
		return nil, []FileError{Errorf(in.Path, "storing evidence: %v", err)}
	}
	if ref.Size != size {
		f.Close()
		return nil, []FileError{Errorf(in.Path, "stored %d bytes but the file has %d (changed while read?)", ref.Size, size)}
	}
	in.Reader, in.Size, in.Ref = f, size, ref
	return f, errs
}

func put(sink EvidenceSink, r io.Reader, s StoreSpec, path, mediaType string, head []byte, insp Inspector, now func() time.Time) (evidence.Ref, error) {
	if s.MediaType != "" {
		mediaType = s.MediaType
	}
	if s.MediaTypeOf != nil {
		mediaType = s.MediaTypeOf(path, head)
	}
	method, tool := s.Method, s.Tool
	if method == "" {
		method = "file_import"
	}
	if tool == "" {
		tool = "pilmon"
	}
	return sink.Put(r, evidence.Meta{CapturedAt: now().UTC(), Method: method, Source: path, Tool: tool,
		Inspector: insp.Name() + "/" + insp.Version(), MediaType: mediaType, Note: s.Note})
}

// reasonOf words an error without repeating the path the FileError already names.
func reasonOf(err error) string {
	var pe *os.PathError
	if errors.As(err, &pe) {
		return pe.Op + ": " + pe.Err.Error()
	}
	return err.Error()
}

// JoinErrors formats errs as "path: reason" strings separated by sep.
func JoinErrors(errs []FileError, sep string) string {
	s := make([]string, len(errs))
	for i, e := range errs {
		s[i] = e.Error()
	}
	return strings.Join(s, sep)
}

// discardSink stands in for a missing sink: the input is read (so sizes are checked) and dropped.
type discardSink struct{}

func (discardSink) Put(r io.Reader, _ evidence.Meta) (evidence.Ref, error) {
	n, err := io.Copy(io.Discard, r)
	return evidence.Ref{Size: n}, err
}
