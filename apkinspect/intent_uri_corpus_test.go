package apkinspect

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/internal/corpus"
)

// TestCorpusIntentOnlyURI: on the shared corpus, umeng_demo_yichou's MainActivity.b() hands
// MediaStore.Images.Media.EXTERNAL_CONTENT_URI to an ACTION_PICK Intent and nothing else (as
// dexdump disassembles it), and yields no provider.media record, while the APK's ContentResolver
// queries stay reported; in every corpus APK, a method that reads a catalogued provider URI and
// calls the ContentResolver keeps its record.
func TestCorpusIntentOnlyURI(t *testing.T) {
	dir := corpus.Path(t, "corpus", "apks")
	if _, err := exec.LookPath("dexdump"); err != nil {
		t.Skip("dexdump is not installed")
	}
	cat := catalogue(t)
	// The provider URI fields the catalogue maps to PI, as dexdump writes them.
	fields := map[string]string{}
	for _, a := range cat.SensitiveAPIs() {
		if a.Kind != "provider" || len(a.PI) == 0 {
			continue
		}
		for _, d := range a.Descriptors {
			if cls, rest, ok := strings.Cut(d, "->"); ok && strings.Contains(rest, ":") {
				fields[cls+"."+rest] = a.ID
			}
		}
	}
	apks, _ := filepath.Glob(filepath.Join(dir, "*.apk"))
	checked, dropped := 0, 0
	for _, p := range apks {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		app := analyze(context.Background(), cat, apiClassSet(cat), Options{}.withDefaults(), f, st.Size(), filepath.Base(p))
		f.Close()
		dropped += app.IntentURISites
		has := func(api, class string) bool {
			for _, r := range app.APIs {
				if (api == "" && r.API.Kind == "provider" || r.API.ID == api) && r.CallerClass == class {
					return true
				}
			}
			return false
		}
		methods := dexdumpMethods(t, p)
		for key, body := range methods {
			class, _, _ := strings.Cut(key, " ")
			for field, api := range fields {
				if strings.Contains(body, "sget-object") && strings.Contains(body, field) &&
					strings.Contains(body, "Landroid/content/ContentResolver;.") {
					checked++
					if !has(api, class) {
						t.Errorf("%s: %s reads %s and calls the ContentResolver, but %s is not reported", filepath.Base(p), key, field, api)
					}
				}
			}
		}
		if filepath.Base(p) != "umeng_demo_yichou.apk" {
			continue
		}
		const main = "com.example.umengdemo.MainActivity"
		b := methods[main+" b"]
		for _, want := range []string{
			"sget-object v2, Landroid/provider/MediaStore$Images$Media;.EXTERNAL_CONTENT_URI",
			"Landroid/content/Intent;.<init>:(Ljava/lang/String;Landroid/net/Uri;)V",
			"Landroid/content/Intent;.setDataAndType:(Landroid/net/Uri;Ljava/lang/String;)",
		} {
			if !strings.Contains(b, want) {
				t.Fatalf("dexdump of %s.b() lacks %q: the corpus APK is not the one this test knows", main, want)
			}
		}
		if strings.Contains(b, "ContentResolver") {
			t.Fatalf("%s.b() calls the ContentResolver", main)
		}
		if has("provider.media", main) {
			t.Errorf("provider.media reported for %s, whose only URI read becomes an ACTION_PICK Intent", main)
		}
		if app.IntentURISites != 2 {
			t.Errorf("umeng_demo_yichou: %d Intent-only URI reads, want the 2 sget-object of MainActivity.b()", app.IntentURISites)
		}
		queries := 0
		for key, body := range methods {
			// A query of a URI the method loads from a field or string no entry names (the
			// app's own MainActivity.a in getGFS_ID) is rightly no provider record.
			if strings.Contains(body, "Landroid/content/ContentResolver;.query:") && !ownURI(body, fields) {
				queries++
				if class, _, _ := strings.Cut(key, " "); !has("", class) {
					t.Errorf("umeng_demo_yichou: %s queries the ContentResolver but no provider record remains", key)
				}
			}
		}
		if queries == 0 {
			t.Error("umeng_demo_yichou: no ContentResolver.query in dexdump")
		}
	}
	t.Logf("%d provider reads beside a ContentResolver call checked, %d Intent-only URI reads not reported, on %d APKs", checked, dropped, len(apks))
}

// ownURI reports whether a dexdump method body loads a URI from a static field that is not one
// of the catalogued provider fields, or has a content:// string.
func ownURI(body string, fields map[string]string) bool {
	if strings.Contains(body, `"content://`) {
		return true
	}
	for _, line := range strings.Split(body, "\n") {
		if !strings.Contains(line, "sget-object") || !strings.Contains(line, ":Landroid/net/Uri;") {
			continue
		}
		known := false
		for f := range fields {
			known = known || strings.Contains(line, f)
		}
		if !known {
			return true
		}
	}
	return false
}
