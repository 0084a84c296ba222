package traffic

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"
)

// TestCorpusMeasure prints, per detector, the pattern hits and traffic.pi_sent observations the
// shared HAR corpus yields, with every hit (host, location, key, value) written to
// $PILMON_MEASURE_OUT when set, for an assessor to read. It checks nothing; run it with -v.
func TestCorpusMeasure(t *testing.T) {
	files := corpusHARs(t)
	if len(files) == 0 {
		t.Skip("../shared is absent")
	}
	hits := map[string]int{}
	obs := map[string]int{}
	consent := map[string]int{}
	requests := 0
	var lines []string
	for _, f := range files {
		a := newTestAnalyzer(t, Options{})
		fh, err := os.Open(f)
		if err != nil {
			t.Fatal(err)
		}
		_, _ = ReadHAR(fh, Limits{}, func(e *Entry) error {
			a.Add(e)
			requests++
			hs, _ := DetectEntry(e, nil, Limits{})
			for _, h := range hs {
				hits[h.Detector]++
				u, _ := parseRequestURL(string(e.Request.URL))
				host := ""
				if u != nil {
					host = u.Host
				}
				lines = append(lines, fmt.Sprintf("%s\t%s\t%s\t%s\t%q\t%q", h.Detector, filepath.Base(f), host, h.Location, h.Key, h.Value))
			}
			return nil
		})
		fh.Close()
		for _, o := range a.Finish(nil).Observations {
			switch o.Kind {
			case "traffic.pi_sent":
				obs[o.Attributes["detector"].(string)]++
			case "traffic.consent_event":
				consent[fmt.Sprint(o.Attributes["source"])]++
			}
		}
	}
	var ds []string
	for d := range hits {
		ds = append(ds, d)
	}
	for d := range obs {
		if hits[d] == 0 {
			ds = append(ds, d)
		}
	}
	sort.Strings(ds)
	t.Logf("%d files, %d requests; consent events by source %v", len(files), requests, consent)
	for _, d := range ds {
		t.Logf("%-14s hits %5d  pi_sent %4d", d, hits[d], obs[d])
	}
	if p := os.Getenv("PILMON_MEASURE_OUT"); p != "" {
		sort.Strings(lines)
		_ = os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644)
	}
}
