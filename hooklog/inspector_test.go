package hooklog

import (
	"archive/zip"
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/scanner"
	"pilmon/scanner/scannertest"
)

func TestConformance(t *testing.T) {
	dir := t.TempDir()
	xlsx := filepath.Join(dir, "camille.xlsx")
	writeXLSX(t, xlsx, []string{camilleSheet}, map[string][][]string{camilleSheet: camilleRows(true)})
	broken := append(pilmonJSONL(true), []byte("{broken\n")...)
	scannertest.Conformance(t, New(testCatalogue(t), InspectorOptions{}), []scannertest.Input{
		{Source: scanner.Source{Kind: Kind, Locator: writeFile(t, "s.jsonl", pilmonJSONL(true))}, Want: []string{"runtime.session", "runtime.api_call", "runtime.consent"}},
		{Source: scanner.Source{Kind: Kind, Locator: writeFile(t, "m.txt", monitorLog()), Options: map[string]string{"app_package": appPkg}}, Want: []string{"runtime.api_call"}},
		{Source: scanner.Source{Kind: Kind, Locator: xlsx, Options: map[string]string{"app_package": appPkg}}, Want: []string{"runtime.api_call", "runtime.consent"}},
		{Source: scanner.Source{Kind: Kind, Locator: writeFile(t, "b.jsonl", broken)}, Partial: true},
	})
}

// TestDetect: each format is recognised by content, whatever its name; other spreadsheets, text
// and JSON are not.
func TestDetect(t *testing.T) {
	kinds := New(nil, InspectorOptions{}).Kinds()
	dir := t.TempDir()
	camille := filepath.Join(dir, "a.xlsx")
	writeXLSX(t, camille, []string{camilleSheet}, map[string][][]string{camilleSheet: camilleRows(true)})
	if err := os.Rename(camille, camille+".bin"); err != nil {
		t.Fatal(err)
	}
	camille += ".bin"
	other := filepath.Join(dir, "other.xlsx")
	writeXLSX(t, other, []string{"Sheet1"}, map[string][][]string{"Sheet1": {{"a"}}})
	for path, want := range map[string]string{
		writeFile(t, "a.dat", pilmonJSONL(true)): FormatPilmon,
		writeFile(t, "b.dat", monitorLog()):      FormatPrivacyMonitor,
		camille:                                  FormatCamille,
		other:                                    "",
		writeFile(t, "c.dat", []byte(`{"v":2,"type":"call"}`+"\n")): "",
		writeFile(t, "d.dat", []byte(`{"log":{"entries":[]}}`)):     "",
		writeFile(t, "e.dat", []byte("隐私政策\n我们收集您的信息")):             "",
	} {
		f, err := os.Open(path)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		if got := Detect(f, st.Size(), Limits{}); got != want {
			t.Errorf("%s: Detect %q, want %q", filepath.Base(path), got, want)
		}
		f.Close()
		kind, err := scanner.DetectKind(path, kinds)
		if want != "" && (err != nil || kind != Kind) {
			t.Errorf("%s: DetectKind %q %v", filepath.Base(path), kind, err)
		}
	}
}

func inspect(t *testing.T, path string, opts map[string]string) scanner.Report {
	t.Helper()
	return scanner.InspectSource(context.Background(), New(testCatalogue(t), InspectorOptions{}),
		scanner.Source{Kind: Kind, Locator: path, Options: opts}, &memSink{})
}

// TestObservations: one runtime.api_call per (api, party, phase, foreground) with its count, times
// and offset from the consent tap; the session counts; the consent mark.
func TestObservations(t *testing.T) {
	rep := inspect(t, writeFile(t, "s.jsonl", pilmonJSONL(true)), nil)
	if rep.Status != scanner.StatusSucceeded {
		t.Fatalf("status %s: %v", rep.Status, rep.Errors)
	}
	calls := map[string]scanner.Observation{}
	var sess, consent *scanner.Observation
	for i, o := range rep.Observations {
		switch o.Kind {
		case "runtime.api_call":
			calls[o.Subject] = o
		case "runtime.session":
			sess = &rep.Observations[i]
		case "runtime.consent":
			consent = &rep.Observations[i]
		}
		if len(o.EvidenceRefs) != 1 || o.EvidenceRefs[0] != rep.Evidence[0].SHA256 {
			t.Errorf("%s: evidence %v", o.Kind, o.EvidenceRefs)
		}
	}
	if len(calls) != 5 {
		t.Fatalf("%d api_call observations: %v", len(calls), calls)
	}
	before := calls["telephony.getDeviceId by sdk:umeng_analytics before_consent foreground"]
	a := before.Attributes
	if a["count"] != 1 || a["first_ms_from_consent"] != -1500 || a["phase_source"] != PhaseSourceDevice ||
		a["format"] != FormatPilmon || a["first_time"] != "2024-05-01T10:00:01.000Z" || fmt.Sprint(a["pi"]) != "[device_id_hw]" ||
		a["return_value"] != "861234567890123" || fmt.Sprint(a["rows"]) != "[3]" {
		t.Errorf("SDK read before consent: %v", a)
	}
	bg := calls["telephony.getDeviceId by app after_consent background"].Attributes
	if bg["count"] != 1 || bg["first_ms_from_consent"] != 2500 {
		t.Errorf("background read: %v", bg)
	}
	if sess == nil || sess.Attributes["events"] != 5 || sess.Attributes["mapped"] != 5 || sess.Attributes["consents"] != 1 ||
		sess.Attributes["package"] != appPkg || sess.Attributes["app_package_source"] != "session" {
		t.Errorf("session: %+v", sess)
	}
	if consent == nil || consent.Attributes["text"] != "同意并继续" || consent.Attributes["source"] != PhaseSourceDevice {
		t.Errorf("consent: %+v", consent)
	}
	// The same call twice in one phase is one observation with count 2.
	twice := append(pilmonJSONL(true), []byte(`{"v":1,"type":"call","t":1714557609000,"api":"telephony.getDeviceId","stack":["android.telephony.TelephonyManager.getDeviceId(Native Method)","com.shop.app.push.PushService.register(PushService.java:12)"],"fg":false}`+"\n")...)
	rep = inspect(t, writeFile(t, "t.jsonl", twice), nil)
	for _, o := range rep.Observations {
		if o.Subject == "telephony.getDeviceId by app after_consent background" &&
			(o.Attributes["count"] != 2 || o.Attributes["last_time"] != "2024-05-01T10:00:09.000Z" || fmt.Sprint(o.Attributes["rows"]) != "[9 10]") {
			t.Errorf("two calls: %v", o.Attributes)
		}
	}
}

// TestToolAssertions: AppScan's 风险列表 rows are kept as the tool's assertions, without its
// 风险等级.
func TestToolAssertions(t *testing.T) {
	// AppScan names the sheet 风险; a copy whose sheet is named like the file is read too, and a
	// sheet of another name is not taken for AppScan's.
	for _, sheet := range []string{appscanRiskSheet, appscanRiskSheetAlt} {
		path := filepath.Join(t.TempDir(), "风险列表.xlsx")
		writeXLSX(t, path, []string{sheet}, map[string][][]string{sheet: riskRows})
		rep := inspect(t, path, nil)
		if len(rep.Observations) != 2 || rep.Observations[1].Kind != "runtime.tool_assertion" {
			t.Fatalf("sheet %s: %s %v: %+v", sheet, rep.Status, rep.Errors, rep.Observations)
		}
		if _, ok := rep.Observations[1].Attributes["level"]; ok {
			t.Error("the risk level is kept")
		}
	}
	path := filepath.Join(t.TempDir(), "other.xlsx")
	writeXLSX(t, path, []string{"风险评估"}, map[string][][]string{"风险评估": riskRows})
	if rep := inspect(t, path, nil); rep.Status != scanner.StatusFailed {
		t.Errorf("a workbook with a sheet 风险评估 was read as AppScan's: %s %+v", rep.Status, rep.Observations)
	}
}

// TestLimits: stacks, calls and lines beyond the limits are cut and counted, with what was read
// before kept.
func TestLimits(t *testing.T) {
	var frames []string
	for i := 0; i < 10_000; i++ {
		frames = append(frames, fmt.Sprintf(`"com.shop.app.R.f%d(R.java:1)"`, i))
	}
	deep := `{"v":1,"type":"call","t":1,"api":"telephony.getDeviceId","stack":[` + strings.Join(frames, ",") + "]}\n"
	l, err := readFile(t, writeFile(t, "deep.jsonl", []byte(deep)), Options{})
	if err != nil || len(l.Events[0].Stack) != 256 || l.Events[0].StackDropped != 10_000-256 {
		t.Errorf("10,000 frames: %v, kept %d dropped %d", err, len(l.Events[0].Stack), l.Events[0].StackDropped)
	}
	many := strings.Repeat(`{"v":1,"type":"call","t":1,"api":"telephony.getImei"}`+"\n", 10)
	l, err = readFile(t, writeFile(t, "many.jsonl", []byte(many)), Options{Limits: Limits{MaxEvents: 4}})
	if err == nil || len(l.Events) != 4 || l.Dropped != 6 {
		t.Errorf("MaxEvents 4 of 10: %v, kept %d dropped %d", err, len(l.Events), l.Dropped)
	}
	long := `{"v":1,"type":"call","t":1,"api":"telephony.getImei"}` + "\n" + `{"v":1,"type":"call","t":2,"api":"` + strings.Repeat("x", 2000) + `"}` + "\n"
	l, err = readFile(t, writeFile(t, "long.jsonl", []byte(long)), Options{Limits: Limits{MaxLineBytes: 1000}})
	if err == nil || !strings.Contains(err.Error(), "line 2:") || len(l.Events) != 1 {
		t.Errorf("long line: %v, kept %v", err, l)
	}
	cell := `{"v":1,"type":"call","t":1,"api":"telephony.getImei","ret":"` + strings.Repeat("é", 100) + "\xff\"}\n"
	l, _ = readFile(t, writeFile(t, "cell.jsonl", []byte(cell)), Options{Limits: Limits{MaxCellBytes: 11}})
	if r := l.Events[0].ReturnValue; r != "ééééé…" {
		t.Errorf("cut value %q", r)
	}
	// A monitor stack of 10,000 frames is bounded too.
	mon := "🚨 [1] [10:00:001.000] x\n===== STACK_START =====\n" + strings.Repeat("   at com.shop.app.A.b(A.java:1)\n", 10_000) + "===== STACK_END =====\n"
	l, err = readFile(t, writeFile(t, "mon.txt", []byte(mon)), Options{})
	if err != nil || len(l.Events[0].Stack) != 256 || l.Events[0].StackDropped != 10_000-256 {
		t.Errorf("monitor 10,000 frames: %v kept %d", err, len(l.Events[0].Stack))
	}
}

// TestZipBomb: an .xlsx whose entries unpack beyond the limit is refused before excelize reads it.
func TestZipBomb(t *testing.T) {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, n := range []string{"[Content_Types].xml", "xl/workbook.xml", "xl/worksheets/sheet1.xml"} {
		w, _ := zw.Create(n)
		w.Write(bytes.Repeat([]byte(" "), 1<<20))
	}
	zw.Close()
	path := writeFile(t, "bomb.xlsx", buf.Bytes())
	_, err := readFile(t, path, Options{Limits: Limits{MaxUnzipBytes: 2 << 20}})
	if err == nil || !strings.Contains(err.Error(), "unpacks to more than") {
		t.Errorf("bomb: %v", err)
	}
	rep := inspect(t, path, nil)
	if rep.Status != scanner.StatusFailed || len(rep.Errors) == 0 || !strings.Contains(rep.Errors[0].Path, "bomb.xlsx") {
		t.Errorf("report: %s %v", rep.Status, rep.Errors)
	}
}
