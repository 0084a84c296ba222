package dexgen

import (
	"strings"
	"testing"
)

// TestComponents: each component is named by the first generated class extending its framework
// class, as a manifest writes it; a program too small to have one is refused.
func TestComponents(t *testing.T) {
	o := Options{Package: "cn.example.c", Classes: 40, Depth: 4}
	comp, err := o.Components()
	if err != nil {
		t.Fatal(err)
	}
	for tag, root := range map[string]string{"application": "Landroid/app/Application;", "activity": "Landroid/app/Activity;",
		"service": "Landroid/app/Service;", "receiver": "Landroid/content/BroadcastReceiver;"} {
		d := o.ClassName(o.FirstExtending(root))
		if want := strings.ReplaceAll(strings.Trim(d, "L;"), "/", "."); comp[tag] != want {
			t.Errorf("%s: %q, want %q", tag, comp[tag], want)
		}
	}
	if _, err := (Options{Classes: 1, Depth: 4}).Components(); err == nil || !strings.Contains(err.Error(), "too few classes") {
		t.Errorf("one class: err %v", err)
	}
}
