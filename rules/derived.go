package rules

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// derivedExtension is one "extensions" item of sdks_derived.yaml with its node, kept for the
// checks that run once the indexes are built.
type derivedExtension struct {
	ext  SDKExtension
	node *yaml.Node
}

// loadDerived reads sdks_derived.yaml: its SDK entries join the catalogue after the hand-written
// ones, its extensions add class prefixes, manifest keys and source names to hand-written
// entries. Derived data never replaces a hand-written field: a prefix or key another entry already
// lists is a load error (the generator leaves such a prefix out and says so).
func (l *loader) loadDerived(c *Catalogue, data []byte) {
	const f = FileSDKsDerived
	items := l.parseFileKeys(f, []string{"sdks", "extensions"}, data)
	exts := decodeItems[SDKExtension](l, f, items["extensions"])
	extNodes := l.nodes[f]
	sdks := decodeItems[SDK](l, f, items["sdks"])
	handByID := make(map[string]int, len(c.sdks))
	for i, d := range c.sdks {
		setFirst(handByID, d.ID, i)
	}
	for j, e := range exts {
		n := extNodes[j]
		i, ok := handByID[e.SDK]
		if !ok {
			l.add(f, at(n, "sdk"), "extension names SDK %q, which is not in %s", e.SDK, FileSDKs)
			continue
		}
		if e.Examples == nil && len(e.ClassPrefixes)+len(e.ManifestKeys) > 0 {
			l.add(f, at(n, "examples"), "extension of %s adds class prefixes or manifest keys without examples", e.SDK)
		}
		d := c.sdks[i]
		d.ClassPrefixes = appendAllNew(slices.Clone(d.ClassPrefixes), e.ClassPrefixes)
		d.ManifestKeys = appendAllNew(slices.Clone(d.ManifestKeys), e.ManifestKeys)
		d.Exodus = appendAllNew(slices.Clone(d.Exodus), e.Exodus)
		d.Camille = appendAllNew(slices.Clone(d.Camille), e.Camille)
		if len(d.Sources) == 0 {
			d.Sources = []string{OriginCatalogue}
		}
		d.Sources = appendAllNew(slices.Clone(d.Sources), e.Sources)
		c.sdks[i] = d
		c.extensions = append(c.extensions, derivedExtension{e, n})
	}
	c.derivedStart = len(c.sdks)
	c.sdks = append(c.sdks, sdks...)
}

func appendAllNew(s, add []string) []string {
	for _, v := range add {
		s = appendNew(s, v)
	}
	return s
}

// validateDerivedExtensions checks each extension's examples against the built indexes, as
// sdkExamples does for an entry.
func (l *loader) validateDerivedExtensions(c *Catalogue) {
	const f = FileSDKsDerived
	for _, x := range c.extensions {
		e, n := x.ext, x.node
		i, ok := c.sdkByID[e.SDK]
		if !ok {
			continue // reported by loadDerived
		}
		for j, p := range e.ClassPrefixes {
			if !javaPrefixRe.MatchString(p) || !strings.Contains(p, ".") {
				l.add(f, at(n, "class_prefixes", j), "extension of %s: class prefix %q is not a dotted Java name", e.SDK, p)
			}
		}
		if e.Examples == nil {
			continue
		}
		d := c.sdks[i]
		d.Examples = e.Examples
		l.sdkExamples(c, f, n, d)
	}
}
