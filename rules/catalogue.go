package rules

import (
	"encoding/json"
	"slices"
	"strings"
)

// Catalogue is the loaded, cross-checked rule catalogue. It is read-only after Load and safe for
// concurrent use. Accessors return copies of the entries (slices inside them are shared: do not
// modify them).
type Catalogue struct {
	piCategories  []PICategory
	permissions   []Permission
	apis          []SensitiveAPI
	sdks          []SDK
	appCategories []AppCategory
	instruments   []Instrument
	kinds         []ObservationKind
	violations    []Violation
	families      []Family
	signals       []SDKSignal
	trackers      []CrossBorderTracker
	elements      []PolicyElement
	libraries     []Library
	// policyPatterns is policy_patterns.yaml, compiled by package policies.
	policyPatterns []byte

	files   []string // catalogue files loaded, in load order
	overlay string   // overlay file(s) merged in, if any
	// derivedStart is the index in sdks of the first entry of sdks_derived.yaml (len(sdks) when
	// there is none); extensions are that file's additions to hand-written entries.
	derivedStart int
	extensions   []derivedExtension

	piByID        map[string]int
	permByName    map[string]int
	permWildcards []prefixIndex // "android.permission.health.*" → prefix "android.permission.health."
	apiByDesc     map[string][]int
	apiByMethod   map[string][]int // method-name-only descriptors ("Lpkg/C;->m")
	sdkByID       map[string]int
	sdkByPrefix   map[string]int
	sdkByDomain   map[string]int // -1: claimed by several SDKs of the same origin, ambiguous
	sdkByKey      map[string]int
	appCatByKey   map[string]int
	instrByID     map[string]int
	articles      map[string]map[string]int // instrument id → article no → index
	kindByName    map[string]int
	attrTypes     map[string]map[string]string // kind → attribute → type
	violByID      map[string]int
	necessaryPI   map[string]map[string]bool // app category key → necessary PI ids
	libByPrefix   map[string]int
}

type prefixIndex struct {
	prefix string
	idx    int
}

// Stats counts the entries of each section, for `pilmon rules list` and `validate`.
type Stats struct {
	PICategories        int      `json:"pi_categories"`
	SensitivePI         int      `json:"sensitive_pi"`
	Permissions         int      `json:"permissions"`
	SensitiveAPIs       int      `json:"sensitive_apis"`
	SDKs                int      `json:"sdks"`
	DerivedSDKs         int      `json:"derived_sdks"`
	OverlaySDKs         int      `json:"overlay_sdks"`
	AppCategories       int      `json:"app_categories"`
	Instruments         int      `json:"instruments"`
	Articles            int      `json:"articles"`
	ObservationKinds    int      `json:"observation_kinds"`
	Violations          int      `json:"violations"`
	AutomatedViolations int      `json:"automated_violations"`
	ManualViolations    int      `json:"manual_violations"`
	Files               []string `json:"files"`
	Overlay             string   `json:"overlay,omitempty"`
}

// Stats returns the number of entries per section.
func (c *Catalogue) Stats() Stats {
	s := Stats{
		PICategories:     len(c.piCategories),
		Permissions:      len(c.permissions),
		SensitiveAPIs:    len(c.apis),
		SDKs:             len(c.sdks),
		AppCategories:    len(c.appCategories),
		Instruments:      len(c.instruments),
		ObservationKinds: len(c.kinds),
		Violations:       len(c.violations),
		Files:            slices.Clone(c.files),
		Overlay:          c.overlay,
	}
	for _, p := range c.piCategories {
		if isSensitivity(p.Sensitivity) {
			s.SensitivePI++
		}
	}
	for _, d := range c.sdks {
		switch {
		case isOverlayOrigin(d.Origin):
			s.OverlaySDKs++
		case d.Origin == OriginDerived:
			s.DerivedSDKs++
		}
	}
	for _, in := range c.instruments {
		s.Articles += len(in.Articles)
	}
	for _, v := range c.violations {
		switch v.Check.Mode {
		case ModeAutomated:
			s.AutomatedViolations++
		case ModeManual:
			s.ManualViolations++
		}
	}
	return s
}

// MarshalJSON prints the whole catalogue, one key per section.
func (c *Catalogue) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		Stats            Stats             `json:"stats"`
		PICategories     []PICategory      `json:"pi_categories"`
		Permissions      []Permission      `json:"permissions"`
		SensitiveAPIs    []SensitiveAPI    `json:"sensitive_apis"`
		SDKs             []SDK             `json:"sdks"`
		AppCategories    []AppCategory     `json:"app_categories"`
		Instruments      []Instrument      `json:"instruments"`
		ObservationKinds []ObservationKind `json:"observation_kinds"`
		Violations       []Violation       `json:"violations"`
	}{c.Stats(), c.piCategories, c.permissions, c.apis, c.sdks, c.appCategories, c.instruments, c.kinds, c.violations})
}

func isSensitivity(s Sensitivity) bool { return s == "yes" || s == "likely" }

// PICategory returns the PI category with the given id.
func (c *Catalogue) PICategory(id string) (PICategory, bool) {
	i, ok := c.piByID[id]
	if !ok {
		return PICategory{}, false
	}
	return c.piCategories[i], true
}

// PICategories returns every PI category in file order.
func (c *Catalogue) PICategories() []PICategory { return slices.Clone(c.piCategories) }

// IsSensitive reports whether the PI category is sensitive under PIPL Art. 28 ("yes" or "likely").
func (c *Catalogue) IsSensitive(piID string) bool {
	i, ok := c.piByID[piID]
	return ok && isSensitivity(c.piCategories[i].Sensitivity)
}

// Permission returns the catalogue entry for a full permission name. An entry whose name ends in
// ".*" (android.permission.health.*) covers every permission under that prefix.
func (c *Catalogue) Permission(name string) (Permission, bool) {
	if i, ok := c.permByName[name]; ok {
		return c.permissions[i], true
	}
	for _, w := range c.permWildcards {
		if len(name) > len(w.prefix) && strings.HasPrefix(name, w.prefix) {
			return c.permissions[w.idx], true
		}
	}
	return Permission{}, false
}

// Permissions returns every permission in file order.
func (c *Catalogue) Permissions() []Permission { return slices.Clone(c.permissions) }

// SensitiveAPIs returns every sensitive API in file order.
func (c *Catalogue) SensitiveAPIs() []SensitiveAPI { return slices.Clone(c.apis) }

// SensitiveAPI returns the sensitive API with the given id.
func (c *Catalogue) SensitiveAPI(id string) (SensitiveAPI, bool) {
	for _, a := range c.apis {
		if a.ID == id {
			return a, true
		}
	}
	return SensitiveAPI{}, false
}

// APIsForDescriptor returns the sensitive APIs a dex reference matches: entries listing the exact
// descriptor, and entries whose method-name-only descriptor ("Lpkg/Class;->method") is the
// reference's class and member name. The result is in catalogue order, without duplicates.
func (c *Catalogue) APIsForDescriptor(desc string) []SensitiveAPI {
	var idx []int
	idx = append(idx, c.apiByDesc[desc]...)
	if base := memberBase(desc); base != "" {
		idx = append(idx, c.apiByMethod[base]...)
	}
	if len(idx) == 0 {
		return nil
	}
	slices.Sort(idx)
	idx = slices.Compact(idx)
	out := make([]SensitiveAPI, len(idx))
	for i, k := range idx {
		out[i] = c.apis[k]
	}
	return out
}

// memberBase cuts a dex reference after the member name: "Lc;->m(I)V" → "Lc;->m", and
// "Lc;->F:Ljava/lang/String;" → "Lc;->F". It returns "" for anything not shaped like a reference.
func memberBase(desc string) string {
	arrow := strings.Index(desc, ";->")
	if arrow < 1 {
		return ""
	}
	rest := desc[arrow+3:]
	if j := strings.IndexAny(rest, "(:"); j >= 0 {
		rest = rest[:j]
	}
	if rest == "" {
		return ""
	}
	return desc[:arrow+3] + rest
}

// SDKs returns every SDK (catalogue first, then overlay entries).
func (c *Catalogue) SDKs() []SDK { return slices.Clone(c.sdks) }

// SDK returns the SDK with the given id.
func (c *Catalogue) SDK(id string) (SDK, bool) {
	i, ok := c.sdkByID[id]
	if !ok {
		return SDK{}, false
	}
	return c.sdks[i], true
}

// SDKForClass returns the SDK whose class prefix is the longest one containing the class on a
// package boundary: prefix P matches C when C == P or C starts with P + ".". "com.loc" matches
// "com.loc.x.Y" but never "com.localytics.Z". The cost is one map lookup per package level.
func (c *Catalogue) SDKForClass(javaDottedClass string) (SDK, bool) {
	name := javaDottedClass
	for name != "" {
		if i, ok := c.sdkByPrefix[name]; ok {
			return c.sdks[i], true
		}
		j := strings.LastIndexByte(name, '.')
		if j < 0 {
			break
		}
		name = name[:j]
	}
	return SDK{}, false
}

// SDKForHost returns the SDK owning a host: the most specific domain d with host == d or host
// ending in "." + d. A domain several entries list is named by the one of highest priority (in
// sdks.yaml equal priorities are a load error); among overlay entries of equal priority it names
// none of them, and the search continues with the parent domain. Use SDKsForHost to see every
// candidate.
func (c *Catalogue) SDKForHost(host string) (SDK, bool) {
	h := normHost(host)
	for h != "" {
		if i, ok := c.sdkByDomain[h]; ok && i >= 0 {
			return c.sdks[i], true
		}
		j := strings.IndexByte(h, '.')
		if j < 0 {
			break
		}
		h = h[j+1:]
	}
	return SDK{}, false
}

// SDKsForHost returns every SDK that lists a domain matching host, most specific domain first.
func (c *Catalogue) SDKsForHost(host string) []SDK {
	h := normHost(host)
	var out []SDK
	seen := map[string]bool{}
	for h != "" {
		for _, d := range c.sdks {
			if !seen[d.ID] && slices.Contains(d.Domains, h) {
				seen[d.ID] = true
				out = append(out, d)
			}
		}
		j := strings.IndexByte(h, '.')
		if j < 0 {
			break
		}
		h = h[j+1:]
	}
	return out
}

func normHost(host string) string {
	h := strings.ToLower(strings.TrimSpace(host))
	if j := strings.LastIndexByte(h, ':'); j >= 0 && !strings.Contains(h, "]") && strings.Count(h, ":") == 1 {
		h = h[:j] // host:port
	}
	return strings.TrimSuffix(h, ".")
}

// SDKForManifestKey returns the SDK a manifest <meta-data android:name> belongs to.
func (c *Catalogue) SDKForManifestKey(metaDataName string) (SDK, bool) {
	i, ok := c.sdkByKey[metaDataName]
	if !ok {
		return SDK{}, false
	}
	return c.sdks[i], true
}

// AppCategory returns the app category with the given key ("map_navigation").
func (c *Catalogue) AppCategory(key string) (AppCategory, bool) {
	i, ok := c.appCatByKey[key]
	if !ok {
		return AppCategory{}, false
	}
	return c.appCategories[i], true
}

// AppCategories returns the app categories in the regulation's order.
func (c *Catalogue) AppCategories() []AppCategory { return slices.Clone(c.appCategories) }

// IsNecessaryPI reports whether a PI category is necessary PI of an app category.
func (c *Catalogue) IsNecessaryPI(categoryKey, piID string) bool {
	return c.necessaryPI[categoryKey][piID]
}

// Instrument returns the legal instrument with the given id ("pipl").
func (c *Catalogue) Instrument(id string) (Instrument, bool) {
	i, ok := c.instrByID[id]
	if !ok {
		return Instrument{}, false
	}
	return c.instruments[i], true
}

// Instruments returns every legal instrument in file order.
func (c *Catalogue) Instruments() []Instrument { return slices.Clone(c.instruments) }

// Article returns the article a citation names.
func (c *Catalogue) Article(cit Citation) (Article, bool) {
	in, ok := c.instrByID[cit.Instrument]
	if !ok {
		return Article{}, false
	}
	j, ok := c.articleIndex(cit)
	if !ok {
		return Article{}, false
	}
	return c.instruments[in].Articles[j], true
}

// ObservationKind returns the declaration of an observation kind ("apk.permission").
func (c *Catalogue) ObservationKind(kind string) (ObservationKind, bool) {
	i, ok := c.kindByName[kind]
	if !ok {
		return ObservationKind{}, false
	}
	return c.kinds[i], true
}

// ObservationKinds returns the observation vocabulary in file order.
func (c *Catalogue) ObservationKinds() []ObservationKind { return slices.Clone(c.kinds) }

// Violation returns the violation with the given id.
func (c *Catalogue) Violation(id string) (Violation, bool) {
	i, ok := c.violByID[id]
	if !ok {
		return Violation{}, false
	}
	return c.violations[i], true
}

// Violations returns every violation in file order.
func (c *Catalogue) Violations() []Violation { return slices.Clone(c.violations) }

// buildIndexes fills the lookup maps from the entry slices. Duplicates were rejected by validation
// for catalogue entries; for overlay entries the first claim wins (catalogue before overlay).
func (c *Catalogue) buildIndexes() {
	c.piByID = make(map[string]int, len(c.piCategories))
	for i, p := range c.piCategories {
		setFirst(c.piByID, p.ID, i)
	}
	c.permByName = make(map[string]int, len(c.permissions))
	c.permWildcards = nil
	for i, p := range c.permissions {
		if pre, ok := strings.CutSuffix(p.Name, "*"); ok {
			c.permWildcards = append(c.permWildcards, prefixIndex{pre, i})
			continue
		}
		setFirst(c.permByName, p.Name, i)
	}
	c.apiByDesc = map[string][]int{}
	c.apiByMethod = map[string][]int{}
	for i, a := range c.apis {
		for _, d := range a.Descriptors {
			if memberBase(d) == d {
				c.apiByMethod[d] = appendUnique(c.apiByMethod[d], i)
			} else {
				c.apiByDesc[d] = appendUnique(c.apiByDesc[d], i)
			}
		}
	}
	c.sdkByID = make(map[string]int, len(c.sdks))
	c.sdkByPrefix = map[string]int{}
	c.sdkByKey = map[string]int{}
	c.sdkByDomain = map[string]int{}
	domainOrigin := map[string]string{}
	domainPriority := map[string]int{}
	for i, d := range c.sdks {
		setFirst(c.sdkByID, d.ID, i)
		for _, p := range d.ClassPrefixes {
			if prev, ok := c.sdkByPrefix[p]; !ok || d.Priority > c.sdks[prev].Priority {
				c.sdkByPrefix[p] = i
			}
		}
		for _, k := range d.ManifestKeys {
			setFirst(c.sdkByKey, k, i)
		}
		for _, dom := range d.Domains {
			dom = normHost(dom)
			prev, claimed := c.sdkByDomain[dom]
			switch {
			case !claimed:
				c.sdkByDomain[dom] = i
				domainOrigin[dom] = d.Origin
				domainPriority[dom] = d.Priority
			case prev >= 0 && c.sdks[prev].ID == d.ID:
			case !isOverlayOrigin(domainOrigin[dom]) && isOverlayOrigin(d.Origin):
				// the reviewed catalogue's claim stands
			case d.Priority < domainPriority[dom]:
			case d.Priority > domainPriority[dom]:
				c.sdkByDomain[dom] = i
				domainPriority[dom] = d.Priority
			default:
				// equal claims: a load error in sdks.yaml; an overlay's names none of them
				c.sdkByDomain[dom] = -1
			}
		}
	}
	c.appCatByKey = make(map[string]int, len(c.appCategories))
	c.necessaryPI = make(map[string]map[string]bool, len(c.appCategories))
	for i, a := range c.appCategories {
		setFirst(c.appCatByKey, a.Key, i)
		set := map[string]bool{}
		for _, n := range a.NecessaryPI {
			for _, p := range n.PI {
				set[p] = true
			}
		}
		c.necessaryPI[a.Key] = set
	}
	c.instrByID = make(map[string]int, len(c.instruments))
	c.articles = make(map[string]map[string]int, len(c.instruments))
	for i, in := range c.instruments {
		setFirst(c.instrByID, in.ID, i)
		m := make(map[string]int, len(in.Articles))
		for j, a := range in.Articles {
			setFirst(m, a.key(), j)
		}
		if _, dup := c.articles[in.ID]; !dup {
			c.articles[in.ID] = m
		}
	}
	c.kindByName = make(map[string]int, len(c.kinds))
	c.attrTypes = make(map[string]map[string]string, len(c.kinds))
	for i, k := range c.kinds {
		setFirst(c.kindByName, k.Kind, i)
		m := map[string]string{}
		for _, a := range k.Attributes {
			if _, dup := m[a.Name]; !dup {
				m[a.Name] = a.Type
			}
		}
		if _, dup := c.attrTypes[k.Kind]; !dup {
			c.attrTypes[k.Kind] = m
		}
	}
	c.violByID = make(map[string]int, len(c.violations))
	for i, v := range c.violations {
		setFirst(c.violByID, v.ID, i)
	}
	c.buildLibraryIndex()
}

// isOverlayOrigin reports whether an entry was imported into the data dir rather than shipped.
func isOverlayOrigin(o string) bool { return o == OriginExodusOverlay || o == OriginLibCheckerOverlay }

func setFirst(m map[string]int, k string, v int) {
	if _, ok := m[k]; !ok {
		m[k] = v
	}
}

func appendUnique(s []int, v int) []int {
	if slices.Contains(s, v) {
		return s
	}
	return append(s, v)
}
