package rules

import (
	"fmt"
	"regexp"
	"slices"
	"strings"
	"time"

	"gopkg.in/yaml.v3"
)

var (
	sensitivities = []string{"yes", "likely", "depends", "no"}
	permKinds     = []string{"runtime", "normal", "special", "signature"}
	apiKinds      = []string{"method", "field", "provider"}
	sdkKinds      = []string{"analytics", "push", "push_vendor", "ads", "crash", "map", "login", "login_share", "login_share_payment", "payment", "risk_control", "device_id", "webview", "im", "voice", "other", "library"}
	piSources     = []string{"vendor_doc", "app_disclosure", "exodus", "none"}
	attrTypeNames = []string{"string", "bool", "tristate", "int", "float", "[]string"}
	severities    = []string{"critical", "high", "medium", "low", "info"}

	idRe         = regexp.MustCompile(`^[a-z0-9][a-z0-9_.\-]*$`)
	javaPrefixRe = regexp.MustCompile(`^[A-Za-z_$][A-Za-z0-9_$]*(\.[A-Za-z_$][A-Za-z0-9_$]*)*$`)
	permNameRe   = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)+(\.\*)?$`)
	hostRe       = regexp.MustCompile(`^([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z][a-z0-9-]{0,61}$`)
	descRe       = regexp.MustCompile(`^L[^;\s]+;->[^\s(:]+(\([^)\s]*\)\S+|:\S+)?$`)
	appCatIDRe   = regexp.MustCompile(`^[0-9]{2}$`)
)

func (l *loader) validate(c *Catalogue) {
	l.validatePI(c)
	l.validatePermissions(c)
	l.validateAPIs(c)
	files := make([]string, len(c.sdks))
	nodes := make([]*yaml.Node, len(c.sdks))
	for i := range c.sdks {
		files[i], nodes[i] = FileSDKs, nodeAt(l.nodes[FileSDKs], i)
		if i >= c.derivedStart {
			files[i], nodes[i] = FileSDKsDerived, nodeAt(l.nodes[FileSDKsDerived], i-c.derivedStart)
		}
	}
	l.validateSDKEntries(c, FileSDKs, files, c.sdks, nodes)
	l.validateDerivedExtensions(c)
	l.validateAppCategories(c)
	l.validateInstruments(c)
	l.validateKinds(c)
	l.validateViolations(c)
	l.validateFamilies(c)
	l.validateSignals(c)
	l.validateTrackers(c)
	l.validateElements(c)
	l.validateLibraries(c)
	l.validateGrades(c)
}

func (l *loader) text(file string, n *yaml.Node, field string, t Text) {
	if strings.TrimSpace(t.ZH) == "" {
		l.add(file, at(n, field, "zh"), "%s: missing zh text", field)
	}
	if strings.TrimSpace(t.EN) == "" {
		l.add(file, at(n, field, "en"), "%s: missing en text", field)
	}
}

func (l *loader) oneOf(file string, n *yaml.Node, field, val string, allowed []string) {
	if !slices.Contains(allowed, val) {
		l.add(file, at(n, field), "%s %q is not one of %s", field, val, strings.Join(allowed, " | "))
	}
}

func (l *loader) unique(file string, n *yaml.Node, field, val string, seen map[string]int) {
	if val == "" {
		l.add(file, at(n, field), "missing %s", field)
		return
	}
	if prev, dup := seen[val]; dup {
		l.add(file, at(n, field), "duplicate %s %q (first at line %d)", field, val, prev)
		return
	}
	seen[val] = at(n, field).Line
}

func (l *loader) piRefs(c *Catalogue, file string, n *yaml.Node, owner string, field string, ids []string) {
	for i, p := range ids {
		if _, ok := c.piByID[p]; !ok {
			l.add(file, at(n, field, i), "%s names unknown PI category %q", owner, p)
		}
	}
}

func (l *loader) verification(file string, n *yaml.Node, owner, v string) {
	if strings.TrimSpace(v) == "" {
		l.add(file, at(n, "verification"), "%s: missing verification (verified | recall | the source checked)", owner)
	}
}

func (l *loader) validatePI(c *Catalogue) {
	const f = FilePICategories
	seen := map[string]int{}
	for i, p := range c.piCategories {
		n := l.nodes[f][i]
		l.unique(f, n, "id", p.ID, seen)
		if p.ID != "" && !idRe.MatchString(p.ID) {
			l.add(f, at(n, "id"), "id %q: use lower-case letters, digits and _", p.ID)
		}
		l.text(f, n, "name", p.Name)
		l.oneOf(f, n, "pipl_art28", string(p.Sensitivity), sensitivities)
		if strings.TrimSpace(p.Basis) == "" {
			l.add(f, n, "PI category %s: missing basis", p.ID)
		}
	}
}

func (l *loader) validatePermissions(c *Catalogue) {
	const f = FilePermissions
	seen := map[string]int{}
	for i, p := range c.permissions {
		n := l.nodes[f][i]
		l.unique(f, n, "name", p.Name, seen)
		if p.Name != "" && !permNameRe.MatchString(p.Name) {
			l.add(f, at(n, "name"), "permission name %q is not a full dotted name", p.Name)
		}
		l.oneOf(f, n, "kind", p.Kind, permKinds)
		if p.ProtectionLevel == "" {
			l.add(f, n, "permission %s: missing protection_level", p.Name)
		}
		l.oneOf(f, n, "pipl_art28", string(p.Sensitivity), sensitivities)
		l.piRefs(c, f, n, "permission "+p.Name, "pi", p.PI)
		l.text(f, n, "description", p.Description)
		l.verification(f, n, "permission "+p.Name, p.Verification)
		if p.FirstSeenAPI < 0 || p.APIAdded < 0 || p.EffectiveAPIMax < 0 {
			l.add(f, n, "permission %s: negative API level", p.Name)
		}
	}
}

func (l *loader) validateAPIs(c *Catalogue) {
	const f = FileSensitiveAPIs
	seen := map[string]int{}
	for i, a := range c.apis {
		n := l.nodes[f][i]
		l.unique(f, n, "id", a.ID, seen)
		l.oneOf(f, n, "kind", a.Kind, apiKinds)
		if a.Class == "" || a.Method == "" {
			l.add(f, n, "sensitive API %s: missing class or method", a.ID)
		}
		if len(a.Descriptors) == 0 {
			l.add(f, at(n, "descriptors"), "sensitive API %s: needs at least one descriptor", a.ID)
		}
		for j, d := range a.Descriptors {
			if !descRe.MatchString(d) {
				l.add(f, at(n, "descriptors", j), "sensitive API %s: descriptor %q is not \"Lpkg/Class;->member…\"", a.ID, d)
			}
		}
		if a.Permission != "" {
			if _, ok := c.Permission(a.Permission); !ok {
				l.add(f, at(n, "permission"), "sensitive API %s names unknown permission %q", a.ID, a.Permission)
			}
		}
		l.oneOf(f, n, "pipl_art28", string(a.Sensitivity), sensitivities)
		l.piRefs(c, f, n, "sensitive API "+a.ID, "pi", a.PI)
		l.text(f, n, "description", a.Description)
		l.verification(f, n, "sensitive API "+a.ID, a.Verification)
	}
}

func nodeAt(nodes []*yaml.Node, i int) *yaml.Node {
	if i < len(nodes) {
		return nodes[i]
	}
	return nil
}

// validateSDKs checks SDK entries of an overlay.
func (l *loader) validateSDKs(c *Catalogue, f string, sdks []SDK, nodes []*yaml.Node) {
	files := make([]string, len(sdks))
	for i := range files {
		files[i] = f
	}
	l.validateSDKEntries(c, f, files, sdks, nodes)
}

// validateSDKEntries checks SDK entries, each from files[i]: the shipped catalogue (kind is
// FileSDKs: sdks.yaml and sdks_derived.yaml, checked together so that a prefix or domain the two
// files share is found) or an overlay.
func (l *loader) validateSDKEntries(c *Catalogue, kind string, files []string, sdks []SDK, nodes []*yaml.Node) {
	seen := map[string]int{}
	prefixes := map[string]string{}
	prefixFile := map[string]string{}
	keys := map[string]string{}
	domains := map[string][]domainClaim{}
	priorities := map[string]int{}
	for i, d := range sdks {
		n, f := nodes[i], files[i]
		l.unique(f, n, "id", d.ID, seen)
		if d.ID != "" && !idRe.MatchString(d.ID) {
			l.add(f, at(n, "id"), "SDK id %q: use lower-case letters, digits, _ and -", d.ID)
		}
		l.text(f, n, "name", d.Name)
		l.oneOf(f, n, "kind", d.Kind, sdkKinds)
		l.oneOf(f, n, "pi_source", d.PISource, piSources)
		if len(d.ClassPrefixes)+len(d.Domains)+len(d.ManifestKeys)+len(d.MiniProgramMarkers) == 0 && !l.signalOnly[d.ID] {
			l.add(f, n, "SDK %s: needs class_prefixes, domains, manifest_keys or miniprogram_markers", d.ID)
		}
		for j, p := range d.ClassPrefixes {
			switch {
			case !javaPrefixRe.MatchString(p) || !strings.Contains(p, "."):
				l.add(f, at(n, "class_prefixes", j), "SDK %s: class prefix %q is not a dotted Java package or class name", d.ID, p)
			case prefixes[p] != "" && f == FileSDKsDerived && prefixFile[p] == FileSDKs:
				l.add(f, at(n, "class_prefixes", j), "SDK %s: class prefix %q already belongs to SDK %s of %s (a derived entry never takes a hand-written one's prefix)", d.ID, p, prefixes[p], FileSDKs)
			case prefixes[p] != "" && priorities[prefixes[p]] == d.Priority:
				l.add(f, at(n, "class_prefixes", j), "SDK %s: class prefix %q already belongs to SDK %s (set a different priority on one of them, or list it once)", d.ID, p, prefixes[p])
			default:
				prefixes[p] = d.ID
				prefixFile[p] = f
			}
		}
		for j, h := range d.Domains {
			if !hostRe.MatchString(h) {
				l.add(f, at(n, "domains", j), "SDK %s: domain %q is not a lower-case host name", d.ID, h)
			}
			domains[h] = append(domains[h], domainClaim{d.ID, d.Priority, at(n, "domains", j), f})
		}
		priorities[d.ID] = d.Priority
		if kind == FileSDKs {
			l.sdkExamples(c, f, n, d)
		}
		for j, k := range d.ManifestKeys {
			switch {
			case strings.TrimSpace(k) == "" || strings.ContainsAny(k, " \t\n"):
				l.add(f, at(n, "manifest_keys", j), "SDK %s: bad manifest key %q", d.ID, k)
			case keys[k] != "":
				l.add(f, at(n, "manifest_keys", j), "SDK %s: manifest key %q already belongs to SDK %s", d.ID, k, keys[k])
			default:
				keys[k] = d.ID
			}
		}
		for j, m := range d.MiniProgramMarkers {
			if len(strings.TrimSpace(m)) < 4 {
				l.add(f, at(n, "miniprogram_markers", j), "SDK %s: mini-program marker %q is too short to be specific", d.ID, m)
			}
		}
		l.piRefs(c, f, n, "SDK "+d.ID, "pi", d.PI)
		l.verification(f, n, "SDK "+d.ID, d.Verification)
		switch {
		case f == FileSDKs && d.Origin != OriginCatalogue:
			l.add(f, at(n, "origin"), "SDK %s: origin in sdks.yaml must be %q or absent", d.ID, OriginCatalogue)
		case f == FileSDKsDerived && d.Origin != OriginDerived:
			l.add(f, at(n, "origin"), "SDK %s: origin in %s must be %q", d.ID, FileSDKsDerived, OriginDerived)
		}
		if d.VendorVerified && d.Origin != OriginCatalogue {
			l.add(f, at(n, "vendor_verified"), "SDK %s: only a hand-written entry can have a verified vendor", d.ID)
		}
	}
	if kind != FileSDKs {
		return // an overlay's shared domains name none of its entries (buildIndexes)
	}
	for _, h := range sortedKeys(domains) {
		claims := domains[h]
		top := claims[0]
		for _, cl := range claims[1:] {
			if cl.priority > top.priority {
				top = cl
			}
		}
		for _, cl := range claims {
			if cl.id != top.id && cl.priority == top.priority {
				l.add(cl.file, cl.node, "SDK %s: domain %q is also listed by SDK %s with the same priority (set a higher priority on the one to name, or list it once)", cl.id, h, top.id)
			}
		}
	}
}

// domainClaim is one SDK entry listing a domain.
type domainClaim struct {
	id       string
	priority int
	node     *yaml.Node
	file     string
}

func (l *loader) validateAppCategories(c *Catalogue) {
	const f = FileAppCategories
	seenID, seenKey := map[string]int{}, map[string]int{}
	for i, a := range c.appCategories {
		n := l.nodes[f][i]
		l.unique(f, n, "id", a.ID, seenID)
		if a.ID != "" && !appCatIDRe.MatchString(a.ID) {
			l.add(f, at(n, "id"), "app category id %q must be two digits (\"01\")", a.ID)
		}
		l.unique(f, n, "key", a.Key, seenKey)
		if a.Key != "" && !idRe.MatchString(a.Key) {
			l.add(f, at(n, "key"), "app category key %q: use lower-case letters, digits and _", a.Key)
		}
		l.text(f, n, "name", a.Name)
		l.text(f, n, "basic_function", a.BasicFunction)
		if a.NoPIRequired && len(a.NecessaryPI) > 0 {
			l.add(f, at(n, "necessary_pi"), "app category %s: no_pi_required but necessary_pi listed", a.Key)
		}
		if !a.NoPIRequired && len(a.NecessaryPI) == 0 {
			l.add(f, at(n, "necessary_pi"), "app category %s: necessary_pi empty but no_pi_required is false", a.Key)
		}
		for j, np := range a.NecessaryPI {
			nn := at(n, "necessary_pi", j)
			l.text(f, nn, "name", np.Name)
			if len(np.PI) == 0 {
				l.add(f, nn, "app category %s: necessary PI %q names no PI category", a.Key, np.Name.ZH)
			}
			l.piRefs(c, f, nn, "app category "+a.Key, "pi", np.PI)
		}
		for j, p := range a.JustifiedPermissions {
			if _, ok := c.Permission(p); !ok {
				l.add(f, at(n, "permissions_justified", j), "app category %s names unknown permission %q", a.Key, p)
			}
		}
		l.verification(f, n, "app category "+a.Key, a.Verification)
	}
}

func (l *loader) validateInstruments(c *Catalogue) {
	const f = FileInstruments
	seen := map[string]int{}
	for i, in := range c.instruments {
		n := l.nodes[f][i]
		l.unique(f, n, "id", in.ID, seen)
		l.text(f, n, "title", in.Title)
		l.oneOf(f, n, "level", in.Level, Levels)
		dates := map[string]time.Time{}
		for _, d := range []struct{ field, val string }{{"published", in.Published}, {"effective", in.Effective}, {"repealed", in.Repealed}, {"superseded", in.Superseded}} {
			if d.val == "" {
				continue
			}
			t, err := parseDate(d.val)
			if err != nil {
				l.add(f, at(n, d.field), "instrument %s: %s %q is not a date YYYY-MM-DD", in.ID, d.field, d.val)
				continue
			}
			dates[d.field] = t
		}
		eff, hasEff := dates["effective"]
		if in.Level != LevelDraft && in.Effective == "" {
			l.add(f, n, "instrument %s: needs an effective date (only a draft has none)", in.ID)
		}
		if pub, ok := dates["published"]; ok && hasEff && eff.Before(pub) {
			l.add(f, at(n, "effective"), "instrument %s: effective %s is before published %s", in.ID, in.Effective, in.Published)
		}
		for _, end := range []string{"repealed", "superseded"} {
			if e, ok := dates[end]; ok && hasEff && !e.After(eff) {
				l.add(f, at(n, end), "instrument %s: %s %s is not after effective %s", in.ID, end, e.Format(DateLayout), in.Effective)
			}
		}
		ifrom, ito, spanOK := in.Span()
		arts := map[string]int{}
		for j, a := range in.Articles {
			an := at(n, "articles", j)
			l.unique(f, an, "no", a.key(), arts)
			l.text(f, an, "text", a.Text)
			if a.InForce != nil {
				var from, to time.Time
				var err error
				if a.InForce.From != "" {
					if from, err = parseDate(a.InForce.From); err != nil {
						l.add(f, at(an, "in_force", "from"), "instrument %s article %s: in_force.from %q is not a date YYYY-MM-DD", in.ID, a.Label(), a.InForce.From)
					}
				}
				if a.InForce.To != "" {
					if to, err = parseDate(a.InForce.To); err != nil {
						l.add(f, at(an, "in_force", "to"), "instrument %s article %s: in_force.to %q is not a date YYYY-MM-DD", in.ID, a.Label(), a.InForce.To)
					}
				}
				if in.Level == LevelDraft {
					l.add(f, at(an, "in_force"), "instrument %s article %s: a draft's articles are never in force", in.ID, a.Label())
				}
				if !from.IsZero() && !to.IsZero() && to.Before(from) {
					l.add(f, at(an, "in_force"), "instrument %s article %s: in_force.to %s is before in_force.from %s", in.ID, a.Label(), a.InForce.To, a.InForce.From)
				}
				if spanOK && ((!from.IsZero() && from.Before(ifrom)) || (!to.IsZero() && !ito.IsZero() && to.After(ito))) {
					l.add(f, at(an, "in_force"), "instrument %s article %s: in_force lies outside the instrument's (%s)", in.ID, a.Label(), SpanLabel(ifrom, ito, true, "en"))
				}
			}
		}
		for j, a := range in.Articles {
			if a.Replaces == "" {
				continue
			}
			an := at(n, "articles", j, "replaces")
			k, ok := c.articles[in.ID][a.Replaces]
			if !ok {
				l.add(f, an, "instrument %s article %s: replaces unknown article %q (write no@version)", in.ID, a.Label(), a.Replaces)
				continue
			}
			_, oldTo, _ := ArticleSpan(in, in.Articles[k])
			newFrom, _, _ := ArticleSpan(in, a)
			if oldTo.IsZero() || !oldTo.Before(newFrom) {
				l.add(f, an, "instrument %s article %s: the article it replaces (%s) must be out of force before it comes into force", in.ID, a.Label(), a.Replaces)
			}
		}
	}
}

// validateCitation checks one legal_basis citation: it names an article (with its version when
// several share the number) of an instrument that is not a draft.
func (l *loader) validateCitation(c *Catalogue, f string, cn *yaml.Node, who string, cit Citation) {
	ii, ok := c.instrByID[cit.Instrument]
	if !ok {
		l.add(f, cn, "%s cites unknown instrument %s", who, cit)
		return
	}
	in := c.instruments[ii]
	if in.Level == LevelDraft {
		l.add(f, cn, "%s cites %s, a draft for comment: a draft is never cited as law", who, cit)
		return
	}
	if _, ok := c.articleIndex(cit); !ok {
		n := 0
		for _, a := range in.Articles {
			if a.No == cit.Article {
				n++
			}
		}
		if cit.Version == "" && n > 1 {
			l.add(f, cn, "%s cites %s, which exists in %d versions: write %s@<version>", who, cit, n, cit)
		} else {
			l.add(f, cn, "%s cites unknown article %s", who, cit)
		}
	}
}

func (l *loader) validateKinds(c *Catalogue) {
	const f = FileObservationKinds
	seen := map[string]int{}
	for i, k := range c.kinds {
		n := l.nodes[f][i]
		l.unique(f, n, "kind", k.Kind, seen)
		l.text(f, n, "description", k.Description)
		attrs := map[string]int{}
		for j, a := range k.Attributes {
			an := at(n, "attributes", j)
			l.unique(f, an, "name", a.Name, attrs)
			if a.Name == "subject" {
				l.add(f, an, "kind %s: attribute name \"subject\" is reserved", k.Kind)
			}
			l.oneOf(f, an, "type", a.Type, attrTypeNames)
		}
	}
}

func (l *loader) validateViolations(c *Catalogue) {
	const f = FileViolations
	seen := map[string]int{}
	for i, v := range c.violations {
		n := l.nodes[f][i]
		l.unique(f, n, "id", v.ID, seen)
		who := "violation " + v.ID
		l.text(f, n, "title", v.Title)
		l.text(f, n, "description", v.Description)
		l.oneOf(f, n, "severity", string(v.Severity), severities)
		if v.Caveat.ZH != "" || v.Caveat.EN != "" {
			l.text(f, n, "caveat", v.Caveat)
		}
		if len(v.LegalBasis) == 0 {
			l.add(f, at(n, "legal_basis"), "%s: needs at least one legal_basis citation", who)
		}
		for j, cit := range v.LegalBasis {
			l.validateCitation(c, f, at(n, "legal_basis", j), who, cit)
		}
		chk := at(n, "check")
		switch v.Check.Mode {
		case ModeAutomated:
			if len(v.Check.Triggers) == 0 {
				l.add(f, at(chk, "triggers"), "%s: automated check needs at least one trigger", who)
			}
			for j, t := range v.Check.Triggers {
				l.validateTrigger(c, f, at(chk, "triggers", j), who, t)
			}
			if len(v.Check.Examples.Positive) == 0 {
				l.add(f, at(chk, "examples", "positive"), "%s: automated check needs at least one positive example", who)
			}
			if len(v.Check.Examples.Negative) == 0 {
				l.add(f, at(chk, "examples", "negative"), "%s: automated check needs at least one negative example", who)
			}
			for j, e := range v.Check.Examples.Positive {
				l.validateExample(c, f, at(chk, "examples", "positive", j), who, e)
			}
			for j, e := range v.Check.Examples.Negative {
				l.validateExample(c, f, at(chk, "examples", "negative", j), who, e)
			}
		case ModeManual:
			if len(v.Check.Steps) == 0 {
				l.add(f, at(chk, "steps"), "%s: manual check needs steps", who)
			}
			if len(v.Check.Evidence) == 0 {
				l.add(f, at(chk, "evidence"), "%s: manual check needs the evidence to record", who)
			}
			for j, s := range v.Check.Steps {
				l.textItem(f, at(chk, "steps", j), who+" step", s)
			}
			for j, s := range v.Check.Evidence {
				l.textItem(f, at(chk, "evidence", j), who+" evidence", s)
			}
			if len(v.Check.Triggers) > 0 {
				l.add(f, at(chk, "triggers"), "%s: manual check must not have triggers", who)
			}
		default:
			l.add(f, at(chk, "mode"), "%s: check mode %q is not automated | manual", who, v.Check.Mode)
		}
	}
}

func (l *loader) textItem(f string, n *yaml.Node, who string, t Text) {
	if strings.TrimSpace(t.ZH) == "" {
		l.add(f, at(n, "zh"), "%s: missing zh text", who)
	}
	if strings.TrimSpace(t.EN) == "" {
		l.add(f, at(n, "en"), "%s: missing en text", who)
	}
}

func (l *loader) validateTrigger(c *Catalogue, f string, n *yaml.Node, who string, t Trigger) {
	attrs, ok := c.attrTypes[t.Kind]
	if !ok {
		l.add(f, at(n, "kind"), "%s: trigger names unknown observation kind %q", who, t.Kind)
		return
	}
	wn := at(n, "where")
	for _, k := range sortedKeys(t.Where) {
		typ := "string"
		if k != "subject" {
			var known bool
			if typ, known = attrs[k]; !known {
				l.add(f, keyNode(wn, k), "%s: trigger on %s uses unknown attribute %q", who, t.Kind, k)
				continue
			}
		}
		val := t.Where[k]
		items, isList := val.([]any)
		if !isList {
			items = []any{val}
		}
		if len(items) == 0 {
			l.add(f, at(wn, k), "%s: where.%s is an empty list", who, k)
		}
		for _, it := range items {
			if !scalarFits(typ, it) {
				l.add(f, at(wn, k), "%s: where.%s value %v does not fit attribute type %s", who, k, it, typ)
				continue
			}
			l.refValue(c, f, at(wn, k), who, k, it, true)
		}
	}
	if (t.OutsideNecessaryScope || t.SensitiveOnly) && attrs["pi"] == "" {
		l.add(f, n, "%s: outside_necessary_scope/sensitive_only need a kind with a \"pi\" attribute; %s has none", who, t.Kind)
	}
	for j, r := range t.Requires {
		if _, ok := c.attrTypes[r]; !ok {
			l.add(f, at(n, "requires", j), "%s: requires unknown observation kind %q", who, r)
		}
	}
	if t.Unless != nil {
		un := at(n, "unless")
		uattrs, ok := c.attrTypes[t.Unless.Kind]
		switch {
		case !ok:
			l.add(f, at(un, "kind"), "%s: unless names unknown observation kind %q", who, t.Unless.Kind)
		case t.Unless.On == "":
			l.add(f, un, "%s: unless needs \"on\"", who)
		case t.Unless.On != "subject" && (uattrs[t.Unless.On] == "" || attrs[t.Unless.On] == ""):
			l.add(f, at(un, "on"), "%s: unless.on %q must be an attribute of both %s and %s", who, t.Unless.On, t.Kind, t.Unless.Kind)
		}
	}
}

// refValue checks that values of reference-bearing attributes resolve: "pi" → PI category,
// "sdk" → SDK, "permission" (in triggers only: inspectors report every permission) → permission.
func (l *loader) refValue(c *Catalogue, f string, n *yaml.Node, who, attr string, v any, inTrigger bool) {
	s, ok := v.(string)
	if !ok {
		return
	}
	switch attr {
	case "pi":
		if _, ok := c.piByID[s]; !ok {
			l.add(f, n, "%s names unknown PI category %q", who, s)
		}
	case "sdk":
		if _, ok := c.sdkByID[s]; !ok && s != "" {
			l.add(f, n, "%s names unknown SDK %q", who, s)
		}
	case "permission":
		if _, ok := c.Permission(s); inTrigger && !ok && strings.Contains(s, ".") {
			l.add(f, n, "%s names unknown permission %q", who, s)
		}
	}
}

func (l *loader) validateExample(c *Catalogue, f string, n *yaml.Node, who string, e Example) {
	if e.Category != "" {
		if _, ok := c.appCatByKey[e.Category]; !ok {
			l.add(f, at(n, "category"), "%s: example names unknown app category %q", who, e.Category)
		}
	}
	if len(e.Observations) == 0 {
		l.add(f, at(n, "observations"), "%s: example has no observations", who)
	}
	for j, o := range e.Observations {
		on := at(n, "observations", j)
		attrs, ok := c.attrTypes[o.Kind]
		if !ok {
			l.add(f, at(on, "kind"), "%s: example observation of unknown kind %q", who, o.Kind)
			continue
		}
		an := at(on, "attributes")
		for _, k := range sortedKeys(o.Attributes) {
			typ, known := attrs[k]
			if !known {
				l.add(f, keyNode(an, k), "%s: example %s uses unknown attribute %q", who, o.Kind, k)
				continue
			}
			v := o.Attributes[k]
			if !valueFits(typ, v) {
				l.add(f, at(an, k), "%s: example attribute %s=%v does not fit type %s", who, k, v, typ)
				continue
			}
			for _, it := range listOf(v) {
				l.refValue(c, f, at(an, k), who, k, it, false)
			}
		}
	}
}

// scalarFits reports whether one value (a where item, or a list element) fits an attribute type.
func scalarFits(typ string, v any) bool {
	switch typ {
	case "string", "[]string":
		_, ok := v.(string)
		return ok
	case "bool":
		_, ok := v.(bool)
		return ok
	case "tristate":
		return isTristate(v)
	case "int":
		_, ok := v.(int)
		return ok
	case "float":
		switch v.(type) {
		case int, float64:
			return true
		}
	}
	return false
}

// isTristate reports whether v is true, false or "unclear": a fact the text may state, omit, or
// only seem to state (a candidate quote that does not show it). "unclear" never equals a bool in a
// trigger's where, so a rule that fires on false (absence) does not fire on it.
func isTristate(v any) bool {
	if _, ok := v.(bool); ok {
		return true
	}
	return v == TristateUnclear
}

// TristateUnclear is the third value of a tristate attribute.
const TristateUnclear = "unclear"

// valueFits reports whether an example attribute value fits its declared type.
func valueFits(typ string, v any) bool {
	if typ == "[]string" {
		items, ok := v.([]any)
		if !ok {
			return false
		}
		for _, it := range items {
			if _, ok := it.(string); !ok {
				return false
			}
		}
		return true
	}
	return scalarFits(typ, v)
}

// String summarises the catalogue in one line.
func (c *Catalogue) String() string {
	s := c.Stats()
	return fmt.Sprintf("catalogue: %d PI categories, %d permissions, %d sensitive APIs, %d SDKs (%d overlay), %d app categories, %d instruments (%d articles), %d observation kinds, %d violations (%d automated, %d manual)",
		s.PICategories, s.Permissions, s.SensitiveAPIs, s.SDKs, s.OverlaySDKs, s.AppCategories, s.Instruments, s.Articles, s.ObservationKinds, s.Violations, s.AutomatedViolations, s.ManualViolations)
}

// sdkExamples checks that a catalogue SDK entry has true and false positives and that the
// catalogue's own matchers agree with them.
func (l *loader) sdkExamples(c *Catalogue, f string, n *yaml.Node, d SDK) {
	ex := d.Examples
	if ex == nil || len(ex.Positive.Classes)+len(ex.Positive.Hosts)+len(ex.Positive.ManifestKeys) == 0 || len(ex.Negative.Classes)+len(ex.Negative.Hosts)+len(ex.Negative.ManifestKeys) == 0 {
		l.add(f, at(n, "examples"), "SDK %s: needs examples with at least one positive and one negative class name, host or manifest key", d.ID)
		return
	}
	en := at(n, "examples")
	check := func(kind, v string, want bool, match func(string) (SDK, bool)) {
		got, ok := match(v)
		if (ok && got.ID == d.ID) != want {
			verb := "must be"
			if !want {
				verb = "must not be"
			}
			l.add(f, en, "SDK %s: example %s %q %s attributed to it (the catalogue names %q)", d.ID, kind, v, verb, got.ID)
		}
	}
	for _, v := range ex.Positive.Classes {
		check("class", v, true, c.SDKForClass)
	}
	for _, v := range ex.Negative.Classes {
		check("class", v, false, c.SDKForClass)
	}
	for _, v := range ex.Positive.Hosts {
		check("host", v, true, c.SDKForHost)
	}
	for _, v := range ex.Negative.Hosts {
		check("host", v, false, c.SDKForHost)
	}
	for _, v := range ex.Positive.ManifestKeys {
		check("manifest key", v, true, c.SDKForManifestKey)
	}
	for _, v := range ex.Negative.ManifestKeys {
		check("manifest key", v, false, c.SDKForManifestKey)
	}
}
