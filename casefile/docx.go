package casefile

import (
	"archive/zip"
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"strings"
	"time"

	"pilmon/scanner"
)

// DraftName is the bundle member holding the draft 检察建议书.
const DraftName = "recommendation-draft.docx"

// RoleDraft marks the draft 检察建议书 in the manifest.
const RoleDraft = "draft"

// docxMediaType is the media type of a Word document.
const docxMediaType = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

// maxDraftFacts bounds the facts the draft lists: a 检察建议书 states the main facts, the report
// holds them all.
const maxDraftFacts = 50

// ExportRecommendation writes only the draft 检察建议书 (DOCX) of the selected findings, prefilled
// from deps.Case when given: the facts (established findings only; leads are counted as still to
// verify), the legal basis they cite, the competent agency and the recommendations. It is a draft
// for the prosecutor to edit in WPS or Word, never a finished document.
func ExportRecommendation(ctx context.Context, w io.Writer, sel Selection, deps Deps) error {
	if deps.Findings == nil || deps.Evidence == nil || deps.Catalogue == nil {
		return errors.New("casefile: the draft needs a finding store, an evidence store and the catalogue")
	}
	items, excluded, err := resolve(ctx, deps.Findings, sel)
	if err != nil {
		return err
	}
	if len(items) == 0 {
		return ErrEmpty
	}
	target := scanner.Target{ID: sel.TargetID}
	if deps.Target != nil {
		target = *deps.Target
	} else if target.ID == "" {
		target.ID = commonTarget(items)
	}
	j := &job{items: items, target: target, user: deps.User, sel: sel, ev: deps.Evidence, cat: deps.Catalogue,
		opts: deps.Options, excluded: excluded}
	if err := j.prepare(); err != nil {
		return err
	}
	return writeDOCX(w, j.reportData(""), j.now)
}

// writeDOCX writes the draft as a minimal WordprocessingML package: content types, the package
// relationship, styles (the 仿宋 body and 小标宋 title of official documents, with fallbacks) and
// the document. Every text goes through xml.EscapeText, which also replaces characters XML cannot
// hold.
func writeDOCX(w io.Writer, d *reportData, now time.Time) error {
	var body bytes.Buffer
	p := func(text string, opts ...string) {
		writeParagraph(&body, text, opts...)
	}
	c := d.Cover
	procuratorate := c.Procuratorate
	if procuratorate == "" {
		procuratorate = "＿＿＿＿人民检察院"
	}
	p(procuratorate, "center", "title")
	p("检察建议书", "center", "title")
	docNo := "＿检＿建〔＿＿〕＿号"
	p(docNo, "center")
	p("（草稿：由 pilmon 依据案卷自动生成，须经承办人审核修改后使用）", "center", "note")
	agency := c.Agency.Name
	if agency == "" {
		agency = "＿＿＿＿（被建议单位）"
	}
	p(agency + "：")

	app := c.App.Name
	if app == "" {
		app = d.TargetLabel
	}
	operator := c.Operator.Name
	if operator == "" {
		operator = "＿＿＿＿（运营者）"
	}
	intro := "本院在履行职责中发现，" + operator
	if c.Operator.USCC != "" {
		intro += "（统一社会信用代码：" + c.Operator.USCC + "）"
	}
	if c.Operator.Address != "" {
		intro += "（住所地：" + c.Operator.Address + "）"
	}
	intro += "运营的“" + app + "”应用"
	if c.App.Package != "" || c.App.VersionName != "" {
		intro += "（"
		if c.App.Package != "" {
			intro += "包名 " + c.App.Package
		}
		if c.App.VersionName != "" {
			if c.App.Package != "" {
				intro += "，"
			}
			intro += "版本 " + c.App.VersionName
		}
		intro += "）"
	}
	intro += "存在违法违规收集使用个人信息的问题。经检测（检测期间 " + d.ScanFrom + " 至 " + d.ScanTo + "），查明以下事实："
	p(intro, "indent")

	var facts, leads int
	var basis []string
	for _, fv := range d.All {
		if fv.Lead {
			leads++
			continue
		}
		for _, b := range fv.Basis {
			if !slices.Contains(basis, b.Cite) {
				basis = append(basis, b.Cite)
			}
		}
		if facts == maxDraftFacts {
			continue
		}
		facts++
		p(fmt.Sprintf("%d. %s。%s（见案卷发现第 %d 项）", facts, fv.Title, strings.TrimSpace(fv.Summary), fv.No), "indent")
	}
	if facts == 0 {
		p("（本案卷尚无认定事实；以下线索需在测试机上核实后方可写入。）", "indent")
	}
	if more := countFacts(d) - facts; more > 0 {
		p(fmt.Sprintf("另有认定事实 %d 项，详见案卷报告。", more), "indent")
	}
	if leads > 0 {
		p(fmt.Sprintf("另有待核实线索 %d 项，未列入上述事实。", leads), "indent")
	}
	if c.App.SHA256 != "" {
		p("检测所用安装包 SHA-256："+c.App.SHA256+"；SM3："+c.App.SM3+"。证据已固定并签名，可依案卷所附校验说明核验。", "indent")
	}
	for _, s := range c.Scale {
		line := s.Label + "：" + s.Value
		if s.Source != "" {
			line += "（来源：" + s.Source + "）"
		}
		p(line+"。", "indent")
	}

	p("本院认为，上述行为违反了"+joinOr(basis, "＿＿＿＿")+"的规定，侵害了众多个人信息主体的合法权益，损害了社会公共利益。", "indent")
	if c.Agency.LegalBasis != "" {
		p("依据"+c.Agency.LegalBasis+"，你单位负有对上述行为进行监督管理的法定职责。", "indent")
	} else {
		p("依据＿＿＿＿（监管职责依据），你单位负有对上述行为进行监督管理的法定职责。", "indent")
	}
	p("为维护社会公共利益，根据＿＿＿＿（检察建议的法律依据，由承办人填写）之规定，向你单位提出如下检察建议：", "indent")
	recs := slices.Clone(d.Recommendations)
	if len(recs) == 0 {
		recs = []string{"依法对" + operator + "运营的“" + app + "”应用违法违规收集使用个人信息的行为进行调查处理；",
			"督促运营者限期整改，删除违法收集的个人信息，完善隐私政策及个人信息处理规则；",
			"加强对同类应用个人信息保护的日常监督管理，建立健全长效机制。"}
	}
	numerals := []string{"一", "二", "三", "四", "五", "六", "七", "八", "九", "十"}
	for i, r := range recs {
		n := fmt.Sprint(i + 1)
		if i < len(numerals) {
			n = numerals[i]
		}
		p(n+"、"+r, "indent")
	}
	p("请你单位自收到本检察建议书之日起两个月内依法办理，并将办理情况书面回复本院。", "indent")
	p(procuratorate, "right")
	p("＿＿＿＿年＿＿月＿＿日", "right")
	p("（草稿生成时间："+fmtTimeLang(now, "zh")+"；案卷编号："+orDash(c.CaseNo)+"；报告编号："+orDash(c.ReportNo)+"）", "note")

	zw := zip.NewWriter(w)
	files := []struct{ name, data string }{
		{"[Content_Types].xml", docxContentTypes},
		{"_rels/.rels", docxRels},
		{"word/_rels/document.xml.rels", docxDocRels},
		{"word/styles.xml", docxStyles},
		{"word/document.xml", docxDocHead + body.String() + docxDocTail},
	}
	for _, f := range files {
		fw, err := zw.CreateHeader(&zip.FileHeader{Name: f.name, Method: zip.Deflate, Modified: now})
		if err != nil {
			return fmt.Errorf("casefile: draft %s: %w", f.name, err)
		}
		if _, err := io.WriteString(fw, f.data); err != nil {
			return fmt.Errorf("casefile: draft %s: %w", f.name, err)
		}
	}
	if err := zw.Close(); err != nil {
		return fmt.Errorf("casefile: draft: %w", err)
	}
	return nil
}

func countFacts(d *reportData) int {
	n := 0
	for _, fv := range d.All {
		if !fv.Lead {
			n++
		}
	}
	return n
}

func joinOr(s []string, empty string) string {
	if len(s) == 0 {
		return empty
	}
	return strings.Join(s, "、")
}

func orDash(s string) string {
	if s == "" {
		return "—"
	}
	return s
}

// writeParagraph writes one paragraph; opts: center, right, indent (two characters, as official
// documents), title (the title style), note (small grey text).
func writeParagraph(b *bytes.Buffer, text string, opts ...string) {
	has := func(o string) bool { return slices.Contains(opts, o) }
	b.WriteString("<w:p><w:pPr>")
	if has("title") {
		b.WriteString(`<w:pStyle w:val="Title"/>`)
	}
	switch {
	case has("center"):
		b.WriteString(`<w:jc w:val="center"/>`)
	case has("right"):
		b.WriteString(`<w:jc w:val="right"/>`)
	}
	if has("indent") {
		b.WriteString(`<w:ind w:firstLineChars="200" w:firstLine="640"/>`)
	}
	b.WriteString("</w:pPr><w:r>")
	if has("note") {
		b.WriteString(`<w:rPr><w:color w:val="666666"/><w:sz w:val="21"/></w:rPr>`)
	}
	for i, line := range strings.Split(text, "\n") {
		if i > 0 {
			b.WriteString("<w:br/>")
		}
		b.WriteString(`<w:t xml:space="preserve">`)
		_ = xml.EscapeText(b, []byte(line))
		b.WriteString("</w:t>")
	}
	b.WriteString("</w:r></w:p>")
}

const docxContentTypes = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types"><Default Extension="rels" ContentType="application/vnd.openxmlformats-package.relationships+xml"/><Default Extension="xml" ContentType="application/xml"/><Override PartName="/word/document.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/><Override PartName="/word/styles.xml" ContentType="application/vnd.openxmlformats-officedocument.wordprocessingml.styles+xml"/></Types>`

const docxRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/officeDocument" Target="word/document.xml"/></Relationships>`

const docxDocRels = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships"><Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/relationships/styles" Target="styles.xml"/></Relationships>`

// The body is 仿宋 三号 (16 pt), the title 小标宋 二号 (22 pt), as official documents are set;
// a reader without those fonts substitutes its own CJK font.
const docxStyles = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:styles xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:docDefaults><w:rPrDefault><w:rPr><w:rFonts w:ascii="Times New Roman" w:hAnsi="Times New Roman" w:eastAsia="仿宋_GB2312" w:cs="Times New Roman"/><w:sz w:val="32"/><w:szCs w:val="32"/><w:lang w:val="en-US" w:eastAsia="zh-CN"/></w:rPr></w:rPrDefault><w:pPrDefault><w:pPr><w:spacing w:line="560" w:lineRule="exact"/></w:pPr></w:pPrDefault></w:docDefaults><w:style w:type="paragraph" w:default="1" w:styleId="Normal"><w:name w:val="Normal"/></w:style><w:style w:type="paragraph" w:styleId="Title"><w:name w:val="Title"/><w:basedOn w:val="Normal"/><w:pPr><w:jc w:val="center"/></w:pPr><w:rPr><w:rFonts w:eastAsia="方正小标宋简体"/><w:b/><w:sz w:val="44"/><w:szCs w:val="44"/></w:rPr></w:style></w:styles>`

const docxDocHead = `<?xml version="1.0" encoding="UTF-8" standalone="yes"?>
<w:document xmlns:w="http://schemas.openxmlformats.org/wordprocessingml/2006/main"><w:body>`

// The page is A4 with the margins of official documents (上 37 mm, 下 35 mm, 左 28 mm, 右 26 mm).
const docxDocTail = `<w:sectPr><w:pgSz w:w="11906" w:h="16838"/><w:pgMar w:top="2098" w:right="1474" w:bottom="1984" w:left="1588" w:header="851" w:footer="992" w:gutter="0"/></w:sectPr></w:body></w:document>`
