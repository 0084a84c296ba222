package traffic

import (
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"sync"

	"golang.org/x/net/publicsuffix"

	"pilmon/rules"
)

// SDKCatalogue is what attribution needs of the rules catalogue (*rules.Catalogue implements it).
type SDKCatalogue interface {
	SDKForHost(host string) (rules.SDK, bool)
}

// crossBorder maps each domain of rules/data/cross_border_trackers.yaml to its tracker (the rules
// package loads the file and rejects a domain listed twice).
var crossBorder = sync.OnceValues(func() (map[string]rules.CrossBorderTracker, error) {
	cat, err := rules.Default()
	if err != nil {
		return nil, err
	}
	m := map[string]rules.CrossBorderTracker{}
	for _, t := range cat.CrossBorderTrackers() {
		for _, d := range t.Domains {
			m[strings.ToLower(d)] = t
		}
	}
	return m, nil
})

// XRayCompany is one owner of the X-Ray tracker company list.
type XRayCompany struct {
	Owner   string `json:"owner_name"`
	Parent  string `json:"parent"`
	Root    string `json:"root_parent"`
	Country string `json:"country"`
	Domains []string
}

// XRayList maps tracker domains to their owning company (the TrackerControl X-Ray list: a JSON
// array of {owner_name, parent, root_parent, country, doms}). It is GPL-licensed data, so pilmon
// loads it from a path given at run time instead of embedding it.
type XRayList struct {
	byDomain map[string]*XRayCompany
}

// LoadXRay reads an X-Ray company list (at most 16 MiB).
func LoadXRay(path string) (*XRayList, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	l, err := ReadXRay(io.LimitReader(f, 16<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return l, nil
}

// ReadXRay parses an X-Ray company list.
func ReadXRay(r io.Reader) (*XRayList, error) {
	var raw []struct {
		Owner   string   `json:"owner_name"`
		Parent  *string  `json:"parent"`
		Root    *string  `json:"root_parent"`
		Country string   `json:"country"`
		Doms    []string `json:"doms"`
	}
	if err := json.NewDecoder(r).Decode(&raw); err != nil {
		return nil, err
	}
	l := &XRayList{byDomain: map[string]*XRayCompany{}}
	for _, c := range raw {
		co := &XRayCompany{Owner: c.Owner, Country: strings.ToLower(c.Country), Domains: c.Doms}
		if c.Parent != nil {
			co.Parent = *c.Parent
		}
		if c.Root != nil {
			co.Root = *c.Root
		}
		for _, d := range c.Doms {
			l.byDomain[strings.ToLower(d)] = co
		}
	}
	return l, nil
}

// Company returns the owner of host (host == d or a subdomain of d).
func (l *XRayList) Company(host string) (*XRayCompany, bool) {
	if l == nil {
		return nil, false
	}
	for h := host; h != ""; {
		if c, ok := l.byDomain[h]; ok {
			return c, true
		}
		i := strings.IndexByte(h, '.')
		if i < 0 {
			break
		}
		h = h[i+1:]
	}
	return nil, false
}

// Attribution is who a host belongs to.
type Attribution struct {
	Host string `json:"host"`
	// SDK is a catalogue SDK id, else an id of the cross-border list, else "xray:<owner>"; empty when
	// first party or unknown.
	SDK string `json:"sdk,omitempty"`
	// Owner is a display name for the SDK/tracker.
	Owner string `json:"owner,omitempty"`
	// Party is who receives what is sent to the host: "sdk:<id>" (a catalogue SDK's domain),
	// "tracker:<id>" (the cross-border tracker list or X-Ray), "operator" (the target's own
	// domains, or the registrable domain of the page or app) or "unknown".
	Party string `json:"party"`
	// ThirdParty is set for hosts of an SDK or tracker vendor that are not the operator's: an
	// unknown host is not a third party, only not known to be the operator's.
	ThirdParty  bool `json:"third_party"`
	Tracker     bool `json:"tracker"`
	CrossBorder bool `json:"cross_border"`
	// Country is the operator's country when known (cross-border list or X-Ray).
	Country string `json:"country,omitempty"`
}

// attributor attributes hosts, with a bounded cache.
type attributor struct {
	cat        SDKCatalogue
	xray       *XRayList
	firstParty map[string]bool // registrable domains
	cache      map[string]Attribution
}

func newAttributor(cat SDKCatalogue, xray *XRayList, firstParty []string) *attributor {
	a := &attributor{cat: cat, xray: xray, firstParty: map[string]bool{}, cache: map[string]Attribution{}}
	for _, d := range firstParty {
		if d = registrable(d); d != "" {
			a.firstParty[d] = true
		}
	}
	return a
}

// registrable returns the registrable domain (eTLD+1) of a host, or the host itself for IPs and
// single labels.
func registrable(host string) string {
	h := strings.ToLower(strings.TrimSpace(host))
	h = strings.TrimSuffix(strings.TrimPrefix(strings.TrimPrefix(h, "https://"), "http://"), "/")
	if i := strings.IndexByte(h, '/'); i >= 0 {
		h = h[:i]
	}
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	h = strings.Trim(strings.TrimSuffix(h, "."), "[]")
	if h == "" || net.ParseIP(h) != nil {
		return h
	}
	if d, err := publicsuffix.EffectiveTLDPlusOne(h); err == nil {
		return d
	}
	return h
}

// hostOf strips the port and brackets of a URL host.
func hostOf(h string) string {
	h = strings.ToLower(h)
	if hh, _, err := net.SplitHostPort(h); err == nil {
		h = hh
	}
	return strings.TrimSuffix(strings.Trim(h, "[]"), ".")
}

func (a *attributor) attribute(host string) Attribution { return a.party(a.raw(host)) }

// raw attributes a host to an SDK or tracker, ignoring first/third party.
func (a *attributor) raw(host string) Attribution {
	if at, ok := a.cache[host]; ok {
		return at
	}
	at := Attribution{Host: host}
	if a.cat != nil {
		if sdk, ok := a.cat.SDKForHost(host); ok {
			at.SDK, at.Owner, at.Tracker, at.Party = sdk.ID, sdk.Name.ZH, true, "sdk:"+sdk.ID
		} else if sdk, ok := oneVendor(a.cat, host); ok {
			at.SDK, at.Owner, at.Tracker, at.Party = sdk.ID, sdk.Name.ZH, true, "sdk:"+sdk.ID
		}
	}
	if cb, err := crossBorder(); err == nil {
		for h := host; h != ""; {
			if t, ok := cb[h]; ok {
				at.CrossBorder, at.Country, at.Tracker = true, t.Country, true
				if at.SDK == "" {
					at.SDK, at.Owner = t.ID, t.Name
				}
				break
			}
			i := strings.IndexByte(h, '.')
			if i < 0 {
				break
			}
			h = h[i+1:]
		}
	}
	if c, ok := a.xray.Company(host); ok {
		at.Tracker = true
		if at.Country == "" {
			at.Country = c.Country
			at.CrossBorder = c.Country != "" && c.Country != "cn"
		}
		if at.SDK == "" {
			at.SDK, at.Owner = "xray:"+slug(c.Owner), c.Owner
		}
	}
	if len(a.cache) < 100_000 {
		a.cache[host] = at
	}
	return at
}

// Recipient parties besides sdk:<id> and tracker:<id>.
const (
	PartyOperator = "operator"
	PartyUnknown  = "unknown"
)

// party decides who receives what goes to the host: the operator (its own domains win over any
// vendor list: a Tencent app's qq.com is Tencent's own), an SDK or tracker vendor (third party),
// or unknown (neither list names it: not claimed to be a third party). Only a third-party host
// keeps its SDK.
func (a *attributor) party(at Attribution) Attribution {
	switch {
	case a.firstParty[registrable(at.Host)]:
		at.Party, at.ThirdParty = PartyOperator, false
	case at.Tracker:
		at.ThirdParty = true
		if at.Party == "" {
			at.Party = "tracker:" + at.SDK
		}
	default:
		at.Party, at.ThirdParty = PartyUnknown, false
	}
	if !at.ThirdParty {
		at.SDK, at.Owner, at.Tracker = "", "", false
	}
	return at
}

// packageDomain turns an app package into the registrable domain it names ("com.example.shop" ->
// "example.com"), "" when it names none (a public suffix alone, or one label).
func packageDomain(pkg string) string {
	parts := strings.Split(strings.ToLower(strings.TrimSpace(pkg)), ".")
	if len(parts) < 2 {
		return ""
	}
	d := parts[1] + "." + parts[0]
	if r, err := publicsuffix.EffectiveTLDPlusOne(d); err != nil || r != d {
		return ""
	}
	return d
}

func slug(s string) string {
	var b strings.Builder
	for _, r := range strings.ToLower(s) {
		switch {
		case r >= 'a' && r <= 'z', r >= '0' && r <= '9':
			b.WriteRune(r)
		case b.Len() > 0 && !strings.HasSuffix(b.String(), "_"):
			b.WriteByte('_')
		}
	}
	return strings.TrimSuffix(b.String(), "_")
}

// sdkLister is implemented by *rules.Catalogue: every SDK claiming a host.
type sdkLister interface {
	SDKsForHost(host string) []rules.SDK
}

// kindRank orders SDK kinds by how much a request to them is about collection.
var kindRank = map[string]int{"analytics": 0, "ads": 1, "device_id": 2, "risk_control": 3, "push": 4, "crash": 5}

// oneVendor resolves a host the catalogue finds ambiguous (umeng.com is claimed by Umeng's
// analytics, push and share SDKs) when every candidate belongs to one vendor family (same id
// prefix before "_"): the collection-oriented one is named. Hosts shared by different vendors
// stay unattributed.
func oneVendor(cat SDKCatalogue, host string) (rules.SDK, bool) {
	l, ok := cat.(sdkLister)
	if !ok {
		return rules.SDK{}, false
	}
	cands := l.SDKsForHost(host)
	if len(cands) == 0 {
		return rules.SDK{}, false
	}
	family := func(id string) string { f, _, _ := strings.Cut(id, "_"); return f }
	best := cands[0]
	for _, c := range cands[1:] {
		if family(c.ID) != family(best.ID) {
			return rules.SDK{}, false
		}
		rc, okc := kindRank[c.Kind]
		rb, okb := kindRank[best.Kind]
		if okc && (!okb || rc < rb) {
			best = c
		}
	}
	return best, true
}
