package samplegen

import (
	"archive/zip"
	"bytes"
	_ "embed"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"pilmon/samplegen/apkbuild"
)

// The signing key of generated APKs: a throwaway key made for pilmon's fictional samples
// (subject O=示例科技有限公司（虚构）), committed so that generated APKs are byte-identical.
var (
	//go:embed sample-signing-key.pem
	signingKeyPEM []byte
	//go:embed sample-signing-cert.pem
	signingCertPEM []byte
)

// APKManifest returns the AndroidManifest.xml source of the target's APK.
func APKManifest(o Options) string {
	if o.Clean {
		return `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="` + Package + `" android:versionCode="3" android:versionName="1.0.3">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="28"/>
    <uses-permission android:name="android.permission.INTERNET"/>
    <application android:label="@string/app_name" android:allowBackup="false" android:usesCleartextTraffic="false">
        <activity android:name=".MainActivity" android:exported="true">
            <intent-filter>
                <action android:name="android.intent.action.MAIN"/>
                <category android:name="android.intent.category.LAUNCHER"/>
            </intent-filter>
        </activity>
    </application>
</manifest>
`
	}
	return `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="` + Package + `" android:versionCode="3" android:versionName="1.0.3">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="28"/>
    <uses-permission android:name="android.permission.INTERNET"/>
    <uses-permission android:name="android.permission.READ_PHONE_STATE"/>
    <uses-permission android:name="android.permission.READ_CONTACTS"/>
    <application android:label="@string/app_name" android:usesCleartextTraffic="false">
        <meta-data android:name="UMENG_APPKEY" android:value="5f0000000000000000000000"/>
        <meta-data android:name="JPUSH_APPKEY" android:value="0000000000000000000000ab"/>
        <activity android:name=".MainActivity" android:exported="true">
            <intent-filter>
                <action android:name="android.intent.action.MAIN"/>
                <category android:name="android.intent.category.LAUNCHER"/>
            </intent-filter>
        </activity>
        <receiver android:name="cn.jpush.android.service.PushReceiver" android:exported="true">
            <intent-filter>
                <action android:name="android.intent.action.BOOT_COMPLETED"/>
                <action android:name="android.intent.action.USER_PRESENT"/>
            </intent-filter>
        </receiver>
    </application>
</manifest>
`
}

const mainActivityHead = `.class public Lcn/example/shilishop/MainActivity;
.super Landroid/app/Activity;
.source "MainActivity.java"

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/app/Activity;-><init>()V
    return-void
.end method

.method protected onCreate(Landroid/os/Bundle;)V
    .registers 4
    invoke-super {p0, p1}, Landroid/app/Activity;->onCreate(Landroid/os/Bundle;)V
    const-string v0, "https://www.shilishop.example.cn/privacy.html"
`

// APKSmali returns the smali sources of the target's APK.
func APKSmali(o Options) map[string]string {
	if o.Clean {
		return map[string]string{"MainActivity.smali": mainActivityHead + "    return-void\n.end method\n"}
	}
	return map[string]string{
		// the app's own code reads the list of installed apps
		"MainActivity.smali": mainActivityHead + `    invoke-virtual {p0}, Lcn/example/shilishop/MainActivity;->getPackageManager()Landroid/content/pm/PackageManager;
    move-result-object v0
    const/4 v1, 0x0
    invoke-virtual {v0, v1}, Landroid/content/pm/PackageManager;->getInstalledPackages(I)Ljava/util/List;
    return-void
.end method
`,
		// Umeng-like analytics: reads the IMEI and knows its collection host
		"ImeiTracker.smali": `.class public Lcom/umeng/commonsdk/statistics/idtracking/ImeiTracker;
.super Ljava/lang/Object;

.method public static imei(Landroid/content/Context;)Ljava/lang/String;
    .registers 3
    const-string v0, "phone"
    invoke-virtual {p0, v0}, Landroid/content/Context;->getSystemService(Ljava/lang/String;)Ljava/lang/Object;
    move-result-object v0
    check-cast v0, Landroid/telephony/TelephonyManager;
    invoke-virtual {v0}, Landroid/telephony/TelephonyManager;->getDeviceId()Ljava/lang/String;
    move-result-object v1
    const-string v0, "https://ulogs.umeng.com/unify_logs"
    return-object v1
.end method
`,
		// JPush-like push: its receiver and interface class
		"PushReceiver.smali": `.class public Lcn/jpush/android/service/PushReceiver;
.super Landroid/content/BroadcastReceiver;

.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/content/BroadcastReceiver;-><init>()V
    return-void
.end method

.method public onReceive(Landroid/content/Context;Landroid/content/Intent;)V
    .registers 3
    return-void
.end method
`,
		"JPushInterface.smali": `.class public Lcn/jpush/android/api/JPushInterface;
.super Ljava/lang/Object;

.method public static init(Landroid/content/Context;)V
    .registers 2
    const-string v0, "https://tsis.jpush.cn/v1/report"
    return-void
.end method
`,
	}
}

// BuildAPK builds the target's APK under dir/apk and returns its path. The archive is rewritten
// with fixed timestamps and signed with the committed sample key, so the bytes are the same on
// every run. It returns an error naming the missing Debian package when a tool is absent.
func BuildAPK(dir string, o Options) (string, error) {
	if err := apkbuild.Available(); err != nil {
		return "", fmt.Errorf("samplegen: APK not built: %w", err)
	}
	work := filepath.Join(dir, "apk")
	if err := os.MkdirAll(work, 0o755); err != nil {
		return "", err
	}
	keyPath, certPath := filepath.Join(work, "sample-key.pem"), filepath.Join(work, "sample-cert.pem")
	if err := os.WriteFile(keyPath, signingKeyPEM, 0o600); err != nil {
		return "", err
	}
	if err := os.WriteFile(certPath, signingCertPEM, 0o644); err != nil {
		return "", err
	}
	key, err := apkbuild.KeyFromPEM(work, keyPath, certPath)
	if err != nil {
		return "", err
	}
	unsigned, err := apkbuild.Build(work, apkbuild.Spec{
		Manifest: APKManifest(o),
		Res:      map[string]string{"values/strings.xml": `<?xml version="1.0" encoding="utf-8"?><resources><string name="app_name">` + AppName + `</string></resources>`},
		Smali:    APKSmali(o),
		Files:    map[string][]byte{"assets/README-示例.txt": []byte("pilmon 生成的示例 APK（示例/generated），运营者为" + Operator + "\n")},
	})
	if err != nil {
		return "", err
	}
	fixed := filepath.Join(work, "fixed.apk")
	if err := fixTimes(unsigned, fixed); err != nil {
		return "", err
	}
	name := "violating"
	if o.Clean {
		name = "clean"
	}
	out := filepath.Join(dir, Package+"-"+name+".apk")
	aligned := filepath.Join(work, "aligned.apk")
	if err := run(work, "zipalign", "-f", "4", fixed, aligned); err != nil {
		return "", err
	}
	if err := run(work, "apksigner", "sign", "--key", key.PK8, "--cert", key.CertPEM, "--out", out,
		"--v1-signing-enabled", "true", "--v2-signing-enabled", "true", "--v3-signing-enabled", "false", aligned); err != nil {
		return "", err
	}
	return out, nil
}

func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("samplegen: %s: %v\n%s", name, err, out)
	}
	return nil
}

// zipEpoch is the timestamp of every generated archive entry.
var zipEpoch = time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)

// fixTimes rewrites a zip with every entry's time set to zipEpoch, keeping order and compression.
func fixTimes(in, out string) error {
	zr, err := zip.OpenReader(in)
	if err != nil {
		return err
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		h := f.FileHeader
		h.Modified = zipEpoch
		h.ModifiedTime, h.ModifiedDate = 0, 0
		h.Extra = nil
		w, err := zw.CreateHeader(&h)
		if err != nil {
			return err
		}
		rc, err := f.Open()
		if err != nil {
			return err
		}
		_, err = io.Copy(w, rc)
		rc.Close()
		if err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
