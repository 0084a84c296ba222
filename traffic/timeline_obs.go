package traffic

import (
	"fmt"
	"io"
	"math"
	"sort"
	"strconv"
	"strings"

	"pilmon/scanner"
)

// WriteTimelineFromObservations prints the consent timeline of one capture from its observations
// alone (a scanner.Report carries no Result): the consent action (traffic.consent_event), then
// one line per request that carried PI (traffic.pi_sent, grouped by their evidence pointer
// entry_index, in entry_time order): offset from the consent action, phase, host (SDK), PI
// categories, detectors, how many requests carried the same PI to the host in that phase, and
// the entry (index and URL); then the trackers contacted per phase (traffic.tracker_contacted).
//
// lang is "zh" (Chinese), "en" (English) or anything else for both ("同意前 / before consent"),
// as the command line prints. Attributes may be Go-typed (from an inspector) or JSON-typed
// (float64, []any: from a stored or exported report). Observations of other kinds are ignored.
func WriteTimelineFromObservations(w io.Writer, obs []scanner.Observation, lang string) error {
	tr := func(zh, en string) string {
		switch lang {
		case "zh":
			return zh
		case "en":
			return en
		}
		return zh + " / " + en
	}
	phase := func(p string) string {
		t, ok := phaseText[p]
		if !ok {
			t = phaseText[PhaseUnknown]
		}
		return tr(t[0], t[1])
	}
	type row struct {
		entry    int
		hasEntry bool
		time     string
		off      *int64
		phase    string
		host     string
		sdk      string
		url      string
		pi       []string
		found    []string
		requests int
		known    bool
	}
	rows := map[string]*row{}
	var consent []scanner.Observation
	type tracker struct {
		host, sdk, phase string
		requests         int
		crossBorder      bool
	}
	var trackers []tracker
	for _, o := range obs {
		a := o.Attributes
		switch o.Kind {
		case "traffic.consent_event":
			if attrString(a["action"]) != ConsentNone { // "none" says no consent moment: the line below
				consent = append(consent, o)
			}
		case "traffic.tracker_contacted":
			n, _ := attrInt(a["requests"])
			trackers = append(trackers, tracker{host: attrString(a["host"]), sdk: attrString(a["sdk"]), phase: attrString(a["phase"]),
				requests: int(n), crossBorder: a["cross_border"] == true})
		case "traffic.pi_sent":
			idx, hasIdx := attrInt(a["entry_index"])
			host := attrString(a["host"])
			key := "#" + strconv.FormatInt(idx, 10)
			if !hasIdx { // no evidence pointer: one row per observation
				key = "?" + o.Subject + "/" + attrString(a["phase"])
			}
			r := rows[key]
			if r == nil {
				r = &row{entry: int(idx), hasEntry: hasIdx, time: attrString(a["entry_time"]), phase: attrString(a["phase"]),
					host: host, sdk: attrString(a["sdk"]), url: attrString(a["url"])}
				if off, ok := attrInt(a["offset_ms"]); ok {
					r.off = &off
				}
				rows[key] = r
			}
			for _, p := range attrStrings(a["pi"]) {
				if !contains(r.pi, p) {
					r.pi = append(r.pi, p)
				}
			}
			det := attrString(a["detector"])
			if loc := attrString(a["location"]); det != "" && loc != "" {
				det += "@" + loc
			}
			if enc := attrString(a["encoding"]); enc != "" && enc != "plain" {
				det += "(" + enc + ")"
			}
			if det != "" && !contains(r.found, det) {
				r.found = append(r.found, det)
			}
			if n, ok := attrInt(a["requests"]); ok && int(n) > r.requests {
				r.requests = int(n)
			}
			r.known = r.known || a["known_value"] == true
		}
	}
	list := make([]*row, 0, len(rows))
	for _, r := range rows {
		sort.Strings(r.pi)
		sort.Strings(r.found)
		list = append(list, r)
	}
	sort.Slice(list, func(i, j int) bool {
		x, y := list[i], list[j]
		if (x.time == "") != (y.time == "") {
			return x.time != ""
		}
		if x.time != y.time {
			return x.time < y.time
		}
		if x.entry != y.entry {
			return x.entry < y.entry
		}
		return x.host < y.host
	})
	if _, err := fmt.Fprintf(w, "%s (%d)\n", tr("同意时间线：发送个人信息的请求", "Consent timeline: requests that sent personal information"), len(list)); err != nil {
		return err
	}
	if len(consent) == 0 {
		fmt.Fprintf(w, "  %s\n", tr("未标记同意操作：阶段未知（可用 --consent-at 指定同意时间）", "no consent marker: phases unknown (give the time with --consent-at)"))
	}
	for _, c := range consent {
		act := attrString(c.Attributes["action"])
		actText := tr("同意", "agree")
		if act == "refuse" {
			actText = tr("拒绝", "refuse")
		}
		line := fmt.Sprintf("  %s: %s", tr("同意操作", "consent action"), actText)
		if t := attrString(c.Attributes["time"]); t != "" {
			line += "  " + t
		}
		if ctl := attrString(c.Attributes["control"]); ctl != "" {
			line += "  (" + ctl + ")"
		}
		if src := attrString(c.Attributes["source"]); src != "" {
			if ps := attrString(c.Attributes["phase_source"]); ps != "" && ps != src {
				src = ps + ": " + src
			}
			line += "  [" + src + "]"
		}
		fmt.Fprintln(w, line)
	}
	counts := map[string]int{}
	for _, r := range list {
		counts[r.phase]++
	}
	if len(list) > 0 {
		var parts []string
		for _, p := range []string{PhaseBefore, PhaseAfterConsent, PhaseAfterRefusal, PhaseUnknown} {
			if counts[p] > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", phase(p), counts[p]))
			}
		}
		fmt.Fprintf(w, "  %s\n", strings.Join(parts, "; "))
	}
	for _, r := range list {
		off := "       -"
		if r.off != nil {
			off = fmt.Sprintf("%+8.1fs", float64(*r.off)/1000)
		}
		host := r.host
		if r.sdk != "" {
			host += " (" + r.sdk + ")"
		}
		pi := strings.Join(r.pi, ",")
		if r.known {
			pi += " [" + tr("真实值", "device value") + "]"
		}
		entry := "#?"
		if r.hasEntry {
			entry = "#" + strconv.Itoa(r.entry)
		}
		more := ""
		if r.requests > 1 {
			more = fmt.Sprintf(" ×%d", r.requests)
		}
		if _, err := fmt.Fprintf(w, "  %s  %s  %s  %s  %s%s  %s %s\n", off, phase(r.phase), host, pi,
			strings.Join(r.found, ","), more, entry, truncate(r.url, 160)); err != nil {
			return err
		}
	}
	if len(trackers) > 0 {
		sort.SliceStable(trackers, func(i, j int) bool {
			if trackers[i].phase != trackers[j].phase {
				return phaseOrder(trackers[i].phase) < phaseOrder(trackers[j].phase)
			}
			return trackers[i].host < trackers[j].host
		})
		fmt.Fprintf(w, "  %s (%d)\n", tr("联系的第三方追踪域名", "third-party trackers contacted"), len(trackers))
		for _, t := range trackers {
			host := t.host
			if t.sdk != "" {
				host += " (" + t.sdk + ")"
			}
			cb := ""
			if t.crossBorder {
				cb = "  " + tr("境外", "outside mainland China")
			}
			fmt.Fprintf(w, "    %s  %s  ×%d%s\n", phase(t.phase), host, t.requests, cb)
		}
	}
	return nil
}

func phaseOrder(p string) int {
	switch p {
	case PhaseBefore:
		return 0
	case PhaseAfterConsent:
		return 1
	case PhaseAfterRefusal:
		return 2
	}
	return 3
}

func attrString(v any) string {
	switch x := v.(type) {
	case string:
		return x
	case nil:
		return ""
	case fmt.Stringer:
		return x.String()
	}
	return fmt.Sprint(v)
}

// attrInt accepts the integer types an inspector writes and the float64 JSON gives back.
func attrInt(v any) (int64, bool) {
	switch x := v.(type) {
	case int:
		return int64(x), true
	case int32:
		return int64(x), true
	case int64:
		return x, true
	case float64:
		if math.IsNaN(x) || math.IsInf(x, 0) || math.Abs(x) > 1<<53 {
			return 0, false
		}
		return int64(x), true
	case string:
		n, err := strconv.ParseInt(x, 10, 64)
		return n, err == nil
	}
	return 0, false
}

func attrStrings(v any) []string {
	switch x := v.(type) {
	case []string:
		return x
	case string:
		return []string{x}
	case []any:
		out := make([]string, 0, len(x))
		for _, e := range x {
			if s, ok := e.(string); ok {
				out = append(out, s)
			}
		}
		return out
	}
	return nil
}
