package main

import (
	"bufio"
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
	"sync"
	"text/tabwriter"

	"pilmon/apkfetch"
	"pilmon/assess"
	"pilmon/casefile"
	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/traffic"
)

// multiFlag collects a repeatable string flag.
type multiFlag []string

func (m *multiFlag) String() string     { return strings.Join(*m, ",") }
func (m *multiFlag) Set(v string) error { *m = append(*m, v); return nil }

type scanFlags struct {
	common     config
	jsonOut    bool
	kind       string
	policyURLs multiFlag
	h5URLs     multiFlag
	apkURLs    multiFlag
	apkPages   multiFlag
	targetID   string
	targetName string
	category   string
	options    *optionFlags
	progress   bool
	operator   string
	store      bool
	bundle     string
	noPDF      bool
}

func runScan(ctx context.Context, env *cliEnv, args []string) error {
	f := scanFlags{options: newOptionFlags()}
	kinds := pipeline.Kinds(nil)
	fs := newFlagSet(env, "scan", "[--json] [--kind K] [--policy URL] [--h5 URL] [--apk-url URL] [--apk-page-url URL] [--category KEY] [--operator NAME] [--device FILE] [--opt NAME=VALUE] [--store | --redis URL] INPUT…")
	f.common.register(fs)
	fs.BoolVar(&f.jsonOut, "json", false, "输出 JSON / print the full result as JSON")
	fs.StringVar(&f.kind, "kind", "", "强制输入类型 / force the kind of every INPUT: "+kindList(kinds))
	fs.Var(&f.policyURLs, "policy", "隐私政策网址（可重复）/ privacy-policy URL (repeatable)")
	fs.Var(&f.h5URLs, "h5", "H5 页面网址（可重复）/ H5 page URL (repeatable)")
	fs.Var(&f.apkURLs, "apk-url", "APK 下载地址（可重复）/ APK download URL (repeatable)")
	fs.Var(&f.apkPages, "apk-page-url", "APK 下载页网址（可重复）/ APK download page URL (repeatable)")
	fs.StringVar(&f.targetID, "target-id", "", "监测对象 ID；默认由输入路径导出 / target id; default derived from the inputs")
	fs.StringVar(&f.targetName, "name", "", "监测对象名称 / target name")
	fs.StringVar(&f.category, "category", "", "App 类别（2021 必要个人信息范围）/ app category key, see `pilmon rules list --section categories`")
	fs.StringVar(f.options.shortcut("appid"), "appid", "", "加密 .wxapkg 的 AppID（同 --opt appid=）/ app id of a PC-encrypted .wxapkg (as --opt appid=)")
	deviceValues := f.options.shortcut("device_values")
	fs.StringVar(deviceValues, "device-values", "", "测试机真实标识 YAML（用于 HAR，同 --opt device_values=）/ device-values YAML for HAR inputs")
	fs.StringVar(deviceValues, "device", "", "同 --device-values / alias of --device-values")
	fs.StringVar(&f.operator, "operator", "", "运营者名称 / operator (company) name")
	fs.BoolVar(&f.store, "store", false, "将发现存入数据目录中的内置 Redis / store findings in the embedded Redis of the data dir (--redis URL stores in that server)")
	fs.StringVar(&f.bundle, "bundle", "", "将本次扫描写成签名证据包 / write this scan as a signed evidence bundle (.zip)")
	fs.BoolVar(&f.noPDF, "no-pdf", false, "证据包不含 PDF 报告（无需 Chromium）/ leave the PDF out of --bundle")
	fs.StringVar(f.options.shortcut("consent_at"), "consent-at", "", "同意时间 RFC3339（用于 HAR，同 --opt consent_at=）/ consent time for HAR inputs")
	fs.Var(&f.options.opts, "opt", optUsage)
	fs.BoolVar(&f.progress, "progress", false, "显示进度 / show progress on stderr")
	inputs, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	f.common.apply(env)
	if len(inputs) == 0 && len(f.policyURLs) == 0 && len(f.h5URLs) == 0 && len(f.apkURLs) == 0 && len(f.apkPages) == 0 {
		fs.Usage()
		return usageErr("需要至少一个输入 / at least one INPUT, --policy, --h5, --apk-url or --apk-page-url is required")
	}
	target, err := buildTarget(f, inputs, kinds)
	if err != nil {
		return err
	}
	cat, err := loadCatalogue(f.common.dataDir)
	if err != nil {
		return err
	}
	if f.category != "" {
		if _, ok := cat.AppCategory(f.category); !ok {
			return usageErr("--category: 未知类别 / unknown app category %q (see pilmon rules list --section categories)", f.category)
		}
	}
	ev, err := openEvidence(f.common.dataDir, env.log)
	if err != nil {
		return err
	}
	// The scan is the pipeline's, as a worker runs it; the CLI adds a printer. With --store (or
	// --redis) the runner stores the findings and the record and publishes the events in the
	// shared state every other command sees.
	runner := &pipeline.Runner{Catalogue: cat, Evidence: ev, Worker: "cli", Log: env.log}
	if f.store || f.common.redis != "" {
		st, err := openState(ctx, env, f.common)
		if err != nil {
			return err
		}
		defer st.close()
		runner.Catalogue, runner.Store = st.cat, st.store
	}
	insp, closeInsp, err := buildInspectors(env, runner.Catalogue, pipeline.InspectorOptions{})
	if err != nil {
		return err
	}
	defer closeInsp()
	runner.Inspectors = insp
	req := pipeline.Request{Target: target}
	if f.progress {
		req.Emit = progressPrinter(env.stderr)
	}
	o, err := runner.Execute(ctx, req)
	if err != nil {
		if runner.Store != nil {
			return fmt.Errorf("存储发现失败 / storing findings: %w", err)
		}
		return err
	}
	out, err := buildScanOutput(o)
	if err != nil {
		return err
	}
	res := o.Result
	if f.bundle != "" {
		if err := writeScanBundle(ctx, f, runner.Catalogue, ev, res, out.findings, o.Record.NotAssessed); err != nil {
			return fmt.Errorf("证据包 / bundle %s: %w", f.bundle, err)
		}
		fmt.Fprintf(env.stderr, "证据包已写入 / bundle written: %s (pilmon verify %s)\n", f.bundle, f.bundle)
	}
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

// buildTarget makes the target of a scan on the command line: each INPUT of the forced kind or
// the kind its content declares, the URLs, the options on the sources whose kinds declare them,
// and the target kind the sources imply.
func buildTarget(f scanFlags, inputs []string, kinds []scanner.KindSpec) (scanner.Target, error) {
	var forced scanner.SourceKind
	if f.kind != "" {
		k, err := scanner.ParseKind(f.kind, kinds)
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
			kind, err = scanner.DetectKind(abs, kinds)
			if err != nil {
				return t, exitErr{exitError, err}
			}
		}
		t.Sources = append(t.Sources, scanner.Source{Kind: kind, Locator: abs})
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
	for _, urls := range []struct {
		kind scanner.SourceKind
		urls []string
	}{{apkfetch.SourceAPKURL, f.apkURLs}, {apkfetch.SourceAPKPageURL, f.apkPages}} {
		for _, u := range urls.urls {
			t.Sources = append(t.Sources, scanner.Source{Kind: urls.kind, Locator: u})
			ids = append(ids, u)
		}
	}
	if f.options != nil {
		if err := f.options.apply(t.Sources, kinds, true); err != nil {
			return t, err
		}
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
	t.Operator = f.operator
	t.Kind = impliedTarget(t.Sources, kinds)
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
	// Category is the app category the findings were judged against and where it came from.
	Category assess.CategoryChoice `json:"category"`
	// Findings are the canonical JSON of each finding and lead (findings.MarshalCanonical),
	// findings (tier "finding") before leads, most severe first.
	Findings []json.RawMessage `json:"findings"`
	// NotAssessed are the rules the scan's inputs could not decide, with the reason.
	NotAssessed []findings.NotAssessed `json:"not_assessed"`
	// Stored says what was written to Redis (--store or --redis), absent otherwise.
	Stored *storeSummary `json:"stored,omitempty"`

	findings []findings.Finding
}

// storeSummary is what storing the findings of one scan did.
type storeSummary struct {
	Upserted       int  `json:"upserted"`
	Created        int  `json:"created"`
	MarkedComplete bool `json:"marked_not_reobserved"` // the scan was complete, so absent findings were marked
	Marked         int  `json:"not_reobserved"`
}

// buildScanOutput is what the printers show of one scan run by the pipeline.
func buildScanOutput(o pipeline.Outcome) (scanOutput, error) {
	res := o.Result
	if res == nil {
		return scanOutput{}, fmt.Errorf("scan %s was recorded before and not run again", o.Record.ID)
	}
	obs := res.Observations()
	out := scanOutput{ScanID: res.ScanID, Status: res.Status(), Complete: res.Complete(), Result: res,
		Observations: obs, Evidence: res.EvidenceRefs(), Findings: []json.RawMessage{}, findings: o.Findings}
	if c := o.Record.Category; c != nil {
		out.Category = *c
	}
	out.NotAssessed = o.Record.NotAssessed
	if out.NotAssessed == nil {
		out.NotAssessed = []findings.NotAssessed{}
	}
	for _, f := range out.findings {
		b, err := findings.MarshalCanonical(f)
		if err != nil {
			return out, fmt.Errorf("finding %s: %w", f.Fingerprint, err)
		}
		out.Findings = append(out.Findings, b)
	}
	if o.Stored {
		// Stored as a worker stores a scan: findings upserted, the target's earlier findings that
		// did not reappear marked not re-observed when every source was inspected (a failed fetch
		// is no evidence of rectification), the scan saved in the target's history.
		rec := o.Record
		out.Stored = &storeSummary{Upserted: len(rec.Fingerprints), Created: rec.Created, MarkedComplete: rec.Complete,
			Marked: rec.MarkedNotReobserved}
	}
	return out, nil
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
			fmt.Fprintf(w, "  ! %s\n", firstLine(e.Error()))
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
	// Consent timeline of each capture (HAR import or H5 live capture), rebuilt from its observations.
	for _, r := range res.Reports {
		if r.Inspector == traffic.Name && (r.Status == scanner.StatusSucceeded || r.Status == scanner.StatusPartial) {
			fmt.Fprintf(w, "\n%s\n", r.Source.Locator)
			_ = traffic.WriteTimelineFromObservations(w, r.Observations, "zh/en")
		}
	}
	fmt.Fprintf(w, "\n证据 / evidence (SHA-256): %d 件 / artifacts\n", len(out.Evidence))
	for _, e := range out.Evidence {
		fmt.Fprintf(w, "    %s\n", e)
	}
	printFindings(w, out)
}

// printFindings prints the category the scan was judged against and the findings table.
func printFindings(w io.Writer, out scanOutput) {
	c := out.Category
	fmt.Fprintln(w)
	switch {
	case c.Key == "":
		fmt.Fprintf(w, "类别 / category: -  %s / %s\n", c.Reason.ZH, c.Reason.EN)
	case c.Suggested:
		fmt.Fprintf(w, "类别 / category: %s（建议 / suggested）  %s\n", c.Key, c.Reason.ZH)
	default:
		fmt.Fprintf(w, "类别 / category: %s  %s\n", c.Key, c.Reason.ZH)
	}
	nf := 0
	for _, f := range out.findings {
		if f.Tier == rules.TierFinding {
			nf++
		}
	}
	fmt.Fprintf(w, "\n发现 / findings: %d（认定事实 %d / established, 待核实线索 %d / leads）\n", len(out.findings), nf, len(out.findings)-nf)
	if len(out.findings) > 0 {
		tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
		fmt.Fprintln(tw, "层级 / tier\t依据 / grade\t严重程度 / severity\t可信度 / confidence\t规则 / rule\t对象 / subject\t摘要 / summary")
		for _, f := range out.findings {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", tierLabel(f.Tier), f.Grade, f.Severity, f.Confidence, f.RuleID, f.Subject, oneLine(f.Summary.ZH))
		}
		tw.Flush()
		fmt.Fprintln(w, "（完整中英文摘要、法律依据与证据见 --json / full zh/en summaries, legal basis and evidence with --json）")
	}
	if len(out.NotAssessed) > 0 {
		fmt.Fprintf(w, "\n未能判断的规则 / not assessed (inputs missing): %d\n", len(out.NotAssessed))
		for _, n := range out.NotAssessed {
			fmt.Fprintf(w, "    %s  %s / %s\n", n.RuleID, n.Reason.ZH, n.Reason.EN)
		}
	}
	if s := out.Stored; s != nil {
		fmt.Fprintf(w, "\n已存储 / stored: %d 条（新 %d）/ %d findings (%d new)", s.Upserted, s.Created, s.Upserted, s.Created)
		if s.MarkedComplete {
			fmt.Fprintf(w, "；未再观察到 / marked not re-observed: %d\n", s.Marked)
		} else {
			fmt.Fprintln(w, "；扫描不完整，未标记未再观察到 / scan incomplete: nothing marked not re-observed")
		}
	}
}

// oneLine keeps a summary on one table row.
func oneLine(s string) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > 120 {
		s = string(r[:120]) + "…"
	}
	return s
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// progressPrinter draws a one-line progress bar on a terminal (or plain lines otherwise) from the
// scan's events, the same events workers publish for the dashboard.
func progressPrinter(w io.Writer) func(store.Event) {
	tty := false
	if f, ok := w.(*os.File); ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			tty = true
		}
	}
	var mu sync.Mutex // sources are inspected concurrently
	return func(e store.Event) {
		mu.Lock()
		defer mu.Unlock()
		switch e.Kind {
		case scanner.EventInspectorFinished:
			done, total := dataInt(e.Data, "done"), dataInt(e.Data, "total")
			bar := progressBar(done, total, 24)
			line := fmt.Sprintf("%s %d/%d %v %v %s", bar, done, total, e.Data["status"], e.Data["inspector"],
				filepath.Base(fmt.Sprint(e.Data["source"])))
			if tty {
				fmt.Fprintf(w, "\r\033[K%s", line)
			} else {
				fmt.Fprintln(w, line)
			}
		case scanner.EventScanFinished:
			if tty {
				fmt.Fprintln(w)
			}
		}
	}
}

// dataInt reads a number from an event's data (an int in process, a float64 after JSON).
func dataInt(d map[string]any, k string) int {
	switch v := d[k].(type) {
	case int:
		return v
	case float64:
		return int(v)
	}
	return 0
}

func progressBar(done, total, width int) string {
	if total <= 0 {
		total = 1
	}
	n := done * width / total
	return "[" + strings.Repeat("#", n) + strings.Repeat(".", width-n) + "]"
}

// writeScanBundle writes the signed evidence bundle of one scan (an analyst with a laptop and no
// server): the scan's findings, every artifact it captured, the reports and the signature.
// The report's 违法事实汇总表 marks an item 符合 only with the scan's coverage: notAssessed is nil
// when the scan had no input inventory and so cannot say what it decided.
func writeScanBundle(ctx context.Context, f scanFlags, cat *rules.Catalogue, ev *evidence.Store, res *scanner.Result, fs []findings.Finding, notAssessed []findings.NotAssessed) error {
	key, err := casefile.LoadOrCreateKey(f.common.dataDir)
	if err != nil {
		return err
	}
	user := os.Getenv("USER")
	if user == "" {
		user = "analyst"
	}
	opts := casefile.Options{Key: key, SkipPDF: f.noPDF, Tool: "pilmon " + version, Observations: res.Observations()}
	if notAssessed != nil {
		opts.Coverage = &casefile.Coverage{ScanID: res.ScanID, NotAssessed: notAssessed}
	}
	_, err = writeAtomically(f.bundle, func(w *bufio.Writer) (casefile.Summary, error) {
		return casefile.Summary{}, casefile.WriteScanBundle(ctx, w, casefile.ScanBundleInput{
			Findings: fs, Evidence: ev, Catalogue: cat, Target: res.Target, User: user,
			ScanID: res.ScanID, StartedAt: res.StartedAt, FinishedAt: res.FinishedAt,
			EvidenceRefs: res.EvidenceRefs(),
			Options:      opts,
		})
	})
	return err
}

// tierLabel names a tier in both languages: 认定事实 (the record establishes what its title
// says) or 待核实线索 (it needs confirmation).
func tierLabel(t string) string {
	switch t {
	case rules.TierFinding:
		return "认定事实/finding"
	case rules.TierLead:
		return "待核实线索/lead"
	}
	return "-"
}
