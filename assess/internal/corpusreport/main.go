// Command corpusreport assesses every APK of the shared corpus (../shared/corpus/apks, or
// $PILMON_SHARED/corpus/apks) with an app category chosen by hand, and prints a Markdown table of
// the findings for review. It is not run in CI:
//
//	go run ./assess/internal/corpusreport [-details]
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"

	"pilmon/apkinspect"
	"pilmon/assess"
	"pilmon/evidence"
	"pilmon/rules"
	"pilmon/scanner"
)

// categories chosen by reading each sample's SOURCES.md note and manifest.
var categories = map[string]string{
	"abcore_app-prod-debug_multidex.apk":            "utilities",            // Bitcoin Core node runner
	"androguard_Test-debug_minimal.apk":             "utilities",            // test app
	"androguard_duplicate.permisssions_9999999.apk": "utilities",            // test app
	"bugly_demo_zjrwdl_app-release.apk":             "utilities",            // crash-reporting demo
	"cn_jianyu_taskmaster_dexguard_umeng.apk":       "security",             // task manager / cleaner
	"droidbench_AndroidSpecific_DirectLeak1.apk":    "utilities",            // benchmark app
	"droidbench_Callbacks_LocationLeak1.apk":        "utilities",            // benchmark app
	"exodus_blooddonation.apk":                      "medical_consultation", // blood-donation reminders and centres
	"exodus_instapaper.apk":                         "news",                 // read-it-later client
	"jpush_jbox_app-release.apk":                    "instant_messaging",    // JiGuang message box demo
	"realapp_a2dp.Vol_137.apk":                      "utilities",            // Bluetooth volume tool
	"realapp_com.politedroid_4.apk":                 "utilities",            // silences the phone in meetings
	"realapp_com.teleca.jamendo_35.apk":             "online_av",            // music streaming
	"umeng_demo_yichou.apk":                         "utilities",            // SDK demo
}

func main() {
	details := flag.Bool("details", false, "print every finding's summary")
	flag.Parse()
	dir := corpusDir()
	if dir == "" {
		fmt.Fprintln(os.Stderr, "corpusreport: no corpus: set PILMON_SHARED or run from the module with ../shared present")
		os.Exit(0)
	}
	cat, err := rules.Default()
	if err != nil {
		fail(err)
	}
	tmp, err := os.MkdirTemp("", "corpusreport-")
	if err != nil {
		fail(err)
	}
	defer os.RemoveAll(tmp)
	store, err := evidence.Open(filepath.Join(tmp, "evidence"), evidence.Options{Tool: "corpusreport"})
	if err != nil {
		fail(err)
	}
	a := assess.New(cat)
	ins := []scanner.Inspector{apkinspect.New(cat, apkinspect.Options{Tool: "corpusreport"})}
	apks, _ := filepath.Glob(filepath.Join(dir, "*.apk"))
	sort.Strings(apks)
	fmt.Println("| apk | category | status | findings (rule subject) |")
	fmt.Println("|---|---|---|---|")
	var lines []string
	for _, p := range apks {
		name := filepath.Base(p)
		c := categories[name]
		t := scanner.Target{ID: "corpus:" + name, Kind: scanner.TargetApp, Name: name, Category: c,
			Sources: []scanner.Source{{Kind: scanner.SourceAPK, Locator: p}}}
		res := scanner.Scan(context.Background(), t, ins, store, scanner.Options{})
		fs := a.Assess(t, res.ScanID, res.Observations(), res.FinishedAt)
		var ids []string
		for _, f := range fs {
			ids = append(ids, f.RuleID+" `"+f.Subject+"`")
			lines = append(lines, fmt.Sprintf("%s\t%s\t%s/%s\t%s\t%s", name, f.RuleID, f.Severity, f.Confidence, f.Subject, f.Summary.ZH))
		}
		if c == "" {
			c = "-"
		}
		fmt.Printf("| %s | %s | %s | %s |\n", name, c, res.Status(), strings.Join(ids, "; "))
	}
	if *details {
		fmt.Println()
		for _, l := range lines {
			fmt.Println(l)
		}
	}
}

func corpusDir() string {
	if s := os.Getenv("PILMON_SHARED"); s != "" {
		return filepath.Join(s, "corpus", "apks")
	}
	wd, _ := os.Getwd()
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			p := filepath.Join(filepath.Dir(d), "shared", "corpus", "apks")
			if _, err := os.Stat(p); err == nil {
				return p
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

func fail(err error) {
	fmt.Fprintln(os.Stderr, "corpusreport:", err)
	os.Exit(1)
}
