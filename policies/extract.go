package policies

import (
	"regexp"

	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/net/html"
	"golang.org/x/net/html/atom"
)

// Limits bound extraction of hostile input.
const (
	maxInputBytes = 8 << 20 // bytes of decoded text/HTML read
	maxDepth      = 256     // HTML nesting deeper than this is skipped
	maxBlocks     = 50000
	maxSections   = 5000
	maxBlockRunes = 20000
)

// Document is a policy's text with its structure kept.
type Document struct {
	Title    string    `json:"title"`
	Sections []Section `json:"sections"`
	// Truncated is set when a limit cut the input short.
	Truncated bool `json:"truncated,omitempty"`
	// Footer holds the lines of the page footer, which is not part of the text but is where
	// many pages state the policy's date.
	Footer []string `json:"footer,omitempty"`
}

// Section is a heading and the blocks under it; the first section may have no heading.
type Section struct {
	Number  string  `json:"number,omitempty"` // "一、", "（二）", "3.1", "第五条"
	Heading string  `json:"heading"`          // without the number
	Level   int     `json:"level"`
	Blocks  []Block `json:"blocks"`
}

// Title is the heading with its number, as written.
func (s Section) Title() string {
	if s.Number == "" {
		return s.Heading
	}
	if hasHan(s.Number) || strings.HasSuffix(s.Number, ")") {
		return s.Number + s.Heading
	}
	return strings.TrimSpace(s.Number + " " + s.Heading)
}

// Text joins the section's blocks, one per line.
func (s Section) Text() string {
	var b strings.Builder
	for _, bl := range s.Blocks {
		b.WriteString(bl.Text)
		b.WriteByte('\n')
	}
	return b.String()
}

// Block is a paragraph, a list item or a table row.
type Block struct {
	Kind  string   `json:"kind"` // paragraph | item | row
	Text  string   `json:"text"`
	Cells []string `json:"cells,omitempty"`
	// Header: a table's header row (all <th> cells, or a Markdown row above its separator).
	Header bool `json:"header,omitempty"`
}

// Text returns the whole document as plain text.
func (d *Document) Text() string {
	var b strings.Builder
	for _, s := range d.Sections {
		if s.Heading != "" {
			b.WriteString(s.Title())
			b.WriteByte('\n')
		}
		b.WriteString(s.Text())
	}
	return b.String()
}

type lineKind int

const (
	lPara lineKind = iota
	lHeading
	lItem
	lRow
)

type line struct {
	kind   lineKind
	level  int
	text   string
	cells  []string
	header bool
	pre    bool // from <pre> or plain text: numbering detection applies
}

// Extract reads a policy (already decoded to UTF-8) into sections.
func Extract(text string, format Format) *Document {
	trunc := false
	if len(text) > maxInputBytes {
		text, trunc = strings.ToValidUTF8(text[:maxInputBytes], ""), true
	}
	var lines []line
	var footer []string
	title := ""
	switch format {
	case FormatHTML:
		lines, title, footer = htmlLines(text)
	case FormatMarkdown:
		lines = markdownLines(text)
	default:
		lines = textLines(text, false)
	}
	d := sectionize(lines)
	d.Footer = footer
	d.Truncated = d.Truncated || trunc
	// The title is the heading that opens the document when it names a document ("示例App隐私政策",
	// "Privacy Notice"): it usually carries the app's or the operator's name. A numbered section,
	// a heading after the text has begun (a user agreement's "隐私政策" section) or a section
	// heading ("本隐私政策的适用范围", "How we update this policy") is not the document's name, and
	// records would otherwise call the policy by it. Failing that, the page's <title> when it
	// names a document ("隐私政策 - 示例商城"); a site's name or a file name does not.
	body := 0
	for _, s := range d.Sections {
		if body > maxTitleLead {
			break
		}
		if s.Heading != "" && s.Number == "" && namesDocument(s.Heading) {
			d.Title = cleanTitle(s.Heading)
			break
		}
		for _, b := range s.Blocks {
			body += utf8.RuneCountInString(b.Text)
		}
	}
	if d.Title == "" && namesDocument(title) {
		d.Title = cleanTitle(title)
	}
	return d
}

// maxTitleLead is how much text may come before the heading that names the document (an app id
// line, a notice of the last update).
const maxTitleLead = 200

// docName matches a heading that ends with the name of a kind of document, once a trailing
// version, date or edition in brackets is dropped.
var (
	docName      = regexp.MustCompile(`(?i)((隐私|个人信息|儿童|未成年人)[^，。；]{0,12}(政策|指引|声明|规则|条款)|(用户|服务|软件|许可|会员|平台|注册|使用)[^，。；]{0,6}(协议|条款)|(SDK|第三方|共享|权限)[^，。；]{0,10}(清单|目录|列表)|\b(privacy|cookies?|data protection|personal (information|data)) (policy|notice|statement)|\bterms of (service|use)|\bterms (and|&) conditions|\b(user|licen[cs]e|subscriber|service) agreement|\bsdk list)$`)
	docNameTail  = regexp.MustCompile(`[\s　]*([（(【\[][^）)】\]]{0,30}[）)】\]]|[-—–:：|·]\s*[^-—–:：|·]{0,30}|v?\d[\d.\s年月日-]*版?)[\s　]*$`)
	docNameLead  = regexp.MustCompile(`(?i)^(the )?(privacy|cookies?) (policy|notice|statement) (for|of)\b`)
	docNameInner = regexp.MustCompile(`^本|\b(this|these|changes?|how|what|when|why|updates?)\b`)
)

// namesDocument reports whether a heading is a document's name rather than a section's.
func namesDocument(h string) bool {
	h = strings.TrimSpace(collapse(h))
	if h == "" || utf8.RuneCountInString(h) > 60 || docNameInner.MatchString(strings.ToLower(h)) {
		return false
	}
	if docNameLead.MatchString(h) {
		return true
	}
	// the name may stand before or after a trailing part ("Mozilla Subscription Services |
	// Privacy Notice", "个人信息保护政策 - 示例科技", "…指引（2024年版）")
	for i := 0; i < 4; i++ {
		if docName.MatchString(strings.TrimRight(h, " 　.。:：")) {
			return true
		}
		t := strings.TrimSpace(docNameTail.ReplaceAllString(h, ""))
		if t == h || t == "" {
			return docName.MatchString(strings.TrimRight(tailOf(h), " 　.。:："))
		}
		if docName.MatchString(strings.TrimRight(tailOf(h), " 　.。:：")) {
			return true
		}
		h = t
	}
	return false
}

// tailOf is what follows the last separator of a heading ("A | Privacy Notice" → "Privacy Notice").
func tailOf(h string) string {
	if k := strings.LastIndexAny(h, "|-—–:：·"); k >= 0 {
		return strings.TrimSpace(h[k+len(string([]rune(h[k:])[0])):])
	}
	return h
}

func cleanTitle(s string) string {
	s = collapse(s)
	if utf8.RuneCountInString(s) > 200 {
		s = string([]rune(s)[:200])
	}
	return s
}

var skipTags = map[atom.Atom]bool{
	atom.Script: true, atom.Style: true, atom.Noscript: true, atom.Template: true, atom.Svg: true,
	atom.Nav: true, atom.Footer: true, atom.Aside: true, atom.Form: true, atom.Button: true,
	atom.Select: true, atom.Object: true, atom.Iframe: true, atom.Head: true, atom.Math: true,
	atom.Canvas: true, atom.Audio: true, atom.Video: true, atom.Textarea: true, atom.Dialog: true,
}

var blockTags = map[atom.Atom]bool{
	atom.P: true, atom.Div: true, atom.Section: true, atom.Article: true, atom.Main: true, atom.Br: true,
	atom.Li: true, atom.Ul: true, atom.Ol: true, atom.Dl: true, atom.Dt: true, atom.Dd: true, atom.Blockquote: true,
	atom.Table: true, atom.Tr: true, atom.Td: true, atom.Th: true, atom.Pre: true, atom.Hr: true, atom.Header: true,
	atom.H1: true, atom.H2: true, atom.H3: true, atom.H4: true, atom.H5: true, atom.H6: true, atom.Address: true,
	atom.Figure: true, atom.Figcaption: true, atom.Caption: true, atom.Details: true, atom.Summary: true, atom.Center: true,
}

var boilerplateClass = map[string]bool{"nav": true, "navbar": true, "navigation": true, "menu": true, "footer": true,
	"breadcrumb": true, "breadcrumbs": true, "sidebar": true, "site-footer": true, "site-header": true,
	"toolbar": true, "skip-link": true, "cookie-banner": true, "topbar": true}

func isBoilerplate(n *html.Node) bool {
	for _, a := range n.Attr {
		switch a.Key {
		case "class", "id":
			for _, tok := range strings.Fields(strings.ToLower(a.Val)) {
				if boilerplateClass[tok] {
					return true
				}
			}
		case "role":
			if v := strings.ToLower(a.Val); v == "navigation" || v == "banner" || v == "contentinfo" {
				return true
			}
		case "hidden", "aria-hidden":
			if a.Key == "hidden" || a.Val == "true" {
				return true
			}
		}
	}
	return false
}

// Limits of the footer kept for its dates.
const (
	maxFooterLines = 20
	maxFooterNodes = 2000
)

// footerText collects the text of a footer element, one line per block, bounded.
func footerText(n *html.Node, out []string) []string {
	var b strings.Builder
	stack := []*html.Node{n}
	for visited := 0; len(stack) > 0 && visited < maxFooterNodes && len(out) < maxFooterLines; visited++ {
		c := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		if c == nil {
			if t := collapse(b.String()); t != "" {
				out = append(out, t)
			}
			b.Reset()
			continue
		}
		switch c.Type {
		case html.TextNode:
			b.WriteString(c.Data)
			continue
		case html.ElementNode:
			if c.DataAtom == atom.Script || c.DataAtom == atom.Style {
				continue
			}
			if blockTags[c.DataAtom] {
				stack = append(stack, nil) // flush after its children
			}
		}
		var kids []*html.Node
		for k := c.FirstChild; k != nil && len(kids) < maxFooterNodes; k = k.NextSibling {
			kids = append(kids, k)
		}
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, kids[i])
		}
	}
	if t := collapse(b.String()); t != "" && len(out) < maxFooterLines {
		out = append(out, t)
	}
	return out
}

func isFooter(n *html.Node) bool {
	if n.DataAtom == atom.Footer {
		return true
	}
	for _, a := range n.Attr {
		if (a.Key == "role" && strings.EqualFold(a.Val, "contentinfo")) || ((a.Key == "class" || a.Key == "id") && slicesContainsFold(strings.Fields(a.Val), "footer")) {
			return true
		}
	}
	return false
}

func slicesContainsFold(list []string, s string) bool {
	for _, x := range list {
		if strings.EqualFold(x, s) {
			return true
		}
	}
	return false
}

// htmlLines walks the parsed document iteratively (no recursion, bounded depth).
// htmlTitle is the text of the page's <title> (the walk below skips <head>), looked for among
// the first maxTitleNodes nodes so a hostile page cannot make the search long.
func htmlTitle(doc *html.Node) string {
	const maxTitleNodes = 2000
	queue, seen := []*html.Node{doc}, 0
	for len(queue) > 0 && seen < maxTitleNodes {
		n := queue[0]
		queue = queue[1:]
		seen++
		if n.Type == html.ElementNode && n.DataAtom == atom.Title {
			if n.FirstChild != nil && n.FirstChild.Type == html.TextNode {
				return n.FirstChild.Data
			}
			return ""
		}
		for c := n.FirstChild; c != nil && len(queue) < maxTitleNodes; c = c.NextSibling {
			queue = append(queue, c)
		}
	}
	return ""
}

func htmlLines(src string) ([]line, string, []string) {
	doc, err := html.ParseWithOptions(strings.NewReader(src))
	if err != nil {
		return textLines(src, false), "", nil
	}
	title := htmlTitle(doc)
	var footer []string
	var (
		lines  []line
		buf    strings.Builder
		inPre  int
		row    []string
		inRow  bool
		cell   strings.Builder
		inCell bool
		head   int // heading level being read
		inItem int
		allTh  bool // every cell of the row being read is a <th>
	)
	flush := func() {
		t := buf.String()
		buf.Reset()
		if inPre > 0 {
			lines = append(lines, textLines(t, true)...)
			return
		}
		t = collapse(t)
		if t == "" {
			return
		}
		switch {
		case head > 0:
			lines = append(lines, line{kind: lHeading, level: head, text: t})
		case inItem > 0:
			lines = append(lines, line{kind: lItem, text: t})
		default:
			lines = append(lines, line{kind: lPara, text: t})
		}
	}
	type frame struct {
		n     *html.Node
		exit  bool
		depth int
	}
	stack := []frame{{n: doc}}
	for len(stack) > 0 && len(lines) < maxBlocks {
		f := stack[len(stack)-1]
		stack = stack[:len(stack)-1]
		n := f.n
		if f.exit {
			switch n.DataAtom {
			case atom.Pre:
				flush()
				inPre--
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				if inRow {
					break
				}
				flush()
				head = 0
			case atom.Li, atom.Dd, atom.Dt:
				if !inRow {
					flush()
				}
				inItem--
			case atom.Td, atom.Th:
				if inRow && inCell {
					row = append(row, collapse(cell.String()))
					cell.Reset()
					inCell = false
				}
			case atom.Tr:
				if inRow {
					if inCell {
						row = append(row, collapse(cell.String()))
						cell.Reset()
						inCell = false
					}
					var nonEmpty []string
					for _, c := range row {
						if c != "" {
							nonEmpty = append(nonEmpty, c)
						}
					}
					if len(nonEmpty) > 0 {
						lines = append(lines, line{kind: lRow, text: strings.Join(nonEmpty, " | "), cells: row, header: allTh})
					}
					row, inRow = nil, false
				}
			default:
				if blockTags[n.DataAtom] && !inRow {
					flush()
				}
			}
			continue
		}
		switch n.Type {
		case html.TextNode:
			if inCell {
				cell.WriteString(n.Data)
				cell.WriteByte(' ')
			} else if inRow {
				// text directly in a row: ignore
			} else {
				buf.WriteString(n.Data)
			}
			continue
		case html.ElementNode:
			if skipTags[n.DataAtom] || isBoilerplate(n) || f.depth > maxDepth {
				if isFooter(n) && len(footer) < maxFooterLines {
					footer = footerText(n, footer)
				}
				continue
			}
			switch n.DataAtom {
			case atom.Pre:
				flush()
				inPre++
			case atom.H1, atom.H2, atom.H3, atom.H4, atom.H5, atom.H6:
				if !inRow {
					flush()
					head = int(n.Data[1] - '0')
				}
			case atom.Li, atom.Dd, atom.Dt:
				if !inRow {
					flush()
				}
				inItem++
			case atom.Tr:
				if !inRow {
					flush()
					inRow, row, allTh = true, nil, true
				}
			case atom.Td, atom.Th:
				if inRow {
					if inCell {
						row = append(row, collapse(cell.String()))
						cell.Reset()
					}
					inCell = true
					allTh = allTh && n.DataAtom == atom.Th
				}
			case atom.Br:
				if inCell {
					cell.WriteByte(' ')
				} else if inPre > 0 {
					buf.WriteByte('\n')
				} else {
					flush()
				}
			default:
				if blockTags[n.DataAtom] && !inRow {
					flush()
				}
			}
		case html.DocumentNode:
		default:
			continue
		}
		stack = append(stack, frame{n: n, exit: true, depth: f.depth})
		// push children in reverse so the first child is processed first
		var kids []*html.Node
		for c := n.FirstChild; c != nil; c = c.NextSibling {
			kids = append(kids, c)
		}
		for i := len(kids) - 1; i >= 0; i-- {
			stack = append(stack, frame{n: kids[i], depth: f.depth + 1})
		}
	}
	flush()
	return lines, title, footer
}

var (
	frontMatter = regexp.MustCompile(`(?s)\A---\n.*?\n---\n`)
	htmlComment = regexp.MustCompile(`(?s)<!--.*?-->`)
	mdLink      = regexp.MustCompile(`!?\[([^\]]*)\]\([^)]*\)`)
	mdRefLink   = regexp.MustCompile(`\[([^\]]+)\]\[[^\]]*\]`)
	mdEmph      = regexp.MustCompile(`\*\*|__|\*|` + "`")
	mdEscape    = regexp.MustCompile(`\\([\\.\-*_#()\[\]{}!+|>])`)
	tagRe       = regexp.MustCompile(`<[^>\n]{0,500}>`)
	mdHeading   = regexp.MustCompile(`^(#{1,6})\s+(.*?)\s*#*\s*$`)
	// an item marker: Markdown's, or the bullet a Chinese policy written as text uses (· • ●)
	mdItem     = regexp.MustCompile(`^\s{0,8}(?:(?:[-*+]|\d{1,3}[.)])\s+|[·•●▪]\s*)(\S.*)$`)
	mdTableSep = regexp.MustCompile(`^\s*\|?\s*:?-{2,}`)
)

func mdInline(s string) string {
	s = mdLink.ReplaceAllString(s, "$1")
	s = mdRefLink.ReplaceAllString(s, "$1")
	s = tagRe.ReplaceAllString(s, " ")
	s = mdEscape.ReplaceAllString(s, "$1")
	s = mdEmph.ReplaceAllString(s, "")
	s = strings.NewReplacer("&nbsp;", " ", "&amp;", "&", "&lt;", "<", "&gt;", ">", "&quot;", `"`).Replace(s)
	return collapse(s)
}

func markdownLines(src string) []line {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	src = frontMatter.ReplaceAllString(src, "")
	src = htmlComment.ReplaceAllString(src, "")
	var lines []line
	var para []string
	flush := func() {
		if len(para) > 0 {
			lines = append(lines, line{kind: lPara, text: joinWrapped(para), pre: true})
			para = nil
		}
	}
	for _, raw := range strings.Split(src, "\n") {
		if len(lines) >= maxBlocks {
			break
		}
		t := strings.TrimRight(raw, " \t")
		switch {
		case strings.TrimSpace(t) == "":
			flush()
		case mdHeading.MatchString(t):
			flush()
			m := mdHeading.FindStringSubmatch(t)
			if h := mdInline(m[2]); h != "" {
				lines = append(lines, line{kind: lHeading, level: len(m[1]), text: h})
			}
		case strings.HasPrefix(strings.TrimSpace(t), "|"):
			flush()
			if mdTableSep.MatchString(t) && !strings.ContainsAny(strings.Trim(t, "|-: "), "abcdefghijklmnopqrstuvwxyz\u4e00") {
				// the row above the separator names the columns
				if n := len(lines); n > 0 && lines[n-1].kind == lRow {
					lines[n-1].header = true
				}
				continue
			}
			cells := strings.Split(strings.Trim(strings.TrimSpace(t), "|"), "|")
			var out []string
			for _, c := range cells {
				out = append(out, mdInline(c))
			}
			lines = append(lines, line{kind: lRow, text: strings.Join(out, " | "), cells: out})
		case mdItem.MatchString(t) && !looksNumberedHeading(mdInline(t)):
			flush()
			lines = append(lines, line{kind: lItem, text: mdInline(mdItem.FindStringSubmatch(t)[1])})
		case strings.HasPrefix(strings.TrimSpace(t), "===") || strings.HasPrefix(strings.TrimSpace(t), "---"):
			flush()
		default:
			para = append(para, mdInline(t))
		}
	}
	flush()
	return lines
}

// textLines splits plain text (or a <pre> block): one line per paragraph for CJK text and
// pre-formatted text, blank-line separated paragraphs otherwise.
func textLines(src string, pre bool) []line {
	src = strings.ReplaceAll(src, "\r\n", "\n")
	var lines []line
	var para []string
	flush := func() {
		if len(para) > 0 {
			lines = append(lines, line{kind: lPara, text: joinWrapped(para), pre: true})
			para = nil
		}
	}
	for _, raw := range strings.Split(src, "\n") {
		if len(lines) >= maxBlocks {
			break
		}
		t := mdInline(raw)
		if t == "" || isSeparator(t) {
			flush()
			continue
		}
		if strings.HasPrefix(t, "Apkid:") {
			continue
		}
		if pre || hasHan(t) || looksNumberedHeading(t) {
			flush()
			lines = append(lines, line{kind: lPara, text: t, pre: true})
			continue
		}
		para = append(para, t)
	}
	flush()
	return lines
}

func isSeparator(t string) bool {
	if len(t) < 3 {
		return false
	}
	for _, r := range t {
		if r != '=' && r != '-' && r != '*' && r != '_' && r != '~' && r != ' ' {
			return false
		}
	}
	return true
}

func joinWrapped(parts []string) string {
	var b strings.Builder
	for i, p := range parts {
		if i > 0 {
			prev, _ := utf8.DecodeLastRuneInString(b.String())
			first, _ := utf8.DecodeRuneInString(p)
			if !(unicode.Is(unicode.Han, prev) && unicode.Is(unicode.Han, first)) {
				b.WriteByte(' ')
			}
		}
		b.WriteString(p)
	}
	return collapse(b.String())
}

func hasHan(s string) bool {
	for _, r := range s {
		if unicode.Is(unicode.Han, r) {
			return true
		}
	}
	return false
}

func collapse(s string) string {
	out := make([]byte, 0, len(s))
	space := false // white space seen since the last text
	for i := 0; i < len(s); {
		// a run of text without white space or invalid bytes is copied whole
		j := i
		for j < len(s) {
			if c := s[j]; c < utf8.RuneSelf {
				if c == ' ' || ('\t' <= c && c <= '\r') {
					break
				}
				j++
				continue
			}
			r, n := utf8.DecodeRuneInString(s[j:])
			if (r == utf8.RuneError && n == 1) || isCollapsedSpace(r) {
				break
			}
			j += n
		}
		if j > i {
			if space && len(out) > 0 {
				out = append(out, ' ')
			}
			space = false
			out = append(out, s[i:j]...)
			i = j
			continue
		}
		r, n := utf8.DecodeRuneInString(s[i:])
		if r == utf8.RuneError && n == 1 {
			// an invalid byte is text, written as U+FFFD
			if space && len(out) > 0 {
				out = append(out, ' ')
			}
			space = false
			out = utf8.AppendRune(out, utf8.RuneError)
		} else {
			space = true
		}
		i += n
	}
	if len(out) > maxBlockRunes && utf8.RuneCount(out) > maxBlockRunes {
		return string([]rune(string(out))[:maxBlockRunes])
	}
	return string(out)
}

// isCollapsedSpace reports the runes collapse reads as white space: Unicode's, and the no-break,
// ideographic and zero-width spaces and the byte-order mark policies pad with.
func isCollapsedSpace(r rune) bool {
	if r > 0x3000 {
		return r == '\ufeff' // no Unicode white space lies above the ideographic space
	}
	return unicode.IsSpace(r) || r == '\u00a0' || r == '\u3000' || r == '\u200b'
}

// Chinese and numeric section numbering.
var numberings = []struct {
	re    *regexp.Regexp
	level int
}{
	{regexp.MustCompile(`^(第[一二三四五六七八九十百零〇\d]{1,5}[章部分]+)\s*`), 1},
	{regexp.MustCompile(`^(第[一二三四五六七八九十百零〇\d]{1,5}[条节])\s*`), 2},
	{regexp.MustCompile(`^([一二三四五六七八九十]{1,3}[、.．])\s*`), 1},
	{regexp.MustCompile(`^([（(][一二三四五六七八九十]{1,3}[）)])\s*`), 2},
	{regexp.MustCompile(`^(\d{1,2}(?:[.．]\d{1,2}){1,3}[.．]?)\s*`), 3},
	{regexp.MustCompile(`^(\d{1,2}[、.．])\s*`), 2},
	{regexp.MustCompile(`^([（(]\d{1,2}[）)])\s*`), 3},
}

// numbering returns the numbering prefix of s, its level and the rest.
func numbering(s string) (string, int, string) {
	// every numbering starts with one of these runes: most lines fail here, before seven regexps
	if r, _ := utf8.DecodeRuneInString(s); !(r >= '0' && r <= '9') && !strings.ContainsRune("第一二三四五六七八九十（(", r) {
		return "", 0, s
	}
	for _, n := range numberings {
		if m := n.re.FindStringSubmatchIndex(s); m != nil {
			num := s[m[2]:m[3]]
			lvl := n.level
			if n.level == 3 && strings.Count(num, ".")+strings.Count(num, "．") > 1 {
				lvl = 3 + strings.Count(strings.TrimRight(num, ".．"), ".") - 1
			}
			return num, lvl, strings.TrimSpace(s[m[1]:])
		}
	}
	return "", 0, s
}

// looksNumberedHeading: a short numbered line that is not a sentence.
func looksNumberedHeading(s string) bool {
	num, _, rest := numbering(s)
	if num == "" || rest == "" {
		return false
	}
	n := utf8.RuneCountInString(rest)
	if n > 40 || (!hasHan(rest) && n > 80) {
		return false
	}
	last, _ := utf8.DecodeLastRuneInString(rest)
	if strings.ContainsRune("。；;，,：:、!?！？", last) || (last == '.' && !hasHan(rest)) {
		return false
	}
	// "1. 我们…；" table-of-contents entries end with ；, caught above; a list item holding a
	// whole sentence contains sentence punctuation in the middle.
	return !strings.ContainsAny(rest, "。；;")
}

func isBareNumber(s string) bool {
	num, _, rest := numbering(s)
	return num != "" && rest == ""
}

// sectionize turns lines into sections.
func sectionize(lines []line) *Document {
	d := &Document{}
	cur := Section{}
	push := func() {
		if cur.Heading != "" || len(cur.Blocks) > 0 {
			if len(d.Sections) >= maxSections {
				d.Truncated = true
				return
			}
			d.Sections = append(d.Sections, cur)
		}
	}
	var pending string // a bare number line waiting for its text
	blocks := 0
	for _, l := range lines {
		if blocks >= maxBlocks {
			d.Truncated = true
			break
		}
		text := l.text
		if pending != "" {
			text = pending + " " + text
			pending = ""
		}
		if l.kind != lRow && isBareNumber(text) {
			pending = text
			continue
		}
		switch {
		case l.kind == lHeading:
			push()
			num, _, rest := numbering(text)
			if rest == "" {
				num, rest = "", text
			}
			cur = Section{Number: num, Heading: rest, Level: l.level}
		case (l.kind == lPara || l.kind == lItem) && looksNumberedHeading(text) && !(l.kind == lItem && !hasHan(text)):
			push()
			num, lvl, rest := numbering(text)
			cur = Section{Number: num, Heading: rest, Level: lvl}
		default:
			kind := "paragraph"
			switch l.kind {
			case lItem:
				kind = "item"
			case lRow:
				kind = "row"
			}
			cur.Blocks = append(cur.Blocks, Block{Kind: kind, Text: text, Cells: l.cells, Header: l.header})
			blocks++
		}
	}
	if pending != "" {
		cur.Blocks = append(cur.Blocks, Block{Kind: "paragraph", Text: pending})
	}
	push()
	return d
}
