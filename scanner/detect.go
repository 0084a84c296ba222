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
	"unicode/utf8"
)

// maxSniff is how much of a file DetectKind reads; kinds are recognised by content, not by name.
const maxSniff = 64 << 10

// zipEntryLimit bounds the central directory DetectKind is willing to list.
const zipEntryLimit = 200000

// DetectKind recognises an input by its content: a zip with AndroidManifest.xml is an APK, the
// .wxapkg magic (plain 0xBE…0xED or PC-encrypted "V1MMWX") a mini-program package, HAR JSON
// traffic, HTML or text a privacy policy, and a folder with app.json / app-config.json /
// mini.project.json mini-program source (or a WeChat project folder with project.config.json). The error names the file and the reason.
func DetectKind(path string) (SourceKind, error) {
	fi, err := os.Stat(path)
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	if fi.IsDir() {
		for _, name := range []string{"app.json", "app-config.json", "mini.project.json", "project.config.json"} {
			if st, err := os.Stat(filepath.Join(path, name)); err == nil && st.Mode().IsRegular() {
				return SourceMPDir, nil
			}
		}
		return "", fmt.Errorf("%s: folder has no app.json, app-config.json, mini.project.json or project.config.json: not a mini-program source", path)
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
	kind, err := sniff(head, f, fi.Size())
	if err != nil {
		return "", fmt.Errorf("%s: %w", path, err)
	}
	return kind, nil
}

func sniff(head []byte, r io.ReaderAt, size int64) (SourceKind, error) {
	switch {
	case bytes.HasPrefix(head, []byte("PK\x03\x04")) || bytes.HasPrefix(head, []byte("PK\x05\x06")):
		return sniffZip(r, size)
	case bytes.HasPrefix(head, []byte("V1MMWX")):
		return SourceWxapkg, nil
	case len(head) >= 14 && head[0] == 0xBE && head[13] == 0xED:
		return SourceWxapkg, nil
	}
	if bytes.IndexByte(head, 0) >= 0 {
		return "", errors.New("binary file of unknown kind (not an APK, .wxapkg, HAR, HTML or text); use --kind to override")
	}
	text := bytes.TrimLeft(bytes.TrimPrefix(head, []byte("\xef\xbb\xbf")), " \t\r\n")
	if looksLikeHAR(text) {
		return SourceHAR, nil
	}
	if utf8.Valid(head) || likelyLegacyCJK(head) {
		return SourcePolicyFile, nil
	}
	return "", errors.New("not valid text in UTF-8, GBK/GB18030 or Big5, and not a known binary format; use --kind to override")
}

func sniffZip(r io.ReaderAt, size int64) (SourceKind, error) {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return "", fmt.Errorf("zip archive cannot be read: %v", err)
	}
	if len(zr.File) > zipEntryLimit {
		return "", fmt.Errorf("zip archive has %d entries, more than the %d pilmon accepts", len(zr.File), zipEntryLimit)
	}
	for _, f := range zr.File {
		if f.Name == "AndroidManifest.xml" {
			return SourceAPK, nil
		}
	}
	return "", errors.New("zip archive without AndroidManifest.xml: not an APK (unpack mini-program archives into a folder)")
}

// looksLikeHAR accepts a JSON object whose first key is "log" and which mentions "entries" or
// the HAR "creator"/"version" fields near the start.
func looksLikeHAR(text []byte) bool {
	if len(text) == 0 || text[0] != '{' {
		return false
	}
	rest := bytes.TrimLeft(text[1:], " \t\r\n")
	if !bytes.HasPrefix(rest, []byte(`"log"`)) {
		return false
	}
	return bytes.Contains(text, []byte(`"entries"`)) || bytes.Contains(text, []byte(`"creator"`)) || bytes.Contains(text, []byte(`"version"`))
}

// likelyLegacyCJK is a cheap test for GBK/GB18030/Big5 text: mostly bytes that form valid
// double-byte lead/trail pairs, and no C0 control characters other than whitespace.
func likelyLegacyCJK(b []byte) bool {
	pairs, bad := 0, 0
	for i := 0; i < len(b); i++ {
		c := b[i]
		switch {
		case c < 0x80:
			if c < 0x20 && !strings.ContainsRune("\t\r\n\f", rune(c)) {
				bad++
			}
		case c >= 0x81 && c <= 0xFE && i+1 < len(b) && b[i+1] >= 0x40 && b[i+1] != 0x7F && b[i+1] != 0xFF:
			pairs++
			i++
		default:
			bad++
		}
	}
	return pairs > 0 && bad*20 < pairs
}

// ParseKind validates a --kind value.
func ParseKind(s string) (SourceKind, error) {
	for _, k := range AllSourceKinds {
		if string(k) == s {
			return k, nil
		}
	}
	names := make([]string, len(AllSourceKinds))
	for i, k := range AllSourceKinds {
		names[i] = string(k)
	}
	return "", fmt.Errorf("unknown source kind %q (one of: %s)", s, strings.Join(names, ", "))
}
