// Command export measures `pilmon export` of a large case: 5,000 findings resting on 1 GiB of
// evidence, read from a real redis-server and a real evidence store, with the PDF printed by
// Chromium. The export runs as a child process (the pilmon binary) so that its peak RSS (VmHWM,
// polled from /proc) is its own; Chromium's memory is not counted but shown beside it (the
// largest of pilmon's child processes). wait4's ru_maxrss is shown too and not counted: it is the
// maximum over pilmon and the Chromium processes it reaped (see measureIn). Beside it, `zip -r` of the same blobs is the floor: reading and compressing the bytes
// without hashing, verifying or signing anything. `pilmon verify` of the bundle is timed too.
//
//	go run ./bench/export [-findings 5000] [-bytes 1073741824] [-artifacts 5000] [-pdf=true]
//	go run ./bench/export -profile DIR   # the export in-process, heap profiles at each peak in DIR
//
// Goal: peak RSS of the export ≤ 200 MiB.
package main

import (
	"bytes"
	"context"
	"flag"
	"fmt"
	"image"
	"image/png"
	"io"
	"log/slog"
	"math"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"pilmon/evidence"
	"pilmon/findings"
	"pilmon/rules"
	"pilmon/scanner"
	"pilmon/store"
)

func main() {
	nFindings := flag.Int("findings", 5000, "findings to export")
	total := flag.Int64("bytes", 1<<30, "evidence bytes in all")
	nArtifacts := flag.Int("artifacts", 5000, "evidence artifacts")
	pdf := flag.Bool("pdf", true, "print the PDF report (needs Chromium)")
	keep := flag.Bool("keep", false, "keep the temporary directory")
	profile := flag.String("profile", "", "run the export in this process instead, writing heap profiles at each new peak into this directory")
	flag.Parse()
	if err := run(*nFindings, *nArtifacts, *total, *pdf, *keep, *profile); err != nil {
		fmt.Fprintln(os.Stderr, "bench/export:", err)
		os.Exit(1)
	}
}

func run(nFindings, nArtifacts int, total int64, pdf, keep bool, profile string) error {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "pilmon-bench-export-")
	if err != nil {
		return err
	}
	if keep {
		fmt.Println("dir:", dir)
	} else {
		defer os.RemoveAll(dir)
	}
	dataDir := filepath.Join(dir, "data")
	bin := filepath.Join(dir, "pilmon")
	build := exec.Command("go", "build", "-o", bin, "./cmd/pilmon")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("go build ./cmd/pilmon (run from the module root): %w", err)
	}
	srv, err := store.StartRedis(ctx, filepath.Join(dir, "redis"), store.RedisOptions{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	if err != nil {
		return err
	}
	defer srv.Stop(ctx)

	t0 := time.Now()
	refs, err := makeEvidence(filepath.Join(dataDir, "evidence"), nArtifacts, total)
	if err != nil {
		return err
	}
	fmt.Printf("evidence: %d artifacts, %s, stored in %v\n", len(refs), mib(total), time.Since(t0).Round(time.Millisecond))
	st := store.NewStore(srv.Client(), store.DefaultPrefix)
	if err := makeFindings(ctx, st, nFindings, refs); err != nil {
		return err
	}
	if profile != "" {
		return profileExport(ctx, profile, dataDir, st, pdf)
	}

	out := filepath.Join(dir, "case.zip")
	args := []string{"export", "--data-dir", dataDir, "--redis", srv.URL(), "--target", "bench-app", "--include-untriaged", "--out", out, "--user", "bench"}
	if !pdf {
		args = append(args, "--no-pdf")
	}
	exp, err := measure(bin, args...)
	if err != nil {
		return err
	}
	fi, err := os.Stat(out)
	if err != nil {
		return err
	}
	ver, err := measure(bin, "verify", out, "--pubkey", filepath.Join(dataDir, "keys", "casefile-ed25519.pub.pem"))
	if err != nil {
		return err
	}
	blobs := filepath.Join(dataDir, "evidence")
	floor, err := measureIn(blobs, "zip", "-q", "-r", filepath.Join(dir, "floor.zip"), "sha256", "-x", "*.json")
	if err != nil {
		return err
	}
	floorFI, _ := os.Stat(filepath.Join(dir, "floor.zip"))
	store, err := measureIn(blobs, "zip", "-q", "-0", "-r", filepath.Join(dir, "floor0.zip"), "sha256", "-x", "*.json")
	if err != nil {
		return err
	}
	fmt.Printf("\n%-44s %10s %12s %12s %14s %14s\n", "", "time", "peak RSS", "output", "children peak", "wait4 maxrss")
	row := func(name string, r result, output string) {
		kids := "—"
		if r.kids > 0 {
			kids = mib(r.kids)
		}
		fmt.Printf("%-44s %10v %12s %12s %14s %14s\n", name, r.wall.Round(time.Millisecond), mib(r.hwm), output, kids, mib(r.maxrss))
	}
	row("pilmon export (hash SHA-256+SM3, verify, sign)", exp, mib(fi.Size()))
	row("pilmon verify", ver, "")
	row("zip -r (deflate -6), the floor", floor, mib(floorFI.Size()))
	row("zip -0 -r (store only)", store, "")
	fmt.Println("peak RSS: the process's own VmHWM; children peak: the largest of its child processes (Chromium), not counted;")
	fmt.Println("wait4 maxrss: the max over the process, its reaped children and this bench at the fork, not counted")
	fmt.Printf("\nexport/zip -r: %.2f×   peak RSS goal ≤ 200 MiB: %v\n", exp.wall.Seconds()/floor.wall.Seconds(), exp.hwm <= 200<<20)
	fmt.Printf("export stdout:\n%s", exp.stdout)
	return nil
}

// makeEvidence stores n incompressible artifacts of total bytes: half typed as APKs (stored in
// the bundle as they are), half as HAR captures (deflated), which is how real evidence splits;
// one in ten is a screenshot (a valid PNG of noise of about the same size), which the report
// shows up to its screenshot budget (served to Chromium on request, reduced where larger than
// its place on the page).
func makeEvidence(dir string, n int, total int64) ([]string, error) {
	ev, err := evidence.Open(dir, evidence.Options{Tool: "pilmon bench"})
	if err != nil {
		return nil, err
	}
	src := rand.NewChaCha8([32]byte{1, 2, 3})
	size := total / int64(n)
	buf := make([]byte, size)
	refs := make([]string, n)
	at := time.Date(2025, 5, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		src.Read(buf)
		mt := "application/vnd.android.package-archive"
		if i%2 == 1 {
			mt = "application/json"
		}
		data := buf
		if i%10 == 2 {
			mt, data = "image/png", noisePNG(buf)
		}
		ref, err := ev.Put(bytes.NewReader(data), evidence.Meta{CapturedAt: at.Add(time.Duration(i) * time.Second),
			Method: "file_import", Source: fmt.Sprintf("/cases/bench/artifact-%05d", i), Tool: "pilmon bench", MediaType: mt})
		if err != nil {
			return nil, err
		}
		refs[i] = ref.SHA256
	}
	return refs, nil
}

// noisePNG encodes random bytes as an RGBA image of about len(b) bytes: PNG cannot compress noise,
// so the file is as large as a real screenshot of that size.
func noisePNG(b []byte) []byte {
	side := max(1, int(math.Sqrt(float64(len(b)/4))))
	img := image.NewRGBA(image.Rect(0, 0, side, side))
	copy(img.Pix, b)
	var out bytes.Buffer
	if err := png.Encode(&out, img); err != nil {
		panic(err) // an in-memory image always encodes
	}
	return out.Bytes()
}

// makeFindings upserts n findings of target bench-app over the catalogue's rules; finding i cites
// artifacts i and i+1, so artifacts are shared between findings as in real cases.
func makeFindings(ctx context.Context, st *store.Store, n int, refs []string) error {
	cat, err := rules.Default()
	if err != nil {
		return err
	}
	vs := cat.Violations()
	now := time.Date(2025, 5, 20, 0, 0, 0, 0, time.UTC)
	batch := make([]findings.Finding, 0, 500)
	for i := range n {
		v := vs[i%len(vs)]
		subj := "com.example.bench.Class" + strconv.Itoa(i)
		a, b := refs[i%len(refs)], refs[(i+1)%len(refs)]
		batch = append(batch, findings.Finding{Fingerprint: findings.Fingerprint("bench-app", v.ID, subj), TargetID: "bench-app",
			RuleID: v.ID, RuleVersion: v.Version, Subject: subj, Severity: v.Severity, LegalBasis: v.LegalBasis,
			Summary: rules.Text{ZH: "在用户同意前读取设备标识并发送至第三方（基准测试 " + strconv.Itoa(i) + "）", EN: "device id read and sent before consent (bench)"},
			Caveat:  v.Caveat,
			Observations: []scanner.Observation{{Kind: "apk.sensitive_api", Subject: "telephony.getDeviceId@" + subj,
				Attributes:   map[string]any{"api": "telephony.getDeviceId", "caller_class": subj, "pi": []any{"device_id"}},
				EvidenceRefs: []string{a}, Inspector: "apkinspect", InspectorVersion: "3"}},
			EvidenceRefs: []string{a, b}, FirstSeen: now, LastSeen: now.Add(time.Hour), State: findings.StateNew})
		if len(batch) == cap(batch) || i == n-1 {
			if _, err := st.UpsertBatch(ctx, batch, "bench-scan"); err != nil {
				return err
			}
			batch = batch[:0]
		}
	}
	return nil
}

type result struct {
	wall time.Duration
	hwm  int64 // the command's own peak RSS
	// kids is the highest peak RSS of any process the command started (Chromium), and maxrss what
	// wait4 reported: both shown beside hwm, neither counted in it.
	kids, maxrss int64
	stdout       string
}

func measure(bin string, args ...string) (result, error) { return measureIn("", bin, args...) }

// measureIn runs a command and returns its wall time and its own peak RSS: VmHWM, a high-water
// mark, polled from /proc/<pid>/status every 20 ms (what grows after the last poll, within 20 ms
// of the exit, is missed). wait4's ru_maxrss is not the command's own peak: Linux reports the
// maximum over the process and every descendant it reaped (for pilmon export, the Chromium that
// printed the PDF: the 332 MiB once reported for the export was Chromium's; pilmon's own peak was
// 131 MiB), and, as Go starts
// children with vfork, at least the RSS of this bench process when it started the command. It is
// printed beside, as are the peaks of the command's descendants, polled the same way.
func measureIn(dir, bin string, args ...string) (result, error) {
	cmd := exec.Command(bin, args...)
	cmd.Dir = dir
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return result{}, err
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var hwm, kids int64
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for n := 0; ; n++ {
		select {
		case err := <-done:
			r := result{wall: time.Since(start), hwm: hwm, kids: kids, stdout: out.String()}
			if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
				r.maxrss = ru.Maxrss * 1024
			}
			if err != nil {
				return r, fmt.Errorf("%s %s: %w\n%s%s", bin, strings.Join(args, " "), err, out.String(), errb.String())
			}
			return r, nil
		case <-tick.C:
			if v := vmHWM(cmd.Process.Pid); v > hwm {
				hwm = v
			}
			if n%5 == 0 {
				for _, p := range descendants(cmd.Process.Pid) {
					if v := vmHWM(p); v > kids {
						kids = v
					}
				}
			}
		}
	}
}

// descendants lists the processes below pid, from the parent pids in /proc/*/stat.
func descendants(pid int) []int {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	children := map[int][]int{}
	for _, e := range ents {
		p, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid …; comm may hold spaces and parentheses.
		i := bytes.LastIndexByte(b, ')')
		if i < 0 {
			continue
		}
		f := strings.Fields(string(b[i+1:]))
		if len(f) < 2 {
			continue
		}
		if pp, err := strconv.Atoi(f[1]); err == nil {
			children[pp] = append(children[pp], p)
		}
	}
	var out []int
	queue := []int{pid}
	for len(queue) > 0 {
		p := queue[0]
		queue = queue[1:]
		for _, c := range children[p] {
			out = append(out, c)
			queue = append(queue, c)
		}
	}
	return out
}

func vmHWM(pid int) int64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0
	}
	for _, line := range strings.Split(string(b), "\n") {
		if rest, ok := strings.CutPrefix(line, "VmHWM:"); ok {
			kb, _ := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			return kb * 1024
		}
	}
	return 0
}

func mib(n int64) string { return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20)) }
