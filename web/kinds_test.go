package web

import (
	"bytes"
	"context"
	"mime/multipart"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/evidence"
	"pilmon/internal/testlog"
	"pilmon/scanner"
)

// TestUploadFormOffersDeclaredKinds: the upload form lists the kinds of Config.Kinds that declare
// an upload, under their labels (a kind scanner has never heard of included), and an upload is
// named with the kind's extension; kinds without an upload declaration are refused.
func TestUploadFormOffersDeclaredKinds(t *testing.T) {
	e := newEnv(t, envOptions{kinds: testlog.New().Kinds()})
	admin := e.login(accounts.RoleAdmin)
	_, body := admin.get("/targets/" + e.target)
	for _, want := range []string{`<option value="apk">APK 安装包</option>`, `<option value="wxapkg">`, `<option value="har">`,
		`<option value="policy_file">隐私政策文件</option>`, `<option value="testlog">测试钩子日志</option>`} {
		if !strings.Contains(body, want) {
			t.Errorf("upload form lacks %s", want)
		}
	}
	for _, never := range []string{`<option value="mpdir">`, `<option value="policy_url">`, `<option value="h5_url">`} {
		if strings.Contains(body, never) {
			t.Errorf("upload form offers %s, which declares no upload", never)
		}
	}

	upload := func(kind, name, content string) *http.Response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("_csrf", admin.csrf)
		mw.WriteField("kind", kind)
		fw, _ := mw.CreateFormFile("file", name)
		fw.Write([]byte(content))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, admin.base+"/targets/"+e.target+"/upload", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		res, _ := admin.do(req)
		return res
	}
	last := func() scanner.Source {
		tg, err := e.reg.Get(context.Background(), e.target)
		if err != nil {
			t.Fatal(err)
		}
		return tg.Sources[len(tg.Sources)-1]
	}
	for _, c := range []struct{ kind, name, ext string }{
		{"testlog", "phone1.log", ".jsonl"},
		{"policy_file", "policy.TXT", ".txt"},
		{"policy_file", "policy.htm", ".html"},
	} {
		if res := upload(c.kind, c.name, `{"hook":"getDeviceId"} `+c.name); res.StatusCode != http.StatusSeeOther {
			t.Fatalf("upload %s: %d", c.kind, res.StatusCode)
		}
		if s := last(); string(s.Kind) != c.kind || filepath.Dir(s.Locator) != e.srv.cfg.UploadDir || filepath.Ext(s.Locator) != c.ext {
			t.Errorf("upload %s %s: source %+v, want extension %s", c.kind, c.name, s, c.ext)
		}
	}
	for _, kind := range []string{"mpdir", "h5_url", "ipa"} {
		if res := upload(kind, "x.bin", "x"); res.StatusCode != http.StatusBadRequest {
			t.Errorf("upload of kind %s: %d, want 400", kind, res.StatusCode)
		}
	}
}

// An upload can name the test session it was recorded in: the source then carries the session
// option that joins it with the other sources of that session; a name that is not a short plain
// token is refused and adds nothing.
func TestUploadWithSession(t *testing.T) {
	e := newEnv(t, envOptions{kinds: testlog.New().Kinds()})
	admin := e.login(accounts.RoleAdmin)
	if _, body := admin.get("/targets/" + e.target); !strings.Contains(body, `name="session"`) {
		t.Fatal("the upload form has no session field")
	}
	upload := func(session string) *http.Response {
		var buf bytes.Buffer
		mw := multipart.NewWriter(&buf)
		mw.WriteField("_csrf", admin.csrf)
		mw.WriteField("kind", "testlog")
		mw.WriteField("session", session)
		fw, _ := mw.CreateFormFile("file", "phone1.log")
		fw.Write([]byte(`{"v":1,"type":"session","t":1}` + "\n"))
		mw.Close()
		req, _ := http.NewRequest(http.MethodPost, admin.base+"/targets/"+e.target+"/upload", &buf)
		req.Header.Set("Content-Type", mw.FormDataContentType())
		res, _ := admin.do(req)
		return res
	}
	sources := func() []scanner.Source {
		tg, err := e.reg.Get(context.Background(), e.target)
		if err != nil {
			t.Fatal(err)
		}
		return tg.Sources
	}
	if res := upload("phone1-1207"); res.StatusCode != http.StatusSeeOther {
		t.Fatalf("upload with a session: %d", res.StatusCode)
	}
	srcs := sources()
	if got := srcs[len(srcs)-1].Options[scanner.SessionOption]; got != "phone1-1207" {
		t.Errorf("uploaded source's session = %q", got)
	}
	n := len(srcs)
	for _, bad := range []string{"../x", "a b", strings.Repeat("a", 65), "-x"} {
		if res := upload(bad); res.StatusCode != http.StatusBadRequest {
			t.Errorf("session %q: %d, want 400", bad, res.StatusCode)
		}
	}
	if len(sources()) != n {
		t.Error("a refused session name still added a source")
	}
}

// A session timeline pilmon derived is shown inline on a finding's page, escaped; a captured text
// (from the investigated party) is not.
func TestTimelineEvidenceInline(t *testing.T) {
	e := newEnv(t)
	put := func(method, text string) string {
		ref, err := e.ev.Put(strings.NewReader(text), evidence.Meta{CapturedAt: time.Now(), Method: method, Source: "session:s1",
			Tool: "test", MediaType: "text/plain; charset=utf-8"})
		if err != nil {
			t.Fatal(err)
		}
		return ref.SHA256
	}
	tl := e.srv.evidenceView(put(evidence.MethodSessionTimeline, "会话时间线 / session timeline: s1\n<script>alert(1)</script>\n"))
	if !strings.Contains(tl.Text, "会话时间线") {
		t.Errorf("the derived timeline is not shown inline: %+v", tl)
	}
	if captured := e.srv.evidenceView(put("file_import", "会话时间线 / session timeline: forged")); captured.Text != "" {
		t.Error("a captured text file is shown inline")
	}
}
