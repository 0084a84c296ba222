package apkinspect

import (
	"bufio"
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"pilmon/internal/corpus"
)

// dexdumpMethods runs dexdump -d on an APK and returns the disassembly of each method, keyed by
// "java.class.Name method" (overloads share a key).
func dexdumpMethods(t *testing.T, apk string) map[string]string {
	t.Helper()
	out, err := exec.Command("dexdump", "-d", apk).Output()
	if err != nil && len(out) == 0 {
		t.Logf("dexdump %s: %v", filepath.Base(apk), err)
		return nil
	}
	methods := map[string]string{}
	var cls, key string
	var body strings.Builder
	flush := func() {
		if key != "" {
			methods[key] += body.String()
		}
		body.Reset()
		key = ""
	}
	sc := bufio.NewScanner(bytes.NewReader(out))
	sc.Buffer(make([]byte, 1<<20), 1<<24)
	for sc.Scan() {
		line := sc.Text()
		trim := strings.TrimSpace(line)
		switch {
		case strings.HasPrefix(trim, "Class descriptor"):
			flush()
			if i := strings.Index(trim, "'"); i >= 0 {
				cls = strings.TrimPrefix(strings.TrimSuffix(trim[i+1:len(trim)-1], ";"), "L")
				cls = strings.ReplaceAll(cls, "/", ".")
			}
		case strings.HasPrefix(trim, "name          :"):
			flush()
			key = cls + " " + strings.Trim(strings.TrimSpace(strings.TrimPrefix(trim, "name          :")), "'")
		default:
			body.WriteString(line)
			body.WriteByte('\n')
		}
	}
	flush()
	return methods
}

// TestCorpusArgumentsAtCallSite checks, on the shared corpus, that every resolved argument of a
// sensitive-API record is loaded in the calling method (a const-string of the value, or an
// sget-object of the field), as dexdump disassembles it; it logs the records per
// argument-dependent API.
func TestCorpusArgumentsAtCallSite(t *testing.T) {
	dir := corpus.Path(t, "corpus", "apks")
	if _, err := exec.LookPath("dexdump"); err != nil {
		t.Skip("dexdump is not installed")
	}
	apks, _ := filepath.Glob(filepath.Join(dir, "*.apk"))
	cat := catalogue(t)
	argAPIs := map[string]bool{}
	for _, a := range cat.SensitiveAPIs() {
		if len(a.Strings) > 0 {
			argAPIs[a.ID] = true
		}
	}
	counts := map[string]int{}
	checked := 0
	for _, p := range apks {
		f, err := os.Open(p)
		if err != nil {
			t.Fatal(err)
		}
		st, _ := f.Stat()
		app := analyze(context.Background(), cat, apiClassSet(cat), Options{}.withDefaults(), f, st.Size(), filepath.Base(p))
		f.Close()
		var methods map[string]string
		for _, r := range app.APIs {
			if !argAPIs[r.API.ID] {
				continue
			}
			arg := r.Argument
			switch {
			case arg == "":
				counts[r.API.ID+" (no argument)"]++
			case arg == ArgumentUnresolved:
				counts[r.API.ID+" unresolved"]++
			default:
				counts[r.API.ID+" resolved"]++
				if methods == nil {
					methods = dexdumpMethods(t, p)
				}
				body := methods[r.CallerClass+" "+r.CallerMethod]
				want := `"` + arg + `"`
				if i := strings.Index(arg, "->"); i > 0 && strings.HasPrefix(arg, "L") {
					want = "sget-object"
					want2 := arg[:i] + "." + strings.SplitN(arg[i+2:], ":", 2)[0]
					if !strings.Contains(body, want) || !strings.Contains(body, want2) {
						t.Errorf("%s: %s @ %s.%s: argument field %s not read in the method", filepath.Base(p), r.API.ID, r.CallerClass, r.CallerMethod, arg)
					}
				} else if !strings.Contains(body, "const-string") || !strings.Contains(body, want) {
					t.Errorf("%s: %s @ %s.%s: argument %q is not a const-string of the method", filepath.Base(p), r.API.ID, r.CallerClass, r.CallerMethod, arg)
				}
				checked++
			}
		}
	}
	var keys []string
	for k := range counts {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	for _, k := range keys {
		t.Logf("%-40s %d", k, counts[k])
	}
	t.Logf("%d resolved arguments checked against dexdump on %d APKs", checked, len(apks))
}
