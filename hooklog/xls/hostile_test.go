package xls

import (
	"bytes"
	"encoding/binary"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

var update = flag.Bool("update", false, "rewrite testdata/fuzz seeds")

// readErr opens data and reads every sheet, returning the first error; it must be an *Error.
func readErr(t testing.TB, data []byte, lim Limits) error {
	t.Helper()
	w, err := Open(bytes.NewReader(data), int64(len(data)), "hostile.xls", lim)
	if err == nil {
		for _, s := range w.Sheets() {
			if err = w.Rows(s, func(int, []string) error { return nil }); err != nil {
				break
			}
		}
	}
	if err != nil {
		var xe *Error
		if !errors.As(err, &xe) || xe.File != "hostile.xls" {
			t.Fatalf("error %v (%T) is not an *Error naming the file", err, err)
		}
	}
	return err
}

// good is a valid version 3 file with a regular (not mini) stream, and where its parts are.
func good(t testing.TB) (data []byte, streamAt int) {
	data = writeCFB(buildBIFF(sample(), 8224), false)
	// writeCFB's layout: FAT, DIFAT, directory, mini FAT, data; the Workbook entry is the
	// directory's second.
	dirAt := binary.LittleEndian.Uint32(data[48:])
	streamAt = int(binary.LittleEndian.Uint32(data[(int(dirAt)+1)*512+128+116:]))
	return data, streamAt
}

func TestHostile(t *testing.T) {
	base, streamAt := good(t)
	if err := readErr(t, base, Limits{}); err != nil {
		t.Fatalf("the unmodified file: %v", err)
	}
	dirAt := int(binary.LittleEndian.Uint32(base[48:]))
	wbEntry := (dirAt+1)*512 + 128
	fatEntry := func(d []byte, s int) []byte { return d[512+4*s:] } // the first FAT sector is sector 0
	streamOff := (streamAt + 1) * 512
	patch := func(f func(d []byte)) []byte { d := bytes.Clone(base); f(d); return d }

	for _, tc := range []struct {
		name, want string
		data       []byte
		lim        Limits
	}{
		{"zip (an .xlsx)", "not an .xls (OLE2) file: it is a zip", []byte("PK\x03\x04\x14\x00\x00\x00rest of an xlsx"), Limits{}},
		{"text", "not an .xls (OLE2) file", []byte("隐私政策状态,时间点\n"), Limits{}},
		{"empty", "not an .xls (OLE2) file", nil, Limits{}},
		{"header only", "truncated", base[:512], Limits{}},
		{"over MaxFileBytes", "over the limit", base, Limits{MaxFileBytes: 1000}},
		{"FAT cycle in the stream", "cycle", patch(func(d []byte) {
			binary.LittleEndian.PutUint32(fatEntry(d, streamAt+1), uint32(streamAt))
		}), Limits{}},
		{"stream size lies", "claims", patch(func(d []byte) { binary.LittleEndian.PutUint32(d[wbEntry+120:], 0x7FFFFFF0) }), Limits{}},
		{"sector index out of range", "out of range", patch(func(d []byte) { binary.LittleEndian.PutUint32(fatEntry(d, streamAt), 0x00FFFFFF) }), Limits{}},
		{"directory cycle", "cycle", patch(func(d []byte) { binary.LittleEndian.PutUint32(fatEntry(d, dirAt), uint32(dirAt)) }), Limits{}},
		{"DIFAT cycle", "DIFAT chain visits sector", difatLoop(base), Limits{}},
		{"FAT count beyond the file", "FAT sectors", patch(func(d []byte) { binary.LittleEndian.PutUint32(d[44:], 1<<30) }), Limits{}},
		{"no Workbook stream", "no Workbook stream", patch(func(d []byte) { copy(d[wbEntry:], []byte{'X', 0}) }), Limits{}},
		{"encrypted xlsx", "password-protected .xlsx", patch(func(d []byte) {
			name := []byte{}
			for _, r := range "EncryptedPackage\x00" {
				name = append(name, byte(r), 0)
			}
			copy(d[wbEntry:], name)
			binary.LittleEndian.PutUint16(d[wbEntry+64:], uint16(len(name)))
		}), Limits{}},
		{"BIFF5 Book stream", "BIFF5", patch(func(d []byte) {
			copy(d[wbEntry:], []byte{'B', 0, 'o', 0, 'o', 0, 'k', 0, 0, 0})
			binary.LittleEndian.PutUint16(d[wbEntry+64:], 10)
		}), Limits{}},
		{"BIFF5 BOF", "BIFF5", patch(func(d []byte) { binary.LittleEndian.PutUint16(d[streamOff+4:], 0x0500) }), Limits{}},
		{"record longer than the stream", "remain before offset", patch(func(d []byte) { binary.LittleEndian.PutUint16(d[streamOff+2:], 0xFFFF) }), Limits{}},
		{"sheet offset anywhere", "offset", patch(func(d []byte) { setSheetOffset(t, d[streamOff:], 0, 7) }), Limits{}},
		{"sheet offset past the stream", "outside the Workbook stream", patch(func(d []byte) { setSheetOffset(t, d[streamOff:], 0, 0x7FFFFFFF) }), Limits{}},
		{"sheet offset at the globals", "globals", patch(func(d []byte) { setSheetOffset(t, d[streamOff:], 0, 0) }), Limits{}},
		{"two sheets at one offset", "same offset", patch(func(d []byte) {
			st := d[streamOff:]
			first := findRec(t, st, recBoundSheet)
			second := first + 4 + int(binary.LittleEndian.Uint16(st[first+2:]))
			copy(st[second+4:second+8], st[first+4:first+8])
		}), Limits{}},
		{"a sheet without EOF stops at the next sheet", "no EOF record before offset", patch(func(d []byte) {
			st := d[streamOff:]
			first := findRec(t, st, recBoundSheet)
			second := first + 4 + int(binary.LittleEndian.Uint16(st[first+2:]))
			next := int(binary.LittleEndian.Uint32(st[second+4:]))
			binary.LittleEndian.PutUint16(st[next-4:], 0x0001) // sheet 0's EOF becomes an unknown record
		}), Limits{}},
		{"SST over MaxTotalBytes", "exceed the limit", base, Limits{MaxTotalBytes: 10000}},
		{"cell over MaxCellBytes", "cell limit", base, Limits{MaxCellBytes: 1000}},
		{"row over MaxRows", "limit of 3 rows", base, Limits{MaxRows: 3}},
		{"column over MaxCols", "limit of 4 columns", base, Limits{MaxCols: 4}},
		{"encrypted", "encrypted", patch(func(d []byte) {
			binary.LittleEndian.PutUint16(d[streamOff+findRec(t, d[streamOff:], recCodePage):], recFilePass)
		}), Limits{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := readErr(t, tc.data, tc.lim)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("error %v, want one containing %q", err, tc.want)
			}
		})
	}
}

// difatLoop appends 300 sectors to a file and claims 300 FAT sectors (all sector 0), listed by
// a DIFAT sector whose next-sector pointer is itself.
func difatLoop(base []byte) []byte {
	d := append(bytes.Clone(base), make([]byte, 300*512)...)
	p := len(base)/512 - 1 + 10 // a sector in the appended zeros
	binary.LittleEndian.PutUint32(d[44:], 300)
	for i := 0; i < 109; i++ {
		binary.LittleEndian.PutUint32(d[76+4*i:], 0)
	}
	binary.LittleEndian.PutUint32(d[68:], uint32(p))
	binary.LittleEndian.PutUint32(d[72:], 1<<30)
	binary.LittleEndian.PutUint32(d[(p+1)*512+508:], uint32(p))
	return d
}

// An SST that claims four billion strings allocates for the strings present and reads them.
func TestSSTCountOfBillions(t *testing.T) {
	base, streamAt := good(t)
	d := bytes.Clone(base)
	streamOff := (streamAt + 1) * 512
	binary.LittleEndian.PutUint32(d[streamOff+findRec(t, d[streamOff:], recSST)+8:], 4_000_000_000)
	_, want := readAll(t, base, Limits{})
	_, got := readAll(t, d, Limits{})
	for s := range want {
		if !rowsEqual(got[s], want[s]) {
			t.Fatalf("sheet %q differs", s)
		}
	}
}

// Every truncation of a valid file is an error or a (shorter) read, never a panic.
func TestTruncations(t *testing.T) {
	base, _ := good(t)
	fails := 0
	for n := 0; n < len(base); n += 97 {
		if readErr(t, base[:n], Limits{}) != nil {
			fails++
		}
	}
	if fails == 0 {
		t.Fatal("no truncation was reported")
	}
}

// The SST index of a LABELSST is checked, and fn's error comes back unchanged.
func TestBadSSTIndexAndFnError(t *testing.T) {
	sh := []tsheet{{name: "s", cells: []tcell{{row: 0, col: 0, kind: "sst", s: "a"}, {row: 1, col: 0, kind: "sst", s: "b"}}}}
	stream := buildBIFF(sh, 8224)
	i := findRec(t, stream, recLabelSST)
	bad := bytes.Clone(stream)
	binary.LittleEndian.PutUint32(bad[i+4+6:], 99)
	if err := readErr(t, writeCFB(bad, false), Limits{}); err == nil || !strings.Contains(err.Error(), `sheet "s" row 0: column 0: shared string 99 does not exist`) {
		t.Fatalf("error %v", err)
	}
	data := writeCFB(stream, false)
	w, err := Open(bytes.NewReader(data), int64(len(data)), "x.xls", Limits{})
	if err != nil {
		t.Fatal(err)
	}
	stop := errors.New("stop")
	calls := 0
	if err := w.Rows("s", func(int, []string) error { calls++; return stop }); err != stop || calls != 1 {
		t.Fatalf("Rows returned %v after %d calls, want fn's error after 1", err, calls)
	}
	if err := w.Rows("nope", nil); err == nil || err.Error() != `x.xls: sheet "nope": no such sheet` {
		t.Fatalf("error %v", err)
	}
}

// Rows within the window may arrive in any order and reach fn sorted; a row from before the
// window is an error, not a silent reordering.
func TestRowOrder(t *testing.T) {
	var cells []tcell
	for _, r := range []int{5, 2, 9, 0} {
		cells = append(cells, tcell{row: r, col: 0, kind: "label", s: fmt.Sprint(r)})
	}
	_, got := readAll(t, writeCFB(buildBIFF([]tsheet{{name: "s", cells: cells}}, 8224), false), Limits{})
	if fmt.Sprint(got["s"]) != "[{0 [0]} {2 [2]} {5 [5]} {9 [9]}]" {
		t.Fatalf("rows %v", got["s"])
	}
	cells = nil
	for r := 1; r <= rowWindow+1; r++ {
		cells = append(cells, tcell{row: r, col: 0, kind: "label", s: "x"})
	}
	cells = append(cells, tcell{row: 0, col: 0, kind: "label", s: "late"})
	err := readErr(t, writeCFB(buildBIFF([]tsheet{{name: "s", cells: cells}}, 8224), false), Limits{})
	if err == nil || !strings.Contains(err.Error(), "out of order") {
		t.Fatalf("error %v", err)
	}
}

func findRec(t testing.TB, stream []byte, typ uint16) int {
	for i := 0; i+4 <= len(stream); {
		if binary.LittleEndian.Uint16(stream[i:]) == typ {
			return i
		}
		i += 4 + int(binary.LittleEndian.Uint16(stream[i+2:]))
	}
	t.Fatalf("no record 0x%04X", typ)
	return 0
}

func setSheetOffset(t testing.TB, stream []byte, sheet int, off uint32) {
	i := findRec(t, stream, recBoundSheet) + (4+8+len(sample()[0].name))*sheet
	binary.LittleEndian.PutUint32(stream[i+4:], off)
}

// fuzzSeeds are small files covering each structure: mini streams in version 3 and 4 files, a
// regular stream, an SST with CONTINUE records every 200 bytes, every cell record, a non-OLE2
// file and a truncated one.
func fuzzSeeds() map[string][]byte {
	small := []tsheet{{name: "App_privacy_compliance_testing", cells: []tcell{
		{row: 0, col: 0, kind: "sst", s: "隐私政策状态"}, {row: 0, col: 1, kind: "sst", s: strings.Repeat("at a.b(C.java:1)\r\n", 30)},
		{row: 1, col: 0, kind: "num", f: 0.1}, {row: 1, col: 1, kind: "rk", rk: 7<<2 | 2}, {row: 1, col: 2, kind: "bool", b: 1},
		{row: 2, col: 0, kind: "fstr", s: "结果"}, {row: 2, col: 1, kind: "label", s: "标签"}, {row: 2, col: 2, kind: "err", b: 0x2A},
	}, mulrk: &[3]int{3, 0, 2}}, {name: "二"}}
	stream := buildBIFF(small, 200)
	big := make([]byte, 0, 4096)
	for len(big) < 4096 {
		big = append(big, stream...)
	}
	return map[string][]byte{
		"v3-mini":   writeCFB(stream, false),
		"v4-mini":   writeCFB(stream, true),
		"v3-stream": writeCFB(big[:4096], false), // the records repeated to the 4096-byte cutoff: a regular stream
		"not-ole2":  []byte("PK\x03\x04"),
		"truncated": writeCFB(stream, false)[:700],
	}
}

// The committed seeds are what fuzzSeeds writes; -update rewrites them.
func TestFuzzSeeds(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzOpenAndRows")
	for name, data := range fuzzSeeds() {
		enc := fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", data)
		p := filepath.Join(dir, name)
		if *update {
			os.MkdirAll(dir, 0o755)
			if err := os.WriteFile(p, []byte(enc), 0o644); err != nil {
				t.Fatal(err)
			}
			continue
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != enc {
			t.Errorf("seed %s is stale or missing (go test ./hooklog/xls -run TestFuzzSeeds -update)", p)
		}
	}
}

func FuzzOpenAndRows(f *testing.F) {
	for _, d := range fuzzSeeds() {
		f.Add(d)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		lim := Limits{MaxFileBytes: 1 << 20, MaxCellBytes: 64 << 10, MaxTotalBytes: 4 << 20}
		w, err := Open(bytes.NewReader(data), int64(len(data)), "fuzz.xls", lim)
		if err != nil {
			var xe *Error
			if !errors.As(err, &xe) {
				t.Fatalf("%T %v", err, err)
			}
			return
		}
		for _, s := range w.Sheets() {
			n := 0
			err := w.Rows(s, func(r int, cells []string) error {
				if r < 0 || r >= 65536 || len(cells) == 0 || len(cells) > 256 || cells[len(cells)-1] == "" {
					t.Fatalf("row %d with %d cells", r, len(cells))
				}
				n++
				return nil
			})
			if err != nil {
				var xe *Error
				if !errors.As(err, &xe) {
					t.Fatalf("%T %v", err, err)
				}
			}
		}
	})
}
