package policies

import (
	"bytes"
	"fmt"
	"path"
	"strings"
	"unicode/utf8"

	"golang.org/x/net/html/charset"
	"golang.org/x/text/encoding"
	"golang.org/x/text/encoding/htmlindex"
	"golang.org/x/text/encoding/simplifiedchinese"
	"golang.org/x/text/encoding/traditionalchinese"
	"golang.org/x/text/transform"
)

// Format of a captured policy.
type Format string

const (
	FormatHTML     Format = "html"
	FormatMarkdown Format = "markdown"
	FormatText     Format = "text"
)

// DetectFormat guesses the format from the name, the media type and the first bytes.
func DetectFormat(name, mediaType string, data []byte) Format {
	mt := strings.ToLower(mediaType)
	switch {
	case strings.Contains(mt, "html"):
		return FormatHTML
	case strings.Contains(mt, "markdown"):
		return FormatMarkdown
	}
	switch strings.ToLower(path.Ext(name)) {
	case ".html", ".htm", ".xhtml", ".shtml", ".php", ".jsp", ".asp", ".aspx":
		return FormatHTML
	case ".md", ".markdown":
		return FormatMarkdown
	}
	head := bytes.ToLower(data[:min(len(data), 4096)])
	for _, tag := range [][]byte{[]byte("<!doctype html"), []byte("<html"), []byte("<body"), []byte("<head"), []byte("<p>"), []byte("<div"), []byte("<h1"), []byte("<meta")} {
		if bytes.Contains(head, tag) {
			return FormatHTML
		}
	}
	if bytes.HasPrefix(head, []byte("---\n")) || bytes.Contains(head, []byte("\n## ")) || bytes.HasPrefix(head, []byte("# ")) {
		return FormatMarkdown
	}
	return FormatText
}

// DecodeCharset returns data as UTF-8 and the name of the charset it was read as. The declared
// charset (BOM, Content-Type, <meta>) wins; undeclared bytes that are not UTF-8 are tried as
// GB18030 (a superset of GBK and GB2312) and Big5, and the decoding with fewer invalid sequences
// is kept. It never fails: undecodable bytes become U+FFFD.
func DecodeCharset(data []byte, contentType string, format Format) (string, string) {
	// BOMs first: they are unambiguous.
	switch {
	case bytes.HasPrefix(data, []byte{0xEF, 0xBB, 0xBF}):
		return strings.ToValidUTF8(string(data[3:]), "\uFFFD"), "utf-8"
	case bytes.HasPrefix(data, []byte{0xFF, 0xFE}), bytes.HasPrefix(data, []byte{0xFE, 0xFF}):
		enc, name, _ := charset.DetermineEncoding(data, "")
		return decodeWith(enc, data), name
	}
	declared := ""
	if ct := strings.ToLower(contentType); strings.Contains(ct, "charset=") {
		declared = strings.Trim(strings.TrimSpace(ct[strings.Index(ct, "charset=")+8:]), `"';`)
	}
	if declared == "" && format == FormatHTML {
		_, name, certain := charset.DetermineEncoding(data[:min(len(data), 1024)], "text/html")
		if certain || (name != "windows-1252" && name != "") {
			declared = name
		}
		// DetermineEncoding only looks at 1024 bytes; meta tags sometimes come later.
		if !certain {
			if m := metaCharset(data[:min(len(data), 8192)]); m != "" {
				declared = m
			}
		}
	}
	if declared != "" {
		if enc, err := htmlindex.Get(declared); err == nil {
			name, _ := htmlindex.Name(enc)
			if name == "utf-8" && !utf8.Valid(data) {
				// A page that lies about UTF-8 is usually GBK.
				return guessCJK(data)
			}
			return decodeWith(enc, data), name
		}
	}
	if utf8.Valid(data) {
		return string(data), "utf-8"
	}
	return guessCJK(data)
}

func metaCharset(head []byte) string {
	l := bytes.ToLower(head)
	i := bytes.Index(l, []byte("charset="))
	if i < 0 {
		return ""
	}
	rest := l[i+8:]
	rest = bytes.TrimLeft(rest, `"' `)
	end := bytes.IndexAny(rest, `"'>; /`)
	if end < 0 || end > 40 {
		return ""
	}
	return string(rest[:end])
}

func guessCJK(data []byte) (string, string) {
	gb := decodeWith(simplifiedchinese.GB18030, data)
	big5 := decodeWith(traditionalchinese.Big5, data)
	if badness(big5) < badness(gb) {
		return big5, "big5"
	}
	return gb, "gb18030"
}

// badness counts replacement characters and rare code points, which wrong decodings produce.
func badness(s string) int {
	n := 0
	for _, r := range s {
		switch {
		case r == utf8.RuneError:
			n += 10
		case r >= 0xE000 && r <= 0xF8FF: // private use
			n += 5
		case r >= 0x3400 && r <= 0x4DBF: // CJK extension A: rare in real text
			n += 2
		case r >= 0x80 && r < 0x2000 && r != 0xB7 && r != 0xA0:
			n++
		}
	}
	return n
}

func decodeWith(enc encoding.Encoding, data []byte) string {
	out, _, err := transform.Bytes(enc.NewDecoder(), data)
	if err != nil {
		return strings.ToValidUTF8(string(data), "\uFFFD")
	}
	return strings.ToValidUTF8(string(out), "\uFFFD")
}

// errorf names the input in every error.
func errorf(name, format string, a ...any) error {
	return fmt.Errorf("policies: %s: %s", name, fmt.Sprintf(format, a...))
}
