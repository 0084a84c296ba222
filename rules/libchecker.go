package rules

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path"
	"regexp"
	"slices"
	"sort"
	"strings"
)

// ImportLibChecker parses LibChecker's rule export (the JSON rows of rules.db's rules_table:
// [{name, label, type, isRegexRule, regexName}], as LibChecker-Rules publishes them) into an
// overlay for `pilmon rules import-libchecker`. Two rule types are used:
//
//   - type 5, a dex package prefix ("com.xiaomi.push", or the regex "okhttp3.(.*)"): one overlay
//     SDK per label, id "libchecker-…", origin "libchecker-overlay", with the prefixes no catalogue
//     entry owns and that are not too broad to name one SDK (com.alipay, kotlin, okhttp3 are);
//   - type 0, a native library ("libxguardian.so", or the regex "libjcore(.*)\.so"): a signal
//     (kind lib) of the SDK the label names in the catalogue (its name, or a camille or Exodus
//     name it carries), else of the label's overlay SDK; a library a catalogue signal already
//     matches is left to it.
//
// Other types (components, static libraries) are counted and skipped. The catalogue's entries are
// never changed. LibChecker does not say what a library does: an entry's kind is taken from words
// of its label (推送/Push → push…) and is "library" otherwise, so that an unknown label never
// raises a lead that a policy should have disclosed it. The SQLite rules.db itself is not read
// (that would need a SQLite dependency): export the table as JSON first.
func ImportLibChecker(r io.Reader, existing *Catalogue) (Overlay, LibCheckerStats, error) {
	var st LibCheckerStats
	data, err := readImport(r, "libchecker", MaxLibCheckerBytes)
	if err != nil {
		return Overlay{}, st, err
	}
	if bytes.HasPrefix(data, []byte("SQLite format 3\x00")) {
		return Overlay{}, st, errors.New("libchecker: this is the SQLite rules.db; export its rules_table as JSON (sqlite3 -json rules.db 'select * from rules_table')")
	}
	if err := checkJSONDepth(data, maxExodusDepth); err != nil {
		return Overlay{}, st, fmt.Errorf("libchecker: %w", err)
	}
	var rows []json.RawMessage
	if err := json.Unmarshal(data, &rows); err != nil {
		return Overlay{}, st, fmt.Errorf("libchecker: not a LibChecker rule export (a JSON list of {name, label, type}): %w", err)
	}
	if len(rows) > maxLibCheckerRules {
		return Overlay{}, st, fmt.Errorf("libchecker: %d rules, more than the limit of %d", len(rows), maxLibCheckerRules)
	}
	if existing == nil {
		existing = &Catalogue{}
		existing.buildIndexes()
	}
	warn := func(format string, args ...any) {
		if len(st.Warnings) < maxImportWarnings {
			st.Warnings = append(st.Warnings, fmt.Sprintf(format, args...))
		}
	}
	byName := existing.sdksByName()
	type labelSDK struct {
		sdk   SDK
		order int
	}
	labels := map[string]*labelSDK{}
	usedIDs := map[string]string{} // id → label
	sdkFor := func(label string) *SDK {
		if l, ok := labels[label]; ok {
			return &l.sdk
		}
		id := libCheckerID(label)
		for n := 2; usedIDs[id] != "" && usedIDs[id] != label; n++ {
			id = fmt.Sprintf("%s-%d", libCheckerID(label), n)
		}
		usedIDs[id] = label
		kind := "library"
		for _, k := range camilleKinds {
			if k.re.MatchString(label) {
				kind = k.kind
				break
			}
		}
		labels[label] = &labelSDK{sdk: SDK{
			ID: id, Name: Text{ZH: label, EN: label}, Kind: kind, PI: []string{}, PISource: "none",
			Origin: OriginLibCheckerOverlay, Sources: []string{SourceLibChecker}, VendorSource: "none",
			Verification: "imported from LibChecker's rules (label " + label + "); kind from the label's words, not reviewed (UNVERIFIED)",
		}, order: len(labels)}
		return &labels[label].sdk
	}
	claimedPrefix := map[string]string{}
	var signals []SDKSignal
	claimedLib := map[string]bool{}
	for i, raw := range rows {
		st.Rules++
		var row libCheckerRow
		if err := json.Unmarshal(raw, &row); err != nil {
			st.Skipped++
			warn("rule %d: %v; skipped", i, err)
			continue
		}
		label := cleanText(row.Label, 200)
		name := strings.TrimSpace(row.Name)
		if label == "" || name == "" || len(name) > maxAlternativeLen {
			st.Skipped++
			warn("rule %d: no label or name, or a name longer than %d; skipped", i, maxAlternativeLen)
			continue
		}
		switch row.Type {
		case 5:
			p, ok := libCheckerPrefix(name, row.IsRegexRule != 0)
			if !ok {
				st.Skipped++
				warn("rule %d (%s): %.80q is not a package prefix; skipped", i, label, name)
				continue
			}
			if d, ok := existing.SDKForClass(p); ok {
				st.PrefixesCovered++
				_ = d
				continue
			}
			if why := existing.tooBroad(p); why != "" {
				st.BroadPrefixes++
				warn("rule %d (%s): prefix %s rejected: %s", i, label, p, why)
				continue
			}
			if owner, dup := claimedPrefix[p]; dup {
				if owner != label {
					warn("rule %d (%s): prefix %s already imported for %s", i, label, p, owner)
				}
				continue
			}
			claimedPrefix[p] = label
			d := sdkFor(label)
			d.ClassPrefixes = appendNew(d.ClassPrefixes, p)
			st.Prefixes++
		case 0:
			glob, ok := libCheckerGlob(name, row.IsRegexRule != 0)
			if !ok {
				st.Skipped++
				warn("rule %d (%s): %.80q is not a library file name; skipped", i, label, name)
				continue
			}
			example := strings.ReplaceAll(glob, "*", "1")
			if existing.signalMatches("lib", example) {
				st.LibsCovered++
				continue
			}
			if claimedLib[glob] {
				continue
			}
			claimedLib[glob] = true
			owner := ""
			if id, ok := byName[strings.ToLower(label)]; ok {
				owner = id
			} else {
				owner = sdkFor(label).ID
			}
			signals = append(signals, SDKSignal{SDK: owner, Kind: "lib", Glob: glob, Example: "lib/arm64-v8a/" + example,
				Source: "LibChecker rules: native library " + name + ", label " + label})
			st.NativeLibs++
		default:
			st.OtherTypes++
		}
	}
	ov := Overlay{Version: overlayFileVersion, Source: "libchecker"}
	var order []*labelSDK
	for _, l := range labels {
		order = append(order, l)
	}
	sort.Slice(order, func(i, j int) bool { return order[i].order < order[j].order })
	for _, l := range order {
		d := l.sdk
		if len(d.ClassPrefixes) > 0 {
			d.Examples = prefixExamples(d.ClassPrefixes, nil, nil)
		}
		ov.SDKs = append(ov.SDKs, d)
		st.NewSDKs++
	}
	ov.Signals = signals
	return ov, st, nil
}

// LibCheckerStats summarises a LibChecker import.
type LibCheckerStats struct {
	Rules           int      `json:"rules"`
	NewSDKs         int      `json:"new_sdks"`
	Prefixes        int      `json:"prefixes"`         // type-5 prefixes imported
	PrefixesCovered int      `json:"prefixes_covered"` // type-5 prefixes the catalogue already owns
	BroadPrefixes   int      `json:"broad_prefixes"`   // too broad to name one SDK
	NativeLibs      int      `json:"native_libs"`      // type-0 libraries imported as signals
	LibsCovered     int      `json:"libs_covered"`     // type-0 libraries a catalogue signal matches
	OtherTypes      int      `json:"other_types"`      // component and static-library rules, not used
	Skipped         int      `json:"skipped"`
	Warnings        []string `json:"warnings,omitempty"`
}

type libCheckerRow struct {
	Name        string `json:"name"`
	Label       string `json:"label"`
	Type        int    `json:"type"`
	IsRegexRule int    `json:"isRegexRule"`
}

// Limits on a LibChecker export: it is downloaded by users and may be hostile.
const (
	MaxLibCheckerBytes  = 16 << 20
	maxLibCheckerRules  = 100000
	libCheckerIDPrefix  = "libchecker-"
	maxLibCheckerGlobSz = 128
)

// libCheckerPrefix turns a type-5 name into a package prefix: a plain dotted name, or a regex
// that is one followed by ".(.*)" or ".*".
func libCheckerPrefix(name string, regex bool) (string, bool) {
	p := name
	if regex {
		var ok bool
		for _, suf := range []string{`\.(.*)`, `.(.*)`, `\..*`, `.*`} {
			if q, cut := strings.CutSuffix(p, suf); cut {
				p, ok = q, true
				break
			}
		}
		if !ok {
			return "", false
		}
		p = strings.ReplaceAll(p, `\.`, ".")
	}
	p = strings.TrimSuffix(p, ".")
	return p, javaPrefixRe.MatchString(p)
}

var libFileRe = regexp.MustCompile(`^[A-Za-z0-9_+.\-*]+\.so$`)

// libCheckerGlob turns a type-0 name into a file-name glob: the name itself, or a regex whose only
// operators are "(.*)" / ".*" (→ "*") and escaped dots.
func libCheckerGlob(name string, regex bool) (string, bool) {
	g := name
	if regex {
		g = strings.ReplaceAll(g, `(.*)`, "*")
		g = strings.ReplaceAll(g, `.*`, "*")
		g = strings.ReplaceAll(g, `\.`, "\x00")
		if strings.ContainsAny(g, `.()[]{}?+|\^$`) {
			return "", false // an unescaped dot or another operator
		}
		g = strings.ReplaceAll(g, "\x00", ".")
	} else if strings.Contains(g, "*") {
		return "", false
	}
	if len(g) > maxLibCheckerGlobSz || !libFileRe.MatchString(g) || strings.Count(g, "*") > 2 || strings.Trim(g, "*.so") == "" {
		return "", false
	}
	if _, err := path.Match(g, ""); err != nil {
		return "", false
	}
	return g, true
}

// libCheckerID is "libchecker-" and the label as a slug, or a digest of it for a label without
// Latin letters (腾讯地图 SDK).
func libCheckerID(label string) string {
	s := strings.Trim(idSlugRe.ReplaceAllString(strings.ToLower(label), "-"), "-")
	if !isASCII(label) || s == "" || len(s) > 40 {
		sum := sha256.Sum256([]byte(label))
		s = hex.EncodeToString(sum[:])[:10]
	}
	return libCheckerIDPrefix + s
}

// sdksByName maps lower-cased SDK names (zh, en, camille and Exodus names) to the entry that
// carries them, when exactly one does.
func (c *Catalogue) sdksByName() map[string]string {
	m := map[string]string{}
	amb := map[string]bool{}
	for _, d := range c.sdks {
		names := append([]string{d.Name.ZH, d.Name.EN}, d.Camille...)
		names = append(names, d.Exodus...)
		for _, n := range names {
			k := strings.ToLower(strings.TrimSpace(n))
			if k == "" {
				continue
			}
			if prev, ok := m[k]; ok && prev != d.ID {
				amb[k] = true
			}
			m[k] = d.ID
		}
	}
	for k := range amb {
		delete(m, k)
	}
	return m
}

// signalMatches reports whether a signal of the catalogue matches the file name (lib) or asset
// path.
func (c *Catalogue) signalMatches(kind, key string) bool {
	return slices.ContainsFunc(c.signals, func(s SDKSignal) bool {
		if s.Kind != kind {
			return false
		}
		m, _ := path.Match(s.Glob, key)
		return m
	})
}
