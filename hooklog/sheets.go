package hooklog

import (
	"errors"
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Sheet names and headers of the spreadsheet formats, as their writers put them.
const (
	// zhengjim/camille utlis/__init__.py write_xlsx @83c5b23912db83d00ac0a615c89d905daa9772b5.
	camilleSheet = "App_privacy_compliance_testing"
	// allenymt/PrivacySentry hook-sentry/.../printer/DefaultFilePrint.kt
	// @c705b3f588ceff579b829a4a829552ee038c450b.
	sentrySheet      = "隐私合规"
	sentryCountSheet = "调用次数"
	sentryConsent    = "点击隐私协议确认"
	// Tongcheng AppScan's exports, view/src (exportJson2Excel calls) of TongchengOpenSource/AppScan
	// @562c637a: 关注列表.xlsx has the sheet 关注列表 (序号, 主体, 操作行为, 堆栈); 风险列表.xlsx has the
	// sheet 风险 (序号, 检测项, 评估标准, 风险等级, 整改建议), whose 风险等级 switch has no break, so every
	// row reads 高风险. A sheet named like its file (风险列表) is read too.
	appscanSheet        = "关注列表"
	appscanRiskSheet    = "风险"
	appscanRiskSheetAlt = "风险列表"
)

var (
	camilleHeader = []string{"隐私政策状态", "时间点", "行为主体", "操作行为", "行为描述", "传入参数", "调用堆栈"}
	sentryHeader  = []string{"调用时间(倒序排序)", "别名", "函数名", "调用堆栈"}
	appscanHeader = []string{"序号", "主体", "操作行为", "堆栈"}
	riskHeader    = []string{"序号", "检测项", "评估标准", "风险等级", "整改建议"}
)

// sheetFormat decides a workbook's format by its sheet names.
func sheetFormat(sheets []string) string {
	has := map[string]bool{}
	for _, s := range sheets {
		has[s] = true
	}
	switch {
	case has[camilleSheet]:
		return FormatCamille
	case has[sentrySheet]:
		return FormatPrivacySentry
	case has[appscanSheet], has[appscanRiskSheet], has[appscanRiskSheetAlt]:
		return FormatAppScan
	}
	return ""
}

// errStop ends a Rows walk early without an error of its own.
var errStop = errors.New("stop")

// columns finds header in the first rows of a sheet (the cells may be in any order, after others)
// and returns, for each header name, its column; ok is false when a name is missing.
func columns(cells []string, header []string) ([]int, bool) {
	idx := make([]int, len(header))
	for i, h := range header {
		idx[i] = -1
		for j, c := range cells {
			if strings.TrimSpace(c) == h {
				idx[i] = j
				break
			}
		}
		if idx[i] < 0 {
			return nil, false
		}
	}
	return idx, true
}

func cell(cells []string, i int) string {
	if i < len(cells) {
		return cells[i]
	}
	return ""
}

// walkSheet calls fn for every data row after the header (found in the first 5 rows), with the
// spreadsheet row number (1-based) and the cells by header column; rows of calls (calls) beyond
// MaxEvents are only counted.
func walkSheet(wb workbook, sheet string, header []string, calls bool, b *builder, fn func(row int, vals []string)) {
	var cols []int
	err := wb.Rows(sheet, func(row int, cells []string) error {
		if cols == nil {
			if c, ok := columns(cells, header); ok {
				cols = c
			} else if row >= 4 {
				return fmt.Errorf("sheet %q has no header row %s in its first 5 rows", sheet, strings.Join(header, " | "))
			}
			return nil
		}
		if calls && b.full() {
			b.log.Dropped++
			if b.log.Dropped == 1 {
				b.fail(0, "more than %d calls: the rest are counted, not kept", b.lim.MaxEvents)
			}
			return nil
		}
		vals := make([]string, len(cols))
		empty := true
		for i, c := range cols {
			vals[i] = cell(cells, c)
			if strings.TrimSpace(vals[i]) != "" {
				empty = false
			}
		}
		if !empty {
			fn(row+1, vals)
		}
		return nil
	})
	if err == nil && cols == nil {
		err = fmt.Errorf("sheet %q has no header row %s", sheet, strings.Join(header, " | "))
	}
	if err != nil && !errors.Is(err, errStop) {
		b.fail(0, "%v", err)
	}
}

// camilleTime reads camille's 时间点: script.js get_format_time writes getFullYear()-getMonth()-
// getDate() getHours():getMinutes():getSeconds(), unpadded, and getMonth() counts from 0 (January
// is 0), so the month written is one too low.
var camilleTime = regexp.MustCompile(`^(\d{4})-(\d{1,2})-(\d{1,2}) (\d{1,2}):(\d{1,2}):(\d{1,2})$`)

// parseCamilleTime returns the corrected local time; ok is false for a value camille cannot write.
func parseCamilleTime(s string) (time.Time, bool) {
	m := camilleTime.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return time.Time{}, false
	}
	n := make([]int, 6)
	for i := range n {
		n[i], _ = strconv.Atoi(m[i+1])
	}
	month := n[1] + 1 // getMonth() is 0-based
	if month < 1 || month > 12 || n[3] > 23 || n[4] > 59 || n[5] > 59 {
		return time.Time{}, false
	}
	t := time.Date(n[0], time.Month(month), n[2], n[3], n[4], n[5], 0, time.UTC)
	if t.Day() != n[2] { // 2-30 and the like: normalised into the next month
		return time.Time{}, false
	}
	return t, true
}

// camilleArg is the prefix of one argument: script.js writes '参数' + j + '：' + JSON.stringify(arg)
// + '\r\n' per argument, cuts the last character (the '\n', leaving '\r'), or '无参数'.
var camilleArg = regexp.MustCompile(`^参数\d+：`)

func camilleArgs(s string, b *builder) []string {
	out := []string{}
	s = strings.TrimSpace(s)
	if s == "" || s == "无参数" {
		return out
	}
	for _, l := range splitLines(s) {
		l = strings.TrimSpace(l)
		if l == "" {
			continue
		}
		if len(out) >= b.lim.MaxArgs {
			break
		}
		out = append(out, b.text(camilleArg.ReplaceAllString(l, "")))
	}
	return out
}

// readCamille reads camille's sheet. 隐私政策状态 is "同意隐私政策" + '前' or '后', a flag on the
// host (camille.py): it starts as '前' and becomes '后' when the host's screenshot click on the
// consent dialog succeeds, but starts as '后' when camille runs with -ns or attaches; so a log with
// no '前' row shows no consent moment, and its phases are unknown.
func readCamille(wb workbook, b *builder) {
	sawBefore := false
	walkSheet(wb, camilleSheet, camilleHeader, true, b, func(row int, v []string) {
		e := Event{Row: row, Phase: PhaseUnknown, PhaseSource: PhaseSourceHostFlag, TimeSource: TimeNone,
			Foreground: ForegroundUnknown, ToolParty: b.text(strings.TrimSpace(v[2]))}
		switch strings.TrimSpace(v[0]) {
		case "同意隐私政策前":
			e.Phase = PhaseBeforeConsent
			sawBefore = true
		case "同意隐私政策后":
			e.Phase = PhaseAfterConsent
		default:
			e.PhaseSource = PhaseSourceNone
			b.fail(row, "隐私政策状态 %q is neither 同意隐私政策前 nor 同意隐私政策后: phase unknown", b.text(v[0]))
		}
		if t, ok := parseCamilleTime(v[1]); ok {
			e.DeviceTime, e.TimeSource = t.Format("2006-01-02T15:04:05"), TimeMonthCorrected
			e.ms, e.hasMs = t.UnixMilli(), true
		} else if strings.TrimSpace(v[1]) != "" {
			b.fail(row, "时间点 %q is not camille's Y-M-D h:m:s: time unknown", b.text(v[1]))
		}
		action, desc := strings.TrimSpace(v[3]), strings.TrimSpace(v[4])
		e.ToolAPI = b.text(strings.Trim(action+": "+desc, ": "))
		e.Args = camilleArgs(v[5], b)
		e.Stack, e.StackDropped = b.stackCell(v[6])
		b.add(e)
	})
	evs := b.log.Events
	if !sawBefore {
		for i := range evs {
			if evs[i].PhaseSource == PhaseSourceHostFlag {
				evs[i].Phase, evs[i].PhaseSource = PhaseUnknown, PhaseSourceNone
			}
		}
		if len(evs) > 0 {
			b.log.Notes = append(b.log.Notes, "no row reads 同意隐私政策前: camille starts with 同意隐私政策后 when run with -ns or in attach mode, so the log shows no consent moment and every phase is unknown")
		}
		return
	}
	// The first 后 row after a 前 row is where the host saw the click.
	for i := 1; i < len(evs); i++ {
		if evs[i].Phase == PhaseAfterConsent && evs[i-1].Phase == PhaseBeforeConsent {
			b.log.Marks = append(b.log.Marks, Mark{Kind: "consent", Row: evs[i].Row, DeviceTime: evs[i].DeviceTime,
				TimeSource: evs[i].TimeSource, Source: PhaseSourceHostFlag, Seq: i, ms: evs[i].ms, hasMs: evs[i].hasMs})
			break
		}
	}
}

// sentryTime reads PrivacySentry's appendTime: PrivacyUtil.formatTime(now, "MM-dd HH:mm:ss.SSS"),
// no year.
var sentryTime = regexp.MustCompile(`^(\d{2})-(\d{2}) (\d{2}):(\d{2}):(\d{2})\.(\d{3})$`)

func parseSentryTime(s string) (text string, ms int64, ok bool) {
	m := sentryTime.FindStringSubmatch(strings.TrimSpace(s))
	if m == nil {
		return "", 0, false
	}
	n := make([]int64, 6)
	for i := range n {
		n[i], _ = strconv.ParseInt(m[i+1], 10, 64)
	}
	if n[0] < 1 || n[0] > 12 || n[1] < 1 || n[1] > 31 || n[2] > 23 || n[3] > 59 || n[4] > 59 {
		return "", 0, false
	}
	// Ordering within one log only: month and day as if every month had 31 days.
	ms = ((((n[0]*31+n[1])*24+n[2])*60+n[3])*60+n[4])*1000 + n[5]
	return fmt.Sprintf("%s-%sT%s:%s:%s.%s", m[1], m[2], m[3], m[4], m[5], m[6]), ms, true
}

// readPrivacySentry reads the 隐私合规 sheet. Its header says 倒序排序 (newest first), but the
// writer at the cited commit (ExcelUtil.writeObjListToExcel) writes the list in the order the calls
// were appended, oldest first; so the order is read from the times (most consecutive pairs
// decide), and is oldest first when they do not tell. The consent moment is the pseudo-row
// PrivacySentry.updatePrivacyShow appends with all three fields 点击隐私协议确认; the 调用次数 sheet
// aggregates the same calls by stack and is not read.
func readPrivacySentry(wb workbook, b *builder) {
	type pseudo struct {
		row, seq int
		dt       string
		ms       int64
		has      bool
	}
	var marks []pseudo
	walkSheet(wb, sentrySheet, sentryHeader, true, b, func(row int, v []string) {
		dt, ms, ok := parseSentryTime(v[0])
		if !ok && strings.TrimSpace(v[0]) != "" {
			b.fail(row, "调用时间 %q is not PrivacySentry's MM-dd HH:mm:ss.SSS: time unknown", b.text(v[0]))
		}
		if strings.TrimSpace(v[1]) == sentryConsent && strings.TrimSpace(v[2]) == sentryConsent {
			marks = append(marks, pseudo{row: row, seq: len(b.log.Events), dt: dt, ms: ms, has: ok})
			return
		}
		e := Event{Row: row, Phase: PhaseUnknown, PhaseSource: PhaseSourceNone, TimeSource: TimeNone,
			Foreground: ForegroundUnknown, ToolAPI: b.text(strings.TrimSpace(v[2])), Args: []string{}}
		if alias := strings.TrimSpace(v[1]); alias != "" {
			e.Note = b.text("别名: " + alias)
		}
		if ok {
			e.DeviceTime, e.TimeSource, e.ms, e.hasMs = dt, TimeMonthDay, ms, true
		}
		e.Stack, e.StackDropped = b.stackCell(v[3])
		b.add(e)
	})
	evs := b.log.Events
	// Order: compare the times of neighbouring rows (calls and pseudo-rows together).
	type stamp struct {
		ms  int64
		has bool
	}
	var seq []stamp
	mi := 0
	for i := 0; i <= len(evs); i++ {
		for mi < len(marks) && marks[mi].seq == i {
			seq = append(seq, stamp{marks[mi].ms, marks[mi].has})
			mi++
		}
		if i < len(evs) {
			seq = append(seq, stamp{evs[i].ms, evs[i].hasMs})
		}
	}
	up, down := 0, 0
	for i := 1; i < len(seq); i++ {
		if !seq[i].has || !seq[i-1].has {
			continue
		}
		switch {
		case seq[i].ms > seq[i-1].ms:
			up++
		case seq[i].ms < seq[i-1].ms:
			down++
		}
	}
	newestFirst := down > up
	if newestFirst {
		b.log.Notes = append(b.log.Notes, "rows are newest first (by their times); phases are read in time order")
		b.log.reversed = true
	} else if up == 0 && down == 0 && len(evs) > 1 {
		b.log.Notes = append(b.log.Notes, "the times do not show the row order; read as written by PrivacySentry (oldest first)")
	}
	if len(marks) == 0 {
		return
	}
	if len(marks) > 1 {
		b.log.Notes = append(b.log.Notes, fmt.Sprintf("%d 点击隐私协议确认 rows; the earliest marks the consent", len(marks)))
	}
	m := marks[0]
	if newestFirst {
		m = marks[len(marks)-1]
	}
	for i := range evs {
		before := i < m.seq
		if newestFirst {
			before = i >= m.seq
		}
		evs[i].PhaseSource = PhaseSourcePseudoRow
		evs[i].Phase = PhaseAfterConsent
		if before {
			evs[i].Phase = PhaseBeforeConsent
		}
	}
	ts := TimeNone
	if m.has {
		ts = TimeMonthDay
	}
	calls := m.seq
	if newestFirst {
		calls = len(evs) - m.seq
	}
	b.log.Marks = append(b.log.Marks, Mark{Kind: "consent", Row: m.row, DeviceTime: m.dt, TimeSource: ts,
		Text: sentryConsent, Source: PhaseSourcePseudoRow, Seq: calls, ms: m.ms, hasMs: m.has})
}

// readAppScan reads 关注列表 (calls: no time, no phase) and 风险列表 (the tool's conclusions, kept as
// assertions; its 风险等级 column is ignored: the exporter writes 高风险 on every row).
func readAppScan(wb workbook, b *builder) {
	sheets := map[string]bool{}
	for _, s := range wb.Sheets() {
		sheets[s] = true
	}
	if sheets[appscanSheet] {
		walkSheet(wb, appscanSheet, appscanHeader, true, b, func(row int, v []string) {
			e := Event{Row: row, Phase: PhaseUnknown, PhaseSource: PhaseSourceNone, TimeSource: TimeNone,
				Foreground: ForegroundUnknown, ToolParty: b.text(strings.TrimSpace(v[1])),
				ToolAPI: b.text(strings.TrimSpace(v[2])), Args: []string{}}
			e.Stack, e.StackDropped = b.stackCell(v[3])
			b.add(e)
		})
	}
	for _, risk := range []string{appscanRiskSheet, appscanRiskSheetAlt} {
		if !sheets[risk] {
			continue
		}
		walkSheet(wb, risk, riskHeader, false, b, func(row int, v []string) {
			if len(b.log.Assertions) >= b.lim.MaxEvents {
				return
			}
			b.log.Assertions = append(b.log.Assertions, Assertion{Row: row, Item: b.text(strings.TrimSpace(v[1])),
				Standard: b.text(strings.TrimSpace(v[2])), Advice: b.text(strings.TrimSpace(v[4]))})
		})
	}
}
