package apkinspect

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pilmon/internal/corpus"
	"pilmon/scanner"
)

// TestCorpusPartiesAndStrength lists, per APK of the shared corpus, the SDKs (with strength and
// class count), the libraries and the parties of the sensitive-API calls, and checks the issue's
// examples: code of AndroidX, the support library, old Umeng (u.aly), Tinker and the BGA
// libraries is never the app's own; Instapaper's AdMob no longer rests on the advertising-ID
// client; every call has a party.
func TestCorpusPartiesAndStrength(t *testing.T) {
	dir := corpus.Path(t, "corpus", "apks")
	apks, _ := filepath.Glob(filepath.Join(dir, "*.apk"))
	cat := catalogue(t)
	in := New(cat, Options{})
	// Class prefixes that must never be the app's, and the party they must have instead ("" any
	// non-app party).
	notApp := map[string]string{
		"androidx.appcompat": "library:androidx_appcompat", "android.support.v7": "library:android_support_v7",
		"android.support.v4": "library:android_support_v4", "u.aly": "sdk:umeng_analytics", "com.tencent.tinker": "library:tinker",
		"cn.bingoogolapple": "library:photopicker_bga", "io.dcloud": "library:dcloud_runtime", "com.blankj": "library:blankj_utilcode",
		"com.google.android.gms": "", "com.google.common": "library:guava", "okhttp3": "library:okhttp",
	}
	seenPrefix := map[string]int{}
	for _, p := range apks {
		name := filepath.Base(p)
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		app := analyze(context.Background(), cat, in.apiClasses, in.opts, f, st.Size(), name)
		f.Close()
		if !app.Layers["zip"] {
			continue
		}
		obs := in.observe(app, "sha")
		var sdks, libs, calls []string
		for _, o := range obs {
			if o.Kind == "apk.sdk" {
				sdks = append(sdks, fmt.Sprintf("%s(%v,%d)", o.Subject, o.Attributes["strength"], o.Attributes["classes"]))
				if o.Attributes["strength"] == "weak" {
					t.Logf("%s: weak %s on %v", name, o.Subject, o.Attributes["signals"])
				}
			}
		}
		for id, n := range app.LibraryClasses {
			libs = append(libs, fmt.Sprintf("%s:%d", id, n))
		}
		sort.Strings(libs)
		parties := map[string]int{}
		for _, o := range obs {
			if o.Kind != "apk.sensitive_api" {
				continue
			}
			party, _ := o.Attributes["party"].(string)
			cls, _ := o.Attributes["caller_class"].(string)
			parties[party]++
			if party == "" {
				t.Errorf("%s: %s has no party", name, o.Subject)
			}
			for pre, want := range notApp {
				if cls != pre && !strings.HasPrefix(cls, pre+".") {
					continue
				}
				seenPrefix[pre]++
				if party == PartyApp || (want != "" && party != want) {
					t.Errorf("%s: %s: party %q, want %s", name, o.Subject, party, firstNonEmptyParty(want))
				}
			}
			if party == PartyApp {
				calls = append(calls, o.Subject)
			}
		}
		t.Logf("%s: app classes %d, unidentified %d; SDKs %v; libraries %v; calls by party %v", name, app.AppClasses, app.UnidentifiedClasses, sdks, libs, parties)
		sort.Strings(calls)
		for i, c := range calls {
			if i == 5 {
				t.Logf("    app: … %d more", len(calls)-5)
				break
			}
			t.Logf("    app: %s", c)
		}
		if name == "exodus_instapaper.apk" {
			checkInstapaperAdMob(t, obs)
		}
	}
	t.Logf("calls checked per never-the-app prefix: %v", seenPrefix)
	// The corpus holds calls of these (support library TwilightManager, old Umeng, Tinker, BGA):
	// a check that saw none of them checked nothing.
	for _, pre := range []string{"android.support.v7", "u.aly", "com.tencent.tinker", "cn.bingoogolapple"} {
		if seenPrefix[pre] == 0 && len(apks) > 0 {
			t.Errorf("no sensitive-API call under %s found in the corpus", pre)
		}
	}
}

func firstNonEmptyParty(p string) string {
	if p == "" {
		return "a party other than app"
	}
	return p
}

// checkInstapaperAdMob: Instapaper's AdMob detection rested on 5 classes of
// com.google.android.gms.ads.identifier; those are the Play services library's now.
func checkInstapaperAdMob(t *testing.T, obs []scanner.Observation) {
	t.Helper()
	for _, o := range obs {
		if o.Kind == "apk.sdk" && o.Subject == "google_admob" {
			if o.Attributes["strength"] != "weak" {
				t.Errorf("exodus_instapaper.apk: AdMob detected %v on %v", o.Attributes["strength"], o.Attributes["signals"])
			}
			for _, s := range o.Attributes["signals"].([]string) {
				if strings.Contains(s, "gms.ads.identifier") {
					t.Errorf("exodus_instapaper.apk: AdMob signal %s is the advertising-ID client", s)
				}
			}
		}
	}
}
