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

// summary is one line per observation kind for the test log: what the corpus yields.
func summary(rep scanner.Report) string {
	by := map[string][]string{}
	for _, o := range rep.Observations {
		by[o.Kind] = append(by[o.Kind], o.Subject)
	}
	var kinds []string
	for k := range by {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	var b strings.Builder
	for _, k := range kinds {
		s := by[k]
		if len(s) > 25 {
			s = append(s[:25:25], "…")
		}
		b.WriteString("\n  " + k + ": " + strings.Join(s, ", "))
	}
	return b.String()
}

func has(rep scanner.Report, kind, subject string) bool { return len(find(rep, kind, subject)) > 0 }

// TestCorpusPackages inspects every real package: plain ones succeed, the encrypted one decrypts
// with the app id in its name, the malformed one fails with a clear error.
func TestCorpusPackages(t *testing.T) {
	dir := corpusDir(t, "wxapkg")
	in := New(catalogueForTest(t), Options{})
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	// Facts stated in SOURCES.md for each package (its "permission scope.userLocation" for
	// wx000b96cc505e1149 is not in that package's app-config.json, so it is not expected here).
	expect := map[string][][2]string{
		"wx000b96cc505e1149.wxapkg": {{"mp.api_call", "wx.getLocation"}, {"mp.api_call", "wx.getUserInfo"}, {"mp.sdk", "aladdin_stat"}, {"mp.sdk", "xmadx"}},
		"wx00ba1a412528f39b.wxapkg": {{"mp.api_call", "wx.chooseAddress"}, {"mp.api_call", "wx.getUserInfo"}},
		"wx0a3f2cb08e5994bc.wxapkg": {{"mp.api_call", "wx.getUserInfo"}, {"mp.api_call", "wx.login"}},
		"wx0a450f83ac5da195.wxapkg": {{"mp.api_call", "wx.getLocation"}, {"mp.api_call", "wx.chooseLocation"}, {"mp.api_call", "wx.chooseImage"}, {"mp.api_call", "wx.createCameraContext"}},
		"wx0a57a3cf605f6e84.wxapkg": {{"mp.api_call", "wx.getLocation"}, {"mp.api_call", "wx.getUserInfo"}},
		"wx0b06fea59463719b.wxapkg": {{"mp.api_call", "button:getPhoneNumber"}, {"mp.api_call", "wx.chooseAddress"}, {"mp.api_call", "wx.addPhoneContact"}, {"mp.api_call", "wx.getLocation"}, {"mp.api_call", "wx.getRecorderManager"}},
		"wx0b0cd28a9b94fffc.wxapkg": {{"mp.api_call", "wx.chooseAddress"}, {"mp.api_call", "wx.getLocation"}},
		"wx0c2d8160744bc7c3.wxapkg": {{"mp.api_call", "wx.getLocation"}, {"mp.api_call", "wx.chooseLocation"}, {"mp.api_call", "wx.getRecorderManager"}, {"mp.api_call", "wx.chooseImage"}},
	}
	expect["encrypted_pc_wx0c2d8160744bc7c3.wxapkg"] = expect["wx0c2d8160744bc7c3.wxapkg"]
	for _, e := range entries {
		if !strings.HasSuffix(e.Name(), ".wxapkg") {
			continue
		}
		t.Run(e.Name(), func(t *testing.T) {
			sink := newMemSink()
			rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: filepath.Join(dir, e.Name())}, sink)
			if len(rep.Evidence) == 0 {
				t.Fatal("input not stored")
			}
			if strings.HasPrefix(e.Name(), "malformed") {
				if rep.Status != scanner.StatusFailed || len(rep.Errors) == 0 || !strings.Contains(rep.Errors[0].Error(), "not a .wxapkg") || !strings.Contains(rep.Errors[0].Error(), e.Name()) {
					t.Errorf("malformed: %s %v", rep.Status, rep.Errors)
				}
				t.Logf("malformed package: %s", rep.Errors[0].Error())
				return
			}
			if rep.Status != scanner.StatusSucceeded {
				t.Errorf("status %s: %v", rep.Status, rep.Errors)
			}
			for _, want := range expect[e.Name()] {
				if !has(rep, want[0], want[1]) {
					t.Errorf("missing %s %s", want[0], want[1])
				}
			}
			checkVocabulary(t, rep.Observations)
			t.Logf("%d observations:%s", len(rep.Observations), summary(rep))
		})
	}
}

func TestCorpusFolders(t *testing.T) {
	in := New(catalogueForTest(t), Options{})
	cases := []struct {
		sub      string
		platform string
		want     [][2]string
		declared map[string]bool
	}{
		{"source/wechat-miniprogram-demo", PlatformWeChat,
			[][2]string{{"mp.privacy_config", "requiredPrivateInfos:getLocation"}, {"mp.privacy_config", "requiredPrivateInfos:chooseAddress"}, {"mp.privacy_config", "permission:scope.userLocation"}, {"mp.api_call", "wx.chooseAddress"}, {"mp.api_call", "wx.chooseInvoiceTitle"}, {"mp.api_call", "wx.startSoterAuthentication"}, {"mp.api_call", "wx.login"}, {"mp.api_call", "wx.getLocation"}, {"mp.api_call", "wx.chooseLocation"}},
			map[string]bool{"wx.getLocation": true, "wx.chooseLocation": true, "wx.chooseAddress": true}},
		{"source/umeng-mp-demos/wx", PlatformWeChat, [][2]string{{"mp.sdk", "umeng_analytics"}, {"mp.domain", "ulogs.umeng.com"}}, nil},
		{"source/umeng-mp-demos/alipay", PlatformAlipay, [][2]string{{"mp.sdk", "umeng_analytics"}, {"mp.api_call", "my.getOpenUserInfo"}}, nil},
		{"unpacked/wx0b06fea59463719b", PlatformWeChat, [][2]string{{"mp.api_call", "button:getPhoneNumber"}, {"mp.api_call", "wx.addPhoneContact"}, {"mp.sdk", "aladdin_stat"}, {"mp.sdk", "amap"}}, nil},
		{"unpacked/wx000b96cc505e1149", PlatformWeChat, [][2]string{{"mp.api_call", "wx.getLocation"}, {"mp.sdk", "aladdin_stat"}}, nil},
		{"unpacked/wx0c2d8160744bc7c3", PlatformWeChat, [][2]string{{"mp.api_call", "wx.getRecorderManager"}}, nil},
	}
	for _, c := range cases {
		t.Run(c.sub, func(t *testing.T) {
			dir := corpusDir(t, c.sub)
			rep := scanner.InspectSource(context.Background(), in, scanner.Source{Kind: scanner.SourceMPDir, Locator: dir}, newMemSink())
			if rep.Status != scanner.StatusSucceeded {
				t.Errorf("status %s: %v", rep.Status, rep.Errors)
			}
			if len(rep.Evidence) != 1 {
				t.Fatal("folder not stored")
			}
			var ids []scanner.Observation
			for _, o := range rep.Observations {
				if o.Kind == "mp.identity" {
					ids = append(ids, o)
				}
			}
			if len(ids) != 1 || ids[0].Attributes["platform"] != c.platform {
				t.Errorf("identity %+v", ids)
			}
			for _, w := range c.want {
				if !has(rep, w[0], w[1]) {
					t.Errorf("missing %s %s", w[0], w[1])
				}
			}
			for api, want := range c.declared {
				for _, o := range find(rep, "mp.api_call", api) {
					if o.Attributes["declared"] != want {
						t.Errorf("%s in %v: declared %v", api, o.Attributes["file"], o.Attributes["declared"])
					}
				}
			}
			checkVocabulary(t, rep.Observations)
			t.Logf("%d observations:%s", len(rep.Observations), summary(rep))
		})
	}
}

// Every api_call line of a real unpacked program points at a line holding that API's name.
func TestCorpusLineNumbers(t *testing.T) {
	dir := corpusDir(t, "unpacked/wx0b06fea59463719b")
	rep := scanner.InspectSource(context.Background(), New(nil, Options{}), scanner.Source{Kind: scanner.SourceMPDir, Locator: dir}, nil)
	n := 0
	for _, o := range rep.Observations {
		if o.Kind != "mp.api_call" {
			continue
		}
		file := o.Attributes["file"].(string)
		data, err := os.ReadFile(filepath.Join(dir, filepath.FromSlash(file)))
		if err != nil {
			t.Fatal(err)
		}
		lines := strings.Split(string(data), "\n")
		line := o.Attributes["line"].(int)
		api := o.Attributes["api"].(string)
		name := api[strings.IndexAny(api, ".:")+1:]
		if line < 1 || line > len(lines) || !strings.Contains(lines[line-1], name) {
			t.Errorf("%s at %s:%d: not on that line", api, file, line)
		}
		n++
	}
	if n < 20 {
		t.Errorf("only %d api calls checked", n)
	}
}
