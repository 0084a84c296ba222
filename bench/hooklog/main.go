// Command hooklog measures pilmon's .xls reader (hooklog/xls) on a runtime hook log as camille
// exports it, beside Python's xlrd reading the same file in the same run:
//
//	go run ./bench/hooklog [-rows 65536] [-stacks 20000] [-n 1] [-keep] [-xls FILE]
//
// The workbook is written by Debian's python3-xlwt (camille's writer): one sheet
// App_privacy_compliance_testing, a bold header and camille's seven columns, -rows rows in all
// (65,536 is BIFF8's limit), Chinese text, "\r\n" inside cells and Java stack traces of 1–3 KiB
// drawn from a pool of -stacks distinct ones (a hook fires many times from the same call site,
// and xlwt stores each distinct string once in the shared-string table).
//
// Then each reader runs -n times in a child process of its own (the median by CPU is reported):
//   - xls: xls.Open and Rows over the sheet, every cell's text touched;
//   - hooklog: the whole hook-log reader on the same file (hooklog.Read: the .xls reader, camille's
//     columns, the month correction, the API mapping and the party from each stack), events/s;
//   - xlrd: xlrd.open_workbook and every row's cells turned into text (str), the baseline.
//
// Each child reports its wall time, CPU time (user+system, getrusage) and peak RSS (VmHWM from
// /proc/self/status for Go; ru_maxrss for Python, the same high-water mark).
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"pilmon/bench/internal/proc"
	"sort"
	"strconv"
	"text/tabwriter"
	"time"

	"pilmon/hooklog"
	"pilmon/hooklog/xls"
	"pilmon/rules"
)

const childEnv = "PILMON_BENCH_HOOKLOG_CHILD"

// genScript writes the camille-layout workbook: argv path rows stacks.
const genScript = `
import random, sys, xlwt
path, nrows, nstacks = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
rnd = random.Random(20)
apis = [('获取设备ID', 'android.telephony.TelephonyManager.getDeviceId'), ('获取IMEI', 'android.telephony.TelephonyManager.getImei'),
        ('获取Android ID', 'android.provider.Settings$Secure.getString'), ('获取MAC地址', 'java.net.NetworkInterface.getHardwareAddress'),
        ('获取应用列表', 'android.app.ApplicationPackageManager.getInstalledPackages'), ('获取位置', 'android.location.LocationManager.getLastKnownLocation'),
        ('读取剪切板', 'android.content.ClipboardManager.getPrimaryClip')]
sdks = ['com.umeng.commonsdk', 'com.tencent.bugly', 'com.baidu.location', 'cn.jpush.android', 'com.bytedance.sdk.openadsdk', 'com.example.app']
def frame():
    pkg = rnd.choice(sdks)
    cls = pkg + '.' + rnd.choice(['internal', 'utils', 'core', 'a.b']) + '.' + rnd.choice(['DeviceInfo', 'Collector', 'c', 'Tracker', 'IdHelper'])
    return 'at %s.%s(%s.java:%d)' % (cls, rnd.choice(['a', 'get', 'collect', 'run', 'init']), cls.split('.')[-1], rnd.randint(10, 900))
stacks = []
for i in range(nstacks):
    target = rnd.randint(1024, 3072)
    lines, n = ['java.lang.Throwable'], 0
    while n < target:
        l = frame(); lines.append(l); n += len(l) + 2
    stacks.append('\r\n'.join(lines)[:target])
wb = xlwt.Workbook(encoding='utf-8')
ws = wb.add_sheet('App_privacy_compliance_testing')
bold = xlwt.easyxf('font: bold on')
for c, h in enumerate(['隐私政策状态', '时间点', '行为主体', '操作行为', '行为描述', '传入参数', '调用堆栈']):
    ws.write(0, c, h, bold)
for r in range(1, nrows):
    act, api = apis[r % len(apis)]
    ws.write(r, 0, '同意隐私政策前' if r < nrows // 3 else '同意隐私政策后')
    # camille's own time format: device time, unpadded, its month one too low (getMonth())
    ws.write(r, 1, '2024-4-20 10:%d:%d' % ((r // 60) % 60, r % 60))
    ws.write(r, 2, 'APP' if r % 5 == 0 else 'SDK')
    ws.write(r, 3, act)
    ws.write(r, 4, '%s\r\n调用次数: %d' % (api, r % 97))
    ws.write(r, 5, '' if r % 3 else 'slotIndex=%d' % (r % 2))
    ws.write(r, 6, stacks[rnd.randrange(nstacks)])
    if r % 4096 == 0:
        ws.flush_row_data()
wb.save(path)
`

// xlrdScript reads argv[1] with xlrd, turning every cell into text, and prints the result.
const xlrdScript = `
import json, resource, sys, time, xlrd
t0, c0 = time.time(), time.process_time()
bk = xlrd.open_workbook(sys.argv[1])
rows = cells = nbytes = 0
for sh in bk.sheets():
    for r in range(sh.nrows):
        row = [str(c.value) for c in sh.row(r)]
        if any(row):
            rows += 1
            cells += len(row)
            nbytes += sum(len(v.encode('utf-8')) for v in row)
ru = resource.getrusage(resource.RUSAGE_SELF)
json.dump({'wall_s': time.time() - t0, 'cpu_s': ru.ru_utime + ru.ru_stime, 'peak_rss_mib': ru.ru_maxrss / 1024,
           'rows': rows, 'cells': cells, 'text_bytes': nbytes}, sys.stdout)
`

func main() {
	if mode := os.Getenv(childEnv); mode != "" {
		read := child
		if mode == "events" {
			read = eventsChild
		}
		if err := read(os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	rows := flag.Int("rows", 65536, "rows in the generated workbook, header included (BIFF8 allows 65536)")
	stacks := flag.Int("stacks", 20000, "distinct stack traces in the generated workbook")
	n := flag.Int("n", 1, "runs per reader (the median by CPU is reported)")
	keep := flag.Bool("keep", false, "keep the generated workbook (its path is printed)")
	file := flag.String("xls", "", "measure this .xls instead of generating one")
	flag.Parse()
	if err := run(*rows, *stacks, *n, *keep, *file); err != nil {
		fmt.Fprintln(os.Stderr, "bench/hooklog:", err)
		os.Exit(1)
	}
}

type result struct {
	Wall  float64 `json:"wall_s"`
	CPU   float64 `json:"cpu_s"`
	RSS   float64 `json:"peak_rss_mib"`
	Rows  int     `json:"rows"`
	Cells int     `json:"cells"`
	Bytes int64   `json:"text_bytes"`
}

func python() (string, error) {
	for _, p := range []string{"python3", "/usr/bin/python3"} {
		if exe, err := exec.LookPath(p); err == nil && exec.Command(exe, "-c", "import xlwt, xlrd").Run() == nil {
			return exe, nil
		}
	}
	return "", fmt.Errorf("python3 with xlwt and xlrd is needed (Debian: python3-xlwt python3-xlrd)")
}

func run(rows, stacks, n int, keep bool, file string) error {
	py, err := python()
	if err != nil {
		return err
	}
	if file == "" {
		dir, err := os.MkdirTemp("", "pilmon-bench-hooklog-")
		if err != nil {
			return err
		}
		file = filepath.Join(dir, "camille.xls")
		if !keep {
			defer os.RemoveAll(dir)
		}
		t0 := time.Now()
		if out, err := exec.Command(py, "-c", genScript, file, strconv.Itoa(rows), strconv.Itoa(stacks)).CombinedOutput(); err != nil {
			return fmt.Errorf("xlwt: %v: %s", err, out)
		}
		fmt.Printf("generated %s with xlwt in %.1fs\n", file, time.Since(t0).Seconds())
	}
	st, err := os.Stat(file)
	if err != nil {
		return err
	}
	fmt.Printf("workbook: %.1f MiB\n\n", float64(st.Size())/(1<<20))
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	readers := []struct {
		name string
		cmd  func() *exec.Cmd
	}{
		{"xls (pilmon)", func() *exec.Cmd {
			c := exec.Command(exe, file)
			c.Env = append(os.Environ(), childEnv+"=1")
			return c
		}},
		{"xlrd (Python)", func() *exec.Cmd { return exec.Command(py, "-c", xlrdScript, file) }},
		{"hooklog events (pilmon)", func() *exec.Cmd {
			c := exec.Command(exe, file)
			c.Env = append(os.Environ(), childEnv+"=events")
			return c
		}},
	}
	med := make([]result, len(readers))
	for i, rd := range readers {
		var rs []result
		for j := 0; j < n; j++ {
			r, err := runChild(rd.cmd())
			if err != nil {
				return fmt.Errorf("%s: %w", rd.name, err)
			}
			rs = append(rs, r)
		}
		sort.Slice(rs, func(a, b int) bool { return rs[a].CPU < rs[b].CPU })
		med[i] = rs[len(rs)/2]
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "reader\trows\tcells\ttext MiB\twall s\tCPU s\trows/s (CPU)\trows/s (wall)\tpeak RSS MiB\t")
	for i, rd := range readers {
		r := med[i]
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.1f\t%.2f\t%.2f\t%.0f\t%.0f\t%.0f\t\n", rd.name, r.Rows, r.Cells, float64(r.Bytes)/(1<<20), r.Wall, r.CPU, float64(r.Rows)/r.CPU, float64(r.Rows)/r.Wall, r.RSS)
	}
	tw.Flush()
	g, p, ev := med[0], med[1], med[2]
	fmt.Printf("\nxls vs xlrd: %.1f× the rows/s (CPU), %.2f× the peak RSS\n", p.CPU/g.CPU, g.RSS/p.RSS)
	fmt.Printf("hooklog events vs xlrd rows: %.0f events/s vs %.0f rows/s (CPU), %.2f× ; peak RSS %.0f vs %.0f MiB\n",
		float64(ev.Rows)/ev.CPU, float64(p.Rows)/p.CPU, (float64(ev.Rows)/ev.CPU)/(float64(p.Rows)/p.CPU), ev.RSS, p.RSS)
	if g.Rows != p.Rows {
		fmt.Printf("WARNING: the readers disagree on the number of non-empty rows (%d vs %d)\n", g.Rows, p.Rows)
	}
	return nil
}

func runChild(cmd *exec.Cmd) (result, error) {
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	if err := cmd.Run(); err != nil {
		return result{}, fmt.Errorf("%v: %s", err, errb.String())
	}
	var r result
	if err := json.Unmarshal(out.Bytes(), &r); err != nil {
		return result{}, fmt.Errorf("child output %q: %w", out.String(), err)
	}
	return r, nil
}

// child reads the workbook with hooklog/xls and reports what the xlrd child reports.
func child(path string) error {
	t0 := time.Now()
	f, size, err := openSized(path)
	if err != nil {
		return err
	}
	defer f.Close()
	w, err := xls.Open(f, size, path, xls.Limits{})
	if err != nil {
		return err
	}
	var r result
	for _, s := range w.Sheets() {
		if err := w.Rows(s, func(_ int, cells []string) error {
			r.Rows++
			r.Cells += len(cells)
			for _, c := range cells {
				r.Bytes += int64(len(c))
			}
			return nil
		}); err != nil {
			return err
		}
	}
	r.Wall, r.CPU, r.RSS = time.Since(t0).Seconds(), proc.CPU(), proc.PeakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}

// eventsChild reads the workbook with the whole hook-log reader (catalogue loading excluded from
// the times: it is the same for every log) and reports the events as rows.
func eventsChild(path string) error {
	cat, err := rules.Default()
	if err != nil {
		return err
	}
	c0 := proc.CPU()
	t0 := time.Now()
	f, size, err := openSized(path)
	if err != nil {
		return err
	}
	defer f.Close()
	l, err := hooklog.Read(f, size, path, cat, hooklog.Options{})
	var re *hooklog.ReadError
	if err != nil && !errors.As(err, &re) {
		return err
	}
	var r result
	for _, e := range l.Events {
		r.Rows++
		r.Cells += 7
		r.Bytes += int64(len(e.ReturnValue))
		for _, fr := range e.Stack {
			r.Bytes += int64(len(fr))
		}
	}
	r.Wall, r.CPU, r.RSS = time.Since(t0).Seconds(), proc.CPU()-c0, proc.PeakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}

// openSized opens the workbook and returns its size.
func openSized(path string) (*os.File, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		return nil, 0, err
	}
	return f, st.Size(), nil
}
