package manifest

import (
	"encoding/binary"
	"unicode/utf16"
)

// A small binary XML writer for tests: manifests built here, plain and with the tricks hardeners
// use, so the decoders are tested without the shared corpus and the fuzzer has seeds.

type genAttr struct {
	name string
	id   uint32 // android attribute resource id, 0 for none (package)
	str  string // string value when typ is typeString
	typ  uint8
	data uint32
}

type genNode struct {
	name  string
	attrs []genAttr
	kids  []*genNode
}

// genTricks are the hardeners' tricks genManifest can apply.
type genTricks struct {
	// blankNames empties the name strings of android attributes and points their namespace at
	// an empty string no namespace chunk declares (androguard's NamespaceInAttributeName sample).
	blankNames bool
	// nullFileType writes 0x0000 for RES_XML_TYPE in the document header (androguard's
	// WrongChunkStart).
	nullFileType bool
	// junk inserts a chunk of unknown type before the first element and after it.
	junk bool
	// decoyPool puts a second string pool right after <manifest>'s start, the same strings but a
	// harmless permission and service name in place of the real ones: the device ignores it,
	// androidbinary switches to it and reports what the hardener wants analysts to see.
	decoyPool bool
	// bigHeaders writes node headers of 24 bytes instead of 16 and attributes 24 bytes apart.
	bigHeaders bool
	// rawDecoy gives android:versionName a raw string other than its typed one: aapt and
	// androidbinary print the raw one, the framework reads the typed one.
	rawDecoy bool
	// appended adds bytes after the declared document size.
	appended []byte
}

func strAttr(name string, id uint32, v string) genAttr {
	return genAttr{name: name, id: id, str: v, typ: typeString}
}

func intAttr(name string, id uint32, typ uint8, v uint32) genAttr {
	return genAttr{name: name, id: id, typ: typ, data: v}
}

// sampleManifest is the manifest the generated tests expect to read back.
func sampleManifest() *genNode {
	android := func(name string, v string) genAttr {
		for id, n := range androidAttrs {
			if n == name {
				return strAttr(name, id, v)
			}
		}
		panic(name)
	}
	return &genNode{name: "manifest", attrs: []genAttr{
		intAttr("versionCode", 0x0101021b, typeIntDec, 7),
		android("versionName", "1.2"),
		strAttr("package", 0, "org.pilmon.hardened"),
	}, kids: []*genNode{
		{name: "uses-sdk", attrs: []genAttr{intAttr("minSdkVersion", 0x0101020c, typeIntDec, 21), intAttr("targetSdkVersion", 0x01010270, typeIntDec, 30)}},
		{name: "uses-permission", attrs: []genAttr{android("name", "android.permission.READ_PHONE_STATE")}},
		{name: "uses-permission", attrs: []genAttr{android("name", "android.permission.ACCESS_FINE_LOCATION")}},
		{name: "application", attrs: []genAttr{android("name", ".App"), intAttr("allowBackup", 0x01010280, typeIntBool, 0)}, kids: []*genNode{
			{name: "activity", attrs: []genAttr{android("name", ".Main"), intAttr("exported", 0x01010010, typeIntBool, 0xffffffff)}, kids: []*genNode{
				{name: "intent-filter", kids: []*genNode{{name: "action", attrs: []genAttr{android("name", "android.intent.action.MAIN")}}}},
			}},
			{name: "service", attrs: []genAttr{android("name", "com.sdk.push.PushService"), intAttr("exported", 0x01010010, typeIntBool, 0)}},
			{name: "receiver", attrs: []genAttr{android("name", ".Boot")}, kids: []*genNode{
				{name: "intent-filter", kids: []*genNode{{name: "action", attrs: []genAttr{android("name", "android.intent.action.BOOT_COMPLETED")}}}},
			}},
		}},
	}}
}

type genWriter struct {
	strs  []string
	index map[string]uint32
	ids   []uint32
	tr    genTricks
}

func (w *genWriter) str(s string) uint32 {
	if i, ok := w.index[s]; ok {
		return i
	}
	w.strs = append(w.strs, s)
	w.index[s] = uint32(len(w.strs) - 1)
	return w.index[s]
}

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }

// pool encodes strs as a UTF-16 string pool chunk.
func genPool(strs []string) []byte {
	var data []byte
	var offs []uint32
	for _, s := range strs {
		offs = append(offs, uint32(len(data)))
		u := utf16.Encode([]rune(s))
		data = le16(data, uint16(len(u)))
		for _, c := range u {
			data = le16(data, c)
		}
		data = le16(data, 0)
	}
	for len(data)%4 != 0 {
		data = append(data, 0)
	}
	start := 28 + 4*len(strs)
	b := le16(nil, chunkStringPool)
	b = le16(b, 28)
	b = le32(b, uint32(start+len(data)))
	b = le32(b, uint32(len(strs)))
	b = le32(b, 0)
	b = le32(b, 0)
	b = le32(b, uint32(start))
	b = le32(b, 0)
	for _, o := range offs {
		b = le32(b, o)
	}
	return append(b, data...)
}

// genManifest encodes root with the given tricks, as aapt lays a manifest out: string pool,
// resource map, namespace, elements.
func genManifest(root *genNode, tr genTricks) []byte {
	w := &genWriter{index: map[string]uint32{}, tr: tr}
	// Attribute names with resource ids come first, in id order, so the resource map covers them.
	var walkIDs func(n *genNode)
	seen := map[uint32]bool{}
	var ids []uint32
	walkIDs = func(n *genNode) {
		for _, a := range n.attrs {
			if a.id != 0 && !seen[a.id] {
				seen[a.id] = true
				ids = append(ids, a.id)
			}
		}
		for _, k := range n.kids {
			walkIDs(k)
		}
	}
	walkIDs(root)
	for i := range ids {
		for j := i + 1; j < len(ids); j++ {
			if ids[j] < ids[i] {
				ids[i], ids[j] = ids[j], ids[i]
			}
		}
	}
	nameIdx := map[uint32]uint32{}
	for _, id := range ids {
		name := androidAttrs[id]
		if tr.blankNames {
			// One pool entry per id, all empty: only the resource map says which is which.
			w.strs = append(w.strs, "")
			nameIdx[id] = uint32(len(w.strs) - 1)
		} else {
			nameIdx[id] = w.str(name)
		}
		w.ids = append(w.ids, id)
	}
	nsURI, nsPrefix := w.str("http://schemas.android.com/apk/res/android"), w.str("android")
	attrNS := nsURI
	if tr.blankNames {
		attrNS = uint32(len(w.strs))
		w.strs = append(w.strs, "") // an empty string no namespace chunk declares
	}
	hdr := uint16(16)
	attrSize := uint16(20)
	if tr.bigHeaders {
		hdr, attrSize = 24, 24
	}
	node := func(typ uint16, ext []byte) []byte {
		b := le16(nil, typ)
		b = le16(b, hdr)
		b = le32(b, uint32(int(hdr)+len(ext)))
		b = le32(b, 1)          // line
		b = le32(b, 0xffffffff) // comment
		b = append(b, make([]byte, int(hdr)-16)...)
		return append(b, ext...)
	}
	var body []byte
	body = append(body, node(chunkXMLStartNS, le32(le32(nil, nsPrefix), nsURI))...)
	first := true
	var emit func(n *genNode)
	emit = func(n *genNode) {
		ext := le32(nil, 0xffffffff)
		ext = le32(ext, w.str(n.name))
		ext = le16(ext, 20)
		ext = le16(ext, attrSize)
		ext = le16(ext, uint16(len(n.attrs)))
		ext = le16(ext, 0)
		ext = le16(ext, 0)
		ext = le16(ext, 0)
		for _, a := range n.attrs {
			ns, name := attrNS, nameIdx[a.id]
			if a.id == 0 {
				ns, name = 0xffffffff, w.str(a.name)
			}
			raw, data := uint32(0xffffffff), a.data
			if a.typ == typeString {
				raw = w.str(a.str)
				data = raw
				if tr.rawDecoy && a.id == 0x0101021c {
					raw = w.str("9.9-decoy")
				}
			}
			ext = le32(ext, ns)
			ext = le32(ext, name)
			ext = le32(ext, raw)
			ext = le16(ext, 8)
			ext = append(ext, 0, a.typ)
			ext = le32(ext, data)
			ext = append(ext, make([]byte, int(attrSize)-20)...)
		}
		body = append(body, node(chunkXMLStart, ext)...)
		if first {
			first = false
			if tr.junk {
				body = append(body, node(0x0177, le32(nil, 0xdeadbeef))...)
			}
			if tr.decoyPool {
				body = append(body, []byte("DECOY")...) // placeholder, replaced below
			}
		}
		for _, k := range n.kids {
			emit(k)
		}
		body = append(body, node(chunkXMLEnd, le32(le32(nil, 0xffffffff), w.str(n.name)))...)
	}
	emit(root)
	body = append(body, node(chunkXMLEndNS, le32(le32(nil, nsPrefix), nsURI))...)
	if tr.decoyPool {
		decoy := append([]string(nil), w.strs...)
		for i, v := range decoy {
			switch v {
			case "android.permission.READ_PHONE_STATE":
				decoy[i] = "android.permission.VIBRATE"
			case "com.sdk.push.PushService":
				decoy[i] = "com.example.Innocent"
			}
		}
		i := indexOf(body, []byte("DECOY"))
		body = append(body[:i:i], append(genPool(decoy), body[i+5:]...)...)
	}
	var pre []byte
	pre = append(pre, genPool(w.strs)...)
	resMap := le16(nil, chunkXMLResMap)
	resMap = le16(resMap, 8)
	resMap = le32(resMap, uint32(8+4*len(w.ids)))
	for _, id := range w.ids {
		resMap = le32(resMap, id)
	}
	pre = append(pre, resMap...)
	if tr.junk {
		pre = append(pre, le32(le16(le16(nil, 0x0222), 8), 12)...)
		pre = le32(pre, 0x0badf00d)
	}
	typ := uint16(chunkXML)
	if tr.nullFileType {
		typ = 0
	}
	out := le16(nil, typ)
	out = le16(out, 8)
	out = le32(out, uint32(8+len(pre)+len(body)))
	out = append(out, pre...)
	out = append(out, body...)
	return append(out, tr.appended...)
}

func indexOf(b, sub []byte) int {
	for i := 0; i+len(sub) <= len(b); i++ {
		if string(b[i:i+len(sub)]) == string(sub) {
			return i
		}
	}
	return -1
}
