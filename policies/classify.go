package policies

import (
	"bytes"
	"errors"
	"fmt"
	"regexp"
	"strings"
	"unicode/utf8"
)

// DocType is what a document given as a policy is.
type DocType string

const (
	DocPrivacyPolicy  DocType = "privacy_policy"
	DocChildrenPolicy DocType = "children_policy"
	DocSDKList        DocType = "sdk_list"        // an annex listing third-party SDKs
	DocPermissionList DocType = "permission_list" // an annex listing system permissions
	DocTermsOfService DocType = "terms_of_service"
	DocOther          DocType = "other"
)

// IsPolicy reports whether documents of this type state an operator's collection rules, so that
// their elements and clauses may become findings. Annexes are read for what they list (SDKs,
// PI) as part of the policy they belong to; a terms-of-service page or anything else is not a
// privacy policy however much it mentions personal information.
func (t DocType) IsPolicy() bool { return t == DocPrivacyPolicy || t == DocChildrenPolicy }

// IsAnnex reports whether the document is a list annexed to a policy.
func (t DocType) IsAnnex() bool { return t == DocSDKList || t == DocPermissionList }

// docTitles are the patterns a title or an opening heading is read with, in the order they are
// tried: a children's policy is also a privacy policy, and "服务及隐私协议" is a policy although it
// also names an agreement.
var docTitles = []struct {
	t  DocType
	re *regexp.Regexp
}{
	{DocChildrenPolicy, regexp.MustCompile(`(?i)儿童[^，。]{0,8}(个人信息|隐私)|(个人信息|隐私)[^，。]{0,8}儿童|未成年人[^，。]{0,6}(个人信息|隐私)[^，。]{0,4}(政策|规则|指引)|\bchild(ren)?['’]?s?\b.{0,20}\bprivacy\b|\bCOPPA\b`)},
	{DocSDKList, regexp.MustCompile(`(?i)SDK[^，。]{0,6}(目录|清单|列表|说明|一览)|第三方[^，。]{0,10}(共享|合作|接入)[^，。]{0,6}(清单|目录|列表)|\b(third[- ]party )?SDKs? (list|directory)\b|\blist of (third[- ]party )?SDKs\b`)},
	{DocPermissionList, regexp.MustCompile(`(?i)权限[^，。]{0,10}(说明|清单|列表|目录|一览)|\b(app )?permissions? (list|explained|we request)\b`)},
	{DocPrivacyPolicy, regexp.MustCompile(`(?i)隐私|个人信息[^，。]{0,6}(政策|规则|指引|声明|说明|条款)|\bprivacy\b|\bdata protection (notice|policy|statement)\b|\bpersonal (information|data) (policy|notice|statement)\b`)},
	{DocTermsOfService, regexp.MustCompile(`(?i)(用户|服务|使用|软件|许可|会员|平台|注册)[^，。]{0,6}(协议|条款|须知)|\bterms (of|and) (service|use)\b|\bterms\s*(&|and)\s*conditions\b|\buser agreement\b|\b(end[- ]user )?licen[cs]e agreement\b`)},
}

// filename-like titles (the tagtog wrapper's "<hash>-0604_com_x.txt") say nothing of the document.
var fileTitle = regexp.MustCompile(`^[\w.\-]+\.(txt|html?|md|pdf|json)$`)

// titleCandidates are the lines a reader takes for the document's title: the HTML title, then the
// first headings and the short opening lines, in document order.
func titleCandidates(doc *Document) []string {
	var out []string
	add := func(s string) {
		s = strings.TrimSpace(s)
		if s == "" || fileTitle.MatchString(s) || utf8.RuneCountInString(s) > 60 || strings.HasPrefix(s, "Apkid:") {
			return
		}
		out = append(out, s)
	}
	add(doc.Title)
	lines := 0
	for _, s := range doc.Sections {
		if lines >= 6 {
			break
		}
		if s.Heading != "" {
			add(s.Heading)
			lines++
		}
		for _, b := range s.Blocks {
			if lines >= 6 {
				break
			}
			if b.Kind != "row" {
				add(b.Text)
			}
			lines++
		}
	}
	return out
}

// classify decides what the document is, with the reason a reader can check. The title and the
// opening lines decide first, as a person reads a page; without a telling title, the content does.
func classify(doc *Document, a *Analysis) (DocType, string) {
	for _, c := range titleCandidates(doc) {
		for _, dt := range docTitles {
			if m := dt.re.FindString(c); m != "" {
				return dt.t, fmt.Sprintf("title or opening line “%s” (%s)", quoteShort(c), m)
			}
		}
	}
	// No telling title: what the text is made of.
	sdkRows, permRows, rows := 0, 0, 0
	for _, s := range doc.Sections {
		for _, b := range s.Blocks {
			if b.Kind != "row" {
				continue
			}
			rows++
			if sdkRow.MatchString(b.Text) {
				sdkRows++
			}
			if permRow.MatchString(b.Text) {
				permRows++
			}
		}
	}
	present := 0
	for _, e := range a.Elements {
		if e.Present {
			present++
		}
	}
	full := doc.Text()
	agreement := strings.Count(full, "本协议") + countFold(full, "these terms")
	policy := strings.Count(full, "本政策") + strings.Count(full, "隐私政策") + strings.Count(full, "隐私权政策") + strings.Count(full, "本指引") + countFold(full, "this policy") + countFold(full, "privacy notice")
	switch {
	case agreement > 2*policy && agreement >= 3:
		return DocTermsOfService, fmt.Sprintf("no title; the text calls itself an agreement (本协议/these terms %d times, the policy %d times)", agreement, policy)
	case policy >= 2 && agreement*2 < policy:
		return DocPrivacyPolicy, fmt.Sprintf("no title; the text calls itself the policy (本政策/隐私政策/this policy %d times, an agreement %d times)", policy, agreement)
	case a.Elements["pi_collected"].Present && present >= 6:
		return DocPrivacyPolicy, fmt.Sprintf("no title; %d of %d mandated elements stated, collection declared", present, len(ElementIDs))
	case sdkRows >= 2 && sdkRows*2 >= rows:
		return DocSDKList, fmt.Sprintf("no title; %d of %d table rows name an SDK and its provider", sdkRows, rows)
	case permRows >= 2 && permRows*2 >= rows:
		return DocPermissionList, fmt.Sprintf("no title; %d of %d table rows name a system permission", permRows, rows)
	}
	return DocOther, fmt.Sprintf("no policy title and %d of %d mandated elements stated", present, len(ElementIDs))
}

var (
	sdkRow  = regexp.MustCompile(`(?i)SDK|\bsdk\b`)
	permRow = regexp.MustCompile(`(?i)权限|\bpermission\b|android\.permission\.`)
)

func countFold(s, sub string) int { return strings.Count(strings.ToLower(s), sub) }

func quoteShort(s string) string {
	if utf8.RuneCountInString(s) > 40 {
		return string([]rune(s)[:40]) + "…"
	}
	return s
}

// ErrNotText is wrapped by the error of a refused input (JSON, a HAR capture, binary data).
var ErrNotText = errors.New("not a policy text")

// refuseContent refuses what is not a policy text by its content, whatever the file is called:
// a policy is text or HTML. JSON (a HAR capture, whole or cut short) belongs to the traffic
// reader, and binary data to no policy reader; reading either as a policy would turn its bytes
// into "elements".
func refuseContent(data []byte) error {
	head := data[:min(len(data), 8192)]
	if bytes.HasPrefix(head, []byte{0xFF, 0xFE}) || bytes.HasPrefix(head, []byte{0xFE, 0xFF}) {
		return nil // UTF-16 text with its byte-order mark
	}
	for _, m := range binaryMagics {
		if bytes.HasPrefix(head, []byte(m.magic)) {
			return fmt.Errorf("binary content (%s): %w", m.what, ErrNotText)
		}
	}
	ctl := 0
	for _, c := range head {
		if c == 0 {
			return fmt.Errorf("binary content (NUL bytes): %w", ErrNotText)
		}
		if (c < 0x20 && c != '\t' && c != '\n' && c != '\r' && c != '\f' && c != 0x1b) || c == 0x7f {
			ctl++
		}
	}
	if len(head) > 0 && ctl*20 > len(head) {
		return fmt.Errorf("binary content (%d control bytes in the first %d): %w", ctl, len(head), ErrNotText)
	}
	t := bytes.TrimLeft(bytes.TrimPrefix(head, []byte{0xEF, 0xBB, 0xBF}), " \t\r\n")
	if len(t) >= 2 && (t[0] == '{' || t[0] == '[') {
		rest := bytes.TrimLeft(t[1:], " \t\r\n")
		if len(rest) == 0 || strings.IndexByte(`"{}[]-0123456789`, rest[0]) >= 0 {
			what := "JSON"
			if bytes.Contains(head, []byte(`"log"`)) || bytes.Contains(head, []byte(`"entries"`)) {
				what = "a HAR capture (JSON)"
			}
			return fmt.Errorf("%s: %w; a policy is read from text or HTML (give a capture as traffic)", what, ErrNotText)
		}
	}
	return nil
}

var binaryMagics = []struct{ magic, what string }{
	{"PK\x03\x04", "a zip archive"}, {"PK\x05\x06", "a zip archive"}, {"%PDF", "a PDF"}, {"\x89PNG", "a PNG image"},
	{"GIF8", "a GIF image"}, {"\xff\xd8\xff", "a JPEG image"}, {"\x7fELF", "an ELF binary"}, {"dex\n", "a DEX file"},
	{"\xd0\xcf\x11\xe0", "an OLE2 document"}, {"\x1f\x8b", "gzip data"}, {"RIFF", "a RIFF file"},
}
