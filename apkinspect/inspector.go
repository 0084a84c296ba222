// Package apkinspect turns an APK into observations: what its manifest declares, who signed it,
// which sensitive APIs its code references and from which class (so from which SDK), which SDKs
// and endpoints it embeds, whether it is packed. An APK comes from the party under investigation,
// so every layer is bounded (safezip, manifest, sigblock, dex) and a failed layer leaves the
// others' observations in a partial report.
package apkinspect

import (
	"context"
	"path/filepath"
	"slices"
	"sort"
	"strings"

	"pilmon/apkinspect/callgraph"
	"pilmon/apkinspect/dex"
	"pilmon/apkinspect/safezip"
	"pilmon/rules"
	"pilmon/scanner"
)

// Name and Version identify the inspector in reports and evidence.
const (
	Name    = "apkinspect"
	Version = "2"
	// MediaType of an APK.
	MediaType = "application/vnd.android.package-archive"
)

// Options bound and configure an Inspector. Zero values take the defaults.
type Options struct {
	// MaxAPKSize refuses larger files before storing them (default 512 MiB).
	MaxAPKSize int64
	Zip        safezip.Limits
	Dex        dex.Limits
	Graph      callgraph.Limits
	// Tool is recorded in evidence metadata (default "pilmon").
	Tool string
}

func (o Options) withDefaults() Options {
	if o.MaxAPKSize <= 0 {
		o.MaxAPKSize = 512 << 20
	}
	if o.Zip.MaxArchiveSize <= 0 || o.Zip.MaxArchiveSize > o.MaxAPKSize {
		o.Zip.MaxArchiveSize = o.MaxAPKSize
	}
	d := dex.DefaultLimits()
	if o.Dex.MaxSize <= 0 {
		o.Dex.MaxSize = d.MaxSize
	}
	if o.Tool == "" {
		o.Tool = "pilmon"
	}
	return o
}

// Inspector reads APK files.
type Inspector struct {
	cat        *rules.Catalogue
	apiClasses map[string]bool
	opts       Options
}

var _ scanner.Inspector = (*Inspector)(nil)

// New returns an Inspector. cat may be nil: the manifest, certificates, endpoints and packers are
// still reported, but no sensitive API, SDK or PI mapping.
func New(cat *rules.Catalogue, opts Options) *Inspector {
	return &Inspector{cat: cat, apiClasses: apiClassSet(cat), opts: opts.withDefaults()}
}

func (in *Inspector) Name() string    { return Name }
func (in *Inspector) Version() string { return Version }

// Kinds declares APK files: the core opens, limits and stores them. An APK is a zip archive
// with AndroidManifest.xml. A policy URL found in the APK tells the scan that the app links its
// privacy policy.
func (in *Inspector) Kinds() []scanner.KindSpec {
	return []scanner.KindSpec{{
		Kind:      scanner.SourceAPK,
		Label:     scanner.Label{ZH: "APK 安装包", EN: "APK"},
		Target:    scanner.TargetApp,
		Detect:    &scanner.DetectSpec{ZipMembers: []string{"AndroidManifest.xml"}},
		Upload:    &scanner.UploadSpec{Exts: []string{".apk"}},
		File:      &scanner.FileSpec{MaxBytes: in.opts.MaxAPKSize, Store: scanner.StoreSpec{MediaType: MediaType, Tool: in.opts.Tool}},
		Inventory: "has_app",
		Signals:   []scanner.Signal{{Flag: "policy_link_found", Kind: "apk.policy_reference"}},
	}}
}

// Inspect reads the stored APK layer by layer; a failed layer leaves the others' observations.
func (in *Inspector) Inspect(ctx context.Context, input *scanner.Input) scanner.Output {
	name := filepath.Base(input.Path)
	app := analyze(ctx, in.cat, in.apiClasses, in.opts, input.Reader, input.Size, name)
	out := scanner.Output{Observations: in.observe(app, input.Ref.SHA256)}
	for _, e := range app.Errors {
		out.Errors = append(out.Errors, scanner.FileError{Path: input.Path, Reason: strings.TrimPrefix(e, name+": ")})
	}
	// A layer that failed without saying why still makes the report partial.
	for _, l := range []string{"zip", "manifest", "signatures", "dex"} {
		if !app.Layers[l] && len(out.Errors) == 0 {
			out.Errors = append(out.Errors, scanner.Errorf(input.Path, "%s layer could not be read", l))
		}
	}
	if !app.Layers["zip"] {
		out.Observations = nil
	}
	return out
}

// maxMarkers bounds the markers listed per SDK.
const maxMarkers = 8

// kindOrder sorts observations by kind, in the vocabulary's order.
var kindOrder = map[string]int{"apk.identity": 0, "apk.permission": 1, "apk.manifest_flag": 2, "apk.component": 3,
	"apk.certificate": 4, "apk.sdk": 5, "apk.sensitive_api": 6, "apk.endpoint": 7, "apk.packer": 8, "apk.policy_reference": 9}

func (in *Inspector) observe(app *App, sha string) []scanner.Observation {
	obs := []scanner.Observation{}
	add := func(kind, subject string, attrs map[string]any) {
		obs = append(obs, scanner.Observation{Kind: kind, Subject: subject, Attributes: attrs,
			EvidenceRefs: []string{sha}, Inspector: Name, InspectorVersion: Version})
	}
	c := in.cat
	type sdkHit struct {
		via     map[string]bool
		markers []string
		classes int
	}
	sdks := map[string]*sdkHit{}
	// hit records that signal via named SDK id; marker, when not empty, says what fired.
	hit := func(id, via, marker string) {
		h := sdks[id]
		if h == nil {
			h = &sdkHit{via: map[string]bool{}}
			sdks[id] = h
		}
		h.via[via] = true
		if marker != "" && len(h.markers) < maxMarkers && !slices.Contains(h.markers, via+": "+marker) {
			h.markers = append(h.markers, via+": "+marker)
		}
	}
	own := app.own
	if own == nil {
		own = newOwnership(c, app.Manifest)
	}
	sdkOfClass := func(cls string) string { return own.of(cls).SDK }

	if m := app.Manifest; m != nil {
		add("apk.identity", m.Package, map[string]any{"package": m.Package, "version_code": m.VersionCode,
			"version_name": m.VersionName, "label": m.Label, "min_sdk": m.MinSDK, "target_sdk": m.TargetSDK})
		seen := map[string]bool{}
		for _, p := range m.Permissions {
			if seen[p.Name] {
				continue
			}
			seen[p.Name] = true
			pi, prot := []string{}, "unknown"
			if c != nil {
				if cp, ok := c.Permission(p.Name); ok {
					pi = append(pi, cp.PI...)
					if cp.Kind != "" {
						prot = cp.Kind
					}
				}
			}
			add("apk.permission", p.Name, map[string]any{"permission": p.Name, "pi": pi, "protection": prot, "max_sdk": p.MaxSDK, "element": p.Element})
		}
		for _, f := range []struct {
			name  string
			value bool
		}{{"allow_backup", m.AllowBackup}, {"debuggable", m.Debuggable}, {"cleartext_traffic", m.CleartextTraffic}, {"network_security_config", m.NetworkSecurityConfig != ""}, {"user_ca_trusted", m.UserCATrusted}} {
			add("apk.manifest_flag", f.name, map[string]any{"flag": f.name, "value": f.value})
		}
		for _, comp := range m.Components {
			sdk := sdkOfClass(comp.Name)
			if sdk != "" {
				hit(sdk, "component", comp.Name)
			}
			if !comp.Exported {
				continue
			}
			actions := append([]string{}, comp.Actions...)
			add("apk.component", comp.Name, map[string]any{"type": comp.Type, "exported": true, "permission": comp.Permission, "actions": actions, "sdk": sdk})
		}
		if c != nil {
			for _, md := range m.MetaData {
				if s, ok := c.SDKForManifestKey(md.Name); ok {
					hit(s.ID, "manifest_key", md.Name)
				}
			}
		}
	}
	for _, cert := range app.Certs {
		add("apk.certificate", cert.SHA256, map[string]any{"subject_dn": cert.Subject, "issuer_dn": cert.Issuer, "scheme": append([]string{}, cert.Schemes...), "sha256": cert.SHA256})
	}
	for id, n := range app.SDKClasses {
		hit(id, "class_prefix", "")
		sdks[id].classes = n
	}
	for _, fs := range app.FileSignals {
		hit(fs.SDK, fs.Via, fs.Entry)
	}
	for _, api := range app.APIs {
		p := own.of(api.CallerClass)
		attrs := map[string]any{"api": api.API.ID, "descriptor": api.Descriptor,
			"caller_class": api.CallerClass, "caller_method": api.CallerMethod, "party": p.Party, "sdk": p.SDK, "library": p.Library, "pi": append([]string{}, api.API.PI...)}
		if api.Argument != "" {
			attrs["argument"] = api.Argument
		}
		attrs["reached_from"] = append([]string{}, api.ReachedFrom...)
		attrs["path"] = append([]string{}, api.Path...)
		add("apk.sensitive_api", api.API.ID+" @ "+api.CallerClass, attrs)
	}
	for _, e := range app.Endpoints {
		sdk := ""
		if c != nil {
			if s, ok := c.SDKForHost(e.Host); ok {
				sdk = s.ID
				hit(sdk, "domain_string", e.Host)
			}
		}
		add("apk.endpoint", e.Host, map[string]any{"host": e.Host, "url": e.URL, "sdk": sdk, "cleartext": e.Cleartext})
	}
	for _, p := range app.Packers {
		add("apk.packer", p.Name, map[string]any{"packer": p.Name, "marker": p.Marker})
	}
	for _, p := range app.PolicyRefs {
		add("apk.policy_reference", p, map[string]any{"url": p})
	}
	for id, h := range sdks {
		if c == nil {
			break
		}
		s, ok := c.SDK(id)
		if !ok || s.Kind == rules.SDKKindLibrary {
			// an open-source library a derived list files among SDKs: its classes are a
			// library's (party library:<id>), not a vendor's SDK
			continue
		}
		var via []string
		for _, v := range []string{"class_prefix", "manifest_key", "component", "native_lib", "asset_file", "domain_string"} {
			if h.via[v] {
				via = append(via, v)
			}
		}
		sort.Strings(h.markers)
		examples := slices.Sorted(slices.Values(app.SDKExamples[id]))
		add("apk.sdk", id, map[string]any{"sdk": id, "sdk_kind": s.Kind, "via": via, "markers": append([]string{}, h.markers...), "pi": append([]string{}, s.PI...), "classes": h.classes,
			"strength": sdkStrength(h.classes, h.via), "signals": sdkSignals(h.classes, examples, h.markers)})
	}
	sort.SliceStable(obs, func(i, j int) bool {
		if a, b := kindOrder[obs[i].Kind], kindOrder[obs[j].Kind]; a != b {
			return a < b
		}
		return obs[i].Subject < obs[j].Subject
	})
	return obs
}

// Identity reads what names one package version from this inspector's observations: the
// manifest package, versionName and versionCode, and the signing certificates' SHA-256s (sorted,
// joined by ","), for the versions a remote source keeps. Empty strings when not observed.
func Identity(obs []scanner.Observation) (pkg, versionName, versionCode, signers string) {
	var certs []string
	for _, o := range obs {
		if o.Inspector != Name {
			continue
		}
		switch o.Kind {
		case "apk.identity":
			pkg, _ = o.Attributes["package"].(string)
			versionName, _ = o.Attributes["version_name"].(string)
			versionCode, _ = o.Attributes["version_code"].(string)
		case "apk.certificate":
			if !slices.Contains(certs, o.Subject) {
				certs = append(certs, o.Subject)
			}
		}
	}
	sort.Strings(certs)
	return pkg, versionName, versionCode, strings.Join(certs, ",")
}
