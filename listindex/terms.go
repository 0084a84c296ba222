package listindex

import (
	"strings"

	"gopkg.in/yaml.v3"

	"pilmon/findings"
	"pilmon/rules"
)

// Prosecutors search for what they know by name: 友盟, IMEI, 通讯录, Umeng. A finding holds ids
// (pi:device_id_hw->ulogs.umeng.com, sdk umeng_analytics), so the catalogue's names of the PI
// categories and SDKs a finding is about, in both languages, and their aliases (the words
// policy_patterns.yaml knows them by in policy text) join its searchable text.

// Terms returns the words a finding is found by beyond its own text.
type Terms func(f *findings.Finding) []string

// aliasFile is the part of policy_patterns.yaml that names PI categories and SDKs.
type aliasFile struct {
	PI []struct {
		ID string   `yaml:"id"`
		ZH []string `yaml:"zh"`
		EN []string `yaml:"en"`
	} `yaml:"pi"`
	SDKAliases map[string][]string `yaml:"sdk_aliases"`
}

// maxTermsPerFinding bounds the words one finding adds (its searchable text is bounded too).
const maxTermsPerFinding = 64

// CatalogueTerms names a finding's PI categories (from its subject and its observations' pi
// attribute) and SDKs (the sdk attribute, sdk: subjects and parties, and the SDK owning a host it
// names) with the catalogue's names and aliases.
func CatalogueTerms(cat *rules.Catalogue) Terms {
	var af aliasFile
	// The catalogue validated the file at load; a failure here only loses the aliases.
	_ = yaml.Unmarshal(cat.PolicyPatternsYAML(), &af)
	piWords := map[string][]string{}
	for _, p := range cat.PICategories() {
		piWords[p.ID] = append(piWords[p.ID], p.Name.ZH, p.Name.EN)
	}
	for _, p := range af.PI {
		piWords[p.ID] = append(piWords[p.ID], append(p.ZH, p.EN...)...)
	}
	sdkWords := func(id string) []string {
		s, ok := cat.SDK(id)
		if !ok {
			return nil
		}
		return append([]string{s.Name.ZH, s.Name.EN, s.Vendor}, af.SDKAliases[id]...)
	}
	return func(f *findings.Finding) []string {
		var out []string
		seen := map[string]bool{}
		add := func(ws ...string) {
			for _, w := range ws {
				if w != "" && !seen[w] && len(out) < maxTermsPerFinding {
					seen[w] = true
					out = append(out, w)
				}
			}
		}
		pis, sdks, hosts := subjectIDs(f.Subject)
		for _, o := range f.Observations {
			if l, ok := o.Attributes["pi"].([]any); ok {
				for _, x := range l {
					if s, ok := x.(string); ok {
						pis = append(pis, s)
					}
				}
			}
			for _, k := range []string{"sdk", "read_party", "party"} {
				if s, ok := o.Attributes[k].(string); ok {
					sdks = append(sdks, strings.TrimPrefix(s, "sdk:"))
				}
			}
			if h, ok := o.Attributes["host"].(string); ok {
				hosts = append(hosts, h)
			}
		}
		for _, h := range hosts {
			if s, ok := cat.SDKForHost(h); ok {
				sdks = append(sdks, s.ID)
			}
		}
		for _, p := range pis {
			add(piWords[p]...)
		}
		for _, s := range sdks {
			add(sdkWords(s)...)
		}
		return out
	}
}

// subjectIDs reads the PI ids, SDK ids and host of a subject in the finding_subject grammar
// (findings.Describe reads the same).
func subjectIDs(subject string) (pis, sdks, hosts []string) {
	kind, rest, ok := strings.Cut(subject, ":")
	if !ok {
		return nil, nil, nil
	}
	switch kind {
	case "pi", "runtime":
		list, tail := rest, ""
		if i := strings.IndexAny(rest, "@-"); i >= 0 {
			list, tail = rest[:i], rest[i:]
		}
		pis = strings.Split(list, "+")
		switch {
		case strings.HasPrefix(tail, "->"):
			hosts = append(hosts, tail[2:])
		case strings.HasPrefix(tail, "@sdk:"):
			sdks = append(sdks, tail[5:])
		}
	case "api", "runfreq":
		if _, party, ok := strings.Cut(rest, "@sdk:"); ok {
			sdks = append(sdks, party)
		}
	case "sdk":
		sdks = append(sdks, rest)
	case "host", "tracker":
		hosts = append(hosts, rest)
	}
	return pis, sdks, hosts
}
