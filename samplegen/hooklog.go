package samplegen

import (
	"encoding/json"
	"strings"
	"time"
)

// HookLog is the runtime hook log of the same fictional session as HAR, in the JSON Lines
// pilmon's Frida script writes (hooks/script.js.tmpl): Umeng's code reads the IMEI at start-up,
// 1.2 s into the session and before the consent tap at 5 s, then sends it (HAR: 1.8 s); after
// consent the app's own code reads the Android ID; once in the background Umeng reads the
// location. The clean counterpart reads nothing before consent and nothing in the background.
// Generated, fictional data, like every demo input.
func HookLog(o Options) []byte {
	ms := func(d time.Duration) int64 { return captureStart.Add(d).UnixMilli() }
	umeng := []string{
		"android.telephony.TelephonyManager.getDeviceId(Native Method)",
		"com.umeng.commonsdk.statistics.common.DeviceConfig.getImeiNew(DeviceConfig.java:212)",
		"com.umeng.commonsdk.UMConfigure.init(UMConfigure.java:88)",
		Package + ".ShopApplication.onCreate(ShopApplication.java:31)",
	}
	own := []string{
		"android.provider.Settings$Secure.getString(Settings.java:5512)",
		Package + ".account.DeviceBinder.bind(DeviceBinder.java:44)",
		Package + ".MainActivity.onResume(MainActivity.java:70)",
	}
	loc := []string{
		"android.location.LocationManager.getLastKnownLocation(LocationManager.java:1)",
		"com.umeng.commonsdk.internal.utils.LocationUtil.get(LocationUtil.java:57)",
	}
	lines := []map[string]any{
		{"v": 1, "type": "session", "t": ms(0), "package": Package, "device": "Generated Phone (示例/generated)",
			"script": "pilmon-hooks 1 (samplegen)", "consent_words": []string{"同意", "同意并继续"}, "refusal_words": []string{"不同意"}},
		{"v": 1, "type": "lifecycle", "t": ms(900 * time.Millisecond), "state": "foreground", "activity": Package + ".SplashActivity"},
	}
	if !o.Clean {
		lines = append(lines, map[string]any{"v": 1, "type": "call", "t": ms(1200 * time.Millisecond), "api": "telephony.getDeviceId",
			"args": []string{}, "ret": DeviceIMEI, "thread": "main", "stack": umeng, "fg": true})
	}
	lines = append(lines,
		map[string]any{"v": 1, "type": "consent", "t": ms(5 * time.Second), "text": "同意并继续", "view": "android.widget.Button"},
		map[string]any{"v": 1, "type": "call", "t": ms(6 * time.Second), "api": "settings.androidId",
			"args": []string{"android.content.ContentResolver", "android_id"}, "ret": "9774d56d682e549c", "thread": "main", "stack": own, "fg": true},
		map[string]any{"v": 1, "type": "lifecycle", "t": ms(20 * time.Second), "state": "background", "activity": Package + ".MainActivity"},
	)
	if !o.Clean {
		lines = append(lines, map[string]any{"v": 1, "type": "call", "t": ms(25 * time.Second), "api": "location.lastKnown",
			"args": []string{"gps"}, "ret": "Location[gps 31.230400,121.473700 acc=12]", "thread": "pool-3-thread-1", "stack": loc, "fg": false})
	}
	var b strings.Builder
	for _, l := range lines {
		j, _ := json.Marshal(l)
		b.Write(j)
		b.WriteByte('\n')
	}
	return []byte(b.String())
}
