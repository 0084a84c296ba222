package casefile

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"time"

	"pilmon/evidence"
)

// ManifestFormat names the manifest schema; Verify refuses any other.
const ManifestFormat = "pilmon-casefile/1"

// FindingsFormat names the schema of findings.json.
const FindingsFormat = "pilmon-findings/1"

// Manifest is manifest.json: what the bundle holds and how each member was obtained. Its bytes
// are canonical (fields in struct order, files sorted by path, two-space indent, no HTML escaping,
// trailing newline) and are what signature.ed25519 and timestamp.tsr cover.
type Manifest struct {
	Format     string         `json:"format"`
	CreatedAt  time.Time      `json:"created_at"`
	Tool       string         `json:"tool"`
	ExportedBy string         `json:"exported_by"`
	Lang       string         `json:"lang"`
	Selection  Selection      `json:"selection"`
	Target     ManifestTarget `json:"target"`
	ScanID     string         `json:"scan_id,omitempty"`
	PublicKey  PublicKeyInfo  `json:"public_key"`
	Findings   int            `json:"findings"`
	Files      []FileEntry    `json:"files"`
}

// ManifestTarget is the target as the cover shows it.
type ManifestTarget struct {
	ID       string `json:"id"`
	Kind     string `json:"kind,omitempty"`
	Name     string `json:"name,omitempty"`
	Operator string `json:"operator,omitempty"`
	Category string `json:"category,omitempty"`
}

// PublicKeyInfo is the key the manifest is signed with.
type PublicKeyInfo struct {
	Algorithm   string `json:"algorithm"`   // "ed25519"
	Key         string `json:"key"`         // standard base64 of the 32 raw bytes
	Fingerprint string `json:"fingerprint"` // KeyFingerprint
}

// Roles of bundle members.
const (
	RoleEvidence     = "evidence"
	RoleFindings     = "findings"
	RoleReport       = "report"
	RoleSpreadsheet  = "spreadsheet"
	RolePublicKey    = "public_key"
	RoleInstructions = "instructions"
)

// FileEntry is one member of the bundle.
type FileEntry struct {
	Path      string `json:"path"`
	Role      string `json:"role"`
	Size      int64  `json:"size"`
	SHA256    string `json:"sha256"`
	SM3       string `json:"sm3"`
	MediaType string `json:"media_type"`
	// Captures are the custody records of an evidence artifact (capture time, method, source, tool
	// and inspector version), oldest first, as the evidence store holds them.
	Captures []evidence.Capture `json:"captures,omitempty"`
	// Findings are the fingerprints of the findings citing an evidence artifact.
	Findings []string `json:"findings,omitempty"`
	// Rendered names, for a captured web page (bundled inert as ….html.txt / ….mhtml.txt), the
	// members holding a rendering of it from the same browser capture (screenshot, PDF): what an
	// officer looks at instead of opening the page's own code.
	Rendered []string `json:"rendered,omitempty"`
}

// encodeManifest returns the canonical bytes of m.
func encodeManifest(m Manifest) ([]byte, error) {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(m); err != nil {
		return nil, fmt.Errorf("casefile: manifest: %w", err)
	}
	return buf.Bytes(), nil
}

func decodeB64(s string) ([]byte, error) { return base64.StdEncoding.DecodeString(s) }
