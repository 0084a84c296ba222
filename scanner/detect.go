package scanner

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"unicode"
	"unicode/utf8"
)

// maxSniff is how much of a file DetectKind reads; kinds are recognised by content, not by name.
const maxSniff = 64 << 10

// zipEntryLimit bounds the central directory DetectKind is willing to list.
const zipEntryLimit = 200000

// DetectSpec says how DetectKind recognises a kind by its content. It is data wherever a byte
// pattern can say it; Text is the last resort for formats only a look at the text tells apart.
type DetectSpec struct {
	// Magic recognises a file whose start matches any one of the patterns.
	Magic []Magic
	// ZipMembers recognise a zip archive holding an entry with any of these exact names.
	ZipMembers []string
	// FolderMarkers recognise a folder holding a regular file with any of these names.
	FolderMarkers []string
	// Text recognises a file whose head (its first 64 KiB as read; a multi-byte character may be
	// cut at the end) holds no NUL byte.
	Text func(head []byte) bool
	// Fallback kinds are asked only after every other kind has said no: the catch-all (text that
	// is nothing more specific is a privacy policy).
	Fallback bool
}

// Magic matches bytes at fixed offsets of a file's start; every part must match.
type Magic []MagicPart

// MagicPart is Bytes at Offset.
type MagicPart struct {
	Offset int
	Bytes  []byte
}

// Prefix is the magic of a file starting with p.
func Prefix(p string) Magic { return Magic{{Offset: 0, Bytes: []byte(p)}} }

func (m Magic) matches(head []byte) bool {
	if len(m) == 0 {
		return false
	}
	for _, p := range m {
		if p.Offset < 0 || len(head) < p.Offset+len(p.Bytes) || !bytes.Equal(head[p.Offset:p.Offset+len(p.Bytes)], p.Bytes) {
			return false
		}
	}
	return true
}

// zipMagics are the signatures of a zip archive (a local file header, or the end record of an
// empty archive).
var zipMagics = []Magic{Prefix("PK\x03\x04"), Prefix("PK\x05\x06")}

// DetectKind recognises an input by its content, as kinds declare (KindSpec.Detect): a folder by
// its marker files; a file as a zip archive with a declared member, by a magic, by a text
// predicate, or by a fallback kind's predicate when no other kind claims it. The error names the
// file and the reason.
func DetectKind(path string, kinds []KindSpec) (SourceKind, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if fi.IsDir() {
		kind, err := detectFolder(path, kinds)
		if err != nil {
			return "", fmt.Errorf("%s: %w", path, err)
		}
		return kind, nil
	}
	if !fi.Mode().IsRegular() {
		return "", fmt.Errorf("%s: not a regular file", path)
	}
	if fi.Size() == 0 {
		return "", fmt.Errorf("%s: empty file", path)
	}
	f, err := os.Open(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	defer f.Close()
	head := make([]byte, maxSniff)
	n, err := io.ReadFull(f, head)
	if err != nil && !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	head = head[:n]
	kind, err := sniff(head, f, fi.Size(), kinds)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return kind, nil
}

func detectFolder(path string, kinds []KindSpec) (SourceKind, error) {
	var markers, names []string
	for _, k := range kinds {
		if k.Detect == nil || len(k.Detect.FolderMarkers) == 0 {
			continue
		}
		for _, name := range k.Detect.FolderMarkers {
			if st, err := os.Stat(filepath.Join(path, name)); err == nil && st.Mode().IsRegular() {
				return k.Kind, nil
			}
		}
		markers = append(markers, k.Detect.FolderMarkers...)
		names = append(names, "a "+lowerFirst(k.label()))
	}
	if len(markers) == 0 {
		return "", errors.New("is a folder, and no source kind of this build is recognised as a folder; use --kind to override")
	}
	return "", fmt.Errorf("folder has no %s: not %s", orList(markers), orList(names))
}

func sniff(head []byte, r io.ReaderAt, size int64, kinds []KindSpec) (SourceKind, error) {
	var zipKinds []KindSpec
	for _, k := range kinds {
		if k.Detect != nil && len(k.Detect.ZipMembers) > 0 {
			zipKinds = append(zipKinds, k)
		}
	}
	if len(zipKinds) > 0 && matchesAny(zipMagics, head) {
		return sniffZip(r, size, zipKinds, kinds)
	}
	for _, k := range kinds {
		if k.Detect != nil && matchesAny(k.Detect.Magic, head) {
			return k.Kind, nil
		}
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return "", fmt.Errorf("binary file of unknown kind (not %s); use --kind to override", orList(fileLabels(kinds)))
	}
	for _, fallback := range []bool{false, true} {
		for _, k := range kinds {
			if d := k.Detect; d != nil && d.Fallback == fallback && d.Text != nil && d.Text(head) {
				return k.Kind, nil
			}
		}
	}
	return "", fmt.Errorf("text of no known kind and no known binary format (not %s); use --kind to override", orList(fileLabels(kinds)))
}

func sniffZip(r io.ReaderAt, size int64, zipKinds, kinds []KindSpec) (SourceKind, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "", fmt.Errorf("zip archive cannot be read: %v", err)
	}
	if len(zr.File) > zipEntryLimit {
		return "", fmt.Errorf("zip archive has %d entries, more than the %d pilmon accepts", len(zr.File), zipEntryLimit)
	}
	names := make(map[string]bool, len(zr.File))
	for _, f := range zr.File {
		names[f.Name] = true
	}
	var members, labels []string
	for _, k := range zipKinds {
		for _, m := range k.Detect.ZipMembers {
			if names[m] {
				return k.Kind, nil
			}
		}
		members = append(members, k.Detect.ZipMembers...)
		labels = append(labels, k.label())
	}
	msg := fmt.Sprintf("zip archive without %s: not %s", orList(members), orList(labels))
	var folders []string
	for _, k := range kinds {
		if k.Detect != nil && len(k.Detect.FolderMarkers) > 0 {
			folders = append(folders, lowerFirst(k.label()))
		}
	}
	if len(folders) > 0 {
		msg += fmt.Sprintf(" (unpack an archived %s into a folder)", orList(folders))
	}
	return "", errors.New(msg)
}

func matchesAny(ms []Magic, head []byte) bool {
	for _, m := range ms {
		if m.matches(head) {
			return true
		}
	}
	return false
}

// label is the kind's English name, or the kind itself when it declares none.
func (k KindSpec) label() string {
	if k.Label.EN != "" {
		return k.Label.EN
	}
	return string(k.Kind)
}

// fileLabels names the kinds a file may be recognised as.
func fileLabels(kinds []KindSpec) []string {
	var out []string
	for _, k := range kinds {
		if d := k.Detect; d != nil && (len(d.Magic) > 0 || len(d.ZipMembers) > 0 || d.Text != nil) {
			out = append(out, k.label())
		}
	}
	return out
}

func orList(s []string) string {
	switch len(s) {
	case 0:
		return "any known kind"
	case 1:
		return s[0]
	}
	return strings.Join(s[:len(s)-1], ", ") + " or " + s[len(s)-1]
}

func lowerFirst(s string) string {
	r, n := utf8.DecodeRuneInString(s)
	// Keep acronyms ("APK") as they are.
	if n < len(s) {
		if r2, _ := utf8.DecodeRuneInString(s[n:]); unicode.IsUpper(r2) {
			return s
		}
	}
	return string(unicode.ToLower(r)) + s[n:]
}

// TrimText is a text head without a UTF-8 byte-order mark and leading white space, for text
// predicates that look at the first token.
func TrimText(head []byte) []byte {
	return bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
}

// ParseKind validates a --kind value against the kinds of this build.
func ParseKind(s string, kinds []KindSpec) (SourceKind, error) {
	if k, ok := LookupKind(kinds, SourceKind(s)); ok {
		return k.Kind, nil
	}
	return "", fmt.Errorf("unknown source kind %q (one of: %s)", s, strings.Join(KindNames(kinds), ", "))
}
