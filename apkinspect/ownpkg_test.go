package apkinspect

import (
	"fmt"
	"strings"
	"testing"
)

const ownPkgManifest = `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="cn.jiguang.demo" android:versionCode="1" android:versionName="1.0">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="30"/>
    <application android:label="@string/app_name">
        <activity android:name=".MainActivity"/>
    </application>
</manifest>
`

func plainClass(desc string) string {
	return fmt.Sprintf(".class public %s\n.super Ljava/lang/Object;\n", desc)
}

// TestSDKPrefixLeavesAppPackage: the app cn.jiguang.demo lies under JPush's prefix cn.jiguang;
// its own classes are not JPush's, JPush classes outside the app package still are.
func TestSDKPrefixLeavesAppPackage(t *testing.T) {
	devID := `.class public Lcn/jiguang/demo/util/DeviceUtil;
.super Ljava/lang/Object;

.method public static id(Landroid/telephony/TelephonyManager;)Ljava/lang/String;
    .registers 2
    invoke-virtual {p0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v0
    return-object v0
.end method
`
	own := map[string]string{
		"MainActivity.smali": plainClass("Lcn/jiguang/demo/MainActivity;"),
		"Helper.smali":       plainClass("Lcn/jiguang/demo/a/Helper;"),
		"DeviceUtil.smali":   devID,
	}
	// Negative: only the app's own classes, so no JPush.
	rep, _ := inspect(t, buildSpec(t, fixture{Manifest: ownPkgManifest, Smali: own}))
	if o := find(rep, "apk.sdk", "jpush"); o != nil {
		t.Errorf("the app's own classes are claimed by JPush: %v", o.Attributes)
	}
	if o := find(rep, "apk.sensitive_api", "telephony.getDeviceId @ cn.jiguang.demo.util.DeviceUtil"); o == nil {
		t.Error("getDeviceId call of the app not reported")
	} else if o.Attributes["sdk"] != "" || o.Attributes["party"] != "app" {
		t.Errorf("the app's own call is attributed to sdk %v, party %v", o.Attributes["sdk"], o.Attributes["party"])
	}

	// Positive: JPush classes outside the app package still count, and only they.
	with := map[string]string{"Core.smali": plainClass("Lcn/jiguang/internal/Core;"), "Push.smali": plainClass("Lcn/jpush/android/api/JPushInterface;"),
		"SdkID.smali": strings.ReplaceAll(devID, "cn/jiguang/demo/util/DeviceUtil", "cn/jiguang/internal/DeviceInfo")}
	for k, v := range own {
		with[k] = v
	}
	rep, _ = inspect(t, buildSpec(t, fixture{Manifest: ownPkgManifest, Smali: with}))
	o := find(rep, "apk.sdk", "jpush")
	if o == nil {
		t.Fatal("JPush classes outside the app package not recognised")
	}
	if n, _ := o.Attributes["classes"].(int); n != 3 {
		t.Errorf("JPush claims %v classes, want 3 (cn.jiguang.internal.Core and DeviceInfo, cn.jpush.android.api.JPushInterface)", o.Attributes["classes"])
	}
	// The same call is the app's in the app package and JPush's outside it.
	for subject, party := range map[string]string{
		"telephony.getDeviceId @ cn.jiguang.demo.util.DeviceUtil": "app",
		"telephony.getDeviceId @ cn.jiguang.internal.DeviceInfo":  "sdk:jpush",
	} {
		if o := find(rep, "apk.sensitive_api", subject); o == nil || o.Attributes["party"] != party {
			t.Errorf("%s: %v, want party %s", subject, o, party)
		}
	}
}
