// Command pilmon is the one binary of pilmon: scanners, workers, the dashboard, exports.
//
// Exit codes:
//
//	0  success
//	1  runtime error (a file could not be read, Redis unreachable, …)
//	2  usage error (unknown command or flag, missing argument)
//	3  reserved (not used)
//	4  a scan finished but at least one source failed or was only partly inspected
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
)

// version is set at build time with -ldflags "-X main.version=…".
var version = "0.1.0-dev"

const (
	exitOK    = 0
	exitError = 1
	exitUsage = 2
	// 3 was "not available in this build" while commands were being written; it is kept unused
	// so that 4 keeps its meaning for scripts.
	exitPartial = 4
)

// exitErr carries an exit code through a command's error return.
type exitErr struct {
	code int
	err  error
}

func (e exitErr) Error() string { return e.err.Error() }
func (e exitErr) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return exitErr{exitUsage, fmt.Errorf(format, a...)}
}

// command is one subcommand. run receives the arguments after the command name.
type command struct {
	name    string
	summary string // zh / en
	run     func(ctx context.Context, env *cliEnv, args []string) error
}

// cliEnv is what every command shares: output streams and the logger.
type cliEnv struct {
	stdout, stderr io.Writer
	stdin          io.Reader
	log            *slog.Logger
}

func commands() []command {
	return []command{
		{"scan", "扫描 APK、小程序、隐私政策、HAR / scan APKs, mini-programs, policies, HAR", runScan},
		{"policy", "隐私政策版本 diff|history / privacy-policy versions", runPolicy},
		{"hooks", "测试手机运行时挂钩脚本 script|plan / the Frida script for test phones", runHooks},
		{"rules", "规则目录 list|show|validate|import-exodus|import-libchecker / the rule catalogue", runRules},
		{"serve", "启动看板（含内置 Redis 与工作进程）/ serve the dashboard", runServe},
		{"worker", "扫描工作进程 / scan worker", runWorker},
		{"schedule", "定时扫描 / scheduled scans", runSchedule},
		{"target", "监测对象 add|list|show|rm|import / targets registry", runTarget},
		{"export", "导出案卷 / export a case file", runExport},
		{"verify", "校验证据包 / verify an evidence bundle", runVerify},
		{"user", "用户管理 add|passwd|disable / user accounts", runUser},
		{"demo", "演示：内置 Redis + 生成的样本 / demo with generated samples", runDemo},
		{"version", "版本 / version", func(_ context.Context, env *cliEnv, _ []string) error {
			fmt.Fprintf(env.stdout, "pilmon %s\n", version)
			return nil
		}},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	code := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	env := &cliEnv{stdout: stdout, stderr: stderr, stdin: stdin,
		log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printUsage(stdout)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	for _, c := range commands() {
		if c.name != args[0] {
			continue
		}
		err := c.run(ctx, env, args[1:])
		if err == nil {
			return exitOK
		}
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		fmt.Fprintf(stderr, "pilmon %s: %v\n", c.name, err)
		var ee exitErr
		if errors.As(err, &ee) {
			return ee.code
		}
		return exitError
	}
	fmt.Fprintf(stderr, "pilmon: 未知命令 / unknown command %q\n\n", args[0])
	printUsage(stderr)
	return exitUsage
}

func printUsage(w io.Writer) {
	fmt.Fprintf(w, "pilmon %s — 个人信息保护公益诉讼线索监测 / public-interest-litigation monitor\n\n用法 / usage: pilmon <command> [flags]\n\n", version)
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-9s %s\n", c.name, c.summary)
	}
	fmt.Fprintln(w, "\n每个命令的参数 / flags of a command: pilmon <command> -h")
	fmt.Fprintln(w, "退出码 / exit codes: 0 ok, 1 error, 2 usage, 3 not yet available, 4 scan partly failed")
}

func newFlagSet(env *cliEnv, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet("pilmon "+name, flag.ContinueOnError)
	fs.SetOutput(env.stderr)
	fs.Usage = func() {
		fmt.Fprintf(env.stderr, "用法 / usage: pilmon %s %s\n", name, usage)
		fs.PrintDefaults()
	}
	return fs
}

// parseFlags parses flags that may appear before or after positional arguments.
func parseFlags(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, exitErr{exitUsage, err}
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
		if len(args) == 0 || !strings.HasPrefix(args[0], "-") {
			// keep consuming positionals until the next flag
			for len(args) > 0 && !strings.HasPrefix(args[0], "-") {
				pos = append(pos, args[0])
				args = args[1:]
			}
			if len(args) == 0 {
				return pos, nil
			}
		}
	}
}
