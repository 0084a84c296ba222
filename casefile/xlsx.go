package casefile

import (
	"archive/zip"
	"bufio"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"

	"github.com/xuri/excelize/v2"
)

// Sheet names and headers of findings.xlsx. Headers are Chinese with the English in brackets, so
// that a case officer filters on them and a foreign expert can still read them.
const (
	SheetNotice   = "通报"
	SheetFindings = "发现"
	SheetEvidence = "证据"
	// SheetPolicy lists the privacy-policy changes (policydiff.go); only when there are any.
	SheetPolicy = "政策变化"
)

// noticeHeaders are the columns of the MIIT's public notices of apps that infringe users' rights
// (序号, 应用名称, 应用开发者, 应用来源, 应用版本, 所涉问题): one row per app, so that a case
// officer can paste the rows into a notice or compare them with a published one.
var noticeHeaders = []string{"序号", "应用名称", "应用开发者", "应用来源", "应用版本", "所涉问题"}

var findingHeaders = []string{"序号 No.", "指纹 Fingerprint", "对象 Target", "层级 Tier", "证据类型 Grade", "规则 Rule", "标题 Title", "严重度 Severity",
	"状态 State", "法律依据 Legal basis", "主体 Subject", "摘要 Summary", "首次发现 First seen", "最近发现 Last seen",
	"最近扫描 Last scan", "未再观察到 Not re-observed since", "置信度 Confidence", "证据数 Evidence", "观察数 Observations",
	"证据 SHA-256", "期限 Deadline", "文书编号 Document no."}

var evidenceHeaders = []string{"包内文件 Member", "SHA-256", "SM3", "大小（字节）Bytes", "媒体类型 Media type",
	"首次采集时间 First captured", "采集方式 Method", "来源 Source", "工具 Tool", "检查器 Inspector", "采集次数 Captures",
	"关联发现 Findings"}

var policyHeaders = []string{"来源 Source", "变化 Change", "项目 Item", "原版本 Before", "新版本 After"}

// maxCell is Excel's limit on the characters of one cell.
const maxCell = 32767

func cell(s string) string {
	if len(s) <= maxCell {
		return s
	}
	r := []rune(s)
	if len(r) > maxCell-1 {
		r = r[:maxCell-1]
	}
	return string(r) + "…"
}

// writeXLSX streams the spreadsheet: one row per finding, one per artifact.
func writeXLSX(w io.Writer, d *reportData) error {
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", SheetNotice); err != nil {
		return err
	}
	if _, err := f.NewSheet(SheetFindings); err != nil {
		return err
	}
	if _, err := f.NewSheet(SheetEvidence); err != nil {
		return err
	}
	bold, err := f.NewStyle(&excelize.Style{Font: &excelize.Font{Bold: true}, Fill: excelize.Fill{Type: "pattern", Pattern: 1, Color: []string{"DDE4EE"}}})
	if err != nil {
		return err
	}
	wrap, err := f.NewStyle(&excelize.Style{Alignment: &excelize.Alignment{WrapText: true, Vertical: "top"}})
	if err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(SheetNotice)
	if err != nil {
		return err
	}
	for i, wd := range []float64{6, 24, 30, 40, 14, 80} {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	if err := sw.SetRow("A1", headerRow(noticeHeaders, bold)); err != nil {
		return err
	}
	apps := noticeRows(d)
	for i, a := range apps {
		row := []any{i + 1, cell(a[0]), cell(a[1]), cell(a[2]), cell(a[3]), excelize.Cell{StyleID: wrap, Value: cell(a[4])}}
		if err := sw.SetRow(fmt.Sprintf("A%d", i+2), row); err != nil {
			return err
		}
	}
	if err := sw.Flush(); err != nil {
		return err
	}

	sw, err = f.NewStreamWriter(SheetFindings)
	if err != nil {
		return err
	}
	widths := []float64{6, 34, 16, 22, 40, 8, 10, 40, 40, 60, 20, 20, 22, 22, 8, 8, 8, 70, 24, 30}
	for i, wd := range widths {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	if err := sw.SetPanes(&excelize.Panes{Freeze: true, YSplit: 1, TopLeftCell: "A2", ActivePane: "bottomLeft"}); err != nil {
		return err
	}
	if err := sw.SetRow("A1", headerRow(findingHeaders, bold)); err != nil {
		return err
	}
	for i, fv := range d.Findings {
		hashes := make([]string, len(fv.Evidence))
		for k, e := range fv.Evidence {
			hashes[k] = e.SHA256
		}
		row := []any{fv.No, fv.Fingerprint, fv.TargetID, fv.Tier, fv.Grade, fv.RuleID, cell(fv.Title), fv.Severity, fv.State, cell(fv.BasisShort),
			cell(fv.Subject), cell(fv.Summary), fv.FirstSeen, fv.LastSeen, fv.LastScanID, fv.NotReobs, fv.Confidence,
			len(fv.Evidence), len(fv.Observations) + fv.MoreObs, cell(strings.Join(hashes, "\n")), cell(fv.Deadline), cell(fv.DocumentNo)}
		if err := sw.SetRow(fmt.Sprintf("A%d", i+2), row); err != nil {
			return err
		}
	}
	if err := addTable(sw, "findings", len(findingHeaders), len(d.Findings)); err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}

	sw, err = f.NewStreamWriter(SheetEvidence)
	if err != nil {
		return err
	}
	for i, wd := range []float64{80, 66, 66, 14, 28, 20, 16, 50, 18, 16, 8, 40} {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	if err := sw.SetRow("A1", headerRow(evidenceHeaders, bold)); err != nil {
		return err
	}
	for i, e := range d.Evidence {
		row := []any{e.Path, e.SHA256, e.SM3, e.Bytes, e.MediaType, e.CapturedAt, e.Method, cell(e.Source), e.Tool,
			e.Inspector, e.Captures, cell(strings.Join(e.Findings, "\n"))}
		if err := sw.SetRow(fmt.Sprintf("A%d", i+2), row); err != nil {
			return err
		}
	}
	if err := addTable(sw, "evidence", len(evidenceHeaders), len(d.Evidence)); err != nil {
		return err
	}
	if err := sw.Flush(); err != nil {
		return err
	}
	if len(d.PolicyDiffs) > 0 {
		if err := writePolicySheet(f, d, bold, wrap); err != nil {
			return err
		}
	}
	// The workbook goes through a temporary file rather than a buffer: at 5,000 findings it is
	// megabytes, held (and doubled by the buffer's growth) at the export's peak otherwise.
	tmp, err := os.CreateTemp("", "pilmon-xlsx-*.zip")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name())
	defer tmp.Close()
	bw := bufio.NewWriterSize(tmp, 256<<10)
	if _, err := f.WriteTo(bw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return err
	}
	size, err := tmp.Seek(0, io.SeekCurrent)
	if err != nil {
		return err
	}
	return repackSorted(w, tmp, size)
}

// writePolicySheet lists each policy change as a row: the two versions compared, then the
// elements, declared PI and SDKs, and sentences that changed, as the report's policy section.
func writePolicySheet(f *excelize.File, d *reportData, bold, wrap int) error {
	if _, err := f.NewSheet(SheetPolicy); err != nil {
		return err
	}
	sw, err := f.NewStreamWriter(SheetPolicy)
	if err != nil {
		return err
	}
	for i, wd := range []float64{40, 18, 30, 70, 70} {
		if err := sw.SetColWidth(i+1, i+1, wd); err != nil {
			return err
		}
	}
	if err := sw.SetRow("A1", headerRow(policyHeaders, bold)); err != nil {
		return err
	}
	L := d.L
	n := 1
	add := func(src, change, item, before, after string) error {
		n++
		return sw.SetRow(fmt.Sprintf("A%d", n), []any{cell(src), change, cell(item),
			excelize.Cell{StyleID: wrap, Value: cell(before)}, excelize.Cell{StyleID: wrap, Value: cell(after)}})
	}
	list := func(xs []string) string { return strings.Join(xs, "、") }
	for _, p := range d.PolicyDiffs {
		oldLabel := L.PolicyOldFirst
		if p.AtRecommendation {
			oldLabel = L.PolicyOldRec
		}
		if err := add(p.Source, L.PolicyH, oldLabel+" → "+L.PolicyNew, p.Old.CapturedAt+"\nSHA-256 "+p.Old.SHA256,
			p.New.CapturedAt+"\nSHA-256 "+p.New.SHA256); err != nil {
			return err
		}
		if p.Same {
			if err := add(p.Source, L.PolicyH, L.PolicySame, "", ""); err != nil {
				return err
			}
			continue
		}
		for _, e := range p.Elements {
			if err := add(p.Source, L.PolicyElements, e.Name, e.Old, e.New+" "+e.Quote); err != nil {
				return err
			}
		}
		if len(p.PIAdded)+len(p.PIGone) > 0 {
			if err := add(p.Source, L.PolicyPI, "", list(p.PIGone), list(p.PIAdded)); err != nil {
				return err
			}
		}
		if len(p.SDKAdded)+len(p.SDKGone) > 0 {
			if err := add(p.Source, L.PolicySDK, "", list(p.SDKGone), list(p.SDKAdded)); err != nil {
				return err
			}
		}
		for _, sc := range p.Sections {
			for _, l := range sc.Removed {
				if err := add(p.Source, L.PolicyText, sc.Heading, l, ""); err != nil {
					return err
				}
			}
			for _, l := range sc.Added {
				if err := add(p.Source, L.PolicyText, sc.Heading, "", l); err != nil {
					return err
				}
			}
		}
		if p.MoreLines > 0 {
			if err := add(p.Source, L.PolicyText, fmt.Sprintf(L.PolicyMore, p.MoreLines), "", ""); err != nil {
				return err
			}
		}
	}
	if err := addTable(sw, "policy", len(policyHeaders), n-1); err != nil {
		return err
	}
	return sw.Flush()
}

// noticeRows gives one row per app (target) of the export in the notice layout: name, developer
// (the operator), source (where the APK was obtained), version and the issues. 所涉问题 lists the
// titles of the established findings only (a notice states facts); leads are counted, not listed.
func noticeRows(d *reportData) [][5]string {
	type app struct {
		id                      string
		titles                  []string
		leads                   int
		name, dev, src, version string
	}
	var order []*app
	byID := map[string]*app{}
	for _, fv := range d.All {
		a := byID[fv.TargetID]
		if a == nil {
			a = &app{id: fv.TargetID, name: fv.TargetID}
			if fv.TargetID == d.Target.ID {
				a.name = d.TargetLabel
				if d.Cover.App.Name != "" {
					a.name = d.Cover.App.Name
				}
				a.dev, a.src, a.version = d.Cover.Operator.Name, d.Cover.App.Obtained, d.Cover.App.VersionName
			}
			byID[fv.TargetID] = a
			order = append(order, a)
		}
		if fv.Lead {
			a.leads++
		} else if !slices.Contains(a.titles, fv.Title) {
			a.titles = append(a.titles, fv.Title)
		}
	}
	out := make([][5]string, 0, len(order))
	for _, a := range order {
		var issues []string
		for i, t := range a.titles {
			issues = append(issues, fmt.Sprintf("%d. %s", i+1, t))
		}
		if a.leads > 0 {
			issues = append(issues, fmt.Sprintf(d.L.NoticeLeads, a.leads))
		}
		out = append(out, [5]string{a.name, a.dev, a.src, a.version, strings.Join(issues, "\n")})
	}
	return out
}

// repackSorted rewrites a zip with its entries in name order. excelize writes the parts of a
// workbook in map order, so the same spreadsheet would otherwise hash differently from one export
// to the next; the entries' bytes are copied unchanged.
func repackSorted(w io.Writer, r io.ReaderAt, size int64) error {
	zr, err := zip.NewReader(r, size)
	if err != nil {
		return err
	}
	files := slices.Clone(zr.File)
	slices.SortFunc(files, func(a, b *zip.File) int { return strings.Compare(a.Name, b.Name) })
	zw := zip.NewWriter(w)
	for _, f := range files {
		if err := zw.Copy(f); err != nil {
			return err
		}
	}
	return zw.Close()
}

func headerRow(h []string, style int) []any {
	row := make([]any, len(h))
	for i, s := range h {
		row[i] = excelize.Cell{StyleID: style, Value: s}
	}
	return row
}

// addTable makes the sheet a table, which gives the case officer filter buttons on every column.
func addTable(sw *excelize.StreamWriter, name string, cols, rows int) error {
	end, err := excelize.CoordinatesToCellName(cols, max(rows, 1)+1)
	if err != nil {
		return err
	}
	return sw.AddTable(&excelize.Table{Range: "A1:" + end, Name: name, StyleName: "TableStyleLight9"})
}
