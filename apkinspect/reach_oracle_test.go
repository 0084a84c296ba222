package apkinspect

import (
	"bytes"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"

	"pilmon/apkinspect/callgraph"
	"pilmon/internal/corpus"
)

// oracleMaxAPK is the size above which the androguard oracle skips an APK (androguard takes
// about ten CPU-seconds per MiB of dex); PILMON_ORACLE_MAX_MIB raises it.
func oracleMaxAPK() int64 {
	if v, err := strconv.Atoi(os.Getenv("PILMON_ORACLE_MAX_MIB")); err == nil && v > 0 {
		return int64(v) << 20
	}
	return 5 << 19
}

type oracleAnswer struct {
	Edges []struct {
		OK  bool   `json:"ok"`
		Why string `json:"why"`
	} `json:"edges"`
	AppStartSites []string `json:"app_start_sites"`
}

// TestReachAgainstAndroguard checks every edge of every app_start path pilmon reports on the
// shared corpus against androguard's cross-references (testdata/androguard_reach.py says how
// each kind of edge is confirmed), and logs, per APK, the call sites each tool finds reachable
// from the Application and provider roots and pilmon's count of call sites per label.
func TestReachAgainstAndroguard(t *testing.T) {
	dir := corpus.Path(t, "corpus", "apks")
	if testing.Short() {
		t.Skip("androguard takes minutes over the corpus")
	}
	if _, err := os.Stat("/usr/bin/python3"); err != nil {
		t.Skip("/usr/bin/python3 absent")
	}
	if err := exec.Command("/usr/bin/python3", "-c", "from androguard.misc import AnalyzeAPK").Run(); err != nil {
		t.Skip("androguard absent (Debian package python3-androguard)")
	}
	script, err := filepath.Abs(filepath.Join("testdata", "androguard_reach.py"))
	if err != nil {
		t.Fatal(err)
	}
	apks, _ := filepath.Glob(filepath.Join(dir, "*.apk"))
	sort.Strings(apks)
	var table []string
	var skipped []string
	for _, p := range apks {
		st, err := os.Stat(p)
		if err != nil {
			t.Fatal(err)
		}
		app := analyzeFile(t, p)
		if len(app.DexFiles) == 0 {
			continue
		}
		name := filepath.Base(p)
		if st.Size() > oracleMaxAPK() {
			skipped = append(skipped, name)
			continue
		}
		// The app_start paths and the edges along them.
		type edge struct{ caller, callee, kind, via string }
		var edges []edge
		seen := map[edge]bool{}
		apis := map[string]bool{}
		ours := map[string]bool{}
		counts := map[string]int{}
		for _, api := range app.APIs {
			method := strings.Contains(api.Descriptor, "(")
			if method {
				apis[api.Descriptor] = true
			}
			for _, s := range api.Sites {
				for _, l := range s.ReachedFrom {
					if strings.HasPrefix(l, "component:") {
						l = "component"
					}
					counts[l]++
				}
				if method && slices.Contains(s.ReachedFrom, "app_start") {
					ours[s.Method] = true
				}
			}
			if !slices.Contains(api.ReachedFrom, "app_start") {
				continue
			}
			for i := 1; i < len(api.Steps); i++ {
				e := edge{api.Steps[i-1].Descriptor, api.Steps[i].Descriptor, api.Steps[i].Edge, api.Steps[i].Via}
				if !seen[e] {
					seen[e] = true
					edges = append(edges, e)
				}
			}
			if len(api.Steps) == 0 || api.Steps[0].Edge != callgraph.EdgeRoot {
				t.Errorf("%s: %s @ %s: app_start without a rooted path: %+v", name, api.API.ID, api.CallerClass, api.Steps)
			}
		}
		req := map[string]any{"apk": p, "edges": func() [][]string {
			out := [][]string{}
			for _, e := range edges {
				out = append(out, []string{e.caller, e.callee, e.kind, e.via})
			}
			return out
		}(), "apis": func() []string {
			out := []string{}
			for d := range apis {
				out = append(out, d)
			}
			sort.Strings(out)
			return out
		}()}
		in, _ := json.Marshal(req)
		cmd := exec.Command("/usr/bin/python3", script)
		cmd.Stdin = bytes.NewReader(in)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Errorf("%s: androguard: %v\n%s", name, err, tail(stderr.String(), 2000))
			continue
		}
		var ans oracleAnswer
		if err := json.Unmarshal(out, &ans); err != nil || len(ans.Edges) != len(edges) {
			t.Errorf("%s: androguard answer: %v (%d edges for %d)", name, err, len(ans.Edges), len(edges))
			continue
		}
		for i, e := range edges {
			if !ans.Edges[i].OK {
				t.Errorf("%s: edge %s -> %s (%s %s) not in androguard's cross-references: %s", name, e.caller, e.callee, e.kind, e.via, ans.Edges[i].Why)
			}
		}
		theirs := map[string]bool{}
		for _, s := range ans.AppStartSites {
			theirs[s] = true
		}
		both := 0
		for s := range ours {
			if theirs[s] {
				both++
			}
		}
		for s := range theirs {
			if !ours[s] {
				t.Logf("%s: androguard alone reaches %s", name, s)
			}
		}
		if !app.Graph.Complete {
			t.Logf("%s: graph incomplete: %v", name, app.Graph.Reasons)
		}
		table = append(table, strings.Join([]string{name, itoa(len(ours)), itoa(len(theirs)), itoa(both), itoa(len(edges)),
			itoa(counts["app_start"]), itoa(counts["launcher"]), itoa(counts["component"]), itoa(counts["not_reached"]), itoa(counts["unknown"])}, "\t"))
	}
	t.Logf("apk\tpilmon app_start sites\tandroguard app_start sites\tboth\tedges checked\tsites: app_start\tlauncher\tcomponent\tnot_reached\tunknown\n%s", strings.Join(table, "\n"))
	if len(skipped) > 0 {
		t.Logf("skipped (over %.1f MiB; PILMON_ORACLE_MAX_MIB raises the cap): %v", float64(oracleMaxAPK())/(1<<20), skipped)
	}
}

func itoa(n int) string {
	b, _ := json.Marshal(n)
	return string(b)
}

func tail(s string, n int) string {
	if len(s) > n {
		return s[len(s)-n:]
	}
	return s
}
