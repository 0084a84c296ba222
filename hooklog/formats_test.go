package hooklog

import (
	"path/filepath"
	"strings"
	"testing"
)

func TestPrivacyMonitor(t *testing.T) {
	l, err := readFile(t, writeFile(t, "frida_log.txt", monitorLog()), Options{AppPackage: appPkg})
	if err != nil {
		t.Fatal(err)
	}
	if l.Format != FormatPrivacyMonitor {
		t.Fatalf("format %q", l.Format)
	}
	// Its 调用时机 are start-up stages, not consent: every phase is unknown, the stage a note.
	checkCalls(t, l, []want{
		{"telephony.getDeviceId", umeng, PhaseUnknown},
		{"settings.androidId", "app", PhaseUnknown},
		{"telephony.getDeviceId", umeng, PhaseUnknown},
		{"settings.androidId", "app", PhaseUnknown},
		{"telephony.getDeviceId", "app", PhaseUnknown},
	})
	e := l.Events[1]
	if e.DeviceTime != "10:00:02.101" || e.TimeSource != TimeOfDay || !strings.Contains(e.Note, "Application.onCreate()后") ||
		e.ReturnValue != "c48bd78e783ce8eb" || len(e.Args) != 2 || e.Args[1] != "android_id" ||
		e.ToolAPI != "android.provider.Settings$Secure.getString" || e.Stack[0] != "java.lang.Exception" {
		t.Errorf("second call: %+v", e)
	}
}

// TestMonitorArgsDecideAPI: Settings.Secure.getString reads the Android ID only for "android_id";
// the same call for another key maps to no catalogue id (negative), and without recorded
// arguments the catalogue entry is kept (the tool did not say).
func TestMonitorArgsDecideAPI(t *testing.T) {
	other := strings.ReplaceAll(string(monitorLog()), "   [1] android_id\n", "   [1] bluetooth_name\n")
	l, err := readFile(t, writeFile(t, "o.txt", []byte(other)), Options{})
	if err != nil {
		t.Fatal(err)
	}
	if e := l.Events[1]; e.API != "" || e.ToolAPI != "android.provider.Settings$Secure.getString" {
		t.Errorf("getString(bluetooth_name): api %q", e.API)
	}
	if e := l.Events[0]; e.API != "telephony.getDeviceId" {
		t.Errorf("getDeviceId: api %q", e.API)
	}
}

func camilleBook(withBefore bool) *memBook {
	return &memBook{names: []string{camilleSheet}, sheets: map[string][][]string{camilleSheet: camilleRows(withBefore)}}
}

func TestCamille(t *testing.T) {
	path := filepath.Join(t.TempDir(), "camille.xlsx")
	writeXLSX(t, path, []string{camilleSheet}, map[string][][]string{camilleSheet: camilleRows(true)})
	l, err := readFile(t, path, Options{AppPackage: appPkg})
	if err != nil {
		t.Fatal(err)
	}
	if l.Format != FormatCamille {
		t.Fatalf("format %q", l.Format)
	}
	// The first row's 行为主体 says 极光推送; the stack says Umeng: the stack decides.
	checkCalls(t, l, []want{
		{"telephony.getDeviceId", umeng, PhaseBeforeConsent},
		{"settings.androidId", "app", PhaseBeforeConsent},
		{"telephony.getDeviceId", umeng, PhaseAfterConsent},
		{"settings.androidId", "app", PhaseAfterConsent},
		{"telephony.getDeviceId", "app", PhaseAfterConsent},
	})
	e := l.Events[0]
	if e.ToolParty != "极光推送" || e.PhaseSource != PhaseSourceHostFlag || e.Row != 2 {
		t.Errorf("first call: %+v", e)
	}
	// camille writes May as 4 (getMonth): corrected.
	if e.DeviceTime != "2024-05-01T10:00:01" || e.TimeSource != TimeMonthCorrected {
		t.Errorf("time %q (%s), want 2024-05-01T10:00:01 month-corrected", e.DeviceTime, e.TimeSource)
	}
	if a := l.Events[1].Args; len(a) != 2 || a[1] != `"android_id"` {
		t.Errorf("args %q", a)
	}
	if len(l.Marks) != 1 || l.Marks[0].Source != PhaseSourceHostFlag || l.Marks[0].Row != 4 {
		t.Errorf("marks %+v", l.Marks)
	}
}

// TestCamilleAllAfter: a log with no 同意隐私政策前 row (camille -ns or attach mode) shows no
// consent: phases unknown, with a note.
func TestCamilleAllAfter(t *testing.T) {
	l, err := readWorkbook(camilleBook(false), "c.xls", testCatalogue(t), Options{AppPackage: appPkg})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Events {
		if e.Phase != PhaseUnknown || e.PhaseSource != PhaseSourceNone {
			t.Errorf("row %d: phase %q (%s)", e.Row, e.Phase, e.PhaseSource)
		}
	}
	if len(l.Notes) != 1 || len(l.Marks) != 0 {
		t.Errorf("notes %q marks %+v", l.Notes, l.Marks)
	}
}

func TestCamilleTime(t *testing.T) {
	for in, want := range map[string]string{
		"2024-0-5 9:4:7":      "2024-01-05T09:04:07", // January is 0
		"2024-11-31 23:59:59": "2024-12-31T23:59:59",
		"2024-1-29 0:0:0":     "2024-02-29T00:00:00",
	} {
		got, ok := parseCamilleTime(in)
		if !ok || got.Format("2006-01-02T15:04:05") != want {
			t.Errorf("%q: %v %v, want %s", in, got, ok, want)
		}
	}
	// Values camille cannot write: month 12 (getMonth stops at 11), 30 February, padding-free but
	// out of range, another layout.
	for _, in := range []string{"2024-12-1 0:0:0", "2024-1-30 0:0:0", "2024-1-1 24:0:0", "2024/1/1 1:1:1", ""} {
		if got, ok := parseCamilleTime(in); ok {
			t.Errorf("%q read as %v", in, got)
		}
	}
}

func TestCamilleBadRows(t *testing.T) {
	rows := camilleRows(true)
	rows[1][0] = "已同意"
	rows[2][1] = "yesterday"
	wb := &memBook{names: []string{camilleSheet}, sheets: map[string][][]string{camilleSheet: rows}}
	l, err := readWorkbook(wb, "c.xls", testCatalogue(t), Options{AppPackage: appPkg})
	var re *ReadError
	if !errorsAs(err, &re) || len(re.Reasons) != 2 || !strings.HasPrefix(re.Reasons[0], "row 2:") || !strings.HasPrefix(re.Reasons[1], "row 3:") {
		t.Fatalf("error %v", err)
	}
	if len(l.Events) != 5 || l.Events[0].Phase != PhaseUnknown || l.Events[1].TimeSource != TimeNone || l.Events[1].Phase != PhaseBeforeConsent {
		t.Errorf("kept %+v", l.Events[:2])
	}
	// A sheet without the header is an error naming the sheet.
	wb = &memBook{names: []string{camilleSheet}, sheets: map[string][][]string{camilleSheet: {{"a", "b"}}}}
	if _, err := readWorkbook(wb, "c.xls", nil, Options{}); err == nil || !strings.Contains(err.Error(), "no header row") {
		t.Errorf("no header: %v", err)
	}
}

func sentryBook(newestFirst, consent bool) *memBook {
	return &memBook{names: []string{sentrySheet, sentryCountSheet},
		sheets: map[string][][]string{sentrySheet: sentryRows(newestFirst, consent), sentryCountSheet: {{"别名", "函数名", "调用堆栈", "调用次数"}}}}
}

func TestPrivacySentry(t *testing.T) {
	for _, newestFirst := range []bool{false, true} {
		name := "oldest-first"
		if newestFirst {
			name = "newest-first"
		}
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "sentry.xlsx")
			b := sentryBook(newestFirst, true)
			writeXLSX(t, path, b.names, b.sheets)
			l, err := readFile(t, path, Options{AppPackage: appPkg})
			if err != nil {
				t.Fatal(err)
			}
			// 函数名 getString fits both Settings$Secure and Settings$System: not mapped.
			ws := []want{
				{"telephony.getDeviceId", umeng, PhaseBeforeConsent},
				{"", "app", PhaseBeforeConsent},
				{"telephony.getDeviceId", umeng, PhaseAfterConsent},
				{"", "app", PhaseAfterConsent},
				{"telephony.getDeviceId", "app", PhaseAfterConsent},
			}
			if newestFirst {
				for i, j := 0, len(ws)-1; i < j; i, j = i+1, j-1 {
					ws[i], ws[j] = ws[j], ws[i]
				}
			}
			checkCalls(t, l, ws)
			for _, e := range l.Events {
				if e.PhaseSource != PhaseSourcePseudoRow || e.TimeSource != TimeMonthDay || !strings.HasPrefix(e.DeviceTime, "05-01T10:00:") {
					t.Errorf("row %d: %s %s %q", e.Row, e.PhaseSource, e.TimeSource, e.DeviceTime)
				}
				if e.API != "" && e.APISource != "label" {
					t.Errorf("row %d: api source %q, want label (the proxy hides the API frame)", e.Row, e.APISource)
				}
			}
			if len(l.Marks) != 1 || l.Marks[0].Seq != 2 || len(l.ClockJumps) != 0 {
				t.Errorf("marks %+v, clock jumps %+v", l.Marks, l.ClockJumps)
			}
		})
	}
	// Without the pseudo-row the phase is unknown.
	l, err := readWorkbook(sentryBook(false, false), "s.xls", testCatalogue(t), Options{AppPackage: appPkg})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range l.Events {
		if e.Phase != PhaseUnknown || e.PhaseSource != PhaseSourceNone {
			t.Errorf("no pseudo-row: row %d phase %s (%s)", e.Row, e.Phase, e.PhaseSource)
		}
	}
}

func TestAppScan(t *testing.T) {
	path := filepath.Join(t.TempDir(), "关注列表.xlsx")
	writeXLSX(t, path, []string{appscanSheet, appscanRiskSheet}, map[string][][]string{appscanSheet: appscanRows(), appscanRiskSheet: riskRows})
	l, err := readFile(t, path, Options{AppPackage: appPkg})
	if err != nil {
		t.Fatal(err)
	}
	if l.Format != FormatAppScan {
		t.Fatalf("format %q", l.Format)
	}
	checkCalls(t, l, []want{
		{"telephony.getDeviceId", umeng, PhaseUnknown},
		{"settings.androidId", "app", PhaseUnknown},
		{"telephony.getDeviceId", umeng, PhaseUnknown},
		{"settings.androidId", "app", PhaseUnknown},
		{"telephony.getDeviceId", "app", PhaseUnknown},
	})
	if l.Events[0].ToolParty != "极光推送" || l.Events[0].TimeSource != TimeNone {
		t.Errorf("first: %+v", l.Events[0])
	}
	if len(l.Assertions) != 1 || l.Assertions[0].Item != "SDK在用户同意隐私政策前收集个人信息" || l.Assertions[0].Advice != "延迟初始化SDK" {
		t.Errorf("assertions %+v", l.Assertions)
	}
}

// TestXLS: the legacy .xls camille and PrivacySentry write, generated by the peers' own writer
// (python3-xlwt), gives the same calls, parties and phases as the .xlsx layouts.
func TestXLS(t *testing.T) {
	path := filepath.Join(t.TempDir(), "camille.xls")
	writeXLS(t, path, []string{camilleSheet}, map[string][][]string{camilleSheet: camilleRows(true)})
	l, err := readFile(t, path, Options{AppPackage: appPkg})
	if err != nil {
		t.Fatal(err)
	}
	checkCalls(t, l, []want{
		{"telephony.getDeviceId", umeng, PhaseBeforeConsent},
		{"settings.androidId", "app", PhaseBeforeConsent},
		{"telephony.getDeviceId", umeng, PhaseAfterConsent},
		{"settings.androidId", "app", PhaseAfterConsent},
		{"telephony.getDeviceId", "app", PhaseAfterConsent},
	})
	spath := filepath.Join(t.TempDir(), "sentry.xls")
	b := sentryBook(false, true)
	writeXLS(t, spath, b.names, b.sheets)
	if l, err := readFile(t, spath, Options{AppPackage: appPkg}); err != nil || l.Format != FormatPrivacySentry || len(l.Events) != 5 {
		t.Errorf("PrivacySentry .xls: %v", err)
	}
}
