// Package evidence is pilmon's write-once, content-addressed store of captured artifacts.
//
// Every artifact an inspector captures (an APK, a policy page, a HAR, a screenshot) is Put here
// before anything is derived from it; observations and findings refer to it by its SHA-256.
// A blob is never modified after it is stored, and every read re-verifies the hash, because a
// prosecutor must be able to show a court that what pilmon analysed is what was captured.
package evidence

import "time"

// Meta describes how an artifact was obtained. It is written beside the blob once, at first Put.
type Meta struct {
	// CapturedAt is the capture time in UTC.
	CapturedAt time.Time `json:"captured_at"`
	// Method says how the bytes were obtained: "file_import", "http_fetch", "browser_capture",
	// "har_import", "browser_screenshot", "derived" (e.g. an unpacked file, with Source naming the parent),
	// MethodSessionTimeline.
	Method string `json:"method"`
	// Source locates the original: a file path as given by the analyst, a URL, or "sha256:<hex>!path/in/archive".
	Source string `json:"source"`
	// Tool is the program and version that captured it, e.g. "pilmon 0.1.0".
	Tool string `json:"tool"`
	// Inspector names the inspector and its version when an inspector captured it, e.g. "apkinspect/1".
	Inspector string `json:"inspector,omitempty"`
	// MediaType is the IANA media type, e.g. "application/vnd.android.package-archive".
	MediaType string `json:"media_type"`
	// Note is free text from the analyst or the capturing code.
	Note string `json:"note,omitempty"`
}

// Ref identifies a stored artifact. SHA256 is the address; SM3 (GB/T 32905) is recorded because
// Chinese courts and forensic labs expect it.
type Ref struct {
	SHA256 string `json:"sha256"`
	SM3    string `json:"sm3"`
	Size   int64  `json:"size"`
}

// MethodSessionTimeline is the method of a session timeline pilmon derived from a hook log and a
// capture (not captured from the investigated party: the dashboard may show it inline).
const MethodSessionTimeline = "derived_session_timeline"
