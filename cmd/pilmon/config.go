package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"

	"pilmon/cases"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
)

// config is the one configuration of pilmon: where its data lives, which Redis holds its state,
// the key prefix of everything in that Redis, and the folder local sources may come from. Every
// command registers the same flags (register) and reads it once (apply); commands pass it down
// and open the shared state with openState, so the dashboard, workers, the scheduler and the CLI
// see the same targets, findings and jobs.
//
//	flag           environment                          default
//	--data-dir     PILMON_DATA_DIR                      $XDG_DATA_HOME/pilmon or ~/.local/share/pilmon
//	--redis        PILMON_REDIS_URL (or PILMON_REDIS)   "" (an embedded redis-server in DATA/redis)
//	--redis-password-file  PILMON_REDIS_PASSWORD (the password itself)  the URL's
//	--prefix       PILMON_PREFIX                        store.DefaultPrefix ("pilmon:")
//	--import-root  PILMON_IMPORT_ROOT                   DATA/import
//	--reply-months PILMON_REPLY_MONTHS                  2 (the regulator's reply to a 检察建议)
//	--reply-days   PILMON_REPLY_DAYS                    0 (when set, replaces --reply-months: urgent cases)
//	--announcement-days PILMON_ANNOUNCEMENT_DAYS        30 (the 诉前公告 period)
//	--due-soon-days PILMON_DUE_SOON_DAYS                7 (a deadline shows 即将到期 this many days ahead)
//	--procuratorate PILMON_PROCURATORATE               "" (the 检察院 named on a case report's cover)
//	-v                                                  off
//
// A flag wins over its variable. An empty prefix means the default one.
type config struct {
	dataDir    string
	redis      string
	prefix     string
	importRoot string // as given; imports() resolves the default
	verbose    bool
	// redisPasswordFile holds the Redis password (first line); PILMON_REDIS_PASSWORD is the
	// password itself. Either keeps it off the command line, which every local user can read.
	redisPasswordFile string
	// deadlines are the periods of the case path (cases.Policy), checked by casePolicy.
	deadlines cases.Policy
	// procuratorate is the people's procuratorate a case report names on its cover (检察院).
	procuratorate string
}

func (c *config) register(fs *flag.FlagSet) {
	fs.StringVar(&c.dataDir, "data-dir", defaultDataDir(), "数据目录 / data directory (evidence, embedded Redis, keys) [$PILMON_DATA_DIR]")
	fs.StringVar(&c.redis, "redis", firstEnv("PILMON_REDIS_URL", "PILMON_REDIS"),
		"Redis URL; 为空时启动内置 redis-server / empty: start an embedded redis-server [$PILMON_REDIS_URL]")
	fs.StringVar(&c.redisPasswordFile, "redis-password-file", "",
		"Redis 密码文件（首行）；也可用 $PILMON_REDIS_PASSWORD / file whose first line is the Redis password (or $PILMON_REDIS_PASSWORD)")
	fs.StringVar(&c.prefix, "prefix", firstEnv("PILMON_PREFIX"),
		"Redis 键前缀（所有命令相同）/ Redis key prefix, the same for every command (default \""+store.DefaultPrefix+"\") [$PILMON_PREFIX]")
	fs.StringVar(&c.importRoot, "import-root", os.Getenv("PILMON_IMPORT_ROOT"),
		"本地来源所在的导入目录 / the folder local sources must live in (default DATA/import) [$PILMON_IMPORT_ROOT]")
	fs.BoolVar(&c.verbose, "v", false, "详细日志 / verbose logs")
	fs.StringVar(&c.procuratorate, "procuratorate", os.Getenv("PILMON_PROCURATORATE"),
		"案件报告封面上的检察院名称 / the procuratorate a case report names on its cover [$PILMON_PROCURATORATE]")
	d := cases.DefaultPolicy
	fs.IntVar(&c.deadlines.ReplyMonths, "reply-months", envInt("PILMON_REPLY_MONTHS", d.ReplyMonths),
		"检察建议回复期限（月）/ months a regulator has to reply to a 检察建议 [$PILMON_REPLY_MONTHS]")
	fs.IntVar(&c.deadlines.ReplyDays, "reply-days", envInt("PILMON_REPLY_DAYS", d.ReplyDays),
		"回复期限（日，紧急情况；非零时取代 --reply-months）/ reply period in days for urgent cases, replaces --reply-months when set [$PILMON_REPLY_DAYS]")
	fs.IntVar(&c.deadlines.AnnouncementDays, "announcement-days", envInt("PILMON_ANNOUNCEMENT_DAYS", d.AnnouncementDays),
		"诉前公告期限（日）/ days a pre-suit announcement runs [$PILMON_ANNOUNCEMENT_DAYS]")
	fs.IntVar(&c.deadlines.DueSoonDays, "due-soon-days", envInt("PILMON_DUE_SOON_DAYS", d.DueSoonDays),
		"期限前多少天显示“即将到期” / days before a deadline it shows as due soon [$PILMON_DUE_SOON_DAYS]")
}

// envInt reads an integer default from the environment; a value that does not parse is kept as
// -1 so that casePolicy refuses it by name instead of silently using the default.
func envInt(name string, def int) int {
	v := os.Getenv(name)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return -1
	}
	return n
}

// casePolicy returns the deadlines of the case path, validated.
func (c config) casePolicy() (cases.Policy, error) {
	if err := c.deadlines.Validate(); err != nil {
		return cases.Policy{}, fmt.Errorf("--reply-months/--reply-days/--announcement-days/--due-soon-days: %w", err)
	}
	return c.deadlines, nil
}

// apply takes effect after parsing. The data dir is made absolute here, once: paths under it are
// handed to child processes with other working directories (openssl, aapt, Chromium) and compared
// with import folders, which a relative "--data-dir .pilmon-demo" would break.
func (c *config) apply(env *cliEnv) {
	if abs, err := filepath.Abs(c.dataDir); err == nil {
		c.dataDir = abs
	}
	if c.importRoot != "" {
		if abs, err := filepath.Abs(c.importRoot); err == nil {
			c.importRoot = abs
		}
	}
	if c.prefix == "" {
		c.prefix = store.DefaultPrefix
	}
	if c.verbose {
		env.log = slog.New(slog.NewTextHandler(env.stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
}

// redisPassword returns the Redis password from --redis-password-file, else
// $PILMON_REDIS_PASSWORD, else "" (the URL's, if any).
func (c config) redisPassword() (string, error) {
	if c.redisPasswordFile == "" {
		return os.Getenv("PILMON_REDIS_PASSWORD"), nil
	}
	f, err := os.Open(c.redisPasswordFile)
	if err != nil {
		return "", fmt.Errorf("--redis-password-file: %w", err)
	}
	defer f.Close()
	b, err := io.ReadAll(io.LimitReader(f, 4097))
	if err != nil {
		return "", fmt.Errorf("--redis-password-file %s: %w", c.redisPasswordFile, err)
	}
	if len(b) > 4096 {
		return "", fmt.Errorf("--redis-password-file %s: longer than 4096 bytes", c.redisPasswordFile)
	}
	line, _, _ := strings.Cut(string(b), "\n")
	line = strings.TrimRight(line, "\r")
	if line == "" {
		return "", fmt.Errorf("--redis-password-file %s: empty first line", c.redisPasswordFile)
	}
	return line, nil
}

// imports is the import folder: --import-root, else DATA/import.
func (c config) imports() string {
	if c.importRoot != "" {
		return c.importRoot
	}
	return filepath.Join(c.dataDir, "import")
}

func firstEnv(names ...string) string {
	for _, n := range names {
		if v := os.Getenv(n); v != "" {
			return v
		}
	}
	return ""
}

func defaultDataDir() string {
	if d := os.Getenv("PILMON_DATA_DIR"); d != "" {
		return d
	}
	if d := os.Getenv("XDG_DATA_HOME"); d != "" {
		return filepath.Join(d, "pilmon")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "share", "pilmon")
	}
	return "pilmon-data"
}

// state is the shared state a command works on, opened from the configuration in one place: the
// rule catalogue, Redis, the findings store and the target registry, both under cfg.prefix.
type state struct {
	cfg   config
	cat   *rules.Catalogue
	store *store.Store
	reg   *targets.Registry
	// kinds are the source kinds of this build, as its inspectors declare them.
	kinds []scanner.KindSpec
	close func()
}

func openState(ctx context.Context, env *cliEnv, cfg config) (*state, error) {
	cat, err := loadCatalogue(cfg.dataDir)
	if err != nil {
		return nil, err
	}
	root := cfg.imports()
	if err := os.MkdirAll(root, 0o700); err != nil {
		return nil, fmt.Errorf("import folder: %w", err)
	}
	rdb, stop, err := openRedis(ctx, env, cfg)
	if err != nil {
		return nil, err
	}
	st := store.NewStore(rdb, cfg.prefix)
	// The registry accepts the source kinds the inspectors of this build declare.
	topts := targets.Options{ImportRoot: root, Catalogue: cat, Kinds: pipeline.Kinds(cat)}
	reg := targets.New(st, topts)
	if cfg.prefix == store.DefaultPrefix {
		adoptUnprefixedTargets(ctx, env, targets.New(st.Unprefixed(), topts), reg)
	}
	if n, err := st.MigrateChecklistLogs(ctx); err != nil {
		stop()
		return nil, err
	} else if n > 0 {
		env.log.Info("moved checklist logs to their own key namespace 已迁移检查清单记录", "count", n)
	}
	return &state{cfg: cfg, cat: cat, store: st, reg: reg, kinds: topts.Kinds, close: stop}, nil
}

// adoptUnprefixedTargets moves the targets earlier versions of pilmon serve kept without the key
// prefix (the dashboard's registry had none while the CLI's had the default one) into the
// registry every command now shares. A target already in the shared registry wins; one that does
// not validate here (another import folder) stays where it was, with a warning.
func adoptUnprefixedTargets(ctx context.Context, env *cliEnv, legacy, reg *targets.Registry) {
	old, err := legacy.List(ctx)
	if err != nil || len(old) == 0 {
		return
	}
	for _, t := range old {
		if _, err := reg.Get(ctx, t.ID); errors.Is(err, targets.ErrNotFound) {
			if _, err := reg.Put(ctx, t); err != nil {
				env.log.Warn("target kept under the old key 旧键下的对象未迁移", "target", t.ID, "err", err)
				continue
			}
		} else if err != nil {
			return
		}
		if _, err := legacy.Delete(ctx, t.ID); err != nil {
			return
		}
		env.log.Info("target moved under the key prefix 对象已迁移", "target", t.ID)
	}
}
