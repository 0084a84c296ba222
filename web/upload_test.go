package web

import (
	"bytes"
	"errors"
	"io/fs"
	"mime/multipart"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"pilmon/accounts"
)

// storeFiles lists every file under the evidence store and the upload folder, with its size.
func (e *env) storeFiles() []string {
	e.t.Helper()
	var out []string
	for _, root := range []string{e.ev.Dir(), e.srv.cfg.UploadDir} {
		err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
			if err != nil {
				if p == root && errorsIsNotExist(err) {
					return nil
				}
				return err
			}
			if !d.IsDir() && !strings.HasPrefix(p, filepath.Join(e.ev.Dir(), "locks")) {
				out = append(out, p)
			}
			return nil
		})
		if err != nil {
			e.t.Fatal(err)
		}
	}
	slices.Sort(out)
	return out
}

func errorsIsNotExist(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// uploadRoute is one of the dashboard's upload routes and the role allowed to use it.
type uploadRoute struct {
	name string
	role accounts.Role
	post func(c *client, content []byte) *http.Response
}

// uploadRoutes are the dashboard's upload routes: the target's source upload (admin) and a
// checklist item's evidence upload (prosecutor, analyst).
func uploadRoutes(e *env) []uploadRoute {
	post := func(c *client, path string, fields map[string]string, content []byte) *http.Response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("_csrf", c.csrf)
		for k, v := range fields {
			mw.WriteField(k, v)
		}
		fw, _ := mw.CreateFormFile("file", "big.apk")
		fw.Write(content)
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, c.base+path, &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		res, _ := c.do(req)
		return res
	}
	rule := manualRule(e)
	return []uploadRoute{
		{"target upload", accounts.RoleAdmin, func(c *client, b []byte) *http.Response {
			return post(c, "/targets/"+e.target+"/upload", map[string]string{"kind": "apk"}, b)
		}},
		{"checklist upload", accounts.RoleProsecutor, func(c *client, b []byte) *http.Response {
			return post(c, "/targets/"+e.target+"/checklist/"+rule, map[string]string{"result": ResultViolation, "note": "拒绝后退出"}, b)
		}},
	}
}

// TestOverLimitUploadStoresNothing: an upload one byte over Config.MaxUpload is refused with 413
// and leaves no file in the evidence store or the upload folder, on every upload route; one at the
// limit is stored.
func TestOverLimitUploadStoresNothing(t *testing.T) {
	const limit = 4096
	e := newEnv(t, envOptions{maxUpload: limit})
	for _, r := range uploadRoutes(e) {
		c := e.login(r.role)
		before := e.storeFiles()
		over := bytes.Repeat([]byte{'o'}, limit+1)
		copy(over, r.name)
		if res := r.post(c, over); res.StatusCode != http.StatusRequestEntityTooLarge {
			t.Errorf("%s of %d bytes: %d, want 413", r.name, limit+1, res.StatusCode)
		}
		if after := e.storeFiles(); !slices.Equal(before, after) {
			t.Errorf("%s over the limit left files behind:\n before %v\n after  %v", r.name, before, after)
		}
		at := bytes.Repeat([]byte{'a'}, limit)
		copy(at, r.name)
		if res := r.post(c, at); res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s of exactly %d bytes: %d, want 303", r.name, limit, res.StatusCode)
		}
		if after := e.storeFiles(); len(after) <= len(before) {
			t.Errorf("%s at the limit stored nothing", r.name)
		}
	}
	// What the uploads left is private: the upload folder 0700, its copies 0600, evidence 0400.
	for _, p := range e.storeFiles() {
		fi, err := os.Stat(p)
		if err != nil || fi.Mode().Perm()&0o077 != 0 {
			t.Errorf("%s: mode %v %v, want no group or other permissions", p, fi.Mode().Perm(), err)
		}
	}
	if fi, err := os.Stat(e.srv.cfg.UploadDir); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("upload folder: %v %v, want mode 0700", fi.Mode().Perm(), err)
	}
}

// TestUploadQuotaRefuses: once a user's uploads reach Config.UploadQuota, further uploads are
// refused with 507 and a message naming the quota, and nothing more is stored, on every upload
// route; what is left of the quota stays usable; another user has a quota of their own.
func TestUploadQuotaRefuses(t *testing.T) {
	const limit, quota = 4096, 10000
	e := newEnv(t, envOptions{maxUpload: limit, uploadQuota: quota})
	for _, r := range uploadRoutes(e) {
		c := e.login(r.role)
		for i := range 2 {
			b := bytes.Repeat([]byte{byte('0' + i)}, 4000)
			copy(b, r.name)
			if res := r.post(c, b); res.StatusCode != http.StatusSeeOther {
				t.Fatalf("%s within the quota: %d", r.name, res.StatusCode)
			}
		}
		// 8,000 of 10,000 bytes used: a 4,000-byte upload does not fit.
		before := e.storeFiles()
		if res := r.post(c, bytes.Repeat([]byte{'q'}, 4000)); res.StatusCode != http.StatusInsufficientStorage {
			t.Errorf("%s past the quota: %d, want 507", r.name, res.StatusCode)
		}
		if after := e.storeFiles(); !slices.Equal(before, after) {
			t.Errorf("%s past the quota left files behind", r.name)
		}
		// The refused upload did not count: the 2,000 bytes left are usable, then nothing is.
		left := bytes.Repeat([]byte{'r'}, 2000)
		copy(left, r.name)
		if res := r.post(c, left); res.StatusCode != http.StatusSeeOther {
			t.Errorf("%s of what is left of the quota: %d, want 303", r.name, res.StatusCode)
		}
		if res := r.post(c, []byte("x")); res.StatusCode != http.StatusInsufficientStorage {
			t.Errorf("%s with the quota used up: %d, want 507", r.name, res.StatusCode)
		}
	}
	// The message says what happened, in the user's language.
	rule := manualRule(e)
	pat := e.login(accounts.RoleProsecutor)
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	mw.WriteField("_csrf", pat.csrf)
	mw.WriteField("result", ResultViolation)
	mw.WriteField("note", "拒绝后退出")
	fw, _ := mw.CreateFormFile("file", "x.png")
	fw.Write([]byte("x"))
	mw.Close()
	req, _ := http.NewRequest(http.MethodPost, pat.base+"/targets/"+e.target+"/checklist/"+rule, &buf)
	req.Header.Set("Content-Type", mw.FormDataContentType())
	if res, body := pat.do(req); res.StatusCode != http.StatusInsufficientStorage || !strings.Contains(body, "上传配额") {
		t.Errorf("upload with the quota used up: %d, body lacks the quota message", res.StatusCode)
	}
	// Another user has a quota of their own.
	ana := e.login(accounts.RoleAnalyst)
	if res := uploadRoutes(e)[1].post(ana, []byte("ana's screenshot")); res.StatusCode != http.StatusSeeOther {
		t.Errorf("another user's upload: %d, want 303", res.StatusCode)
	}
}
