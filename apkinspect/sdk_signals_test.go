package apkinspect

import "testing"

// TestSDKSignals: every signal names a catalogue SDK, matches its own example, and common entries
// that belong to no SDK fire nothing.
func TestSDKSignals(t *testing.T) {
	sigs, err := loadSDKSignals()
	if err != nil {
		t.Fatal(err)
	}
	if len(sigs) == 0 {
		t.Fatal("no signals loaded")
	}
	cat := catalogue(t)
	kinds := map[string]int{}
	for _, s := range sigs {
		kinds[s.Kind]++
		if _, ok := cat.SDK(s.SDK); !ok {
			t.Errorf("signal %s %q: sdk %q is not in rules.Default()", s.Kind, s.Glob, s.SDK)
		}
		found := false
		for _, m := range matchSignals(sigs, s.Example) {
			if m.SDK == s.SDK && m.Glob == s.Glob {
				found = true
			}
		}
		if !found {
			t.Errorf("signal %s %q does not match its example %q", s.Kind, s.Glob, s.Example)
		}
	}
	if kinds["lib"] == 0 || kinds["asset"] == 0 {
		t.Errorf("signal kinds %v: want both lib and asset", kinds)
	}
	for _, neg := range []string{
		"lib/arm64-v8a/libc++_shared.so", "lib/armeabi-v7a/libnative-lib.so", "lib/x86/libflutter.so",
		"assets/config.json", "assets/fonts/Roboto.ttf", "assets/gdt.json", "res/raw/supplierconfig.json",
		"libjpush219.so", "assets/sub/supplierconfig.json", "lib/arm64-v8a/libjpush.txt",
	} {
		if m := matchSignals(sigs, neg); len(m) != 0 {
			t.Errorf("%s fires %+v", neg, m)
		}
	}
}
