package hooklog

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/xuri/excelize/v2"

	"pilmon/evidence"
	"pilmon/rules"
)

var (
	catOnce sync.Once
	catVal  *rules.Catalogue
	catErr  error
)

func testCatalogue(t testing.TB) *rules.Catalogue {
	t.Helper()
	catOnce.Do(func() { catVal, catErr = rules.Default() })
	if catErr != nil {
		t.Fatalf("rules.Default: %v", catErr)
	}
	return catVal
}

// The scenario every fixture records: the app com.shop.app, the Umeng SDK (com.umeng.commonsdk,
// sdk:umeng_analytics in sdks.yaml) and the app's own code read the IMEI and the Android ID before
// and after consent; one read happens in the background.
const appPkg = "com.shop.app"

var (
	// Innermost first, as Java prints them; Frida's hooked method is the first frame.
	sdkIMEIStack = []string{
		"android.telephony.TelephonyManager.getDeviceId(Native Method)",
		"com.umeng.commonsdk.statistics.common.DeviceConfig.getImei(DeviceConfig.java:120)",
		"com.umeng.commonsdk.UMConfigure.init(UMConfigure.java:88)",
		"com.shop.app.ShopApplication.onCreate(ShopApplication.java:20)",
		"android.app.Instrumentation.callApplicationOnCreate(Instrumentation.java:1193)",
	}
	appAndroidIDStack = []string{
		"android.provider.Settings$Secure.getString(Native Method)",
		"com.shop.app.util.DeviceUtil.androidId(DeviceUtil.java:31)",
		"com.shop.app.MainActivity.onCreate(MainActivity.java:44)",
		"android.app.Activity.performCreate(Activity.java:8000)",
	}
	appIMEIStack = []string{
		"android.telephony.TelephonyManager.getDeviceId(Native Method)",
		"com.shop.app.push.PushService.register(PushService.java:12)",
		"java.lang.Thread.run(Thread.java:923)",
	}
)

// call is one call of the scenario.
type call struct {
	before   bool // before consent
	api      string
	label    string // the tool's label
	toolSays string // the tool's party label
	funName  string // PrivacySentry 函数名
	args     []string
	ret      string
	stack    []string
	fg       bool
}

var scenario = []call{
	{before: true, api: "telephony.getDeviceId", label: "获取IMEI", toolSays: "极光推送", funName: "getDeviceId", ret: "861234567890123", stack: sdkIMEIStack, fg: true},
	{before: true, api: "settings.androidId", label: "获取安卓ID", toolSays: "APP本身", funName: "getString", args: []string{"android_id"}, ret: "c48bd78e783ce8eb", stack: appAndroidIDStack, fg: true},
	{before: false, api: "telephony.getDeviceId", label: "获取IMEI", toolSays: "友盟", funName: "getDeviceId", ret: "861234567890123", stack: sdkIMEIStack, fg: true},
	{before: false, api: "settings.androidId", label: "获取安卓ID", toolSays: "APP本身", funName: "getString", args: []string{"android_id"}, ret: "c48bd78e783ce8eb", stack: appAndroidIDStack, fg: true},
	{before: false, api: "telephony.getDeviceId", label: "获取IMEI", toolSays: "APP本身", funName: "getDeviceId", ret: "861234567890123", stack: appIMEIStack, fg: false},
}

// pilmonJSONL writes the scenario as pilmon's JSON Lines: calls 1 s apart from t0, the consent tap
// 500 ms after the second call, the app going to the background before the last call.
func pilmonJSONL(withConsent bool) []byte {
	var b bytes.Buffer
	line := func(v map[string]any) {
		v["v"] = 1
		out, _ := json.Marshal(v)
		b.Write(out)
		b.WriteByte('\n')
	}
	t0 := int64(1_714_557_600_000) // 2024-05-01T10:00:00Z
	line(map[string]any{"type": "session", "t": t0, "package": appPkg, "device": "Pixel 6", "script": "pilmon-hooks 1 ab12", "consent_words": []string{"同意"}})
	line(map[string]any{"type": "lifecycle", "t": t0, "state": "foreground", "activity": appPkg + ".MainActivity"})
	consented := false
	for i, c := range scenario {
		t := t0 + int64(i+1)*1000
		if !c.before && !consented && withConsent {
			line(map[string]any{"type": "consent", "t": t - 500, "text": "同意并继续", "view": "android.widget.Button"})
			consented = true
		}
		if !c.fg {
			line(map[string]any{"type": "lifecycle", "t": t - 100, "state": "background", "activity": appPkg + ".MainActivity"})
		}
		args := c.args
		if args == nil {
			args = []string{}
		}
		line(map[string]any{"type": "call", "t": t, "api": c.api, "args": args, "ret": c.ret, "ret_redacted": false,
			"thread": "main", "stack": c.stack})
	}
	return b.Bytes()
}

// monitorLog writes the scenario as AndroidPrivacyMonitor prints it (with its ANSI colours).
func monitorLog() []byte {
	var b strings.Builder
	b.WriteString("\x1b[32m✅ Android ID监控 - Hook设置成功\x1b[0m\n")
	for i, c := range scenario {
		api := "android.telephony.TelephonyManager.getDeviceId"
		if c.api == "settings.androidId" {
			api = "android.provider.Settings$Secure.getString"
		}
		fmt.Fprintf(&b, "\x1b[1m\x1b[33m\n🚨 [%d] [10:00:%03d.%03d] %s监控 (重载0)\x1b[0m\n", i+1, i+1, 100+i, c.label)
		b.WriteString("\x1b[1m\x1b[31m⏰ 调用时机: 📱 正常调用 (Application.onCreate()后)\x1b[0m\n")
		fmt.Fprintf(&b, "\x1b[36m📋 API: %s\x1b[0m\n", api)
		fmt.Fprintf(&b, "\x1b[34m📝 详情: %s\x1b[0m\n", c.label)
		if len(c.args) > 0 {
			b.WriteString("📥 传入参数: [\n   [0] android.app.ContextImpl$ApplicationContentResolver@9fd5e7\n")
			for j, a := range c.args {
				fmt.Fprintf(&b, "   [%d] %s\n", j+1, a)
			}
			b.WriteString("]\n")
		}
		fmt.Fprintf(&b, "📤 返回值: %s\n📍 调用堆栈:\n===== STACK_START =====\n   java.lang.Exception\n", c.ret)
		for _, f := range c.stack {
			fmt.Fprintf(&b, "   at %s\n", f)
		}
		b.WriteString("===== STACK_END =====\n------------------------------------------------------------\n")
	}
	return []byte(b.String())
}

// camilleRows is the scenario as camille's sheet: the header, then per call its status, the
// device time with camille's 0-based month (May is written 4), the tool's party label, action,
// description, arguments and stack ('   '+frame+'\r\n').
func camilleRows(withBefore bool) [][]string {
	rows := [][]string{camilleHeader}
	for i, c := range scenario {
		status := "同意隐私政策后"
		if c.before && withBefore {
			status = "同意隐私政策前"
		}
		args := "无参数"
		if len(c.args) > 0 {
			var a strings.Builder
			a.WriteString("参数0：{}\r\n")
			for j, v := range c.args {
				q, _ := json.Marshal(v)
				fmt.Fprintf(&a, "参数%d：%s\r\n", j+1, q)
			}
			args = strings.TrimSuffix(a.String(), "\n")
		}
		var st strings.Builder
		for _, f := range c.stack {
			st.WriteString("   " + f + "\r\n")
		}
		rows = append(rows, []string{status, fmt.Sprintf("2024-4-1 10:0:%d", i+1), c.toolSays, "获取设备信息", c.label, args, st.String()})
	}
	return rows
}

// sentryRows is the scenario as PrivacySentry's 隐私合规 sheet, oldest first as its writer appends
// (or newest first), with the consent pseudo-row; frames as PrivacyUtil.getStackTrace writes them
// ("class.method() line" joined by " <- " and a line break), after PrivacySentry's own frames.
func sentryRows(newestFirst, withConsent bool) [][]string {
	var body [][]string
	ms := 0
	stamp := func() string {
		ms += 700
		return fmt.Sprintf("05-01 10:00:%02d.%03d", ms/1000, ms%1000)
	}
	consented := false
	for _, c := range scenario {
		if !c.before && !consented && withConsent {
			body = append(body, []string{stamp(), sentryConsent, sentryConsent, sentryConsent})
			consented = true
		}
		frames := []string{"com.yl.lib.sentry.hook.util.PrivacyUtil$Util.getStackTrace() 22"}
		for _, f := range c.stack[1:] { // the proxy replaces the call: the API is no frame
			cls, m, _ := frameMember(f)
			frames = append(frames, cls+"."+m+"() 10")
		}
		body = append(body, []string{stamp(), c.label, c.funName, strings.Join(frames, " <- \n")})
	}
	if newestFirst {
		for i, j := 0, len(body)-1; i < j; i, j = i+1, j-1 {
			body[i], body[j] = body[j], body[i]
		}
	}
	return append([][]string{sentryHeader}, body...)
}

// appscanRows is the scenario as AppScan's 关注列表.
func appscanRows() [][]string {
	rows := [][]string{appscanHeader}
	for i, c := range scenario {
		rows = append(rows, []string{fmt.Sprint(i + 1), c.toolSays, c.label, strings.Join(c.stack, "\n")})
	}
	return rows
}

var riskRows = [][]string{riskHeader,
	{"1", "SDK在用户同意隐私政策前收集个人信息", "同意前不得收集", "高风险", "延迟初始化SDK"},
}

// writeXLSX writes sheets (in order) to an .xlsx with excelize.
func writeXLSX(t testing.TB, path string, names []string, sheets map[string][][]string) {
	t.Helper()
	f := excelize.NewFile()
	defer f.Close()
	for i, n := range names {
		if i == 0 {
			if err := f.SetSheetName("Sheet1", n); err != nil {
				t.Fatal(err)
			}
		} else if _, err := f.NewSheet(n); err != nil {
			t.Fatal(err)
		}
		for r, row := range sheets[n] {
			for c, v := range row {
				cellName, _ := excelize.CoordinatesToCellName(c+1, r+1)
				if err := f.SetCellStr(n, cellName, v); err != nil {
					t.Fatal(err)
				}
			}
		}
	}
	if err := f.SaveAs(path); err != nil {
		t.Fatal(err)
	}
}

// xlwtScript writes sheets as a BIFF8 .xls with python3-xlwt, the writer camille uses
// (utlis/__init__.py write_xlsx: bold header); PrivacySentry writes with jxl, whose layout is the
// same sheets and cells.
const xlwtScript = `
import json, sys, xlwt
spec = json.load(open(sys.argv[1], encoding="utf-8"))
wb = xlwt.Workbook(encoding="utf-8")
bold = xlwt.easyxf("font: bold on")
for name in spec["names"]:
    ws = wb.add_sheet(name)
    for r, row in enumerate(spec["sheets"][name]):
        for c, v in enumerate(row):
            ws.write(r, c, v, bold if r == 0 else xlwt.Style.default_style)
wb.save(sys.argv[2])
`

// writeXLS writes sheets as .xls with python3-xlwt, skipping the test when it is absent.
func writeXLS(t testing.TB, path string, names []string, sheets map[string][][]string) {
	t.Helper()
	if exec.Command("/usr/bin/python3", "-c", "import xlwt").Run() != nil {
		t.Skip("python3-xlwt not installed")
	}
	dir := t.TempDir()
	spec, _ := json.Marshal(map[string]any{"names": names, "sheets": sheets})
	specPath, script := filepath.Join(dir, "spec.json"), filepath.Join(dir, "w.py")
	if err := os.WriteFile(specPath, spec, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(script, []byte(xlwtScript), 0o644); err != nil {
		t.Fatal(err)
	}
	if out, err := exec.Command("/usr/bin/python3", script, specPath, path).CombinedOutput(); err != nil {
		t.Fatalf("xlwt: %v\n%s", err, out)
	}
}

// writeFile writes b to a file in a temporary folder.
func writeFile(t testing.TB, name string, b []byte) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// readFile reads a hook log file through Read.
func readFile(t testing.TB, path string, opts Options) (*Log, error) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	return Read(f, st.Size(), path, testCatalogue(t), opts)
}

// byRow indexes a log's calls by their scenario position (Seq-1 in file order).
func eventsByAPI(l *Log, api string) []Event {
	var out []Event
	for _, e := range l.Events {
		if e.API == api {
			out = append(out, e)
		}
	}
	return out
}

func errorsAs(err error, target **ReadError) bool { return errors.As(err, target) }

// memSink keeps stored evidence in memory, named by its SHA-256.
type memSink struct {
	mu    sync.Mutex
	metas map[string]evidence.Meta
}

func (s *memSink) Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return evidence.Ref{}, err
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.metas == nil {
		s.metas = map[string]evidence.Meta{}
	}
	s.metas[h] = meta
	return evidence.Ref{SHA256: h, Size: int64(len(data))}, nil
}

func readBytes(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}
