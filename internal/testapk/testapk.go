// Package testapk builds small real APKs for the tests of remote package sources: versions of
// one app that differ in version and permissions, signed by one of two throwaway keys, built
// once per process with Debian's tools (samplegen/apkbuild).
package testapk

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"

	"pilmon/samplegen/apkbuild"
)

// Package is the manifest package of every APK built here.
const Package = "com.example.fetched"

// Set holds three packages: V1 and V2 differ in version and permission (READ_CONTACTS, then
// CAMERA) and share signer A; V2B is V2's content signed by B.
type Set struct {
	V1, V2, V2B []byte
}

var (
	once sync.Once
	set  Set
	err  error
)

// Available reports why the APKs cannot be built here (a test skips), or nil.
func Available() error { return apkbuild.Available() }

// Build returns the set, building it on first use.
func Build() (Set, error) {
	once.Do(func() { set, err = build() })
	return set, err
}

const manifestTmpl = `<?xml version="1.0" encoding="utf-8"?>
<manifest xmlns:android="http://schemas.android.com/apk/res/android"
    package="` + Package + `" android:versionCode="%CODE%" android:versionName="%NAME%">
    <uses-sdk android:minSdkVersion="21" android:targetSdkVersion="30"/>
    <uses-permission android:name="%PERM%"/>
    <application android:label="@string/app_name">
        <activity android:name=".Main"/>
    </application>
</manifest>`

const mainSmali = `.class public Lcom/example/fetched/Main;
.super Landroid/app/Activity;
.method public constructor <init>()V
    .registers 1
    invoke-direct {p0}, Landroid/app/Activity;-><init>()V
    return-void
.end method
`

func build() (Set, error) {
	if err := apkbuild.Available(); err != nil {
		return Set{}, err
	}
	dir, err := os.MkdirTemp("", "testapk-")
	if err != nil {
		return Set{}, err
	}
	defer os.RemoveAll(dir)
	sub := func(n string) (string, error) {
		d := filepath.Join(dir, n)
		return d, os.MkdirAll(d, 0o755)
	}
	key := func(n, subject string) (*apkbuild.Key, error) {
		d, err := sub(n)
		if err != nil {
			return nil, err
		}
		return apkbuild.NewKey(d, subject)
	}
	a, err := key("keyA", "/C=CN/O=Operator A (test)/CN=a")
	if err != nil {
		return Set{}, err
	}
	b, err := key("keyB", "/C=CN/O=Someone else (test)/CN=b")
	if err != nil {
		return Set{}, err
	}
	one := func(name, code, vname, perm string, k *apkbuild.Key) ([]byte, error) {
		d, err := sub(name)
		if err != nil {
			return nil, err
		}
		m := strings.NewReplacer("%CODE%", code, "%NAME%", vname, "%PERM%", perm).Replace(manifestTmpl)
		p, err := apkbuild.Build(d, apkbuild.Spec{Manifest: m,
			Res:   map[string]string{"values/strings.xml": `<?xml version="1.0" encoding="utf-8"?><resources><string name="app_name">取包示例</string></resources>`},
			Smali: map[string]string{"Main.smali": mainSmali}, Sign: k})
		if err != nil {
			return nil, fmt.Errorf("testapk %s: %w", name, err)
		}
		return os.ReadFile(p)
	}
	var s Set
	if s.V1, err = one("v1", "1", "1.0", "android.permission.READ_CONTACTS", a); err != nil {
		return s, err
	}
	if s.V2, err = one("v2", "2", "2.0", "android.permission.CAMERA", a); err != nil {
		return s, err
	}
	s.V2B, err = one("v2b", "2", "2.0", "android.permission.CAMERA", b)
	return s, err
}
