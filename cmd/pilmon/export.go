package main

// Owned by the case-file work (issue 11): pilmon export and pilmon verify.

import (
	"bufio"
	"context"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/user"
	"path/filepath"
	"runtime/debug"
	"time"

	"pilmon/casefile"
	"pilmon/scanner"
	"pilmon/targets"
)

func runExport(ctx context.Context, env *cliEnv, args []string) error {
	var c config
	var fps multiFlag
	var targetID, caseID, draft, out, lang, tsa, who string
	var noPDF, jsonOut, withDismissed, withUntriaged bool
	fs := newFlagSet(env, "export", "(--case ID [--draft draft.docx] | --target ID [--include-untriaged] [--include-dismissed] | --finding FP …) --out case.zip [--lang zh|en] [--tsa URL]")
	c.register(fs)
	fs.StringVar(&targetID, "target", "", "导出该对象已分诊、未排除的发现 / export the triaged, not dismissed findings of this target")
	fs.StringVar(&caseID, "case", "", "导出该案件的案卷（仅本案发现，含封面、文书登记与期限）/ export the case file of this case (its findings only, with cover, register and deadlines)")
	fs.StringVar(&draft, "draft", "", "与 --case 一起：另写检察建议书草稿（DOCX）/ with --case: also write the draft 检察建议书 (DOCX) here")
	fs.Var(&fps, "finding", "导出该指纹的发现（可重复）/ export the finding with this fingerprint (repeatable)")
	fs.StringVar(&out, "out", "", "证据包文件 / the bundle to write (.zip)")
	fs.StringVar(&lang, "lang", "zh", "报告语言 zh|en / report language")
	fs.StringVar(&tsa, "tsa", os.Getenv("PILMON_TSA_URL"), "RFC 3161 时间戳服务网址（可选）/ RFC 3161 time-stamping authority URL (optional)")
	fs.StringVar(&who, "user", "", "导出人（默认当前系统用户）/ exporting user (default: the OS user)")
	fs.BoolVar(&noPDF, "no-pdf", false, "不生成 PDF 报告（无需 Chromium）/ leave out the PDF (no Chromium needed)")
	fs.BoolVar(&withUntriaged, "include-untriaged", false, "包括该对象未分诊（新）的发现 / include the target's untriaged (new) findings")
	fs.BoolVar(&withDismissed, "include-dismissed", false, "包括该对象已排除的发现 / include the target's dismissed findings")
	fs.BoolVar(&jsonOut, "json", false, "输出 JSON 摘要 / print the summary as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	c.apply(env)
	if len(pos) > 0 {
		return usageErr("多余的参数 / unexpected arguments %q", pos)
	}
	if caseID != "" && (targetID != "" || len(fps) > 0) {
		return usageErr("--case 不能与 --target/--finding 同用 / --case excludes --target and --finding")
	}
	if draft != "" && caseID == "" {
		return usageErr("--draft 需要 --case / --draft needs --case")
	}
	if targetID == "" && len(fps) == 0 && caseID == "" {
		fs.Usage()
		return usageErr("需要 --case、--target 或 --finding / --case, --target or --finding is required")
	}
	if out == "" {
		fs.Usage()
		return usageErr("需要 --out / --out is required")
	}
	if lang != "zh" && lang != "en" {
		return usageErr("--lang %q: 应为 zh 或 en / want zh or en", lang)
	}
	if who == "" {
		who = osUser()
	}
	if os.Getenv("GOMEMLIMIT") == "" {
		// Evidence streams and each report volume is dropped once written; a soft limit makes the
		// collector return that garbage promptly instead of letting the heap double between cycles.
		debug.SetMemoryLimit(160 << 20)
	}
	ev, err := openEvidence(c.dataDir, env.log)
	if err != nil {
		return err
	}
	key, err := casefile.LoadOrCreateKey(c.dataDir)
	if err != nil {
		return err
	}
	state, err := openState(ctx, env, c)
	if err != nil {
		return err
	}
	defer state.close()
	deps := casefile.Deps{Findings: state.store, Evidence: ev, Catalogue: state.cat, User: who,
		Target:  lookupTarget(ctx, state.reg, targetID),
		Options: casefile.Options{Key: key, SkipPDF: noPDF, Lang: lang, TSAURL: tsa, Tool: "pilmon " + version}}
	var sum casefile.Summary
	if caseID != "" {
		policy, err := c.casePolicy()
		if err != nil {
			return usageErr("%v", err)
		}
		deps.Target = nil
		lookup := func(ctx context.Context, id string) *scanner.Target { return lookupTarget(ctx, state.reg, id) }
		if sum, err = writeAtomically(out, func(w *bufio.Writer) (casefile.Summary, error) {
			return exportCase(ctx, w, state.store, deps, lookup, caseID, c.procuratorate, policy)
		}); err != nil {
			return err
		}
		if draft != "" {
			if _, err := writeAtomically(draft, func(w *bufio.Writer) (casefile.Summary, error) {
				return casefile.Summary{}, draftRecommendation(ctx, w, state.store, deps, lookup, caseID, c.procuratorate, policy)
			}); err != nil {
				return err
			}
		}
	} else if sum, err = writeAtomically(out, func(w *bufio.Writer) (casefile.Summary, error) {
		policy, err := c.casePolicy()
		if err != nil {
			return casefile.Summary{}, usageErr("%v", err)
		}
		if deps.Options.MemberOf, err = memberOf(ctx, state.store, c.procuratorate, policy, time.Now()); err != nil {
			return casefile.Summary{}, err
		}
		return casefile.Export(ctx, w, casefile.Selection{TargetID: targetID, Fingerprints: fps,
			IncludeUntriaged: withUntriaged, IncludeDismissed: withDismissed}, deps)
	}); err != nil {
		return err
	}
	if jsonOut {
		enc := json.NewEncoder(env.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		return enc.Encode(struct {
			Out string `json:"out"`
			casefile.Summary
		}{out, sum})
	}
	fmt.Fprintf(env.stdout, "已导出 / exported %s: %d 条发现 / findings, %d 件证据 / artifacts (%d bytes)\n", out, sum.Findings, sum.Evidence, sum.EvidenceBytes)
	fmt.Fprintf(env.stdout, "清单 SHA-256 / manifest sha256: %s\n", sum.ManifestSHA256)
	fmt.Fprintf(env.stdout, "签名公钥指纹 / signing key fingerprint: %s\n", casefile.GroupFingerprint(sum.PublicKeyFingerprint))
	if sum.Timestamped {
		fmt.Fprintf(env.stdout, "可信时间戳 / RFC 3161 timestamp: %s\n", sum.TimestampTime.Format("2006-01-02 15:04:05 UTC"))
	}
	return nil
}

// writeAtomically writes path through a temporary file in the same directory and renames it into
// place only when write succeeded, so a failed export never leaves a half bundle under that name.
func writeAtomically(path string, write func(*bufio.Writer) (casefile.Summary, error)) (casefile.Summary, error) {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, ".pilmon-export-*.zip")
	if err != nil {
		return casefile.Summary{}, fmt.Errorf("%s: %w", path, err)
	}
	ok := false
	defer func() {
		if !ok {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	bw := bufio.NewWriterSize(tmp, 1<<20)
	sum, err := write(bw)
	if err != nil {
		return sum, err
	}
	if err := bw.Flush(); err != nil {
		return sum, fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Sync(); err != nil {
		return sum, fmt.Errorf("%s: %w", path, err)
	}
	if err := tmp.Close(); err != nil {
		return sum, fmt.Errorf("%s: %w", path, err)
	}
	if err := os.Chmod(tmp.Name(), 0o600); err != nil {
		return sum, err
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return sum, fmt.Errorf("%s: %w", path, err)
	}
	ok = true
	return sum, nil
}

// lookupTarget reads the target's registry entry (name, operator) for the cover, when there is one.
func lookupTarget(ctx context.Context, reg *targets.Registry, id string) *scanner.Target {
	if id == "" {
		return nil
	}
	t, err := reg.Get(ctx, id)
	if err != nil {
		return &scanner.Target{ID: id}
	}
	return &t
}

func osUser() string {
	if u, err := user.Current(); err == nil && u.Username != "" {
		return u.Username
	}
	return os.Getenv("USER")
}

func runVerify(_ context.Context, env *cliEnv, args []string) error {
	var pubFile, tsaCA string
	var jsonOut bool
	fs := newFlagSet(env, "verify", "bundle.zip [--pubkey FILE] [--tsa-ca FILE] [--json]")
	fs.StringVar(&pubFile, "pubkey", "", "导出单位的公钥（PEM、hex 或 base64）/ the exporting office's public key (PEM, hex or base64)")
	fs.StringVar(&tsaCA, "tsa-ca", "", "时间戳机构的 CA 证书 PEM / CA certificates of the time-stamping authority (PEM)")
	fs.BoolVar(&jsonOut, "json", false, "输出 JSON / print the report as JSON")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 {
		fs.Usage()
		return usageErr("需要一个证据包 / exactly one bundle.zip is required")
	}
	var opts casefile.VerifyOptions
	if pubFile != "" {
		b, err := os.ReadFile(pubFile)
		if err != nil {
			return exitErr{exitError, err}
		}
		if opts.PublicKey, err = casefile.ParsePublicKey(b); err != nil {
			return exitErr{exitError, fmt.Errorf("%s: %w", pubFile, err)}
		}
	}
	if tsaCA != "" {
		b, err := os.ReadFile(tsaCA)
		if err != nil {
			return exitErr{exitError, err}
		}
		opts.TSARoots = x509.NewCertPool()
		if !opts.TSARoots.AppendCertsFromPEM(b) {
			return exitErr{exitError, fmt.Errorf("%s: no PEM certificate", tsaCA)}
		}
	}
	rep, err := casefile.VerifyFile(pos[0], opts)
	if err != nil {
		return exitErr{exitError, fmt.Errorf("%s: %w", pos[0], err)}
	}
	if jsonOut {
		enc := json.NewEncoder(env.stdout)
		enc.SetEscapeHTML(false)
		enc.SetIndent("", "  ")
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		printVerify(env, pos[0], rep)
	}
	if !rep.OK {
		return exitErr{exitError, errors.New(verifyFailed(len(rep.Problems)))}
	}
	return nil
}

func verifyFailed(n int) string {
	return fmt.Sprintf("校验失败：%d 个问题 / verification failed: %d problem(s)", n, n)
}

func printVerify(env *cliEnv, path string, rep *casefile.VerifyReport) {
	w := env.stdout
	if rep.OK {
		fmt.Fprintf(w, "校验通过 / verification OK: %s\n", path)
	} else {
		fmt.Fprintf(w, "校验失败 / verification FAILED: %s\n", path)
		for _, p := range rep.Problems {
			fmt.Fprintf(w, "  ✗ %s\n", p)
		}
	}
	fmt.Fprintf(w, "  对象 / target: %s  发现 / findings: %d  文件 / files: %d (%d bytes)\n", rep.Target, rep.Findings, rep.Files, rep.Bytes)
	fmt.Fprintf(w, "  导出 / exported: %s by %s\n", rep.CreatedAt, rep.ExportedBy)
	if rep.KeyFingerprint != "" {
		fmt.Fprintf(w, "  签名公钥指纹 / key fingerprint: %s\n", casefile.GroupFingerprint(rep.KeyFingerprint))
	}
	if !rep.KeyGiven {
		fmt.Fprintln(w, "  注意：未提供 --pubkey，使用包内公钥，只能证明包未被改动，不能证明签名者。/ note: no --pubkey; the bundle's own key proves integrity, not who signed it.")
	}
	if ts := rep.Timestamp; ts != nil {
		chain := "证书链未校验 / chain not checked (--tsa-ca)"
		if ts.ChainVerified {
			chain = "证书链已校验 / chain verified"
		}
		fmt.Fprintf(w, "  可信时间戳 / timestamp: %s, %s, %s\n", ts.GenTime.Format("2006-01-02 15:04:05 UTC"), ts.Signer, chain)
	}
}
