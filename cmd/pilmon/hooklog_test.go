package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"testing"

	"github.com/xuri/excelize/v2"
)

// TestScanHookLog: `pilmon scan --json FILE` recognises a hook log by content (pilmon JSON Lines,
// and a camille-layout .xlsx named .dat) and reports runtime.api_call observations with the party
// re-derived from the stack.
func TestScanHookLog(t *testing.T) {
	dir := t.TempDir()
	jsonl := filepath.Join(dir, "session.log")
	if err := os.WriteFile(jsonl, []byte(`{"v":1,"type":"session","t":1714557600000,"package":"com.shop.app"}
{"v":1,"type":"call","t":1714557601000,"api":"telephony.getDeviceId","stack":["android.telephony.TelephonyManager.getDeviceId(Native Method)","com.umeng.commonsdk.statistics.common.DeviceConfig.getImei(DeviceConfig.java:120)"],"fg":true}
{"v":1,"type":"consent","t":1714557602000,"text":"同意"}
`), 0o644); err != nil {
		t.Fatal(err)
	}
	f := excelize.NewFile()
	if err := f.SetSheetName("Sheet1", "App_privacy_compliance_testing"); err != nil {
		t.Fatal(err)
	}
	rows := [][]any{{"隐私政策状态", "时间点", "行为主体", "操作行为", "行为描述", "传入参数", "调用堆栈"},
		{"同意隐私政策前", "2024-4-1 10:0:1", "APP本身", "获取设备信息", "获取IMEI", "无参数",
			"   android.telephony.TelephonyManager.getDeviceId(Native Method)\r\n   com.umeng.commonsdk.statistics.common.DeviceConfig.getImei(DeviceConfig.java:120)\r\n"}}
	for i, r := range rows {
		cell, _ := excelize.CoordinatesToCellName(1, i+1)
		if err := f.SetSheetRow("App_privacy_compliance_testing", cell, &r); err != nil {
			t.Fatal(err)
		}
	}
	xlsx := filepath.Join(dir, "camille.xlsx")
	if err := f.SaveAs(xlsx); err != nil {
		t.Fatal(err)
	}
	f.Close()
	renamed := filepath.Join(dir, "camille.dat")
	if err := os.Rename(xlsx, renamed); err != nil {
		t.Fatal(err)
	}
	for path, wantPhase := range map[string]string{jsonl: "before_consent", renamed: "before_consent"} {
		code, out, errs := runCLI(t, "scan", "--data-dir", t.TempDir(), "--json", path)
		if code != exitOK {
			t.Fatalf("%s: exit %d: %s", path, code, errs)
		}
		var res struct {
			Observations []struct {
				Kind       string
				Attributes map[string]any
			}
		}
		if err := json.Unmarshal([]byte(out), &res); err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		found := false
		for _, o := range res.Observations {
			if o.Kind == "runtime.api_call" {
				found = true
				a := o.Attributes
				if a["api"] != "telephony.getDeviceId" || a["party"] != "sdk:umeng_analytics" || a["phase"] != wantPhase {
					t.Errorf("%s: %v", path, a)
				}
			}
		}
		if !found {
			t.Errorf("%s: no runtime.api_call in %s", path, out)
		}
	}
}
