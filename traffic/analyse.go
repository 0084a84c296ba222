package traffic

import (
	"fmt"
	"math"
	"net/url"
	"regexp"
	"sort"
	"strings"
	"time"

	"pilmon/scanner"
)

// Phases of a request relative to the consent action.
const (
	PhaseBefore       = "before_consent"
	PhaseAfterConsent = "after_consent"
	PhaseAfterRefusal = "after_refusal"
	PhaseUnknown      = "unknown"
)

// Options tune the analysis of one capture.
type Options struct {
	// FirstPartyDomains are the target's own domains; when empty, the registrable domain of the
	// capture's first document request is used (H5 pages) and the one AppPackage names. Hosts of
	// neither the operator nor a known SDK or tracker are "unknown", never third parties.
	FirstPartyDomains []string
	// AppPackage is the app's package name ("com.example.shop"): its reversed domain
	// (example.com) counts as the operator's.
	AppPackage string
	// ConsentAt is when the analyst clicked agree (or refuse, see ConsentAction); it overrides any
	// marker in the HAR.
	ConsentAt time.Time
	// ConsentAction is "agree" (default) or "refuse".
	ConsentAction string
	// ConsentURL marks consent at the earliest entry whose URL matches (e.g. the app's consent API);
	// when nil, pilmon's built-in consent-endpoint words are used (consentEndpoint).
	ConsentURL *regexp.Regexp
	// NoConsentEndpoint turns the built-in consent-endpoint detection off.
	NoConsentEndpoint bool
	// Device holds the test device's real identifiers for known-value matching.
	Device *DeviceValues
	// Known are the values the session's hook log saw the app read (scanner.Input.Known): matched
	// like Device's, and a match names the read.
	Known []scanner.KnownValue
	// XRay optionally attributes more hosts (LoadXRay).
	XRay   *XRayList
	Limits Limits
	// Capture configures live capture of H5 URLs.
	Capture CaptureOptions
	// Tool names the program in evidence metadata ("pilmon 0.1.0").
	Tool string
	// MaxHARBytes refuses larger HAR files before they are stored (default 4 GiB).
	MaxHARBytes int64
}

// Consent is the consent or refusal action that splits a capture.
type Consent struct {
	Action  string    `json:"action"` // agree | refuse
	Time    time.Time `json:"time"`
	Control string    `json:"control,omitempty"`
	// Source says where it came from: options | har_marker | page_title | request_marker |
	// entry_pattern (the consent_url option) | consent_endpoint (built-in words); PhaseSource
	// groups them.
	Source string `json:"source"`
}

const noTime = math.MinInt64

// ConsentNone is the action and subject of the traffic.consent_event that says a capture shows no
// consent moment.
const ConsentNone = "none"

// How a traffic.pi_sent observation matched (its "match" attribute): a device value the analyst
// supplied, or a pattern whose value passed its detector's validation. Nothing else is emitted.
const (
	matchKnown   = "known_value"
	matchPattern = "validated_pattern"
)

type groupKey struct {
	pi, detector, location, encoding string
	host                             int32
	known                            bool
	// hooked: the matched text is a form of a value the session's hook log saw read.
	hooked bool
}

type hitGroup struct {
	groupKey
	key, sample string
}

type hitRec struct {
	group int32
	entry int32
	tms   int64
	clear bool
}

type reqRec struct {
	host int32
	tms  int64
}

// Analyzer turns entries into observations. Feed entries with Add (in any order), then Finish.
// Memory grows with distinct hosts and with hits (bounded), not with the capture's size.
type Analyzer struct {
	opts    Options
	lim     Limits
	kv      *KnownValues
	hookKV  *KnownValues // the hook log's values alone
	att     *attributor
	hosts   []string
	hostIdx map[string]int32
	groups  []hitGroup
	gIdx    map[groupKey]int32
	hits    []hitRec
	reqs    []reqRec
	urls    map[int32]string
	times   map[int32]string
	doc     string   // first document URL
	pattern *Consent // earliest entry matching consent_url or the built-in endpoint words
	reqMark *Consent // earliest request carrying the _pilmon_consent marker
	dropped int
	entries int
	errs    []string
	errN    int
}

const (
	maxHits    = 2_000_000
	maxURLs    = 50_000
	maxURLLen  = 512
	maxErrKept = 50
)

// NewAnalyzer prepares an analysis; cat may be nil (no catalogue attribution).
func NewAnalyzer(cat SDKCatalogue, opts Options) *Analyzer {
	device, hooked := withSessionValues(opts.Device, opts.Known)
	a := &Analyzer{
		opts: opts, lim: opts.Limits.withDefaults(), kv: CompileKnownValues(device), hookKV: CompileKnownValues(hooked),
		att:     newAttributor(cat, opts.XRay, append(opts.FirstPartyDomains[:len(opts.FirstPartyDomains):len(opts.FirstPartyDomains)], packageDomain(opts.AppPackage))),
		hostIdx: map[string]int32{}, gIdx: map[groupKey]int32{},
		urls: map[int32]string{}, times: map[int32]string{},
	}
	return a
}

func (a *Analyzer) errorf(format string, args ...any) {
	a.errN++
	if len(a.errs) < maxErrKept {
		a.errs = append(a.errs, fmt.Sprintf(format, args...))
	}
}

func (a *Analyzer) host(h string) int32 {
	if i, ok := a.hostIdx[h]; ok {
		return i
	}
	i := int32(len(a.hosts))
	a.hosts = append(a.hosts, h)
	a.hostIdx[h] = i
	return i
}

// Add analyses one entry.
func (a *Analyzer) Add(e *Entry) {
	a.entries++
	if e.Blocked {
		return
	}
	u, err := parseRequestURL(string(e.Request.URL))
	if err != nil {
		a.errorf("entry %d: request.url: %v", e.Index, err)
		return
	}
	host := hostOf(u.Host)
	hi := a.host(host)
	tms := int64(noTime)
	if t, ok := e.Started(); ok {
		tms = t.UnixMilli()
	}
	if a.doc == "" && (strings.EqualFold(string(e.ResourceType), "document") || e.Index == 0 && strings.Contains(string(e.Response.Content.MimeType), "html")) {
		a.doc = host
	}
	if tms != noTime {
		a.noteConsent(e, u, tms)
	}
	if a.att.raw(host).Tracker && len(a.reqs) < maxHits {
		a.reqs = append(a.reqs, reqRec{host: hi, tms: tms})
	}
	hits, err := DetectEntry(e, a.kv, a.lim)
	if err != nil {
		a.errorf("entry %d: %v", e.Index, err)
		return
	}
	if len(hits) == 0 {
		return
	}
	clear := strings.EqualFold(u.Scheme, "http") || strings.EqualFold(u.Scheme, "ws")
	idx := int32(e.Index)
	if len(a.urls) < maxURLs {
		a.urls[idx] = truncate(string(e.Request.URL), maxURLLen)
		a.times[idx] = e.StartedDateTime
	}
	for _, h := range hits {
		k := groupKey{pi: h.PI, detector: h.Detector, location: h.Location, encoding: h.Encoding, host: hi, known: h.Known}
		if h.Known && a.hookKV != nil {
			k.hooked = a.hookKV.has(strings.TrimPrefix(h.Detector, "known_value:"), h.Value)
		}
		g, ok := a.gIdx[k]
		if !ok {
			if len(a.groups) >= 100_000 {
				a.dropped++
				continue
			}
			g = int32(len(a.groups))
			sample := h.Value
			if !strings.Contains(sample, " ") {
				sample = mask(sample)
			}
			a.groups = append(a.groups, hitGroup{groupKey: k, key: truncate(h.Key, 80), sample: truncate(sample, 160)})
			a.gIdx[k] = g
		}
		if len(a.hits) >= maxHits {
			a.dropped++
			continue
		}
		a.hits = append(a.hits, hitRec{group: g, entry: idx, tms: tms, clear: clear})
	}
}

// noteConsent keeps the earliest request that marks the consent moment (entries may come in any
// order): pilmon's request marker, else the consent_url pattern or the built-in endpoint words.
func (a *Analyzer) noteConsent(e *Entry, u *url.URL, tms int64) {
	at := time.UnixMilli(tms).UTC()
	control := "entry " + fmt.Sprint(e.Index) + ": " + truncate(string(e.Request.URL), 200)
	if act := requestMarker(e, u); act != "" && (a.reqMark == nil || at.Before(a.reqMark.Time)) {
		a.reqMark = &Consent{Action: act, Time: at, Control: control, Source: "request_marker"}
	}
	if a.pattern != nil && !at.Before(a.pattern.Time) {
		return
	}
	switch {
	case a.opts.ConsentURL != nil:
		if a.opts.ConsentURL.MatchString(string(e.Request.URL)) {
			a.pattern = &Consent{Action: a.action(), Time: at, Control: control, Source: "entry_pattern"}
		}
	case !a.opts.NoConsentEndpoint:
		if consentEndpoint(e, u) {
			a.pattern = &Consent{Action: "agree", Time: at, Control: control, Source: "consent_endpoint"}
		}
	}
}

func (a *Analyzer) action() string {
	if strings.EqualFold(a.opts.ConsentAction, "refuse") {
		return "refuse"
	}
	return "agree"
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && n < len(s) && s[n]&0xC0 == 0x80 {
		n--
	}
	return s[:n] + "…"
}

// mask keeps the first three and last two characters: enough to compare with the device, not
// enough to republish the identifier.
func mask(s string) string {
	if len(s) <= 6 {
		return strings.Repeat("*", len(s))
	}
	return s[:3] + strings.Repeat("*", len(s)-5) + s[len(s)-2:]
}

var pageMarker = regexp.MustCompile(`(?i)^\s*(?:pilmon:)?(?:consent[:_ ]?)?(agree|refuse|同意|拒绝)\b`)

// consent decides the consent action from options, the HAR's marker, page titles, an entry pattern.
func (a *Analyzer) consent(info *Info) *Consent {
	if !a.opts.ConsentAt.IsZero() {
		return &Consent{Action: a.action(), Time: a.opts.ConsentAt.UTC(), Control: "consent_at", Source: "options"}
	}
	if info != nil {
		var best *Consent
		for _, m := range info.Consent {
			t, ok := parseHARTime(m.Time)
			if !ok {
				continue
			}
			act := "agree"
			if strings.EqualFold(m.Action, "refuse") {
				act = "refuse"
			}
			if best == nil || t.Before(best.Time) {
				best = &Consent{Action: act, Time: t.UTC(), Control: m.Control, Source: "har_marker"}
			}
		}
		if best != nil {
			return best
		}
		for _, p := range info.Pages {
			title := string(p.Title)
			if !strings.HasPrefix(strings.ToLower(strings.TrimSpace(title)), "pilmon:") {
				continue
			}
			m := pageMarker.FindStringSubmatch(title)
			t, ok := parseHARTime(p.StartedDateTime)
			if m == nil || !ok {
				continue
			}
			act := "agree"
			if m[1] == "refuse" || m[1] == "拒绝" {
				act = "refuse"
			}
			return &Consent{Action: act, Time: t.UTC(), Control: "page title: " + title, Source: "page_title"}
		}
	}
	if a.reqMark != nil {
		return a.reqMark
	}
	return a.pattern
}

// Result is the analysis of one capture.
type Result struct {
	Observations []scanner.Observation `json:"observations"`
	Consent      *Consent              `json:"consent,omitempty"`
	Hosts        []Attribution         `json:"hosts"`
	Timeline     []TimelineRow         `json:"timeline"`
	Entries      int                   `json:"entries"`
	Errors       []string              `json:"errors,omitempty"`
}

// TimelineRow is one request that carried PI, for the analyst's timeline.
type TimelineRow struct {
	Entry    int      `json:"entry"`
	Time     string   `json:"time"`
	OffsetMS *int64   `json:"offset_ms,omitempty"`
	Phase    string   `json:"phase"`
	Host     string   `json:"host"`
	Party    string   `json:"party,omitempty"`
	SDK      string   `json:"sdk,omitempty"`
	URL      string   `json:"url,omitempty"`
	PI       []string `json:"pi"`
	Found    []string `json:"found"` // detector@location
}

func phaseOf(c *Consent, tms int64) (string, *int64) {
	if c == nil || tms == noTime {
		return PhaseUnknown, nil
	}
	off := tms - c.Time.UnixMilli()
	if off < 0 && phaseSource(c) == PhaseSourceEndpoint && off > -endpointGraceMS {
		return PhaseUnknown, &off
	}
	if off < 0 {
		return PhaseBefore, &off
	}
	if c.Action == "refuse" {
		return PhaseAfterRefusal, &off
	}
	return PhaseAfterConsent, &off
}

// Finish builds the observations; info may be nil for captures not read from a HAR.
func (a *Analyzer) Finish(info *Info) *Result {
	if len(a.opts.FirstPartyDomains) == 0 && a.doc != "" {
		a.att.firstParty[registrable(a.doc)] = true
	}
	res := &Result{Entries: a.entries}
	c := a.consent(info)
	res.Consent = c
	psrc := phaseSource(c)
	if c != nil {
		res.Observations = append(res.Observations, scanner.Observation{
			Kind: "traffic.consent_event", Subject: c.Action,
			Attributes: map[string]any{"action": c.Action, "control": c.Control, "time": c.Time.Format(time.RFC3339Nano), "source": c.Source, "phase_source": psrc},
		})
	}
	type agg struct {
		first     hitRec
		firstG    int32
		known     bool
		knownG    int32
		knownRec  hitRec
		hooked    bool
		hookedG   int32
		hookedRec hitRec
		entries   map[int32]bool
		detectors map[string]bool
		clear     bool
	}
	type aggKey struct {
		pi    string
		host  int32
		phase string
	}
	aggs := map[aggKey]*agg{}
	earlier := func(x, y hitRec) bool {
		if x.tms != y.tms {
			if x.tms == noTime {
				return false
			}
			if y.tms == noTime {
				return true
			}
			return x.tms < y.tms
		}
		return x.entry < y.entry
	}
	rows := map[int32]*TimelineRow{}
	for _, h := range a.hits {
		g := a.groups[h.group]
		phase, _ := phaseOf(c, h.tms)
		k := aggKey{g.pi, g.host, phase}
		ag := aggs[k]
		if ag == nil {
			ag = &agg{first: h, firstG: h.group, entries: map[int32]bool{}, detectors: map[string]bool{}}
			aggs[k] = ag
		}
		if earlier(h, ag.first) {
			ag.first, ag.firstG = h, h.group
		}
		if g.known && (!ag.known || earlier(h, ag.knownRec)) {
			ag.known, ag.knownG, ag.knownRec = true, h.group, h
		}
		if g.hooked && (!ag.hooked || earlier(h, ag.hookedRec)) {
			ag.hooked, ag.hookedG, ag.hookedRec = true, h.group, h
		}
		if len(ag.entries) < 100_000 {
			ag.entries[h.entry] = true
		}
		ag.detectors[g.detector] = true
		ag.clear = ag.clear || h.clear
		if r := rows[h.entry]; r != nil || len(rows) < 10_000 {
			if r == nil {
				p, off := phaseOf(c, h.tms)
				at := a.att.attribute(a.hosts[g.host])
				r = &TimelineRow{Entry: int(h.entry), Time: a.times[h.entry], OffsetMS: off, Phase: p, Host: a.hosts[g.host], Party: at.Party, SDK: at.SDK, URL: a.urls[h.entry]}
				rows[h.entry] = r
			}
			if !contains(r.PI, g.pi) {
				r.PI = append(r.PI, g.pi)
			}
			if f := g.detector + "@" + g.location; !contains(r.Found, f) {
				r.Found = append(r.Found, f)
			}
		}
	}
	keys := make([]aggKey, 0, len(aggs))
	for k := range aggs {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		x, y := keys[i], keys[j]
		if a.hosts[x.host] != a.hosts[y.host] {
			return a.hosts[x.host] < a.hosts[y.host]
		}
		if x.pi != y.pi {
			return x.pi < y.pi
		}
		return x.phase < y.phase
	})
	for _, k := range keys {
		ag := aggs[k]
		rep, repG := ag.first, ag.firstG
		switch {
		case ag.hooked:
			// The request that carries a value the hook log saw read is the evidence of the chain.
			rep, repG = ag.hookedRec, ag.hookedG
		case ag.known:
			rep, repG = ag.knownRec, ag.knownG
		}
		g := a.groups[repG]
		host := a.hosts[k.host]
		at := a.att.attribute(host)
		dets := make([]string, 0, len(ag.detectors))
		for d := range ag.detectors {
			dets = append(dets, d)
		}
		sort.Strings(dets)
		attrs := map[string]any{
			"pi": []string{k.pi}, "detector": g.detector, "detectors": dets, "host": host, "location": g.location,
			"phase": k.phase, "sdk": at.SDK, "third_party": at.ThirdParty, "cleartext": ag.clear,
			"cross_border": at.CrossBorder, "known_value": ag.known, "requests": len(ag.entries),
			"entry_index": int(rep.entry), "entry_time": a.times[rep.entry], "url": a.urls[rep.entry],
			"key": g.key, "sample": g.sample,
			"phase_source": psrc, "match": matchPattern,
			"recipient": host, "recipient_party": at.Party, "recipient_name": at.Owner,
		}
		if ag.known {
			attrs["match"] = matchKnown
			attrs["known_source"] = "analyst"
		}
		if ag.hooked {
			if k, ok := firstRead(a.opts.Known, strings.TrimPrefix(g.detector, "known_value:")); ok {
				for n, v := range readAttributes(k) {
					attrs[n] = v
				}
			}
		}
		if g.known {
			attrs["encoding"] = g.encoding
		}
		if _, off := phaseOf(c, rep.tms); off != nil {
			attrs["offset_ms"] = int(*off)
		}
		res.Observations = append(res.Observations, scanner.Observation{Kind: "traffic.pi_sent", Subject: k.pi + " -> " + host, Attributes: attrs})
	}
	// trackers contacted, per host and phase
	type tk struct {
		host  int32
		phase string
	}
	counts := map[tk]int{}
	for _, r := range a.reqs {
		p, _ := phaseOf(c, r.tms)
		counts[tk{r.host, p}]++
	}
	tks := make([]tk, 0, len(counts))
	for k := range counts {
		tks = append(tks, k)
	}
	sort.Slice(tks, func(i, j int) bool {
		if a.hosts[tks[i].host] != a.hosts[tks[j].host] {
			return a.hosts[tks[i].host] < a.hosts[tks[j].host]
		}
		return tks[i].phase < tks[j].phase
	})
	for _, k := range tks {
		at := a.att.attribute(a.hosts[k.host])
		if !at.Tracker || !at.ThirdParty {
			continue
		}
		res.Observations = append(res.Observations, scanner.Observation{
			Kind: "traffic.tracker_contacted", Subject: at.Host,
			Attributes: map[string]any{"host": at.Host, "sdk": at.SDK, "phase": k.phase, "phase_source": psrc, "requests": counts[k], "cross_border": at.CrossBorder,
				"recipient_party": at.Party, "recipient_name": at.Owner},
		})
	}
	if c == nil && len(res.Observations) > 0 {
		// PI or trackers whose phase nobody can tell: say so once, first, so that a report shows
		// why no before-consent or after-refusal rule could fire
		res.Observations = append([]scanner.Observation{{
			Kind: "traffic.consent_event", Subject: ConsentNone,
			Attributes: map[string]any{"action": ConsentNone, "source": ConsentNone, "phase_source": PhaseSourceNone},
		}}, res.Observations...)
	}
	for _, h := range a.hosts {
		res.Hosts = append(res.Hosts, a.att.attribute(h))
	}
	sort.Slice(res.Hosts, func(i, j int) bool { return res.Hosts[i].Host < res.Hosts[j].Host })
	for _, r := range rows {
		sort.Strings(r.PI)
		sort.Strings(r.Found)
		res.Timeline = append(res.Timeline, *r)
	}
	sort.Slice(res.Timeline, func(i, j int) bool {
		x, y := res.Timeline[i], res.Timeline[j]
		if x.Time != y.Time {
			return x.Time < y.Time
		}
		return x.Entry < y.Entry
	})
	res.Errors = append(res.Errors, a.errs...)
	if a.errN > len(a.errs) {
		res.Errors = append(res.Errors, fmt.Sprintf("… and %d more entry errors", a.errN-len(a.errs)))
	}
	if a.dropped > 0 {
		res.Errors = append(res.Errors, fmt.Sprintf("%d hits beyond the analysis bounds were not kept", a.dropped))
	}
	return res
}

func contains(l []string, s string) bool {
	for _, x := range l {
		if x == s {
			return true
		}
	}
	return false
}
