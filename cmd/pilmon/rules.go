package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"

	"pilmon/rules"
)

func overlayPath(dataDir string) string { return filepath.Join(dataDir, "rules-overlay.yaml") }

// libCheckerOverlayPath is the LibChecker import's own file, so that re-importing one source never
// drops what the other added.
func libCheckerOverlayPath(dataDir string) string {
	return filepath.Join(dataDir, "rules-overlay-libchecker.yaml")
}

// loadCatalogue returns the embedded catalogue merged with the local Exodus and LibChecker
// overlays, if any (the Exodus one first: its entries keep the prefixes both list).
func loadCatalogue(dataDir string) (*rules.Catalogue, error) {
	return rules.LoadWithOverlays(overlayPath(dataDir), libCheckerOverlayPath(dataDir))
}

func runRules(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "list [--section S] [--json] | show ID [--json] | validate | import-exodus FILE | import-libchecker FILE | doc [--lang zh|en]"
	if len(args) == 0 {
		return usageErr("用法 / usage: pilmon rules %s", usage)
	}
	sub, args := args[0], args[1:]
	// Each subcommand has its own flags: a flag of another subcommand is a usage error.
	var common config
	fs := newFlagSet(env, "rules "+sub, usage)
	common.register(fs)
	jsonOut, section, lang := new(bool), new(string), new(string)
	switch sub {
	case "list":
		fs.BoolVar(jsonOut, "json", false, "输出 JSON / JSON output")
		fs.StringVar(section, "section", "violations", "violations|permissions|apis|sdks|categories|pi|instruments")
	case "show", "validate":
		fs.BoolVar(jsonOut, "json", false, "输出 JSON / JSON output")
	case "doc":
		fs.StringVar(lang, "lang", "zh", "语言 / language zh|en")
	case "import-exodus", "import-libchecker":
	default:
		return usageErr("未知子命令 / unknown subcommand %q; %s", sub, usage)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	common.apply(env)
	switch sub {
	case "validate":
		cat, err := loadCatalogue(common.dataDir)
		if err != nil {
			return err
		}
		st := cat.Stats()
		if *jsonOut {
			return writeJSON(env.stdout, st)
		}
		fmt.Fprintf(env.stdout, "规则目录有效 / catalogue valid: %+v\n", st)
		return nil
	case "list":
		cat, err := loadCatalogue(common.dataDir)
		if err != nil {
			return err
		}
		return listSection(env.stdout, cat, *section, *jsonOut)
	case "show":
		if len(pos) != 1 {
			return usageErr("rules show ID")
		}
		cat, err := loadCatalogue(common.dataDir)
		if err != nil {
			return err
		}
		return showEntry(env.stdout, cat, pos[0], *jsonOut)
	case "doc":
		if *lang != "zh" && *lang != "en" {
			return usageErr("--lang: %q; want zh or en", *lang)
		}
		// The reference is generated from the embedded catalogue only, never a local overlay, so
		// that the committed docs/…/rules.md are the same on every machine.
		cat, err := rules.Default()
		if err != nil {
			return err
		}
		return writeRulesDoc(env.stdout, cat, *lang)
	case "import-exodus":
		if len(pos) != 1 {
			return usageErr("rules import-exodus FILE")
		}
		cat, err := rules.Default()
		if err != nil {
			return err
		}
		st, err := importOverlay(common.dataDir, pos[0], overlayPath(common.dataDir), func(r io.Reader) (rules.Overlay, any, error) {
			ov, st, err := rules.ImportExodus(r, cat)
			return ov, st, err
		})
		if err != nil {
			return err
		}
		fmt.Fprintf(env.stdout, "已导入 / imported %+v\n覆盖文件 / overlay: %s\n", st, overlayPath(common.dataDir))
		return nil
	case "import-libchecker":
		if len(pos) != 1 {
			return usageErr("rules import-libchecker FILE (LibChecker's rules as JSON)")
		}
		// The import is checked against what the data dir already has (the Exodus overlay too), so
		// that it only adds what nothing else claims.
		cat, err := rules.LoadWithOverlays(overlayPath(common.dataDir))
		if err != nil {
			return err
		}
		out := libCheckerOverlayPath(common.dataDir)
		var st rules.LibCheckerStats
		if _, err := importOverlay(common.dataDir, pos[0], out, func(r io.Reader) (rules.Overlay, any, error) {
			ov, s, err := rules.ImportLibChecker(r, cat)
			st = s
			return ov, s, err
		}); err != nil {
			return err
		}
		for _, w := range st.Warnings {
			fmt.Fprintln(env.stderr, "注意 / note:", w)
		}
		st.Warnings = nil
		fmt.Fprintf(env.stdout, "已导入 / imported %+v\n覆盖文件 / overlay: %s\n", st, out)
		return nil
	default:
		return usageErr("未知子命令 / unknown subcommand %q; %s", sub, usage)
	}
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func listSection(w io.Writer, cat *rules.Catalogue, section string, asJSON bool) error {
	tw := tabwriter.NewWriter(w, 0, 2, 2, ' ', 0)
	defer tw.Flush()
	switch section {
	case "violations":
		vs := cat.Violations()
		if asJSON {
			return writeJSON(w, vs)
		}
		fmt.Fprintln(tw, "ID\t严重度 severity\t方式 mode\t依据 basis\t标题 title")
		for _, v := range vs {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", v.ID, v.Severity, v.Check.Mode, citations(v.LegalBasis), v.Title.ZH)
		}
	case "permissions":
		ps := cat.Permissions()
		if asJSON {
			return writeJSON(w, ps)
		}
		fmt.Fprintln(tw, "权限 permission\t类型 kind\t个人信息 PI\t敏感 Art.28")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.Name, p.Kind, strings.Join(p.PI, ","), p.Sensitivity)
		}
	case "apis":
		as := cat.SensitiveAPIs()
		if asJSON {
			return writeJSON(w, as)
		}
		fmt.Fprintln(tw, "ID\t类 class\t方法 method\t个人信息 PI")
		for _, a := range as {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", a.ID, a.Class, a.Method, strings.Join(a.PI, ","))
		}
	case "sdks":
		ss := cat.SDKs()
		if asJSON {
			return writeJSON(w, ss)
		}
		fmt.Fprintln(tw, "ID\t名称 name\t类型 kind\t来源 origin\t类前缀 prefixes")
		for _, s := range ss {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", s.ID, s.Name.ZH, s.Kind, s.Origin, strings.Join(s.ClassPrefixes, ","))
		}
	case "categories":
		cs := cat.AppCategories()
		if asJSON {
			return writeJSON(w, cs)
		}
		fmt.Fprintln(tw, "编号 no\tkey\t类别 name\t必要个人信息 necessary PI")
		for _, c := range cs {
			var pis []string
			for _, n := range c.NecessaryPI {
				pis = append(pis, n.Name.ZH)
			}
			if c.NoPIRequired {
				pis = []string{"无须个人信息 / none"}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", c.ID, c.Key, c.Name.ZH, strings.Join(pis, "、"))
		}
	case "pi":
		ps := cat.PICategories()
		if asJSON {
			return writeJSON(w, ps)
		}
		fmt.Fprintln(tw, "ID\t名称 name\t敏感 Art.28")
		for _, p := range ps {
			fmt.Fprintf(tw, "%s\t%s\t%s\n", p.ID, p.Name.ZH, p.Sensitivity)
		}
	case "instruments":
		is := cat.Instruments()
		if asJSON {
			return writeJSON(w, is)
		}
		fmt.Fprintln(tw, "ID\t名称 title\t文号 doc no\t条目 articles")
		for _, i := range is {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%d\n", i.ID, i.Title.ZH, i.DocNo, len(i.Articles))
		}
	default:
		return usageErr("未知分区 / unknown section %q (violations|permissions|apis|sdks|categories|pi|instruments)", section)
	}
	return nil
}

func citations(cs []rules.Citation) string {
	var s []string
	for _, c := range cs {
		s = append(s, c.Instrument+":"+c.Article)
	}
	return strings.Join(s, " ")
}

func showEntry(w io.Writer, cat *rules.Catalogue, id string, asJSON bool) error {
	var v any
	if x, ok := cat.Violation(id); ok {
		v = x
	} else if x, ok := cat.Permission(id); ok {
		v = x
	} else if x, ok := cat.AppCategory(id); ok {
		v = x
	} else if x, ok := cat.PICategory(id); ok {
		v = x
	} else if x, ok := cat.SDK(id); ok {
		v = x
	} else {
		return exitErr{exitError, fmt.Errorf("目录中没有 / no catalogue entry %q (violation id, permission name, SDK id, category key or PI id)", id)}
	}
	if asJSON {
		return writeJSON(w, v)
	}
	if x, ok := v.(rules.Violation); ok {
		printViolation(w, cat, x)
		return nil
	}
	return writeJSON(w, v)
}

func printViolation(w io.Writer, cat *rules.Catalogue, v rules.Violation) {
	fmt.Fprintf(w, "%s  (v%d, %s, %s)\n%s\n%s\n\n", v.ID, v.Version, v.Severity, v.Check.Mode, v.Title.ZH, v.Title.EN)
	fmt.Fprintf(w, "%s\n%s\n\n法律依据 / legal basis:\n", v.Description.ZH, v.Description.EN)
	for _, c := range v.LegalBasis {
		text := ""
		if a, ok := cat.Article(c); ok {
			text = a.Text.ZH
		}
		fmt.Fprintf(w, "  %s:%s  %s\n", c.Instrument, c.Article, text)
	}
	if v.Caveat.ZH != "" {
		fmt.Fprintf(w, "\n局限 / caveat:\n  %s\n  %s\n", v.Caveat.ZH, v.Caveat.EN)
	}
	if v.Check.Mode == "manual" {
		fmt.Fprintln(w, "\n人工步骤 / manual steps:")
		for i, s := range v.Check.Steps {
			fmt.Fprintf(w, "  %d. %s / %s\n", i+1, s.ZH, s.EN)
		}
		fmt.Fprintln(w, "应记录的证据 / evidence to record:")
		for _, s := range v.Check.Evidence {
			fmt.Fprintf(w, "  - %s / %s\n", s.ZH, s.EN)
		}
	} else {
		fmt.Fprintf(w, "\n触发条件 / triggers: %d; 正例 / positive examples: %d; 反例 / negative examples: %d\n",
			len(v.Check.Triggers), len(v.Check.Examples.Positive), len(v.Check.Examples.Negative))
	}
	fmt.Fprintf(w, "核实状态 / verification: %s\n", v.Verification)
}

// importOverlay reads an import FILE with read, writes the overlay it returns to out under the data
// dir, and checks that the data dir's catalogue still loads with it; it returns read's statistics.
func importOverlay(dataDir, file, out string, read func(io.Reader) (rules.Overlay, any, error)) (any, error) {
	f, err := os.Open(file)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	ov, st, err := read(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", file, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return nil, err
	}
	if err := rules.SaveOverlay(out, ov); err != nil {
		return nil, err
	}
	if _, err := loadCatalogue(dataDir); err != nil {
		return nil, fmt.Errorf("imported overlay does not load: %w", err)
	}
	return st, nil
}
