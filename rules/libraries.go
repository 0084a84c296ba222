package rules

import (
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// FileLibraries is the catalogue of platform, language, open-source and runtime libraries bundled
// into apps: code that is neither the operator's own nor a third-party SDK's.
const FileLibraries = "libraries.yaml"

// LibraryKinds are the kinds a libraries.yaml entry may have.
var LibraryKinds = []string{"platform", "language", "open_source", "runtime", "hotfix"}

// Library is one entry of libraries.yaml.
type Library struct {
	ID   string `yaml:"id" json:"id"`
	Name string `yaml:"name" json:"name"`
	// Kind is one of LibraryKinds.
	Kind string `yaml:"kind" json:"kind"`
	// ClassPrefixes match on package boundaries, like SDK.ClassPrefixes.
	ClassPrefixes []string `yaml:"class_prefixes" json:"class_prefixes"`
	// Source says where the prefixes come from: libchecker:<rule id>, maven:<group>, url:<project>.
	Source string `yaml:"source" json:"source"`
	// Verification says which prefixes were seen on a sample and which rest on the source alone.
	Verification string           `yaml:"verification" json:"verification"`
	Notes        string           `yaml:"notes,omitempty" json:"notes,omitempty"`
	Examples     *LibraryExamples `yaml:"examples" json:"examples"`
}

// LibraryExamples are class names the class matcher must attribute to a library (Positive) and
// look-alikes it must not (Negative).
type LibraryExamples struct {
	Positive []string `yaml:"positive" json:"positive"`
	Negative []string `yaml:"negative" json:"negative"`
}

// Owner is who a class belongs to by the catalogue's class prefixes: an SDK, a library, or neither
// (Kind ""). Prefix is the prefix that decided it.
type Owner struct {
	Kind   string // "sdk" | "library" | ""
	ID     string
	Prefix string
}

// Party renders the owner as the apk.sensitive_api party value ("sdk:<id>", "library:<id>"), or "".
func (o Owner) Party() string {
	if o.Kind == "" {
		return ""
	}
	return o.Kind + ":" + o.ID
}

// Libraries returns the entries of libraries.yaml, in file order.
func (c *Catalogue) Libraries() []Library { return slices.Clone(c.libraries) }

// Library returns the library with the given id: an entry of libraries.yaml, or an SDK entry of
// kind "library" (an open-source library a derived SDK list names, e.g. camille's), seen as one.
func (c *Catalogue) Library(id string) (Library, bool) {
	for _, l := range c.libraries {
		if l.ID == id {
			return l, true
		}
	}
	if s, ok := c.SDK(id); ok && s.Kind == SDKKindLibrary {
		return sdkAsLibrary(s), true
	}
	return Library{}, false
}

// SDKKindLibrary is the SDK kind of an open-source library a derived list names among SDKs. Its
// classes are a library's (ClassOwner), never a vendor's SDK collecting for itself.
const SDKKindLibrary = "library"

// sdkAsLibrary is an SDK entry of kind library seen as a library.
func sdkAsLibrary(s SDK) Library {
	name := s.Name.ZH
	if s.Name.EN != "" {
		name = s.Name.EN
	}
	return Library{ID: s.ID, Name: name, Kind: "open_source", ClassPrefixes: slices.Clone(s.ClassPrefixes),
		Source: "sdk catalogue entry of kind library (" + s.Origin + ")", Verification: s.Verification}
}

// LibraryForClass returns the library whose class prefix is the longest one containing the class on
// a package boundary, ignoring SDK prefixes (ClassOwner weighs both).
func (c *Catalogue) LibraryForClass(javaDottedClass string) (Library, bool) {
	name := javaDottedClass
	for name != "" {
		if i, ok := c.libByPrefix[name]; ok {
			return c.libraries[i], true
		}
		j := strings.LastIndexByte(name, '.')
		if j < 0 {
			break
		}
		name = name[:j]
	}
	return Library{}, false
}

// ClassOwner names the catalogued owner of a class: the SDK or library whose class prefix is the
// longest one containing the class. A shared sub-package an SDK's prefix covers (the advertising-ID
// client com.google.android.gms.ads.identifier under AdMob's com.google.android.gms.ads) is the
// library's when libraries.yaml lists it. On a prefix both list the library wins: sdks.yaml may not
// list one (a load error), and an imported or derived SDK list that does names a library there.
// The cost is two map lookups per package level.
func (c *Catalogue) ClassOwner(javaDottedClass string) Owner {
	name := javaDottedClass
	for name != "" {
		if i, ok := c.libByPrefix[name]; ok {
			return Owner{Kind: "library", ID: c.libraries[i].ID, Prefix: name}
		}
		if i, ok := c.sdkByPrefix[name]; ok {
			if c.sdks[i].Kind == SDKKindLibrary {
				return Owner{Kind: "library", ID: c.sdks[i].ID, Prefix: name}
			}
			return Owner{Kind: "sdk", ID: c.sdks[i].ID, Prefix: name}
		}
		j := strings.LastIndexByte(name, '.')
		if j < 0 {
			break
		}
		name = name[:j]
	}
	return Owner{}
}

// buildLibraryIndex fills libByPrefix; a prefix listed twice names the first entry (validation
// rejects it).
func (c *Catalogue) buildLibraryIndex() {
	c.libByPrefix = map[string]int{}
	for i, l := range c.libraries {
		for _, p := range l.ClassPrefixes {
			setFirst(c.libByPrefix, p, i)
		}
	}
}

// validLibraryPrefix reports whether p is a dotted Java package or class name.
func validLibraryPrefix(p string) bool {
	if p == "" || len(p) > 256 {
		return false
	}
	for _, label := range strings.Split(p, ".") {
		if label == "" {
			return false
		}
		for i, r := range label {
			ok := r == '_' || r == '$' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9'
			if !ok {
				return false
			}
		}
	}
	return true
}

func (l *loader) validateLibraries(c *Catalogue) {
	const f = FileLibraries
	ids := map[string]int{}
	owner := map[string]string{}
	for i, lib := range c.libraries {
		n := l.nodes[f][i]
		l.unique(f, n, "id", lib.ID, ids)
		who := "library " + lib.ID
		if strings.TrimSpace(lib.Name) == "" || strings.TrimSpace(lib.Source) == "" || strings.TrimSpace(lib.Verification) == "" {
			l.add(f, n, "%s: name, source and verification are required", who)
		}
		l.oneOf(f, n, "kind", lib.Kind, LibraryKinds)
		if len(lib.ClassPrefixes) == 0 {
			l.add(f, at(n, "class_prefixes"), "%s: needs class_prefixes", who)
		}
		for j, p := range lib.ClassPrefixes {
			pn := at(n, "class_prefixes", j)
			if !validLibraryPrefix(p) {
				l.add(f, pn, "%s: class prefix %q is not a dotted Java name", who, p)
				continue
			}
			if prev, dup := owner[p]; dup {
				l.add(f, pn, "%s: class prefix %s already belongs to library %s", who, p, prev)
				continue
			}
			owner[p] = lib.ID
			// A prefix sdks.yaml also lists would make the owner of its classes a matter of load
			// order; the reviewed catalogues must say which it is.
			if si, ok := c.sdkByPrefix[p]; ok && c.sdks[si].Origin == OriginCatalogue {
				l.add(f, pn, "%s: class prefix %s is also SDK %s's in %s; list it in one of them", who, p, c.sdks[si].ID, FileSDKs)
			}
		}
		l.libraryExamples(c, f, n, lib)
	}
	// An SDK's own examples must still be the SDK's once libraries take their longer prefixes.
	for i, d := range c.sdks {
		if d.Origin != OriginCatalogue || d.Examples == nil || i >= len(l.nodes[FileSDKs]) {
			continue
		}
		for _, cls := range d.Examples.Positive.Classes {
			if o := c.ClassOwner(cls); o.Kind == "library" {
				l.add(FileSDKs, at(l.nodes[FileSDKs][i], "examples"), "SDK %s: example class %q is library %s's (prefix %s in %s)", d.ID, cls, o.ID, o.Prefix, FileLibraries)
			}
		}
	}
}

// libraryExamples checks that an entry has true and false positives and that ClassOwner agrees.
func (l *loader) libraryExamples(c *Catalogue, f string, n *yaml.Node, lib Library) {
	ex := lib.Examples
	if ex == nil || len(ex.Positive) == 0 || len(ex.Negative) == 0 {
		l.add(f, at(n, "examples"), "library %s: needs examples with at least one positive and one negative class name", lib.ID)
		return
	}
	en := at(n, "examples")
	for _, cls := range ex.Positive {
		if o := c.ClassOwner(cls); o.Kind != "library" || o.ID != lib.ID {
			l.add(f, en, "library %s: example class %q must be attributed to it (the catalogue names %q)", lib.ID, cls, o.Party())
		}
	}
	for _, cls := range ex.Negative {
		if o := c.ClassOwner(cls); o.Kind == "library" && o.ID == lib.ID {
			l.add(f, en, "library %s: example class %q must not be attributed to it", lib.ID, cls)
		}
	}
}
