package miniprogram

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"pilmon/internal/corpus"

	"pilmon/evidence"
)

// corpusDir returns ../shared/corpus/miniprograms/<sub> or skips the test.
func corpusDir(t testing.TB, sub string) string {
	t.Helper()
	s := corpus.SharedDir()
	p := filepath.Join(s, "corpus", "miniprograms", sub)
	if s == "" {
		t.Skip("shared corpus not found (set PILMON_SHARED)")
	}
	if _, err := os.Stat(p); err != nil {
		t.Skipf("shared corpus %s not present: %v", p, err)
	}
	return p
}

// memSink is an in-memory EvidenceSink for tests.
type memSink struct {
	mu    sync.Mutex
	blobs map[string][]byte
	metas map[string]evidence.Meta
}

func newMemSink() *memSink {
	return &memSink{blobs: map[string][]byte{}, metas: map[string]evidence.Meta{}}
}

func (s *memSink) Put(r io.Reader, meta evidence.Meta) (evidence.Ref, error) {
	data, err := io.ReadAll(r)
	if err != nil {
		return evidence.Ref{}, err
	}
	sum := sha256.Sum256(data)
	h := hex.EncodeToString(sum[:])
	s.mu.Lock()
	defer s.mu.Unlock()
	s.blobs[h] = data
	s.metas[h] = meta
	return evidence.Ref{SHA256: h, Size: int64(len(data))}, nil
}

// fixtureFiles is a small WeChat mini-program with one of everything the detectors look for,
// and as many traps for them (API names in strings, comments, regexes and templates).
func fixtureFiles() []File {
	return []File{
		{Name: "app-config.json", Data: []byte(`{
  "pages": ["pages/index/index", "pages/me/me"],
  "subPackages": [{"root": "pkgA/", "pages": ["pages/a"]}],
  "permission": {
    "scope.userLocation": {"desc": "用于查找附近门店"},
    "scope.userFuzzyLocation": {"desc": ""}
  },
  "requiredPrivateInfos": ["getLocation"],
  "__usePrivacyCheck__": true,
  "tabBar": {"list": [{"pagePath": "pages/index/index", "iconPath": "http://cdn.example-cdn.cn/i.png"}]}
}`)},
		{Name: "app-service.js", Data: []byte(`var __wxAppCode__ = {};
define("utils/ald-stat.js", function(require, module, exports){
  var host = "https://log.aldwx.com/d.html"; wx.request({url: host});
  wx.getSystemInfo({});
});
define("pages/index/index.js", function(require, module, exports){
  // wx.getClipboardData() in a comment is not a call
  /* wx.startSoterAuthentication() neither */
  var s = "wx.getWeRunData() in a string is not a call";
  var re = /wx.addPhoneContact"/g, t = ` + "`wx.chooseImage ${ wx.getUserProfile({}) } https://tpl.shop.cn/x`" + `;
  wx.getLocation({type: "gcj02"});
  wx
    .chooseAddress({});
  wx["getFuzzyLocation"]({});
  wx.onNeedPrivacyAuthorization(function(r){});
  wx.request({url: "https://api.shop.cn/v1/user", data: {}});
  wx.uploadFile({url: "http:\/\/upload.shop.cn/u"});
  foo.wx.getWeRunData();
});
define("pages/me/me.js", function(require, module, exports){
  wx.login({}); wx.startRecord(); wx.faceVerifyForPay && wx.startLocationUpdateBackground(); wx.authorize({scope: "scope.record", success: function(){}});
});`)},
		{Name: "pages/me/me.wxml", Data: []byte(`<view>
  <button open-type="getPhoneNumber" bindgetphonenumber="onPhone">手机号</button>
  <button open-type="share">share is not PI</button>
  <image src="https://img.shop.cn/a.png"/>
</view>`)},
		{Name: "utils/ald-stat.js", Data: []byte(`var aldstat_uuid = 1;`)},
		{Name: "images/logo.png", Data: bytes.Repeat([]byte{0x89, 'P', 'N', 'G'}, 400)},
	}
}
