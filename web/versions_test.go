package web

import (
	"context"
	"strings"
	"testing"
	"time"

	"pilmon/accounts"
	"pilmon/scanner"
)

// TestTargetPageShowsVersions: the target page lists the packages its remote source served,
// newest first, with their provenance in Beijing time and the server's words escaped; a target
// without versions has no such section.
func TestTargetPageShowsVersions(t *testing.T) {
	e := newEnv(t)
	ctx := context.Background()
	viewer := e.login(accounts.RoleViewer)
	if _, body := viewer.get("/targets/" + e.target); strings.Contains(body, `id="versions"`) {
		t.Fatal("a target without versions shows a versions section")
	}
	src := scanner.Source{Kind: "apk_url", Locator: "https://dl.example.cn/app.apk"}
	at := time.Date(2026, 12, 7, 2, 0, 1, 0, time.UTC)
	for i, v := range []scanner.PackageVersion{
		{SHA256: strings.Repeat("a", 64), VersionName: "1.0", VersionCode: "1", SignerSHA256: strings.Repeat("c", 64),
			Provenance: strings.Repeat("e", 64), FetchedAt: at, FinalURL: "https://cdn.example.cn/app-1.0.apk", Address: "203.0.113.9",
			ServerCert: `CN=<script>alert(1)</script> (sha256 ff)`},
		{SHA256: strings.Repeat("b", 64), VersionName: "2.0<b>", VersionCode: "2", SignerSHA256: strings.Repeat("d", 64),
			Provenance: strings.Repeat("f", 64), FetchedAt: at.Add(24 * time.Hour), FinalURL: "https://cdn.example.cn/app-2.0.apk"},
	} {
		if _, _, err := e.st.RecordVersion(ctx, e.target, src, v, []string{"s1", "s2"}[i]); err != nil {
			t.Fatal(err)
		}
	}
	_, body := viewer.get("/targets/" + e.target)
	sec := body[strings.Index(body, `id="versions"`):]
	sec = sec[:strings.Index(sec, "</section>")]
	if strings.Index(sec, "2.0&lt;b&gt;") > strings.Index(sec, ">1.0 <") || !strings.Contains(sec, "2026-12-07 10:00:01") ||
		!strings.Contains(sec, "https://cdn.example.cn/app-1.0.apk (203.0.113.9)") || !strings.Contains(sec, "/evidence/"+strings.Repeat("e", 64)) {
		t.Errorf("versions section:\n%s", sec)
	}
	if strings.Contains(sec, "<script>") || strings.Contains(sec, "<b>") {
		t.Errorf("server-supplied text not escaped:\n%s", sec)
	}
}
