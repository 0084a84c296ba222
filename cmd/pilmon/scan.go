package main

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"text/tabwriter"

	"pilmon/evidence"
	"pilmon/scanner"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type scanFlags struct {
	common       commonFlags
	jsonOut      bool
	kind         string
	policyURLs   multiFlag
	h5URLs       multiFlag
	targetID     string
	targetName   string
	category     string
	appID        string
	deviceValues string
	consentAt    string
	progress     bool
}

func runScan(ctx context.Context, env *cliEnv, args []string) error {
	var f scanFlags
	fs := newFlagSet(env, "scan", "[--json] [--kind K] [--policy URL] [--h5 URL] [--category KEY] INPUT…")
	f.common.register(fs)
	fs.BoolVar(&f.jsonOut, "json", false, "输出 JSON / print the full result as JSON")
	fs.StringVar(&f.kind, "kind", "", "强制输入类型 / force the kind of every INPUT: "+kindList())
	fs.Var(&f.policyURLs, "policy", "隐私政策网址（可重复）/ privacy-policy URL (repeatable)")
	fs.Var(&f.h5URLs, "h5", "H5 页面网址（可重复）/ H5 page URL (repeatable)")
	fs.StringVar(&f.targetID, "target-id", "", "监测对象 ID；默认由输入路径导出 / target id; default derived from the inputs")
	fs.StringVar(&f.targetName, "name", "", "监测对象名称 / target name")
	fs.StringVar(&f.category, "category", "", "App 类别（2021 必要个人信息范围）/ app category key, see `pilmon rules list --section categories`")
	fs.StringVar(&f.appID, "appid", "", "加密 .wxapkg 的 AppID / app id of a PC-encrypted .wxapkg")
	fs.StringVar(&f.deviceValues, "device-values", "", "测试机真实标识 YAML（用于 HAR）/ device-values YAML for HAR inputs")
	fs.StringVar(&f.consentAt, "consent-at", "", "同意时间 RFC3339（用于 HAR）/ consent time for HAR inputs")
	fs.BoolVar(&f.progress, "progress", false, "显示进度 / show progress on stderr")
	inputs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	f.common.apply(env)
	if len(inputs) == 0 && len(f.policyURLs) == 0 && len(f.h5URLs) == 0 {
		fs.Usage()
		return usageErr("需要至少一个输入 / at least one INPUT, --policy or --h5 is required")
	}
	target, err := buildTarget(f, inputs)
	if err != nil {
		return err
	}
	store, err := evidence.Open(filepath.Join(f.common.dataDir, "evidence"), evidence.Options{Tool: "pilmon " + version})
	if err != nil {
		return fmt.Errorf("evidence store: %w", err)
	}
	cat, err := loadCatalogue(f.common.dataDir)
	if err != nil {
		return err
	}
	insp, closeInsp, err := buildInspectors(ctx, env, inspectorOptions{cat: cat})
	if err != nil {
		return err
	}
	defer closeInsp()
	opts := scanner.Options{}
	if f.progress {
		opts.Events = progressPrinter(env.stderr)
	}
	res := scanner.Scan(ctx, target, insp, store, opts)
	out := buildScanOutput(res)
	if f.jsonOut {
		enc := json.NewEncoder(env.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else {
		printScanText(env.stdout, out)
	}
	if res.Status() != scanner.StatusSucceeded {
		return exitErr{exitPartial, fmt.Errorf("扫描未完全成功 / scan %s finished with status %s", res.ScanID, res.Status())}
	}
	return nil
}

func kindList() string {
	var s []string
	for _, k := range scanner.AllSourceKinds {
		s = append(s, string(k))
	}
	return strings.Join(s, "|")
}

func buildTarget(f scanFlags, inputs []string) (scanner.Target, error) {
	var forced scanner.SourceKind
	if f.kind != "" {
		k, err := scanner.ParseKind(f.kind)
		if err != nil {
			return scanner.Target{}, usageErr("--kind: %v", err)
		}
		forced = k
	}
	var t scanner.Target
	var ids []string
	for _, in := range inputs {
		abs, err := filepath.Abs(in)
		if err != nil {
			return t, fmt.Errorf("%s: %w", in, err)
		}
		kind := forced
		if kind == "" {
			kind, err = scanner.DetectKind(abs)
			if err != nil {
				return t, exitErr{exitError, err}
			}
		}
		src := scanner.Source{Kind: kind, Locator: abs, Options: map[string]string{}}
		switch kind {
		case scanner.SourceWxapkg:
			if f.appID != "" {
				src.Options["appid"] = f.appID
			}
		case scanner.SourceHAR:
			if f.deviceValues != "" {
				dv, err := filepath.Abs(f.deviceValues)
				if err != nil {
					return t, err
				}
				src.Options["device_values"] = dv
			}
			if f.consentAt != "" {
				src.Options["consent_at"] = f.consentAt
			}
		}
		if len(src.Options) == 0 {
			src.Options = nil
		}
		t.Sources = append(t.Sources, src)
		ids = append(ids, abs)
	}
	for _, u := range f.policyURLs {
		t.Sources = append(t.Sources, scanner.Source{Kind: scanner.SourcePolicyURL, Locator: u})
		ids = append(ids, u)
	}
	for _, u := range f.h5URLs {
		t.Sources = append(t.Sources, scanner.Source{Kind: scanner.SourceH5URL, Locator: u})
		ids = append(ids, u)
	}
	t.ID = f.targetID
	if t.ID == "" {
		sort.Strings(ids)
		h := sha256.Sum256([]byte(strings.Join(ids, "\x00")))
		t.ID = "adhoc-" + hex.EncodeToString(h[:6])
	}
	t.Name = f.targetName
	if t.Name == "" {
		t.Name = filepath.Base(ids[0])
	}
	t.Category = f.category
	t.Kind = scanner.TargetApp
	for _, s := range t.Sources {
		switch s.Kind {
		case scanner.SourceWxapkg, scanner.SourceMPDir:
			t.Kind = scanner.TargetMiniProgram
		case scanner.SourceH5URL:
			if t.Kind == scanner.TargetApp && len(inputs) == 0 {
				t.Kind = scanner.TargetSite
			}
		}
	}
	return t, nil
}

// scanOutput is what `pilmon scan --json` prints.
type scanOutput struct {
	ScanID       string                `json:"scan_id"`
	Status       scanner.Status        `json:"status"`
	Complete     bool                  `json:"complete"`
	Result       *scanner.Result       `json:"result"`
	Observations []scanner.Observation `json:"observations"`
	Evidence     []string              `json:"evidence"`
}

func buildScanOutput(res *scanner.Result) scanOutput {
	return scanOutput{ScanID: res.ScanID, Status: res.Status(), Complete: res.Complete(), Result: res,
		Observations: res.Observations(), Evidence: res.EvidenceRefs()}
}

func printScanText(w io.Writer, out scanOutput) {
	res := out.Result
	fmt.Fprintf(w, "扫描 / scan %s  对象 / target %s (%s)  状态 / status %s\n\n", res.ScanID, res.Target.ID, res.Target.Name, out.Status)
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "来源 / source\t类型 / kind\t检查器 / inspector\t状态 / status\t观察 / observations")
	for _, r := range res.Reports {
		insp := r.Inspector
		if insp == "" {
			insp = "-"
		} else {
			insp += "/" + r.InspectorVersion
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%d\n", r.Source.Locator, r.Source.Kind, insp, r.Status, len(r.Observations))
	}
	tw.Flush()
	for _, r := range res.Reports {
		for _, e := range r.Errors {
			fmt.Fprintf(w, "  ! %s\n", firstLine(e))
		}
	}
	byKind := map[string][]scanner.Observation{}
	var kinds []string
	for _, o := range out.Observations {
		if _, ok := byKind[o.Kind]; !ok {
			kinds = append(kinds, o.Kind)
		}
		byKind[o.Kind] = append(byKind[o.Kind], o)
	}
	sort.Strings(kinds)
	fmt.Fprintln(w)
	for _, k := range kinds {
		obs := byKind[k]
		fmt.Fprintf(w, "%s (%d)\n", k, len(obs))
		for i, o := range obs {
			if i == 12 {
				fmt.Fprintf(w, "    … %d more (--json for all)\n", len(obs)-i)
				break
			}
			fmt.Fprintf(w, "    %s\n", o.Subject)
		}
	}
	fmt.Fprintf(w, "\n证据 / evidence (SHA-256): %d 件 / artifacts\n", len(out.Evidence))
	for _, e := range out.Evidence {
		fmt.Fprintf(w, "    %s\n", e)
	}
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// progressPrinter draws a one-line progress bar on a terminal (or plain lines otherwise).
func progressPrinter(w io.Writer) func(scanner.Event) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	return func(e scanner.Event) {
		switch e.Kind {
		case "inspector_finished":
			bar := progressBar(e.Done, e.Total, 24)
			line := fmt.Sprintf("%s %d/%d %s %s %s", bar, e.Done, e.Total, e.Status, e.Inspector, filepath.Base(e.Source))
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		case "scan_finished":
			if tty {
				fmt.Fprintln(w)
			}
		}
	}
}

func progressBar(done, total, width int) string {
	if total <= 0 {
		total = 1
	}
	n := done * width / total
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}
