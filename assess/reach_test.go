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
