package assess

import (
	"fmt"
	"slices"
	"strings"

	"pilmon/scanner"
)

// Reachability of the sensitive calls behind a static API lead (apkinspect's reached_from and
// path): how close the code is to running before the user can consent. It ranks leads (a call
// reached at app start above one only a component reaches, above one no entry point reaches) and
// adds one sentence to the summary, so the analyst knows which lead to verify first and where.

// Reach ranks, strongest first.
const (
	reachNone       = 0 // no sensitive_api observation, or reachability unknown
	reachNotReached = -1
	reachComponent  = 1
	reachLauncher   = 2
	reachAppStart   = 3
)

// reachOf is the strongest reachability of the apk.sensitive_api observations in obs, with the
// path of one observation that has it (the shortest).
func reachOf(obs []scanner.Observation) (rank int, path []string, component string, unknown bool) {
	seen, notReached := false, true
	for i := range obs {
		o := &obs[i]
		if o.Kind != "apk.sensitive_api" {
			continue
		}
		from := strs(o, "reached_from")
		if len(from) == 0 {
			continue
		}
		seen = true
		for _, r := range from {
			rk := reachNone
			switch {
			case r == "app_start":
				rk = reachAppStart
			case r == "launcher":
				rk = reachLauncher
			case strings.HasPrefix(r, "component:"):
				rk = reachComponent
			case r == "unknown":
				unknown = true
			}
			if r != "not_reached" {
				notReached = false
			}
			p := strs(o, "path")
			if rk > rank || (rk == rank && rk > reachNone && len(p) > 0 && (len(path) == 0 || len(p) < len(path))) {
				if rk > rank {
					component = ""
				}
				rank, path = rk, p
				if rk == reachComponent {
					component = strings.TrimPrefix(r, "component:")
				}
			}
		}
	}
	if seen && notReached && rank == reachNone {
		rank = reachNotReached
	}
	return rank, slices.Clone(path), component, unknown
}

// maxPathSteps bounds the path quoted in a summary.
const maxPathSteps = 6

func pathText(p []string) string {
	if len(p) > maxPathSteps {
		p = append(append(slices.Clone(p[:2]), "…"), p[len(p)-3:]...)
	}
	return strings.Join(p, " → ")
}

// reachSentence is the summary's sentence on reachability, zh and en ("" when the observations
// carry none).
func reachSentence(obs []scanner.Observation) (zh, en string) {
	rank, path, comp, unknown := reachOf(obs)
	switch rank {
	case reachAppStart:
		return fmt.Sprintf("静态调用图中有一条从应用启动时（Application 或 ContentProvider 初始化）到该调用的路径：%s；这条路径若实际执行，调用早于任何界面，即早于用户能够同意隐私政策。调用图只把虚方法调用展开到代码中创建了对象的实现类（快速类型分析），路径中仍可能有实际不会发生的调用，应优先在测试机上核实首次启动、同意前的行为。", pathText(path)),
			fmt.Sprintf(" The static call graph has a path from app start (the Application or a ContentProvider's initialisation) to the call: %s; if that path runs, the call comes before any screen and so before the user can consent. The graph expands a virtual call only to implementations whose objects the code creates (rapid type analysis), yet the path may still contain calls that never happen: verify the first launch before consent on a test phone first.", pathText(path))
	case reachLauncher:
		return fmt.Sprintf("静态调用图中，调用可从启动界面到达（路径：%s）。", pathText(path)),
			fmt.Sprintf(" In the static call graph the call is reachable from the launcher screen (path: %s).", pathText(path))
	case reachComponent:
		return fmt.Sprintf("静态调用图中，调用仅从组件 %s 到达（路径：%s），不在启动路径上。", comp, pathText(path)),
			fmt.Sprintf(" In the static call graph the call is reached only from the component %s (path: %s), not on the start-up path.", comp, pathText(path))
	case reachNotReached:
		return "静态调用图中没有入口可到达该调用（可能是未使用的代码）；仍需在测试机上核实。",
			" No entry point of the static call graph reaches the call (it may be unused code); still verify on a test phone."
	}
	if unknown {
		return "调用是否可到达无法静态判断（代码加壳、动态加载代码或分析受限）。",
			" Whether the call is reachable cannot be told statically (packed code, code loaded at run time, or analysis limits)."
	}
	return "", ""
}

// reachRank is reachOf's rank alone.
func reachRank(obs []scanner.Observation) int {
	r, _, _, _ := reachOf(obs)
	return r
}
