// Command miniprogram measures the mini-program inspector in packages per second beside the
// floor, in one run on the same files:
//
//	go run ./bench/miniprogram [-n 5] [-generated 20] [PACKAGE…]
//
// Packages: the arguments, else every .wxapkg of ../shared/corpus/miniprograms/wxapkg (found
// beside the module root, or under $PILMON_SHARED; plain and PC-encrypted, the app id taken from
// the file name). When the corpus is absent the bench says so and uses -generated packages built
// with miniprogram.Pack (a compiled app-service.js of ~400 KB with API calls, aliases and URLs,
// app-config.json, WXML pages, images), one in four PC-encrypted.
//
// Pipelines, each over every package, -n rounds (the median round is reported):
//   - floor: reading the package file once (os.ReadFile), nothing else;
//   - parse: reading, decrypting when encrypted, and parsing the index (miniprogram.Parse);
//   - inspect: the whole Inspector (read, store in a sink that only hashes with SHA-256, decrypt,
//     parse, app.json, JavaScript and WXML scans, observations), with the embedded catalogue.
//
// Figures are CPU time (user+system of this process, getrusage) and wall time; on a shared
// machine wall time mostly measures the neighbours.
package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"path/filepath"
	"pilmon/bench/internal/proc"
	"runtime"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"pilmon/evidence"
	"pilmon/miniprogram"
	"pilmon/rules"
	"pilmon/scanner"
)

func main() {
	n := flag.Int("n", 5, "rounds per pipeline (the median is reported)")
	gen := flag.Int("generated", 20, "packages to generate when the corpus is absent")
	flag.Parse()
	if err := run(*n, *gen, flag.Args()); err != nil {
		fmt.Fprintln(os.Stderr, "bench/miniprogram:", err)
		os.Exit(1)
	}
}

func run(rounds, gen int, paths []string) error {
	if len(paths) == 0 {
		dir := corpusDir()
		if dir != "" {
			m, _ := filepath.Glob(filepath.Join(dir, "*.wxapkg"))
			paths = m
		}
		if len(paths) == 0 {
			fmt.Printf("shared corpus not found (../shared/corpus/miniprograms/wxapkg beside the module root, or $PILMON_SHARED): using %d generated packages\n", gen)
			tmp, err := os.MkdirTemp("", "pilmon-bench-mp-")
			if err != nil {
				return err
			}
			defer os.RemoveAll(tmp)
			if paths, err = generate(tmp, gen); err != nil {
				return err
			}
		} else {
			fmt.Printf("corpus: %s\n", dir)
		}
	}
	var total int64
	for _, p := range paths {
		st, err := os.Stat(p)
		if err != nil {
			return err
		}
		total += st.Size()
	}
	mb := float64(total) / (1 << 20)
	fmt.Printf("%d packages, %.1f MiB\n\n", len(paths), mb)

	cat, err := rules.Default()
	if err != nil {
		return err
	}
	in := miniprogram.New(cat, miniprogram.Options{})
	ctx := context.Background()
	failed := map[string]string{}
	pipes := []struct {
		name string
		fn   func(p string) error
	}{
		{"floor", func(p string) error { _, err := os.ReadFile(p); return err }},
		{"parse", func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			if miniprogram.IsEncrypted(data) {
				if data, err = miniprogram.DecryptPC(data, miniprogram.AppIDFromPath(p)); err != nil {
					return err
				}
			}
			_, err = miniprogram.Parse(data, miniprogram.Limits{})
			return err
		}},
		{"inspect", func(p string) error {
			rep := scanner.InspectSource(ctx, in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: p}, hashSink{})
			if rep.Status == scanner.StatusFailed {
				return fmt.Errorf("%v", rep.Errors)
			}
			return nil
		}},
	}
	type fig struct{ cpu, wall float64 }
	res := map[string]fig{}
	for _, pipe := range pipes {
		for _, p := range paths { // warm the page cache and the catalogue
			_ = pipe.fn(p)
		}
		var figs []fig
		for r := 0; r < rounds; r++ {
			runtime.GC()
			c0, t0 := proc.CPU(), time.Now()
			for _, p := range paths {
				if err := pipe.fn(p); err != nil {
					failed[pipe.name+" "+filepath.Base(p)] = firstLine(err.Error())
				}
			}
			figs = append(figs, fig{proc.CPU() - c0, time.Since(t0).Seconds()})
		}
		sort.Slice(figs, func(i, j int) bool { return figs[i].cpu < figs[j].cpu })
		res[pipe.name] = figs[len(figs)/2]
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\tCPU ms\twall ms\tpackages/s (CPU)\tMB/s (CPU)\t× floor (CPU)\t")
	floor := res["floor"].cpu
	for _, pipe := range pipes {
		f := res[pipe.name]
		ratio := "-"
		if floor > 0 {
			ratio = fmt.Sprintf("%.1f", f.cpu/floor)
		}
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.0f\t%.1f\t%s\t\n", pipe.name, f.cpu*1000, f.wall*1000, float64(len(paths))/max(f.cpu, 1e-9), mb/max(f.cpu, 1e-9), ratio)
	}
	tw.Flush()
	keys := make([]string, 0, len(failed))
	for k := range failed {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		fmt.Printf("  failed: %s: %s\n", k, failed[k])
	}
	return nil
}

func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		return s[:i]
	}
	return s
}

// hashSink stores nothing: it hashes what it is given, as the evidence store would.
type hashSink struct{}

func (hashSink) Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	h := sha256.New()
	n, err := io.Copy(h, r)
	if err != nil {
		return evidence.Ref{}, err
	}
	return evidence.Ref{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// corpusDir finds ../shared/corpus/miniprograms/wxapkg beside the module root, or under
// $PILMON_SHARED; "" when absent.
func corpusDir() string {
	shared := os.Getenv("PILMON_SHARED")
	if shared == "" {
		wd, err := os.Getwd()
		if err != nil {
			return ""
		}
		for d := wd; ; d = filepath.Dir(d) {
			if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
				shared = filepath.Join(filepath.Dir(d), "shared")
				break
			}
			if filepath.Dir(d) == d {
				return ""
			}
		}
	}
	dir := filepath.Join(shared, "corpus", "miniprograms", "wxapkg")
	if st, err := os.Stat(dir); err != nil || !st.IsDir() {
		return ""
	}
	return dir
}

// generate writes n packages shaped like real ones and returns their paths.
func generate(dir string, n int) ([]string, error) {
	r := rand.New(rand.NewPCG(7, 11))
	code := []string{"function(e,t,n){", "var o=n(12),i=o.default;", "return e&&e.__esModule?e:{default:e}", "}", ";\n",
		"wx.request({url:\"https://api.shop.example.cn/v1/list\",data:{page:1}})", "wx.getSystemInfoSync()", "this.setData({list:t.data})",
		"\"use strict\";", "Object.defineProperty(t,\"__esModule\",{value:!0})", "wx.navigateTo({url:\"/pages/detail/detail?id=\"+e})",
		"var a=wx;a.getLocation({type:\"gcj02\",success:function(e){}})", "const {chooseImage:c}=wx;", "wx[\"getUserProfile\"]({desc:\"用于完善资料\"})",
		"/* comment wx.getClipboardData() */", "'string with wx.getWeRunData()'", "`tpl ${e.name}`", "e.exports=function(){return 1}"}
	var paths []string
	for i := 0; i < n; i++ {
		var svc bytes.Buffer
		for m := 0; svc.Len() < 300_000+r.IntN(200_000); m++ {
			fmt.Fprintf(&svc, "define(\"pages/p%d/p%d.js\",function(require,module,exports){", m, m)
			for k := 0; k < 20+r.IntN(40); k++ {
				svc.WriteString(code[r.IntN(len(code))])
			}
			svc.WriteString("});\n")
		}
		files := []miniprogram.File{
			{Name: "app-config.json", Data: []byte(`{"pages":["pages/index/index","pages/me/me"],"permission":{"scope.userLocation":{"desc":"用于查找附近门店"}},"requiredPrivateInfos":["getLocation","chooseAddress"],"__usePrivacyCheck__":true}`)},
			{Name: "app-service.js", Data: svc.Bytes()},
			{Name: "page-frame.html", Data: bytes.Repeat([]byte(`<view class="x"><button open-type="getPhoneNumber" bindgetphonenumber="p">手机号</button><image src="https://img.example.cn/a.png"/></view>`), 200+r.IntN(400))},
			{Name: "pages/index/index.wxml", Data: []byte(`<view><button open-type="getUserInfo">登录</button></view>`)},
		}
		for k := 0; k < 10+r.IntN(30); k++ {
			img := make([]byte, 2_000+r.IntN(30_000))
			for j := range img {
				img[j] = byte(r.Uint32())
			}
			files = append(files, miniprogram.File{Name: fmt.Sprintf("images/i%d.png", k), Data: img})
		}
		pkg, err := miniprogram.Pack(files)
		if err != nil {
			return nil, err
		}
		appid := fmt.Sprintf("wx%016x", r.Uint64())
		name := appid + ".wxapkg"
		if i%4 == 3 {
			if pkg, err = miniprogram.EncryptPC(pkg, appid); err != nil {
				return nil, err
			}
			name = "encrypted_pc_" + name
		}
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, pkg, 0o644); err != nil {
			return nil, err
		}
		paths = append(paths, p)
	}
	return paths, nil
}
