package assess

import (
	"strings"
	"testing"

	"pilmon/scanner"
)

func apiObs(caller string, from []string, path []string) scanner.Observation {
	return scanner.Observation{Kind: "apk.sensitive_api", Subject: "telephony.getDeviceId @ " + caller,
		Attributes: map[string]any{"api": "telephony.getDeviceId", "caller_class": caller, "reached_from": from, "path": path}}
}

// A call reached at app start outranks one the launcher reaches, which outranks one a component
// reaches; a call no entry reaches ranks last and says so; reachability nobody computed says
// nothing.
func TestReachRankAndSentence(t *testing.T) {
	start := apiObs("com.vendor.Init", []string{"app_start", "launcher"}, []string{"com.shop.App.onCreate", "com.vendor.Init.run"})
	launch := apiObs("com.shop.Main", []string{"launcher"}, []string{"com.shop.Main.onCreate"})
	comp := apiObs("com.shop.Share", []string{"component:com.shop.ShareActivity"}, []string{"com.shop.ShareActivity.onCreate", "com.shop.Share.go"})
	dead := apiObs("com.shop.Old", []string{"not_reached"}, nil)
	unk := apiObs("com.shop.Packed", []string{"unknown"}, nil)
	none := scanner.Observation{Kind: "apk.sensitive_api", Attributes: map[string]any{"api": "x"}}

	ranks := []int{reachRank([]scanner.Observation{start}), reachRank([]scanner.Observation{launch}), reachRank([]scanner.Observation{comp}),
		reachRank([]scanner.Observation{unk}), reachRank([]scanner.Observation{dead})}
	for i := 1; i < len(ranks); i++ {
		if ranks[i-1] <= ranks[i] {
			t.Errorf("ranks %v not strictly decreasing at %d", ranks, i)
		}
	}
	// the strongest of several observations counts
	if got := reachRank([]scanner.Observation{dead, comp, start}); got != reachAppStart {
		t.Errorf("mixed: rank %d, want app start", got)
	}
	zh, en := reachSentence([]scanner.Observation{dead, start})
	if !strings.Contains(zh, "应用启动时") || !strings.Contains(zh, "可能有实际不会发生的调用") || !strings.Contains(zh, "com.shop.App.onCreate → com.vendor.Init.run") || !strings.Contains(en, "before the user can consent") {
		t.Errorf("app start sentence: %q / %q", zh, en)
	}
	zh, _ = reachSentence([]scanner.Observation{comp})
	if !strings.Contains(zh, "com.shop.ShareActivity") || strings.Contains(zh, "应用启动时") {
		t.Errorf("component sentence: %q", zh)
	}
	zh, _ = reachSentence([]scanner.Observation{dead})
	if !strings.Contains(zh, "没有入口可到达") {
		t.Errorf("not reached sentence: %q", zh)
	}
	zh, _ = reachSentence([]scanner.Observation{unk})
	if !strings.Contains(zh, "无法静态判断") || strings.Contains(zh, "没有入口") {
		t.Errorf("unknown sentence: %q", zh)
	}
	if zh, en := reachSentence([]scanner.Observation{none}); zh != "" || en != "" {
		t.Errorf("no reachability, sentence %q / %q", zh, en)
	}
	// a long path is shortened in the middle, its ends kept
	long := apiObs("c", []string{"app_start"}, []string{"a1", "a2", "a3", "a4", "a5", "a6", "a7", "a8"})
	zh, _ = reachSentence([]scanner.Observation{long})
	if !strings.Contains(zh, "a1 → a2 → … → a6 → a7 → a8") {
		t.Errorf("long path: %q", zh)
	}
}

// TestBeforeConsentWording: a lead says the code "may run before consent" unless the call graph
// placed every call site and none at app start; a call reached at app start says both.
func TestBeforeConsentWording(t *testing.T) {
	a := New(mustCatalogue(t))
	tg := scanner.Target{ID: "apk", Category: "online_shopping"}
	api := func(caller string, from, path []string) scanner.Observation {
		o := obs("apk.sensitive_api", "telephony.getDeviceId @ "+caller, map[string]any{"api": "telephony.getDeviceId", "caller_class": caller, "caller_method": "id",
			"party": "sdk:umeng_analytics", "sdk": "umeng_analytics", "library": "", "pi": []string{"device_id_hw"}})
		if from != nil {
			o.Attributes["reached_from"], o.Attributes["path"] = from, path
		}
		return o
	}
	for _, c := range []struct {
		name      string
		o         scanner.Observation
		want, not []string
	}{
		{"app start", api("com.umeng.a.Init", []string{"app_start"}, []string{"com.shop.App.onCreate", "com.umeng.a.Init.run"}),
			[]string{"可能在用户同意前执行", "possibly before the user consents", "com.shop.App.onCreate → com.umeng.a.Init.run"}, nil},
		{"component only", api("com.umeng.a.Svc", []string{"component:com.umeng.a.PushService"}, []string{"com.umeng.a.PushService.onCreate"}),
			[]string{"仅从组件 com.umeng.a.PushService 到达"}, []string{"可能在用户同意前执行", "possibly before the user consents"}},
		{"no reachability", api("com.umeng.a.Old", nil, nil),
			[]string{"可能在用户同意前执行"}, []string{"静态调用图"}},
	} {
		perm := obs("apk.permission", "android.permission.READ_PHONE_STATE", map[string]any{"permission": "android.permission.READ_PHONE_STATE", "pi": []string{"device_id_hw"}, "protection": "runtime"})
		in := []scanner.Observation{inventory(true, false, false), apkIdentity(), perm, c.o}
		fs := raised(a.Assess(tg, "s", in, t0), "gbt41391-f-non-resettable-id")
		if len(fs) != 1 {
			t.Errorf("%s: %d leads", c.name, len(fs))
			continue
		}
		s := fs[0].Summary.ZH + " | " + fs[0].Summary.EN
		for _, w := range c.want {
			if !strings.Contains(s, w) {
				t.Errorf("%s: summary lacks %q: %s", c.name, w, s)
			}
		}
		for _, w := range c.not {
			if strings.Contains(s, w) {
				t.Errorf("%s: summary says %q: %s", c.name, w, s)
			}
		}
	}
}
