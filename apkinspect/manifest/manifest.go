// Package manifest reads AndroidManifest.xml (binary XML) with its own tolerant decoder, which
// follows the device's parser, cross-checked by github.com/shogo82148/androidbinary behind a
// structural guard; the application label from resources.arsc through androidbinary; all behind
// size bounds and a recover. It computes what Android would: effective exported state of
// components, usesCleartextTraffic by targetSdk, full component class names.
package manifest

import (
	"bytes"
	"encoding/xml"
	"errors"
	"fmt"
	"io"
	"slices"
	"sort"
	"strconv"
	"strings"

	"github.com/shogo82148/androidbinary"
)

// Size bounds: real manifests are far below 1 MiB, real resource tables below 32 MiB.
const (
	MaxManifestSize = 8 << 20
	MaxTableSize    = 64 << 20
	maxDepth        = 64
	maxElements     = 200000
)

// Manifest is what an APK's manifest declares.
type Manifest struct {
	Package     string `json:"package"`
	VersionCode string `json:"version_code,omitempty"`
	VersionName string `json:"version_name,omitempty"`
	MinSDK      int    `json:"min_sdk,omitempty"`
	TargetSDK   int    `json:"target_sdk,omitempty"`
	// Label is the application label, zh locales first; Labels has every locale found.
	Label             string           `json:"label,omitempty"`
	Labels            []Label          `json:"labels,omitempty"`
	Permissions       []UsesPermission `json:"permissions,omitempty"`
	CustomPermissions []Permission     `json:"custom_permissions,omitempty"`
	Components        []Component      `json:"components,omitempty"`
	// Application and AppComponentFactory are the classes named by <application android:name>
	// and android:appComponentFactory: Android instantiates them before any component.
	Application         string     `json:"application,omitempty"`
	AppComponentFactory string     `json:"app_component_factory,omitempty"`
	MetaData            []MetaData `json:"meta_data,omitempty"`
	// Flags: effective values, and whether the attribute was written.
	AllowBackup           bool   `json:"allow_backup"`
	Debuggable            bool   `json:"debuggable"`
	CleartextTraffic      bool   `json:"cleartext_traffic"`
	CleartextExplicit     bool   `json:"cleartext_explicit"`
	NetworkSecurityConfig string `json:"network_security_config,omitempty"`
	// UserCATrusted: user-installed CA certificates are trusted for some destination. Parse sets
	// the platform default for the targetSdk; ApplyNetworkSecurityConfig the file's effect.
	UserCATrusted bool `json:"user_ca_trusted"`
	// NSC is the parsed network security config, once applied.
	NSC *NetworkSecurityConfig `json:"nsc,omitempty"`
	// Problems are non-fatal oddities (unresolved references, invalid exported defaults).
	Problems []string `json:"problems,omitempty"`
}

// Label is the application label in one locale ("" is the default).
type Label struct {
	Locale string `json:"locale"`
	Text   string `json:"text"`
}

// UsesPermission is one uses-permission or uses-permission-sdk-23 element.
type UsesPermission struct {
	Name    string `json:"name"`
	MaxSDK  int    `json:"max_sdk,omitempty"`
	Element string `json:"element"`
}

// Permission is a permission the app defines.
type Permission struct {
	Name            string `json:"name"`
	ProtectionLevel string `json:"protection_level,omitempty"`
}

// Component is an activity, activity-alias, service, receiver or provider.
type Component struct {
	Type       string   `json:"type"` // activity | service | receiver | provider (aliases are activities)
	Name       string   `json:"name"`
	Exported   bool     `json:"exported"`
	Explicit   bool     `json:"exported_explicit"`
	Permission string   `json:"permission,omitempty"`
	Actions    []string `json:"actions,omitempty"`
	// Categories are the intent-filter categories (MAIN + LAUNCHER marks the launcher activity).
	Categories []string `json:"categories,omitempty"`
	// Target is, for an activity-alias, the activity it starts (android:targetActivity).
	Target  string `json:"target,omitempty"`
	Enabled bool   `json:"enabled"`
}

// MetaData is a meta-data element and where it sits ("application" or a component name).
type MetaData struct {
	Name  string `json:"name"`
	Value string `json:"value,omitempty"`
	Scope string `json:"scope"`
}

// Parse reads the binary manifest and, when arsc is not nil, resolves labels and references
// from resources.arsc. A broken resource table is a Problem, not an error.
//
// The manifest is read twice: by the tolerant decoder (axml.go), whose reading is the one
// reported, and by androidbinary as a cross-check. The tolerant decoder leads because it reads
// the file as the device does (attributes by resource id, the first string pool, typed values),
// so on a manifest built to show parsers something else its reading is what the phone installs;
// on every sample where both read the file they agree field for field (TestDecodersAgree: the
// shared corpus and every APK under androguard's examples, 342 manifests). When androidbinary
// fails or reads the facts a finding rests on differently, a Problem says so: the manifest was
// built to mislead parsers. When the tolerant decoder refuses a file, which the device refuses
// too, androidbinary's reading is kept, with a Problem.
func Parse(axml, arsc []byte) (m *Manifest, err error) {
	defer func() {
		if p := recover(); p != nil {
			m, err = nil, fmt.Errorf("AndroidManifest.xml: parser panicked: %v", p)
		}
	}()
	if len(axml) > MaxManifestSize {
		return nil, fmt.Errorf("AndroidManifest.xml: %d bytes > %d", len(axml), MaxManifestSize)
	}
	var res *resources
	var resProblem string
	if arsc != nil {
		res, err = loadResources(arsc)
		if err != nil {
			resProblem = "resources.arsc: " + err.Error()
			res = nil
		}
	}
	tm, terr := parseTolerant(axml, res)
	bm, berr := parseAndroidbinary(axml, res)
	switch {
	case terr == nil:
		m = tm
		if berr != nil {
			m.Problems = append(m.Problems, fmt.Sprintf("androidbinary cannot read AndroidManifest.xml (%v); read with the tolerant decoder", berr))
		} else if d := disagreement(tm, bm); d != "" {
			m.Problems = append(m.Problems, "androidbinary reads AndroidManifest.xml differently (first the device's reading, then androidbinary's: "+d+"); reported as the device reads it")
		}
	case berr == nil:
		m = bm
		m.Problems = append(m.Problems, fmt.Sprintf("tolerant decoder: %v (the device refuses such a file); read with androidbinary", terr))
	default:
		return nil, fmt.Errorf("AndroidManifest.xml: %v", terr)
	}
	if resProblem != "" {
		m.Problems = append([]string{resProblem}, m.Problems...)
	}
	return m, nil
}

// parseAndroidbinary reads the manifest with androidbinary behind the structural guard.
func parseAndroidbinary(axml []byte, res *resources) (*Manifest, error) {
	if err := validateXML(axml); err != nil {
		return nil, fmt.Errorf("malformed binary XML: %v", err)
	}
	xf, err := androidbinary.NewXMLFile(bytes.NewReader(axml))
	if err != nil {
		return nil, err
	}
	evs, err := xmlEvents(xf.Reader())
	if err != nil {
		return nil, err
	}
	m := &Manifest{}
	if err := m.decode(evs, res); err != nil {
		return nil, err
	}
	return m, nil
}

// parseTolerant reads the manifest with the tolerant decoder; the oddities it met are Problems.
func parseTolerant(axml []byte, res *resources) (*Manifest, error) {
	doc, err := decodeAXML(axml)
	if err != nil {
		return nil, fmt.Errorf("malformed binary XML: %v", err)
	}
	m := &Manifest{}
	if err := m.decode(doc.Events, res); err != nil {
		if doc.Truncated != "" {
			return nil, fmt.Errorf("malformed binary XML: %s", doc.Truncated)
		}
		return nil, err
	}
	for _, n := range doc.Notes {
		m.Problems = append(m.Problems, "AndroidManifest.xml: "+n)
	}
	if doc.Truncated != "" {
		m.Problems = append(m.Problems, "AndroidManifest.xml: decoding stopped "+doc.Truncated+" (the device refuses such a file); what precedes it is reported")
	}
	return m, nil
}

// xmlEvents turns androidbinary's textual rendering into the tolerant decoder's events. On a
// repeated local name the namespaced attribute wins.
func xmlEvents(r io.Reader) ([]axmlEvent, error) {
	dec := xml.NewDecoder(r)
	dec.Strict = false
	var evs []axmlEvent
	for {
		tok, err := dec.Token()
		if err == io.EOF {
			return evs, nil
		}
		if err != nil {
			return nil, fmt.Errorf("decoding XML: %v", err)
		}
		switch t := tok.(type) {
		case xml.StartElement:
			if len(evs) > 2*maxElements {
				return nil, errors.New("too many elements")
			}
			ev := axmlEvent{Start: true, Name: t.Name.Local}
			for _, at := range t.Attr {
				if at.Name.Space == "xmlns" || at.Name.Local == "xmlns" {
					continue
				}
				rank := 1
				if at.Name.Space != "" {
					rank = 2
				}
				ev.Attrs = append(ev.Attrs, axmlAttr{Key: at.Name.Local, NS: at.Name.Space, Name: at.Name.Local, Value: at.Value, rank: rank})
			}
			evs = append(evs, ev)
		case xml.EndElement:
			evs = append(evs, axmlEvent{End: true, Name: t.Name.Local})
		}
	}
}

type resources struct {
	t       *androidbinary.TableFile
	locales []string
}

func loadResources(b []byte) (r *resources, err error) {
	if len(b) > MaxTableSize {
		return nil, fmt.Errorf("%d bytes > %d", len(b), MaxTableSize)
	}
	locs, err := validateTable(b)
	if err != nil {
		return nil, fmt.Errorf("malformed: %v", err)
	}
	t, err := androidbinary.NewTableFile(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	r = &resources{t: t}
	for l := range locs {
		r.locales = append(r.locales, l)
	}
	sort.Slice(r.locales, func(i, j int) bool { return localeLess(r.locales[i], r.locales[j]) })
	return r, nil
}

// localeLess orders zh-CN, zh, other zh, en…, then the rest alphabetically.
func localeLess(a, b string) bool {
	rank := func(l string) int {
		switch {
		case l == "zh-CN":
			return 0
		case l == "zh":
			return 1
		case strings.HasPrefix(l, "zh"):
			return 2
		case l == "":
			return 3
		case strings.HasPrefix(l, "en"):
			return 4
		}
		return 5
	}
	if ra, rb := rank(a), rank(b); ra != rb {
		return ra < rb
	}
	return a < b
}

// resolve returns the string value of an "@0x7f…" reference in the given locale ("" default).
func (r *resources) resolve(ref, locale string) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = "", false
		}
	}()
	if r == nil || !strings.HasPrefix(ref, "@0x") {
		return "", false
	}
	id, err := strconv.ParseUint(ref[3:], 16, 32)
	if err != nil {
		return "", false
	}
	cfg := &androidbinary.ResTableConfig{}
	if locale != "" {
		copy(cfg.Language[:], locale[:2])
		if len(locale) == 5 {
			copy(cfg.Country[:], locale[3:])
		}
	}
	for hop := 0; hop < 4; hop++ {
		v, err := r.t.GetResource(androidbinary.ResID(id), cfg)
		if err != nil {
			return "", false
		}
		switch v := v.(type) {
		case string:
			return v, true
		case bool:
			return strconv.FormatBool(v), true
		case uint32:
			// Either an integer or a reference to another resource of the app's package.
			if uint64(v>>24) == id>>24 && v>>24 != 0 {
				id = uint64(v)
				continue
			}
			return strconv.FormatUint(uint64(v), 10), true
		}
		return "", false
	}
	return "", false
}

type attrs map[string]string

func (m *Manifest) decode(evs []axmlEvent, res *resources) error {
	var stack []string
	var comp *Component
	var inFilter bool
	elements := 0
	app := attrs(nil)
	type pending struct {
		c         Component
		hasFilter bool
		explicit  string
	}
	var comps []pending
	for _, t := range evs {
		switch {
		case t.Start:
			elements++
			if elements > maxElements || len(stack) >= maxDepth {
				return errors.New("too many or too deeply nested elements")
			}
			stack = append(stack, t.Name)
			a := attrs{}
			rank := map[string]int{}
			for _, at := range t.Attrs {
				if r, dup := rank[at.Key]; !dup || at.rank > r {
					a[at.Key], rank[at.Key] = at.Value, at.rank
				}
			}
			path := strings.Join(stack, "/")
			switch path {
			case "manifest":
				m.Package = a["package"]
				m.VersionCode = m.str(a["versionCode"], res)
				m.VersionName = m.str(a["versionName"], res)
			case "manifest/uses-sdk":
				m.MinSDK = m.int(a["minSdkVersion"], res)
				m.TargetSDK = m.int(a["targetSdkVersion"], res)
			case "manifest/uses-permission", "manifest/uses-permission-sdk-23", "manifest/uses-permission-sdk-m":
				el := t.Name
				if el == "uses-permission-sdk-m" {
					el = "uses-permission-sdk-23"
				}
				if n := m.str(a["name"], res); n != "" {
					m.Permissions = append(m.Permissions, UsesPermission{Name: n, MaxSDK: m.int(a["maxSdkVersion"], res), Element: el})
				}
			case "manifest/permission":
				m.CustomPermissions = append(m.CustomPermissions, Permission{Name: m.str(a["name"], res), ProtectionLevel: protection(a["protectionLevel"])})
			case "manifest/application":
				app = a
				for k, v := range a {
					if k == "label" || k == "networkSecurityConfig" {
						continue
					}
					a[k] = m.str(v, res)
				}
			case "manifest/application/activity", "manifest/application/activity-alias", "manifest/application/service",
				"manifest/application/receiver", "manifest/application/provider":
				typ := t.Name
				if typ == "activity-alias" {
					typ = "activity"
				}
				comps = append(comps, pending{c: Component{Type: typ, Name: m.className(m.str(a["name"], res)),
					Permission: m.str(a["permission"], res), Enabled: m.str(a["enabled"], res) != "false"}, explicit: m.str(a["exported"], res)})
				if t.Name == "activity-alias" {
					comps[len(comps)-1].c.Target = m.className(m.str(a["targetActivity"], res))
				}
				comp = &comps[len(comps)-1].c
			case "manifest/application/meta-data":
				m.MetaData = append(m.MetaData, MetaData{Name: m.str(a["name"], res), Value: m.str(firstOf(a["value"], a["resource"]), res), Scope: "application"})
			}
			if len(stack) == 4 && comp != nil {
				switch t.Name {
				case "intent-filter":
					inFilter = true
					comps[len(comps)-1].hasFilter = true
				case "meta-data":
					m.MetaData = append(m.MetaData, MetaData{Name: m.str(a["name"], res), Value: m.str(firstOf(a["value"], a["resource"]), res), Scope: comp.Name})
				}
			}
			if len(stack) == 5 && inFilter && t.Name == "action" && comp != nil {
				if n := m.str(a["name"], res); n != "" {
					comp.Actions = append(comp.Actions, n)
				}
			}
			if len(stack) == 5 && inFilter && t.Name == "category" && comp != nil {
				if n := m.str(a["name"], res); n != "" && !slices.Contains(comp.Categories, n) {
					comp.Categories = append(comp.Categories, n)
				}
			}
		case t.End:
			if len(stack) == 0 {
				continue
			}
			if len(stack) == 4 && stack[3] == "intent-filter" {
				inFilter = false
			}
			if len(stack) == 3 && stack[1] == "application" {
				comp = nil
			}
			stack = stack[:len(stack)-1]
		}
	}
	if m.Package == "" {
		return errors.New("no <manifest package>")
	}
	sdk := m.TargetSDK
	if sdk == 0 {
		sdk = m.MinSDK
	}
	if sdk == 0 {
		sdk = 1
	}
	for _, p := range comps {
		c := p.c
		switch {
		case p.explicit == "true" || p.explicit == "false":
			c.Exported, c.Explicit = p.explicit == "true", true
		case c.Type == "provider":
			// Providers were exported by default until API 17.
			c.Exported = sdk < 17
		case p.hasFilter && sdk >= 31:
			// Android 12+ refuses to install this; what would run is nothing. Report it unexported.
			m.Problems = append(m.Problems, fmt.Sprintf("%s %s has an intent-filter but no android:exported (required from targetSdk 31)", c.Type, c.Name))
		default:
			c.Exported = p.hasFilter
		}
		m.Components = append(m.Components, c)
	}
	m.AllowBackup, m.Debuggable = true, false
	m.UserCATrusted = sdk <= 23
	if app != nil {
		if v := app["allowBackup"]; v == "false" {
			m.AllowBackup = false
		}
		m.Debuggable = app["debuggable"] == "true"
		m.CleartextTraffic = sdk < 28
		if v := app["usesCleartextTraffic"]; v == "true" || v == "false" {
			m.CleartextTraffic, m.CleartextExplicit = v == "true", true
		}
		if v := app["networkSecurityConfig"]; v != "" {
			if s, ok := res.resolve(v, ""); ok {
				v = s
			}
			m.NetworkSecurityConfig = v
		}
		m.labels(app["label"], res)
		m.Application = m.className(app["name"])
		m.AppComponentFactory = m.className(app["appComponentFactory"])
	}
	return nil
}

// EffectiveTargetSDK is the targetSdkVersion Android applies: the minSdkVersion when no target
// is given, 1 when neither is.
func (m *Manifest) EffectiveTargetSDK() int {
	switch {
	case m.TargetSDK > 0:
		return m.TargetSDK
	case m.MinSDK > 0:
		return m.MinSDK
	}
	return 1
}

// ApplyNetworkSecurityConfig records n and sets CleartextTraffic and UserCATrusted to its effect:
// from Android 7 on, a network security config replaces android:usesCleartextTraffic.
func (m *Manifest) ApplyNetworkSecurityConfig(n *NetworkSecurityConfig) {
	m.NSC = n
	m.CleartextTraffic, m.UserCATrusted = n.Effective(m.EffectiveTargetSDK(), m.Debuggable)
}

func firstOf(a ...string) string {
	for _, s := range a {
		if s != "" {
			return s
		}
	}
	return ""
}

func (m *Manifest) labels(raw string, res *resources) {
	if raw == "" {
		return
	}
	if !strings.HasPrefix(raw, "@0x") {
		m.Label = raw
		m.Labels = []Label{{Locale: "", Text: raw}}
		return
	}
	if res == nil {
		m.Problems = append(m.Problems, "application label "+raw+" unresolved: no resource table")
		return
	}
	locales := append([]string{""}, res.locales...)
	sort.SliceStable(locales, func(i, j int) bool { return localeLess(locales[i], locales[j]) })
	seen := map[string]bool{}
	var def string
	for _, l := range locales {
		s, ok := res.resolve(raw, l)
		if !ok || s == "" {
			continue
		}
		if l == "" {
			def = s
		}
		key := l + "\x00" + s
		if seen[key] {
			continue
		}
		seen[key] = true
		m.Labels = append(m.Labels, Label{Locale: l, Text: s})
	}
	// A locale that falls back to the default adds nothing: keep it only when it differs.
	kept := m.Labels[:0]
	for _, lb := range m.Labels {
		if lb.Locale == "" || lb.Text != def {
			kept = append(kept, lb)
		}
	}
	m.Labels = kept
	if len(m.Labels) > 0 {
		m.Label = m.Labels[0].Text
	}
}

// str resolves an attribute value: references through the resource table when possible.
func (m *Manifest) str(v string, res *resources) string {
	if strings.HasPrefix(v, "@0x") && res != nil {
		if s, ok := res.resolve(v, ""); ok {
			return s
		}
	}
	return v
}

func (m *Manifest) int(v string, res *resources) int {
	v = m.str(v, res)
	if v == "" {
		return 0
	}
	n, err := strconv.ParseInt(v, 0, 64)
	if err != nil || n < 0 || n > 1<<31-1 {
		// Codenames ("P") and unresolved references: not a number.
		return 0
	}
	return int(n)
}

// className expands ".Foo" and "Foo" (no dot) against the package, as PackageParser does.
func (m *Manifest) className(n string) string {
	switch {
	case n == "":
		return ""
	case strings.HasPrefix(n, "."):
		return m.Package + n
	case !strings.Contains(n, "."):
		return m.Package + "." + n
	}
	return n
}

// protection renders android:protectionLevel flags the way the SDK names them.
func protection(v string) string {
	n, err := strconv.ParseUint(strings.TrimPrefix(v, "0x"), 16, 32)
	if !strings.HasPrefix(v, "0x") || err != nil {
		return v
	}
	base := []string{"normal", "dangerous", "signature", "signatureOrSystem"}
	s := "unknown"
	if int(n&0xf) < len(base) {
		s = base[n&0xf]
	}
	return s
}
