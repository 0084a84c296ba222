package miniprogram

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"crypto/pbkdf2"
	"crypto/sha1"
	"encoding/binary"
	"errors"
	"fmt"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"unicode/utf8"
)

// The plain .wxapkg layout, big-endian throughout (as read by the public unpackers
// leo9960/wechat-app-unpack unpack2.py and jin10086/wxgameHacker wxapkg_unpack.py):
//
//	0      byte   0xBE (first mark)
//	1      uint32 info (0)
//	5      uint32 index length  (bytes from offset 14 to the first file's data)
//	9      uint32 body length   (bytes of file data)
//	13     byte   0xED (last mark)
//	14     uint32 file count
//	18     entries: uint32 name length, name, uint32 offset (from the start of the file), uint32 size
const (
	firstMark  = 0xBE
	lastMark   = 0xED
	headerSize = 14
)

// Limits bound what a hostile package can make the reader do.
type Limits struct {
	// MaxPackageBytes is the largest package accepted (default 256 MiB).
	MaxPackageBytes int64
	// MaxFiles is the largest file count accepted (default 50,000; real packages hold a few thousand).
	MaxFiles int
	// MaxNameBytes is the longest file name accepted (default 1,024).
	MaxNameBytes int
}

func (l Limits) withDefaults() Limits {
	if l.MaxPackageBytes <= 0 {
		l.MaxPackageBytes = 256 << 20
	}
	if l.MaxFiles <= 0 {
		l.MaxFiles = 50_000
	}
	if l.MaxNameBytes <= 0 {
		l.MaxNameBytes = 1024
	}
	return l
}

// File is one entry of a package. Data aliases the package's bytes.
type File struct {
	Name string
	Data []byte
}

// Package is a parsed plain .wxapkg.
type Package struct {
	// Files are the valid entries in index order.
	Files []File
	// Problems are per-entry errors (overlap, out of range, unsafe name); the entry is dropped.
	Problems []error
}

// ErrNotWxapkg is returned when the bytes carry neither the plain nor the encrypted magic.
var ErrNotWxapkg = errors.New("not a .wxapkg (no 0xBE…0xED header and no V1MMWX header)")

// Parse reads a plain .wxapkg held in memory. It fails on a bad header or index; entries that point
// outside the data, overlap an earlier entry or carry an unusable name are dropped and listed in
// Problems, and the rest are kept.
func Parse(data []byte, lim Limits) (*Package, error) {
	lim = lim.withDefaults()
	if int64(len(data)) > lim.MaxPackageBytes {
		return nil, fmt.Errorf("package is %d bytes, over the %d-byte limit", len(data), lim.MaxPackageBytes)
	}
	if len(data) < headerSize+4 {
		if IsEncrypted(data) {
			return nil, errors.New("package is PC-encrypted (V1MMWX); decrypt it with the app id first")
		}
		return nil, fmt.Errorf("%w: only %d bytes", ErrNotWxapkg, len(data))
	}
	if data[0] != firstMark || data[13] != lastMark {
		if IsEncrypted(data) {
			return nil, errors.New("package is PC-encrypted (V1MMWX); decrypt it with the app id first")
		}
		return nil, fmt.Errorf("%w: first byte 0x%02X, byte 13 0x%02X", ErrNotWxapkg, data[0], data[13])
	}
	indexLen := int64(binary.BigEndian.Uint32(data[5:9]))
	bodyLen := int64(binary.BigEndian.Uint32(data[9:13]))
	total := int64(len(data))
	if headerSize+indexLen > total {
		return nil, fmt.Errorf("index length %d runs past the end of the %d-byte package", indexLen, total)
	}
	if indexLen < 4 {
		return nil, fmt.Errorf("index length %d is too short for a file count", indexLen)
	}
	dataStart := headerSize + indexLen
	count := int64(binary.BigEndian.Uint32(data[14:18]))
	if count > int64(lim.MaxFiles) {
		return nil, fmt.Errorf("file count %d exceeds the limit of %d", count, lim.MaxFiles)
	}
	// Each entry needs at least 12 bytes of index.
	if count*12 > indexLen-4 {
		return nil, fmt.Errorf("file count %d cannot fit in an index of %d bytes", count, indexLen)
	}
	pkg := &Package{}
	if dataStart+bodyLen != total {
		pkg.Problems = append(pkg.Problems, fmt.Errorf("header body length %d disagrees with the %d bytes after the index (kept reading)", bodyLen, total-dataStart))
	}
	type span struct {
		idx        int
		start, end int64
	}
	var spans []span
	pos := int64(18)
	end := dataStart
	// An index error stops reading the index, but the entries read so far still go through the
	// overlap and duplicate checks below before they are returned.
	var indexErr error
	for i := int64(0); i < count; i++ {
		if pos+4 > end {
			indexErr = fmt.Errorf("index truncated at entry %d of %d", i, count)
			break
		}
		nameLen := int64(binary.BigEndian.Uint32(data[pos : pos+4]))
		pos += 4
		if nameLen > int64(lim.MaxNameBytes) {
			indexErr = fmt.Errorf("entry %d: name length %d exceeds the limit of %d", i, nameLen, lim.MaxNameBytes)
			break
		}
		if pos+nameLen+8 > end {
			indexErr = fmt.Errorf("index truncated at entry %d of %d", i, count)
			break
		}
		name := string(data[pos : pos+nameLen])
		pos += nameLen
		off := int64(binary.BigEndian.Uint32(data[pos : pos+4]))
		size := int64(binary.BigEndian.Uint32(data[pos+4 : pos+8]))
		pos += 8
		if off < dataStart || off+size > total {
			pkg.Problems = append(pkg.Problems, fmt.Errorf("entry %q: data [%d,+%d) lies outside the data area [%d,%d)", name, off, size, dataStart, total))
			continue
		}
		clean, err := CleanName(name)
		if err != nil {
			pkg.Problems = append(pkg.Problems, fmt.Errorf("entry %q: %w", name, err))
			continue
		}
		pkg.Files = append(pkg.Files, File{Name: clean, Data: data[off : off+size : off+size]})
		spans = append(spans, span{idx: len(pkg.Files) - 1, start: off, end: off + size})
	}
	// Overlapping entries let a small package claim many times its size; drop every entry that
	// overlaps an earlier-starting one. Empty entries overlap nothing.
	sort.SliceStable(spans, func(a, b int) bool { return spans[a].start < spans[b].start })
	drop := map[int]bool{}
	var maxEnd int64
	for _, s := range spans {
		if s.end == s.start {
			continue
		}
		if s.start < maxEnd {
			drop[s.idx] = true
			pkg.Problems = append(pkg.Problems, fmt.Errorf("entry %q: data [%d,%d) overlaps another entry", pkg.Files[s.idx].Name, s.start, s.end))
			continue
		}
		maxEnd = s.end
	}
	seen := map[string]bool{}
	kept := pkg.Files[:0]
	for i, f := range pkg.Files {
		if drop[i] {
			continue
		}
		if seen[f.Name] {
			pkg.Problems = append(pkg.Problems, fmt.Errorf("entry %q: duplicate name, later entry dropped", f.Name))
			continue
		}
		seen[f.Name] = true
		kept = append(kept, f)
	}
	pkg.Files = kept
	return pkg, indexErr
}

// CleanName turns an entry name ("/pages/index.js") into a safe relative slash path
// ("pages/index.js") or says why it cannot be one. One leading "/" is normal in .wxapkg names;
// "..", empty segments after it, backslashes, NUL and other control bytes, drive letters and
// non-UTF-8 are refused, so no name can point outside an unpack folder on any OS.
func CleanName(name string) (string, error) {
	n := strings.TrimPrefix(name, "/")
	switch {
	case n == "":
		return "", errors.New("empty name")
	case !utf8.ValidString(n):
		return "", errors.New("name is not UTF-8")
	case strings.ContainsRune(n, '\\'):
		return "", errors.New("name contains a backslash")
	case strings.HasPrefix(n, "/"):
		return "", errors.New("absolute name")
	case len(n) >= 2 && n[1] == ':':
		return "", errors.New("name has a drive letter")
	}
	for i := 0; i < len(n); i++ {
		if n[i] < 0x20 || n[i] == 0x7F {
			return "", errors.New("name contains a control byte")
		}
	}
	for _, seg := range strings.Split(n, "/") {
		switch seg {
		case "":
			return "", errors.New("name has an empty path segment")
		case ".", "..":
			return "", fmt.Errorf("name has a %q segment", seg)
		}
	}
	return n, nil
}

// Pack builds a plain .wxapkg from files, in the given order. Names get a leading "/" as WeChat
// writes them. It is used by tests and benchmarks to make packages with known content.
func Pack(files []File) ([]byte, error) {
	var index bytes.Buffer
	var u [4]byte
	put := func(b *bytes.Buffer, v uint32) { binary.BigEndian.PutUint32(u[:], v); b.Write(u[:]) }
	put(&index, uint32(len(files)))
	indexLen := 4
	for _, f := range files {
		indexLen += 4 + len(packName(f.Name)) + 8
	}
	off := headerSize + indexLen
	body := 0
	for _, f := range files {
		n := packName(f.Name)
		put(&index, uint32(len(n)))
		index.WriteString(n)
		put(&index, uint32(off))
		put(&index, uint32(len(f.Data)))
		off += len(f.Data)
		body += len(f.Data)
	}
	if off > 1<<32-1 {
		return nil, errors.New("package would exceed 4 GiB")
	}
	var out bytes.Buffer
	out.Grow(off)
	out.WriteByte(firstMark)
	put(&out, 0)
	put(&out, uint32(indexLen))
	put(&out, uint32(body))
	out.WriteByte(lastMark)
	out.Write(index.Bytes())
	for _, f := range files {
		out.Write(f.Data)
	}
	return out.Bytes(), nil
}

func packName(n string) string {
	if strings.HasPrefix(n, "/") {
		return n
	}
	return "/" + n
}

// The PC-client encryption, as implemented by the public decryptors kee1ongz/MiniCAT
// (wechat_miniapp_dec.py: WXAPKG_FLAG 'V1MMWX', salt 'saltiest', iv 'the iv: 16 bytes',
// PBKDF2(wxid, salt, 32, count=1000, SHA1), AES-CBC over data[6:1030], keep 1023 bytes, XOR the rest
// with ord(wxid[-2]) or 0x66 when the id is shorter than 2) and secdevlpr26/decrypt-unpack-wxapkg
// (V1MMWX_HEADER, pbkdf2_hmac). Verified here on a package encrypted by EncryptPC and on a real
// PC-cache package against its published plain twin (tests).
const (
	encMagic    = "V1MMWX"
	encSalt     = "saltiest"
	encIV       = "the iv: 16 bytes"
	encIter     = 1000
	encKeyLen   = 32
	encBlockLen = 1024 // ciphertext bytes after the magic
	encPlainLen = 1023 // plaintext bytes they carry (the last byte is PKCS#7 padding 0x01)
)

// IsEncrypted reports whether data starts with the PC-client "V1MMWX" header.
func IsEncrypted(data []byte) bool { return bytes.HasPrefix(data, []byte(encMagic)) }

// pcKeys caches derived keys: PC WeChat keeps many packages (main + sub-packages) per app id.
var pcKeys = struct {
	sync.Mutex
	m map[string][]byte
}{m: map[string][]byte{}}

func pcKey(appid string) []byte {
	pcKeys.Lock()
	k, ok := pcKeys.m[appid]
	pcKeys.Unlock()
	if ok {
		return k
	}
	k, err := pbkdf2.Key(sha1.New, appid, []byte(encSalt), encIter, encKeyLen)
	if err != nil { // only for FIPS-restricted parameters, which these are not
		panic(err)
	}
	pcKeys.Lock()
	if len(pcKeys.m) >= 256 {
		clear(pcKeys.m)
	}
	pcKeys.m[appid] = k
	pcKeys.Unlock()
	return k
}

func xorKey(appid string) byte {
	if len(appid) >= 2 {
		return appid[len(appid)-2]
	}
	return 0x66
}

// DecryptPC turns a "V1MMWX" package into the plain .wxapkg bytes using the app id. A wrong app id
// yields bytes without the plain magic, which is reported as an error naming the app id.
func DecryptPC(data []byte, appid string) ([]byte, error) {
	if !IsEncrypted(data) {
		return nil, errors.New("no V1MMWX header")
	}
	if appid == "" {
		return nil, errors.New("PC-encrypted package needs the app id (--appid, or a wx… folder/file name)")
	}
	if len(data) < len(encMagic)+encBlockLen {
		return nil, fmt.Errorf("encrypted package is %d bytes, shorter than its %d-byte encrypted head", len(data), len(encMagic)+encBlockLen)
	}
	block, _ := aes.NewCipher(pcKey(appid)) // 32-byte key: cannot fail
	head := make([]byte, encBlockLen)
	cipher.NewCBCDecrypter(block, []byte(encIV)).CryptBlocks(head, data[len(encMagic):len(encMagic)+encBlockLen])
	rest := data[len(encMagic)+encBlockLen:]
	out := make([]byte, encPlainLen+len(rest))
	copy(out, head[:encPlainLen])
	k := xorKey(appid)
	for i, b := range rest {
		out[encPlainLen+i] = b ^ k
	}
	if out[0] != firstMark || out[13] != lastMark {
		return out, fmt.Errorf("decrypting with app id %q gave no wxapkg header (wrong app id?)", appid)
	}
	return out, nil
}

// EncryptPC is the inverse of DecryptPC: it produces the PC-client form of a plain package of at
// least 1,023 bytes. Tests use it to check the decryptor on a package with known content.
func EncryptPC(plain []byte, appid string) ([]byte, error) {
	if len(plain) < encPlainLen {
		return nil, fmt.Errorf("package of %d bytes is shorter than the %d-byte encrypted head", len(plain), encPlainLen)
	}
	head := make([]byte, encBlockLen)
	copy(head, plain[:encPlainLen])
	head[encPlainLen] = 0x01 // PKCS#7 padding of 1,023 bytes to 1,024
	block, _ := aes.NewCipher(pcKey(appid))
	cipher.NewCBCEncrypter(block, []byte(encIV)).CryptBlocks(head, head)
	out := make([]byte, 0, len(encMagic)+encBlockLen+len(plain)-encPlainLen)
	out = append(out, encMagic...)
	out = append(out, head...)
	k := xorKey(appid)
	for _, b := range plain[encPlainLen:] {
		out = append(out, b^k)
	}
	return out, nil
}

var appIDPattern = regexp.MustCompile(`wx[0-9a-f]{16}`)

// AppIDFromPath finds a WeChat app id ("wx" + 16 hex) in a path, nearest the file first: PC WeChat
// keeps packages as …/Applet/wx0123456789abcdef/17/__APP__.wxapkg.
func AppIDFromPath(p string) string {
	p = filepath.ToSlash(p)
	segs := strings.Split(p, "/")
	for i := len(segs) - 1; i >= 0; i-- {
		if m := appIDPattern.FindString(segs[i]); m != "" {
			return m
		}
	}
	return ""
}
