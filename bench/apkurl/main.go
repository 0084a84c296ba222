// Command apkurl measures what a scheduled check of an unchanged app costs when pilmon watches it
// at its download link (an apk_url source), beside curl -z asking the same server for the same
// URL in the same run:
//
//	go run ./bench/apkurl [-size 64] [-n 50]
//
// A child process serves a synthetic APK of -size MiB over HTTPS on loopback (Go's net/http
// with ServeContent: ETag, Last-Modified, 304 to a conditional request), with a certificate of
// its own. pilmon downloads it once (the first version), then checks it -n times as the
// scheduler would: one conditional request through the SSRF guard, a 304, the provenance record
// sealed in an evidence store, no inspection. curl -z (If-Modified-Since from the same
// Last-Modified) makes the same request -n times, each a process of its own, as a shell loop
// would. Reported per check: wall time, CPU time of the client (getrusage of this process for
// pilmon; of the curl children for curl), and the bytes the server sent.
package main

import (
	"archive/zip"
	"bufio"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/hex"
	"encoding/pem"
	"flag"
	"fmt"
	"io"
	"math/big"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"pilmon/apkfetch"
	"pilmon/apkinspect"
	"pilmon/bench/internal/proc"
	"pilmon/browser"
	"pilmon/evidence"
	"pilmon/scanner"
)

const childEnv = "PILMON_BENCH_APKURL_SERVER"

func main() {
	if os.Getenv(childEnv) != "" {
		serve()
		return
	}
	size := flag.Int("size", 64, "APK size in MiB")
	n := flag.Int("n", 50, "unchanged checks per client")
	flag.Parse()
	if err := run(*size, *n); err != nil {
		fmt.Fprintln(os.Stderr, "bench/apkurl:", err)
		os.Exit(1)
	}
}

// serve is the child: the operator's download server. It prints its URL, the PEM of its
// certificate, and on every request (to stderr) the bytes it sent.
func serve() {
	dir := os.Getenv(childEnv)
	apk := filepath.Join(dir, "app.apk")
	var sent atomic.Int64
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		panic(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/sent" {
			fmt.Fprint(w, sent.Load())
			return
		}
		f, err := os.Open(apk)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		st, _ := f.Stat()
		w.Header().Set("Content-Type", apkinspect.MediaType)
		w.Header().Set("ETag", fmt.Sprintf(`"%x-%x"`, st.Size(), st.ModTime().Unix()))
		cw := &countingWriter{ResponseWriter: w}
		http.ServeContent(cw, r, "app.apk", st.ModTime(), f)
		sent.Add(cw.n)
	})}
	cert, certPEM := selfSigned()
	srv.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}}
	fmt.Printf("https://%s\n%s", ln.Addr(), certPEM)
	os.Stdout.Close()
	_ = srv.ServeTLS(ln, "", "")
}

type countingWriter struct {
	http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.ResponseWriter.Write(b)
	c.n += int64(n)
	return n, err
}

func run(sizeMiB, n int) error {
	dir, err := os.MkdirTemp("", "bench-apkurl-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	if err := writeAPK(filepath.Join(dir, "app.apk"), int64(sizeMiB)<<20); err != nil {
		return err
	}
	srvCmd := exec.Command(os.Args[0])
	srvCmd.Env = append(os.Environ(), childEnv+"="+dir)
	out, err := srvCmd.StdoutPipe()
	if err != nil {
		return err
	}
	if err := srvCmd.Start(); err != nil {
		return err
	}
	defer srvCmd.Process.Kill()
	all, err := io.ReadAll(bufio.NewReader(out))
	if err != nil {
		return err
	}
	base, certPEM, _ := strings.Cut(string(all), "\n")
	block, _ := pem.Decode([]byte(certPEM))
	if block == nil {
		return fmt.Errorf("the server printed no certificate")
	}
	pin := sha256.Sum256(block.Bytes)
	caFile := filepath.Join(dir, "ca.pem")
	if err := os.WriteFile(caFile, []byte(certPEM), 0o600); err != nil {
		return err
	}
	url := base + "/download/app.apk"
	sentSoFar := func() int64 {
		var v int64
		cmd := exec.Command("curl", "-s", "--cacert", caFile, base+"/sent")
		b, err := cmd.Output()
		if err == nil {
			fmt.Sscan(string(b), &v)
		}
		return v
	}

	ev, err := evidence.Open(filepath.Join(dir, "evidence"), evidence.Options{Tool: "pilmon bench"})
	if err != nil {
		return err
	}
	g, err := browser.NewGuard([]string{"127.0.0.1/32"}, "")
	if err != nil {
		return err
	}
	in := apkfetch.New(apkinspect.New(nil, apkinspect.Options{}), apkfetch.Options{Guard: g, Tool: "pilmon bench", TempDir: dir})
	src := scanner.Source{Kind: apkfetch.SourceAPKURL, Locator: url, Options: map[string]string{"tls_cert_sha256": hex.EncodeToString(pin[:])}}
	ctx := context.Background()
	first := in.Inspect(ctx, &scanner.Input{Source: src, Path: url, Sink: ev, Now: time.Now})
	if first.Package == nil {
		return fmt.Errorf("first download: %v", first.Errors)
	}
	prior := first.Package

	type row struct {
		name              string
		wall, cpu         time.Duration
		bytes             int64
		note              string
		unchanged, checks int
	}
	var rows []row

	b0, c0, t0 := sentSoFar(), proc.CPU(), time.Now()
	unchanged := 0
	for range n {
		o := in.Inspect(ctx, &scanner.Input{Source: src, Path: url, Sink: ev, Now: time.Now, Prior: prior})
		if o.Package != nil && o.Package.Unchanged && len(o.Errors) == 0 {
			unchanged++
		}
	}
	wall, cpu := time.Since(t0), time.Duration((proc.CPU()-c0)*1e9)
	rows = append(rows, row{"pilmon apk_url check (guard, 304, sealed record)", wall, cpu, sentSoFar() - b0, "", unchanged, n})

	lm := prior.LastModified
	b0 = sentSoFar()
	var curlCPU time.Duration
	t0 = time.Now()
	notModified := 0
	for range n {
		cmd := exec.Command("curl", "-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", caFile, "-z", lm, url)
		b, err := cmd.Output()
		if err != nil {
			return fmt.Errorf("curl: %w", err)
		}
		if string(b) == "304" {
			notModified++
		}
		if ru, ok := cmd.ProcessState.SysUsage().(*syscall.Rusage); ok {
			curlCPU += time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
		}
	}
	rows = append(rows, row{"curl -z (baseline)", time.Since(t0), curlCPU, sentSoFar() - b0, "", notModified, n})

	fmt.Printf("unchanged scheduled check of a %d MiB APK at %s, %d checks each\n", sizeMiB, url, n)
	tw := tabwriter.NewWriter(os.Stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "client\twall/check\tCPU/check\tbody bytes sent/check\tunchanged (304)")
	for _, r := range rows {
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%d/%d\n", r.name, (r.wall / time.Duration(r.checks)).Round(time.Microsecond),
			(r.cpu / time.Duration(r.checks)).Round(time.Microsecond), r.bytes/int64(r.checks), r.unchanged, r.checks)
	}
	tw.Flush()
	fmt.Printf("first download (inspected): %d bytes stored as %s\n", first.Artifacts[0].Size, first.Artifacts[0].SHA256)
	return nil
}

// writeAPK writes a zip with a (not parsable) manifest and a stored random asset of about size
// bytes: the download path sees an APK; its content does not matter for an unchanged check.
func writeAPK(path string, size int64) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	zw := zip.NewWriter(f)
	w, err := zw.Create("AndroidManifest.xml")
	if err != nil {
		return err
	}
	w.Write([]byte("not a binary manifest"))
	w, err = zw.CreateHeader(&zip.FileHeader{Name: "assets/blob.bin", Method: zip.Store})
	if err != nil {
		return err
	}
	if _, err := io.CopyN(w, rand.Reader, size); err != nil {
		return err
	}
	return zw.Close()
}

// selfSigned makes the server's own certificate for 127.0.0.1.
func selfSigned() (tls.Certificate, string) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		panic(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "operator download server (bench)"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1)}, KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		panic(err)
	}
	return tls.Certificate{Certificate: [][]byte{der}, PrivateKey: key}, string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}
