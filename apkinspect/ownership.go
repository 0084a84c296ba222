package apkinspect

import (
	"sort"
	"strconv"
	"strings"

	"pilmon/apkinspect/manifest"
	"pilmon/rules"
)

// Parties of a class (the apk.sensitive_api party attribute) besides "sdk:<id>" and "library:<id>".
const (
	// PartyApp is the operator's own code.
	PartyApp = "app"
	// PartyUnidentified is code outside the app's packages that no catalogue names: a third party
	// nobody catalogued (or obfuscated code whose package says nothing), never the operator's own
	// by default.
	PartyUnidentified = "unidentified"
)

// ClassParty is whose code one class is. SDK and Library carry the catalogue id of Party's owner
// (at most one of them is set).
type ClassParty struct {
	Party   string
	SDK     string
	Library string
}

// ownership decides whose code every class of one APK is. It is the one place that rule lives:
// the apk.sensitive_api party, the per-SDK class counts behind apk.sdk and the component sdk
// attribute all ask it.
type ownership struct {
	cat *rules.Catalogue
	// appPkgs are the app's own packages, longest first (for tests and reports); appSet holds the
	// same, looked up per package level of a class so that a manifest with many components costs
	// no more per class than one with few.
	appPkgs []string
	appSet  map[string]bool
}

// newOwnership derives the app's own packages from the manifest: the manifest package, the
// package of the Application class and the packages of the components, each unless a catalogue
// prefix claims it (an Application class of Tinker, DCloud or MultiDex is not the operator's).
// A component's package counts only when it shares its first two labels with the manifest package
// or the Application's package: the build merges every bundled library's components into the
// manifest, so a component of an uncatalogued library (com.vendor.sdk.PushService) says nothing
// about the operator's code, while a component under the operator's domain (com.shop.core.ui for
// the package com.shop.app) shows code the manifest package does not cover. A one-label package
// (obfuscated "a") never counts: it would claim every class of that name space.
func newOwnership(cat *rules.Catalogue, m *manifest.Manifest) *ownership {
	o := &ownership{cat: cat, appSet: map[string]bool{}}
	if m == nil {
		return o
	}
	add := func(pkg string) {
		if pkg == "" || !strings.Contains(pkg, ".") || o.appSet[pkg] {
			return
		}
		o.appSet[pkg] = true
		o.appPkgs = append(o.appPkgs, pkg)
		sort.Slice(o.appPkgs, func(i, j int) bool {
			if a, b := o.appPkgs[i], o.appPkgs[j]; len(a) != len(b) {
				return len(a) > len(b)
			}
			return o.appPkgs[i] < o.appPkgs[j]
		})
	}
	// A class a catalogue prefix claims (inside the packages found so far) is no evidence of the
	// operator's packages.
	catalogued := func(cls string) bool {
		p := o.of(cls).Party
		return p != PartyApp && p != PartyUnidentified
	}
	add(m.Package)
	domains := []string{orgDomain(m.Package)}
	if m.Application != "" && !catalogued(m.Application) {
		add(javaPackage(m.Application))
		domains = append(domains, orgDomain(javaPackage(m.Application)))
	}
	for _, c := range m.Components {
		if catalogued(c.Name) {
			continue
		}
		pkg := javaPackage(c.Name)
		for _, d := range domains {
			if d != "" && orgDomain(pkg) == d {
				add(pkg)
				break
			}
		}
	}
	return o
}

// of returns whose code the class cls (Java dotted) is. A catalogue prefix inside an app package
// claims its classes (com.tencent.mm.opensdk in the app com.tencent.mm is the WeChat SDK); one that
// is an app package or a parent of it does not (cn.jiguang does not claim the app cn.jiguang.demo).
// Between an SDK prefix and a library prefix the longest wins (rules.Catalogue.ClassOwner).
func (o *ownership) of(cls string) ClassParty {
	app := ""
	for name := cls; name != "" && app == ""; name = javaPackage(name) {
		if o.appSet[name] {
			app = name
		}
	}
	if o.cat != nil {
		if w := o.cat.ClassOwner(cls); w.Kind != "" && (app == "" || len(w.Prefix) > len(app)) {
			cp := ClassParty{Party: w.Party()}
			if w.Kind == "sdk" {
				cp.SDK = w.ID
			} else {
				cp.Library = w.ID
			}
			return cp
		}
	}
	if app != "" {
		return ClassParty{Party: PartyApp}
	}
	return ClassParty{Party: PartyUnidentified}
}

// javaPackage is the package of a dotted class name ("" for the default package).
func javaPackage(cls string) string {
	if i := strings.LastIndexByte(cls, '.'); i > 0 {
		return cls[:i]
	}
	return ""
}

// orgDomain is the first two labels of a package ("com.shop" of "com.shop.app"), "" for fewer.
func orgDomain(pkg string) string {
	first := strings.IndexByte(pkg, '.')
	if first <= 0 {
		return ""
	}
	if second := strings.IndexByte(pkg[first+1:], '.'); second >= 0 {
		return pkg[:first+1+second]
	}
	return pkg
}

// readableClass reports whether a class's simple name looks written by a person (three or more
// characters, an upper-case letter): such names survive obfuscation only on entry classes an SDK
// keeps public, which makes them the distinctive examples apk.sdk lists.
func readableClass(cls string) bool {
	simple := cls[strings.LastIndexByte(cls, '.')+1:]
	if len(simple) < 3 {
		return false
	}
	for _, r := range simple {
		if r >= 'A' && r <= 'Z' {
			return true
		}
	}
	return false
}

// strongClasses is the number of an SDK's own classes that makes its detection strong by
// themselves. The shared helpers an SDK prefix can cover by accident are small (the advertising-ID
// client is 5 classes, a vendor's device-ID helper 1–3), while the public surface an obfuscated
// SDK keeps named (its init and config classes, callbacks, receivers, services, providers) is
// larger than that in every SDK of the shared corpus (TestCorpusPartiesAndStrength lists them).
const strongClasses = 8

// sdkStrength grades an apk.sdk detection. It is strong on strongClasses or more classes under the
// SDK's own prefixes, or on at least one such class corroborated by a signal that is not code
// reachable by a prefix slip: a manifest key, a native library or an asset the SDK ships. It is
// weak when it rests only on manifest keys, domain strings or component names without classes, or
// on a few classes alone.
func sdkStrength(classes int, via map[string]bool) string {
	if classes >= strongClasses {
		return "strong"
	}
	if classes > 0 && (via["manifest_key"] || via["native_lib"] || via["asset_file"]) {
		return "strong"
	}
	return "weak"
}

// sdkSignals lists what fired for an apk.sdk detection: the class count, the readable class names
// kept as examples, then the other markers ("via: name").
func sdkSignals(classes int, examples, markers []string) []string {
	out := []string{"classes: " + strconv.Itoa(classes)}
	for _, e := range examples {
		out = append(out, "class: "+e)
	}
	return append(out, markers...)
}

// Ownership decides whose code a class is by the same rules as the apk.sensitive_api party, for
// inputs that name classes but carry no manifest (the stack frames of a runtime hook log): the app's
// own packages are those of appPackage alone. An empty appPackage claims nothing, so code outside
// the catalogued SDKs and libraries is PartyUnidentified, never PartyApp.
type Ownership struct{ o *ownership }

// ClassOwnership returns the ownership rules for an app of package appPackage; cat may be nil (no
// catalogued SDKs or libraries).
func ClassOwnership(cat *rules.Catalogue, appPackage string) Ownership {
	return Ownership{newOwnership(cat, &manifest.Manifest{Package: appPackage})}
}

// Of returns whose code the class cls (Java dotted, "$" for nested classes) is.
func (w Ownership) Of(cls string) ClassParty { return w.o.of(cls) }
