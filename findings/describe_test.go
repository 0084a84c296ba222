package findings

import (
	"testing"

	"pilmon/rules"
)

// TestDescribe: each subject form of the observation kinds reads in words from the catalogue's
// names, naming the party whose code it is; what the grammar does not cover stays as it is.
func TestDescribe(t *testing.T) {
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct{ subject, zh, en string }{
		{"pi:device_id_hw->ulogs.umeng.com", "不可重置设备标识（IMEI、MEID、设备序列号） 发送至 ulogs.umeng.com（友盟+ 统计分析 (U-App)）",
			"non-resettable hardware identifiers (IMEI, MEID, serial) sent to ulogs.umeng.com (Umeng+ U-App Analytics)"},
		{"pi:contacts@app", "通讯录（应用自身代码）", "contacts / address book (the app's own code)"},
		{"pi:device_id_hw@sdk:umeng_analytics", "不可重置设备标识（IMEI、MEID、设备序列号）（友盟+ 统计分析 (U-App) SDK）",
			"non-resettable hardware identifiers (IMEI, MEID, serial) (Umeng+ U-App Analytics SDK)"},
		{"sdk:umeng_analytics", "第三方SDK 友盟+ 统计分析 (U-App)", "third-party SDK Umeng+ U-App Analytics"},
		{"host:example.org", "连接 example.org", "connects to example.org"},
		{"policy:none", "未找到隐私政策", "no privacy policy found"},
		{"subject-01", "subject-01", "subject-01"},
		{"pi:", "pi:", "pi:"},
		{"weird:thing", "weird:thing", "weird:thing"},
	} {
		got := Describe(cat, c.subject)
		if got.ZH != c.zh || got.EN != c.en {
			t.Errorf("Describe(%q) =\n %q\n %q\nwant\n %q\n %q", c.subject, got.ZH, got.EN, c.zh, c.en)
		}
	}
	perm := Describe(cat, "perm:android.permission.READ_CONTACTS")
	if perm.ZH == "perm:android.permission.READ_CONTACTS" || perm.ZH[:len("权限 ")] != "权限 " {
		t.Errorf("permission subject not described: %q", perm.ZH)
	}
	api := Describe(cat, "api:telephony.getDeviceId@sdk:umeng_analytics")
	if api.ZH == "" || api.ZH == "api:telephony.getDeviceId@sdk:umeng_analytics" {
		t.Errorf("api subject not described: %q", api.ZH)
	}
	v := cat.Violations()[0]
	if m := Describe(cat, ManualSubjectPrefix+v.ID); m.ZH != "人工检测："+v.Title.ZH {
		t.Errorf("manual subject: %q", m.ZH)
	}
}

// FuzzDescribe: no subject makes Describe panic or return an empty text.
func FuzzDescribe(f *testing.F) {
	cat, err := rules.Default()
	if err != nil {
		f.Fatal(err)
	}
	for _, s := range []string{"pi:device_id_hw->ulogs.umeng.com", "pi:a+b@sdk:", "runtime:@", "api:@library:", "checklist:", "perm:", ":", "pi:->"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		d := Describe(cat, s)
		if s != "" && (d.ZH == "" || d.EN == "") {
			t.Fatalf("Describe(%q) = %+v", s, d)
		}
	})
}
