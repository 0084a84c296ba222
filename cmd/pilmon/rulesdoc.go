package main

import (
	"bufio"
	"fmt"
	"io"
	"strings"

	"pilmon/rules"
)

// writeRulesDoc writes the rule reference of the user guide (docs/zh/rules.md, docs/en/rules.md):
// every violation of the catalogue with its title, severity, legal basis with the article text,
// whether it is checked automatically or by hand, and its caveat or manual steps. The output
// depends on the catalogue only (no dates, no versions of the binary), so a test can tell when the
// committed guide is stale.
func writeRulesDoc(out io.Writer, cat *rules.Catalogue, lang string) error {
	w := bufio.NewWriter(out)
	zh := lang == "zh"
	t := func(x rules.Text) string {
		if zh || x.EN == "" {
			return docLine(x.ZH)
		}
		return docLine(x.EN)
	}
	L := func(zhs, ens string) string {
		if zh {
			return zhs
		}
		return ens
	}
	vs := cat.Violations()
	if zh {
		fmt.Fprintln(w, "# 规则参考")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "> 本文件由 `pilmon rules doc --lang zh > docs/zh/rules.md` 从内置规则目录（`rules/data/`）生成，请勿手工编辑；")
		fmt.Fprintln(w, "> 目录变更后重新生成，`make test` 会在文件过期时失败。English: [../en/rules.md](../en/rules.md)。")
	} else {
		fmt.Fprintln(w, "# Rule reference")
		fmt.Fprintln(w)
		fmt.Fprintln(w, "> Generated from the embedded rule catalogue (`rules/data/`) by `pilmon rules doc --lang en > docs/en/rules.md`;")
		fmt.Fprintln(w, "> do not edit by hand. `make test` fails when this file is stale. 中文：[../zh/rules.md](../zh/rules.md).")
	}
	fmt.Fprintln(w)
	counts := map[string]map[string]int{}
	for _, v := range vs {
		if counts[string(v.Severity)] == nil {
			counts[string(v.Severity)] = map[string]int{}
		}
		counts[string(v.Severity)][v.Check.Mode]++
	}
	fmt.Fprintln(w, L(
		"每条规则说明：标题、严重程度、法律依据（条文原文；未经核实的条文已标明）、检查方式（自动：由扫描观察到的事实触发；人工：需在测试手机上按步骤核查）、局限或人工步骤。线索页面显示同样的内容。",
		"Each rule gives its title, severity, legal basis (with the article text; wording not verified against the source says so), how it is checked (automated: fired by facts a scan observed; manual: steps an analyst follows on a test phone) and its caveat or manual steps. A finding's page shows the same."))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| %s | %s | %s |\n|---|---|---|\n", L("严重程度", "severity"), L("自动", "automated"), L("人工", "manual"))
	for _, s := range []string{"critical", "high", "medium", "low", "info"} {
		if c, ok := counts[s]; ok {
			fmt.Fprintf(w, "| %s | %d | %d |\n", severityLabel(s, zh), c["automated"], c["manual"])
		}
	}
	fmt.Fprintln(w)
	writeInstruments(w, cat, lang)
	fmt.Fprintf(w, "## %s\n\n", L("目录", "Index"))
	fmt.Fprintf(w, "| ID | %s | %s | %s |\n|---|---|---|---|\n", L("标题", "title"), L("严重程度", "severity"), L("方式", "check"))
	for _, v := range vs {
		fmt.Fprintf(w, "| [%s](#%s) | %s | %s | %s |\n", v.ID, anchor(v.ID), mdCell(t(v.Title)), severityLabel(string(v.Severity), zh), modeLabel(v.Check.Mode, zh))
	}
	fmt.Fprintln(w)
	for _, v := range vs {
		fmt.Fprintf(w, "## %s\n\n", v.ID)
		fmt.Fprintf(w, "**%s**\n\n", t(v.Title))
		fmt.Fprintf(w, "- %s：%s\n", L("严重程度", "Severity"), severityLabel(string(v.Severity), zh))
		fmt.Fprintf(w, "- %s：%s\n", L("检查方式", "Check"), modeLabel(v.Check.Mode, zh))
		fmt.Fprintf(w, "- %s：%d · %s：%s\n\n", L("版本", "Version"), v.Version, L("核实状态", "Verification"), v.Verification)
		if d := t(v.Description); d != "" {
			fmt.Fprintf(w, "%s\n\n", d)
		}
		fmt.Fprintf(w, "%s\n\n", L("**法律依据**（第一项为主要依据）", "**Legal basis** (the first is the anchor)"))
		for _, c := range v.LegalBasis {
			head := cat.CiteLabel(c, lang)
			if ins, ok := cat.Instrument(c.Instrument); ok {
				if a, ok := cat.Article(c); ok {
					from, to, ok := rules.ArticleSpan(ins, a)
					head += " · " + rules.LevelName(ins.Level, lang) + " · " + rules.SpanLabel(from, to, ok, lang)
				}
			}
			if a, ok := cat.Article(c); ok {
				fmt.Fprintf(w, "- %s\n\n  > %s\n\n", head, t(a.Text))
			} else {
				fmt.Fprintf(w, "- %s\n\n", head)
			}
		}
		if v.Check.Mode == "manual" {
			fmt.Fprintf(w, "%s\n\n", L("**人工核查步骤**", "**Manual steps**"))
			for i, s := range v.Check.Steps {
				fmt.Fprintf(w, "%d. %s\n", i+1, t(s))
			}
			fmt.Fprintln(w)
			if len(v.Check.Evidence) > 0 {
				fmt.Fprintf(w, "%s\n\n", L("**应记录的证据**", "**Evidence to record**"))
				for _, s := range v.Check.Evidence {
					fmt.Fprintf(w, "- %s\n", t(s))
				}
				fmt.Fprintln(w)
			}
		} else {
			var kinds []string
			for _, tr := range v.Check.Triggers {
				if !containsStr(kinds, tr.Kind) {
					kinds = append(kinds, tr.Kind)
				}
			}
			fmt.Fprintf(w, "%s：`%s`\n\n", L("**触发观察**", "**Triggered by**"), strings.Join(kinds, "`, `"))
		}
		if c := t(v.Caveat); c != "" {
			fmt.Fprintf(w, "%s：%s\n\n", L("**局限**", "**Caveat**"), c)
		}
	}
	return w.Flush()
}

func severityLabel(s string, zh bool) string {
	if !zh {
		return s
	}
	m := map[string]string{"critical": "严重 critical", "high": "高 high", "medium": "中 medium", "low": "低 low", "info": "提示 info"}
	if l, ok := m[s]; ok {
		return l
	}
	return s
}

func modeLabel(m string, zh bool) string {
	switch {
	case zh && m == "automated":
		return "自动"
	case zh && m == "manual":
		return "人工（测试手机）"
	case m == "manual":
		return "manual (test phone)"
	}
	return m
}

// citeLabel names an article: 《…》第十三条-style numbering is left to the reader; a plain number
// is an article (第 N 条 / Art. N), anything else a clause or item.
// writeInstruments lists every instrument with its level and in-force dates, and the articles of
// an amended instrument with their own intervals (the Cybersecurity Law's two numberings).
func writeInstruments(w io.Writer, cat *rules.Catalogue, lang string) {
	zh := lang == "zh"
	L := func(zhs, ens string) string {
		if zh {
			return zhs
		}
		return ens
	}
	fmt.Fprintf(w, "## %s\n\n", L("法律文件", "Instruments"))
	fmt.Fprintln(w, L("发现只引用其 as_of（取证时间、文件自述日期、分析人员指定日期或扫描时间）时有效的条文；推荐性国家标准仅供参考，平台规则不是法律，征求意见稿只作趋势展示、从不作为依据。",
		"A finding cites only the articles in force at its as_of (capture time, the date a document states, the analyst's date or the scan time); recommended standards are for reference, platform rules are not law, and a draft for comment is shown as a trend and never cited."))
	fmt.Fprintln(w)
	fmt.Fprintf(w, "| ID | %s | %s | %s | %s |\n|---|---|---|---|---|\n", L("名称", "title"), L("层级", "level"), L("效力", "in force"), L("核实状态", "verification"))
	for _, in := range cat.Instruments() {
		title := in.Title.ZH
		if !zh {
			title = in.Title.EN
		}
		from, to, ok := in.Span()
		span := rules.SpanLabel(from, to, ok, lang)
		if in.Level == rules.LevelDraft && in.Published != "" {
			span = L(in.Published+" 公布征求意见，未生效", "published for comment "+in.Published+", not in force")
		}
		fmt.Fprintf(w, "| %s | %s | %s | %s | %s |\n", in.ID, mdCell(title), rules.LevelName(in.Level, lang), span, mdCell(in.Verification))
	}
	fmt.Fprintln(w)
	for _, in := range cat.Instruments() {
		var rows []string
		for _, a := range in.Articles {
			if a.Version == "" && a.InForce == nil {
				continue
			}
			from, to, ok := rules.ArticleSpan(in, a)
			row := fmt.Sprintf("| %s | %s | %s |", a.Label(), rules.SpanLabel(from, to, ok, lang), mdCell(a.Verification))
			if a.Replaces != "" {
				row = fmt.Sprintf("| %s ← %s | %s | %s |", a.Label(), strings.Replace(a.Replaces, "@", " (", 1)+")", rules.SpanLabel(from, to, ok, lang), mdCell(a.Verification))
			}
			rows = append(rows, row)
		}
		if len(rows) == 0 {
			continue
		}
		title := in.Title.ZH
		if !zh {
			title = in.Title.EN
		}
		fmt.Fprintf(w, "### %s: %s\n\n", in.ID, title)
		fmt.Fprintf(w, "| %s | %s | %s |\n|---|---|---|\n", L("条", "article"), L("效力", "in force"), L("核实状态", "verification"))
		for _, r := range rows {
			fmt.Fprintln(w, r)
		}
		fmt.Fprintln(w)
	}
}

// anchor is the GitHub-style heading anchor of an id heading.
func anchor(id string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(id) {
		if r == '-' || r == '_' || (r >= 'a' && r <= 'z') || (r >= '0' && r <= '9') {
			b.WriteRune(r)
		}
	}
	return b.String()
}

func docLine(s string) string { return strings.Join(strings.Fields(s), " ") }

func mdCell(s string) string { return strings.ReplaceAll(s, "|", "\\|") }

func containsStr(xs []string, s string) bool {
	for _, x := range xs {
		if x == s {
			return true
		}
	}
	return false
}
