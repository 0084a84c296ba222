// Package scanner holds what every scan shares: targets and their sources, the Inspector
// interface each kind of input implements, observations (facts, no judgement), and the frame
// around every inspector: opening a source, limits, storing the input, panic recovery, status.
package scanner

import (
	"io"
	"time"

	"pilmon/evidence"
)

// TargetKind is what is being watched.
type TargetKind string

const (
	TargetApp         TargetKind = "app"
	TargetMiniProgram TargetKind = "miniprogram"
	TargetSite        TargetKind = "site"
)

// SourceKind says what a Source's locator points at. The kinds of a build are those its
// inspectors declare (KindsOf); the constants name the kinds of the inspectors pilmon started
// with, for their code and tests; a new kind needs none here.
type SourceKind string

const (
	SourceAPK        SourceKind = "apk"
	SourceWxapkg     SourceKind = "wxapkg"
	SourceMPDir      SourceKind = "mpdir"
	SourcePolicyURL  SourceKind = "policy_url"
	SourcePolicyFile SourceKind = "policy_file"
	SourceHAR        SourceKind = "har"
	SourceH5URL      SourceKind = "h5_url"
)

// Source is one input of a target: a local file or folder, or a URL.
type Source struct {
	Kind    SourceKind `json:"kind" yaml:"kind"`
	Locator string     `json:"locator" yaml:"locator"`
	// Options carry per-source settings such as an app id for an encrypted .wxapkg
	// ("appid") or a device-values file for a HAR ("device_values").
	Options map[string]string `json:"options,omitempty" yaml:"options,omitempty"`
}

// Target is an app, mini-program or site under watch.
type Target struct {
	ID       string     `json:"id" yaml:"id"`
	Kind     TargetKind `json:"kind" yaml:"kind"`
	Name     string     `json:"name" yaml:"name"`
	Operator string     `json:"operator,omitempty" yaml:"operator,omitempty"`
	// Category is the key of an app category of the 2021 necessary-PI scope (rules.AppCategory.Key),
	// e.g. "ride_hailing"; empty when not yet set.
	Category string   `json:"category,omitempty" yaml:"category,omitempty"`
	Sources  []Source `json:"sources" yaml:"sources"`
	// Schedule is a cron spec (seconds optional), empty for manual scans only.
	Schedule string `json:"schedule,omitempty" yaml:"schedule,omitempty"`
}

// Observation is one fact an inspector saw, with no judgement in it: "requests
// android.permission.READ_CONTACTS", "references TelephonyManager.getDeviceId in com.umeng.x.Y".
//
// Kind is one of the kinds declared in rules/data/observation_kinds.yaml, and Attributes use the
// attribute names declared there; the rule catalogue's triggers match on them. Subject is what the
// observation is about, stable across scans (a permission name, an API id + caller class, a host);
// it becomes part of a finding's fingerprint.
type Observation struct {
	Kind       string         `json:"kind"`
	Subject    string         `json:"subject"`
	Attributes map[string]any `json:"attributes,omitempty"`
	// EvidenceRefs are the SHA-256s of the stored artifacts this fact was read from.
	EvidenceRefs     []string `json:"evidence_refs,omitempty"`
	Inspector        string   `json:"inspector"`
	InspectorVersion string   `json:"inspector_version"`
}

// FactKind and FactAttr let the rule catalogue match an Observation (rules.Fact).
func (o Observation) FactKind() string { return o.Kind }

// FactAttr returns the named attribute ("subject" gives Subject).
func (o Observation) FactAttr(name string) (any, bool) {
	if name == "subject" {
		return o.Subject, true
	}
	v, ok := o.Attributes[name]
	return v, ok
}

// Status is how far an inspector got with one source.
type Status string

const (
	StatusSucceeded Status = "succeeded"
	// StatusPartial means some facts were read and some parts failed (a packed APK still yields its
	// manifest; a policy page that timed out still yields what was captured).
	StatusPartial Status = "partial"
	StatusFailed  Status = "failed"
	// StatusUnchanged means a remote source served the package an earlier scan inspected: it was
	// not inspected again, so the scan re-observed nothing of it.
	StatusUnchanged Status = "unchanged"
	// StatusSkipped means no inspector accepted the source.
	StatusSkipped Status = "skipped"
)

// Report is what one inspector returns for one source.
type Report struct {
	Inspector        string        `json:"inspector"`
	InspectorVersion string        `json:"inspector_version"`
	Source           Source        `json:"source"`
	Status           Status        `json:"status"`
	Errors           []FileError   `json:"errors,omitempty"`
	Observations     []Observation `json:"observations"`
	// Evidence lists every artifact stored while inspecting, the input itself first.
	Evidence []evidence.Ref `json:"evidence"`
	// inventory are the scan.inventory flags this report sets, as its kind declares.
	inventory []string
	// known are the device values a source of a ProvidesKnown kind saw read, for its session.
	known []KnownValue
	// Package is the package a remote source (apk_url) fetched, or found unchanged; nil for
	// other sources and for a fetch that failed.
	Package *PackageVersion `json:"package,omitempty"`
}

// PackageVersion is one package a remote source of a target served: what the scan that fetched it
// hands back (Output.Package) and what the next scan of the same source is handed in
// (Input.Prior) for a conditional request and the comparison of versions.
type PackageVersion struct {
	SHA256       string `json:"sha256"`
	Package      string `json:"package,omitempty"`
	VersionName  string `json:"version_name,omitempty"`
	VersionCode  string `json:"version_code,omitempty"`
	SignerSHA256 string `json:"signer_sha256,omitempty"`
	// ETag and LastModified are the validators the server sent with it, for If-None-Match and
	// If-Modified-Since.
	ETag         string `json:"etag,omitempty"`
	LastModified string `json:"last_modified,omitempty"`
	// URL is the link the package was downloaded from (the final URL after redirects is in the
	// provenance record); a download page's link may change between scans.
	URL string `json:"url,omitempty"`
	// FinalURL, Address and ServerCert summarise the fetch for people (the record has it all):
	// the URL after redirects, the server's address, its certificate's subject and SHA-256.
	FinalURL   string `json:"final_url,omitempty"`
	Address    string `json:"address,omitempty"`
	ServerCert string `json:"server_cert,omitempty"`
	// Provenance is the SHA-256 of the sealed download record of this fetch.
	Provenance string    `json:"provenance,omitempty"`
	FetchedAt  time.Time `json:"fetched_at"`
	// Unchanged: the server answered 304 Not Modified, or served the bytes already inspected;
	// the package was not inspected again.
	Unchanged bool `json:"unchanged,omitempty"`
}

// EvidenceSink stores captured artifacts; inspectors never write files themselves.
// *evidence.Store implements it.
type EvidenceSink interface {
	Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error)
}
