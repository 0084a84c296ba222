package policies

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/url"
	"os"
	"sort"
	"strings"
	"time"

	"pilmon/evidence"
)

// Lister walks the records of an evidence store; *evidence.Store implements it.
type Lister interface {
	List(ctx context.Context, fn func(evidence.Record) error) error
}

// Version is one capture of a policy: which bytes, when, how.
type Version struct {
	SHA256     string    `json:"sha256"`
	Size       int64     `json:"size"`
	CapturedAt time.Time `json:"captured_at"`
	Method     string    `json:"method"`
	Source     string    `json:"source"`
	MediaType  string    `json:"media_type"`
	Seq        int       `json:"seq"` // the capture's number among the captures of these bytes
}

// maxHistory bounds the versions History returns (newest kept).
const maxHistory = 10000

// policyMediaTypes are what a policy capture stores as the document; MHTML, screenshots and
// request logs of the same capture share its Source but are not versions of the text.
var policyMediaTypes = map[string]bool{"text/html": true, "text/plain": true, "text/markdown": true,
	"application/xhtml+xml": true}

// History lists every capture of source (a policy URL or file path as it was given) in the
// store, oldest first. The same bytes captured twice are two versions (the policy did not
// change in between, which is evidence too). Records the store cannot read are skipped and
// reported in the error, with the versions that could be read.
func History(ctx context.Context, store Lister, source string) ([]Version, error) {
	want := sourceKey(source)
	if want == "" {
		return nil, errors.New("policies: history: empty source")
	}
	var out []Version
	err := store.List(ctx, func(rec evidence.Record) error {
		for _, c := range rec.Captures {
			if sourceKey(c.Source) != want || !isPolicyMedia(c.MediaType) {
				continue
			}
			out = append(out, Version{SHA256: rec.Ref.SHA256, Size: rec.Ref.Size, CapturedAt: c.CapturedAt.UTC(),
				Method: c.Method, Source: c.Source, MediaType: c.MediaType, Seq: c.Seq})
		}
		return nil
	})
	sort.SliceStable(out, func(i, j int) bool {
		if !out[i].CapturedAt.Equal(out[j].CapturedAt) {
			return out[i].CapturedAt.Before(out[j].CapturedAt)
		}
		if out[i].SHA256 != out[j].SHA256 {
			return out[i].SHA256 < out[j].SHA256
		}
		return out[i].Seq < out[j].Seq
	})
	if len(out) > maxHistory {
		out = out[len(out)-maxHistory:]
	}
	if err != nil {
		return out, fmt.Errorf("policies: history of %s: %w", source, err)
	}
	return out, nil
}

func isPolicyMedia(mt string) bool {
	base, _, err := mime.ParseMediaType(mt)
	if err != nil {
		base = strings.ToLower(strings.TrimSpace(strings.SplitN(mt, ";", 2)[0]))
	}
	return policyMediaTypes[base]
}

// sourceKey normalises a source so that trivially different spellings of one URL match:
// scheme and host lower-cased, default port and fragment dropped, an empty path is "/".
// Anything that is not an absolute http(s) URL (a file path) is compared as written.
func sourceKey(s string) string {
	s = strings.TrimSpace(s)
	u, err := url.Parse(s)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https" && u.Scheme != "HTTP" && u.Scheme != "HTTPS") || u.Host == "" {
		return s
	}
	u.Scheme = strings.ToLower(u.Scheme)
	host := strings.ToLower(u.Hostname())
	port := u.Port()
	if (u.Scheme == "http" && port == "80") || (u.Scheme == "https" && port == "443") {
		port = ""
	}
	if port != "" {
		host += ":" + port
	}
	u.Host = host
	u.Fragment, u.RawFragment = "", ""
	if u.Path == "" {
		u.Path = "/"
	}
	return u.String()
}

// Getter reads stored artifacts; *evidence.Store implements it.
type Getter interface {
	Stat(h string) (evidence.Record, error)
	Get(h string) (io.ReadCloser, evidence.Ref, error)
}

// Loaded is one version of a policy read back for comparison.
type Loaded struct {
	// Ref is what the caller named: a SHA-256 of the evidence store or a file path.
	Ref        string    `json:"ref"`
	SHA256     string    `json:"sha256"`
	Source     string    `json:"source,omitempty"`
	CapturedAt time.Time `json:"captured_at,omitzero"`
	Analysis   *Analysis `json:"-"`
}

// Load reads a version named by a SHA-256 (64 hex digits, optionally "sha256:"-prefixed) from
// the store, or else by a file path, and analyses it. A stored artifact is re-hashed as it is
// read; bytes that do not match their address are refused.
func Load(store Getter, ref string, cat Catalogue) (*Loaded, error) {
	h := strings.TrimPrefix(strings.TrimSpace(ref), "sha256:")
	if evidence.CheckHash(strings.ToLower(h)) == nil && store != nil {
		// "sha256:<hash>" always names stored evidence; a bare hash does unless a file of
		// that name is in the working directory
		explicit := strings.HasPrefix(strings.TrimSpace(ref), "sha256:")
		if _, err := os.Stat(ref); explicit || err != nil {
			return loadStored(store, ref, strings.ToLower(h), cat)
		}
	}
	data, err := readBounded(ref, maxInputBytes)
	if err != nil {
		return nil, err
	}
	if len(data) > maxInputBytes {
		data = data[:maxInputBytes]
	}
	a, err := Analyze(ref, data, "", cat)
	if err != nil {
		return nil, err
	}
	return &Loaded{Ref: ref, SHA256: sha256Hex(data), Analysis: a}, nil
}

func loadStored(store Getter, ref, h string, cat Catalogue) (*Loaded, error) {
	rec, err := store.Stat(h)
	if err != nil {
		return nil, fmt.Errorf("policies: %s: %w", ref, err)
	}
	rc, _, err := store.Get(h)
	if err != nil {
		return nil, fmt.Errorf("policies: %s: %w", ref, err)
	}
	defer rc.Close()
	// Read to EOF so the store's reader verifies the hash, but keep at most maxInputBytes.
	var buf strings.Builder
	if _, err := io.Copy(&buf, io.LimitReader(rc, maxInputBytes)); err != nil {
		return nil, fmt.Errorf("policies: %s: %w", ref, err)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return nil, fmt.Errorf("policies: %s: %w", ref, err)
	}
	first := rec.First()
	a, err := Analyze(first.Source, []byte(buf.String()), first.MediaType, cat)
	if err != nil {
		return nil, err
	}
	return &Loaded{Ref: ref, SHA256: h, Source: first.Source, CapturedAt: first.CapturedAt.UTC(), Analysis: a}, nil
}

// VersionDiff is what `pilmon policy diff` reports: the two versions and what changed.
type VersionDiff struct {
	Old *Loaded `json:"old"`
	New *Loaded `json:"new"`
	DiffResult
}

// DiffVersions compares two loaded versions.
func DiffVersions(old, new *Loaded) VersionDiff {
	return VersionDiff{Old: old, New: new, DiffResult: Diff(old.Analysis, new.Analysis)}
}

// LineChanges splits a changed section into the lines only the old text has and the lines only
// the new one has, each in its own order. Paragraphs are the unit of a policy, so a set
// difference of lines says what a reader needs: what was struck and what was written.
func LineChanges(old, new string) (removed, added []string) {
	count := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l != "" {
				m[l]++
			}
		}
		return m
	}
	om, nm := count(old), count(new)
	pick := func(s string, other map[string]int) []string {
		var out []string
		seen := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			if l = strings.TrimSpace(l); l == "" {
				continue
			}
			seen[l]++
			if seen[l] > other[l] {
				out = append(out, l)
			}
		}
		return out
	}
	return pick(old, nm), pick(new, om)
}

func sha256Hex(b []byte) string {
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// readBounded reads at most max+1 bytes of a policy file named on the command line (policy diff
// works outside a scan, so no scanner core opens it).
func readBounded(path string, max int64) ([]byte, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("policies: %s: %w", path, err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("policies: %s: %w", path, err)
	}
	if !st.Mode().IsRegular() {
		return nil, fmt.Errorf("policies: %s: not a regular file", path)
	}
	d, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, fmt.Errorf("policies: %s: read: %w", path, err)
	}
	return d, nil
}
