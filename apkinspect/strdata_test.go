package apkinspect

import (
	"reflect"
	"testing"

	"pilmon/apkinspect/dex"
)

// strData skips decoding for ASCII constants; on every input it must find what str finds on
// the decoded string, including hosts and URLs spelled with MUTF-8's two-byte forms of ASCII
// characters (which decode to the same text as the plain bytes).
func TestStrDataAgreesWithStr(t *testing.T) {
	inputs := [][]byte{
		[]byte("https://api.example.com/v1/collect"),
		[]byte("http://cleartext.example.cn/privacy.html"),
		[]byte("track.example.com"),
		[]byte("com.example.app.MainActivity"),
		[]byte("no dots or schemes here"),
		[]byte("a.io"),
		[]byte("x.c"),
		[]byte("file:///android_asset/privacy.html"),
		// "evil.example.com" with the "e" of "evil" in two bytes (0xC1 0xA5 decodes to 'e').
		append([]byte{0xc1, 0xa5}, []byte("vil.example.com")...),
		// "http://" with its colon in two bytes (0xC0 0xBA decodes to ':').
		append(append([]byte("http"), 0xc0, 0xba), []byte("//hidden.example.net/p")...),
		// Non-ASCII text around a host, and an encoded NUL.
		[]byte("\xe4\xb8\xad\xe6\x96\x87 https://cn.example.cn/"),
		{'a', 0xc0, 0x80, '.', 'c', 'o', 'm'},
		[]byte("api.example.com\xff"),
	}
	for _, in := range inputs {
		fast := &analyzer{app: &App{}, eps: map[string]int{}, pols: map[string]bool{}}
		slow := &analyzer{app: &App{}, eps: map[string]int{}, pols: map[string]bool{}}
		fast.strData(in)
		slow.str(dex.DecodeMUTF8(in))
		if !reflect.DeepEqual(fast.app.Endpoints, slow.app.Endpoints) || !reflect.DeepEqual(fast.app.PolicyRefs, slow.app.PolicyRefs) {
			t.Errorf("%q: strData found %+v %v, str of the decoded string %+v %v", in,
				fast.app.Endpoints, fast.app.PolicyRefs, slow.app.Endpoints, slow.app.PolicyRefs)
		}
	}
	// The two-byte spellings are found at all (the comparison above is not vacuous).
	a := &analyzer{app: &App{}, eps: map[string]int{}, pols: map[string]bool{}}
	a.strData(append([]byte{0xc1, 0xa5}, []byte("vil.example.com")...))
	a.strData([]byte("https://api.example.com/v1"))
	if len(a.app.Endpoints) != 2 || a.app.Endpoints[0].Host != "evil.example.com" || a.app.Endpoints[1].Host != "api.example.com" {
		t.Errorf("endpoints %+v, want evil.example.com and api.example.com", a.app.Endpoints)
	}
}
