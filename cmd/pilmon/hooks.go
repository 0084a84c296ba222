package main

// Owned by the runtime-evidence work (issue 20): the Frida script an analyst runs on a test phone.

import (
	"context"
	"fmt"
	"os"
	"strings"

	"pilmon/hooks"
)

func runHooks(ctx context.Context, env *cliEnv, args []string) error {
	const usage = "script [-o FILE] [--consent-words W,…] [--refusal-words W,…] [--redact] [--console] | plan [--json]"
	if len(args) == 0 {
		return usageErr("用法 / usage: pilmon hooks %s", usage)
	}
	sub, args := args[0], args[1:]
	var common config
	var out, consent, refusal string
	var redact, console, asJSON bool
	fs := newFlagSet(env, "hooks "+sub, usage)
	common.register(fs)
	switch sub {
	case "script":
		fs.StringVar(&out, "o", "", "写入文件（默认标准输出）/ write to FILE (default stdout)")
		fs.StringVar(&consent, "consent-words", "", "同意按钮文字，逗号分隔 / consent button labels, comma-separated")
		fs.StringVar(&refusal, "refusal-words", "", "拒绝按钮文字，逗号分隔 / refusal button labels, comma-separated")
		fs.BoolVar(&redact, "redact", false, "参数与返回值只记 SHA-256 / record arguments and return values as SHA-256 only")
		fs.BoolVar(&console, "console", false, "同时 console.log 每行 / also console.log every line")
	case "plan":
		fs.BoolVar(&asJSON, "json", false, "输出 JSON / JSON output")
	default:
		return usageErr("未知子命令 / unknown subcommand %q; usage: pilmon hooks %s", sub, usage)
	}
	pos, err := parseFlags(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 0 {
		return usageErr("用法 / usage: pilmon hooks %s", usage)
	}
	common.apply(env)
	cat, err := loadCatalogue(common.dataDir)
	if err != nil {
		return err
	}
	words := func(s string) []string {
		var ws []string
		for _, w := range strings.Split(s, ",") {
			if w = strings.TrimSpace(w); w != "" {
				ws = append(ws, w)
			}
		}
		return ws
	}
	src, plan, err := hooks.Script(cat, hooks.Options{ConsentWords: words(consent), RefusalWords: words(refusal), Redact: redact, Console: console})
	if err != nil {
		return err
	}
	switch sub {
	case "script":
		if out == "" {
			_, err = env.stdout.Write(src)
			return err
		}
		if err := os.WriteFile(out, src, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(env.stderr, "已写入 / wrote %s: %d 个 API、%d 个挂钩方法 / %d APIs, %d hooked methods\n",
			out, len(plan.Covered()), len(plan.Hooks), len(plan.Covered()), len(plan.Hooks))
		return nil
	case "plan":
		if asJSON {
			return writeJSON(env.stdout, plan)
		}
		for _, h := range plan.Hooks {
			ov := "(*)"
			if h.Overload != nil {
				ov = "(" + strings.Join(h.Overload, ", ") + ")"
			}
			var ids []string
			for _, e := range h.Entries {
				id := e.API
				if len(e.ArgContains) > 0 {
					id += " [" + strings.Join(e.ArgContains, " | ") + "]"
				}
				ids = append(ids, id)
			}
			fmt.Fprintf(env.stdout, "%s.%s%s\t%s\n", h.Class, h.Method, ov, strings.Join(ids, ", "))
		}
		for _, s := range plan.Skipped {
			fmt.Fprintf(env.stdout, "未挂钩 / not hooked\t%s\t%s\t%s\n", s.API, s.Descriptor, s.Reason)
		}
	}
	return nil
}
