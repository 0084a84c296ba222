package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"
)

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServeAndUser starts pilmon serve on a free port with the embedded Redis, logs in with the
// admin password it prints once, then adds a user with pilmon user add (password on stdin) and
// logs in as that user.
func TestServeAndUser(t *testing.T) {
	if _, err := exec.LookPath("redis-server"); err != nil {
		t.Skip("redis-server not installed (apt-get install redis-server)")
	}
	dir := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	var out, errs syncBuffer
	done := make(chan int)
	go func() {
		done <- run(ctx, []string{"serve", "--data-dir", dir, "--listen", "127.0.0.1:0", "--workers", "0"}, strings.NewReader(""), &out, &errs)
	}()
	addrRE := regexp.MustCompile(`dashboard: (http://127\.0\.0\.1:\d+)/`)
	pwRE := regexp.MustCompile(`\n\s+(\S{20,})\n`)
	var base, pw string
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		if m := addrRE.FindStringSubmatch(out.String()); m != nil {
			base = m[1]
			if p := pwRE.FindStringSubmatch(out.String()); p != nil {
				pw = p[1]
			}
			break
		}
	}
	if base == "" || pw == "" {
		cancel()
		t.Fatalf("serve did not start: stdout %q stderr %q", out.String(), errs.String())
	}
	login := func(user, pass string) int {
		jar, _ := cookiejar.New(nil)
		c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		res, err := c.Get(base + "/login")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		m := regexp.MustCompile(`name="_csrf" value="([^"]+)"`).FindSubmatch(b)
		if m == nil {
			t.Fatal("no CSRF token")
		}
		res, err = c.PostForm(base+"/login", url.Values{"_csrf": {string(m[1])}, "username": {user}, "password": {pass}})
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		if res.StatusCode != http.StatusSeeOther {
			return res.StatusCode
		}
		res, err = c.Get(base + "/")
		if err != nil {
			t.Fatal(err)
		}
		res.Body.Close()
		return res.StatusCode
	}
	if s := login("admin", pw); s != http.StatusOK {
		t.Errorf("admin login: %d", s)
	}
	// pilmon user add attaches to the embedded Redis the server runs.
	var uout, uerr bytes.Buffer
	if code := run(context.Background(), []string{"user", "add", "zhang.san", "--role", "prosecutor", "--data-dir", dir},
		strings.NewReader("a long enough password\n"), &uout, &uerr); code != 0 {
		t.Fatalf("user add: %d %s", code, uerr.String())
	}
	if code := run(context.Background(), []string{"user", "add", "x", "--role", "emperor", "--data-dir", dir},
		strings.NewReader("a long enough password\n"), &uout, &uerr); code != exitUsage {
		t.Errorf("bad role: %d", code)
	}
	if s := login("zhang.san", "a long enough password"); s != http.StatusOK {
		t.Errorf("new user login: %d", s)
	}
	if code := run(context.Background(), []string{"user", "disable", "zhang.san", "--data-dir", dir}, strings.NewReader(""), &uout, &uerr); code != 0 {
		t.Fatalf("user disable: %d %s", code, uerr.String())
	}
	if s := login("zhang.san", "a long enough password"); s == http.StatusOK {
		t.Error("disabled user logged in")
	}
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("serve exit %d: %s", code, errs.String())
		}
	case <-time.After(30 * time.Second):
		t.Fatal("serve did not stop")
	}
}
