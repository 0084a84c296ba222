package miniprogram

import (
	"archive/zip"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"runtime/debug"
	"sort"
	"strings"
	"time"

	"pilmon/evidence"
	"pilmon/rules"
	"pilmon/scanner"
)

// Options bound and configure an Inspector. Zero values take the defaults.
type Options struct {
	// Limits bound the .wxapkg reader.
	Limits Limits
	// MaxDirFiles bounds the files read from an unpacked folder (default 20,000).
	MaxDirFiles int
	// MaxDirFileBytes bounds one file of a folder (default 32 MiB); larger files are skipped.
	MaxDirFileBytes int64
	// MaxDirTotalBytes bounds all files of a folder together (default 512 MiB).
	MaxDirTotalBytes int64
	// AppID is used for encrypted packages when the source names none (Source.Options["appid"]
	// first, then this, then the path).
	AppID string
	// Tool is recorded in evidence metadata (default "pilmon").
	Tool string
}

func (o Options) withDefaults() Options {
	o.Limits = o.Limits.withDefaults()
	if o.MaxDirFiles <= 0 {
		o.MaxDirFiles = 20_000
	}
	if o.MaxDirFileBytes <= 0 {
		o.MaxDirFileBytes = 32 << 20
	}
	if o.MaxDirTotalBytes <= 0 {
		o.MaxDirTotalBytes = 512 << 20
	}
	if o.Tool == "" {
		o.Tool = "pilmon"
	}
	return o
}

// Inspector reads .wxapkg packages and unpacked mini-program folders.
type Inspector struct {
	cat  catalogue
	opts Options
}

var _ scanner.Inspector = (*Inspector)(nil)

// New returns an Inspector. cat may be nil: SDKs are then recognised by pilmon's own
// mini-program heuristics only, and mp.sdk carries no PI.
func New(cat *rules.Catalogue, opts Options) *Inspector {
	in := &Inspector{opts: opts.withDefaults()}
	if cat != nil {
		in.cat = cat
	}
	return in
}

func (in *Inspector) Name() string    { return Name }
func (in *Inspector) Version() string { return Version }

// Accepts takes .wxapkg files and mini-program folders.
func (in *Inspector) Accepts(src scanner.Source) bool {
	return src.Kind == scanner.SourceWxapkg || src.Kind == scanner.SourceMPDir
}

// Inspect stores the input first — a .wxapkg as is (and, when it was PC-encrypted, its decrypted
// form as a derived artifact); a folder as a deterministic zip of its regular files (sorted paths,
// stored uncompressed, fixed 1980-01-01 timestamps, so the same folder always gives the same
// SHA-256) — and then reports what it observed. Every observation refers to the stored artifacts.
func (in *Inspector) Inspect(ctx context.Context, src scanner.Source, sink scanner.EvidenceSink) (rep scanner.Report) {
	rep = scanner.Report{Inspector: Name, InspectorVersion: Version, Source: src, Status: scanner.StatusFailed, Observations: []scanner.Observation{}}
	defer func() {
		if r := recover(); r != nil {
			rep.Status = scanner.StatusFailed
			rep.Errors = append(rep.Errors, fmt.Sprintf("%s: internal error: %v\n%s", src.Locator, r, debug.Stack()))
		}
	}()
	var files []File
	var problems []error
	id := identity{}
	switch src.Kind {
	case scanner.SourceWxapkg:
		if st, err := os.Stat(src.Locator); err == nil && st.IsDir() {
			files, problems, id = in.readPackageDir(src, sink, &rep)
		} else {
			files, problems, id = in.readPackage(src, sink, &rep)
		}
	case scanner.SourceMPDir:
		files, problems, id = in.readDir(ctx, src, sink, &rep)
	default:
		rep.Status = scanner.StatusSkipped
		rep.Errors = append(rep.Errors, fmt.Sprintf("%s: source kind %q is not a mini-program", src.Locator, src.Kind))
		return rep
	}
	for _, p := range problems {
		rep.Errors = append(rep.Errors, p.Error())
	}
	if files == nil && (src.Kind == scanner.SourceWxapkg || len(problems) > 0) {
		return rep
	}
	var refs []string
	for _, r := range rep.Evidence {
		refs = append(refs, r.SHA256)
	}
	obs, errs := analyze(ctx, files, id, in.cat, refs)
	for _, e := range errs {
		rep.Errors = append(rep.Errors, e.Error())
	}
	rep.Observations = obs
	rep.Status = scanner.StatusSucceeded
	if len(rep.Errors) > 0 {
		rep.Status = scanner.StatusPartial
	}
	return rep
}

func (in *Inspector) put(sink scanner.EvidenceSink, rep *scanner.Report, data []byte, method, source, media, note string) error {
	if sink == nil {
		return nil
	}
	ref, err := sink.Put(bytes.NewReader(data), evidence.Meta{
		CapturedAt: time.Now().UTC(), Method: method, Source: source, Tool: in.opts.Tool,
		Inspector: Name + "/" + Version, MediaType: media, Note: note,
	})
	if err != nil {
		return fmt.Errorf("storing %s: %w", source, err)
	}
	rep.Evidence = append(rep.Evidence, ref)
	return nil
}

const wxapkgMediaType = "application/x-wxapkg"

func (in *Inspector) readPackage(src scanner.Source, sink scanner.EvidenceSink, rep *scanner.Report) ([]File, []error, identity) {
	id := identity{Name: filepath.Base(src.Locator)}
	data, err := readFileBounded(src.Locator, in.opts.Limits.MaxPackageBytes)
	if err != nil {
		return nil, []error{err}, id
	}
	if err := in.put(sink, rep, data, "file_import", src.Locator, wxapkgMediaType, ""); err != nil {
		return nil, []error{err}, id
	}
	appid := src.Options["appid"]
	if appid == "" {
		appid = in.opts.AppID
	}
	if appid == "" {
		appid = AppIDFromPath(src.Locator)
	}
	id.AppID = appid
	var problems []error
	if IsEncrypted(data) {
		plain, err := DecryptPC(data, appid)
		if err != nil {
			return nil, []error{fmt.Errorf("%s: %w", src.Locator, err)}, id
		}
		parent := ""
		if len(rep.Evidence) > 0 {
			parent = "sha256:" + rep.Evidence[0].SHA256 + "!decrypted"
		}
		if err := in.put(sink, rep, plain, "derived", parent, wxapkgMediaType, "PC-client V1MMWX package decrypted with app id "+appid); err != nil {
			problems = append(problems, err)
		}
		data = plain
	}
	pkg, err := Parse(data, in.opts.Limits)
	if pkg != nil {
		for _, p := range pkg.Problems {
			problems = append(problems, fmt.Errorf("%s: %w", src.Locator, p))
		}
	}
	if err != nil {
		problems = append(problems, fmt.Errorf("%s: %w", src.Locator, err))
		if pkg == nil || len(pkg.Files) == 0 {
			return nil, problems, id
		}
	}
	return pkg.Files, problems, id
}

// maxPackagesPerDir bounds the packages read from one folder (PC WeChat keeps the main package
// and its sub-packages side by side: …/wx0123…/17/__APP__.wxapkg, _subpkg_.wxapkg).
const maxPackagesPerDir = 64

// readPackageDir reads every .wxapkg of a folder as one program: each package is stored and
// parsed as readPackage does, and its files are named "<package file>!<path>" so that
// sub-packages cannot shadow each other.
func (in *Inspector) readPackageDir(src scanner.Source, sink scanner.EvidenceSink, rep *scanner.Report) ([]File, []error, identity) {
	id := identity{Name: filepath.Base(filepath.Clean(src.Locator))}
	entries, err := os.ReadDir(src.Locator)
	if err != nil {
		return nil, []error{err}, id
	}
	var names []string
	for _, e := range entries {
		if e.Type().IsRegular() && strings.HasSuffix(strings.ToLower(e.Name()), ".wxapkg") {
			names = append(names, e.Name())
		}
	}
	if len(names) == 0 {
		return nil, []error{fmt.Errorf("%s: no .wxapkg file in the folder", src.Locator)}, id
	}
	var problems []error
	if len(names) > maxPackagesPerDir {
		problems = append(problems, fmt.Errorf("%s: %d packages, only the first %d read", src.Locator, len(names), maxPackagesPerDir))
		names = names[:maxPackagesPerDir]
	}
	var files []File
	for _, n := range names {
		sub := src
		sub.Locator = filepath.Join(src.Locator, n)
		fs, ps, pid := in.readPackage(sub, sink, rep)
		problems = append(problems, ps...)
		if id.AppID == "" {
			id.AppID = pid.AppID
		}
		for _, f := range fs {
			files = append(files, File{Name: n + "!" + f.Name, Data: f.Data})
		}
	}
	return files, problems, id
}

func readFileBounded(name string, limit int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, err
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: not a regular file", name)
	}
	if st.Size() > limit {
		return nil, fmt.Errorf("%s: %d bytes, over the %d-byte limit", name, st.Size(), limit)
	}
	data, err := io.ReadAll(io.LimitReader(f, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if int64(len(data)) > limit {
		return nil, fmt.Errorf("%s: grew past the %d-byte limit while reading", name, limit)
	}
	return data, nil
}

// ReadDir reads the regular files of an unpacked mini-program folder within the bounds of opts.
// Symlinks are never followed (they are listed as problems), and all reads go through an os.Root
// so nothing outside dir is opened. Files are returned sorted by path.
func ReadDir(ctx context.Context, dir string, opts Options) ([]File, []error, error) {
	opts = opts.withDefaults()
	root, err := os.OpenRoot(dir)
	if err != nil {
		return nil, nil, err
	}
	defer root.Close()
	fsys := root.FS()
	var files []File
	var problems []error
	var total int64
	errStop := errors.New("stop")
	err = fs.WalkDir(fsys, ".", func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", path.Join(dir, p), err))
			return nil
		}
		if ctx.Err() != nil {
			problems = append(problems, fmt.Errorf("%s: %w", dir, ctx.Err()))
			return errStop
		}
		if d.IsDir() {
			if p != "." && (d.Name() == "node_modules" || d.Name() == ".git") {
				return fs.SkipDir
			}
			return nil
		}
		if d.Type()&fs.ModeSymlink != 0 {
			problems = append(problems, fmt.Errorf("%s: symlink not followed", p))
			return nil
		}
		if !d.Type().IsRegular() {
			return nil
		}
		if len(files) >= opts.MaxDirFiles {
			problems = append(problems, fmt.Errorf("%s: more than %d files, the rest were not read", dir, opts.MaxDirFiles))
			return errStop
		}
		info, err := d.Info()
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", p, err))
			return nil
		}
		if info.Size() > opts.MaxDirFileBytes {
			problems = append(problems, fmt.Errorf("%s: %d bytes, over the %d-byte limit per file, skipped", p, info.Size(), opts.MaxDirFileBytes))
			return nil
		}
		if total+info.Size() > opts.MaxDirTotalBytes {
			problems = append(problems, fmt.Errorf("%s: the folder exceeds %d bytes, the rest was not read", dir, opts.MaxDirTotalBytes))
			return errStop
		}
		f, err := fsys.Open(p)
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", p, err))
			return nil
		}
		data, err := io.ReadAll(io.LimitReader(f, opts.MaxDirFileBytes+1))
		f.Close()
		if err != nil {
			problems = append(problems, fmt.Errorf("%s: %w", p, err))
			return nil
		}
		if int64(len(data)) > opts.MaxDirFileBytes {
			problems = append(problems, fmt.Errorf("%s: grew past the per-file limit, skipped", p))
			return nil
		}
		total += int64(len(data))
		files = append(files, File{Name: p, Data: data})
		return nil
	})
	if err != nil && err != errStop {
		return files, problems, err
	}
	sort.Slice(files, func(i, j int) bool { return files[i].Name < files[j].Name })
	return files, problems, nil
}

func (in *Inspector) readDir(ctx context.Context, src scanner.Source, sink scanner.EvidenceSink, rep *scanner.Report) ([]File, []error, identity) {
	base := filepath.Base(filepath.Clean(src.Locator))
	id := identity{Name: base, AppID: src.Options["appid"]}
	if id.AppID == "" {
		id.AppID = in.opts.AppID
	}
	files, problems, err := ReadDir(ctx, src.Locator, in.opts)
	if err != nil {
		return nil, append(problems, fmt.Errorf("%s: %w", src.Locator, err)), id
	}
	if id.AppID == "" {
		id.AppID = appIDFromProject(files)
	}
	if id.AppID == "" {
		id.AppID = AppIDFromPath(src.Locator)
	}
	archive, err := DirArchive(files)
	if err != nil {
		return nil, append(problems, fmt.Errorf("%s: %w", src.Locator, err)), id
	}
	if err := in.put(sink, rep, archive, "file_import", src.Locator, "application/zip", "deterministic zip of the folder's regular files (sorted, stored, fixed timestamps)"); err != nil {
		return nil, append(problems, err), id
	}
	if files == nil {
		files = []File{}
	}
	return files, problems, id
}

// appIDFromProject reads "appid" from project.config.json (WeChat) or mini.project.json.
func appIDFromProject(files []File) string {
	for _, f := range files {
		b := path.Base(f.Name)
		if b != "project.config.json" && b != "project.private.config.json" {
			continue
		}
		if m := appIDPattern.Find(f.Data); m != nil && bytes.Contains(f.Data, []byte(`"appid"`)) {
			return string(m)
		}
	}
	return ""
}

// DirArchive is the deterministic zip a folder is stored as: files in the given (sorted) order,
// stored uncompressed with a fixed timestamp, so identical folders give identical bytes.
func DirArchive(files []File) ([]byte, error) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	fixed := time.Date(1980, 1, 1, 0, 0, 0, 0, time.UTC)
	for _, f := range files {
		name := strings.TrimPrefix(filepath.ToSlash(f.Name), "/")
		w, err := zw.CreateHeader(&zip.FileHeader{Name: name, Method: zip.Store, Modified: fixed})
		if err != nil {
			return nil, err
		}
		if _, err := w.Write(f.Data); err != nil {
			return nil, err
		}
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}
