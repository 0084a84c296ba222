package xls

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// xlwtScript writes the workbook described by the JSON on stdin with xlwt, the writer camille
// uses: {"path", "sheets": [{"name", "bold_header", "rows": [[cell…]]}]}, a cell being a string,
// a number, a bool, null (no cell) or {"f": formula}.
const xlwtScript = `
import json, sys, xlwt
spec = json.load(sys.stdin)
wb = xlwt.Workbook(encoding='utf-8')
bold = xlwt.easyxf('font: bold on')
for sh in spec['sheets']:
    ws = wb.add_sheet(sh['name'])
    for r, row in enumerate(sh['rows']):
        for c, v in enumerate(row or []):
            if v is None:
                continue
            if isinstance(v, dict):
                v = xlwt.Formula(v['f'])
            if r == 0 and sh.get('bold_header'):
                ws.write(r, c, v, bold)
            else:
                ws.write(r, c, v)
wb.save(spec['path'])
`

// xlrdScript prints what xlrd reads from the file named in argv[1], as display text by the
// rules this package documents: {"sheets": [names], "rows": {name: [[row, [cells]]]}}.
const xlrdScript = `
import json, sys, xlrd
bk = xlrd.open_workbook(sys.argv[1])
def text(c):
    t = c.ctype
    if t in (xlrd.XL_CELL_EMPTY, xlrd.XL_CELL_BLANK):
        return ''
    if t == xlrd.XL_CELL_TEXT:
        return c.value
    if t == xlrd.XL_CELL_BOOLEAN:
        return 'TRUE' if c.value else 'FALSE'
    if t == xlrd.XL_CELL_ERROR:
        return xlrd.error_text_from_code.get(c.value, '#ERR%02X' % c.value)
    v = float(c.value)
    if v != v: return 'nan'
    if v in (float('inf'), float('-inf')): return 'inf' if v > 0 else '-inf'
    if v == int(v): return str(int(v))
    return repr(v)
out = {'sheets': bk.sheet_names(), 'rows': {}}
for sh in bk.sheets():
    rows = []
    for r in range(sh.nrows):
        cells = [text(c) for c in sh.row(r)]
        while cells and cells[-1] == '':
            cells.pop()
        if cells:
            rows.append([r, cells])
    out['rows'][sh.name] = rows
json.dump(out, sys.stdout, ensure_ascii=False)
`

// python returns an interpreter that imports xlwt and xlrd, or skips.
func python(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exe, err := exec.LookPath(p); err == nil {
			if exec.Command(exe, "-c", "import xlwt, xlrd").Run() == nil {
				return exe
			}
		}
	}
	t.Skip("python3 with xlwt and xlrd not installed (Debian: python3-xlwt python3-xlrd)")
	return ""
}

type wbSpec struct {
	Path   string      `json:"path"`
	Sheets []sheetSpec `json:"sheets"`
}

type sheetSpec struct {
	Name       string  `json:"name"`
	BoldHeader bool    `json:"bold_header"`
	Rows       [][]any `json:"rows"`
}

func xlwtWrite(t testing.TB, py string, spec wbSpec) {
	t.Helper()
	in, _ := json.Marshal(spec)
	cmd := exec.Command(py, "-c", xlwtScript)
	cmd.Stdin = bytes.NewReader(in)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("xlwt: %v: %s", err, out)
	}
}

type readout struct {
	Sheets []string                     `json:"sheets"`
	Rows   map[string][]json.RawMessage `json:"rows"`
}

type rowOut struct {
	Row   int
	Cells []string
}

func xlrdRead(t testing.TB, py, path string) ([]string, map[string][]rowOut) {
	t.Helper()
	out, err := exec.Command(py, "-c", xlrdScript, path).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			t.Fatalf("xlrd on %s: %v: %s", path, err, ee.Stderr)
		}
		t.Fatalf("xlrd: %v", err)
	}
	var r readout
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatal(err)
	}
	rows := map[string][]rowOut{}
	for name, rs := range r.Rows {
		for _, raw := range rs {
			var pair [2]json.RawMessage
			var ro rowOut
			if err := json.Unmarshal(raw, &pair); err != nil {
				t.Fatal(err)
			}
			json.Unmarshal(pair[0], &ro.Row)
			json.Unmarshal(pair[1], &ro.Cells)
			rows[name] = append(rows[name], ro)
		}
	}
	return r.Sheets, rows
}

// readAll reads every sheet with this package.
func readAll(t testing.TB, data []byte, lim Limits) ([]string, map[string][]rowOut) {
	t.Helper()
	w, err := Open(bytes.NewReader(data), int64(len(data)), "test.xls", lim)
	if err != nil {
		t.Fatal(err)
	}
	rows := map[string][]rowOut{}
	for _, s := range w.Sheets() {
		rows[s] = []rowOut{}
		if err := w.Rows(s, func(r int, cells []string) error {
			rows[s] = append(rows[s], rowOut{r, cells})
			return nil
		}); err != nil {
			t.Fatal(err)
		}
	}
	return w.Sheets(), rows
}

// compareWithXLRD reads path with both readers and fails on the first difference; it returns
// the number of cells compared.
func compareWithXLRD(t *testing.T, py, path string) int {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	gotSheets, got := readAll(t, data, Limits{})
	wantSheets, want := xlrdRead(t, py, path)
	if !slices.Equal(gotSheets, wantSheets) {
		t.Fatalf("%s: sheets %q, xlrd %q", path, gotSheets, wantSheets)
	}
	cells := 0
	for _, s := range wantSheets {
		g, w := got[s], want[s]
		if len(g) != len(w) {
			t.Fatalf("%s: sheet %q: %d non-empty rows, xlrd %d", path, s, len(g), len(w))
		}
		for i := range w {
			if g[i].Row != w[i].Row || !slices.Equal(g[i].Cells, w[i].Cells) {
				t.Fatalf("%s: sheet %q: row %d %q, xlrd row %d %q", path, s, g[i].Row, clip(g[i].Cells), w[i].Row, clip(w[i].Cells))
			}
			cells += len(w[i].Cells)
		}
	}
	return cells
}

func clip(cells []string) []string {
	out := make([]string, len(cells))
	for i, c := range cells {
		if len(c) > 80 {
			c = c[:80] + fmt.Sprintf("…(%d bytes)", len(c))
		}
		out[i] = c
	}
	return out
}

var camilleHeader = []any{"隐私政策状态", "时间点", "行为主体", "操作行为", "行为描述", "传入参数", "调用堆栈"}

// camilleRows builds rows as camille writes them: Chinese text, \r\n inside cells, Java stacks
// of stackLen characters, the last row's stack at BIFF's 32,767-character limit. That is the
// longest a camille log can hold: xlwt accepts a longer string in write() but then fails the
// whole save ("String longer than 32767 characters"), so no file is written at all.
func camilleRows(n, stackLen int) [][]any {
	rows := [][]any{camilleHeader}
	for i := 0; i < n; i++ {
		var st strings.Builder
		for st.Len() < stackLen {
			fmt.Fprintf(&st, "at com.example.sdk.Tracker%d.collect(Tracker.java:%d)\r\n", i%7, st.Len())
		}
		stack := st.String()[:stackLen]
		if i == n-1 {
			stack = strings.Repeat("栈", 32767)
		}
		rows = append(rows, []any{
			[]string{"同意隐私政策前", "同意隐私政策后"}[i%2],
			fmt.Sprintf("2024-05-%02d 10:%02d:%02d", 1+i%28, i%60, (i*7)%60),
			[]string{"APP", "SDK:com.umeng"}[i%2],
			"获取设备ID",
			fmt.Sprintf("TelephonyManager.getDeviceId\r\n第%d次", i),
			fmt.Sprintf("slot=%d", i%2),
			stack,
		})
	}
	return rows
}

func TestCamilleLayoutAgainstXLRD(t *testing.T) {
	py := python(t)
	path := filepath.Join(t.TempDir(), "camille.xls")
	xlwtWrite(t, py, wbSpec{Path: path, Sheets: []sheetSpec{{Name: "App_privacy_compliance_testing", BoldHeader: true, Rows: camilleRows(300, 2500)}}})
	cells := compareWithXLRD(t, py, path)
	data, _ := os.ReadFile(path)
	_, rows := readAll(t, data, Limits{})
	r := rows["App_privacy_compliance_testing"]
	if !slices.Equal(r[0].Cells, []string{"隐私政策状态", "时间点", "行为主体", "操作行为", "行为描述", "传入参数", "调用堆栈"}) {
		t.Fatalf("header %q", r[0].Cells)
	}
	if got := r[len(r)-1].Cells[6]; got != strings.Repeat("栈", 32767) {
		t.Fatalf("the 32,767-character stack came out as %d bytes", len(got))
	}
	if !strings.Contains(r[1].Cells[4], "\r\n") {
		t.Fatalf("\\r\\n lost: %q", r[1].Cells[4])
	}
	t.Logf("%d cells equal to xlrd's", cells)
}

func TestNumbersBoolsSheetsAgainstXLRD(t *testing.T) {
	py := python(t)
	path := filepath.Join(t.TempDir(), "numbers.xls")
	nums := []any{0, 1, -1, 3, 536870911, 536870912, -536870912, 1e15, 1e20, 9007199254740993.0, 0.1, -3.5, 1.0 / 3, 1e-7, 0.0001, 1.5e-5, 2.675, 123456.789, 1e300}
	var sheets []sheetSpec
	for i := 0; i < 20; i++ {
		sheets = append(sheets, sheetSpec{Name: fmt.Sprintf("表%d", i), Rows: [][]any{
			nums, {true, false, nil, "x", nil, nil, ""}, {map[string]string{"f": "1+2"}, map[string]string{"f": "2/4"}}, nil, nil, {nil, nil, 7.25},
		}})
	}
	xlwtWrite(t, py, wbSpec{Path: path, Sheets: sheets})
	t.Logf("%d cells equal to xlrd's", compareWithXLRD(t, py, path))
	data, _ := os.ReadFile(path)
	_, rows := readAll(t, data, Limits{})
	want := []string{"0", "1", "-1", "3", "536870911", "536870912", "-536870912", "1000000000000000", "100000000000000000000", "9007199254740992", "0.1", "-3.5", "0.3333333333333333", "1e-07", "0.0001", "1.5e-05", "2.675", "123456.789"}
	if got := rows["表0"][0].Cells; !slices.Equal(got[:len(want)], want) {
		t.Fatalf("numbers %q, want %q", got, want)
	}
	if got := rows["表19"][1].Cells; !slices.Equal(got, []string{"TRUE", "FALSE", "", "x"}) {
		t.Fatalf("bools %q", got)
	}
}

// A workbook over 109 × 128 × 512 bytes (7 MiB) needs FAT sectors listed in DIFAT sectors.
func TestBigWorkbookDIFATAgainstXLRD(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 9 MiB workbook")
	}
	py := python(t)
	path := filepath.Join(t.TempDir(), "big.xls")
	rows := [][]any{{"n", "text"}}
	for i := 0; i < 3000; i++ {
		rows = append(rows, []any{i, fmt.Sprintf("%05d %s", i, strings.Repeat("abcdefghij", 300))})
	}
	xlwtWrite(t, py, wbSpec{Path: path, Sheets: []sheetSpec{{Name: "big", Rows: rows}}})
	data, _ := os.ReadFile(path)
	if n := binary.LittleEndian.Uint32(data[72:]); n == 0 {
		t.Fatalf("the workbook has no DIFAT sectors (%d bytes): the test does not test them", len(data))
	}
	t.Logf("%d bytes, %d DIFAT sectors, %d cells equal to xlrd's", len(data), binary.LittleEndian.Uint32(data[72:]), compareWithXLRD(t, py, path))
}

// sample is a workbook exercising every record this package reads, built in Go.
func sample() []tsheet {
	long := strings.Repeat("隐私合规", 3000) // UTF-16, crosses CONTINUE records
	ascii := strings.Repeat("stack line\r\n", 2000)
	return []tsheet{
		{name: "App_privacy_compliance_testing", cells: []tcell{
			{row: 0, col: 0, kind: "sst", s: "隐私政策状态"}, {row: 0, col: 1, kind: "sst", s: "时间点"},
			{row: 1, col: 0, kind: "sst", s: long}, {row: 1, col: 1, kind: "sst", s: ascii},
			{row: 1, col: 2, kind: "sst", s: "é😀x"}, {row: 1, col: 3, kind: "label", s: "标签 label"},
			{row: 2, col: 0, kind: "num", f: 2.5}, {row: 2, col: 1, kind: "rk", rk: 12345<<2 | 2}, {row: 2, col: 2, kind: "rk", rk: 12345<<2 | 3},
			{row: 2, col: 3, kind: "bool", b: 1}, {row: 2, col: 4, kind: "err", b: 0x07}, {row: 2, col: 5, kind: "blank"},
			{row: 3, col: 1, kind: "fnum", f: 3}, {row: 3, col: 2, kind: "fstr", s: "公式结果"},
			{row: 5, col: 0, kind: "blank"},
		}, mulrk: &[3]int{4, 2, 3}},
		{name: "第二页", cells: []tcell{{row: 7, col: 1, kind: "sst", s: "隐私政策状态"}}, chart: true},
		{name: "empty"},
	}
}

var sampleWant = map[string][]rowOut{
	"App_privacy_compliance_testing": {
		{0, []string{"隐私政策状态", "时间点"}},
		{1, []string{strings.Repeat("隐私合规", 3000), strings.Repeat("stack line\r\n", 2000), "é😀x", "标签 label"}},
		{2, []string{"2.5", "12345", "123.45", "TRUE", "#DIV/0!"}},
		{3, []string{"", "3", "公式结果"}},
		{4, []string{"", "", "20", "30", "40"}},
	},
	"第二页":   {{7, []string{"", "隐私政策状态"}}},
	"empty": {},
}

func TestGoBuiltWorkbooks(t *testing.T) {
	stream := buildBIFF(sample(), 8224)
	for _, tc := range []struct {
		name   string
		stream []byte
		v4     bool
	}{
		{"v3", stream, false},
		{"v4", stream, true},
		{"small CONTINUE records", buildBIFF(sample(), 300), false},
		{"mini stream v3", buildBIFF(sample()[1:], 8224), false},
		{"mini stream v4", buildBIFF(sample()[1:], 8224), true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := writeCFB(tc.stream, tc.v4)
			sheets, got := readAll(t, data, Limits{})
			for _, s := range sheets {
				if !rowsEqual(got[s], sampleWant[s]) {
					t.Fatalf("sheet %q: %v, want %v", s, got[s], sampleWant[s])
				}
			}
			if len(tc.stream) < 4096 && len(sheets) != 2 {
				t.Fatalf("mini-stream workbook has sheets %q", sheets)
			}
			if len(tc.stream) >= 4096 && len(sheets) != 3 {
				t.Fatalf("sheets %q", sheets)
			}
			// The same file through xlrd, when installed: checks the Go-side writers too. xlrd
			// 1.2 places sectors at 512 + n × sector size whatever the version, which is wrong
			// for version 4 ([MS-CFB] 2.2: the header takes a whole 4096-byte sector), so
			// version 4 files are not given to it.
			if py := pythonOrEmpty(); py != "" && !tc.v4 {
				path := filepath.Join(t.TempDir(), "go.xls")
				os.WriteFile(path, data, 0o600)
				compareWithXLRD(t, py, path)
			}
		})
	}
}

func pythonOrEmpty() string {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exe, err := exec.LookPath(p); err == nil && exec.Command(exe, "-c", "import xlrd").Run() == nil {
			return exe
		}
	}
	return ""
}

func rowsEqual(a, b []rowOut) bool {
	return slices.EqualFunc(a, b, func(x, y rowOut) bool { return x.Row == y.Row && slices.Equal(x.Cells, y.Cells) })
}

// An xlwt workbook's stream is padded to 4096 bytes; cut to its records and rewrapped, it goes
// into the mini stream, and xlrd reads the rewrapped file too.
func TestXLWTStreamInMiniStream(t *testing.T) {
	py := python(t)
	path := filepath.Join(t.TempDir(), "small.xls")
	xlwtWrite(t, py, wbSpec{Path: path, Sheets: []sheetSpec{{Name: "App_privacy_compliance_testing", BoldHeader: true, Rows: [][]any{camilleHeader, {"同意隐私政策前", "2024", "APP", "读取", "描述\r\n", "p", "at a.b(c)"}}}}})
	data, _ := os.ReadFile(path)
	c, err := openCFB(bytes.NewReader(data), int64(len(data)))
	if err != nil {
		t.Fatal(err)
	}
	e, _ := c.rootStream("Workbook")
	st, n, err := c.openStream(e)
	if err != nil {
		t.Fatal(err)
	}
	stream := make([]byte, n)
	st.ReadAt(stream, 0)
	end := bytes.LastIndexByte(bytes.TrimRight(stream, "\x00"), recEOF) + 4 // the last EOF record
	if end >= 4096 {
		t.Fatalf("the records take %d bytes, not a mini-stream size", end)
	}
	p := filepath.Join(t.TempDir(), "mini.xls")
	os.WriteFile(p, writeCFB(stream[:end], false), 0o600)
	compareWithXLRD(t, py, p)
	// Version 4 (xlrd 1.2 misplaces its sectors, see TestGoBuiltWorkbooks): the same rows as
	// the version 3 file.
	data3, _ := os.ReadFile(p)
	_, want := readAll(t, data3, Limits{})
	_, got := readAll(t, writeCFB(stream[:end], true), Limits{})
	if s := "App_privacy_compliance_testing"; len(want[s]) != 2 || !rowsEqual(got[s], want[s]) {
		t.Fatalf("version 4: %v, version 3: %v", got[s], want[s])
	}
}

// Real .xls files named in PILMON_XLS_EXTRA (a list separated by the OS path-list separator)
// are compared with xlrd; files xlrd itself rejects are only read (an error, never a panic).
func TestExtraFilesAgainstXLRD(t *testing.T) {
	list := os.Getenv("PILMON_XLS_EXTRA")
	if list == "" {
		t.Skip("PILMON_XLS_EXTRA not set (real .xls files to compare with xlrd)")
	}
	py := python(t)
	for _, p := range filepath.SplitList(list) {
		if exec.Command(py, "-c", "import sys, xlrd; sys.exit(0 if xlrd.open_workbook(sys.argv[1], on_demand=True).biff_version else 1)", p).Run() != nil {
			data, err := os.ReadFile(p)
			if err != nil {
				t.Fatal(err)
			}
			// Not comparable (xlrd 1.2 also reads .xlsx, which is not BIFF); it must still come
			// back as an *Error or a read, never a panic.
			t.Logf("%s: not a BIFF workbook to xlrd; this package: %v", p, readErr(t, data, Limits{}))
			continue
		}
		t.Logf("%s: %d cells equal to xlrd's", p, compareWithXLRD(t, py, p))
	}
}
