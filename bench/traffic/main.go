// Command traffic measures pilmon's HAR import on a large generated capture beside the floor, in
// one run on the same file:
//
//	go run ./bench/traffic [-mb 1024] [-n 1] [-keep] [-har FILE]
//
// A HAR of -mb megabytes is streamed to a temporary file (never held in memory): a phone's
// capture as mitmproxy or pilmon's live capture writes it, with a consent marker half way, page
// loads with HTML and JavaScript bodies, images and a few multi-megabyte bundles as base64,
// gzip-compressed request and response bodies (base64 of the gzip bytes with Content-Encoding),
// JSON, form and protobuf-looking uploads that carry device identifiers, tracker pixels with
// hashed identifiers in the query, cookies and realistic header sets.
//
// Then each pipeline runs -n times in a child process of its own (the median is reported):
//   - floor: encoding/json's Decoder reading the file and calling Token until EOF, nothing else;
//   - read: traffic.ReadHAR decoding every entry, no analysis;
//   - import: traffic.AnalyseHAR with the embedded catalogue and a device-values set (known-value
//     matching in all encodings): what `pilmon scan capture.har --device device.yaml` does after
//     storing the file.
//
// Each child reports its wall time, CPU time (user+system, getrusage) and peak RSS (VmHWM from
// /proc/self/status). Goals (issue 6): import peak RSS ≤ 150 MiB, import time ≤ 3× the floor.
package main

import (
	"bufio"
	"bytes"
	"compress/gzip"
	"crypto/md5"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"pilmon/bench/internal/proc"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	"pilmon/rules"
	"pilmon/traffic"
)

const childEnv = "PILMON_BENCH_TRAFFIC_CHILD"

// The test device's identifiers, seeded in the generated traffic and given to the import.
var device = traffic.DeviceValues{
	IMEI: []string{"358240051111110"}, AndroidID: []string{"9774d56d682e549c"}, OAID: []string{"5e0f8a1c-2b3d-4e5f-8a9b-0c1d2e3f4a5b"},
	Phone: []string{"13812345678"}, MAC: []string{"3c:5a:b4:01:02:03"}, IMSI: []string{"460011234567890"},
	WifiBSSID: []string{"3c:5a:b4:aa:bb:cc"}, Location: &traffic.Coord{Lat: 39.916527, Lng: 116.397128},
}

func main() {
	if mode := os.Getenv(childEnv); mode != "" {
		if err := child(mode, os.Args[1]); err != nil {
			fmt.Fprintln(os.Stderr, "child:", err)
			os.Exit(1)
		}
		return
	}
	mb := flag.Int("mb", 1024, "size of the generated HAR in MB (2^20 bytes)")
	n := flag.Int("n", 1, "runs per pipeline (the median is reported)")
	keep := flag.Bool("keep", false, "keep the generated HAR (its path is printed)")
	har := flag.String("har", "", "measure this HAR instead of generating one")
	flag.Parse()
	if err := run(*mb, *n, *keep, *har); err != nil {
		fmt.Fprintln(os.Stderr, "bench/traffic:", err)
		os.Exit(1)
	}
}

// result is what a child reports.
type result struct {
	Wall    float64 `json:"wall_s"`
	CPU     float64 `json:"cpu_s"`
	RSS     float64 `json:"peak_rss_mib"`
	Entries int     `json:"entries"`
	Obs     int     `json:"observations"`
	Tokens  int64   `json:"tokens"`
	Errors  int     `json:"entry_errors"`
	Note    string  `json:"note"`
}

func run(mb, n int, keep bool, har string) error {
	if har == "" {
		dir, err := os.MkdirTemp("", "pilmon-bench-traffic-")
		if err != nil {
			return err
		}
		har = filepath.Join(dir, "generated.har")
		if !keep {
			defer os.RemoveAll(dir)
		}
		t0 := time.Now()
		entries, err := generate(har, int64(mb)<<20)
		if err != nil {
			return err
		}
		fmt.Printf("generated %s: %d entries in %.1fs\n", har, entries, time.Since(t0).Seconds())
	}
	st, err := os.Stat(har)
	if err != nil {
		return err
	}
	size := float64(st.Size()) / (1 << 20)
	fmt.Printf("HAR: %.0f MiB\n\n", size)
	modes := []string{"floor", "read", "import"}
	med := map[string]result{}
	for _, m := range modes {
		var rs []result
		for i := 0; i < n; i++ {
			r, err := runChild(m, har)
			if err != nil {
				return fmt.Errorf("%s: %w", m, err)
			}
			rs = append(rs, r)
		}
		sort.Slice(rs, func(i, j int) bool { return rs[i].CPU < rs[j].CPU })
		med[m] = rs[len(rs)/2]
	}
	tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "pipeline\twall s\tCPU s\tMB/s (CPU)\tMB/s (wall)\t× floor (CPU)\tpeak RSS MiB\t")
	fl := med["floor"]
	for _, m := range modes {
		r := med[m]
		fmt.Fprintf(tw, "%s\t%.1f\t%.1f\t%.1f\t%.1f\t%.2f\t%.0f\t\n", m, r.Wall, r.CPU, size/r.CPU, size/r.Wall, r.CPU/fl.CPU, r.RSS)
	}
	tw.Flush()
	imp := med["import"]
	fmt.Printf("\nfloor: %d tokens; import: %d entries, %d observations, %d entry errors\n", fl.Tokens, imp.Entries, imp.Obs, imp.Errors)
	if imp.Note != "" {
		fmt.Printf("import: %s\n", imp.Note)
	}
	verdict := func(ok bool) string {
		if ok {
			return "met"
		}
		return "NOT met"
	}
	fmt.Printf("goal peak RSS ≤ 150 MiB: %.0f MiB, %s\n", imp.RSS, verdict(imp.RSS <= 150))
	fmt.Printf("goal ≤ 3× the floor (CPU): %.2f×, %s (wall %.2f×)\n", imp.CPU/fl.CPU, verdict(imp.CPU <= 3*fl.CPU), imp.Wall/fl.Wall)
	return nil
}

func runChild(mode, har string) (result, error) {
	exe, err := os.Executable()
	if err != nil {
		return result{}, err
	}
	cmd := exec.Command(exe, har)
	cmd.Env = append(os.Environ(), childEnv+"="+mode)
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

func child(mode, har string) error {
	f, err := os.Open(har)
	if err != nil {
		return err
	}
	defer f.Close()
	var r result
	t0 := time.Now()
	c0 := proc.CPU()
	switch mode {
	case "floor":
		dec := json.NewDecoder(f)
		for {
			if _, err := dec.Token(); err == io.EOF {
				break
			} else if err != nil {
				return err
			}
			r.Tokens++
		}
	case "read":
		info, err := traffic.ReadHAR(f, traffic.Limits{}, func(*traffic.Entry) error { return nil })
		if err != nil {
			return err
		}
		r.Entries, r.Errors = info.Read, info.EntryErrorCount
	case "import":
		cat, err := rules.Default()
		if err != nil {
			return err
		}
		dv := device
		res, info, err := traffic.AnalyseHAR(f, cat, traffic.Options{Device: &dv})
		if err != nil {
			return err
		}
		r.Entries, r.Obs, r.Errors = info.Read, len(res.Observations), info.EntryErrorCount
		known, before := 0, 0
		for _, o := range res.Observations {
			if o.Attributes["known_value"] == true {
				known++
			}
			if o.Attributes["phase"] == traffic.PhaseBefore {
				before++
			}
		}
		r.Note = fmt.Sprintf("%d pi_sent with known values, %d observations before consent, %d hosts", known, before, len(res.Hosts))
	default:
		return fmt.Errorf("unknown mode %q", mode)
	}
	r.Wall = time.Since(t0).Seconds()
	r.CPU = proc.CPU() - c0
	r.RSS = proc.PeakRSS()
	return json.NewEncoder(os.Stdout).Encode(r)
}

// ---------------------------------------------------------------- generator

// pool holds pre-built, JSON-escaped bodies so that writing a gigabyte costs little CPU.
type pool struct {
	html, js, css, img, gzResp, apiResp, bigJS []string
}

func jsonStr(s string) string {
	b, _ := json.Marshal(s)
	return string(b)
}

func randText(r *rand.Rand, n int, alphabet []string) string {
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(alphabet[r.IntN(len(alphabet))])
	}
	return b.String()
}

func gzipBytes(b []byte) []byte {
	var buf bytes.Buffer
	w := gzip.NewWriter(&buf)
	w.Write(b)
	w.Close()
	return buf.Bytes()
}

func newPool(r *rand.Rand) *pool {
	words := []string{"<div class=\"item\">", "</div>", "<p>", "用户协议", "隐私政策", "商品", "优惠券", " lorem ", "ipsum ", "<span>", "</span>", "\n", "<a href=\"/p/", "123\">", "点击领取", "\"quoted\"", "</a>", "\t"}
	code := []string{"function ", "(e,t,n){", "return ", "var ", "e.exports=", "t.default", ";", "}", "\n", "wx.request({url:\"https://api.shop.example.cn/v1\"})", "if(", "&&", "\"use strict\"", "0x1f", "this.", "n(12)", "'\\u4e2d'"}
	p := &pool{}
	for i := 0; i < 24; i++ {
		p.html = append(p.html, jsonStr("<!doctype html><html><head><meta charset=utf-8><title>店铺首页</title></head><body>"+randText(r, 8_000+r.IntN(40_000), words)+"</body></html>"))
		p.js = append(p.js, jsonStr(randText(r, 20_000+r.IntN(120_000), code)))
		p.css = append(p.css, jsonStr(randText(r, 2_000+r.IntN(10_000), []string{".a{color:#333}", "\n", ".btn{margin:0 4px}", "@media(max-width:400px){", "}"})))
		img := make([]byte, 2_000+r.IntN(60_000))
		for j := range img {
			img[j] = byte(r.Uint32())
		}
		p.img = append(p.img, jsonStr(base64.StdEncoding.EncodeToString(img)))
		api := fmt.Sprintf(`{"code":0,"msg":"ok","data":{"list":[%s],"ts":%d}}`, strings.TrimSuffix(strings.Repeat(`{"id":12345,"title":"优惠商品","price":"19.90","img":"https://img.example.cn/a.png"},`, 5+r.IntN(40)), ","), 1714557600000+r.IntN(1e6))
		p.apiResp = append(p.apiResp, jsonStr(api))
		p.gzResp = append(p.gzResp, jsonStr(base64.StdEncoding.EncodeToString(gzipBytes([]byte(randText(r, 20_000+r.IntN(60_000), code)+api)))))
	}
	for i := 0; i < 3; i++ {
		p.bigJS = append(p.bigJS, jsonStr(randText(r, 3_000_000+r.IntN(2_000_000), code)))
	}
	return p
}

func hexs(b []byte) string { return hex.EncodeToString(b) }

// generate writes a HAR of about size bytes to path and returns its entry count.
func generate(path string, size int64) (int, error) {
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	defer f.Close()
	cw := &countWriter{w: f}
	w := bufio.NewWriterSize(cw, 1<<20)
	r := rand.New(rand.NewPCG(1, 2))
	p := newPool(r)
	start := time.Date(2024, 5, 1, 10, 0, 0, 0, time.UTC)
	// Each entry is ~40 KB on average: estimate the count so the consent click lands mid-way.
	const avgEntry = 40_000
	estimate := int(size / avgEntry)
	step := 40 * time.Millisecond
	consentAt := start.Add(time.Duration(estimate/2) * step)
	fmt.Fprintf(w, `{"log":{"version":"1.2","creator":{"name":"mitmproxy","version":"10.3.0"},"browser":{"name":"Android WebView","version":"124"},`+
		`"_pilmon_consent":[{"action":"agree","time":%q,"control":"text: 同意并继续"}],`+
		`"pages":[{"startedDateTime":%q,"id":"page_1","title":"https://m.shop.example.cn/","pageTimings":{}}],"entries":[`,
		consentAt.Format(time.RFC3339Nano), start.Format(time.RFC3339Nano))
	imei := device.IMEI[0]
	imeiMD5 := md5.Sum([]byte(imei))
	aidSHA := sha256.Sum256([]byte(device.AndroidID[0]))
	headers := func(extra string) string {
		return `[{"name":"Host","value":"m.shop.example.cn"},{"name":"User-Agent","value":"Mozilla/5.0 (Linux; Android 13; SM-G9910 Build/TP1A.220624.014; wv) AppleWebKit/537.36 (KHTML, like Gecko) Version/4.0 Chrome/124.0.6367.82 Mobile Safari/537.36 MicroMessenger/8.0.49"},` +
			`{"name":"Accept","value":"*/*"},{"name":"Accept-Language","value":"zh-CN,zh;q=0.9"},{"name":"Accept-Encoding","value":"gzip, deflate, br"},{"name":"Connection","value":"keep-alive"},` +
			`{"name":"Referer","value":"https://m.shop.example.cn/index.html"},{"name":"Cookie","value":"sid=8f14e45fceea167a5a36dedd4bea2543; uid=u-20240501-7788; _ga=GA1.2.1234567.1714557600"}` + extra + `]`
	}
	respHeaders := func(mime, enc string) string {
		s := `[{"name":"Server","value":"nginx"},{"name":"Date","value":"Wed, 01 May 2024 10:00:00 GMT"},{"name":"Content-Type","value":"` + mime + `"},{"name":"Cache-Control","value":"max-age=600"}`
		if enc != "" {
			s += `,{"name":"Content-Encoding","value":"` + enc + `"}`
		}
		return s + `]`
	}
	pick := func(l []string) string { return l[r.IntN(len(l))] }
	n := 0
	for ; cw.n+int64(w.Buffered()) < size; n++ {
		if n > 0 {
			w.WriteByte(',')
		}
		t := start.Add(time.Duration(n)*step + time.Duration(r.IntN(30))*time.Millisecond)
		ts := t.Format("2006-01-02T15:04:05.000Z")
		var method, url, mime, body, reqExtra, respMime, respEnc, content, rtype string
		switch k := r.IntN(100); {
		case n%20_000 == 7: // a multi-megabyte bundle now and then
			method, url, rtype, respMime = "GET", fmt.Sprintf("https://cdn.example-static.cn/js/vendor.%d.js", n), "script", "application/javascript"
			content = `"text":` + pick(p.bigJS)
		case k < 8:
			method, url, rtype, respMime = "GET", fmt.Sprintf("https://m.shop.example.cn/p/%d.html", n), "document", "text/html; charset=utf-8"
			content = `"text":` + pick(p.html)
		case k < 22:
			method, url, rtype, respMime = "GET", fmt.Sprintf("https://cdn.example-static.cn/js/chunk.%d.js", n%500), "script", "application/javascript"
			content = `"text":` + pick(p.js)
		case k < 28:
			method, url, rtype, respMime = "GET", fmt.Sprintf("https://cdn.example-static.cn/css/%d.css", n%100), "stylesheet", "text/css"
			content = `"text":` + pick(p.css)
		case k < 50:
			method, url, rtype, respMime = "GET", fmt.Sprintf("https://img.example-static.cn/i/%d.jpg", n), "image", "image/jpeg"
			content = `"text":` + pick(p.img) + `,"encoding":"base64"`
		case k < 58: // gzip response kept compressed, as base64
			method, url, rtype, respMime, respEnc = "GET", fmt.Sprintf("https://api.shop.example.cn/v1/feed?page=%d", n%50), "xhr", "application/javascript", "gzip"
			content = `"text":` + pick(p.gzResp) + `,"encoding":"base64"`
		case k < 72: // JSON API with identifiers (first-party)
			method, url, rtype, mime, respMime = "POST", "https://api.shop.example.cn/v1/user/report", "xhr", "application/json", "application/json"
			body = jsonStr(fmt.Sprintf(`{"androidId":%q,"imei":%q,"phone":"138****5678","lat":39.9168,"lng":116.3974,"ts":%d,"events":[%s]}`,
				device.AndroidID[0], imei, t.UnixMilli(), strings.TrimSuffix(strings.Repeat(`{"e":"view","p":"/p/1"},`, 1+r.IntN(30)), ",")))
			content = `"text":` + pick(p.apiResp)
		case k < 80: // tracker pixel with hashed identifiers in the query
			method, url, rtype, respMime = "GET", fmt.Sprintf("https://log.tracker-example.com/t.gif?ev=pv&imei_md5=%s&aid=%s&r=%d", hexs(imeiMD5[:]), hexs(aidSHA[:]), r.Uint32()), "image", "image/gif"
			content = `"text":"R0lGODlhAQABAIAAAP///wAAACH5BAEAAAAALAAAAAABAAEAAAICRAEAOw==","encoding":"base64"`
		case k < 87: // gzip-compressed JSON upload, base64 in postData
			method, url, rtype, mime, respMime = "POST", "https://sdk.analytics-example.com/v3/upload", "xhr", "application/json", "application/json"
			raw := fmt.Sprintf(`{"oaid":%q,"mac":"3C:5A:B4:01:02:03","imsi":%q,"wifi":[{"bssid":"3c:5a:b4:aa:bb:cc","ssid":"pilmon-lab"}],"seq":%d,"pad":%q}`,
				device.OAID[0], device.IMSI[0], n, randText(r, 200+r.IntN(2000), []string{"a", "b", "c", "1", "2"}))
			body = jsonStr(base64.StdEncoding.EncodeToString(gzipBytes([]byte(raw)))) + `,"encoding":"base64"`
			reqExtra = `,{"name":"Content-Encoding","value":"gzip"}`
			content = `"text":"{\"code\":0}"`
		case k < 93: // form upload
			method, url, rtype, mime, respMime = "POST", "https://collect.ads-example.net/c", "xhr", "application/x-www-form-urlencoded", "text/plain"
			body = jsonStr(fmt.Sprintf("appid=wx0123456789abcdef&imei=%s&mobile=%s&model=SM-G9910&os=android13&t=%d", imei, device.Phone[0], t.Unix()))
			content = `"text":"ok"`
		case k < 96: // protobuf-looking binary upload
			method, url, rtype, mime, respMime = "POST", "https://api.push-example.cn/report", "xhr", "application/x-protobuf", "application/x-protobuf"
			var pb bytes.Buffer
			for _, s := range []string{imei, device.AndroidID[0], "SM-G9910", "com.example.app"} {
				pb.WriteByte(0x0a)
				pb.WriteByte(byte(len(s)))
				pb.WriteString(s)
			}
			pb.Write([]byte{0x10, 0x96, 0x01})
			body = jsonStr(base64.StdEncoding.EncodeToString(pb.Bytes())) + `,"encoding":"base64"`
			content = `"text":"CAE=","encoding":"base64"`
		default: // clean analytics beacon
			method, url, rtype, mime, respMime = "POST", "https://m.shop.example.cn/beacon", "ping", "text/plain", "text/plain"
			body = jsonStr(fmt.Sprintf("page=/p/%d&dur=%d", n, r.IntN(60000)))
			content = `"text":""`
		}
		fmt.Fprintf(w, `{"pageref":"page_1","startedDateTime":%q,"time":%d.%d,"request":{"method":%q,"url":%s,"httpVersion":"HTTP/2.0","cookies":[{"name":"sid","value":"8f14e45fceea167a5a36dedd4bea2543"}],"headers":%s,"queryString":[],`,
			ts, 20+r.IntN(400), r.IntN(1000), method, jsonStr(url), headers(reqExtra))
		if body != "" {
			fmt.Fprintf(w, `"postData":{"mimeType":%q,"text":%s},`, mime, body)
		}
		fmt.Fprintf(w, `"headersSize":-1,"bodySize":%d},"response":{"status":200,"statusText":"OK","httpVersion":"HTTP/2.0","cookies":[],"headers":%s,"content":{"size":%d,"mimeType":%q,%s},"redirectURL":"","headersSize":-1,"bodySize":-1},"cache":{},"timings":{"blocked":-1,"dns":-1,"connect":-1,"ssl":-1,"send":0.1,"wait":%d.5,"receive":1.2},"serverIPAddress":"203.0.113.%d","_resourceType":%q}`,
			len(body), respHeaders(respMime, respEnc), len(content), respMime, content, 10+r.IntN(300), 1+r.IntN(250), rtype)
	}
	if _, err := w.WriteString("]}}\n"); err != nil {
		return n, err
	}
	if err := w.Flush(); err != nil {
		return n, err
	}
	if cw.err != nil {
		return n, cw.err
	}
	return n, f.Close()
}

type countWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}
