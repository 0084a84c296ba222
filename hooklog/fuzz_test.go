package hooklog

import (
	"bytes"
	"strings"
	"testing"
)

// fuzzLimits keep one fuzz input cheap while reaching every limit's branch.
var fuzzLimits = Limits{MaxEvents: 50, MaxFrames: 8, MaxArgs: 4, MaxCellBytes: 256, MaxLineBytes: 4096,
	MaxRows: 200, MaxUnzipBytes: 8 << 20, MaxErrors: 5}

// checkLog holds what every read must keep whatever the input: the limits, valid UTF-8 in what is
// kept, phases and parties from their vocabularies.
func checkLog(t *testing.T, l *Log, lim Limits) {
	if l == nil {
		return
	}
	if len(l.Events) > lim.MaxEvents {
		t.Fatalf("%d events beyond the limit %d", len(l.Events), lim.MaxEvents)
	}
	for _, e := range l.Events {
		if len(e.Stack) > lim.MaxFrames || len(e.Args) > lim.MaxArgs {
			t.Fatalf("event %d: %d frames, %d args", e.Seq, len(e.Stack), len(e.Args))
		}
		switch e.Phase {
		case PhaseBeforeConsent, PhaseAfterConsent, PhaseAfterRefusal, PhaseUnknown:
		default:
			t.Fatalf("phase %q", e.Phase)
		}
		if e.Party != "app" && e.Party != "unidentified" && !strings.HasPrefix(e.Party, "sdk:") && !strings.HasPrefix(e.Party, "library:") {
			t.Fatalf("party %q", e.Party)
		}
		for _, s := range append(append([]string{e.ToolAPI, e.ReturnValue, e.DeviceTime}, e.Stack...), e.Args...) {
			if len(s) > lim.MaxCellBytes+len("…") {
				t.Fatalf("value of %d bytes kept", len(s))
			}
		}
	}
	Observe(l, testCatalogue(t), "none")
}

func FuzzPilmon(f *testing.F) {
	f.Add(pilmonJSONL(true))
	f.Add(pilmonJSONL(false))
	f.Add([]byte(`{"v":1,"type":"call","t":-5,"args":[1,{"a":[null]}],"ret":{"x":1},"fg":"yes","stack":[1]}` + "\n" + `{"v":1,"type":"refusal","t":9007199254740993}`))
	f.Add([]byte("{\"v\":1,\"type\":\"lifecycle\",\"state\":\"sideways\"}\n\xff\xfe\n"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, _ := Read(bytes.NewReader(data), int64(len(data)), "f.jsonl", testCatalogue(t), Options{Limits: fuzzLimits})
		checkLog(t, l, fuzzLimits.withDefaults())
	})
}

func FuzzPrivacyMonitor(f *testing.F) {
	f.Add(monitorLog())
	f.Add([]byte("🚨 [1] [99:00:001.000] x\n===== STACK_START =====\n"))
	f.Add([]byte("===== STACK_START =====\n📥 传入参数: [\n   [0] a\n🚨 [2] [1:2:3.004] y\n📤 返回值: \x1b[31mz"))
	f.Fuzz(func(t *testing.T, data []byte) {
		l, _ := Read(bytes.NewReader(data), int64(len(data)), "f.txt", testCatalogue(t), Options{Limits: fuzzLimits})
		checkLog(t, l, fuzzLimits.withDefaults())
	})
}

// FuzzXLSX feeds whole files to the .xlsx path (zip directory checks, excelize, sheet logic).
func FuzzXLSX(f *testing.F) {
	dir := f.TempDir()
	for i, sheets := range []map[string][][]string{
		{camilleSheet: camilleRows(true)},
		{sentrySheet: sentryRows(true, true)},
		{appscanSheet: appscanRows(), appscanRiskSheet: riskRows},
	} {
		var names []string
		for n := range sheets {
			names = append(names, n)
		}
		p := dir + "/" + string(rune('a'+i)) + ".xlsx"
		writeXLSX(f, p, names, sheets)
		f.Add(readBytes(f, p))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		l, _ := Read(bytes.NewReader(data), int64(len(data)), "f.xlsx", testCatalogue(t), Options{Limits: fuzzLimits})
		checkLog(t, l, fuzzLimits.withDefaults())
	})
}

// FuzzSheets drives the camille, PrivacySentry and AppScan row logic through the workbook
// interface: the first byte picks the sheet, lines are rows and tabs separate cells.
func FuzzSheets(f *testing.F) {
	join := func(sheet byte, rows [][]string) []byte {
		var b bytes.Buffer
		b.WriteByte(sheet)
		for _, r := range rows {
			b.WriteString(strings.Join(r, "\t"))
			b.WriteByte('\x1e')
		}
		return b.Bytes()
	}
	f.Add(join(0, camilleRows(true)))
	f.Add(join(0, camilleRows(false)))
	f.Add(join(1, sentryRows(false, true)))
	f.Add(join(1, sentryRows(true, true)))
	f.Add(join(2, appscanRows()))
	f.Add(join(3, riskRows))
	names := []string{camilleSheet, sentrySheet, appscanSheet, appscanRiskSheet}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) == 0 {
			return
		}
		name := names[int(data[0])%len(names)]
		var rows [][]string
		for _, r := range strings.Split(string(data[1:]), "\x1e") {
			rows = append(rows, strings.Split(r, "\t"))
		}
		wb := &memBook{names: []string{name}, sheets: map[string][][]string{name: rows}}
		l, _ := readWorkbook(wb, "f.xls", testCatalogue(t), Options{Limits: fuzzLimits})
		checkLog(t, l, fuzzLimits.withDefaults())
	})
}
