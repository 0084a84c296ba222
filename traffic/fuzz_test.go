package traffic

import (
	"bytes"
	"encoding/base64"
	"os"
	"testing"
)

func FuzzHAR(f *testing.F) {
	for _, h := range toolHARs {
		f.Add([]byte(h))
	}
	if b, err := os.ReadFile("testdata/consent.har"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(`{"log":{"entries":[{"request":{"url":"https://a.example/","postData":{"text":"\u00e9\"\\"}}},"x",1,null]}}`))
	f.Add([]byte(`{"log":{"entries":[`))
	lim := Limits{MaxStringBytes: 64, MaxEntryBytes: 4096, MaxEntries: 50, MaxJSONDepth: 16, MaxBodyBytes: 4096, MaxNodes: 500}
	f.Fuzz(func(t *testing.T, data []byte) {
		a := NewAnalyzer(nil, Options{Limits: lim})
		info, _ := ReadHAR(bytes.NewReader(data), lim, func(e *Entry) error {
			if e.Index < 0 || e.Index >= info0(lim) {
				t.Fatalf("index %d out of range", e.Index)
			}
			a.Add(e)
			return nil
		})
		if info.Read > info.Entries || info.Bytes > int64(len(data)) {
			t.Fatalf("counts: %+v for %d bytes", info, len(data))
		}
		a.Finish(info)
	})
}

func info0(l Limits) int { return l.MaxEntries }

func FuzzDecodeBody(f *testing.F) {
	f.Add([]byte(`{"a":[1,"x",{"b":null}]}`), "application/json", "")
	f.Add([]byte(gz(`{"phone":"13812345678"}`)), "", "gzip")
	f.Add([]byte(br("imei=358240051111110&x=1")), "application/x-www-form-urlencoded", "br")
	f.Add([]byte(zl("hello")), "text/plain", "deflate")
	f.Add(append(pbField(1, 2, []byte("abc")), pbField(2, 0, []byte{0x96, 0x01})...), "application/x-protobuf", "")
	f.Add([]byte("--b\r\nContent-Disposition: form-data; name=\"x\"\r\n\r\n1\r\n--b--\r\n"), "multipart/form-data; boundary=b", "")
	f.Add([]byte{0, 0, 0, 0, 3, 8, 1, 16}, "application/grpc", "")
	f.Add([]byte(`{"d":"`+base64.StdEncoding.EncodeToString([]byte(gz(`{"a":"b"}`)))+`"}`), "application/json", "")
	lim := Limits{MaxBodyBytes: 1 << 16, MaxRatio: 20, MaxJSONDepth: 16, MaxNodes: 2000, MaxNest: 3}
	f.Fuzz(func(t *testing.T, data []byte, mime, enc string) {
		b := DecodeBody(data, mime, enc, lim)
		if b.Root == nil {
			t.Fatal("nil root")
		}
		detectNode(b.Root, "body", func(Hit) {})
	})
}

func FuzzDetectors(f *testing.F) {
	for _, c := range leafCases {
		f.Add(c.key, c.val)
	}
	f.Add("x", "358240051111110,460011234567890,11010519491231002X,a@b.cn,3c:5a:b4:01:02:03")
	kv := CompileKnownValues(&DeviceValues{IMEI: stringList{"358240051111110"}, MAC: stringList{"3c:5a:b4:01:02:03"}, Location: &Coord{Lat: 39.9, Lng: 116.4}})
	f.Fuzz(func(t *testing.T, key, val string) {
		n := &node{kind: nObj, kids: []*node{{key: key, kind: nStr, val: val}, {key: "lat", kind: nNum, val: val}, {key: "lng", kind: nNum, val: val}}}
		arr := &node{key: key, kind: nArr, kids: []*node{n, n, {kind: nStr, val: val}}}
		emit := func(h Hit) {
			if h.Detector == "" || h.PI == "" {
				t.Fatalf("hit without detector or PI: %+v", h)
			}
		}
		detectNode(arr, "query", emit)
		kv.matchNode(arr, "query", emit)
	})
}
