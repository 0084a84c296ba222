package casefile

import (
	"archive/zip"
	"bytes"
	"crypto/ed25519"
	"crypto/sha256"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"pilmon/sm3"
)

// Problem kinds Verify reports.
const (
	ProblemAdded     = "added"     // a member the manifest does not list
	ProblemRemoved   = "removed"   // a member the manifest lists is missing
	ProblemAltered   = "altered"   // a member's bytes differ from the manifest
	ProblemDuplicate = "duplicate" // two members with one name
	ProblemSignature = "signature" // the signature is missing or does not verify
	ProblemKey       = "key"       // the bundle was signed with another key than the one given
	ProblemManifest  = "manifest"  // manifest.json is missing or unreadable
	ProblemTimestamp = "timestamp" // the timestamp token is present but does not verify
)

// Problem is one reason a bundle fails verification.
type Problem struct {
	Kind   string `json:"kind"`
	Path   string `json:"path,omitempty"`
	Detail string `json:"detail"`
}

func (p Problem) String() string {
	if p.Path == "" {
		return p.Kind + ": " + p.Detail
	}
	return p.Kind + ": " + p.Path + ": " + p.Detail
}

// VerifyOptions configure Verify.
type VerifyOptions struct {
	// PublicKey is the key the bundle must be signed with, obtained from the exporting office;
	// nil trusts the key inside the bundle (proving integrity since signing, not the signer).
	PublicKey ed25519.PublicKey
	// TSARoots, when set, are the CAs a timestamp token's signer must chain to.
	TSARoots *x509.CertPool
}

// VerifyReport is the outcome of Verify. OK is true when Problems is empty.
type VerifyReport struct {
	OK             bool           `json:"ok"`
	KeyFingerprint string         `json:"key_fingerprint,omitempty"`
	KeyGiven       bool           `json:"key_given"`
	CreatedAt      string         `json:"created_at,omitempty"`
	ExportedBy     string         `json:"exported_by,omitempty"`
	Target         string         `json:"target,omitempty"`
	Findings       int            `json:"findings"`
	Files          int            `json:"files"`
	Bytes          int64          `json:"bytes"`
	ManifestSHA256 string         `json:"manifest_sha256,omitempty"`
	Timestamp      *TimestampInfo `json:"timestamp,omitempty"`
	Problems       []Problem      `json:"problems"`
}

// Limits Verify applies to a bundle it reads.
const (
	maxMembers      = MaxEvidence + 64
	maxManifestSize = 512 << 20
)

// VerifyFile verifies the bundle at path (see Verify).
func VerifyFile(path string, opts VerifyOptions) (*VerifyReport, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, err
	}
	return Verify(f, fi.Size(), opts)
}

// Verify re-computes a bundle offline: the signature over manifest.json, the size, SHA-256 and SM3
// of every member it lists, members added or removed, and the timestamp token if there is one.
// An error means the input is not a readable zip at all; every other failure is a Problem.
func Verify(r io.ReaderAt, size int64, opts VerifyOptions) (*VerifyReport, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil && !errors.Is(err, zip.ErrInsecurePath) {
		return nil, fmt.Errorf("不是有效的 zip 证据包 / not a readable zip bundle: %w", err)
	}
	if len(zr.File) > maxMembers {
		return nil, fmt.Errorf("证据包成员过多 / %d members, more than the %d a bundle may have", len(zr.File), maxMembers)
	}
	rep := &VerifyReport{KeyGiven: opts.PublicKey != nil}
	problem := func(kind, path, format string, a ...any) {
		rep.Problems = append(rep.Problems, Problem{Kind: kind, Path: path, Detail: fmt.Sprintf(format, a...)})
	}
	members := make(map[string]*zip.File, len(zr.File))
	for _, f := range zr.File {
		if _, dup := members[f.Name]; dup {
			problem(ProblemDuplicate, f.Name, "此文件名出现多次 / the name occurs more than once")
			continue
		}
		members[f.Name] = f
	}
	finish := func() *VerifyReport {
		rep.OK = len(rep.Problems) == 0
		if rep.Problems == nil {
			rep.Problems = []Problem{}
		}
		return rep
	}

	mf, ok := members[ManifestName]
	if !ok {
		problem(ProblemRemoved, ManifestName, "缺少清单 / the manifest is missing")
		return finish(), nil
	}
	mb, err := readMember(mf, maxManifestSize)
	if err != nil {
		problem(ProblemManifest, ManifestName, "%v", err)
		return finish(), nil
	}
	msum := sha256.Sum256(mb)
	rep.ManifestSHA256 = hex.EncodeToString(msum[:])
	var m Manifest
	dec := json.NewDecoder(bytes.NewReader(mb))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&m); err != nil || m.Format != ManifestFormat {
		if err == nil {
			err = fmt.Errorf("format %q, want %q", m.Format, ManifestFormat)
		}
		problem(ProblemManifest, ManifestName, "无法读取清单 / not a pilmon manifest: %v", err)
		checkSignature(rep, members, mb, nil, opts, problem)
		return finish(), nil
	}
	rep.CreatedAt, rep.ExportedBy, rep.Target, rep.Findings, rep.Files = m.CreatedAt.UTC().Format("2006-01-02T15:04:05Z"), m.ExportedBy, m.Target.ID, m.Findings, len(m.Files)
	var bundleKey ed25519.PublicKey
	if kb, err := decodeB64(m.PublicKey.Key); err == nil && len(kb) == ed25519.PublicKeySize && m.PublicKey.Algorithm == "ed25519" {
		bundleKey = ed25519.PublicKey(kb)
	} else {
		problem(ProblemManifest, ManifestName, "清单中的公钥无效 / the manifest's public key is not a valid ed25519 key")
	}
	checkSignature(rep, members, mb, bundleKey, opts, problem)

	listed := make(map[string]bool, len(m.Files))
	buf := make([]byte, 256<<10)
	for _, fe := range m.Files {
		if listed[fe.Path] {
			problem(ProblemManifest, fe.Path, "清单重复列出此文件 / listed twice in the manifest")
			continue
		}
		listed[fe.Path] = true
		if fe.Path == ManifestName || fe.Path == SignatureName || fe.Path == TimestampName {
			problem(ProblemManifest, fe.Path, "清单不应列出此文件 / the manifest must not list this member")
			continue
		}
		zf, ok := members[fe.Path]
		if !ok {
			problem(ProblemRemoved, fe.Path, "清单列出的文件缺失 / listed in the manifest but missing")
			continue
		}
		got, err := hashMember(zf, fe.Size, buf)
		rep.Bytes += got.Size
		switch {
		case err != nil:
			problem(ProblemAltered, fe.Path, "读取失败 / cannot be read: %v", err)
		case got.Size != fe.Size:
			problem(ProblemAltered, fe.Path, "大小为 %d 字节，清单记载 %d / %d bytes, the manifest says %d", got.Size, fe.Size, got.Size, fe.Size)
		case got.SHA256 != fe.SHA256:
			problem(ProblemAltered, fe.Path, "SHA-256 为 %s，清单记载 %s / sha256 is %s, the manifest says %s", got.SHA256, fe.SHA256, got.SHA256, fe.SHA256)
		case got.SM3 != fe.SM3:
			problem(ProblemAltered, fe.Path, "SM3 为 %s，清单记载 %s / sm3 is %s, the manifest says %s", got.SM3, fe.SM3, got.SM3, fe.SM3)
		}
	}
	var added []string
	for name := range members {
		if !listed[name] && name != ManifestName && name != SignatureName && name != TimestampName {
			added = append(added, name)
		}
	}
	slices.Sort(added)
	for _, name := range added {
		problem(ProblemAdded, name, "清单未列出的文件 / not listed in the manifest")
	}
	if tf, ok := members[TimestampName]; ok {
		tb, err := readMember(tf, maxTSAResponse)
		if err == nil {
			var info TimestampInfo
			if info, err = VerifyTimestamp(tb, msum[:], opts.TSARoots); err == nil {
				rep.Timestamp = &info
			}
		}
		if err != nil {
			problem(ProblemTimestamp, TimestampName, "%v", err)
		}
	}
	return finish(), nil
}

func checkSignature(rep *VerifyReport, members map[string]*zip.File, mb []byte, bundleKey ed25519.PublicKey,
	opts VerifyOptions, problem func(kind, path, format string, a ...any)) {
	key := bundleKey
	if opts.PublicKey != nil {
		if bundleKey != nil && !bundleKey.Equal(opts.PublicKey) {
			problem(ProblemKey, ManifestName, "证据包由另一密钥签名（指纹 %s），应为 %s / signed with another key (fingerprint %s), expected %s",
				KeyFingerprint(bundleKey), KeyFingerprint(opts.PublicKey), KeyFingerprint(bundleKey), KeyFingerprint(opts.PublicKey))
		}
		key = opts.PublicKey
	}
	if key == nil {
		problem(ProblemSignature, SignatureName, "没有可用于校验的公钥 / no public key to check the signature with")
		return
	}
	rep.KeyFingerprint = KeyFingerprint(key)
	sf, ok := members[SignatureName]
	if !ok {
		problem(ProblemSignature, SignatureName, "缺少签名 / the signature is missing")
		return
	}
	sig, err := readMember(sf, 1024)
	if err != nil {
		problem(ProblemSignature, SignatureName, "%v", err)
		return
	}
	if len(sig) != ed25519.SignatureSize || !ed25519.Verify(key, mb, sig) {
		problem(ProblemSignature, SignatureName, "签名与 manifest.json 不符（清单被改动或由他人签名）/ does not verify over manifest.json (the manifest was altered or signed by someone else)")
	}
}

// readMember reads a whole member of at most limit bytes.
func readMember(f *zip.File, limit int64) ([]byte, error) {
	if f.UncompressedSize64 > uint64(limit) {
		return nil, fmt.Errorf("%s: %d bytes, more than %d", f.Name, f.UncompressedSize64, limit)
	}
	rc, err := f.Open()
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	defer rc.Close()
	b, err := io.ReadAll(io.LimitReader(rc, limit+1))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", f.Name, err)
	}
	if int64(len(b)) > limit {
		return nil, fmt.Errorf("%s: more than %d bytes", f.Name, limit)
	}
	return b, nil
}

// hashMember hashes a member, reading at most want+1 bytes so that a member larger than the
// manifest says shows as altered without being read to its end.
func hashMember(f *zip.File, want int64, buf []byte) (FileEntry, error) {
	rc, err := f.Open()
	if err != nil {
		return FileEntry{}, err
	}
	defer rc.Close()
	sh, sm := sha256.New(), sm3.New()
	n, err := io.CopyBuffer(io.MultiWriter(sh, sm), io.LimitReader(rc, max(want, 0)+1), buf)
	e := FileEntry{Size: n, SHA256: hex.EncodeToString(sh.Sum(nil)), SM3: hex.EncodeToString(sm.Sum(nil))}
	if err != nil && n <= want {
		return e, err
	}
	return e, nil
}

// Summary lines for people: the problems, Chinese first.
func (r *VerifyReport) String() string {
	var b strings.Builder
	for _, p := range r.Problems {
		b.WriteString(p.String())
		b.WriteByte('\n')
	}
	return b.String()
}
