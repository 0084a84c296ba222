package samplegen

import (
	"os"
	"sort"

	"pilmon/miniprogram"
)

// MiniProgramFiles returns the WeChat mini-program of the target, name → content. The violating
// one calls wx.getLocation without listing getLocation in requiredPrivateInfos and has no
// privacy-authorisation handler; the clean one reads no PI, enables __usePrivacyCheck__ and
// handles wx.onNeedPrivacyAuthorization.
func MiniProgramFiles(o Options) map[string]string {
	files := map[string]string{
		"project.config.json":    `{"appid": "` + MPAppID + `", "projectname": "shilishop-sample", "description": "pilmon 生成的示例（示例/generated），运营者为` + Operator + `"}`,
		"pages/index/index.wxml": "<view class=\"title\">" + AppName + "（示例/generated）</view>\n",
	}
	if o.Clean {
		files["app.json"] = `{
  "pages": ["pages/index/index"],
  "__usePrivacyCheck__": true,
  "window": {"navigationBarTitleText": "` + AppName + `（示例）"}
}
`
		files["app.js"] = `// pilmon 生成的示例（示例/generated）
App({
  onLaunch() {
    wx.onNeedPrivacyAuthorization((resolve) => {
      this.privacyResolve = resolve
    })
  }
})
`
		files["pages/index/index.js"] = `Page({
  onLoad() {
    wx.request({ url: 'https://` + FirstParty + `/v1/goods', method: 'GET' })
  }
})
`
		return files
	}
	files["app.json"] = `{
  "pages": ["pages/index/index"],
  "window": {"navigationBarTitleText": "` + AppName + `（示例）"}
}
`
	files["app.js"] = "// pilmon 生成的示例（示例/generated）\nApp({})\n"
	files["pages/index/index.js"] = `Page({
  onLoad() {
    wx.request({ url: 'https://` + FirstParty + `/v1/goods', method: 'GET' })
    wx.getLocation({
      type: 'gcj02',
      success(res) { console.log(res.latitude, res.longitude) }
    })
  }
})
`
	return files
}

// WriteMiniProgramDir writes the mini-program as an unpacked folder.
func WriteMiniProgramDir(dir string, o Options) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	return writeFiles(dir, MiniProgramFiles(o))
}

// Wxapkg returns the mini-program as a plain .wxapkg (files in name order).
func Wxapkg(o Options) ([]byte, error) {
	m := MiniProgramFiles(o)
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	sort.Strings(names)
	files := make([]miniprogram.File, 0, len(names))
	for _, n := range names {
		files = append(files, miniprogram.File{Name: n, Data: []byte(m[n])})
	}
	return miniprogram.Pack(files)
}
