package miniprogram

import (
	"context"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pilmon/scanner"
)

// domains analyses files and returns mp.domain by host.
func domains(t *testing.T, files []File) map[string]map[string]any {
	t.Helper()
	obs, errs := analyze(context.Background(), files, identity{Name: "fixture"}, nil, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	out := map[string]map[string]any{}
	for _, o := range obs {
		if o.Kind == "mp.domain" {
			out[o.Subject] = o.Attributes
		}
	}
	return out
}

// requestCleartext is what pipl-51-cleartext-allowed fires on.
func requestCleartext(a map[string]any) bool {
	if a["cleartext"] != true {
		return false
	}
	switch a["context"] {
	case URLContextRequest, URLContextConfig, URLContextURLVariable:
		return true
	}
	return false
}

// Only URLs in request positions say the program talks to a host over cleartext: comments,
// library messages, license headers, image and static paths, XML namespaces and markup links do not.
func TestURLContexts(t *testing.T) {
	js := `/*! lib v1.0 | (c) Someone | license: http://license.example-lib.cn/MIT */
// see http://comment.example-doc.cn/api for the API
var BASE_URL = "http://api.plain-shop.cn/v1/";
const config = {apiHost: 'http://gw.plain-shop.cn', imgUrl: 'http://media.plain-shop.cn/'};
var off = true, dev = off ? 'http://dev.tunnel-host.cn/wechat' : 'https://prod.plain-shop.cn/wechat';
wx.request({url: 'http://order.plain-shop.cn/create', data: {}});
wx.request({url: BASE_URL + 'user', success: function (r) { var pic = 'http://nested.plain-shop.cn/a'; }});
wx.connectSocket({url: "ws://ws.plain-shop.cn/live"});
my.httpRequest({url: 'http://ali.plain-shop.cn/x'});
wx.downloadFile({url: 'https://dl.plain-shop.cn/f.zip'});
wx.request({url: 'https://mixed.plain-shop.cn/a'}); var help = 'http://mixed.plain-shop.cn/help';
console.warn("moment().zone is deprecated. See http://warn.example-lib.cn/guides/#/warnings/zone/ for more info.");
throw new Error("No async scheduler available\n\n    See http://err.example-lib.cn/MqrFmX\n");
var items = [{icon: "http://cdn.plain-shop.cn/attachment/images/a.jpg", cover: "http://qn.plain-shop.cn/p_1.jpg-CONminb"}];
var banner = 'http://pics.plain-shop.cn/timg.gif', svgns = 'http://www.w3.org/2000/svg';
var tpl = '<a href="http://link.plain-shop.cn/x">link</a>';
`
	files := []File{
		{Name: "app.json", Data: []byte(`{"pages":["pages/index/index"],"tabBar":{"list":[{"iconPath":"http://tab.plain-shop.cn/home"}]},"ext":{"requestDomain":["http://cfg.plain-shop.cn"]}}`)},
		{Name: "pages/index/index.js", Data: []byte(js)},
		{Name: "pages/index/index.wxml", Data: []byte(`<!-- http://htmlcomment.plain-shop.cn -->
<image src="http://img.plain-shop.cn/logo"/><web-view src="http://page.plain-shop.cn/about"></web-view>
<svg xmlns="http://www.w3.org/2000/svg"></svg>`)},
	}
	got := domains(t, files)
	want := map[string]struct {
		context   string
		cleartext bool
	}{
		"api.plain-shop.cn":         {URLContextURLVariable, true},
		"gw.plain-shop.cn":          {URLContextURLVariable, true},
		"media.plain-shop.cn":       {URLContextString, true},
		"dev.tunnel-host.cn":        {URLContextString, true},
		"prod.plain-shop.cn":        {URLContextString, false},
		"order.plain-shop.cn":       {URLContextRequest, true},
		"nested.plain-shop.cn":      {URLContextString, true},
		"ws.plain-shop.cn":          {URLContextRequest, true},
		"ali.plain-shop.cn":         {URLContextRequest, true},
		"dl.plain-shop.cn":          {URLContextRequest, false},
		"mixed.plain-shop.cn":       {URLContextRequest, false},
		"warn.example-lib.cn":       {URLContextString, true},
		"err.example-lib.cn":        {URLContextString, true},
		"cdn.plain-shop.cn":         {URLContextAsset, true},
		"qn.plain-shop.cn":          {URLContextAsset, true},
		"pics.plain-shop.cn":        {URLContextAsset, true},
		"link.plain-shop.cn":        {URLContextString, true},
		"tab.plain-shop.cn":         {URLContextString, true},
		"cfg.plain-shop.cn":         {URLContextConfig, true},
		"img.plain-shop.cn":         {URLContextString, true},
		"page.plain-shop.cn":        {URLContextString, true},
		"htmlcomment.plain-shop.cn": {URLContextString, true},
	}
	for host, w := range want {
		a, ok := got[host]
		if !ok {
			t.Errorf("%s: not reported", host)
			continue
		}
		if a["context"] != w.context || a["cleartext"] != w.cleartext {
			t.Errorf("%s: context %v cleartext %v, want %s %v", host, a["context"], a["cleartext"], w.context, w.cleartext)
		}
	}
	for _, host := range []string{"license.example-lib.cn", "comment.example-doc.cn", "www.w3.org"} {
		if _, ok := got[host]; ok {
			t.Errorf("%s: a URL in a JS comment or an XML namespace reported", host)
		}
	}
	var req []string
	for h, a := range got {
		if requestCleartext(a) {
			req = append(req, h)
		}
	}
	sort.Strings(req)
	if strings.Join(req, ",") != "ali.plain-shop.cn,api.plain-shop.cn,cfg.plain-shop.cn,gw.plain-shop.cn,order.plain-shop.cn,ws.plain-shop.cn" {
		t.Errorf("cleartext in request positions: %v", req)
	}
}

func TestIsAssetURL(t *testing.T) {
	for u, want := range map[string]bool{
		"http://a.cn/x.png": true, "http://a.cn/x.JPG?v=1": true, "http://a.cn/p.jpg-CONminb": true, "http://a.cn/p.png!thumb": true,
		"http://a.cn/static/js/app": true, "http://a.cn/favicon.ico": true, "http://a.cn/f.woff2#x": true,
		"http://a.cn/api/user": false, "http://a.cn/": false, "http://a.cn": false, "http://a.cn/x.pngfile": false, "http://a.cn/static/": false,
	} {
		if got := isAssetURL(u); got != want {
			t.Errorf("isAssetURL(%q) = %v", u, got)
		}
	}
}

// On the real packages of the corpus, every cleartext host comes from a library message, an image
// path or a ternary's development branch: none sits in a request position. Before URL contexts,
// the same packages gave 13 cleartext mp.domain observations (each a pipl-51-cleartext-allowed
// record); the log gives the count now.
func TestCorpusCleartextNotRequests(t *testing.T) {
	dir := corpusDir(t, "wxapkg")
	in := New(catalogueForTest(t), Options{})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	cleartext, requests := 0, 0
	for _, e := range entries {
		if !strings.HasPrefix(e.Name(), "wx") {
			continue
		}
		rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: filepath.Join(dir, e.Name())}, nil)
		for _, o := range rep.Observations {
			if o.Kind != "mp.domain" || o.Attributes["cleartext"] != true {
				continue
			}
			cleartext++
			t.Logf("%s: %s cleartext in %v", e.Name(), o.Subject, o.Attributes["context"])
			if requestCleartext(o.Attributes) {
				requests++
				t.Errorf("%s: %s is cleartext in a request position (%v)", e.Name(), o.Subject, o.Attributes["context"])
			}
		}
	}
	t.Logf("cleartext hosts %d, in request positions %d", cleartext, requests)
	if cleartext == 0 {
		t.Error("no cleartext host at all: the corpus has http:// strings, so the scan lost them")
	}
}
