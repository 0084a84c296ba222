package miniprogram

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

func apiSet(src string) map[string]int {
	got := map[string]int{}
	for _, a := range scanJS([]byte(src), nil).APIs {
		got[a.Obj+"."+a.Name] = a.Line
	}
	return got
}

// Minified bundles reach wx/my through aliases; each common form is an API access.
func TestJSAliasPositive(t *testing.T) {
	cases := []struct {
		name, src string
		want      []string // obj.name[@line]
	}{
		{"var alias", `var e=wx;e.getLocation({type:"gcj02"})`, []string{"wx.getLocation"}},
		{"alias in a declaration list", `var t=1,e=wx,n=2;e.chooseImage({})`, []string{"wx.chooseImage"}},
		{"let alias, bracket call", `let o=wx;o["getPhoneNumber"]()`, []string{"wx.getPhoneNumber"}},
		{"plain bracket call", `wx["getLocation"]({})`, []string{"wx.getLocation"}},
		{"assignment to a declared name", "var n;\nn=wx;\nn.getClipboardData()", []string{"wx.getClipboardData@3"}},
		{"alias without semicolon (ASI)", "var e=wx\ne.startRecord()", []string{"wx.startRecord@2"}},
		{"destructuring", `const {getLocation}=wx;getLocation({})`, []string{"wx.getLocation"}},
		{"destructuring with renames", "const {getLocation:t,\n chooseAddress, \"getWeRunData\":r}=wx", []string{"wx.getLocation@1", "wx.chooseAddress@2", "wx.getWeRunData@2"}},
		{"destructuring at the end of the file", `var {getUserProfile}=wx`, []string{"wx.getUserProfile"}},
		{"alias used in a nested closure", `function f(){var e=wx;setTimeout(function(){e.getLocation({})},10)}`, []string{"wx.getLocation"}},
		{"alias used in an arrow body", `var e=wx;[1].map(t=>e.chooseMedia({}))`, []string{"wx.chooseMedia"}},
		{"alias used inside a block", `var e=wx;if(a){e.getBluetoothDevices()}`, []string{"wx.getBluetoothDevices"}},
		{"my alias with scopes", `var o=my;o.getAuthCode({scopes:["auth_user"]})`, []string{"my.getAuthCode"}},
		{"webpack module", `define("pages/a.js",function(require,module,exports){"use strict";var n=wx,r=function(e){return e+1};n.getLocation({success:function(e){r(e)}})});`, []string{"wx.getLocation"}},
		{"alias back after an arrow's expression body", `var e=wx;var f=e=>e.x,g=1;e.getLocation()`, []string{"wx.getLocation"}},
		{"alias redefined to wx after a shadow", `var e=1;e=wx;e.getLocation()`, []string{"wx.getLocation"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			got := apiSet(c.src)
			for _, w := range c.want {
				name, line, _ := strings.Cut(w, "@")
				l, ok := got[name]
				if !ok {
					t.Errorf("%s not found in %q; got %v", name, c.src, got)
				} else if line != "" && fmt.Sprint(l) != line {
					t.Errorf("%s on line %d, want %s", name, l, line)
				}
			}
		})
	}
}

// Look-alikes that are not accesses to wx/my.
func TestJSAliasNegative(t *testing.T) {
	cases := []struct {
		name, src string
		absent    string
	}{
		{"alias bound to a member", `var e=wx.getSystemInfoSync();e.getLocation()`, "wx.getLocation"},
		{"reassigned", `var e=wx;e=mapCtx;e.getLocation()`, "wx.getLocation"},
		{"shadowed by a parameter", `var e=wx;function f(e){e.getLocation()}`, "wx.getLocation"},
		{"shadowed by an arrow parameter", `var e=wx;list.forEach(e=>e.getLocation())`, "wx.getLocation"},
		{"shadowed by arrow parameters", `var e=wx;list.forEach((t,e)=>{e.getLocation()})`, "wx.getLocation"},
		{"shadowed by a method parameter", `var e=wx;var o={m(e){return e.getLocation()}}`, "wx.getLocation"},
		{"shadowed by catch", `var e=wx;try{x()}catch(e){e.getLocation()}`, "wx.getLocation"},
		{"shadowed by an inner var", `var e=wx;function f(){var e=map;e.getLocation()}`, "wx.getLocation"},
		{"alias in a sibling function", `function a(){var e=wx;e.login()}function b(e){e.getLocation()}`, "wx.getLocation"},
		{"alias out of its block", `function a(){var e=wx}e.getLocation()`, "wx.getLocation"},
		{"comparison is no binding", `e==wx&&e.getLocation()`, "wx.getLocation"},
		{"strict comparison", `if(e===wx){}e.getLocation()`, "wx.getLocation"},
		{"member assignment", `o.e=wx;e.getLocation()`, "wx.getLocation"},
		{"destructuring another object", `const {getLocation}=amap;getLocation()`, "wx.getLocation"},
		{"destructuring a member of wx", `const {getLocation}=wx.env`, "wx.getLocation"},
		{"in a string", `var s="var e=wx;e.getLocation(";`, "wx.getLocation"},
		{"in a comment", "/* var e=wx; */ e.getLocation()", "wx.getLocation"},
		{"in a template", "var s=`var e=wx;e.getLocation()`", "wx.getLocation"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			if l, ok := apiSet(c.src)[c.absent]; ok {
				t.Errorf("%s reported (line %d) in %q", c.absent, l, c.src)
			}
		})
	}
	// the negatives do not lose real accesses around them
	got := apiSet(`var e=wx;function f(e){e.getLocation()}e.chooseImage()`)
	if _, ok := got["wx.chooseImage"]; !ok {
		t.Errorf("alias lost after the shadowing function: %v", got)
	}
	if _, ok := got["wx.getLocation"]; ok {
		t.Errorf("shadowed access reported: %v", got)
	}
}

// Through the inspector: an alias call is an mp.api_call with its file and line.
func TestJSAliasObservation(t *testing.T) {
	files := []File{
		{Name: "app.json", Data: []byte(`{"pages":["pages/index/index"]}`)},
		{Name: "pages/index/index.js", Data: []byte("var e=wx,n=1;\nPage({onLoad:function(){e.getLocation({type:\"wgs84\"})}});\nconst {chooseAddress:c}=wx;")},
	}
	obs, _ := analyze(context.Background(), files, identity{Name: "t"}, nil, nil)
	want := map[string]int{"wx.getLocation": 2, "wx.chooseAddress": 3}
	for _, o := range obs {
		if o.Kind != "mp.api_call" {
			continue
		}
		if line, ok := want[o.Subject]; ok && o.Attributes["line"] == line && o.Attributes["file"] == "pages/index/index.js" {
			delete(want, o.Subject)
		}
	}
	if len(want) > 0 {
		t.Errorf("not observed: %v in %v", want, obs)
	}
}
