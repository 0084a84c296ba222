package miniprogram

import (
	"bytes"
	"context"
	"sort"
	"testing"
	"unsafe"
)

// FuzzWxapkg feeds the plain reader and, through EncryptPC/DecryptPC, the PC decryptor. Whatever
// the bytes, Parse must not panic, every kept entry must have a clean name and lie inside the
// input, and no two kept entries may overlap.
func FuzzWxapkg(f *testing.F) {
	plain, _ := Pack(fixtureFiles())
	f.Add(plain)
	f.Add(plain[:40])
	enc, _ := EncryptPC(plain, "wx0123456789abcdef")
	f.Add(enc)
	small, _ := Pack([]File{{Name: "a.js", Data: []byte("wx.getLocation()")}, {Name: "../b", Data: []byte("x")}})
	f.Add(small)
	f.Add(rawPackage(3, []rawEntry{{"/a", 0, 10, false}, {"/b", 5, 10, false}, {"/c", 0, 0xFFFFFFFF, false}}, make([]byte, 20), 0))
	f.Add([]byte("V1MMWX"))
	f.Fuzz(func(t *testing.T, data []byte) {
		check := func(b []byte) {
			pkg, err := Parse(b, Limits{MaxFiles: 5000})
			if pkg == nil {
				if err == nil {
					t.Fatal("nil package without error")
				}
				return
			}
			type span struct{ lo, hi uintptr }
			var spans []span
			for _, fl := range pkg.Files {
				if c, err := CleanName(fl.Name); err != nil || c != fl.Name {
					t.Fatalf("kept unclean name %q", fl.Name)
				}
				if len(fl.Data) > len(b) {
					t.Fatalf("entry larger than the package")
				}
				if len(fl.Data) > 0 {
					lo := uintptr(unsafe.Pointer(&fl.Data[0]))
					base := uintptr(unsafe.Pointer(&b[0]))
					if lo < base || lo+uintptr(len(fl.Data)) > base+uintptr(len(b)) {
						t.Fatalf("entry %q lies outside the package bytes", fl.Name)
					}
					spans = append(spans, span{lo, lo + uintptr(len(fl.Data))})
				}
			}
			sort.Slice(spans, func(i, j int) bool { return spans[i].lo < spans[j].lo })
			for i := 1; i < len(spans); i++ {
				if spans[i].lo < spans[i-1].hi {
					t.Fatalf("kept overlapping entries")
				}
			}
		}
		check(data)
		if IsEncrypted(data) {
			if out, err := DecryptPC(data, "wx0123456789abcdef"); err == nil {
				check(out)
			}
		}
		if len(data) >= encPlainLen {
			e, err := EncryptPC(data, "wx0123456789abcdef")
			if err != nil {
				t.Fatal(err)
			}
			back, _ := DecryptPC(e, "wx0123456789abcdef")
			if !bytes.Equal(back, data) {
				t.Fatal("DecryptPC(EncryptPC(x)) != x")
			}
		}
	})
}

func FuzzAppJSON(f *testing.F) {
	f.Add(fixtureFiles()[0].Data)
	f.Add([]byte(`{"permission":{"scope.userLocation":{"desc":1}},"requiredPrivateInfos":"getLocation","__usePrivacyCheck__":"true"}`))
	f.Add([]byte(`{"subPackages":[{"root":"a","pages":["b"]}],"subpackages":null,"pages":[1]}`))
	f.Add([]byte(`[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]`))
	f.Add([]byte("\xEF\xBB\xBF{}"))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, errs := parseAppConfig(data)
		if c == nil && len(errs) == 0 {
			t.Fatal("nil config without error")
		}
		if c != nil {
			c.merge(c)
		}
		// The whole analysis over a package holding this app.json must not panic either.
		analyze(context.Background(), []File{{Name: "app.json", Data: data}, {Name: "app-config.json", Data: data}}, identity{Name: "f"}, nil, nil)
	})
}

func FuzzJSScan(f *testing.F) {
	f.Add(fixtureFiles()[1].Data)
	f.Add([]byte("a = b / c / d; x = /re[/]g\"/.test(y); wx.getLocation()"))
	f.Add([]byte("`${`${wx.login()}`}` + '\\\n' + wx['getUserInfo']"))
	f.Add([]byte("}}}}`${{{{ wx"))
	f.Add([]byte("define(\"utils/ald-stat.js\", function(){ wx.request({url:'https://a.b.cn/x'}) })"))
	f.Add([]byte("\xff\xfe wx\u00a0.getLocation /* unterminated"))
	f.Add([]byte("var e=wx,t;function f(e){e.getLocation()}e.chooseImage();const {getLocation:g,\"x\":y}=wx;(a,e)=>e.x;try{}catch(e){e=wx}"))
	f.Add([]byte("e=wx\n{{{((([[[ e.getLocation }=wx"))
	f.Fuzz(func(t *testing.T, src []byte) {
		lines := bytes.Count(src, []byte{'\n'}) + 1
		r := scanJS(src, map[string]bool{"getPhoneNumber": true})
		for _, a := range r.APIs {
			if a.Line < 1 || a.Line > lines {
				t.Fatalf("api line %d outside 1..%d", a.Line, lines)
			}
		}
		for _, u := range r.URLs {
			if u.Line < 1 || u.Line > lines || u.Host == "" {
				t.Fatalf("url %+v outside 1..%d", u, lines)
			}
		}
		for _, s := range r.Strings {
			if s.Line < 1 || s.Line > lines {
				t.Fatalf("string line %d outside 1..%d", s.Line, lines)
			}
		}
		analyze(context.Background(), []File{{Name: "a.js", Data: src}, {Name: "page-frame.html", Data: src}, {Name: "a.wxml", Data: src}}, identity{Name: "f"}, nil, nil)
	})
}
