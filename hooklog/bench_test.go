package hooklog

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/xuri/excelize/v2"
)

// benchRows is the row limit of a BIFF8 .xls sheet: the largest camille log there can be.
const benchRows = 65_536

// writeBigCamille writes a camille-layout .xlsx of benchRows rows (the header and benchRows-1
// calls of the scenario in turn) with excelize's stream writer.
func writeBigCamille(tb testing.TB, path string) {
	tb.Helper()
	f := excelize.NewFile()
	defer f.Close()
	if err := f.SetSheetName("Sheet1", camilleSheet); err != nil {
		tb.Fatal(err)
	}
	sw, err := f.NewStreamWriter(camilleSheet)
	if err != nil {
		tb.Fatal(err)
	}
	src := camilleRows(true)
	for r := 0; r < benchRows; r++ {
		row := src[0]
		if r > 0 {
			row = src[1+(r-1)%(len(src)-1)]
		}
		cells := make([]any, len(row))
		for i, v := range row {
			cells[i] = v
		}
		name, _ := excelize.CoordinatesToCellName(1, r+1)
		if err := sw.SetRow(name, cells); err != nil {
			tb.Fatal(err)
		}
	}
	if err := sw.Flush(); err != nil {
		tb.Fatal(err)
	}
	if err := f.SaveAs(path); err != nil {
		tb.Fatal(err)
	}
}

// BenchmarkCamilleXLSX reads a 65,536-row camille .xlsx. HOOKLOG_BENCH_OUT names where to leave
// the file (to compare other readers, such as xlrd, on the same input); HOOKLOG_BENCH_IN reads an
// existing one instead of writing it, so a peak-RSS measure of the process is the reading alone.
func BenchmarkCamilleXLSX(b *testing.B) {
	path := filepath.Join(b.TempDir(), "camille.xlsx")
	if in := os.Getenv("HOOKLOG_BENCH_IN"); in != "" {
		path = in
	} else {
		if out := os.Getenv("HOOKLOG_BENCH_OUT"); out != "" {
			path = out
		}
		writeBigCamille(b, path)
	}
	cat := testCatalogue(b)
	b.ResetTimer()
	events := 0
	for b.Loop() {
		f, err := os.Open(path)
		if err != nil {
			b.Fatal(err)
		}
		st, _ := f.Stat()
		l, err := Read(f, st.Size(), path, cat, Options{AppPackage: appPkg})
		f.Close()
		if err != nil || len(l.Events) != benchRows-1 {
			b.Fatalf("%v: %d events", err, len(l.Events))
		}
		events += len(l.Events)
	}
	b.ReportMetric(float64(events)/b.Elapsed().Seconds(), "events/s")
}

// TestBigCamille reads the 65,536-row file once and checks every call is read, mapped and
// attributed (no bound on time).
func TestBigCamille(t *testing.T) {
	if testing.Short() {
		t.Skip("writes a 65,536-row workbook")
	}
	path := filepath.Join(t.TempDir(), "camille.xlsx")
	writeBigCamille(t, path)
	l, err := readFile(t, path, Options{AppPackage: appPkg})
	if err != nil {
		t.Fatal(err)
	}
	if len(l.Events) != benchRows-1 {
		t.Fatalf("%d events", len(l.Events))
	}
	parties := map[string]int{}
	for _, e := range l.Events {
		parties[e.API+" "+e.Party]++
	}
	got := fmt.Sprint(parties)
	if !strings.Contains(got, "telephony.getDeviceId sdk:umeng_analytics:") || !strings.Contains(got, "settings.androidId app:") || len(parties) != 3 {
		t.Errorf("calls by api and party: %v", parties)
	}
}
