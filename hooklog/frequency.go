package hooklog

import (
	"sort"
	"strconv"
	"strings"

	"pilmon/rules"
	"pilmon/scanner"
)

// Thresholds are how often one party may read one API in a session before pilmon raises a
// frequency lead. The defaults are platform practice, not law: a Tencent open-platform review
// rejection quoted publicly asks that each identifier be collected at most 3 times in all and no
// more than once per second (../shared/reference/updates-2023-2026.md, "Platform practice"). An
// analyst who judges a function by another measure sets the source options max_calls_per_second
// and max_calls_per_session.
type Thresholds struct {
	PerSecond  int
	PerSession int
}

// DefaultThresholds are the platform-practice defaults.
var DefaultThresholds = Thresholds{PerSecond: 1, PerSession: 3}

// ThresholdSource names where the defaults come from, for the record.
const ThresholdSource = "platform practice (Tencent open-platform review, quoted publicly): not law"

// Frequency returns one runtime.frequency observation per (API, party) of the catalogued calls:
// the calls in the whole log, the most within any one second of device time (when the log has
// times), and whether either exceeds th.
func Frequency(l *Log, cat *rules.Catalogue, th Thresholds, thSource string) []scanner.Observation {
	type agg struct {
		api, party string
		count      int
		ms         []int64
		rows       []string
		pi         []string
	}
	groups := map[string]*agg{}
	var keys []string
	for i := range l.Events {
		e := &l.Events[i]
		if e.API == "" {
			continue
		}
		k := e.API + "\x00" + e.Party
		g := groups[k]
		if g == nil {
			g = &agg{api: e.API, party: e.Party}
			if cat != nil {
				if a, ok := cat.SensitiveAPI(e.API); ok {
					g.pi = append([]string{}, a.PI...)
				}
			}
			groups[k] = g
			keys = append(keys, k)
		}
		g.count++
		if e.hasMs {
			g.ms = append(g.ms, e.ms)
		}
		if len(g.rows) < obsRows {
			g.rows = append(g.rows, strconv.Itoa(e.Row))
		}
	}
	sort.Strings(keys)
	var out []scanner.Observation
	for _, k := range keys {
		g := groups[k]
		perSec := maxInWindow(g.ms, 1000)
		exceeded := g.count > th.PerSession || perSec > th.PerSecond
		attrs := map[string]any{"api": g.api, "party": g.party, "pi": g.pi, "count": g.count, "max_per_second": perSec,
			"timed": len(g.ms) == g.count, "threshold_per_second": th.PerSecond, "threshold_per_session": th.PerSession,
			"threshold_source": thSource, "exceeded": exceeded, "format": l.Format, "rows": g.rows}
		addParty(attrs, g.party)
		out = append(out, scanner.Observation{Kind: "runtime.frequency", Subject: g.api + " by " + g.party, Attributes: attrs})
	}
	return out
}

// maxInWindow is the largest number of times within any window of w ms (0 without times).
func maxInWindow(ms []int64, w int64) int {
	if len(ms) == 0 {
		return 0
	}
	s := append([]int64{}, ms...)
	sort.Slice(s, func(i, j int) bool { return s[i] < s[j] })
	best, lo := 0, 0
	for hi := range s {
		for s[hi]-s[lo] >= w {
			lo++
		}
		best = max(best, hi-lo+1)
	}
	return best
}

// addParty sets the party's kind and, for an SDK or a library, its catalogue id (the attributes
// the rules join on: sdk with policy.sdk_declared).
func addParty(attrs map[string]any, party string) {
	kind, id, _ := strings.Cut(party, ":")
	attrs["party_kind"] = kind
	attrs["sdk"], attrs["library"] = "", ""
	switch kind {
	case "sdk":
		attrs["sdk"] = id
	case "library":
		attrs["library"] = id
	}
}
