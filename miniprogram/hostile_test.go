package miniprogram

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"pilmon/scanner"
)

const hostileAppID = "wx0123456789abcdef"

// goodJS is the entry every hostile package keeps intact: its call must still be found.
var goodJS = []byte(`wx.getLocation({type:"gcj02"});`)

// padTo makes a package long enough for EncryptPC (1,023 bytes of head) by appending a body
// file that no index entry points at.
func padTo(p []byte, n int) []byte {
	if len(p) >= n {
		return p
	}
	out := append([]byte{}, p...)
	out = append(out, bytes.Repeat([]byte{' '}, n-len(p))...)
	// the header's body length no longer matches: that is reported, not fatal
	return out
}

// hostilePackages are the packages issue 7 names, each with a good entry (a.js) where the format
// allows one, in plain form.
func hostilePackages(t *testing.T) map[string]struct {
	pkg       []byte
	reason    string // substring of the error naming the reason
	keepsGood bool   // the good entry is still analysed
} {
	t.Helper()
	body := append(append([]byte{}, goodJS...), bytes.Repeat([]byte("/*pad*/"), 200)...)
	n := uint32(len(goodJS))
	setHeader := func(p []byte, off int, v uint32) []byte {
		q := append([]byte{}, p...)
		binary.BigEndian.PutUint32(q[off:off+4], v)
		return q
	}
	good := rawPackage(2, []rawEntry{{"/a.js", 0, n, false}, {"/b.js", n, 7, false}}, body, 0)
	many := make([]rawEntry, 100_000)
	for i := range many {
		many[i] = rawEntry{fmt.Sprintf("/m/%06d.js", i), 0, 0, false}
	}
	many[0] = rawEntry{"/a.js", 0, n, false}
	return map[string]struct {
		pkg       []byte
		reason    string
		keepsGood bool
	}{
		"index pointing past the end":  {setHeader(good, 5, 1<<30), "past the end", false},
		"entry pointing past the end":  {rawPackage(2, []rawEntry{{"/a.js", 0, n, false}, {"/b.js", uint32(len(body)) - 4, 64, false}}, body, 0), "outside the data area", true},
		"entry offset before the data": {rawPackage(2, []rawEntry{{"/a.js", 0, n, false}, {"/b.js", 2, 8, true}}, body, 0), "outside the data area", true},
		"overlapping files":            {rawPackage(3, []rawEntry{{"/a.js", 0, n, false}, {"/b.js", 4, 40, false}, {"/c.js", 0, uint32(len(body)), false}}, body, 0), "overlaps", true},
		"dot-dot names":                {rawPackage(3, []rawEntry{{"/a.js", 0, n, false}, {"/../../../etc/cron.d/x", n, 7, false}, {"/pages/../../x.js", n + 7, 7, false}}, body, 0), `".." segment`, true},
		"100,000 entries":              {rawPackage(100_000, many, body, 0), "exceeds the limit of 50000", false},
		"bomb-sized entry length":      {rawPackage(2, []rawEntry{{"/a.js", 0, n, false}, {"/bomb.js", n, 0xFFFFFFFF, false}}, body, 0), "outside the data area", true},
		"bomb-sized index length":      {setHeader(good, 5, 0xFFFFFFFF), "past the end", false},
		"bomb-sized body length":       {setHeader(good, 9, 0xFFFFFFFF), "disagrees", true},
		"bomb-sized file count":        {setHeader(good, 14, 0xFFFFFFFF), "exceeds the limit", false},
	}
}

// Every hostile package, plain and PC-encrypted, through the whole Inspector from a file: no
// panic, an error naming the file and the reason, and the good entry still inspected when the
// format leaves it readable.
func TestInspectHostilePackages(t *testing.T) {
	in := New(nil, Options{})
	dir := t.TempDir()
	for name, c := range hostilePackages(t) {
		for _, encrypted := range []bool{false, true} {
			data := c.pkg
			label := name
			if encrypted {
				var err error
				data, err = EncryptPC(padTo(c.pkg, 1100), hostileAppID)
				if err != nil {
					t.Fatal(err)
				}
				label += " (encrypted)"
			}
			t.Run(label, func(t *testing.T) {
				sub := filepath.Join(dir, hostileAppID, strings.ReplaceAll(label, " ", "_"))
				if err := os.MkdirAll(sub, 0o755); err != nil {
					t.Fatal(err)
				}
				p := filepath.Join(sub, "__APP__.wxapkg")
				if err := os.WriteFile(p, data, 0o644); err != nil {
					t.Fatal(err)
				}
				rep := scanner.InspectSource(t.Context(), in, scanner.Source{Kind: scanner.SourceWxapkg, Locator: p}, newMemSink())
				all := scanner.JoinErrors(rep.Errors, "\n")
				if strings.Contains(all, "internal error") {
					t.Fatalf("panic recovered:\n%s", all)
				}
				named := false
				for _, fe := range rep.Errors {
					e := fe.Error()
					named = named || strings.Contains(e, p) && strings.Contains(e, c.reason)
				}
				if !named {
					t.Errorf("no error naming %s and %q:\n%s", p, c.reason, all)
				}
				found := len(find(rep, "mp.api_call", "wx.getLocation")) > 0
				if found != c.keepsGood {
					t.Errorf("good entry inspected = %v, want %v (status %s)", found, c.keepsGood, rep.Status)
				}
				if c.keepsGood && rep.Status != scanner.StatusPartial || !c.keepsGood && rep.Status != scanner.StatusFailed {
					t.Errorf("status %s", rep.Status)
				}
			})
		}
	}
}

// A real index of 100,000 entries is refused at the default limit before anything is allocated
// for it, and read within bounds when the limit is raised.
func TestParse100000Entries(t *testing.T) {
	c := hostilePackages(t)["100,000 entries"]
	if _, err := Parse(c.pkg, Limits{}); err == nil || !strings.Contains(err.Error(), "100000") {
		t.Fatalf("default limit: %v", err)
	}
	pkg, err := Parse(c.pkg, Limits{MaxFiles: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Files) != 100_000 || pkg.Files[0].Name != "a.js" || len(pkg.Problems) != 0 {
		t.Fatalf("%d files, first %q, problems %v", len(pkg.Files), pkg.Files[0].Name, pkg.Problems[:min(3, len(pkg.Problems))])
	}
	// the same entry count with every entry claiming the whole body: all but one dropped as overlaps
	ents := make([]rawEntry, 100_000)
	for i := range ents {
		ents[i] = rawEntry{fmt.Sprintf("/o/%06d.js", i), 0, 64, false}
	}
	pkg, err = Parse(rawPackage(100_000, ents, bytes.Repeat([]byte("x"), 64), 0), Limits{MaxFiles: 200_000})
	if err != nil {
		t.Fatal(err)
	}
	if len(pkg.Files) != 1 || len(pkg.Problems) != 99_999 {
		t.Errorf("overlap bomb: %d files kept, %d problems", len(pkg.Files), len(pkg.Problems))
	}
}

// An encrypted package too short for its encrypted head, or a name longer than the limit.
func TestHostileShortEncryptedAndLongName(t *testing.T) {
	if _, err := DecryptPC(append([]byte(encMagic), make([]byte, 100)...), hostileAppID); err == nil || !strings.Contains(err.Error(), "shorter than") {
		t.Errorf("short encrypted package: %v", err)
	}
	long := rawPackage(1, []rawEntry{{"/" + strings.Repeat("n", 2000) + ".js", 0, 1, false}}, []byte("x"), 0)
	if _, err := Parse(long, Limits{}); err == nil || !strings.Contains(err.Error(), "name length 2004 exceeds the limit of 1024") {
		t.Errorf("long name: %v", err)
	}
	// a name length field of 4 GiB: refused by the limit, nothing read past the index
	p := rawPackage(1, []rawEntry{{"/a.js", 0, 1, false}}, []byte("x"), 0)
	binary.BigEndian.PutUint32(p[18:22], 0xFFFFFFFF)
	if _, err := Parse(p, Limits{}); err == nil || !strings.Contains(err.Error(), "name length 4294967295") {
		t.Errorf("4 GiB name length: %v", err)
	}
}
