package traffic

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/url"
	"strconv"
	"strings"
	"unicode/utf8"

	"github.com/andybalholm/brotli"
)

// nodeKind says what a decoded value is.
type nodeKind uint8

const (
	nStr nodeKind = iota
	nNum
	nObj
	nArr
)

// node is one value of a decoded body (or of a URL, a query, headers, cookies): objects keep their
// member order, strings may carry a decoded form of themselves as their only kid (base64, nested
// JSON, a URL-encoded form inside a field).
type node struct {
	key  string
	kind nodeKind
	val  string
	kids []*node
}

// Body is a decoded request body.
type Body struct {
	// Format is the outermost format recognised: json | form | multipart | protobuf | grpc | text | binary | empty.
	Format string
	// Encodings lists the layers removed, outermost first (gzip, br, deflate, base64).
	Encodings []string
	Root      *node
	// Notes say what was cut or could not be decoded.
	Notes []string
}

type bodyDecoder struct {
	lim   Limits
	nodes int
	notes []string
}

func (d *bodyDecoder) note(format string, args ...any) {
	if len(d.notes) < 20 {
		d.notes = append(d.notes, fmt.Sprintf(format, args...))
	}
}

func (d *bodyDecoder) newNode(n node) *node {
	d.nodes++
	return &n
}

func (d *bodyDecoder) full() bool { return d.nodes >= d.lim.MaxNodes }

// DecodeBody decodes a request body as far as it can: content encodings (gzip, deflate, br,
// sniffed even without a header), then JSON, form-urlencoded, multipart, protobuf/gRPC wire format
// or text; strings inside are decoded again (base64, nested JSON or forms) up to Limits.MaxNest.
// It never fails: what cannot be decoded stays text or binary, with a note.
func DecodeBody(data []byte, mimeType, contentEncoding string, lim Limits) *Body {
	lim = lim.withDefaults()
	d := &bodyDecoder{lim: lim}
	b := &Body{}
	if len(data) > lim.MaxBodyBytes {
		d.note("body cut to %d bytes", lim.MaxBodyBytes)
		data = data[:lim.MaxBodyBytes]
	}
	data, b.Encodings = d.decompress(data, contentEncoding)
	b.Format, b.Root = d.decodeAny(data, mimeType, 0)
	b.Notes = d.notes
	return b
}

// decompress removes the Content-Encoding layers (listed outermost last, as in the header) and
// sniffs gzip/zlib when no header says so.
func (d *bodyDecoder) decompress(data []byte, contentEncoding string) ([]byte, []string) {
	var layers []string
	encs := strings.Split(strings.ToLower(contentEncoding), ",")
	for i := len(encs) - 1; i >= 0; i-- {
		e := strings.TrimSpace(encs[i])
		if e == "" || e == "identity" {
			continue
		}
		out, err := d.inflate(data, e)
		if err != nil {
			d.note("%s: %v", e, err)
			return data, layers
		}
		layers = append(layers, e)
		data = out
	}
	for range 3 {
		e := sniffCompression(data)
		if e == "" {
			break
		}
		out, err := d.inflate(data, e)
		if err != nil {
			break
		}
		layers = append(layers, e)
		data = out
	}
	return data, layers
}

func sniffCompression(b []byte) string {
	if len(b) >= 3 && b[0] == 0x1f && b[1] == 0x8b && b[2] == 8 {
		return "gzip"
	}
	if len(b) >= 2 && b[0] == 0x78 && (b[1] == 0x01 || b[1] == 0x5e || b[1] == 0x9c || b[1] == 0xda) && (uint16(b[0])<<8|uint16(b[1]))%31 == 0 {
		return "zlib"
	}
	return ""
}

var errRatio = errors.New("decompression ratio or size limit reached; output cut")

func (d *bodyDecoder) inflate(data []byte, enc string) ([]byte, error) {
	var r io.Reader
	var err error
	in := bytes.NewReader(data)
	switch enc {
	case "gzip", "x-gzip":
		r, err = gzip.NewReader(in)
	case "deflate":
		// "deflate" means zlib per RFC 9110, but raw deflate is common too
		if sniffCompression(data) == "zlib" {
			r, err = zlib.NewReader(in)
		} else {
			r = flate.NewReader(in)
		}
	case "zlib":
		r, err = zlib.NewReader(in)
	case "br":
		r = brotli.NewReader(in)
	default:
		return nil, fmt.Errorf("unsupported encoding")
	}
	if err != nil {
		return nil, err
	}
	max := int64(d.lim.MaxBodyBytes)
	if byRatio := int64(len(data)) * int64(d.lim.MaxRatio); byRatio < max {
		max = byRatio
	}
	out, err := io.ReadAll(io.LimitReader(r, max+1))
	if int64(len(out)) > max {
		d.note("%s: %v", enc, errRatio)
		return out[:max], nil
	}
	if err != nil {
		if len(out) == 0 {
			return nil, err
		}
		d.note("%s: %v (kept %d bytes)", enc, err, len(out))
	}
	return out, nil
}

// decodeAny decodes data by media type, falling back to sniffing.
func (d *bodyDecoder) decodeAny(data []byte, mimeType string, nest int) (string, *node) {
	if len(data) == 0 {
		return "empty", d.newNode(node{kind: nStr})
	}
	mt, params, _ := mime.ParseMediaType(mimeType)
	mt = strings.ToLower(mt)
	trimmed := bytes.TrimSpace(data)
	switch {
	case strings.HasPrefix(mt, "multipart/"):
		if n := d.multipartNode(data, params["boundary"], nest); n != nil {
			return "multipart", n
		}
	case strings.Contains(mt, "grpc"):
		if n := d.grpcNode(data, nest); n != nil {
			return "grpc", n
		}
	}
	if len(trimmed) > 0 && (trimmed[0] == '{' || trimmed[0] == '[') || strings.Contains(mt, "json") {
		if n, err := d.jsonNode(trimmed, nest); err == nil {
			return "json", n
		} else if strings.Contains(mt, "json") {
			d.note("json: %v", err)
		}
	}
	if utf8.Valid(data) {
		s := string(data)
		if strings.Contains(mt, "x-www-form-urlencoded") || looksLikeForm(s) {
			return "form", d.formNode(s, nest)
		}
		if strings.Contains(mt, "protobuf") {
			if n := d.protobufNode(data, 0); n != nil {
				return "protobuf", n
			}
		}
		return "text", d.strNode("", s, nest)
	}
	if n := d.protobufNode(data, 0); n != nil {
		return "protobuf", n
	}
	// binary: keep printable runs as strings
	return "binary", d.printableRuns(data)
}

// jsonNode decodes JSON with a depth and node bound, keeping member order.
func (d *bodyDecoder) jsonNode(data []byte, nest int) (*node, error) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var parse func(key string, depth int) (*node, error)
	parse = func(key string, depth int) (*node, error) {
		if depth > d.lim.MaxJSONDepth {
			return nil, fmt.Errorf("nested deeper than %d", d.lim.MaxJSONDepth)
		}
		if d.full() {
			return nil, fmt.Errorf("more than %d values", d.lim.MaxNodes)
		}
		tok, err := dec.Token()
		if err != nil {
			return nil, err
		}
		switch t := tok.(type) {
		case json.Delim:
			switch t {
			case '{':
				n := d.newNode(node{key: key, kind: nObj})
				for dec.More() {
					kt, err := dec.Token()
					if err != nil {
						return nil, err
					}
					k, _ := kt.(string)
					kid, err := parse(k, depth+1)
					if err != nil {
						return nil, err
					}
					n.kids = append(n.kids, kid)
				}
				_, err := dec.Token()
				return n, err
			case '[':
				n := d.newNode(node{key: key, kind: nArr})
				for dec.More() {
					kid, err := parse(key, depth+1)
					if err != nil {
						return nil, err
					}
					n.kids = append(n.kids, kid)
				}
				_, err := dec.Token()
				return n, err
			}
			return nil, fmt.Errorf("unexpected %v", t)
		case string:
			return d.strNode(key, t, nest), nil
		case json.Number:
			return d.newNode(node{key: key, kind: nNum, val: string(t)}), nil
		case bool:
			return d.newNode(node{key: key, kind: nNum, val: strconv.FormatBool(t)}), nil
		case nil:
			return d.newNode(node{key: key, kind: nNum, val: "null"}), nil
		}
		return nil, fmt.Errorf("unexpected token %T", tok)
	}
	n, err := parse("", 0)
	if err != nil {
		return nil, err
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("trailing data after JSON value")
	}
	return n, nil
}

// looksLikeForm is true for "k=v&k2=v2" shapes without spaces.
func looksLikeForm(s string) bool {
	if len(s) < 3 || strings.ContainsAny(s, " \n\t{}<>\"") {
		return false
	}
	eq := strings.IndexByte(s, '=')
	if eq <= 0 {
		return false
	}
	for _, part := range strings.Split(s, "&") {
		if part == "" {
			continue
		}
		k, _, ok := strings.Cut(part, "=")
		if !ok || k == "" {
			return false
		}
	}
	return true
}

func (d *bodyDecoder) formNode(s string, nest int) *node {
	n := d.newNode(node{kind: nObj})
	for _, part := range strings.Split(s, "&") {
		if part == "" {
			continue
		}
		if d.full() {
			d.note("form: more than %d values", d.lim.MaxNodes)
			break
		}
		k, v, _ := strings.Cut(part, "=")
		k = unescapeLoose(k)
		v = unescapeLoose(v)
		n.kids = append(n.kids, d.strNode(k, v, nest))
	}
	return n
}

func unescapeLoose(s string) string {
	if !strings.ContainsAny(s, "%+") {
		return s
	}
	if u, err := url.QueryUnescape(s); err == nil {
		return u
	}
	return s
}

// strNode makes a string leaf and, within the nesting bound, decodes what the string holds.
func (d *bodyDecoder) strNode(key, s string, nest int) *node {
	n := d.newNode(node{key: key, kind: nStr, val: s})
	if nest >= d.lim.MaxNest || len(s) < 8 || d.full() {
		return n
	}
	t := strings.TrimSpace(s)
	switch {
	case len(t) >= 2 && (t[0] == '{' && t[len(t)-1] == '}' || t[0] == '[' && t[len(t)-1] == ']'):
		if kid, err := d.jsonNode([]byte(t), nest+1); err == nil {
			n.kids = []*node{kid}
		}
	case strings.Contains(t, "=") && looksLikeForm(t) && strings.Contains(t, "&"):
		n.kids = []*node{d.formNode(t, nest+1)}
	case len(t) >= 12 && strings.Contains(t, "%") && !strings.ContainsAny(t, " "):
		if u, err := url.QueryUnescape(t); err == nil && u != t {
			n.kids = []*node{d.strNode(key, u, nest+1)}
		}
	case len(t) >= 12:
		if raw, ok := decodeBase64(t); ok {
			raw, _ = d.decompress(raw, "")
			if len(raw) > 0 && (utf8.Valid(raw) && mostlyPrintable(raw)) {
				_, kid := d.decodeAny(raw, "", nest+1)
				kid.key = key
				n.kids = []*node{kid}
			} else if pb := d.protobufNode(raw, 0); pb != nil {
				pb.key = key
				n.kids = []*node{pb}
			}
		}
	}
	return n
}

// decodeBase64 accepts standard and URL alphabets, padded or not, and refuses strings that are
// more likely hex or words.
func decodeBase64(s string) ([]byte, bool) {
	hasUpper, hasLower, hasDigitOrSym := false, false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'A' && c <= 'Z':
			hasUpper = true
		case c >= 'a' && c <= 'z':
			hasLower = true
		case c >= '0' && c <= '9', c == '+', c == '/', c == '-', c == '_':
			hasDigitOrSym = true
		case c == '=':
			if i < len(s)-2 {
				return nil, false
			}
		default:
			return nil, false
		}
	}
	if !(hasUpper && hasLower) && !(hasDigitOrSym && (hasUpper || hasLower) && strings.HasSuffix(s, "=")) {
		return nil, false
	}
	for _, enc := range []*base64.Encoding{base64.StdEncoding, base64.URLEncoding, base64.RawStdEncoding, base64.RawURLEncoding} {
		if b, err := enc.DecodeString(s); err == nil && len(b) > 0 {
			return b, true
		}
	}
	return nil, false
}

func mostlyPrintable(b []byte) bool {
	bad := 0
	for _, r := range string(b) {
		if r == utf8.RuneError || r < 0x20 && r != '\n' && r != '\r' && r != '\t' {
			bad++
		}
	}
	return bad*20 < len(b)
}

func (d *bodyDecoder) multipartNode(data []byte, boundary string, nest int) *node {
	if boundary == "" {
		// sniff "--boundary\r\n" on the first line
		line, _, _ := bytes.Cut(data, []byte("\n"))
		line = bytes.TrimRight(line, "\r")
		if !bytes.HasPrefix(line, []byte("--")) || len(line) < 3 || len(line) > 72 {
			return nil
		}
		boundary = string(line[2:])
	}
	mr := multipart.NewReader(bytes.NewReader(data), boundary)
	n := d.newNode(node{kind: nObj})
	for i := 0; ; i++ {
		if i >= 1000 || d.full() {
			d.note("multipart: too many parts")
			break
		}
		p, err := mr.NextPart()
		if err != nil {
			if err != io.EOF {
				d.note("multipart: %v", err)
			}
			break
		}
		body, err := io.ReadAll(io.LimitReader(p, int64(d.lim.MaxBodyBytes)))
		if err != nil && len(body) == 0 {
			d.note("multipart part %d: %v", i, err)
			continue
		}
		name := p.FormName()
		if name == "" {
			name = p.FileName()
		}
		body, _ = d.decompress(body, p.Header.Get("Content-Encoding"))
		_, kid := d.decodeAny(body, p.Header.Get("Content-Type"), nest+1)
		kid.key = name
		n.kids = append(n.kids, kid)
	}
	if len(n.kids) == 0 {
		return nil
	}
	return n
}

func (d *bodyDecoder) grpcNode(data []byte, nest int) *node {
	n := d.newNode(node{kind: nArr})
	for len(data) >= 5 {
		flag := data[0]
		l := binary.BigEndian.Uint32(data[1:5])
		if uint64(l) > uint64(len(data)-5) {
			d.note("grpc: frame longer than the body")
			break
		}
		msg := data[5 : 5+l]
		data = data[5+l:]
		if flag&1 == 1 {
			msg, _ = d.decompress(msg, "")
		}
		if pb := d.protobufNode(msg, 0); pb != nil {
			n.kids = append(n.kids, pb)
		} else if len(msg) > 0 {
			_, kid := d.decodeAny(msg, "", nest+1)
			n.kids = append(n.kids, kid)
		}
	}
	if len(n.kids) == 0 {
		return nil
	}
	return n
}

// protobufNode walks protobuf wire format without a schema: it returns nil unless all of data
// parses as fields. Length-delimited fields become nested messages when they parse as such and are
// not plain text, else strings (printable UTF-8); varints and fixed numbers become numbers. Keys are
// field numbers.
func (d *bodyDecoder) protobufNode(data []byte, depth int) *node {
	if len(data) == 0 || depth > d.lim.MaxJSONDepth || d.full() {
		return nil
	}
	n := &node{kind: nObj}
	count := 0
	for len(data) > 0 {
		tag, k := binary.Uvarint(data)
		if k <= 0 {
			return nil
		}
		data = data[k:]
		field, wt := tag>>3, tag&7
		if field == 0 || field > 1<<29-1 {
			return nil
		}
		key := strconv.FormatUint(field, 10)
		switch wt {
		case 0:
			v, k := binary.Uvarint(data)
			if k <= 0 {
				return nil
			}
			data = data[k:]
			n.kids = append(n.kids, &node{key: key, kind: nNum, val: strconv.FormatUint(v, 10)})
		case 1:
			if len(data) < 8 {
				return nil
			}
			n.kids = append(n.kids, &node{key: key, kind: nNum, val: strconv.FormatUint(binary.LittleEndian.Uint64(data), 10)})
			data = data[8:]
		case 5:
			if len(data) < 4 {
				return nil
			}
			n.kids = append(n.kids, &node{key: key, kind: nNum, val: strconv.FormatUint(uint64(binary.LittleEndian.Uint32(data)), 10)})
			data = data[4:]
		case 2:
			l, k := binary.Uvarint(data)
			if k <= 0 || l > uint64(len(data)-k) {
				return nil
			}
			sub := data[k : k+int(l)]
			data = data[k+int(l):]
			if utf8.Valid(sub) && mostlyPrintable(sub) && len(sub) > 0 && !looksLikeMessageOnly(sub) {
				n.kids = append(n.kids, &node{key: key, kind: nStr, val: string(sub)})
			} else if msg := d.protobufNode(sub, depth+1); msg != nil {
				msg.key = key
				n.kids = append(n.kids, msg)
			} else {
				n.kids = append(n.kids, &node{key: key, kind: nStr, val: printableOnly(sub)})
			}
		default:
			return nil
		}
		count++
		if count > 10_000 {
			return nil
		}
	}
	d.nodes += count + 1
	return n
}

// looksLikeMessageOnly: short control-byte-led strings are more likely sub-messages.
func looksLikeMessageOnly(b []byte) bool { return len(b) > 0 && b[0] < 0x20 }

func printableOnly(b []byte) string {
	var sb strings.Builder
	for _, c := range b {
		if c >= 0x20 && c < 0x7f {
			sb.WriteByte(c)
		} else if sb.Len() > 0 && !strings.HasSuffix(sb.String(), " ") {
			sb.WriteByte(' ')
		}
	}
	return strings.TrimSpace(sb.String())
}

// printableRuns keeps ASCII runs of 6+ bytes of a binary body as strings.
func (d *bodyDecoder) printableRuns(b []byte) *node {
	n := d.newNode(node{kind: nArr})
	start := -1
	flush := func(end int) {
		if start >= 0 && end-start >= 6 && !d.full() {
			n.kids = append(n.kids, d.newNode(node{kind: nStr, val: string(b[start:end])}))
		}
		start = -1
	}
	for i, c := range b {
		if c >= 0x20 && c < 0x7f {
			if start < 0 {
				start = i
			}
		} else {
			flush(i)
		}
	}
	flush(len(b))
	return n
}
