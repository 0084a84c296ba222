package traffic

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
)

func gz(s string) string {
	var b bytes.Buffer
	w := gzip.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func zl(s string) string {
	var b bytes.Buffer
	w := zlib.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func rawDeflate(s string) string {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, 5)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

func br(s string) string {
	var b bytes.Buffer
	w := brotli.NewWriter(&b)
	w.Write([]byte(s))
	w.Close()
	return b.String()
}

// pbField encodes one protobuf field.
func pbField(num int, wt int, payload []byte) []byte {
	out := binary.AppendUvarint(nil, uint64(num<<3|wt))
	if wt == 2 {
		out = binary.AppendUvarint(out, uint64(len(payload)))
	}
	return append(out, payload...)
}

// values lists every leaf value of a tree as key=value.
func values(n *node) []string {
	var out []string
	var walk func(n *node)
	walk = func(n *node) {
		if n == nil {
			return
		}
		if n.kind == nStr || n.kind == nNum {
			out = append(out, n.key+"="+n.val)
		}
		for _, k := range n.kids {
			walk(k)
		}
	}
	walk(n)
	return out
}

func TestDecodeBody(t *testing.T) {
	const js = `{"user":{"phone":"13812345678"},"n":12345678901234567890}`
	inner := pbField(2, 2, []byte("imei=358240051111110"))
	msg := append(pbField(1, 0, binary.AppendUvarint(nil, 150)), pbField(3, 2, inner)...)
	grpc := append([]byte{0, 0, 0, 0, byte(len(msg))}, msg...)
	var mp bytes.Buffer
	mp.WriteString("--XyZ\r\nContent-Disposition: form-data; name=\"meta\"\r\nContent-Type: application/json\r\n\r\n" + js + "\r\n")
	mp.WriteString("--XyZ\r\nContent-Disposition: form-data; name=\"f\"; filename=\"a.txt\"\r\n\r\nandroid_id=9774d56d682e549c\r\n--XyZ--\r\n")
	cases := []struct {
		name, mime, enc string
		data            []byte
		format          string
		want            []string
		encodings       string
	}{
		{"text", "text/plain", "", []byte("hello 13812345678"), "text", []string{"=hello 13812345678"}, ""},
		{"json", "application/json", "", []byte(js), "json", []string{"phone=13812345678", "n=12345678901234567890"}, ""},
		{"json-sniffed", "", "", []byte(" " + js), "json", []string{"phone=13812345678"}, ""},
		{"gzip", "application/json", "gzip", []byte(gz(js)), "json", []string{"phone=13812345678"}, "gzip"},
		{"gzip-sniffed", "", "", []byte(gz(js)), "json", []string{"phone=13812345678"}, "gzip"},
		{"deflate-zlib", "application/json", "deflate", []byte(zl(js)), "json", []string{"phone=13812345678"}, "deflate"},
		{"deflate-raw", "application/json", "deflate", []byte(rawDeflate(js)), "json", []string{"phone=13812345678"}, "deflate"},
		{"br", "application/json", "br", []byte(br(js)), "json", []string{"phone=13812345678"}, "br"},
		{"br-over-gzip", "application/json", "gzip, br", []byte(br(gz(js))), "json", []string{"phone=13812345678"}, "br,gzip"},
		{"form", "application/x-www-form-urlencoded", "", []byte("a=1&phone=138%2012345678&b=%E4%B8%AD"), "form", []string{"a=1", "phone=138 12345678", "b=中"}, ""},
		{"form-sniffed", "", "", []byte("imei=358240051111110&t=1"), "form", []string{"imei=358240051111110"}, ""},
		{"multipart", "multipart/form-data; boundary=XyZ", "", mp.Bytes(), "multipart", []string{"phone=13812345678", "android_id=9774d56d682e549c"}, ""},
		{"protobuf", "application/x-protobuf", "", msg, "protobuf", []string{"1=150", "imei=358240051111110"}, ""},
		{"protobuf-sniffed", "application/octet-stream", "", msg, "protobuf", []string{"1=150"}, ""},
		{"grpc", "application/grpc", "", grpc, "grpc", []string{"1=150", "imei=358240051111110"}, ""},
		{"base64-json-field", "application/json", "", []byte(`{"d":"` + base64.StdEncoding.EncodeToString([]byte(js)) + `"}`), "json", []string{"phone=13812345678"}, ""},
		{"base64-gzip-field", "application/json", "", []byte(`{"d":"` + base64.StdEncoding.EncodeToString([]byte(gz(js))) + `"}`), "json", []string{"phone=13812345678"}, ""},
		{"nested-json-string", "application/json", "", []byte(`{"payload":"{\"oaid\":\"x-y\"}"}`), "json", []string{"oaid=x-y"}, ""},
		{"binary", "application/octet-stream", "", []byte("\xff\xfe\x00\x01device=abcdef12\x00\xff"), "binary", []string{"=device=abcdef12"}, ""},
		{"empty", "", "", nil, "empty", nil, ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			b := DecodeBody(c.data, c.mime, c.enc, Limits{})
			if b.Format != c.format {
				t.Errorf("format %q, want %q (notes %v)", b.Format, c.format, b.Notes)
			}
			if got := strings.Join(b.Encodings, ","); got != c.encodings {
				t.Errorf("encodings %q, want %q", got, c.encodings)
			}
			all := strings.Join(values(b.Root), "\n")
			for _, w := range c.want {
				if !strings.Contains(all, w) {
					t.Errorf("missing %q in\n%s", w, all)
				}
			}
		})
	}
}

func TestDecodeBodyBounds(t *testing.T) {
	bomb := gz(strings.Repeat("a", 10<<20)) // 10 MiB of 'a' in ~10 KB
	b := DecodeBody([]byte(bomb), "text/plain", "gzip", Limits{MaxBodyBytes: 1 << 20, MaxRatio: 50})
	if len(b.Notes) == 0 || !strings.Contains(strings.Join(b.Notes, " "), "ratio") {
		t.Errorf("bomb not reported: %v", b.Notes)
	}
	if l := len(b.Root.val); l > 50*len(bomb) {
		t.Errorf("decompressed %d bytes from %d, ratio limit 50", l, len(bomb))
	}
	deep := strings.Repeat(`{"a":`, 200) + "1" + strings.Repeat("}", 200)
	b = DecodeBody([]byte(deep), "application/json", "", Limits{MaxJSONDepth: 32})
	if b.Format == "json" || len(b.Notes) == 0 {
		t.Errorf("deep JSON accepted: %s %v", b.Format, b.Notes)
	}
	many := "[" + strings.Repeat("1,", 5000) + "1]"
	b = DecodeBody([]byte(many), "application/json", "", Limits{MaxNodes: 100})
	if b.Format == "json" {
		t.Errorf("node bound not applied")
	}
	// nesting bound: base64 of base64 of base64 of JSON stops at MaxNest
	s := `{"phone":"13812345678"}`
	for range 6 {
		s = base64.StdEncoding.EncodeToString([]byte(s))
	}
	b = DecodeBody([]byte(`{"d":"`+s+`"}`), "application/json", "", Limits{MaxNest: 2})
	if strings.Contains(strings.Join(values(b.Root), " "), "13812345678") {
		t.Errorf("decoded deeper than MaxNest")
	}
}
