package samplegen

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"

	"pilmon/miniprogram"
	"pilmon/policies"
	"pilmon/rules"
)

func TestOutputsAreDeterministicAndLabelled(t *testing.T) {
	for _, o := range []Options{Violating(), Clean()} {
		for name, gen := range map[string]func(Options) []byte{"policy": PolicyHTML, "har": HAR} {
			a, b := gen(o), gen(o)
			if !bytes.Equal(a, b) {
				t.Errorf("%s (clean %v) is not deterministic", name, o.Clean)
			}
			if !strings.Contains(string(a), "示例") || !strings.Contains(string(a), "generated") {
				t.Errorf("%s (clean %v) is not labelled as generated", name, o.Clean)
			}
		}
		p1, err := Wxapkg(o)
		if err != nil {
			t.Fatal(err)
		}
		p2, _ := Wxapkg(o)
		if !bytes.Equal(p1, p2) {
			t.Error("wxapkg is not deterministic")
		}
		pkg, err := miniprogram.Parse(p1, miniprogram.Limits{})
		if err != nil || len(pkg.Files) != len(MiniProgramFiles(o)) {
			t.Errorf("wxapkg does not parse back: %v", err)
		}
	}
	var h map[string]any
	if err := json.Unmarshal(HAR(Violating()), &h); err != nil {
		t.Fatal(err)
	}
	if _, ok := h["log"].(map[string]any)["_pilmon_consent"]; !ok {
		t.Error("HAR lacks the _pilmon_consent marker")
	}
	if !strings.Contains(string(HAR(Violating())), DeviceIMEI) || strings.Contains(string(HAR(Clean())), DeviceIMEI) {
		t.Error("only the violating HAR sends the IMEI")
	}
}

// The policies inspector reads the generated policies as intended: the clean one has every
// element, the violating one lacks the deletion channel and discloses Umeng but not JPush.
func TestPolicyElementsAsIntended(t *testing.T) {
	cat, err := rules.Default()
	if err != nil {
		t.Fatal(err)
	}
	clean, err := policies.Analyze("clean.html", PolicyHTML(Clean()), "text/html", cat)
	if err != nil {
		t.Fatal(err)
	}
	for id, e := range clean.Elements {
		if !e.Present {
			t.Errorf("clean policy lacks element %s", id)
		}
	}
	for _, s := range clean.SeparateConsent {
		if !s.Present {
			t.Errorf("clean policy has no separate consent for %s", s.PI)
		}
	}
	if !clean.IsPrivacyPolicy {
		t.Error("clean policy not recognised as a privacy policy")
	}
	bad, err := policies.Analyze("violating.html", PolicyHTML(Violating()), "text/html", cat)
	if err != nil {
		t.Fatal(err)
	}
	missing := 0
	for id, e := range bad.Elements {
		if !e.Present {
			missing++
			if id != "account_cancellation" {
				t.Errorf("violating policy lacks %s, which it should have", id)
			}
		}
	}
	if missing != 1 {
		t.Errorf("violating policy lacks %d elements, want 1 (the deletion channel)", missing)
	}
	var sdks []string
	for _, s := range bad.SDKsDeclared {
		sdks = append(sdks, s.SDK)
	}
	if strings.Join(sdks, ",") != "umeng_analytics" {
		t.Errorf("violating policy declares SDKs %v, want only umeng_analytics", sdks)
	}
}
