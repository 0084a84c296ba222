package miniprogram

import (
	"bytes"
	"context"
	"fmt"
	"path"
	"path/filepath"

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

// Kinds declares .wxapkg files (or a folder of them: PC WeChat keeps the main package and its
// sub-packages side by side) and unpacked source folders, stored by the core as a deterministic
// zip of their regular files (sorted paths, stored uncompressed, fixed 1980-01-01 timestamps, so
// the same folder always gives the same SHA-256). A privacy-authorization handler in app.json
// tells the scan that the program links its privacy policy.
func (in *Inspector) Kinds() []scanner.KindSpec {
	signals := []scanner.Signal{{Flag: "policy_link_found", Kind: "mp.privacy_config",
		Attrs: map[string]any{"setting": "privacy_authorization_handler", "present": true}}}
	appid := []scanner.OptionSpec{{Name: "appid", Help: "小程序 AppID（解密 PC 加密包）/ the mini-program's app id (decrypts PC-encrypted packages)"}}
	return []scanner.KindSpec{
		{Kind: scanner.SourceWxapkg, Inventory: "has_app", Signals: signals,
			Label: scanner.Label{ZH: "小程序包 .wxapkg", EN: "Mini-program package .wxapkg"}, Target: scanner.TargetMiniProgram,
			// A plain package starts with 0xBE and has 0xED at offset 13; a PC-encrypted one starts
			// with "V1MMWX".
			Detect: &scanner.DetectSpec{Magic: []scanner.Magic{scanner.Prefix("V1MMWX"),
				{{Offset: 0, Bytes: []byte{0xBE}}, {Offset: 13, Bytes: []byte{0xED}}}}},
			Upload: &scanner.UploadSpec{Exts: []string{".wxapkg"}}, Options: appid,
			File: &scanner.FileSpec{MaxBytes: in.opts.Limits.MaxPackageBytes,
				Store: scanner.StoreSpec{MediaType: wxapkgMediaType, Tool: in.opts.Tool}},
			Members: &scanner.MembersSpec{Suffix: ".wxapkg", Max: maxPackagesPerDir}},
		{Kind: scanner.SourceMPDir, Inventory: "has_app", Signals: signals,
			Label: scanner.Label{ZH: "小程序源码目录", EN: "Mini-program source folder"}, Target: scanner.TargetMiniProgram,
			// WeChat (app.json), its compiled form (app-config.json), Alipay (mini.project.json) or a
			// WeChat developer-tools project (project.config.json).
			Detect:  &scanner.DetectSpec{FolderMarkers: []string{"app.json", "app-config.json", "mini.project.json", "project.config.json"}},
			Options: appid,
			Tree: &scanner.TreeSpec{MaxFiles: in.opts.MaxDirFiles, MaxFileBytes: in.opts.MaxDirFileBytes,
				MaxTotalBytes: in.opts.MaxDirTotalBytes, SkipDirs: []string{"node_modules", ".git"},
				Store: scanner.StoreSpec{MediaType: "application/zip", Tool: in.opts.Tool,
					Note: "deterministic zip of the folder's regular files (sorted, stored, fixed timestamps)"}}},
	}
}

// Inspect reads the stored package(s) or folder (a PC-encrypted package is decrypted and its
// plain form stored as a derived artifact) and reports what it observed. Every observation
// refers to the stored artifacts.
func (in *Inspector) Inspect(ctx context.Context, input *scanner.Input) (out scanner.Output) {
	var files []File
	var id identity
	switch {
	case input.Source.Kind == scanner.SourceMPDir:
		files, id = in.readDir(input)
	case len(input.Members) > 0:
		files, id = in.readPackageDir(input, &out)
	default:
		files, id = in.readPackage(input, &out)
	}
	if files == nil {
		return out
	}
	refs := []string{}
	if input.Ref.SHA256 != "" {
		refs = append(refs, input.Ref.SHA256)
	}
	for _, m := range input.Members {
		refs = append(refs, m.Ref.SHA256)
	}
	for _, r := range out.Artifacts {
		refs = append(refs, r.SHA256)
	}
	obs, errs := analyze(ctx, files, id, in.cat, refs)
	for _, e := range errs {
		out.Errors = append(out.Errors, scanner.FileError{Path: input.Path, Reason: e.Error()})
	}
	out.Observations = obs
	return out
}

// put stores a derived artifact.
func (in *Inspector) put(input *scanner.Input, out *scanner.Output, data []byte, method, source, media, note string) error {
	if input.Sink == nil {
		return nil
	}
	ref, err := input.Sink.Put(bytes.NewReader(data), evidence.Meta{
		CapturedAt: input.Now().UTC(), Method: method, Source: source, Tool: in.opts.Tool,
		Inspector: Name + "/" + Version, MediaType: media, Note: note,
	})
	if err != nil {
		return fmt.Errorf("storing %s: %w", source, err)
	}
	out.Artifacts = append(out.Artifacts, ref)
	return nil
}

const wxapkgMediaType = "application/x-wxapkg"

// readPackage parses one stored package; nil files means nothing could be read.
func (in *Inspector) readPackage(input *scanner.Input, out *scanner.Output) ([]File, identity) {
	locator := input.Path
	fail := func(err error) {
		out.Errors = append(out.Errors, scanner.FileError{Path: locator, Reason: err.Error()})
	}
	id := identity{Name: filepath.Base(locator)}
	data, err := input.Bytes()
	if err != nil {
		fail(err)
		return nil, id
	}
	appid := input.Source.Options["appid"]
	if appid == "" {
		appid = in.opts.AppID
	}
	if appid == "" {
		appid = AppIDFromPath(locator)
	}
	id.AppID = appid
	if IsEncrypted(data) {
		plain, err := DecryptPC(data, appid)
		if err != nil {
			fail(err)
			return nil, id
		}
		parent := "sha256:" + input.Ref.SHA256 + "!decrypted"
		if err := in.put(input, out, plain, "derived", parent, wxapkgMediaType, "PC-client V1MMWX package decrypted with app id "+appid); err != nil {
			fail(err)
		}
		data = plain
	}
	pkg, err := Parse(data, in.opts.Limits)
	if pkg != nil {
		for _, p := range pkg.Problems {
			fail(p)
		}
	}
	if err != nil {
		fail(err)
		if pkg == nil || len(pkg.Files) == 0 {
			return nil, id
		}
	}
	return pkg.Files, id
}

// maxPackagesPerDir bounds the packages read from one folder (PC WeChat keeps the main package
// and its sub-packages side by side: …/wx0123…/17/__APP__.wxapkg, _subpkg_.wxapkg).
const maxPackagesPerDir = 64

// readPackageDir reads every package of a folder as one program: each is parsed as readPackage
// does, and its files are named "<package file>!<path>" so that sub-packages cannot shadow each
// other.
func (in *Inspector) readPackageDir(input *scanner.Input, out *scanner.Output) ([]File, identity) {
	id := identity{Name: filepath.Base(filepath.Clean(input.Path))}
	var files []File
	for _, m := range input.Members {
		fs, pid := in.readPackage(m, out)
		if id.AppID == "" {
			id.AppID = pid.AppID
		}
		n := filepath.Base(m.Path)
		for _, f := range fs {
			files = append(files, File{Name: n + "!" + f.Name, Data: f.Data})
		}
	}
	return files, id
}

// readDir takes the folder's files as the core read them and names the program.
func (in *Inspector) readDir(input *scanner.Input) ([]File, identity) {
	id := identity{Name: filepath.Base(filepath.Clean(input.Path)), AppID: input.Source.Options["appid"]}
	if id.AppID == "" {
		id.AppID = in.opts.AppID
	}
	files := make([]File, len(input.Files))
	for i, f := range input.Files {
		files[i] = File{Name: f.Name, Data: f.Data}
	}
	if id.AppID == "" {
		id.AppID = appIDFromProject(files)
	}
	if id.AppID == "" {
		id.AppID = AppIDFromPath(input.Path)
	}
	return files, id
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
