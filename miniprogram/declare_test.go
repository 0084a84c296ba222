package miniprogram

import (
	"context"
	"encoding/json"
	"testing"

	"pilmon/scanner"
)

// appJSON generates an app.json with the given permission reasons and requiredPrivateInfos (nil:
// no key).
func appJSON(t *testing.T, perms map[string]string, required []string) File {
	t.Helper()
	doc := map[string]any{"pages": []string{"pages/index/index"}}
	if perms != nil {
		p := map[string]any{}
		for scope, desc := range perms {
			p[scope] = map[string]string{"desc": desc}
		}
		doc["permission"] = p
	}
	if required != nil {
		doc["requiredPrivateInfos"] = required
	}
	b, err := json.Marshal(doc)
	if err != nil {
		t.Fatal(err)
	}
	return File{Name: "app.json", Data: b}
}

const locationPage = "Page({onLoad() {\n  wx.getLocation({type: 'gcj02'});\n  wx.chooseLocation({});\n  wx.chooseAddress({});\n  wx.getSystemInfo({});\n}});"

func apiCalls(t *testing.T, files []File) map[string]scanner.Observation {
	t.Helper()
	obs, errs := analyze(context.Background(), files, identity{Name: "fixture"}, nil, nil)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	out := map[string]scanner.Observation{}
	for _, o := range obs {
		if o.Kind == "mp.api_call" {
			out[o.Subject] = o
		}
	}
	return out
}

// A location use explained in permission.scope.userLocation is declared, whether or not
// requiredPrivateInfos lists it; only an API that needs a declaration and has none is undeclared,
// and an API that needs none, or a package without its app.json, says nothing either way.
func TestDeclaredLocationUse(t *testing.T) {
	page := File{Name: "pages/index/index.js", Data: []byte(locationPage)}
	type want struct {
		declared, listed bool
		scope            string
	}
	for name, c := range map[string]struct {
		app  File
		want map[string]want
	}{
		"permission reason, no requiredPrivateInfos": {appJSON(t, map[string]string{"scope.userLocation": "用于查找附近门店"}, nil), map[string]want{
			"wx.getLocation":    {true, false, "scope.userLocation"},
			"wx.chooseLocation": {true, false, "scope.userLocation"},
			"wx.chooseAddress":  {false, false, ""},
		}},
		"requiredPrivateInfos, no permission": {appJSON(t, nil, []string{"getLocation", "chooseAddress"}), map[string]want{
			"wx.getLocation":    {true, true, ""},
			"wx.chooseLocation": {false, false, ""},
			"wx.chooseAddress":  {true, true, ""},
		}},
		"both": {appJSON(t, map[string]string{"scope.userLocation": "导航"}, []string{"getLocation", "chooseLocation"}), map[string]want{
			"wx.getLocation":    {true, true, "scope.userLocation"},
			"wx.chooseLocation": {true, true, "scope.userLocation"},
		}},
		"neither": {appJSON(t, nil, nil), map[string]want{
			"wx.getLocation":    {false, false, ""},
			"wx.chooseLocation": {false, false, ""},
			"wx.chooseAddress":  {false, false, ""},
		}},
		"permission without a reason": {appJSON(t, map[string]string{"scope.userLocation": "  "}, nil), map[string]want{
			"wx.getLocation": {false, false, ""},
		}},
	} {
		t.Run(name, func(t *testing.T) {
			calls := apiCalls(t, []File{c.app, page})
			for api, w := range c.want {
				a := calls[api].Attributes
				if a == nil {
					t.Fatalf("%s not reported", api)
				}
				if a["declared"] != w.declared || a["in_required_private_infos"] != w.listed || a["permission_scope"] != w.scope {
					t.Errorf("%s: declared %v listed %v scope %q, want %+v", api, a["declared"], a["in_required_private_infos"], a["permission_scope"], w)
				}
			}
			if _, ok := calls["wx.getSystemInfo"].Attributes["declared"]; ok {
				t.Error("wx.getSystemInfo needs no declaration but carries one")
			}
		})
	}
	t.Run("sub-package without app.json", func(t *testing.T) {
		calls := apiCalls(t, []File{page})
		if _, ok := calls["wx.getLocation"].Attributes["declared"]; ok {
			t.Error("declared reported without an app config")
		}
	})
}
