package main

// Owned by the privacy-policy work (issue 5): versions of a policy and what changed between them.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"path/filepath"
	"strings"
	"time"

	"pilmon/evidence"
	"pilmon/policies"
)

func runPolicy(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "history URL [--json] | diff A B [--json]   (A, B: SHA-256 of a stored capture, or a file)"
	if len(args) == 0 {
		return usageErr("用法 / usage: pilmon policy %s", usage)
	}
	sub, args := args[0], args[1:]
	var common config
	var asJSON bool
	fs := newFlagSet(env, "policy "+sub, usage)
	common.register(fs)
	fs.BoolVar(&asJSON, "json", false, "输出规范 JSON / canonical JSON output")
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	common.apply(env)
	switch sub {
	case "history":
		if len(pos) != 1 {
			return usageErr("用法 / usage: pilmon policy history URL")
		}
		return policyHistory(ctx, env, common.dataDir, pos[0], asJSON)
	case "diff":
		if len(pos) != 2 {
			return usageErr("用法 / usage: pilmon policy diff A B")
		}
		return policyDiff(env, common.dataDir, pos[0], pos[1], asJSON)
	default:
		return usageErr("未知子命令 / unknown subcommand %q; usage: pilmon policy %s", sub, usage)
	}
}

// openEvidence makes the data dir private (secureDataDir) and opens its evidence store with the
// installation's seal key, DATA/keys/evidence-seal.key: outside the evidence folder, so that
// whoever can edit sidecars there cannot reseal them. When the key is created, the sidecars
// already stored (sealed without a key by an older pilmon) are sealed with it once, and the log
// says how many; from then on a sidecar without the key's seal is refused.
func openEvidence(dataDir string, log *slog.Logger) (*evidence.Store, error) {
	if err := secureDataDir(dataDir, log); err != nil {
		return nil, err
	}
	key, created, err := evidence.LoadOrCreateSealKey(filepath.Join(dataDir, "keys", sealKeyFile))
	if err != nil {
		return nil, err
	}
	st, err := evidence.Open(filepath.Join(dataDir, "evidence"), evidence.Options{Tool: "pilmon " + version, SealKey: key})
	if err != nil {
		return nil, fmt.Errorf("evidence store: %w", err)
	}
	if created {
		n, err := st.Reseal(context.Background())
		if n > 0 {
			log.Warn("已用新生成的封存密钥封存既有证据记录 / sealed the existing evidence records with the new seal key",
				"records", n, "key", evidence.SealKeyID(key))
		}
		if err != nil {
			log.Error("某些证据记录未能封存，读取时将报错 / some evidence records could not be sealed and will fail when read", "err", err)
		}
	}
	return st, nil
}

// sealKeyFile is the evidence seal key's name in DATA/keys.
const sealKeyFile = "evidence-seal.key"

func policyHistory(ctx context.Context, env *cliEnv, dataDir, source string, asJSON bool) error {
	st, err := openEvidence(dataDir, env.log)
	if err != nil {
		return err
	}
	versions, err := policies.History(ctx, st, source)
	if err != nil {
		if versions == nil {
			return err
		}
		// Unreadable records do not hide the readable ones; say so and go on.
		env.log.Warn("部分证据无法读取 / some evidence could not be read", "err", err)
	}
	if asJSON {
		return writeCanonicalJSON(env.stdout, struct {
			Source   string             `json:"source"`
			Versions []policies.Version `json:"versions"`
		}{source, append([]policies.Version{}, versions...)})
	}
	if len(versions) == 0 {
		fmt.Fprintf(env.stdout, "未找到 %s 的采集记录 / no captures of %s in %s\n", source, source, st.Dir())
		return nil
	}
	fmt.Fprintf(env.stdout, "%s：%d 次采集 / %d captures\n", source, len(versions), len(versions))
	fmt.Fprintf(env.stdout, "%-20s  %-64s  %10s  %s\n", "采集时间 / captured (UTC)", "SHA-256", "字节 / bytes", "方式 / method")
	prev := ""
	for _, v := range versions {
		mark := ""
		if prev != "" && v.SHA256 != prev {
			mark = "  * 有变化 / changed"
		}
		prev = v.SHA256
		fmt.Fprintf(env.stdout, "%-20s  %-64s  %10d  %s%s\n", v.CapturedAt.Format(time.RFC3339), v.SHA256, v.Size, v.Method, mark)
	}
	return nil
}

func policyDiff(env *cliEnv, dataDir, a, b string, asJSON bool) error {
	cat, err := loadCatalogue(dataDir)
	if err != nil {
		return err
	}
	st, err := openEvidence(dataDir, env.log)
	if err != nil {
		return err
	}
	old, err := policies.Load(st, a, cat)
	if err != nil {
		return err
	}
	nw, err := policies.Load(st, b, cat)
	if err != nil {
		return err
	}
	d := policies.DiffVersions(old, nw)
	if asJSON {
		return writeCanonicalJSON(env.stdout, d)
	}
	writeDiffText(env.stdout, d)
	return nil
}

// writeCanonicalJSON: fixed field order, no HTML escaping, two-space indent, trailing newline.
func writeCanonicalJSON(w io.Writer, v any) error {
	var buf bytes.Buffer
	enc := json.NewEncoder(&buf)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		return err
	}
	_, err := w.Write(buf.Bytes())
	return err
}

var changeLabel = map[string]string{
	"added":   "新增 / added",
	"removed": "删除 / removed",
	"changed": "修改 / changed",
}

func describeVersion(l *policies.Loaded) string {
	s := l.Ref
	if l.SHA256 != "" && l.SHA256 != l.Ref {
		s += " (sha256 " + l.SHA256[:16] + "…)"
	}
	if l.Source != "" {
		s += " " + l.Source
	}
	if !l.CapturedAt.IsZero() {
		s += " @ " + l.CapturedAt.Format(time.RFC3339)
	}
	return s
}

func writeDiffText(w io.Writer, d policies.VersionDiff) {
	fmt.Fprintf(w, "旧版 / old: %s\n新版 / new: %s\n", describeVersion(d.Old), describeVersion(d.New))
	if d.Old.SHA256 == d.New.SHA256 {
		fmt.Fprintln(w, "\n两个版本内容相同 / the two versions are byte-identical")
		return
	}
	fmt.Fprintf(w, "\n章节变化 / sections: %d\n", len(d.Sections))
	for _, s := range d.Sections {
		heading := s.Heading
		if heading == "" {
			heading = "（无标题 / untitled）"
		}
		fmt.Fprintf(w, "\n== %s  [%s]\n", heading, changeLabel[s.Change])
		removed, added := policies.LineChanges(s.Old, s.New)
		for _, l := range removed {
			fmt.Fprintf(w, "  - %s\n", l)
		}
		for _, l := range added {
			fmt.Fprintf(w, "  + %s\n", l)
		}
	}
	if len(d.Elements) > 0 {
		fmt.Fprintf(w, "\n法定要素变化 / mandated elements:\n")
		for _, e := range d.Elements {
			state := func(el policies.Element) string {
				if el.Present {
					return "有 / present"
				}
				return "无 / missing"
			}
			fmt.Fprintf(w, "  %-22s %s → %s\n", e.Element, state(e.Old), state(e.New))
			if e.New.Present && e.New.Quote != e.Old.Quote {
				fmt.Fprintf(w, "  %-22s 「%s」\n", "", e.New.Quote)
			}
		}
	}
	if len(d.PIAdded) > 0 || len(d.PIGone) > 0 {
		fmt.Fprintf(w, "\n声明的个人信息 / PI declared: 新增 / added [%s]; 删除 / removed [%s]\n",
			strings.Join(d.PIAdded, ", "), strings.Join(d.PIGone, ", "))
	}
}
