package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/labstack/echo/v5"

	"pilmon/accounts"
	"pilmon/casefile"
	"pilmon/cases"
	"pilmon/evidence"
	"pilmon/pipeline"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
	"pilmon/targets"
	"pilmon/web"
	"pilmon/worker"
)

// runServe starts the dashboard: the embedded Redis (or --redis), the evidence store, the target
// registry and the web server. On a first start with no users it creates "admin" with a random
// password printed once.
func runServe(ctx context.Context, env *cliEnv, args []string) error {
	var cfg config
	fs := newFlagSet(env, "serve", "[--listen ADDR] [--data-dir DIR] [--redis URL] [--prefix P] [--import-root DIR] [--tls-cert FILE --tls-key FILE] [--workers N]")
	cfg.register(fs)
	listen := fs.String("listen", "127.0.0.1:8080", "监听地址 / listen address")
	tlsCert := fs.String("tls-cert", "", "TLS 证书 PEM / TLS certificate (PEM)")
	tlsKey := fs.String("tls-key", "", "TLS 私钥 PEM / TLS key (PEM)")
	workers := fs.Int("workers", 2, "进程内扫描工作协程数，0 为不启动 / in-process scan workers (0: none)")
	proxies := fs.String("trusted-proxy", os.Getenv("PILMON_TRUSTED_PROXIES"),
		"可信反向代理地址或网段（逗号分隔），仅其 X-Forwarded-For/X-Real-IP 被采信 / trusted reverse proxies (IPs or CIDRs, comma-separated): only their X-Forwarded-For / X-Real-IP are believed [$PILMON_TRUSTED_PROXIES]")
	hashers := fs.Int("login-hashers", accounts.DefaultHashLimits.Concurrent,
		"同时进行的密码哈希数（每个 64 MiB）/ concurrent password hashes (64 MiB each)")
	maxUpload := fs.Int64("max-upload", 1024, "单个上传文件上限（MiB）/ largest uploaded file, MiB")
	uploadQuota := fs.Int64("upload-quota", 20480, "每个用户的上传总量上限（MiB），0 为不限 / bytes one user may upload in total, MiB (0: no quota)")
	if _, err := parseFlags(fs, args); err != nil {
		return err
	}
	cfg.apply(env)
	if (*tlsCert == "") != (*tlsKey == "") {
		return usageErr("--tls-cert 与 --tls-key 须同时给出 / give both --tls-cert and --tls-key")
	}
	if *workers < 0 || *workers > 256 {
		return usageErr("--workers: 0-256")
	}
	if *hashers < 1 || *hashers > 64 {
		return usageErr("--login-hashers: 1-64")
	}
	trusted, err := parseProxies(*proxies)
	if err != nil {
		return usageErr("--trusted-proxy: %v", err)
	}
	// 1 TiB in MiB: far above any disk pilmon runs on, far below an overflow of the byte count.
	const maxMiB = 1 << 20
	if *maxUpload < 1 || *maxUpload > maxMiB {
		return usageErr("--max-upload: 1-%d MiB", maxMiB)
	}
	if *uploadQuota < 0 || *uploadQuota > maxMiB {
		return usageErr("--upload-quota: 0-%d MiB", maxMiB)
	}
	deadlines, err := cfg.casePolicy()
	if err != nil {
		return usageErr("%v", err)
	}
	uploadDir := filepath.Join(cfg.imports(), "uploads")
	// Uploads are evidence copies (personal data): private, like the data dir, also when the
	// import root lies outside it.
	if err := os.MkdirAll(uploadDir, 0o700); err != nil {
		return err
	}
	if n, err := tightenTree(uploadDir); err != nil {
		return err
	} else if n > 0 {
		env.log.Warn("收紧了上传目录的权限 / took group and other permissions off the upload folder", "dir", uploadDir, "entries", n)
	}
	state, err := openState(ctx, env, cfg)
	if err != nil {
		return err
	}
	defer state.close()
	st, cat, reg := state.store, state.cat, state.reg
	ev, err := openEvidence(cfg.dataDir, env.log)
	if err != nil {
		return err
	}
	exp, err := newExporter(cfg.dataDir, st, ev, cat, reg, cfg.procuratorate, deadlines)
	if err != nil {
		return err
	}
	srv, err := web.New(web.Config{
		Store: st, Evidence: ev, Catalogue: cat, Targets: reg, Logger: env.log, TLS: *tlsCert != "",
		Export: exp, UploadDir: uploadDir, Version: version, Kinds: state.kinds,
		TrustedProxies: trusted, Hashing: accounts.HashLimits{Concurrent: *hashers},
		MaxUpload: *maxUpload << 20, UploadQuota: *uploadQuota << 20, Deadlines: deadlines,
	})
	if err != nil {
		return err
	}
	pw, created, err := srv.Accounts().EnsureAdmin(ctx)
	if err != nil {
		return err
	}
	if created {
		fmt.Fprintf(env.stdout, "已创建管理员账号 admin，初始密码（只显示这一次）/ created user admin, initial password (shown once):\n\n    %s\n\n", pw)
	}
	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	go srv.Run(runCtx)
	stopWorkers, err := startInProcessWorkers(runCtx, env, st, reg, ev, cat, *workers)
	if err != nil {
		return err
	}
	defer stopWorkers()

	scheme := "http"
	if *tlsCert != "" {
		scheme = "https"
	}
	sc := echo.StartConfig{
		Address: *listen, HideBanner: true, HidePort: true, GracefulTimeout: 10 * time.Second,
		ListenerAddrFunc: func(a net.Addr) {
			fmt.Fprintf(env.stdout, "看板 / dashboard: %s://%s/\n", scheme, a.String())
		},
		BeforeServeFunc: func(s *http.Server) error {
			s.ReadHeaderTimeout = 10 * time.Second
			s.IdleTimeout = 120 * time.Second
			s.MaxHeaderBytes = 64 << 10
			return nil
		},
	}
	if *tlsCert != "" {
		err = sc.StartTLS(ctx, srv.Handler(), *tlsCert, *tlsKey)
	} else {
		err = sc.Start(ctx, srv.Handler())
	}
	if err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// parseProxies reads a comma-separated list of IP addresses and CIDR prefixes.
func parseProxies(s string) ([]netip.Prefix, error) {
	var out []netip.Prefix
	for f := range strings.SplitSeq(s, ",") {
		if f = strings.TrimSpace(f); f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			out = append(out, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return nil, fmt.Errorf("%q is neither an IP address nor a CIDR prefix", f)
		}
		a = a.Unmap()
		out = append(out, netip.PrefixFrom(a, a.BitLen()))
	}
	return out, nil
}

// exporter adapts casefile.Export to the dashboard's export buttons.
type exporter struct {
	deps casefile.Deps
	reg  *targets.Registry
	// st, procuratorate and deadlines serve the case exports (ExportCase, DraftRecommendation).
	st            *store.Store
	procuratorate string
	deadlines     cases.Policy
}

func newExporter(dataDir string, st *store.Store, ev *evidence.Store, cat *rules.Catalogue, reg *targets.Registry, procuratorate string, deadlines cases.Policy) (*exporter, error) {
	key, err := casefile.LoadOrCreateKey(dataDir)
	if err != nil {
		return nil, err
	}
	return &exporter{reg: reg, st: st, procuratorate: procuratorate, deadlines: deadlines,
		deps: casefile.Deps{Findings: st, Evidence: ev, Catalogue: cat,
			Options: casefile.Options{Key: key, Tool: "pilmon " + version}}}, nil
}

func (x *exporter) lookup(ctx context.Context, id string) *scanner.Target {
	if t, err := x.reg.Get(ctx, id); err == nil {
		return &t
	}
	return nil
}

// ExportCase writes the case file of one case: its findings only, with its cover, register and
// deadlines (web.CaseExporter).
func (x *exporter) ExportCase(ctx context.Context, w io.Writer, caseID, user string) error {
	d := x.deps
	d.User = user
	_, err := exportCase(ctx, w, x.st, d, x.lookup, caseID, x.procuratorate, x.deadlines)
	return err
}

// DraftRecommendation writes the case's draft 检察建议书 (web.CaseExporter).
func (x *exporter) DraftRecommendation(ctx context.Context, w io.Writer, caseID, user string) error {
	d := x.deps
	d.User = user
	return draftRecommendation(ctx, w, x.st, d, x.lookup, caseID, x.procuratorate, x.deadlines)
}

func (x *exporter) Export(ctx context.Context, w io.Writer, target string, fps []string, user string) error {
	d := x.deps
	d.User = user
	if target != "" {
		if t, err := x.reg.Get(ctx, target); err == nil {
			d.Target = &t
		}
	}
	// The dashboard exports what its list shows, untriaged findings included (the list has no
	// control to leave them out yet); dismissed ones stay out.
	if x.st != nil {
		m, err := memberOf(ctx, x.st, x.procuratorate, x.deadlines, time.Now())
		if err != nil {
			return err
		}
		d.Options.MemberOf = m
	}
	_, err := casefile.Export(ctx, w, casefile.Selection{TargetID: target, Fingerprints: fps, IncludeUntriaged: true}, d)
	return err
}

// memberOf maps each finding in a case to the cases it belongs to, as the case file states them
// (deadlines as of now): the findings export fills its 期限 and 文书编号 columns from them.
func memberOf(ctx context.Context, st *store.Store, procuratorate string, p cases.Policy, now time.Time) (map[string][]*casefile.CaseInfo, error) {
	cs, err := st.Cases(ctx)
	if err != nil {
		return nil, fmt.Errorf("reading the cases: %w", err)
	}
	m := map[string][]*casefile.CaseInfo{}
	for _, c := range cs {
		if len(c.Findings) == 0 {
			continue
		}
		info := caseInfo(c, procuratorate, p, now)
		for _, f := range c.Findings {
			m[f.Fingerprint] = append(m[f.Fingerprint], &info)
		}
	}
	return m, nil
}

// startInProcessWorkers runs scan workers and the scheduler inside serve (one machine: no
// separate pilmon worker needed); more workers on other hosts can join the same Redis.
func startInProcessWorkers(ctx context.Context, env *cliEnv, st *store.Store, reg *targets.Registry, ev *evidence.Store, cat *rules.Catalogue, n int) (func(), error) {
	if n == 0 {
		return func() {}, nil
	}
	ins, closeIns, err := buildInspectors(env, cat, pipeline.InspectorOptions{})
	if err != nil {
		return nil, err
	}
	deps := worker.Deps{Store: st, Targets: reg, Log: env.log,
		Runner: &pipeline.Runner{Catalogue: cat, Inspectors: ins, Evidence: ev, Store: st, Log: env.log}}
	pool, err := worker.StartPool(ctx, deps, n)
	if err != nil {
		closeIns()
		return nil, err
	}
	sched, err := worker.StartScheduler(ctx, deps, worker.SchedulerOptions{})
	if err != nil {
		_ = pool.Stop(context.Background())
		closeIns()
		return nil, err
	}
	return func() {
		stopCtx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		_ = sched.Stop(stopCtx)
		_ = pool.Stop(stopCtx)
		closeIns()
	}, nil
}
