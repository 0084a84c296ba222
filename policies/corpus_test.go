package policies

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"pilmon/rules"
)

// sharedDir finds ../shared beside the module root, or $PILMON_SHARED.
func sharedDir(t testing.TB) string {
	t.Helper()
	if d := os.Getenv("PILMON_SHARED"); d != "" {
		return d
	}
	dir, err := os.Getwd()
	if err != nil {
		t.Skip("policies: no working directory")
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(filepath.Dir(dir), "shared")
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			t.Skip("policies: module root not found")
		}
		dir = parent
	}
}

// refCatalogue reads the shared reference SDK list and PI categories (the catalogue's sources).
type refCatalogue struct {
	sdks      []rules.SDK
	sensitive map[string]bool
}

func (c *refCatalogue) SDKs() []rules.SDK          { return c.sdks }
func (c *refCatalogue) IsSensitive(pi string) bool { return c.sensitive[pi] }

func loadRefCatalogue(t testing.TB) *refCatalogue {
	t.Helper()
	ref := filepath.Join(sharedDir(t), "reference")
	sdkData, err := os.ReadFile(filepath.Join(ref, "chinese-sdks.yaml"))
	if err != nil {
		t.Skipf("policies: shared reference data absent (%v)", err)
	}
	var sf struct {
		SDKs []struct {
			ID            string   `yaml:"id"`
			NameZH        string   `yaml:"name_zh"`
			NameEN        string   `yaml:"name_en"`
			Vendor        string   `yaml:"vendor"`
			ClassPrefixes []string `yaml:"class_prefixes"`
		} `yaml:"sdks"`
	}
	if err := yaml.Unmarshal(sdkData, &sf); err != nil {
		t.Fatal(err)
	}
	c := &refCatalogue{sensitive: map[string]bool{}}
	for _, s := range sf.SDKs {
		c.sdks = append(c.sdks, rules.SDK{ID: s.ID, Name: rules.Text{ZH: s.NameZH, EN: s.NameEN}, Vendor: s.Vendor, ClassPrefixes: s.ClassPrefixes})
	}
	piData, err := os.ReadFile(filepath.Join(ref, "pi-categories.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var pf struct {
		Categories []struct {
			ID   string `yaml:"id"`
			Sens string `yaml:"pipl_art28"`
		} `yaml:"categories"`
	}
	if err := yaml.Unmarshal(piData, &pf); err != nil {
		t.Fatal(err)
	}
	for _, p := range pf.Categories {
		c.sensitive[p.ID] = p.Sens == "yes" || p.Sens == "likely"
	}
	return c
}

func TestCorpus(t *testing.T) {
	cat := loadRefCatalogue(t)
	root := filepath.Join(sharedDir(t), "corpus", "policies")
	for _, lang := range []string{"zh", "en"} {
		files, _ := filepath.Glob(filepath.Join(root, lang, "*"))
		if len(files) == 0 {
			t.Skipf("policies: corpus %s absent", filepath.Join(root, lang))
		}
		sort.Strings(files)
		var b strings.Builder
		fmt.Fprintf(&b, "%-44s %s\n", "file ("+lang+")", "lang pp  "+strings.Join(shortIDs(), " "))
		counts := map[string]int{}
		policies := 0
		for _, f := range files {
			data, err := os.ReadFile(f)
			if err != nil {
				t.Fatal(err)
			}
			a, err := Analyze(filepath.Base(f), data, "", cat)
			if err != nil {
				t.Errorf("%s: %v", f, err)
				continue
			}
			row := ""
			for _, id := range ElementIDs {
				if a.Elements[id].Present {
					counts[id]++
					row += "  x "
				} else {
					row += "  . "
				}
			}
			pp := "n"
			if a.IsPrivacyPolicy {
				pp = "y"
				policies++
			}
			name := filepath.Base(f)
			if len(name) > 44 {
				name = name[:44]
			}
			fmt.Fprintf(&b, "%-44s %-4s %-3s%s pi=%d sdk=%d\n", name, a.Language, pp, row, len(a.PIDeclared), len(a.SDKsDeclared))
			if a.Language != lang && !strings.Contains(name, "mozilla") {
				t.Errorf("%s: language %s, want %s", name, a.Language, lang)
			}
		}
		t.Logf("\n%s", b.String())
		n := len(files)
		if counts["pi_collected"] < n*9/10 || counts["contact"] < n*6/10 || counts["third_party_sharing"] < n*6/10 {
			t.Errorf("%s corpus: pi_collected %d, contact %d, third_party_sharing %d of %d", lang, counts["pi_collected"], counts["contact"], counts["third_party_sharing"], n)
		}
		if policies < n*6/10 {
			t.Errorf("%s corpus: only %d of %d recognised as privacy policies", lang, policies, n)
		}
	}
}

func shortIDs() []string {
	var out []string
	for _, id := range ElementIDs {
		out = append(out, id[:3])
	}
	return out
}
