// Package apkbuild builds real APKs for tests from a manifest, resources and smali sources with
// Debian's aapt, smali, zipalign and apksigner, so every detector has positive and negative
// inputs without third-party binaries in the repository.
package apkbuild

import (
	"archive/zip"
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
)

// Spec describes one APK.
type Spec struct {
	Manifest string            // AndroidManifest.xml source
	Res      map[string]string // path under res/ -> content, e.g. "values/strings.xml"
	Smali    map[string]string // file name -> smali source; empty: no classes.dex
	Files    map[string][]byte // extra entries stored as is (assets/…, lib/arm64-v8a/…)
	// Sign: nil leaves the APK unsigned; otherwise the key and schemes to sign with.
	Sign *Key
	// V1Only signs with JAR signing only.
	V1Only bool
}

// Key is a signing key pair on disk.
type Key struct {
	PK8, CertPEM string
}

// Tools lists the programs Build needs.
var Tools = []string{"aapt", "smali", "zipalign", "apksigner", "openssl"}

// Available reports the first missing tool, naming its Debian package.
func Available() error {
	pkgs := map[string]string{"aapt": "aapt", "smali": "smali", "zipalign": "zipalign", "apksigner": "apksigner", "openssl": "openssl"}
	for _, t := range Tools {
		if _, err := exec.LookPath(t); err != nil {
			return fmt.Errorf("%s not installed (Debian package %s)", t, pkgs[t])
		}
	}
	if FrameworkRes() == "" {
		return errors.New("framework-res.apk not found (Debian package android-framework-res)")
	}
	return nil
}

// FrameworkRes is the android.jar resource table aapt links against.
func FrameworkRes() string {
	for _, p := range []string{"/usr/share/android-framework-res/framework-res.apk", "/usr/lib/android-sdk/platforms/android-23/android.jar"} {
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	return ""
}

func run(dir, name string, args ...string) error {
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return nil
}

// NewKey makes an RSA key and self-signed certificate with the given subject
// (openssl form, e.g. "/C=CN/O=某公司/CN=test").
func NewKey(dir, subject string) (*Key, error) {
	k := &Key{PK8: filepath.Join(dir, "key.pk8"), CertPEM: filepath.Join(dir, "cert.pem")}
	pem := filepath.Join(dir, "key.pem")
	if err := run(dir, "openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-utf8", "-keyout", pem, "-out", k.CertPEM, "-days", "3650", "-subj", subject); err != nil {
		return nil, err
	}
	if err := run(dir, "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", pem, "-outform", "DER", "-out", k.PK8); err != nil {
		return nil, err
	}
	return k, nil
}

// KeyFromPEM converts a PEM private key (PKCS#1 or PKCS#8) for apksigner, which wants DER PKCS#8.
func KeyFromPEM(dir, keyPEM, certPEM string) (*Key, error) {
	k := &Key{PK8: filepath.Join(dir, "fixed.pk8"), CertPEM: certPEM}
	if err := run(dir, "openssl", "pkcs8", "-topk8", "-nocrypt", "-in", keyPEM, "-outform", "DER", "-out", k.PK8); err != nil {
		return nil, err
	}
	return k, nil
}

// Build writes the APK under dir and returns its path.
func Build(dir string, s Spec) (string, error) {
	work, err := os.MkdirTemp(dir, "build")
	if err != nil {
		return "", err
	}
	if err := os.WriteFile(filepath.Join(work, "AndroidManifest.xml"), []byte(s.Manifest), 0o644); err != nil {
		return "", err
	}
	args := []string{"package", "-f", "-M", "AndroidManifest.xml", "-I", FrameworkRes(), "-F", "base.apk"}
	if len(s.Res) > 0 {
		for p, c := range s.Res {
			fp := filepath.Join(work, "res", filepath.FromSlash(p))
			os.MkdirAll(filepath.Dir(fp), 0o755)
			if err := os.WriteFile(fp, []byte(c), 0o644); err != nil {
				return "", err
			}
		}
		args = append(args, "-S", "res")
	}
	if err := run(work, "aapt", args...); err != nil {
		return "", err
	}
	extra := map[string][]byte{}
	for k, v := range s.Files {
		extra[k] = v
	}
	if len(s.Smali) > 0 {
		src := filepath.Join(work, "smali")
		os.MkdirAll(src, 0o755)
		for name, code := range s.Smali {
			if err := os.WriteFile(filepath.Join(src, name), []byte(code), 0o644); err != nil {
				return "", err
			}
		}
		if err := run(work, "smali", "assemble", "-j", "1", "-o", "classes.dex", "smali"); err != nil {
			return "", err
		}
		dex, err := os.ReadFile(filepath.Join(work, "classes.dex"))
		if err != nil {
			return "", err
		}
		extra["classes.dex"] = dex
	}
	if err := addEntries(filepath.Join(work, "base.apk"), filepath.Join(work, "full.apk"), extra); err != nil {
		return "", err
	}
	if err := run(work, "zipalign", "-f", "4", "full.apk", "aligned.apk"); err != nil {
		return "", err
	}
	out := filepath.Join(work, "app.apk")
	if s.Sign == nil {
		return out, os.Rename(filepath.Join(work, "aligned.apk"), out)
	}
	sargs := []string{"sign", "--key", s.Sign.PK8, "--cert", s.Sign.CertPEM, "--out", out}
	if s.V1Only {
		sargs = append(sargs, "--v1-signing-enabled", "true", "--v2-signing-enabled", "false", "--v3-signing-enabled", "false", "--min-sdk-version", "15")
	} else {
		sargs = append(sargs, "--v1-signing-enabled", "true", "--v2-signing-enabled", "true", "--v3-signing-enabled", "true")
	}
	sargs = append(sargs, "aligned.apk")
	if err := run(work, "apksigner", sargs...); err != nil {
		return "", err
	}
	return out, nil
}

// addEntries copies the zip at in to out and appends extra entries in name order.
func addEntries(in, out string, extra map[string][]byte) error {
	zr, err := zip.OpenReader(in)
	if err != nil {
		return err
	}
	defer zr.Close()
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	for _, f := range zr.File {
		if _, replaced := extra[f.Name]; replaced {
			continue
		}
		if err := zw.Copy(f); err != nil {
			return err
		}
	}
	names := make([]string, 0, len(extra))
	for n := range extra {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		method := zip.Deflate
		if strings.HasSuffix(n, ".so") {
			method = zip.Store
		}
		w, err := zw.CreateHeader(&zip.FileHeader{Name: n, Method: method})
		if err != nil {
			return err
		}
		if _, err := io.Copy(w, bytes.NewReader(extra[n])); err != nil {
			return err
		}
	}
	if err := zw.Close(); err != nil {
		return err
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
